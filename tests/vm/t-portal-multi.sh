#!/bin/bash
# Two monitors, and a chooser command (from kmscast.conf) that picks the second: the stream
# the app gets is the second monitor's. The producer paints each CRTC's index into its
# pattern, so the captured frames say which CRTC they came from. Also checks that the
# chooser saw both monitors, one line each.
# Run: tests/vm/run --kms virtio-gpu --outputs 2 --with wireplumber -- tests/vm/t-portal-multi.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
FRAMES=${FRAMES:-30}
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

# virtio-gpu reports the second output disconnected: force it (the producer's --connector).
portal_producer --duration 150 --connector Virtual-1,Virtual-2
grep '^mode' "$NODE_TMP/producer.log"
second=$(sed -n 's/^mode .* index=\([0-9]*\) connector=Virtual-2 size=\([0-9]*\)x\([0-9]*\) .*/\1 \2 \3/p' \
	"$NODE_TMP/producer.log")
read -r IDX W H <<<"$second"
[ -n "${H:-}" ] || portal_fail "the producer did not light Virtual-2"

cat >"$OUT/kmscast.conf" <<CONF
# The chooser gets "card0:Virtual-1<TAB>..." lines; it keeps them and answers with the second.
chooser = tee $OUT/chooser-input | sed -n 2p
CONF
chmod a+r "$OUT/kmscast.conf"
portal_start_kmscast --config "$OUT/kmscast.conf"
node_wait kmscast.card0.Virtual-2 >/dev/null || exit 1
portal_start_frontend

portal_client --state "$OUT/state.json" --exec "$(portal_capture "$FRAMES" "$OUT/out.raw" "$OUT/gst.log")" \
	>"$NODE_TMP/client.log" 2>&1
rc=$?
cat "$NODE_TMP/client.log"
# The portal's part first; the capture's status after (the client exits 1 when --exec fails).
[ -f "$OUT/state.json" ] || portal_fail "portal client exited $rc before Start"
echo "--- chooser input"; cat "$OUT/chooser-input"
[ "$(wc -l <"$OUT/chooser-input")" = 2 ] || portal_fail "the chooser did not get two monitors"
grep -q "^card0:Virtual-2	" "$OUT/chooser-input" || portal_fail "chooser input format"
[ "$(json_get "$OUT/state.json" 's["streams"][0]["id"]')" = Virtual-2 ] ||
	portal_fail "the stream is not the second monitor"
[ "$(json_get "$OUT/state.json" 's["streams"][0]["size"]')" = "[$W, $H]" ] || portal_fail "size"
[ "$rc" = 0 ] || portal_fail "the capture through the portal failed (client exited $rc)"
summary=$("$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx \
	--crtc-index "$IDX" --quiet "$OUT/out.raw" | tail -n1)
echo "$summary"
decoded=$(sed -n 's/.*decoded=\([0-9]*\).*/\1/p' <<<"$summary")
case $summary in *wrong_crtc=0*) ;; *) portal_fail "frames from another CRTC than index $IDX" ;; esac
[ "${decoded:-0}" -gt 0 ] || portal_fail "no frame decodes"
[ "${decoded:-0}" -ge $((FRAMES / 2)) ] || TIMING="$TIMING only-$decoded-of-$FRAMES-frames-decode"
portal_check_first_buffer "$OUT/gst.log"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
vm_finish t-portal-multi
