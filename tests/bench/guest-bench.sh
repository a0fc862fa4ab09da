#!/bin/bash
# The benchmark's inside-VM part: started by tests/bench/run, once per device kind.
# Runs every contestant against the same 60 Hz test producer and leaves raw logs in OUT:
#   OUT/<scenario>/producer.log            the producer's flip log
#   OUT/<scenario>/<contestant>.<n>.log    pw-min-consumer's or kmsgrab-probe's log
#   OUT/<scenario>/<contestant>.meta       contestant facts (command, pids, load)
#   OUT/<scenario>/<contestant>.perf       perf stat's count of the serving side's system
#                                          calls over the window (without perf: absent)
# tests/bench/analyze.py turns them into the table.
#
# Usage: guest-bench.sh vkms|virtio-gpu OUT FRAMES WARMUP [SCENARIO...]
#   scenarios: vkms: 1080p 4k graph hosted; virtio-gpu: 1080p 2crtc (default: all of the
#   kind). graph: at 1080p, one consumer whose node carries each of the graph settings that
#   might change what a cycle costs (node.lock-quantum, node.force-rate, node.force-quantum,
#   node.always-process), one after the other, beside one without.
#   hosted: at 1080p, the daemon's node with one consumer, then the same node hosted by
#   the PipeWire server itself (kmscast-pwhosted: no daemon; the server's CPU includes the
#   node's). It replaces the bench's PipeWire and WirePlumber, so it runs last.
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
	vkms) SCENARIOS=(1080p 4k graph hosted) ;;
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

# System calls per frame: perf stat counts raw_syscalls:sys_enter of the serving side,
# started disabled and switched on and off through a control FIFO by whoever takes the
# window's CPU samples (pw-min-consumer --perf-ctl, kmsgrab-probe's KMSCAST_PROBE_PERF_CTL),
# so that both contestants are counted over the same frames their CPU is. perf needs the
# tracefs mounted for the tracepoint; without a working perf the column says "-".
PERF=()
perf_setup() {
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	if command -v perf >/dev/null &&
		perf stat -e raw_syscalls:sys_enter -x ',' -o /dev/null -- true 2>"$OUT/perf-check.err"; then
		PERF=(perf stat -e raw_syscalls:sys_enter -x ',' --delay=-1)
	else
		echo "guest-bench: no system call counts (perf: $(head -c 300 "$OUT/perf-check.err" 2>/dev/null))"
	fi
}

# perf_fifo DIR NAME: a control FIFO that the test user's consumer can write; prints its path.
# In the guest's /tmp: OUT is a 9p share, where a FIFO cannot be opened.
PERF_FIFOS=
perf_fifo() {
	[ -n "$PERF_FIFOS" ] || { PERF_FIFOS=$(mktemp -d /tmp/kmscast-perf.XXXXXX) && chmod 0755 "$PERF_FIFOS"; }
	rm -f "$PERF_FIFOS/${1##*/}-$2.perfctl"
	mkfifo -m 0666 "$PERF_FIFOS/${1##*/}-$2.perfctl"
	echo "$PERF_FIFOS/${1##*/}-$2.perfctl"
}

# ffmpeg kmsgrab on CRTC $2, as root, with the probe preloaded; output to $1.<n>.log
run_ffmpeg() {
	_dir=$1
	_crtc=$2
	_n=${3:-0}
	_args=(-nostdin -hide_banner -loglevel error -device /dev/dri/card0 -f kmsgrab
		-framerate 60 -crtc_id "$_crtc" -i - -c:v wrapped_avframe -frames:v $((WARMUP + FRAMES + 5)) -f null -)
	meta "$_dir/ffmpeg.$_n.meta" "cmd=ffmpeg ${_args[*]}"
	_perf=()
	_ctl=
	if [ ${#PERF[@]} -gt 0 ]; then
		_ctl=$(perf_fifo "$_dir" "ffmpeg.$_n")
		_perf=("${PERF[@]}" --control "fifo:$_ctl" -o "$_dir/ffmpeg.$_n.perf" --)
	fi
	timeout "$LIMIT_S" env KMSCAST_PROBE_LOG="$_dir/ffmpeg.$_n.log" \
		KMSCAST_PROBE_WARMUP="$WARMUP" KMSCAST_PROBE_FRAMES="$FRAMES" \
		${_ctl:+KMSCAST_PROBE_PERF_CTL="$_ctl"} LD_PRELOAD="$PROBE" \
		"${_perf[@]}" ffmpeg "${_args[@]}" >"$_dir/ffmpeg.$_n.err" 2>&1 &
}

crtc_id_of() {
	awk -v idx="$2" '/^mode / { for (k = 1; k <= NF; k++) { if ($k == "index=" idx) found = 1
		if ($k ~ /^crtc=/) { c = $k; sub("crtc=", "", c) } } if (found) { print c; exit } }' "$1"
}

