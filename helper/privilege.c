/*
 * CAP_SYS_ADMIN is permitted for the helper's whole life but effective only while it issues
 * DRM_IOCTL_MODE_GETFB2, the one call that needs it. Any other path (a card open, a property
 * read, a libc or libdrm internal) then runs without it, so a bug there cannot turn into a
 * capable(CAP_SYS_ADMIN) check that passes.
 *
 * Raw capget/capset rather than libcap: no allocation on the export path (a spawned helper's
 * caller chose its RLIMIT_AS), and helper_core, which the unit tests link, needs no libcap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "helper.h"

#define SYS_ADMIN_BIT (1u << CAP_SYS_ADMIN) /* CAP_SYS_ADMIN (21) is in the first u32 */

struct cap_state {
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
};

static int get_caps(struct cap_state *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->hdr.version = _LINUX_CAPABILITY_VERSION_3;
	return syscall(SYS_capget, &caps->hdr, caps->data) < 0 ? -errno : 0;
}

static int set_caps(struct cap_state *caps)
{
	return syscall(SYS_capset, &caps->hdr, caps->data) < 0 ? -errno : 0;
}

/*
 * The sets as last read, effective cleared: raising and lowering write them back with or
 * without CAP_SYS_ADMIN, one capset each and no capget (two system calls a GETFB2 fewer).
 * Nothing but the helper's own start-up changes its permitted set; if something did, the
 * write fails with EPERM and the sets are read again once.
 */
static struct cap_state known;
static bool have_known;

static int read_known(void)
{
	int r = get_caps(&known);
	have_known = r == 0;
	for (size_t i = 0; have_known && i < _LINUX_CAPABILITY_U32S_3; i++) {
		known.data[i].effective = 0;
	}
	return r;
}

/* Writes the known sets with `effective` (CAP_SYS_ADMIN's bit or 0) as the effective set. */
static int write_known(uint32_t effective)
{
	int r = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt > 0 || !have_known) {
			r = read_known();
			if (r < 0) {
				return r;
			}
		}
		if (effective && !(known.data[0].permitted & effective)) {
			return -EPERM;
		}
		known.data[0].effective = effective;
		r = set_caps(&known);
		known.data[0].effective = 0;
		if (r != -EPERM) {
			return r;
		}
	}
	return r;
}

int helper_privilege_raise(void)
{
	return write_known(SYS_ADMIN_BIT);
}

void helper_privilege_lower(void)
{
	int r = write_known(0);
	if (r < 0) {
		/* Cannot happen (lowering effective is always allowed), but must not go on. */
		helper_log("cannot clear effective capabilities: %s; exiting", strerror(-r));
		_exit(EXIT_FAILURE);
	}
}

bool helper_privileged(void)
{
	struct cap_state caps;
	if (getauxval(AT_SECURE) != 0) {
		return true;
	}
	if (get_caps(&caps) < 0) {
		return true; /* unknown: assume the worst */
	}
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		if (caps.data[i].permitted != 0) {
			return true;
		}
	}
	return false;
}
