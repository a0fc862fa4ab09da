# Shared setup for the benchmark and the soak. Source inside the VM after
# fixtures.sh and node-lib.sh (which gives node_setup, node_start_daemon, node_wait, $B).
#
#   bench_producer_start LOG ARGS...  starts kms-producer at 60 Hz logging to LOG, waits
#                                     for "ready"; sets $PRODUCER
#   bench_producer_stop               SIGTERM, wait
#   bench_connector LOG [INDEX]       the connector name the producer drove at CRTC INDEX
#   bench_helper_pids PID             the kmscast-helper children of PID, one per line
#   bench_pw_pid                      the PipeWire server's pid
#   bench_proc_stat PID               "fds=<n> rss_kb=<VmRSS> hwm_kb=<VmHWM> ticks=<u+s>"

bench_producer_start() {
	_bps_log=$1
	shift
	"$B/tests/tools/kms-producer" --rate 60 --log "$_bps_log" "$@" &
	PRODUCER=$!
	for _ in $(seq 200); do
		grep -q '^ready' "$_bps_log" 2>/dev/null && return 0
		kill -0 "$PRODUCER" 2>/dev/null || break
		sleep 0.1
	done
	vm_fail "producer did not start ($*)"
}

bench_producer_stop() {
	kill -TERM "$PRODUCER" 2>/dev/null
	wait "$PRODUCER" 2>/dev/null
	PRODUCER=
}

bench_connector() {
	awk -v idx="${2:-0}" '/^mode / {
		c = ""; i = -1
		for (k = 1; k <= NF; k++) {
			if ($k ~ /^connector=/) { c = $k; sub("connector=", "", c) }
			if ($k ~ /^index=/) { i = $k; sub("index=", "", i) }
		}
		if (i == idx) { print c; exit }
	}' "$1"
}

bench_helper_pids() {
	for s in /proc/[0-9]*/stat; do
		# comm is field 2, ppid field 4 (comm has no spaces here)
		read -r pid comm _ ppid _ <"$s" 2>/dev/null || continue
		[ "$ppid" = "$1" ] && [ "$comm" = "(kmscast-helper)" ] && echo "$pid"
	done
}

bench_pw_pid() {
	pgrep -u "$KMSCAST_TEST_UID" -x pipewire | head -n 1
}

bench_proc_stat() {
	_fds=$(ls /proc/"$1"/fd 2>/dev/null | wc -l)
	_rss=$(awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null)
	_hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$1"/status 2>/dev/null)
	echo "fds=$_fds rss_kb=${_rss:-0} hwm_kb=${_hwm:-0} ticks=$(cpu_ticks "$1" 2>/dev/null || echo 0)"
}
