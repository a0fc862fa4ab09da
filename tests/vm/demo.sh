#!/bin/bash
# The README's main job, inside the bench: the test producer flips at 60 Hz on vkms with a
# moving cursor; kmscast runs as an unprivileged user and publishes the CRTC; an unmodified
# gst-launch-1.0 pipewiresrc captures it. Writes a PNG of a captured frame and a short video
# into OUT_DIR and prints frames flipped against frames delivered.
# usage: demo.sh OUT_DIR [FRAMES]
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
dest=$1
FRAMES=${2:-180}

node_setup
gst_warm_registry
# As in t-node-gst.sh: the producer at the default priority, as a compositor runs, and the
# daemon's and PipeWire's threads at the realtime priority RTKit gives them on a desktop.
node_producer --rate 60 --buffers 12 --mode 1024x768 --cursor --duration 600
echo "== kmscast --list (as $(as_user id -un))"
as_user "$B/src/kmscast" --list

node_start_daemon
rt_boost_graph
NAME=kmscast.card0.$CONNECTOR
ID=$(node_wait "$NAME") || exit 1
node_wait_fbs 12 60
echo "== node $NAME is PipeWire object $ID; capturing $FRAMES frames with pipewiresrc"
gst_wait_registry
first_flip=$(grep -c '^flip ' "$NODE_TMP/producer.log")
as_user "$GST_TIMED" --first-buffer-file "$OUT/capture.raw" gst-launch-1.0 pipewiresrc \
	path="$ID" num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
	filesink location="$OUT/capture.raw" >"$NODE_TMP/gst.log" 2>&1 ||
	{ cat "$NODE_TMP/gst.log"; vm_fail "gst-launch-1.0 failed"; }
last_flip=$(grep -c '^flip ' "$NODE_TMP/producer.log")
node_stop_daemon
node_stop_producer

W=1024
H=768
verdict=$("$B/tests/tools/pattern-check" --width $W --height $H --format BGRx --quiet \
	"$OUT/capture.raw" | tail -n 1)
# A frame from the middle of the capture as PNG, and the whole capture as H.264.
ffmpeg -v error -y -f rawvideo -pix_fmt bgr0 -s ${W}x$H -i "$OUT/capture.raw" \
	-vf "select=eq(n\,$((FRAMES / 2)))" -frames:v 1 "$dest/frame.png" ||
	vm_fail "could not write frame.png"
ffmpeg -v error -y -f rawvideo -pix_fmt bgr0 -s ${W}x$H -r 60 -i "$OUT/capture.raw" \
	-c:v libx264 -preset ultrafast -pix_fmt yuv420p "$dest/capture.mp4" ||
	vm_fail "could not write capture.mp4"
cp "$NODE_TMP/producer.log" "$NODE_TMP/daemon.log" "$dest/"

echo "== result"
echo "producer flipped $((last_flip - first_flip)) frames while gst captured $FRAMES buffers"
echo "decoded from the captured pixels: $verdict"
echo "first buffer $(gst_first_buffer_ms "$NODE_TMP/gst.log" || echo "?") ms after gst reached PLAYING"
echo "node: $(sed -n 's/.*\(streaming [0-9]* slots over [0-9]* FBs ([a-z-]*)\).*/\1/p' "$NODE_TMP/daemon.log" | head -n 1)"
echo "node: $(sed -n 's/.*\(stream stats: .*\)/\1/p' "$NODE_TMP/daemon.log" | head -n 1)"
echo "wrote $dest/frame.png and $dest/capture.mp4 (daemon and producer logs beside them)"
