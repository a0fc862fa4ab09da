#!/bin/bash
# Two consumers on one node: unmodified gst pipewiresrc and pw-shm-consumer --dmabuf stream
# at the same time; both receive the screen's frames in order, gst up to a tenth of them
# torn (see gst_whole), the shm consumer none (the second link reuses the node's buffers:
# PipeWire allocates once per output port).
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-two.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-90}

node_setup
gst_warm_registry
# Ten buffers, as t-node-gst.sh: gst reads the scanout buffers themselves and gets the
# swapchain's length in periods before one is repainted (with six, 1 torn frame of 90
# under TCG on 2026-12-02).
node_producer --rate 60 --duration 120 --buffers 10 --mode 640x480
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
node_wait_fbs 10
gst_wait_registry
# The shm consumer streams across both gst captures, should the first be repeated.
shm_consumer two --target "$ID" --dmabuf --frames $((FRAMES * 6)) --timeout 90 &
SHM=$!
sleep 2
# gst_capture N: FRAMES frames through an unmodified gst; GST_RC and VERDICT.
gst_capture() {
	as_user env GST_DEBUG=pipewiresrc:2 GST_DEBUG_NO_COLOR=1 "$GST_TIMED" \
		--first-buffer-file "$OUT/gst.raw" gst-launch-1.0 pipewiresrc path="$ID" \
		num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
		filesink location="$OUT/gst.raw" \
		>"$NODE_TMP/gst-$1.log" 2>&1
	GST_RC=$?
	cp "$NODE_TMP/gst-$1.log" "$NODE_TMP/gst.log"
	VERDICT=$("$B/tests/tools/pattern-check" --width 640 --height 480 --format BGRx \
		--quiet "$OUT/gst.raw" | tail -n 1)
	echo "gst capture $1: $VERDICT"
}
# gst_whole: verdict_check's status for VERDICT, any gaps allowed (the shm consumer shares
# the CPUs) and up to a tenth of the frames torn, as t-node-pwhosted.sh and
# t-portal-two.sh allow a zero-copy consumer: gst reads the scanout buffers themselves and,
# with two consumers, the producer and the node on two emulated CPUs, falls behind their
# reuse (forky, 2026-12-03: 7 and 1 of 90 torn in the two runs of one test, gst 1.28 not
# warning that it fell behind, so not repeated). 1 when gst wrote other than FRAMES frames.
gst_whole() {
	case $VERDICT in
	"frames=$FRAMES "*) verdict_check "$VERDICT" 1000000 $((FRAMES * 9 / 10)) ;;
	*) return 1 ;;
	esac
}
# Repeated once, only when gst itself fell a swapchain behind (as in t-node-gst.sh): under
# TCG, with the shm consumer, producer and node sharing two emulated CPUs, it read 2 of 90
# frames after the producer had repainted them on 2026-12-03. A node that hands out a
# wrong or repeated frame fails both captures.
gst_capture 1
if [ "$GST_RC" = 0 ] && ! gst_whole && gst_fell_behind "$NODE_TMP/gst-1.log"; then
	echo "gst capture 1: gst fell a swapchain behind (\"can't queue recycled buffer\"); capturing again"
	gst_capture 2
fi
wait "$SHM"
SHM_RC=$?
node_stop_daemon
node_stop_producer
grep "stream stats\|buffers over" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
FAILS=
[ "$GST_RC" = 0 ] || FAILS="$FAILS gst-exit($GST_RC)"
[ "$SHM_RC" = 0 ] || FAILS="$FAILS shm-exit($SHM_RC)"
gst_whole
vm_check $? gst-frames
for n in 1 2; do
	[ -e "$NODE_TMP/gst-$n.log" ] && gst_check_first_buffer "$NODE_TMP/gst-$n.log" "gst-$n"
done
check_frames "$OUT/two.log" 1000000
vm_check $? shm-frames
vm_finish t-node-two
