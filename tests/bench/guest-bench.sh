#!/bin/bash
# The benchmark's inside-VM part: started by tests/bench/run, once per device kind.
# Runs every contestant against the same 60 Hz test producer and leaves raw logs in OUT:
#   OUT/<scenario>/producer.log            the producer's flip log
#   OUT/<scenario>/<contestant>.<n>.log    pw-min-consumer's or kmsgrab-probe's log
#   OUT/<scenario>/<contestant>.meta       contestant facts (command, pids, load)
# tests/bench/analyze.py turns them into the table.
#
# Usage: guest-bench.sh vkms|virtio-gpu OUT FRAMES WARMUP [SCENARIO...]
#   scenarios: vkms: 1080p 4k; virtio-gpu: 1080p 2crtc (default: all of the kind)
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/bench-lib.sh"

KIND=$1
OUT=$2
FRAMES=$3
WARMUP=$4
shift 4
SCENARIOS=("$@")
if [ ${#SCENARIOS[@]} = 0 ]; then
	case $KIND in
	vkms) SCENARIOS=(1080p 4k) ;;
	*) SCENARIOS=(1080p 2crtc) ;;
	esac
fi
PROBE=$B/tests/tools/kmsgrab-probe.so
CONSUMER=$B/tests/tools/pw-min-consumer
# A contestant that has not finished its window in this time has failed.
LIMIT_S=$((FRAMES / 60 * 4 + 60))

meta() {
	# meta FILE KEY=VALUE...: one fact per line, with the load at the time.
	_f=$1
	shift
	{
		for kv in "$@"; do echo "$kv"; done
		echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >>"$_f"
}

# ffmpeg kmsgrab on CRTC $2, as root, with the probe preloaded; output to $1.<n>.log
run_ffmpeg() {
	_dir=$1
	_crtc=$2
	_n=${3:-0}
	_args=(-nostdin -hide_banner -loglevel error -device /dev/dri/card0 -f kmsgrab
		-framerate 60 -crtc_id "$_crtc" -i - -c:v wrapped_avframe -frames:v $((WARMUP + FRAMES + 5)) -f null -)
	meta "$_dir/ffmpeg.$_n.meta" "cmd=ffmpeg ${_args[*]}"
	timeout "$LIMIT_S" env KMSCAST_PROBE_LOG="$_dir/ffmpeg.$_n.log" \
		KMSCAST_PROBE_WARMUP="$WARMUP" KMSCAST_PROBE_FRAMES="$FRAMES" LD_PRELOAD="$PROBE" \
		ffmpeg "${_args[@]}" >"$_dir/ffmpeg.$_n.err" 2>&1 &
}

crtc_id_of() {
	awk -v idx="$2" '/^mode / { for (k = 1; k <= NF; k++) { if ($k == "index=" idx) found = 1
		if ($k ~ /^crtc=/) { c = $k; sub("crtc=", "", c) } } if (found) { print c; exit } }' "$1"
}

# pw-min-consumer on node $3 as the test user; output to $1/$2.log
run_consumer() {
	_dir=$1
	_name=$2
	_node=$3
	shift 3
	_watch=(--watch "$DAEMON_PID")
	for h in $(bench_helper_pids "$DAEMON_PID"); do _watch+=(--watch "$h"); done
	_watch+=(--watch "$(bench_pw_pid)")
	meta "$_dir/$_name.meta" "cmd=pw-min-consumer --target $_node $* ${_watch[*]}" \
		"daemon_pid=$DAEMON_PID"
	as_user timeout "$LIMIT_S" "$CONSUMER" --target "$_node" --warmup "$WARMUP" \
		--frames "$FRAMES" --decode --log "$_dir/$_name.log" "${_watch[@]}" "$@" \
		>"$_dir/$_name.err" 2>&1 &
}

