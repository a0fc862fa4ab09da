#!/bin/bash
# Buffer churn: the producer re-creates its framebuffers every K frames (new FB ids, so new
# scanout buffers) and changes mode mid-stream. The node must notice each new set, re-announce
# EnumFormat so that the link reallocates, and keep delivering correct frames: a zero-copy
# consumer (pw-shm-consumer --dmabuf) decodes every buffer, frames only move forward, both
# sizes are seen with a crop of the whole mode, and the node reports one allocation per change.
# The mode change also changes the refresh (640x480 at 59.94 Hz to 800x600 at 56.25 Hz, both
# in vkms's list): the format the consumer gets says each mode's exact rate as maxFramerate,
# 2997/50 and then 225/4. The node handles one vblank event per vblank across the restarts.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-churn.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
RECREATE=${RECREATE:-60}
MODE_AT=${MODE_AT:-700}
FRAMES=${FRAMES:-600}

node_setup
node_producer --rate 60 --duration 120 --buffers 4 --mode 640x480 --recreate "$RECREATE" \
	--mode-change-at "$MODE_AT:800x600@56"
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1

shm_consumer churn --target "$ID" --dmabuf --frames "$FRAMES" --timeout 100
RC=$?
node_stop_daemon
node_stop_producer
grep "format\|buffers" "$OUT/churn.err"
grep "stream stats\|buffers over\|renegotiating\|joins" "$NODE_TMP/daemon.log" | sed 's/.*\] //' | tail -n 30
[ "$RC" = 0 ] || vm_fail "consumer failed ($RC)"
FAILS=
sizes=$(sed -n 's/^buf .* size=\([0-9x]*\) .*/\1/p' "$OUT/churn.log" | uniq | tr '\n' ' ')
echo "sizes in order: $sizes"
[ "$sizes" = "640x480 800x600 " ] || FAILS="$FAILS sizes($sizes)"
# The crop meta follows the plane's source rectangle, which the mode change changes too.
crops=$(awk '$1 == "buf" { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	split(v["size"], wh, "x"); if (v["crop"] != "0,0," wh[1] "," wh[2]) bad++ }
	END { print bad + 0 }' "$OUT/churn.log")
echo "buffers whose crop is not the whole mode: $crops"
[ "$crops" = 0 ] || FAILS="$FAILS crop($crops)"
data=$(sed -n 's/^buf .* data=\([a-z]*\) .*/\1/p' "$OUT/churn.log" | sort -u | tr '\n' ' ')
[ "$data" = "dmabuf " ] || FAILS="$FAILS data-types($data)"
# Every buffer whole and in order. Frames are lost at each change -- on FBs outside the
# buffers until the debounced renegotiation, and while PipeWire reallocates -- so gaps are
# measured, not forbidden; after the last change frames must flow again.
check_frames "$OUT/churn.log" 1000000
rc=$?
if [ "$rc" != 0 ]; then
	vm_check "$rc" frames
	# Each step back or undecodable buffer with its neighbours: seq and pts say whether
	# the node handed them over in order (a late read) or not.
	frame_faults "$OUT/churn.log"
	# Every allocation, with which side allocated and the data types the link allowed
	# (the tail above may not reach back to the one that went wrong).
	grep "buffers over" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
fi
last=$(frames_of "$OUT/churn.log" | tail -n 1)
last_change=$(awk '/^fb-create/ { n++ } END { print n }' "$NODE_TMP/producer.log")
echo "last frame delivered: $last (mode change at $MODE_AT, re-creation every $RECREATE)"
[ "${last:-0}" -gt "$((MODE_AT + RECREATE))" ] || FAILS="$FAILS stalled-after-change"
tail -n 20 "$OUT/churn.log" | awk '{ print $10 }' | tr '\n' ' '; echo
# Each format's size with its maxFramerate: the first 800x600 format has the new rate already.
rates=$(sed -n 's/.*: format [^ ]* \([0-9x]*\) .* max-framerate=\([0-9/]*\).*/\1:\2/p' "$OUT/churn.err" |
	uniq | tr '\n' ' ')
echo "size and maxFramerate of each format, in order: $rates"
[ "$rates" = "640x480:2997/50 800x600:225/4 " ] || FAILS="$FAILS max-framerate($rates)"
grep -q "refresh is now 56.250 Hz (was 59.940 Hz)" "$NODE_TMP/daemon.log" ||
	FAILS="$FAILS no-refresh-log"
# Each renegotiation pauses and restarts the stream within a vblank or two, while a vblank
# event the node queued is still on its way: that event must carry the one chain of events
# on, not run beside a new one (two reads of FB_ID per vblank for good, after the first).
read -r flips vblanks <<<"$(sed -n 's/.*stream stats: flips \([0-9]*\) .* vblank-events \([0-9]*\).*/\1 \2/p' \
	"$NODE_TMP/daemon.log" | awk '{ f += $1; v += $2 } END { print f + 0, v + 0 }')"
echo "while streaming: $flips flips, $vblanks vblank events"
[ "$vblanks" -gt 0 ] && [ "$vblanks" -le $((flips * 5 / 4 + 20)) ] ||
	FAILS="$FAILS vblank-events($vblanks for $flips flips)"
allocs=$(grep -c "buffers over" "$NODE_TMP/daemon.log")
recreations=$(grep -c "^fb-create" "$NODE_TMP/producer.log")
echo "allocations: $allocs; producer FBs created: $recreations"
[ "$allocs" -ge 3 ] || FAILS="$FAILS allocations($allocs)"
vm_finish t-node-churn
