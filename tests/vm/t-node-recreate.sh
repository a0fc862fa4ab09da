#!/bin/bash
# A compositor that re-creates its swapchain while a consumer streams (a resize, a mode set
# back and forth, direct scanout of a client's buffers): the producer re-creates each of its
# 10 FBs every 120 flips, with new FB ids, and unmodified gst pipewiresrc captures 300 frames
# (about two re-creations). The stream must survive every one: gst exits 0 with no "unhandled
# format" (GStreamer 1.26 on PipeWire 1.4 ends a stream that is renegotiated; the node
# serves new FBs from spare slots there), and what it got are the producer's frames, in
# order. Prints the frames lost per re-creation.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-recreate.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-300}
RECREATE=120

node_setup
gst_warm_registry
node_producer --rate 60 --duration 120 --buffers 10 --recreate "$RECREATE" --mode 640x480
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
node_wait_fbs 10
gst_wait_registry
as_user timeout 90 "$GST_TIMED" --first-buffer-file "$OUT/recreate.raw" gst-launch-1.0 \
	pipewiresrc path="$ID" num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
	filesink location="$OUT/recreate.raw" >"$NODE_TMP/gst.log" 2>&1 &
GST=$!
sample_gst_inodes "$GST"
wait "$GST"
GST_RC=$?
node_stop_daemon
node_stop_producer

grep "stream stats\|renegotiating\|spare slots" "$NODE_TMP/daemon.log" | sed 's/.*\] //' | tail -n 12
FAILS=
[ "$GST_RC" = 0 ] || { tail -n 20 "$NODE_TMP/gst.log"; FAILS="$FAILS gst-exit($GST_RC)"; }
grep -q "unhandled format\|not-negotiated" "$NODE_TMP/gst.log" && FAILS="$FAILS gst-format-error"
gst_check_first_buffer "$NODE_TMP/gst.log" gst
verdict=$("$B/tests/tools/pattern-check" --width 640 --height 480 --format BGRx --quiet \
	"$OUT/recreate.raw" | tail -n 1)
echo "$verdict"
resent=$(sed -n 's/.*stream stats: .* resent \([0-9]*\).*/\1/p' "$NODE_TMP/daemon.log" |
	awk '{ s += $1 } END { print s + 0 }')
recreations=$(awk -v f="$FRAMES" -v r="$RECREATE" 'BEGIN { printf "%.1f", f / r }')
echo "$verdict" | awk -v n="$FRAMES" -v resent="$resent" -v rec="$recreations" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END {
		printf "frames lost per re-creation: %.1f (%d gaps over about %s re-creations)\n",
			v["gaps"] / rec, v["gaps"], rec
		# Whole frames of the producer, in order; a re-sent static screen may repeat one.
		exit !(v["frames"] == n && v["bad"] == 0 && v["wrong_crtc"] == 0 &&
			v["backwards"] == 0 && v["duplicates"] <= resent && v["torn"] <= n / 10)
	}' || FAILS="$FAILS frames"
echo "gst dma-buf inodes: $(echo $GST_INODES)"
[ -n "$GST_INODES" ] || TIMING="$TIMING zero-copy(no-dmabuf)" # the sampler's loss
vm_finish t-node-recreate
