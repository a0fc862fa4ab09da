#!/bin/bash
# Restore tokens. Session 1 asks persist_mode=2 and picks the second of two monitors through
# the chooser; the frontend turns kmscast's restore_data into a restore_token (kept in the
# permission store). Session 2, a new client with that token, gets the same monitor, and its
# frames come from that monitor's CRTC. The client is a host app without an app id, so the
# consent step asks again although the user said "remember" (remember needs an id to tell apps
# apart): the chooser runs a second time, offered the restored monitor first, as the
# preselection.
# Run: tests/vm/run --kms virtio-gpu --outputs 2 --with wireplumber -- tests/vm/t-portal-restore.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
FRAMES=${FRAMES:-20}
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

portal_producer --duration 150 --connector Virtual-1,Virtual-2
read -r IDX W H < <(sed -n 's/^mode .* index=\([0-9]*\) connector=Virtual-2 size=\([0-9]*\)x\([0-9]*\) .*/\1 \2 \3/p' \
	"$NODE_TMP/producer.log")
[ -n "${H:-}" ] || portal_fail "the producer did not light Virtual-2"
cat >"$OUT/kmscast.conf" <<CONF
chooser = echo run >> $OUT/chooser-runs; tee $OUT/offered | grep -m1 '^card0:Virtual-2' | cut -f1; echo remember
CONF
chmod a+r "$OUT/kmscast.conf"
portal_start_kmscast --config "$OUT/kmscast.conf"
node_wait kmscast.card0.Virtual-2 >/dev/null || exit 1
portal_start_frontend

portal_client --persist 2 --state "$OUT/first.json" >"$NODE_TMP/client1.log" 2>&1 ||
	{ cat "$NODE_TMP/client1.log"; portal_fail "first session failed"; }
cat "$NODE_TMP/client1.log"
TOKEN=$(json_get "$OUT/first.json" 's.get("restore_token", "")')
echo "restore_token: $TOKEN"
[ -n "$TOKEN" ] || portal_fail "no restore_token from a persist_mode=2 session"
[ "$(json_get "$OUT/first.json" 's["streams"][0]["id"]')" = Virtual-2 ] || portal_fail "first pick"
[ "$(wc -l <"$OUT/chooser-runs")" = 1 ] || portal_fail "the chooser did not run once"

portal_client --persist 2 --restore-token "$TOKEN" --state "$OUT/second.json" \
	--exec "$(portal_capture "$FRAMES" "$OUT/out.raw" "$OUT/gst2.log")" >"$NODE_TMP/client2.log" 2>&1
rc=$?
cat "$NODE_TMP/client2.log"
# The portal's part first; the capture's status after (the client exits 1 when --exec fails).
[ -f "$OUT/second.json" ] || portal_fail "restored session failed before Start (client exited $rc)"
[ "$(wc -l <"$OUT/chooser-runs")" = 2 ] ||
	portal_fail "the chooser did not ask again for an app without an id"
head -n1 "$OUT/offered" | grep -q '^card0:Virtual-2	' ||
	portal_fail "the restored monitor is not offered first: $(head -n1 "$OUT/offered")"
grep -q "restore data for '': the app has no id" "$NODE_TMP/daemon.log" ||
	portal_fail "the daemon did not say why it asked again"
[ "$(json_get "$OUT/second.json" 's["streams"][0]["id"]')" = Virtual-2 ] ||
	portal_fail "the restored session got another monitor"
[ "$rc" = 0 ] || portal_fail "the capture through the restored session failed (client exited $rc)"
summary=$("$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx \
	--crtc-index "$IDX" --quiet "$OUT/out.raw" | tail -n1)
echo "$summary"
decoded=$(sed -n 's/.*decoded=\([0-9]*\).*/\1/p' <<<"$summary")
case $summary in *wrong_crtc=0*) ;; *) portal_fail "frames from another CRTC" ;; esac
[ "${decoded:-0}" -gt 0 ] || portal_fail "no frame decodes"
[ "${decoded:-0}" -ge $((FRAMES / 2)) ] || TIMING="$TIMING only-$decoded-of-$FRAMES-frames-decode"
portal_check_first_buffer "$OUT/gst2.log"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
vm_finish t-portal-restore
