#!/bin/bash
# Faults: the helper is killed mid-stream, the consumer is SIGKILLed, the CRTC goes dark for
# two seconds and comes back. Each ends in a pause, a re-export or a re-publication -- never a
# crash -- and the daemon holds no more fds at the end than after its first stream.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-faults.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"

node_setup
node_producer --rate 60 --duration 200 --buffers 4 --mode 640x480 --recreate 400 \
	--off-at 1500:2000
node_start_daemon
rt_boost "$DAEMON_PID"
NAME=kmscast.card0.$CONNECTOR
ID=$(node_wait "$NAME") || exit 1
FAILS=

# 1. A first stream, then the helper dies; the next new FB (re-created every 400 frames)
#    needs an export, which must re-spawn it.
shm_consumer f1 --target "$ID" --dmabuf --frames 60 --timeout 60 || FAILS="$FAILS first-stream"
fds_before=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
HELPER=$(pgrep -P "$DAEMON_PID" -x kmscast-helper | head -n 1)
echo "killing helper $HELPER"
[ -n "$HELPER" ] && kill -KILL "$HELPER"
# 2. A consumer SIGKILLed mid-stream.
shm_consumer f2 --target "$ID" --dmabuf --frames 100000 --timeout 60 &
F2=$!
# Mid-stream: once it has frames (in 4 s on a quiet bench, more under load), up to 30 s.
for _ in $(seq 300); do
	[ "$(frames_of "$OUT/f2.log" 2>/dev/null | wc -l)" -ge 30 ] && break
	sleep 0.1
done
F2_PID=$(cat "$OUT/f2.log.pid" 2>/dev/null)
if [ -n "$F2_PID" ] && kill -KILL "$F2_PID"; then
	F2_FRAMES=$(frames_of "$OUT/f2.log" | wc -l)
	echo "consumer $F2_PID SIGKILLed after $F2_FRAMES frames"
	[ "$F2_FRAMES" -gt 0 ] || FAILS="$FAILS killed-before-streaming"
else
	FAILS="$FAILS consumer-not-killed"
fi
wait "$F2" 2>/dev/null
# 3. Frames still flow after both; wait until past the producer's re-creation at 400*k.
shm_consumer f3 --target "$ID" --dmabuf --frames 120 --timeout 60 || FAILS="$FAILS after-kill"
check_frames "$OUT/f3.log" 1000000
vm_check $? f3-frames
grep -q "joins the scanout set" "$NODE_TMP/daemon.log" || FAILS="$FAILS no-export"
# 4. The CRTC goes dark at frame 1500 for 2 s: the node disappears, then comes back.
n=240
until grep -q "^off " "$NODE_TMP/producer.log"; do
	kill -0 "$PRODUCER_PID" 2>/dev/null || break
	n=$((n - 1))
	if [ "$n" = 0 ]; then
		tail -n 5 "$NODE_TMP/producer.log"
		tail -n 20 "$NODE_TMP/daemon.log"
		vm_fail "the producer did not reach its CRTC off in 120 s"
	fi
	sleep 0.5
done
sleep 1
pw_node_id "$NAME" >/dev/null && echo "note: node still listed while dark"
ID2=$(node_wait "$NAME" 30) || FAILS="$FAILS not-republished"
echo "node back as $ID2"
shm_consumer f4 --target "$ID2" --dmabuf --frames 60 --timeout 60 || FAILS="$FAILS after-off"
fds_after=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
echo "daemon fds: $fds_before after the first stream, $fds_after at the end"
[ "$fds_after" -le "$((fds_before + 2))" ] || FAILS="$FAILS fd-leak($fds_before->$fds_after)"
kill -0 "$DAEMON_PID" || FAILS="$FAILS daemon-died"
node_stop_daemon
node_stop_producer
grep "helper\|removing\|publishing\|gone;" "$NODE_TMP/daemon.log" | sed 's/.*\] //' | tail -n 12
vm_finish t-node-faults
