#!/bin/bash
# Two portal sessions at once on one monitor, each with its own node: one DMA-BUF consumer
# (portal-remote --modifier: the LINEAR modifier and DMA-BUF buffers only, as OBS asks when
# its GPU imports them) and one SHM-only consumer (portal-remote --shm: formats without a
# modifier, MemFd/MemPtr buffers only). Both receive the producer's frames, both through
# their own portal remote. Session A's node (cursor_mode hidden) offers no cursor meta.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-portal-two.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
FRAMES=${FRAMES:-30}
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

# 30 Hz over 6 buffers: a buffer is painted again 200 ms after it was shown, which leaves a
# TCG guest's gst videoconvert time to read it (zero copy: the consumer reads the scanout
# buffer itself, so a consumer slower than the producer's reuse sees torn frames).
portal_producer --duration 150 --rate 30 --buffers 6
read -r W H < <(sed -n 's/.* size=\([0-9]*\)x\([0-9]*\) .*/\1 \2/p' "$NODE_TMP/producer.log" | head -n1)
portal_start_kmscast
portal_start_frontend

# Each client holds its session until both captures ran: they overlap in time.
portal_client --state "$OUT/dmabuf.json" --exec \
	"pw-dump > $OUT/dump-a.json; touch $OUT/a.up; while [ ! -e $OUT/b.up ]; do sleep 0.1; done; $B/tests/unit/portal-remote --fd {fd} --node {node} --frames $FRAMES --modifier --out $OUT/dmabuf.raw" \
	>"$NODE_TMP/client-a.log" 2>&1 &
A=$!
portal_client --state "$OUT/shm.json" --exec \
	"touch $OUT/b.up; while [ ! -e $OUT/a.up ]; do sleep 0.1; done; $B/tests/unit/portal-remote --fd {fd} --node {node} --frames $FRAMES --shm --out $OUT/shm.raw" \
	>"$NODE_TMP/client-b.log" 2>&1 &
C=$!
wait "$A"; RA=$?
wait "$C"; RB=$?
cat "$NODE_TMP/client-a.log" "$NODE_TMP/client-b.log"
[ "$RA" = 0 ] || portal_fail "DMA-BUF client exited $RA"
[ "$RB" = 0 ] || portal_fail "SHM client exited $RB"
NA=$(json_get "$OUT/dmabuf.json" 's["streams"][0]["node"]')
NB=$(json_get "$OUT/shm.json" 's["streams"][0]["node"]')
[ "$NA" != "$NB" ] || portal_fail "two sessions share node $NA"
# cursor_mode hidden (the default): the session's node offers no cursor metadata.
port_meta_types "$OUT/dump-a.json" "$NA" >"$OUT/meta-a.txt"
grep -q "Header$" "$OUT/meta-a.txt" || portal_fail "no Meta params found: $(cat "$OUT/meta-a.txt")"
grep -q "Cursor$" "$OUT/meta-a.txt" && portal_fail "cursor_mode hidden, yet the node offers cursor meta"
grep -q "data=memfd\|data=memptr" "$NODE_TMP/client-b.log" || portal_fail "SHM client got DMA-BUFs"
grep -q "data=dmabuf" "$NODE_TMP/client-a.log" || portal_fail "the client that negotiated LINEAR got no DMA-BUFs"
for f in dmabuf shm; do
	summary=$("$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx --quiet \
		"$OUT/$f.raw" | tail -n1)
	echo "$f: $summary"
	decoded=$(sed -n 's/.*decoded=\([0-9]*\).*/\1/p' <<<"$summary")
	[ "${decoded:-0}" -gt 0 ] || portal_fail "$f: no frame decodes"
	[ "${decoded:-0}" -ge $((FRAMES / 2)) ] || TIMING="$TIMING $f:only-$decoded-of-$FRAMES-decode"
	# The SHM client gets copies: none may repeat or go back. The dma-buf client reads the
	# scanout buffers themselves, which the producer repaints: a client slower than the
	# swapchain sees a later frame, then the one it was owed (as t-weston.sh allows).
	rep=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print v["duplicates"] + v["backwards"] }' <<<"$summary")
	if [ "$f" = shm ]; then
		[ "${rep:-1}" = 0 ] || portal_fail "shm: frames repeat or go back ($rep)"
	else
		[ "${rep:-1}" -le $((FRAMES / 10)) ] ||
			TIMING="$TIMING dmabuf:$rep-frames-repeat-or-go-back(at-most-$((FRAMES / 10)))"
	fi
done
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
vm_finish t-portal-two