# Cumulative utime+stime ticks of each of the daemon's threads.
thread_ticks() {
	echo "-- $1"
	for t in /proc/"$DAEMON_PID"/task/*; do
		echo "$(cat "$t/comm") $(sed 's/.*) //' "$t/stat" | awk '{ print "utime=" $12 " stime=" $13 }')"
	done
}

# Where the daemon's time goes: syscall counts over one more consumer window (not in the
# table: strace slows the daemon down).
profile_daemon() {
	strace -c -f -o "$1/profile-strace.txt" -p "$DAEMON_PID" 2>/dev/null &
	_sp=$!
	sleep 1
	run_consumer "$1" profile "$2"
	_cp=$!
	boost_consumers
	wait "$_cp"
	kill -INT "$_sp"
	wait "$_sp" 2>/dev/null
}

boost_consumers() {
	sleep 0.5
	for p in $(pgrep -x pw-min-consumer); do rt_boost "$p" 15; done
}

wait_all() {
	_rc=0
	for p in "$@"; do wait "$p" || _rc=1; done
	return $_rc
}

# ffmpeg contestants on every CRTC at once, then kmscast with K consumers per node.
scenario() {
	_tag=$1
	_ncrtc=$2
	shift 2
	_dir=$OUT/$_tag
	mkdir -p "$_dir"
	chmod 0777 "$_dir" # the consumers run as the test user
	echo "== $KIND $_tag: producer $*"
	bench_producer_start "$_dir/producer.log" --buffers 3 --duration 3600 "$@"
	sleep 1

	_pids=()
	for i in $(seq 0 $((_ncrtc - 1))); do
		run_ffmpeg "$_dir" "$(crtc_id_of "$_dir/producer.log" "$i")" "$i"
		_pids+=($!)
	done
	wait_all "${_pids[@]}" || echo "ffmpeg failed: $(cat "$_dir"/ffmpeg.*.err)"

	node_start_daemon
	# A desktop session gives PipeWire's data threads realtime priority through RTKit; the
	# bench has none, so do it as t-node-gst.sh does. ffmpeg, run by hand, gets none.
	rt_boost "$DAEMON_PID"
	rt_boost "$(bench_pw_pid)"
	_nodes=()
	for i in $(seq 0 $((_ncrtc - 1))); do
		_nodes+=("$(node_wait "kmscast.card0.$(bench_connector "$_dir/producer.log" "$i")")")
	done
	# Let the node learn every FB of the swapchain before the first link allocates.
	sleep 1
	for spec in $CONSUMER_SETS; do
		_kind=${spec%%x*}
		_count=${spec#*x}
		_pids=()
		for n in "${!_nodes[@]}"; do
			for c in $(seq 1 "$_count"); do
				_extra=()
				[ "$_kind" = shm ] && _extra=(--no-dmabuf)
				run_consumer "$_dir" "kmscast-$_kind-x$_count.$n.$c" "${_nodes[$n]}" "${_extra[@]}"
				_pids+=($!)
			done
		done
		boost_consumers
		wait_all "${_pids[@]}" || echo "consumer $spec failed: $(cat "$_dir"/kmscast-"$_kind"-x"$_count".*.err | tail -n 5)"
		thread_ticks "after $spec" >>"$_dir/daemon-threads.txt"
		sleep 1
	done
	[ "${PROFILE:-0}" = 1 ] && profile_daemon "$_dir" "${_nodes[0]}"
	node_stop_daemon
	cp "$NODE_TMP/daemon.log" "$_dir/daemon.log"
	bench_producer_stop
}

node_setup
for s in "${SCENARIOS[@]}"; do
	case $KIND.$s in
	vkms.1080p) CONSUMER_SETS="dmabufx1 dmabufx2 dmabufx4 shmx1" ;;
	*) CONSUMER_SETS="dmabufx1 shmx1" ;;
	esac
	case $KIND.$s in
	vkms.1080p) PROFILE=1 scenario "$KIND-1080p" 1 --mode 1920x1080 ;;
	vkms.4k) scenario "$KIND-4k" 1 --mode 3840x2160 ;;
	virtio-gpu.1080p) PROFILE=1 scenario "$KIND-1080p" 1 --mode 1920x1080 ;;
	virtio-gpu.2crtc)
		CONSUMER_SETS="dmabufx1"
		scenario "$KIND-2crtc" 2 --mode 1920x1080 --connector Virtual-1,Virtual-2 ;;
	*) vm_fail "unknown scenario $s for $KIND" ;;
	esac
done
echo "guest-bench: done"
