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

int helper_privilege_raise(void)
{
	struct cap_state caps;
	int r = get_caps(&caps);
	if (r < 0) {
		return r;
	}
	if (!(caps.data[0].permitted & SYS_ADMIN_BIT)) {
		return -EPERM;
	}
	caps.data[0].effective |= SYS_ADMIN_BIT;
	return set_caps(&caps);
}

void helper_privilege_lower(void)
{
	struct cap_state caps;
	int r = get_caps(&caps);
	if (r == 0) {
		for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
			caps.data[i].effective = 0;
		}
		r = set_caps(&caps);
	}
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
