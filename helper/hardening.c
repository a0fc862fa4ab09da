/*
 * Privilege reduction after start: capabilities, resource limits and the seccomp allowlist.
 * main.c calls these in the order docs/security.md gives; each step only narrows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <seccomp.h>
#include <xf86drm.h>

#include "helper.h"

/*
 * Only CAP_SYS_ADMIN is kept: DRM_IOCTL_MODE_GETFB2 (drm_mode_getfb2_ioctl, kernel 6.1) hands
 * out GEM handles only to the DRM master or a CAP_SYS_ADMIN holder, and the helper must never
 * be master. It stays permitted but not effective: privilege.c raises it around GETFB2 only.
 * If the helper was started without CAP_SYS_ADMIN it keeps nothing; exports then fail with a
 * clear error instead of the helper refusing to start.
 */
int helper_drop_capabilities(void)
{
	cap_t caps = cap_get_proc();
	if (caps == NULL) {
		return -errno;
	}
	cap_flag_value_t permitted = CAP_CLEAR;
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_PERMITTED, &permitted);
	cap_flag_value_t setpcap = CAP_CLEAR;
	cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
	cap_free(caps);

	/*
	 * The bounding set can only shrink with CAP_SETPCAP. Started by root we have it. Spawned
	 * through the file capability cap_sys_admin+ep we do not, nor under the systemd unit
	 * (its CapabilityBoundingSet=CAP_SYS_ADMIN already did this for us). Without it the
	 * bounding set is inert anyway: it only caps what an execve could grant, and
	 * PR_SET_NO_NEW_PRIVS and the seccomp filter (no execve) follow. Installing the helper
	 * with cap_setpcap,cap_sys_admin+ep makes it shrink the set here, CAP_SETPCAP included.
	 */
	if (setpcap == CAP_SET) {
		for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
			if (c != CAP_SYS_ADMIN && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) < 0) {
				int r = -errno;
				helper_log(
					"cannot drop capability %d from the bounding set: %m", c);
				return r;
			}
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		return -errno;
	}

	caps = cap_init(); /* all flags clear */
	if (caps == NULL) {
		return -errno;
	}
	cap_value_t keep[] = {CAP_SYS_ADMIN};
	int r = 0;
	if (permitted == CAP_SET && cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0) {
		r = -errno;
	}
	if (r == 0 && cap_set_proc(caps) < 0) {
		r = -errno;
	}
	cap_free(caps);
	if (r == 0 && permitted != CAP_SET) {
		helper_log(
			"started without CAP_SYS_ADMIN: exports will fail (see docs/security.md)");
	}
	return r;
}

/* The DRM ioctls the backend issues (through libdrm 2.4.114 or directly); no others. */
static const unsigned long allowed_ioctls[] = {
	DRM_IOCTL_SET_CLIENT_CAP,
	DRM_IOCTL_AUTH_MAGIC, /* drmIsMaster */
	DRM_IOCTL_DROP_MASTER,
	DRM_IOCTL_MODE_GETRESOURCES,
	DRM_IOCTL_MODE_GETPLANERESOURCES,
	DRM_IOCTL_MODE_OBJ_GETPROPERTIES,
	DRM_IOCTL_MODE_GETPROPERTY,
	DRM_IOCTL_MODE_GETFB2,
	DRM_IOCTL_PRIME_HANDLE_TO_FD,
	DRM_IOCTL_GEM_CLOSE,
};

static int allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int allow_common(scmp_filter_ctx ctx)
{
	/*
	 * The connection loop, logging, glibc's malloc, and privilege.c's raise and lower of
	 * CAP_SYS_ADMIN around GETFB2 (capset can only narrow the permitted set, and there is
	 * no execve for the inheritable set to matter).
	 */
	const int syscalls[] = {
		SCMP_SYS(recvmsg),
		SCMP_SYS(sendmsg),
		SCMP_SYS(poll),
		SCMP_SYS(ppoll),
		SCMP_SYS(close),
		SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),
		SCMP_SYS(clock_gettime),
		SCMP_SYS(brk),
		SCMP_SYS(munmap),
		SCMP_SYS(mremap),
		SCMP_SYS(madvise),
		SCMP_SYS(exit_group),
		SCMP_SYS(exit),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(restart_syscall),
		SCMP_SYS(capget),
		SCMP_SYS(capset),
	};
	int r = 0;
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]) && r == 0; i++) {
		r = allow(ctx, syscalls[i]);
	}
	/* Logging goes to stderr only. */
	if (r == 0) {
		r = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
	}
	/*
	 * Memory for malloc and libdrm, never executable: no new code can be mapped. mprotect
	 * (which could make a mapping executable) is not allowed at all; glibc's malloc needs it
	 * only for thread arenas, and the helper has one thread.
	 */
	if (r == 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	/*
	 * Only the card open: relative to the working directory (the path is absolute) and with
	 * exactly its flags (glibc's open() is openat). seccomp cannot read the path, and the
	 * cards cannot all be opened before this filter: export.c opens /dev/dri/cardN on the
	 * first request that names it, so a card that appears later (hotplug, a driver loaded
	 * late) still works. What an exploit could still open this way is an existing file the
	 * helper's uid may open read-write (O_RDWR refuses directories), not through a final
	 * symlink, never with O_CREAT, O_TRUNC or O_PATH. docs/security.md says the same.
	 * No prlimit64 or setrlimit at all: helper_set_rlimits ran before this filter.
	 */
	if (r == 0) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 2,
			SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)AT_FDCWD),
			SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu,
				O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
	}
	for (size_t i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]) && r == 0; i++) {
		/* Compare the low 32 bits: callers may pass the request sign- or zero-extended. */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i] & 0xffffffffu));
	}
	return r;
}

int helper_install_seccomp(const struct helper_hardening *h)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		return -ENOMEM;
	}
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0) {
		r = allow_common(ctx);
	}
	if (r == 0 && h->socket_mode) {
		/* Accepting and checking new peers. */
		r = allow(ctx, SCMP_SYS(accept4));
		if (r == 0) {
			r = allow(ctx, SCMP_SYS(getsockopt));
		}
	}
	if (r == 0 && h->seat_checks) {
		r = helper_session_allow_syscalls(ctx);
	}
	if (r == 0) {
		r = seccomp_load(ctx);
	}
	seccomp_release(ctx);
	return r;
}

static int limit(int resource, rlim_t value)
{
	struct rlimit rl = {.rlim_cur = value, .rlim_max = value};
	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

/*
 * Hard limits, so they cannot be raised again (CAP_SYS_RESOURCE is gone, and the seccomp
 * filter that follows has no prlimit64 or setrlimit). RLIMIT_FSIZE is left alone: stderr may
 * be a regular file (a log) and a write past 0 bytes would kill us.
 */
int helper_set_rlimits(const struct helper_hardening *h)
{
	/* stdio + listeners + each client's socket and cached cards + one export in flight */
	rlim_t nofile = 3 + h->n_listeners + HELPER_MAX_FDS + 8 +
			(rlim_t)(h->socket_mode ? HELPER_MAX_CLIENTS : 1) * (1 + HELPER_MAX_CARDS);
	int r = limit(RLIMIT_NOFILE, nofile);
	if (r == 0) {
		r = limit(RLIMIT_NPROC, 0);
	}
	if (r == 0) {
		r = limit(RLIMIT_CORE, 0);
	}
	if (r == 0) {
		r = limit(RLIMIT_MEMLOCK, 0);
	}
	if (r == 0) {
		r = limit(RLIMIT_MSGQUEUE, 0);
	}
	return r;
}
