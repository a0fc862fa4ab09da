#!/bin/bash
# Every flip, zero copy: unmodified gst-launch-1.0 pipewiresrc (default settings, linked by
# WirePlumber's policy through path=) captures N frames from kmscast's node while the test
# producer flips at 60 Hz. Asserts: the decoded frame numbers are consecutive (every flip
# delivered, none twice), the fds gst received are the scanout dma-bufs (same inodes the
# daemon got from the helper), and the daemon ran unprivileged.
# Run: tests/vm/run --kms vkms|virtio-gpu --with wireplumber -- tests/vm/t-node-gst.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-120}

node_setup
gst_warm_registry
# The producer runs at the default priority, as a compositor does (PRODUCER_NICE to change it):
# niced, it committed its frames late and unevenly, and two commits between two reads of
# FB_ID lose a frame that no node can see.
# Ten buffers give gst, which reads the scanout buffers themselves, 150 ms before the producer
# repaints the one it is reading; a compositor's two or three give a slow consumer torn frames.
nice -n "${PRODUCER_NICE:-0}" "$B/tests/tools/kms-producer" --rate 60 --duration 120 --buffers "${BUFFERS:-10}" --mode "${MODE:-640x480}" \
	--log "$NODE_TMP/producer.log" &
PRODUCER=$!
for _ in $(seq 100); do grep -q '^ready' "$NODE_TMP/producer.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$NODE_TMP/producer.log" || vm_fail "producer did not start"
conn=$(awk '/connector/ { for (i = 1; i <= NF; i++) if ($i ~ /^connector=/) { sub("connector=", "", $i); print $i; exit } }' "$NODE_TMP/producer.log")
[ -n "$conn" ] || conn=Virtual-1
node_start_daemon
rt_boost_graph
NAME=kmscast.card0.$conn
ID=$(node_wait "$NAME") || exit 1
echo "node $NAME id $ID"
# Let the node see every FB of the producer's swapchain before the link allocates.
node_wait_fbs "${BUFFERS:-10}"

