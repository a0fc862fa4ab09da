#!/bin/bash
# The soak's inside-VM part, started by tests/soak/run on vkms with WirePlumber.
# While the test producer flips at 60 Hz with its FBs re-created every RECREATE frames and a
# moving cursor, this applies, over DURATION seconds:
#   - a flapping consumer that connects for 2-4 s, then leaves for 1-2 s, all along;
#   - kill -9 of the daemon's helper at random moments (every 12-25 s);
#   - one PipeWire (and WirePlumber) restart, at 45% of the run;
#   - a mode change (producer, at 30%) and a CRTC off for 1.5 s (producer, at 65%);
# with a steady consumer that reconnects whenever its stream ends (it does at the restart).
# Every fault goes to OUT/faults.log with its CLOCK_MONOTONIC time; the daemon's and the
# helper's fds and RSS, the helper's live GEM handles and the system's Shmem go to
# OUT/samples.log every ~5 s. tests/soak/check.py then asserts on all of it.
#
# Usage: guest-soak.sh DURATION_S OUT
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/bench-lib.sh"

DURATION=$1
OUT=$2
RECREATE=${SOAK_RECREATE:-600}
CONSUMER=$B/tests/tools/pw-min-consumer
GEM=$B/tests/tools/gem-handles
mkdir -p "$OUT"
chmod 0777 "$OUT"
: >"$OUT/faults.log"
: >"$OUT/samples.log"

# CLOCK_BOOTTIME, which is CLOCK_MONOTONIC in a guest that never suspends; 10 ms
# resolution is plenty for fault windows of seconds. %.0f: mawk's %d stops at 2^31.
mono_ns() { awk '{ printf "%.0f\n", $1 * 1e9 }' /proc/uptime; }
fault() { echo "fault $1 t_ns=$(mono_ns) ${2:-}" >>"$OUT/faults.log"; }
past() { [ "$(($(date +%s) - START))" -ge "$1" ]; }

sample() {
	_h=$(bench_helper_pids "$DAEMON_PID" | head -n 1)
	_g=
	[ -n "$_h" ] && _g=$("$GEM" "$_h" 256 2>&1)
	echo "sample t_ns=$(mono_ns) tag=$1 daemon_$(bench_proc_stat "$DAEMON_PID" | sed 's/ / daemon_/g')" \
		"helper_pid=${_h:-0} ${_h:+helper_$(bench_proc_stat "$_h" | sed 's/ / helper_/g')}" \
		"shmem_kb=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo) ${_g#gem pid=* }" \
		>>"$OUT/samples.log"
}

restart_pipewire() {
	fault pipewire-restart
	pw_restart "$OUT/pipewire-restarted.log" "$OUT/wireplumber-restarted.log"
	rt_boost "$(bench_pw_pid)"
	fault pipewire-back
}

# A consumer on the node that reconnects whenever its stream ends; logs steady.<n>.log.
steady_loop() {
	_n=0
	while ! past "$DURATION"; do
		_id=$(pw_node_id "$NODE" 2>/dev/null) || { sleep 0.5; continue; }
		_left=$((DURATION - ($(date +%s) - START)))
		[ "$_left" -gt 1 ] || break
		as_user "$CONSUMER" --target "$_id" --decode --duration "$_left" \
			--log "$OUT/steady.$_n.log" >>"$OUT/steady.err" 2>&1 &
		_cp=$!
		sleep 1
		rt_boost "$(pgrep -n -x pw-min-consumer)" 15
		wait "$_cp"
		_n=$((_n + 1))
		sleep 0.5
	done
}

flap_loop() {
	_n=0
	_id=
	while ! past $((DURATION - 6)); do
		# pw-dump is costly under TCG: look the node up again only when it moved.
		[ -n "$_id" ] || _id=$(pw_node_id "$NODE" 2>/dev/null) || { sleep 0.5; continue; }
		echo "flap connect n=$_n t_ns=$(mono_ns)" >>"$OUT/faults.log"
		_t0=$(date +%s)
		as_user "$CONSUMER" --target "$_id" --decode --duration $((2 + RANDOM % 3)) \
			--log "$OUT/flap.$_n.log" >>"$OUT/flap.err" 2>&1
		[ $(($(date +%s) - _t0)) -ge 2 ] || _id=
		_n=$((_n + 1))
		sleep "1.$((RANDOM % 10))"
	done
}

node_setup
FRAMES=$((DURATION * 60))
bench_producer_start "$OUT/producer.log" --buffers 3 --cursor --recreate "$RECREATE" \
	--mode-change-at $((FRAMES * 30 / 100)):800x600 --off-at $((FRAMES * 65 / 100)):1500 \
	--duration $((DURATION + 60))
NODE=kmscast.card0.$(bench_connector "$OUT/producer.log")
node_start_daemon
node_wait "$NODE" >/dev/null
# RTKit would give the data threads realtime priority in a session; the bench has none.
rt_boost "$DAEMON_PID"
rt_boost "$(bench_pw_pid)"
START=$(date +%s)
dmesg -c >/dev/null 2>&1
steady_loop &
STEADY=$!
sleep 5
sample start
flap_loop &
FLAP=$!

next_kill=$((12 + RANDOM % 14))
restarted=0
while ! past "$DURATION"; do
	sleep 1
	el=$(($(date +%s) - START))
	[ $((el % 5)) = 0 ] && sample run
	kill -0 "$DAEMON_PID" 2>/dev/null || { fault daemon-died; break; }
	if [ "$el" -ge "$next_kill" ] && [ "$el" -lt $((DURATION - 8)) ]; then
		h=$(bench_helper_pids "$DAEMON_PID" | head -n 1)
		if [ -n "$h" ]; then
			fault helper-kill "pid=$h"
			kill -KILL "$h"
		fi
		next_kill=$((el + 12 + RANDOM % 14))
	fi
	if [ "$restarted" = 0 ] && [ "$el" -ge $((DURATION * 45 / 100)) ]; then
		restart_pipewire
		restarted=1
	fi
done
wait "$FLAP"
wait "$STEADY"
sleep 2
sample end
kill -0 "$DAEMON_PID" 2>/dev/null && echo "daemon alive at end" >>"$OUT/faults.log"
node_stop_daemon
cp "$NODE_TMP/daemon.log" "$OUT/daemon.log"
bench_producer_stop
dmesg >"$OUT/dmesg.log" 2>&1
# The first PipeWire's and WirePlumber's logs (until the restart) stay in the guest otherwise.
cp /run/kmscast-vm/logs/pipewire.log "$OUT/pipewire-first.log" 2>/dev/null
cp /run/kmscast-vm/logs/wireplumber.log "$OUT/wireplumber-first.log" 2>/dev/null
python3 "$KMSCAST_SRC_DIR/tests/soak/check.py" "$OUT"
