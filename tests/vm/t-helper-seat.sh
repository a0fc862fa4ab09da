#!/bin/sh
# Seats and sessions (docs/security.md, "Who may capture which screen: seats and sessions"):
# the helper exports card0 (seat0: the bench's udev sets no ID_SEAT) only to the uid that owns
# seat0's active, local session. With logind's state faked (below):
#  - the test user's session c1 active and local: `kmscast --probe` exports, spawned and
#    through the socket-activated helper;
#  - uid 1001's session c2 active on seat0 (a fast user switch, another user's greeter or lock
#    screen): refused with -EACCES in both modes, and the helper logs the reason;
#  - the test user's session active but remote: refused, logged;
#  - active and local again: exported again, by the same socket-activated helper process;
#  - card0 moved to seat1 (ID_SEAT in its udev database entry), where uid 1001 is active,
#    the test user still active on seat0: refused, logged; moved back: exported;
#  - allow-without-session = true in a root-owned /etc/kmscast/helper.conf: exported while
#    uid 1001 is active (only when /etc/kmscast exists to mount over: the root is read-only).
# Every other vm test runs without logind, so the helper's uid and group checks only.
#
# The bench runs no logind, so this writes the files logind writes and sd-login reads
# (systemd 252, src/libsystemd/sd-login/sd-login.c): that /run/systemd/seats/ exists is what
# tells the helper logind runs; sd_seat_get_active reads ACTIVE and ACTIVE_UID of
# /run/systemd/seats/SEAT; sd_session_is_remote reads REMOTE of /run/systemd/sessions/ID.
# The other keys are there as logind writes them (seat_save, session_save), not because the
# helper reads them. Like logind, each file is written aside and renamed into place.
#
# usage (inside the bench, --kms vkms): t-helper-seat.sh
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/t-helper-lib.sh"

SOCK=/run/kmscast/helper.sock
if "$B/src/kmscast" --help 2>&1 | grep -q -- '--probe'; then
	probe_spawn() { as_user env KMSCAST_HELPER="$HELPER" "$B/src/kmscast" --probe; }
	probe_socket() {
		as_user "$B/src/kmscast" --probe --helper-mode socket --helper-socket "$SOCK"
	}
else
	echo "NOTE: kmscast has no --probe yet; running kmscast_probe() via test-helper-vmtool"
	probe_spawn() { as_user env KMSCAST_HELPER="$HELPER" "$TOOL" probe; }
	probe_socket() { as_user "$TOOL" probe --socket "$SOCK"; }
fi

# seat0_active SESSION UID
seat0_active() {
	logind_seat_file seat0 "$1" "$2" "c1 c2" "1000 1001"
}

# session ID UID USER ACTIVE REMOTE
session() {
	write_file "/run/systemd/sessions/$1" <<EOF
# This is private data. Do not parse.
UID=$2
USER=$3
ACTIVE=$4
IS_DISPLAY=$4
STATE=$([ "$4" = 1 ] && echo active || echo online)
REMOTE=$5
TYPE=wayland
ORIGINAL_TYPE=wayland
CLASS=user
SCOPE=session-$1.scope
SEAT=seat0
VTNR=$([ "$1" = c1 ] && echo 2 || echo 3)
POSITION=0
LEADER=1
EOF
}

# expect_exported MODE
expect_exported() {
	"probe_$1" >"/tmp/seat-$1.out" 2>&1 || vm_fail "$1: probe failed: $(cat "/tmp/seat-$1.out")"
	cat "/tmp/seat-$1.out"
	grep -Eq "^card0 crtc $CRTC primary fb [0-9]+ " "/tmp/seat-$1.out" ||
		vm_fail "$1: no primary export of CRTC $CRTC"
}

# expect_refused MODE REASON HELPER_LOG
expect_refused() {
	if "probe_$1" >"/tmp/seat-$1.out" 2>&1; then
		vm_fail "$1: exported although: $2: $(cat "/tmp/seat-$1.out")"
	fi
	cat "/tmp/seat-$1.out"
	grep -Fq "card0 crtc $CRTC primary error -13 helper: $2" "/tmp/seat-$1.out" ||
		vm_fail "$1: not refused with -EACCES and \"$2\""
	grep -Fq "kmscast-helper: refusing exports to uid 1000: $2" "$3" ||
		vm_fail "$1: the helper did not log \"refusing exports to uid 1000: $2\""
}

