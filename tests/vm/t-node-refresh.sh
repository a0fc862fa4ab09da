#!/bin/bash
# A new refresh rate at the same size, without new buffers: the producer runs 640x480 at
# 59.94 Hz, then sets 640x480 at 75.3 Hz (a CVT mode of its own: vkms lists nothing above
# 60 Hz but takes it, and its vblank follows the mode) with the same framebuffers, as a compositor keeps its swapchain when only the rate
# changes. No FB joins and no stream starts, so only the vblank period tells the node (on
# virtio-gpu, which has no vblank, its once-a-second read of the mode while a stream runs).
# Asserts:
#   - the node logs the new rate (75.301 Hz) while the stream that ran across the change
#     still runs (it runs for 7 s after the modeset);
#   - that stream's frames decode in order across the change (the same buffers); it
#     negotiated 59.94 fps at most, so the node caps it from then on (the stream stats'
#     capped): its frames have gaps, which are not judged;
#   - a consumer that starts after it is offered maxFramerate 75301/1000.
# Run: tests/vm/run --kms vkms|virtio-gpu --with wireplumber -- tests/vm/t-node-refresh.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
CHANGE_AT=400

node_setup
node_producer --mode 640x480@60 --rate 75 --buffers 3 --duration 120 \
	--mode-change-at "$CHANGE_AT:640x480@75"
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
node_wait_fbs 3
grep "^mode " "$NODE_TMP/producer.log"
# Across the change: the consumer starts well before frame CHANGE_AT (about 6.7 s at 60 Hz)
# and runs until well after it.
shm_consumer across --target "$ID" --frames 100000 --timeout 14 &
ACROSS=$!
for _ in $(seq 300); do
	grep -q "^flip .* frame=$CHANGE_AT .* via=modeset" "$NODE_TMP/producer.log" && break
	sleep 0.05
done
changed=$(grep -c "^flip .* frame=$CHANGE_AT .* via=modeset" "$NODE_TMP/producer.log")
wait "$ACROSS"
shm_consumer after --target "$ID" --frames 30 --timeout 30
AFTER_RC=$?
node_stop_daemon
node_stop_producer

FAILS=
grep "^mode \|via=modeset" "$NODE_TMP/producer.log" | tail -n 3
[ "$changed" = 1 ] || vm_fail "the producer logged no modeset at frame $CHANGE_AT"
grep "refresh is now\|stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
# The log's times are the daemon's (seconds since it started); the order says enough: the
# new rate before the first stream's stats line, which it logs when that stream ends.
order=$(grep -n "refresh is now 75\.\|stream stats" "$NODE_TMP/daemon.log" | head -n 1)
case $order in
*"refresh is now 75."*) ;;
*) FAILS="$FAILS not-seen-while-streaming" ;;
esac
# A consumer started after the change proves nothing about the detector (a Start reads the
# refresh anyway): inconclusive, a timing failure.
first=$(frames_of "$OUT/across.log" | awk '$1 >= 0 { print; exit }')
[ -n "$first" ] && [ "$first" -lt "$CHANGE_AT" ] || TIMING="$TIMING started-after-change(${first:-none})"
frames=$(frames_of "$OUT/across.log" | wc -l)
echo "across the change: $frames buffers"
check_frames "$OUT/across.log" 1000000
vm_check $? across-frames
frame_faults "$OUT/across.log"
[ "$frames" -ge 300 ] || FAILS="$FAILS across-too-few($frames)"
[ "$AFTER_RC" = 0 ] || FAILS="$FAILS after-exit($AFTER_RC)"
grep "format" "$OUT/after.err"
grep -q "max-framerate=753[0-9]*/1000" "$OUT/after.err" || FAILS="$FAILS after-not-75"
vm_finish t-node-refresh