geom=$(as_user pw-dump "$ID" 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    for p in (o.get("info") or {}).get("params", {}).get("EnumFormat", []):
        s = p.get("size")
        if s: print(s["width"], s["height"]); sys.exit(0)
')
read -r W H <<<"$geom"
[ -n "${W:-}" ] || { cat "$NODE_TMP/daemon.log"; vm_fail "no EnumFormat size"; }
echo "format ${W}x${H}"
gst_wait_registry

# The daemon's CPU time is sampled from the first dma-buf gst holds to its exit.
stream_started() {
	S0=$(cpu_ticks "$DAEMON_PID")
	F0=$(date +%s.%N)
}

# capture N: gst takes FRAMES buffers into out.raw (checked into check-N.txt); sets GST_RC,
# GST_INODES, VERDICT, the daemon CPU samples, and FRAMES_OK (verdict_check's status: 0
# when every frame is whole and in order, see below).
capture() {
	rm -f "$OUT/out.raw"
	local streams_before
	streams_before=$(streams_ended)
	as_user env GST_DEBUG=pipewiresrc:2 GST_DEBUG_NO_COLOR=1 "$GST_TIMED" \
		--first-buffer-file "$OUT/out.raw" gst-launch-1.0 pipewiresrc path="$ID" \
		num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
		filesink location="$OUT/out.raw" \
		>"$NODE_TMP/gst-$1.log" 2>&1 &
	GST=$!
	S0=
	sample_gst_inodes "$GST" stream_started
	F1=$(date +%s.%N)
	wait "$GST"
	GST_RC=$?
	cp "$NODE_TMP/gst-$1.log" "$NODE_TMP/gst.log"
	[ "$GST_RC" = 0 ] || return 0
	# Every decoded frame whole, in order, none twice; a gap only where the node itself
	# reports a vblank it slept through (bench scheduling), or for a frame that was the
	# committed FB for less than a third of a period (blind_spot in node-lib.sh) --
	# NODE_STRICT=1 allows none at all.
	"$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx \
		"$OUT/out.raw" >"$OUT/check-$1.txt"
	VERDICT=$(tail -n 1 "$OUT/check-$1.txt")
	echo "capture $1: $VERDICT"
	# This capture's own stream: the node's stats of an earlier one do not count here.
	stream_wait_end "$streams_before"
	missed=$(stream_missed "$streams_before")
	blind=$(blind_spot "$OUT/check-$1.txt" "$NODE_TMP/producer.log")
	[ "${NODE_STRICT:-0}" = 1 ] && { missed=0; blind=0; }
	echo "node-reported misses: ${missed:-?}; lost in the read blind spot: $blind"
	verdict_check "$VERDICT" "$(( ${missed:-0} + ${blind%% *} ))"
	FRAMES_OK=$?
}

# One failed capture is repeated once, and said so. Under TCG gst can fall a whole
# swapchain behind (pipewiresrc then warns "can't queue recycled buffer") and read frames the
# producer has repainted since: the first capture did in 7 of 7 runs on 2026-12-02, the
# repeats in none. A node that loses frames fails both.
capture 1
if [ "$GST_RC" = 0 ] && [ "$FRAMES_OK" != 0 ]; then
	if gst_fell_behind "$NODE_TMP/gst-1.log"; then
		why="gst fell a swapchain behind (\"can't queue recycled buffer\")"
	else
		why="not every frame arrived"
	fi
	echo "capture 1: $why; capturing again"
	capture 2
fi
S1=$(cpu_ticks "$DAEMON_PID")
DAEMON_INODES=$(dmabuf_inodes "$DAEMON_PID")
T0=$(cpu_ticks "$DAEMON_PID")
sleep 2
T1=$(cpu_ticks "$DAEMON_PID")
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
wait "$PRODUCER" 2>/dev/null

echo "--- daemon log (tail)"; grep -v "^$" "$NODE_TMP/daemon.log" | tail -n 25
[ "$GST_RC" = 0 ] || { cat "$NODE_TMP/gst.log"; vm_fail "gst-launch exited $GST_RC"; }
FAILS=
for n in 1 2; do
	[ -e "$NODE_TMP/gst-$n.log" ] && gst_check_first_buffer "$NODE_TMP/gst-$n.log" "capture-$n"
done
# KMSCAST_TEST_FRAMES=report (tests/soak/san-capture): the frame verdict is printed only.
if [ "$FRAMES_OK" != 0 ] && [ "${KMSCAST_TEST_FRAMES:-}" = report ]; then
	echo "frames: not every frame arrived (reported only: KMSCAST_TEST_FRAMES=report)"
else
	vm_check "$FRAMES_OK" frames
fi
check_zero_copy "" "$DAEMON_INODES"
n=$(( $(stat -c %s "$OUT/out.raw") / (W * H * 4) ))
[ "$n" = "$FRAMES" ] || FAILS="$FAILS frame-count($n)"
delivered=$(sed -n 's/.*stream stats: .* delivered \([0-9]*\) .*/\1/p' "$NODE_TMP/daemon.log" | head -n 1)
hz=$(getconf CLK_TCK)
# Frames in the sampled window: the producer's flips between the two timestamps, about.
echo "daemon CPU while streaming: $((S1 - ${S0:-S1})) ticks of 1/$hz s over" \
	"$(awk -v a="${F0:-0}" -v b="$F1" 'BEGIN { printf "%.2f", b - a }') s," \
	"$(awk -v t=$((S1 - ${S0:-S1})) -v a="${F0:-0}" -v b="$F1" -v hz="$hz" \
		'BEGIN { if (b > a) printf "%.2f", t * 1000 / hz / ((b - a) * 60); else print "?" }')" \
	"ms per 60 Hz frame; ${delivered:-?} frames delivered in the whole stream"
echo "idle daemon CPU: $((T1 - T0)) ticks in 2 s"
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
node_stats
vm_finish t-node-gst