install_helper caps
mkdir -p /run/systemd/seats /run/systemd/sessions /run/systemd/users
session c1 1000 kmscast-test 1 0
session c2 1001 other 0 0
seat0_active c1 1000

install -d -m 0755 /run/kmscast
# systemd-socket-activate execs the helper in its own process at the first connection.
systemd-socket-activate --seqpacket -l "$SOCK" "$HELPER" --socket-activated \
	>/tmp/helper.log 2>&1 &
socket_helper=$!
wait_for_file "$SOCK" 10 || vm_fail "no socket: $(cat /tmp/helper.log)"
chgrp kmscast "$SOCK"
chmod 0660 "$SOCK"

start_producer /tmp/producer.log --cursor --buffers 3 --rate 2 --duration 600

echo "== the test user's session is active and local: exported"
expect_exported spawn
expect_exported socket
[ "$(cat /proc/$socket_helper/comm)" = kmscast-helper ] || vm_fail "no socket-activated helper"
grep -q 'seat checks are off' /tmp/helper.log /tmp/seat-spawn.out &&
	vm_fail "seat checks off although /run/systemd/seats exists"

echo "== uid 1001's session c2 is active on seat0: refused"
session c1 1000 kmscast-test 0 0
session c2 1001 other 1 0
seat0_active c2 1001
other="seat0: active session c2 is uid 1001's, not 1000's"
expect_refused spawn "$other" /tmp/seat-spawn.out
expect_refused socket "$other" /tmp/helper.log

echo "== the test user's session is active but remote: refused"
session c1 1000 kmscast-test 1 1
session c2 1001 other 0 0
seat0_active c1 1000
expect_refused spawn "seat0: active session c1 is remote" /tmp/seat-spawn.out
expect_refused socket "seat0: active session c1 is remote" /tmp/helper.log

echo "== active and local again: exported, by the same socket-activated helper"
session c1 1000 kmscast-test 1 0
expect_exported spawn
expect_exported socket
[ "$(cat /proc/$socket_helper/comm)" = kmscast-helper ] ||
	vm_fail "the socket-activated helper is gone: $(cat /tmp/helper.log)"

echo "== card0 on seat1 (its udev ID_SEAT), where uid 1001 is active: refused"
# The test user stays active on seat0: only the card's seat counts. The helper reads the
# card's seat once, before its filter: a new spawned helper sees the move.
read -r CARD_DEV </sys/class/drm/card0/dev || vm_fail "no /sys/class/drm/card0"
UDEV_DB=/run/udev/data/c$CARD_DEV
[ -e "$UDEV_DB" ] && vm_fail "$UDEV_DB exists: this bench runs udev; the test expects none"
mkdir -p /run/udev/data
logind_seat_file seat1 c2 1001 c2 1001
printf 'E:ID_SEAT=seat1\nG:seat\n' | write_file "$UDEV_DB"
expect_refused spawn "seat1: active session c2 is uid 1001's, not 1000's" /tmp/seat-spawn.out
rm -f "$UDEV_DB" /run/systemd/seats/seat1
expect_exported spawn

echo "== allow-without-session in a root-owned /etc/kmscast/helper.conf"
if [ -d /etc/kmscast ]; then
	mount -t tmpfs -o mode=0755 tmpfs /etc/kmscast
	printf 'allow-without-session = true\n' >/etc/kmscast/helper.conf
	chmod 0644 /etc/kmscast/helper.conf
	session c1 1000 kmscast-test 0 0
	session c2 1001 other 1 0
	seat0_active c2 1001
	expect_exported spawn
	grep -q 'seat checks are off: allow-without-session = true' /tmp/seat-spawn.out ||
		vm_fail "the helper did not say why seat checks are off"
	echo "== the same file writable by others: ignored, refused again"
	chmod 0646 /etc/kmscast/helper.conf
	expect_refused spawn "$other" /tmp/seat-spawn.out
	grep -q 'ignoring /etc/kmscast/helper.conf: writable by group or others' \
		/tmp/seat-spawn.out || vm_fail "the unsafe config file was not reported"
	umount /etc/kmscast
else
	echo "SKIP: no /etc/kmscast on the read-only root to mount over (unit-tested instead)"
fi

stop_producer
jobs -p | xargs -r kill 2>/dev/null || true
cat /tmp/helper.log
echo PASS
