#!/bin/bash
# Session end, both ways.
#  1. The app destroys its node through its own remote (it holds RWX on it): the node dies,
#     kmscast closes the session and the frontend tells the app (Session::Closed).
#  2. The monitor goes dark: a second producer takes over the CRTC and switches it off for
#     10 s after 30 frames (--off-at). kmscast's rescan sees it and the app gets
#     Session::Closed. The portal node is gone from PipeWire afterwards. (Killing the
#     producer is not enough: the CRTC stayed lit after it exited in the VM.)
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-portal-lifecycle.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

portal_producer --duration 300
portal_start_kmscast
portal_start_frontend

# 1. The node dies.
portal_client --after wait-closed --timeout 30 --state "$OUT/kill.json" \
	--exec "$B/tests/unit/portal-remote --fd {fd} --destroy {node}" \
	>"$NODE_TMP/client1.log" 2>&1
rc=$?
cat "$NODE_TMP/client1.log"
[ "$rc" = 0 ] || portal_fail "no Session::Closed after the node died (client exited $rc)"
grep -q "node died" "$NODE_TMP/daemon.log" || portal_fail "daemon did not see the node die"

# 2. The monitor goes away.
portal_client --after wait-closed --timeout 40 --state "$OUT/gone.json" \
	--exec "touch $OUT/started" >"$NODE_TMP/client2.log" 2>&1 &
CLIENT=$!
wait_for_file "$OUT/started" 60 || portal_fail "second session did not start"
NODE=$(json_get "$OUT/gone.json" 's["streams"][0]["node"]')
[ -n "$(portal_nodes)" ] || portal_fail "no portal node while the session runs"
kill "$PRODUCER"
wait "$PRODUCER" 2>/dev/null
"$B/tests/tools/kms-producer" --rate 60 --buffers 3 --off-at 30:10000 --duration 60 \
	--log "$NODE_TMP/producer2.log" &
PRODUCER=$!
wait "$CLIENT"
rc=$?
cat "$NODE_TMP/client2.log"
[ "$rc" = 0 ] || portal_fail "no Session::Closed after the monitor went away (client exited $rc)"
grep -q "went away" "$NODE_TMP/daemon.log" || portal_fail "daemon did not see the monitor go"
sleep 0.5
left=$(portal_nodes)
[ -z "$left" ] || portal_fail "portal node $NODE still there: $left"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
echo "PASS t-portal-lifecycle"
