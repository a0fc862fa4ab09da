#!/bin/sh
# kmscast-helper, spawned mode: the unprivileged side (kmscast-test) spawns an installed copy of
# kmscast-helper (root:kmscast 0750, cap_sys_admin+ep) and gets the producer's scanout.
#  - probe: every active CRTC's primary (and the cursor) exported, with format and checksum;
#  - primary and cursor exports decode the producer's pattern; fb ids match the producer log;
#  - only the FB on screen is exported (1 Hz flips: never one of the offscreen FBs);
#  - CRTC off and unknown CRTC refused; another uid refused; a non-member cannot run it;
#  - /proc status: NoNewPrivs 1, Seccomp 2, CapPrm = cap_sys_admin only, CapEff empty;
#  - 10000 exports: client and helper fd counts flat, GEM handle numbers flat (beside the ones
#    the helper keeps for CHECK, one set per FB id), and GEM_CLOSE on the handles it reported
#    and no longer keeps fails with EINVAL in the helper's own DRM file;
#  - SIGKILL of the helper in the middle of a run of exports: the client re-spawns;
#  - installed with cap_setpcap,cap_sys_admin+ep, the helper empties its bounding set too.
#
# usage (inside the bench, --kms vkms --with user): t-helper-spawn.sh
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/t-helper-lib.sh"

install_helper caps
export KMSCAST_HELPER="$HELPER"

echo "== a user outside group kmscast cannot run the helper"
# Through sh: setpriv itself keeps root's capabilities until its own execve.
if setpriv --reuid=1001 --regid=1001 --clear-groups sh -c 'exec "$0" --fd 3' "$HELPER" \
	2>/tmp/nogroup.err; then
	vm_fail "uid 1001 ran the helper"
fi
grep -q 'Permission denied' /tmp/nogroup.err || vm_fail "unexpected: $(cat /tmp/nogroup.err)"

echo "== a peer with another uid is refused"
"$TOOL" refuse-uid "$HELPER" 1000 | tee /tmp/refuse.out
grep -q "reason=peer uid 0 is not the helper's uid 1000 exit=1" /tmp/refuse.out ||
	vm_fail "other uid not refused"

start_producer /tmp/producer.log --cursor --buffers 3 --rate 60 --duration 600

echo "== probe"
as_user "$TOOL" probe | tee /tmp/probe.out || vm_fail "probe failed"
grep -Eq "^card0 crtc $CRTC primary fb [0-9]+ 1024x768 XR24 modifier 0x0 explicit fnv1a64 0x[0-9a-f]{16} planes 1 fds 1 handles [0-9]+$" /tmp/probe.out ||
	vm_fail "no primary line for CRTC $CRTC"
grep -Eq "^card0 crtc $CRTC cursor fb [0-9]+ [0-9]+x[0-9]+ AR24 .* fnv1a64 0x[0-9a-f]{16}" /tmp/probe.out ||
	vm_fail "no cursor line for CRTC $CRTC"

echo "== primary: the pattern the producer flipped with that fb"
# At 60 Hz the producer may repaint an exported buffer while we read it (it left the screen
# meanwhile): such a sample decodes as torn and is retried.
torn=0
for i in 1 2 3 4 5; do
	out=$(as_user "$TOOL" export card0 "$CRTC" primary) || {
		echo "$out"
		echo "$out" | grep -q 'decode-error=torn' || vm_fail "export: $out"
		torn=$((torn + 1))
		[ "$torn" -le 10 ] || vm_fail "too many torn reads"
		continue
	}
	echo "$out"
	fb=$(field fb "$out")
	frame=$(field frame "$out")
	[ "$(field crtc_index "$out")" = 0 ] || vm_fail "wrong crtc index: $out"
	# The buffer may be repainted for a later frame after the export; either way it was
	# flipped with that frame number, so the log pairs them.
	grep -q "^flip crtc=$CRTC index=0 frame=$frame fb=$fb " /tmp/producer.log ||
		vm_fail "producer never flipped fb $fb with frame $frame"
done

echo "== cursor: a uniform pattern colour, another fb"
out=$(as_user "$TOOL" export card0 "$CRTC" cursor) || vm_fail "cursor export: $out"
echo "$out"
[ "$(field fb "$out")" != "$fb" ] || vm_fail "cursor fb is the primary fb"
[ "$(field cursor_index "$out")" != 9999 ] || vm_fail "cursor does not decode"

echo "== unknown CRTC refused, connection-level errors are clear"
out=$(as_user "$TOOL" export card0 9999 primary) && vm_fail "CRTC 9999 exported: $out"
echo "$out"
echo "$out" | grep -q '^error=-2 reason=helper: no CRTC 9999 on card0' || vm_fail "$out"
out=$(as_user "$TOOL" export card7 "$CRTC" primary) && vm_fail "card7 exported: $out"
echo "$out" | grep -q 'cannot open /dev/dri/card7' || vm_fail "$out"
stop_producer

