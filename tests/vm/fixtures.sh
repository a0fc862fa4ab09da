# shellcheck shell=sh
# Shell helpers for scripts that run inside the kmscast bench VM (tests/vm/run).
# Source it from POSIX sh or bash:  . "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
#
#   as_user CMD...            run CMD as kmscast-test (uid 1000; groups video, kmscast) with
#                             the session environment (XDG_RUNTIME_DIR,
#                             DBUS_SESSION_BUS_ADDRESS, PIPEWIRE_RUNTIME_DIR, HOME)
#   wait_for_file PATH [SEC [STEP]]  wait until PATH exists (default 10 s, a look every
#                             STEP s, 0.05); non-zero on timeout
#   wait_for_pw_node NAME [SEC]
#                             wait until a PipeWire node with node.name NAME exists
#   pw_node_id NAME           print the object id of the PipeWire node named NAME
#   vm_fail MSG...            print "FAIL: MSG" on stderr and exit 1
#   vm_check RC NAME          file a failed check NAME: in TIMING when RC is 3 (the check
#                             measures the bench's speed: frames lost beyond the node's own
#                             count, a late first buffer), else in FAILS
#   vm_finish NAME            exit 1 on any FAILS, else 3 on any TIMING (timing-retry runs
#                             the test once more), else print "PASS NAME"
#
# Fixtures started by the bench (--with) are already running when the command starts.

KMSCAST_TEST_USER=kmscast-test
KMSCAST_TEST_UID=1000
KMSCAST_TEST_RUNTIME_DIR=/run/user/1000

# A subshell exports the session and execs setpriv: one exec fewer than "env", and each
# costs tens of ms under TCG.
as_user() {
	(
		export HOME=/run/kmscast-test USER="$KMSCAST_TEST_USER" LOGNAME="$KMSCAST_TEST_USER"
		export XDG_RUNTIME_DIR="$KMSCAST_TEST_RUNTIME_DIR"
		export PIPEWIRE_RUNTIME_DIR="$KMSCAST_TEST_RUNTIME_DIR"
		export DBUS_SESSION_BUS_ADDRESS="unix:path=$KMSCAST_TEST_RUNTIME_DIR/bus"
		exec setpriv --reuid="$KMSCAST_TEST_UID" --regid="$KMSCAST_TEST_UID" --init-groups "$@"
	)
}

# write_file PATH: stdin into PATH, 0644, through a rename as logind and udev write theirs.
write_file() {
	cat >"$1.new"
	chmod 0644 "$1.new"
	mv -f "$1.new" "$1"
}

# logind_seat_file SEAT ACTIVE_SESSION ACTIVE_UID SESSIONS UIDS: /run/systemd/seats/SEAT as
# logind's seat_save writes it (sd-login reads ACTIVE and ACTIVE_UID); only seat0 has VTs.
logind_seat_file() {
	_seat0=$([ "$1" = seat0 ] && echo 1 || echo 0)
	write_file "/run/systemd/seats/$1" <<SEAT
# This is private data. Do not parse.
IS_SEAT0=$_seat0
CAN_MULTI_SESSION=1
CAN_TTY=$_seat0
CAN_GRAPHICAL=1
ACTIVE=$2
ACTIVE_UID=$3
SESSIONS=$4
UIDS=$5
SEAT
}

# Polls every STEP seconds (default 0.05); SEC and STEP may be fractional. Each poll starts a
# sleep: a wait beside a load that TCG makes short of CPU takes a longer STEP.
wait_for_file() {
	_wff_step=${3:-0.05}
	_wff_n=$(awk -v s="${2:-10}" -v t="$_wff_step" 'BEGIN { printf "%d", s / t + 1e-9 }')
	while [ ! -e "$1" ]; do
		[ "$_wff_n" -le 0 ] && return 1
		_wff_n=$((_wff_n - 1))
		sleep "$_wff_step"
	done
	return 0
}

pw_node_id() {
	as_user pw-dump 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    p = (o.get("info") or {}).get("props") or {}
    if o.get("type") == "PipeWire:Interface:Node" and p.get("node.name") == sys.argv[1]:
        print(o["id"]); break
else:
    sys.exit(1)
' "$1"
}

wait_for_pw_node() {
	_wpn_n=$(awk -v s="${2:-10}" 'BEGIN { printf "%d", s * 10 }')
	until pw_node_id "$1" >/dev/null; do
		[ "$_wpn_n" -le 0 ] && return 1
		_wpn_n=$((_wpn_n - 1))
		sleep 0.1
	done
	return 0
}

vm_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

FAILS=
TIMING=
vm_check() {
	if [ "$1" = 3 ]; then
		TIMING="$TIMING $2"
	elif [ "$1" != 0 ]; then
		FAILS="$FAILS $2"
	fi
}

vm_finish() {
	[ -z "$FAILS" ] || vm_fail "$FAILS${TIMING:+ (timing:$TIMING)}"
	if [ -n "$TIMING" ]; then
		echo "FAIL (timing):$TIMING" >&2
		exit 3
	fi
	echo "PASS $1"
}
