#!/bin/bash
# An idle desktop: the producer flips 90 frames, then keeps its last frame on screen and
# never flips again, as a compositor does when nothing moves. Consumers connect 2 s later:
# pw-min-consumer must get that last frame within one second of streaming, and keep getting
# it (the static screen is re-sent every resend-ms), and unmodified gst pipewiresrc must
# capture it. A node that only sends flips gives both nothing.
# Run: tests/vm/run --kms vkms|virtio-gpu --with wireplumber -- tests/vm/t-node-idle.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FLIPS=90

node_setup
gst_warm_registry
node_producer --rate 60 --frames "$FLIPS" --hold --duration 120 --buffers 3 --mode 640x480
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
# Idle: the producer's last flip is behind it.
for _ in $(seq 100); do
	grep -q "frame=$((FLIPS - 1)) " "$NODE_TMP/producer.log" && break
	sleep 0.1
done
grep -q "frame=$((FLIPS - 1)) " "$NODE_TMP/producer.log" || vm_fail "the producer did not flip $FLIPS frames"
sleep 2

as_user "$B/tests/tools/pw-min-consumer" --target "$ID" --decode --duration 4 \
	--log "$OUT/min.log" 2>"$OUT/min.err"
MIN_RC=$?
gst_wait_registry
as_user timeout 60 "$GST_TIMED" --first-buffer-file "$OUT/idle.raw" gst-launch-1.0 \
	pipewiresrc path="$ID" num-buffers=10 ! videoconvert ! video/x-raw,format=BGRx ! \
	filesink location="$OUT/idle.raw" >"$NODE_TMP/gst.log" 2>&1
GST_RC=$?
node_stop_daemon
node_stop_producer

FAILS=
gst_check_first_buffer "$NODE_TMP/gst.log" gst
[ "$MIN_RC" = 0 ] || FAILS="$FAILS min-consumer-exit($MIN_RC)"
streaming=$(sed -n 's/.*t_ns=\([0-9]*\) paused -> streaming.*/\1/p' "$OUT/min.err" | head -n 1)
first=$(sed -n 's/^buf t_ns=\([0-9]*\) .*/\1/p' "$OUT/min.log" | head -n 1)
n=$(grep -c '^buf ' "$OUT/min.log")
frames=$(sed -n 's/^buf .* frame=\([-0-9]*\).*/\1/p' "$OUT/min.log" | sort -u | tr '\n' ' ')
echo "pw-min-consumer: $n buffers in 4 s, frames [ $frames], first" \
	"$(awk -v a="${streaming:-0}" -v b="${first:-0}" 'BEGIN { printf "%.0f", (b - a) / 1e6 }') ms after streaming"
[ -n "$streaming" ] && [ -n "$first" ] || FAILS="$FAILS min-consumer-no-frame"
[ -n "$streaming" ] && [ -n "$first" ] && [ $((first - streaming)) -gt 1000000000 ] &&
	FAILS="$FAILS min-consumer-late"
[ "$frames" = "$((FLIPS - 1)) " ] || FAILS="$FAILS min-consumer-frames([ $frames])"
# Re-sent while static: at least one a second, whatever resend-ms is.
[ "$n" -ge 4 ] || FAILS="$FAILS min-consumer-resends($n)"

[ "$GST_RC" = 0 ] || { cat "$NODE_TMP/gst.log"; FAILS="$FAILS gst-exit($GST_RC)"; }
verdict=$("$B/tests/tools/pattern-check" --width 640 --height 480 --format BGRx --quiet \
	"$OUT/idle.raw" | tail -n 1)
echo "gst: $verdict"
echo "$verdict" | grep -q "frames=10 decoded=10 first=$((FLIPS - 1)) last=$((FLIPS - 1)) " ||
	FAILS="$FAILS gst-frames"
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-node-idle
