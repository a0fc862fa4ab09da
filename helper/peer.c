/*
 * Who is on the other end of a socket (SO_PEERCRED, SO_PEERGROUPS, socket type checks), and
 * whether whoever ran the helper may use it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

/*
 * Supplementary groups a peer (or the caller) may have; more than NGROUPS_MAX (65536) is
 * impossible, but the kernel copies them all, so bound what we look at and refuse beyond it.
 */
#define MAX_PEER_GROUPS 1024

static int check_seqpacket(int fd, bool listening)
{
	int type = 0, domain = 0, accepting = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		return -errno;
	}
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
		return -errno;
	}
	len = sizeof(accepting);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0) {
		return -errno;
	}
	if (domain != AF_UNIX || type != SOCK_SEQPACKET || (accepting != 0) != listening) {
		return -EPROTOTYPE;
	}
	return 0;
}

static int peer_cred(int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0) {
		return -errno;
	}
	return 0;
}

int helper_peer_check_uid(int fd, uid_t uid, char *reason, size_t reason_size)
{
	int r = check_seqpacket(fd, false);
	if (r < 0) {
		snprintf(reason, reason_size,
			"fd %d is not a connected AF_UNIX SOCK_SEQPACKET socket", fd);
		return r == -EBADF ? r : -ENOTSOCK;
	}
	struct ucred cred;
	r = peer_cred(fd, &cred);
	if (r < 0) {
		snprintf(reason, reason_size, "SO_PEERCRED failed: %s", strerror(-r));
		return r;
	}
	if (cred.uid != uid) {
		snprintf(reason, reason_size, "peer uid %u is not the helper's uid %u",
			(unsigned int)cred.uid, (unsigned int)uid);
		return -EACCES;
	}
	return 0;
}

int helper_peer_check_group(int fd, gid_t gid, char *reason, size_t reason_size)
{
	struct ucred cred;
	int r = peer_cred(fd, &cred);
	if (r < 0) {
		snprintf(reason, reason_size, "SO_PEERCRED failed: %s", strerror(-r));
		return r;
	}
	if (cred.gid == gid) {
		return 0;
	}

	gid_t groups[MAX_PEER_GROUPS];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		snprintf(reason, reason_size, "SO_PEERGROUPS failed: %s", strerror(errno));
		return errno == ERANGE ? -EACCES : -errno;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++) {
		if (groups[i] == gid) {
			return 0;
		}
	}
	snprintf(reason, reason_size, "peer uid %u is not in group %u", (unsigned int)cred.uid,
		(unsigned int)gid);
	return -EACCES;
}

int helper_check_listener(int fd)
{
	return check_seqpacket(fd, true);
}

int helper_peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	int r = peer_cred(fd, &cred);
	if (r == 0) {
		*uid = cred.uid;
	}
	return r;
}

bool helper_groups_allow(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, gid_t want)
{
	if (uid == 0 || gid == want) {
		return true;
	}
	for (size_t i = 0; i < n_groups; i++) {
		if (groups[i] == want) {
			return true;
		}
	}
	return false;
}

int helper_caller_check_group(gid_t want, char *reason, size_t reason_size)
{
	gid_t groups[MAX_PEER_GROUPS];
	int n = getgroups(MAX_PEER_GROUPS, groups);
	if (n < 0) {
		/* EINVAL: more than MAX_PEER_GROUPS; refuse rather than look at some of them. */
		snprintf(reason, reason_size, "getgroups failed: %s", strerror(errno));
		return -EACCES;
	}
	uid_t uid = getuid();
	if (!helper_groups_allow(uid, getgid(), groups, (size_t)n, want)) {
		snprintf(reason, reason_size, "uid %u is not in group %u", (unsigned int)uid,
			(unsigned int)want);
		return -EACCES;
	}
	return 0;
}
