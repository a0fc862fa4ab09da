#!/bin/sh
# kmscast-helper, socket-activated mode: root starts kmscast-helper through systemd-socket-activate
# on a SOCK_SEQPACKET socket (root:kmscast 0660, as kmscast-helper.socket makes it); the
# helper keeps only CAP_SYS_ADMIN, including in its bounding set.
#  - probe as kmscast-test (group kmscast) over the socket: primary and cursor exported;
#  - the helper's /proc status: NoNewPrivs 1, Seccomp 2, CapPrm = CapBnd = cap_sys_admin,
#    CapEff empty (root started it here, so it had CAP_SETPCAP for the bounding set);
#  - 2000 exports over the socket: fds and GEM handles flat;
#  - a user outside the group: refused by the socket mode, and, with the socket opened to
#    everyone, refused by the helper's own SO_PEERGROUPS check;
#  - several clients at once are served;
#  - one uid gets at most 8 connections (HELPER_MAX_CLIENTS_PER_UID): the 9th gets an
#    -EBUSY error record, another group member is still served, and after one of the 8
#    closes a new one is served.
#
# usage (inside the bench, --kms vkms --with user): t-helper-socket.sh
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/t-helper-lib.sh"

install_helper nocaps
SOCK=/run/kmscast/helper.sock
install -d -m 0755 /run/kmscast
systemd-socket-activate --seqpacket -l "$SOCK" "$HELPER" --socket-activated \
	>/tmp/helper.log 2>&1 &
wait_for_file "$SOCK" 10 || vm_fail "no socket: $(cat /tmp/helper.log)"
chgrp kmscast "$SOCK"
chmod 0660 "$SOCK"
ls -l "$SOCK"

start_producer /tmp/producer.log --cursor --buffers 3 --rate 60 --duration 600

echo "== probe over the socket, as a member of group kmscast"
as_user "$TOOL" probe --socket "$SOCK" | tee /tmp/probe.out || vm_fail "probe failed"
grep -Eq "^card0 crtc $CRTC primary fb [0-9]+ 1024x768 XR24 modifier 0x0 explicit fnv1a64 0x[0-9a-f]{16} planes 1 fds 1 handles [0-9]+$" /tmp/probe.out ||
	vm_fail "no primary line for CRTC $CRTC"
grep -Eq "^card0 crtc $CRTC cursor fb [0-9]+ [0-9]+x[0-9]+ AR24 .* fnv1a64 0x[0-9a-f]{16}" /tmp/probe.out ||
	vm_fail "no cursor line for CRTC $CRTC"

echo "== hardening and 2000 exports"
STATUS_CAPBND=0000000000200000
run_stress : --socket "$SOCK" card0 "$CRTC" 2000
[ "$HELPER_PID" = "$HELPER_PID2" ] || vm_fail "helper changed"
[ "$HELPER_FDS1" = "$HELPER_FDS2" ] || vm_fail "helper fd count changed: $HELPER_FDS1 -> $HELPER_FDS2"
handles_flat "2000 exports"

echo "== several clients at once"
pids=""
for i in 1 2 3 4; do
	as_user "$TOOL" export --socket "$SOCK" card0 "$CRTC" cursor >"/tmp/multi$i.out" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || vm_fail "a concurrent client failed: $(cat /tmp/multi*.out)"
done
cat /tmp/multi*.out

echo "== at most HELPER_MAX_CLIENTS_PER_UID connections per uid"
# One group member must not take every slot of the shared helper: its first PER_UID
# connections are served, the next gets an -EBUSY error record, and closing one lets a new
# one in. PER_UID is HELPER_MAX_CLIENTS_PER_UID (include/kmscast/helper-protocol.h).
PER_UID=8
tool_held conns conns "$SOCK" "$PER_UID"
CONNS_OUT=$HELD_OUT
wait_output '^hold' 100
cat "$CONNS_OUT"
i=1
while [ "$i" -le "$PER_UID" ]; do
	grep -qx "conn $i ok" "$CONNS_OUT" ||
		vm_fail "connection $i of uid $KMSCAST_TEST_UID was not served"
	i=$((i + 1))
done
grep -qx "conn $((PER_UID + 1)) error=-16 reason=uid $KMSCAST_TEST_UID already has $PER_UID connections" \
	"$CONNS_OUT" || vm_fail "connection $((PER_UID + 1)) was not refused with -EBUSY"
grep -qx "hold accepted=$PER_UID" "$CONNS_OUT" || vm_fail "not exactly $PER_UID held"
grep -q "refusing connection: uid $KMSCAST_TEST_UID already has $PER_UID connections" \
	/tmp/helper.log || vm_fail "helper did not log the refused connection"
# The cap is per uid: another member of the group is served meanwhile.
kmscast_gid=$(getent group kmscast | cut -d: -f3)
out=$(setpriv --reuid=1001 --regid=1001 --groups="$kmscast_gid" sh -c 'exec "$0" "$@"' \
	"$TOOL" conns "$SOCK" 1 </dev/null) || vm_fail "conns as uid 1001 failed: $out"
echo "$out"
echo "$out" | grep -qx 'conn 1 ok' || vm_fail "uid 1001 not served while uid 1000 is at its cap"
held_end
cat "$CONNS_OUT"
grep -qx 'closed 1' "$CONNS_OUT" || vm_fail "conns did not close a connection"
grep -qx "conn $((PER_UID + 2)) ok" "$CONNS_OUT" ||
	vm_fail "after closing one of $PER_UID, a new connection was not served"

echo "== a user outside the group"
nobody() {
	setpriv --reuid=1001 --regid=1001 --clear-groups sh -c 'exec "$0" "$@"' "$TOOL" "$@"
}
out=$(nobody export --socket "$SOCK" card0 "$CRTC" primary) && vm_fail "non-member exported: $out"
echo "$out"
echo "$out" | grep -q 'connect /run/kmscast/helper.sock: Permission denied' || vm_fail "$out"
chmod 0666 "$SOCK"
out=$(nobody export --socket "$SOCK" card0 "$CRTC" primary) && vm_fail "non-member exported: $out"
echo "$out"
echo "$out" | grep -q '^error=-13 reason=helper: peer uid 1001 is not in group' || vm_fail "$out"
grep -q 'refusing connection: peer uid 1001 is not in group' /tmp/helper.log ||
	vm_fail "helper did not log the refusal"
chmod 0660 "$SOCK"

echo "== the helper still serves members"
out=$(as_user "$TOOL" export --socket "$SOCK" card0 "$CRTC" primary) || {
	echo "$out" | grep -q 'decode-error=torn' || vm_fail "$out"
}
echo "$out"
stop_producer
cat /tmp/helper.log
echo PASS