# perf_attach DIR NAME: perf stat on the serving side (SERVE_PID or the daemon) and its
# helpers into DIR/NAME.perf, counting
# while its control FIFO (PERF_CTL, for the first consumer) says so; its pid in PERF_PID
# (empty without perf).
perf_attach() {
	PERF_PID=
	[ ${#PERF[@]} -gt 0 ] || return 0
	_targets=${SERVE_PID:-$DAEMON_PID}
	for h in $(bench_helper_pids "$_targets"); do _targets="$_targets,$h"; done
	_ctl=$(perf_fifo "$1" "$2")
	PERF_CTL=$_ctl
	"${PERF[@]}" --per-thread --control "fifo:$_ctl" -o "$1/$2.perf" -p "$_targets" \
		2>"$1/$2.perf.err" &
	PERF_PID=$!
	# The consumer's "enable" must find perf reading (perf takes a while to start under TCG).
	for _ in $(seq 50); do
		for fd in /proc/"$PERF_PID"/fd/*; do
			[ "$(readlink "$fd" 2>/dev/null)" = "$_ctl" ] && return 0
		done
		sleep 0.1
	done
	echo "guest-bench: perf did not open $_ctl, no system call count for $2: $(head -c 300 "$1/$2.perf.err")"
	kill "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=
}

perf_detach() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=
}

# pw-min-consumer on node $3 as the test user; output to $1/$2.log. It watches the serving
# side, SERVE_PID (the daemon; the PipeWire server when that hosts the node) and its helpers,
# and the PipeWire server.
run_consumer() {
	_dir=$1
	_name=$2
	_node=$3
	shift 3
	_serve=${SERVE_PID:-$DAEMON_PID}
	_watch=(--watch "$_serve")
	for h in $(bench_helper_pids "$_serve"); do _watch+=(--watch "$h"); done
	[ "$(bench_pw_pid)" = "$_serve" ] || _watch+=(--watch "$(bench_pw_pid)")
	meta "$_dir/$_name.meta" "cmd=pw-min-consumer --target $_node $* ${_watch[*]}" \
		"serve_pid=$_serve"
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

# Where the daemon's and its helper's time goes: syscall counts by name over one more
# consumer window (not in the table: strace slows them down).
profile_daemon() {
	_traced=(-p "$DAEMON_PID")
	for h in $(bench_helper_pids "$DAEMON_PID"); do _traced+=(-p "$h"); done
	strace -c -f -o "$1/profile-strace.txt" "${_traced[@]}" 2>/dev/null &
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

# The node hosted by the PipeWire server (spa-plugin/kmscast.conf's factory, one
# context.objects entry, as t-node-pwhosted.sh) for CRTC index 0 of DIR's producer, with one
# dma-buf consumer: the bench's server and session manager make way for one that hosts it.
run_pwhosted() {
	_dir=$1
	pkill -u "$KMSCAST_TEST_UID" -x wireplumber
	pkill -u "$KMSCAST_TEST_UID" -x pipewire
	for _ in $(seq 100); do
		pgrep -u "$KMSCAST_TEST_UID" -x pipewire >/dev/null ||
			pgrep -u "$KMSCAST_TEST_UID" -x wireplumber >/dev/null || break
		sleep 0.1
	done
	CONNECTOR=$(bench_connector "$_dir/producer.log" 0)
	pw_hosted_start "kmscast.card0.$CONNECTOR" # boosts the server, as rt_boost_graph would
	SERVE_PID=$PW_PID
	# Let the node learn every FB of the swapchain before the link allocates.
	node_wait_fbs 3 20 "$NODE_TMP/pipewire.log"
	perf_attach "$_dir" kmscast-pwhosted-x1
	_extra=()
	[ -n "$PERF_PID" ] && _extra+=(--perf-ctl "$PERF_CTL")
	run_consumer "$_dir" kmscast-pwhosted-x1.0.1 "$ID" "${_extra[@]}"
	_cp=$!
	boost_consumers
	wait "$_cp" || echo "consumer pwhosted failed: $(tail -n 5 "$_dir"/kmscast-pwhosted-x1.0.1.err)"
	perf_detach
	SERVE_PID=
	kill "$WP_JOB" "$PW_JOB" 2>/dev/null
	wait "$WP_JOB" "$PW_JOB" 2>/dev/null
	cp "$NODE_TMP/pipewire.log" "$_dir/pipewire-hosted.log"
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
		perf_attach "$_dir" "kmscast-$_kind-x$_count"
		for n in "${!_nodes[@]}"; do
			for c in $(seq 1 "$_count"); do
				_extra=()
				[ "$_kind" = shm ] && _extra=(--no-dmabuf)
				# dmabuf_<setting>: a graph setting the consumer's node carries.
				case $_kind in
				dmabuf_lockquantum) _extra=(--prop node.lock-quantum=true) ;;
				dmabuf_forcerate) _extra=(--prop node.force-rate=60) ;;
				dmabuf_forcequantum) _extra=(--prop node.force-quantum=1) ;;
				dmabuf_alwaysprocess) _extra=(--prop node.always-process=true) ;;
				esac
				# The first consumer's window is the one the CPU figures come from.
				[ -n "$PERF_PID" ] && [ "$n.$c" = 0.1 ] && _extra+=(--perf-ctl "$PERF_CTL")
				run_consumer "$_dir" "kmscast-$_kind-x$_count.$n.$c" "${_nodes[$n]}" "${_extra[@]}"
				_pids+=($!)
			done
		done
		boost_consumers
		wait_all "${_pids[@]}" || echo "consumer $spec failed: $(cat "$_dir"/kmscast-"$_kind"-x"$_count".*.err | tail -n 5)"
		perf_detach
		thread_ticks "after $spec" >>"$_dir/daemon-threads.txt"
		sleep 1
	done
	[ "${PROFILE:-0}" = 1 ] && profile_daemon "$_dir" "${_nodes[0]}"
	node_stop_daemon
	cp "$NODE_TMP/daemon.log" "$_dir/daemon.log"
	[ "${HOSTED:-0}" = 1 ] && run_pwhosted "$_dir"
	bench_producer_stop
}

node_setup
perf_setup
for s in "${SCENARIOS[@]}"; do
	case $KIND.$s in
	vkms.1080p) CONSUMER_SETS="dmabufx1 dmabufx2 dmabufx4 shmx1" ;;
	vkms.hosted) CONSUMER_SETS="dmabufx1" ;;
	vkms.graph)
		CONSUMER_SETS="dmabufx1 dmabuf_lockquantumx1 dmabuf_forceratex1"
		CONSUMER_SETS="$CONSUMER_SETS dmabuf_forcequantumx1 dmabuf_alwaysprocessx1" ;;
	*) CONSUMER_SETS="dmabufx1 shmx1" ;;
	esac
	case $KIND.$s in
	vkms.1080p) PROFILE=1 scenario "$KIND-1080p" 1 --mode 1920x1080 ;;
	vkms.4k) scenario "$KIND-4k" 1 --mode 3840x2160 ;;
	vkms.hosted) HOSTED=1 scenario "$KIND-1080p-hosted" 1 --mode 1920x1080 ;;
	vkms.graph) scenario "$KIND-1080p-graph" 1 --mode 1920x1080 ;;
	virtio-gpu.1080p) PROFILE=1 scenario "$KIND-1080p" 1 --mode 1920x1080 ;;
	virtio-gpu.2crtc)
		CONSUMER_SETS="dmabufx1"
		scenario "$KIND-2crtc" 2 --mode 1920x1080 --connector Virtual-1,Virtual-2 ;;
	*) vm_fail "unknown scenario $s for $KIND" ;;
	esac
done
echo "guest-bench: done"