echo "== only the FB on screen: 1 Hz flips, 3 buffers"
start_producer /tmp/slow.log --buffers 3 --rate 1 --duration 600
fbs=$(sed -n "s/^fb-create crtc=$CRTC index=0 fb=\([0-9]*\) .*/\1/p" /tmp/slow.log | tr '\n' ' ')
echo "producer FBs: $fbs"
[ "$(echo $fbs | wc -w)" -eq 3 ] || vm_fail "expected 3 producer FBs"
# The producer log is readable by the test user: the tool compares it with each export.
chmod 0644 /tmp/slow.log
out=$(as_user "$TOOL" onscreen card0 "$CRTC" /tmp/slow.log 60) || vm_fail "$out"
echo "$out"
[ "$(field samples "$out")" -ge 20 ] || vm_fail "too few race-free samples"
[ "$(field distinct "$out")" -ge 2 ] || vm_fail "flips not observed"
stop_producer

echo "== CRTC off refused, back on exported"
# Off for 6 s: one export round trip (a new tool and helper under TCG) took 0.2 s after the
# off was seen, and up to a few seconds on a loaded host.
start_producer /tmp/off.log --buffers 3 --rate 60 --off-at 20:6000 --duration 600
n=100
until grep -q "^off crtc=$CRTC" /tmp/off.log; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || vm_fail "producer never switched off"
	sleep 0.1
done
out=$(as_user "$TOOL" export card0 "$CRTC" primary) && vm_fail "exported while off: $out"
echo "$out"
grep -q "^flip crtc=$CRTC .* frame=2[1-9] " /tmp/off.log && vm_fail "CRTC came back on too early"
echo "$out" | grep -q "^error=-61 reason=helper: CRTC $CRTC on card0 is off" || vm_fail "$out"
n=300
until grep -q "^flip crtc=$CRTC index=0 frame=22 " /tmp/off.log; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || vm_fail "CRTC did not come back on"
	sleep 0.1
done
out=$(as_user "$TOOL" export card0 "$CRTC" primary) || {
	echo "$out" | grep -q 'decode-error=torn' || vm_fail "not exported once on: $out"
}
echo "$out"
stop_producer

start_producer /tmp/producer2.log --buffers 3 --rate 60 --duration 900

echo "== 10000 exports: fds and GEM handles flat; handles closed in the helper's file"
# Not the kept ones: a GEM_CLOSE from here would close them under the helper.
AFTER_HOLD2='"$TOOL" gemclose "$HELPER_PID2" $(closed_handles) | tee /tmp/gemclose.out || vm_fail "GEM_CLOSE check failed"'
run_stress : card0 "$CRTC" 10000
echo "helper fds: $HELPER_FDS1 -> $HELPER_FDS2; handles $HANDLES_MIN..$HANDLES_MAX," \
	"kept $KEPT_HANDLES"
[ "$HELPER_PID" = "$HELPER_PID2" ] || vm_fail "helper changed during the run"
[ "$HELPER_FDS1" = "$HELPER_FDS2" ] || vm_fail "helper fd count changed"
# The producer cycles 3 FBs: the helper keeps one handle for each.
[ "$KEPT" -le 3 ] || vm_fail "$KEPT handles kept for 3 FBs"
handles_flat "10000 exports"
grep -q '^control: GETFB2 handle [0-9]* in the helper.s file, GEM_CLOSE -> 0$' /tmp/gemclose.out ||
	vm_fail "control handle not closable: the GEM_CLOSE check would prove nothing"

echo "== SIGKILL of the helper during exports: the client re-spawns and carries on"
# At the second hold: the new helper is hardened too, and the killed one has been reaped.
AFTER_HOLD2='status_check "$HELPER_PID2"; [ ! -e "/proc/$HELPER_PID" ] || vm_fail "killed helper not reaped"'
# Killed as soon as the exports are released: a quiet host does 3000 of them in under a
# second, so a later kill would land at the second hold, after the run.
run_stress 'kill -9 "$HELPER_PID"' card0 "$CRTC" 3000 respawn-ok
[ "$HELPER_PID" != "$HELPER_PID2" ] || vm_fail "helper was not re-spawned"
echo "== optional install with cap_setpcap too: the bounding set shrinks to cap_sys_admin"
setcap cap_setpcap,cap_sys_admin+ep "$HELPER"
getcap "$HELPER"
AFTER_HOLD2=:
STATUS_CAPBND=0000000000200000
run_stress : card0 "$CRTC" 10
stop_producer
echo "PASS"
