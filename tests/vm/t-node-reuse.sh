#!/bin/bash
# Reused FB ids, as real display servers cause them: the kernel gives a new FB the lowest
# free id, so a compositor that re-creates its buffers (a resize, direct scanout of a
# client's buffers, a swapchain re-created at the same size) gets old ids back on new
# buffer objects. The producer flips 3 FBs at 60 Hz and re-creates them every 20 flips,
# each FB destroyed before its successor is created, which takes the id just freed
# (--reuse-fb-ids); unmodified gst pipewiresrc captures 240 frames. A node that takes an id for its buffer keeps serving the destroyed
# buffers under the reused ids: their pictures fall further behind with each flip (a
# frame 20 or more behind the newest seen). Here every decoded frame must be the producer's,
# none more than a swapchain's turn behind the newest (what a consumer reading a dma-buf late
# can see), the node must have found the reused ids (stats "replaced"), and the producer
# must really have reused ids while gst ran.
# Run: tests/vm/run --kms vkms|virtio-gpu --with wireplumber -- tests/vm/t-node-reuse.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-240}
RECREATE=20
BUFFERS=3

node_setup
gst_warm_registry
node_producer --rate 60 --duration 120 --buffers "$BUFFERS" --recreate "$RECREATE" \
	--reuse-fb-ids --mode 640x480
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
gst_wait_registry
as_user timeout 90 "$GST_TIMED" --first-buffer-file "$OUT/reuse.raw" gst-launch-1.0 \
	pipewiresrc path="$ID" num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
	filesink location="$OUT/reuse.raw" >"$NODE_TMP/gst.log" 2>&1 &
GST=$!
sample_gst_inodes "$GST"
wait "$GST"
GST_RC=$?
node_stop_daemon
node_stop_producer

grep "stream stats\|names other buffers\|renegotiating" "$NODE_TMP/daemon.log" | sed 's/.*\] //' |
	tail -n 8
FAILS=
[ "$GST_RC" = 0 ] || { tail -n 20 "$NODE_TMP/gst.log"; FAILS="$FAILS gst-exit($GST_RC)"; }
grep -q "unhandled format\|not-negotiated" "$NODE_TMP/gst.log" && FAILS="$FAILS gst-format-error"
gst_check_first_buffer "$NODE_TMP/gst.log" gst

# The producer reused ids: an fb-create of an id an earlier fb-destroy freed.
reused=$(awk '/^fb-destroy / { for (i = 2; i <= NF; i++) if ($i ~ /^fb=/) freed[substr($i, 4)] = 1 }
	/^fb-create / { for (i = 2; i <= NF; i++) if ($i ~ /^fb=/ && (substr($i, 4) in freed)) n++ }
	END { print n + 0 }' "$NODE_TMP/producer.log")
echo "producer: $reused FBs created on a freed id"
[ "$reused" -ge 10 ] || FAILS="$FAILS producer-reused($reused)"

"$B/tests/tools/pattern-check" --width 640 --height 480 --format BGRx "$OUT/reuse.raw" \
	>"$OUT/reuse.frames"
verdict=$(tail -n 1 "$OUT/reuse.frames")
echo "gst: $verdict"
# Stale: more than a swapchain's turn (plus one in the link) behind the newest frame seen.
stale=$(awk -v lag=$((BUFFERS + 2)) '$3 ~ /^frame=/ { f = substr($3, 7) + 0
		if (f > max) max = f; else if (max - f > lag) { n++; if (n <= 5) print "stale: " $0 " newest " max > "/dev/stderr" } }
	END { print n + 0 }' "$OUT/reuse.frames")
echo "frames more than $((BUFFERS + 2)) behind the newest: $stale"
[ "$stale" = 0 ] || FAILS="$FAILS stale-frames($stale)"
echo "$verdict" | awk -v n="$FRAMES" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { exit !(v["frames"] == n && v["bad"] == 0 && v["wrong_crtc"] == 0) }' ||
	FAILS="$FAILS frames"
# Exports stay bounded: one per new FB, and one per reused id found (plus the first few while
# the node learns the swapchain); a node that exported to check would make one per flip.
node_stats
created=$(grep -c '^fb-create ' "$NODE_TMP/producer.log")
exports=$(node_stats | sed -n 's/.* \([0-9]*\) exports.*/\1/p')
echo "exports: ${exports:-?} for $created FBs created"
[ -n "$exports" ] && [ "$exports" -le $((created * 2 + 10)) ] || FAILS="$FAILS exports(${exports:-none})"
replaced=$(sed -n 's/.*stream stats: .* replaced \([0-9]*\).*/\1/p' "$NODE_TMP/daemon.log" |
	awk '{ s += $1 } END { print s + 0 }')
[ "$replaced" -ge 5 ] || FAILS="$FAILS replaced($replaced)"
# Not judged here: gaps, and steps back within a turn around each renegotiation, which every
# re-creation brings whether ids are reused or not (node-recreate, in vm-unstable for them).
echo "$verdict" | awk -v n="$FRAMES" -v r="$RECREATE" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { printf "frames lost per re-creation: %.1f (%d gaps over about %d re-creations)\n",
		v["gaps"] * r / (v["last"] - v["first"] + 1), v["gaps"], (v["last"] - v["first"] + 1) / r }' 
echo "gst dma-buf inodes: $(echo $GST_INODES)"
[ -n "$GST_INODES" ] || TIMING="$TIMING zero-copy(no-dmabuf)"
vm_finish t-node-reuse
