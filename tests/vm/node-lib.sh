# Shared setup for the t-node-*.sh tests. Source after fixtures.sh, inside the VM.
#
#   node_setup                  plugin dir, helper with cap_sys_admin, $NODE_TMP
#   node_start_daemon [ARGS]    starts kmscast as the test user, logs to $NODE_TMP/daemon.log
#   node_stop_daemon            SIGTERM, waits, fails if it did not exit cleanly
#   node_wait NAME [SEC]        waits for node NAME and prints its id
#   dmabuf_inodes PID           prints the inodes of PID's dma-buf fds, one per line, sorted
#   cpu_ticks PID               utime+stime of PID in clock ticks
#   node_stats                  the node's final counters from the daemon log

: "${KMSCAST_BUILD_DIR:?the vm tests need KMSCAST_BUILD_DIR}"
B=$KMSCAST_BUILD_DIR
NODE_TMP=$(mktemp -d /tmp/kmscast-node.XXXXXX)
chmod 0755 "$NODE_TMP"
# Consumers run as the test user and write their captures here.
OUT=$NODE_TMP/out
mkdir -p "$OUT"
chown "$KMSCAST_TEST_UID:$KMSCAST_TEST_UID" "$OUT"
SYS_SPA=$(pkg-config --variable=plugindir libspa-0.2 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/spa-0.2)

# NODE_KEEP=DIR (a --share of the bench): copy every log and capture there on exit.
node_keep() {
	[ -n "${NODE_KEEP:-}" ] && cp -r "$NODE_TMP"/*.log "$OUT" "$NODE_KEEP/" 2>/dev/null
	return 0
}
trap node_keep EXIT

node_setup() {
	# Nothing is installed: PipeWire's plugins plus ours, side by side, for SPA_PLUGIN_DIR.
	mkdir -p "$NODE_TMP/spa"
	for p in "$SYS_SPA"/*; do
		# A kmscast/ installed on the host would shadow the build under test.
		[ "${p##*/}" = kmscast ] && continue
		ln -s "$p" "$NODE_TMP/spa/"
	done
	ln -s "$B/spa-plugin" "$NODE_TMP/spa/kmscast"
	# The host root is read-only: install a copy of the helper, as meson install would
	# (root:kmscast 0750, cap_sys_admin+ep). The bench's /tmp is nosuid, and exec ignores
	# file capabilities there: the helper gets a tmpfs of its own.
	chmod -R a+rX "$NODE_TMP"
	mkdir -p "$NODE_TMP/helper"
	mount -t tmpfs -o mode=0755,nodev tmpfs "$NODE_TMP/helper" || vm_fail "tmpfs for the helper"
	install -m 0750 -o root -g kmscast "$B/helper/kmscast-helper" "$NODE_TMP/helper/"
	setcap cap_sys_admin+ep "$NODE_TMP/helper/kmscast-helper" || vm_fail "setcap"
	export SPA_PLUGIN_DIR="$NODE_TMP/spa"
	export KMSCAST_HELPER="$NODE_TMP/helper/kmscast-helper"
}

# gst's first run checks every plugin against the registry the bench copied in (about 1 s
# under TCG; a scan of them all without it took 10 s): start it early.
gst_warm_registry() {
	as_user gst-inspect-1.0 pipewiresrc >/dev/null 2>&1 &
	GST_WARM=$!
}

gst_wait_registry() {
	[ -n "${GST_WARM:-}" ] && wait "$GST_WARM"
	GST_WARM=
}

node_start_daemon() {
	# NODE_DAEMON_ENV: more NAME=VALUE words for the daemon's environment (no spaces in them).
	# shellcheck disable=SC2086
	as_user env SPA_PLUGIN_DIR="$SPA_PLUGIN_DIR" KMSCAST_HELPER="$KMSCAST_HELPER" \
		PIPEWIRE_DEBUG="${NODE_DEBUG:-3}" ${NODE_DAEMON_ENV:-} "$B/src/kmscast" "$@" \
		>"$NODE_TMP/daemon.log" 2>&1 &
	DAEMON_JOB=$!
	# as_user is a shell function: $! is a subshell; the daemon is its child.
	DAEMON_PID=
	for _ in $(seq 50); do
		DAEMON_PID=$(pgrep -P "$DAEMON_JOB" -x kmscast) && break
		sleep 0.1
	done
	[ -n "$DAEMON_PID" ] || vm_fail "kmscast did not start"
}

node_stop_daemon() {
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID"
		vm_fail "kmscast did not exit on SIGTERM"
	fi
	wait "$DAEMON_JOB"
	DAEMON_RC=$?
	[ "$DAEMON_RC" = 0 ] || { cat "$NODE_TMP/daemon.log" >&2; vm_fail "kmscast exited $DAEMON_RC"; }
}

node_wait() {
	wait_for_pw_node "$1" "${2:-20}" || { cat "$NODE_TMP/daemon.log" >&2; vm_fail "no node $1"; }
	pw_node_id "$1"
}

# node_wait_fbs N [SEC] [LOG]: waits until the node's scanout set holds N FBs (the producer's
# --buffers). The helper exports only the FB on screen when asked, so the node learns a
# swapchain by sampling flips; a frame on an FB it does not know yet is lost, so a test of
# "every flip" starts once the set is whole.
node_wait_fbs() {
	_want=$1
	_n=$((${2:-20} * 10))
	while [ "$_n" -gt 0 ]; do
		_have=$(grep -o '(\([0-9]*\) FBs' "${3:-$NODE_TMP/daemon.log}" | tr -dc '0-9\n' | sort -n | tail -n 1)
		[ "${_have:-0}" -ge "$_want" ] && return 0
		_n=$((_n - 1))
		sleep 0.1
	done
	vm_fail "the node learned ${_have:-0} of the producer's $_want FBs in ${2:-20} s"
}

# dmabuf_inodes PID: the inodes of the dma-bufs PID holds, one a line, each once. Read with
# shell builtins from fdinfo (a dma-buf's names its exp_name, every fd's its ino, Linux 5.14):
# the sampler below looks many times a capture, and each program a look started (pgrep, ls,
# awk, stat) cost tens of ms under TCG and waited its turn behind the capture's own work:
# weston-vkms's sampler made 3 rounds in a whole capture and saw no dma-buf, twice in a row
# on a slow host (2026-12-06).
dmabuf_inodes() {
	local f k v ino dmabuf seen=" "
	for f in /proc/"$1"/fdinfo/*; do
		ino= dmabuf=
		{ while IFS=$': \t' read -r k v; do
			case $k in ino) ino=$v ;; exp_name) dmabuf=1 ;; esac
		done <"$f"; } 2>/dev/null
		[ -n "$dmabuf" ] && [ -n "$ino" ] || continue
		case $seen in *" $ino "*) continue ;; esac
		seen="$seen$ino "
		echo "$ino"
	done
}

# inodes_add VAR LIST: adds to the newline-separated list in VAR each of LIST's inodes that it
# lacks (builtins only, as above).
inodes_add() {
	local out=${!1} i
	for i in $2; do
		case $'\n'"$out"$'\n' in *$'\n'"$i"$'\n'*) ;; *) out=${out:+$out$'\n'}$i ;; esac
	done
	printf -v "$1" '%s' "$out"
}

# gst_pids: every gst-launch-1.0's pid, from /proc with builtins (no pgrep, as above).
gst_pids() {
	local p c
	for p in /proc/[0-9]*; do
		{ read -r c <"$p/comm"; } 2>/dev/null && [ "$c" = gst-launch-1.0 ] && echo "${p#/proc/}"
	done
}

# sample_gst_inodes JOB [ON_STREAM [EACH_ROUND]]: while the as_user job JOB runs, collect
# the inodes of the dma-bufs its gst-launch-1.0 holds into GST_INODES; boosts gst once it
# streams, and then calls the function ON_STREAM when given (empty: none); calls EACH_ROUND
# after every look. Returns when JOB ends.
sample_gst_inodes() {
	local rounds=0 seen=0 pids=
	GST_INODES=
	while kill -0 "$1" 2>/dev/null; do
		rounds=$((rounds + 1))
		# Every gst-launch-1.0: the tests run one at a time. Looked up each round: a walk
		# down the job's process tree that kept the first pid it found saw no dma-buf in 3
		# of some 200 captures (2026-12-03), an appsink of 5 s among them.
		for _gst in $(gst_pids); do
			seen=$((seen + 1))
			case " $pids " in *" $_gst "*) ;; *) pids="$pids $_gst" ;; esac
			_now=$(dmabuf_inodes "$_gst")
			if [ -n "$_now" ] && [ -z "$GST_INODES" ]; then
				rt_boost "$_gst" 15
				[ -z "${2:-}" ] || "$2"
			fi
			inodes_add GST_INODES "$_now"
		done
		[ -z "${3:-}" ] || "$3"
		sleep 0.02
	done
	[ -n "$GST_INODES" ] ||
		echo "sampler: no dma-buf in gst-launch-1.0 [${pids# }] over $rounds rounds ($seen looks)"
}

# check_zero_copy PREFIX DAEMON_INODES [SPARES]: every dma-buf gst held (GST_INODES) is one
# the daemon holds, else gst got a copy (FAILS); none sampled is the sampler's loss, its
# looks starved of CPU under TCG (TIMING). PREFIX names the checks.
# SPARES: how many spare slots the node reported for the link (PipeWire 1.0 to 1.5), whose
# dma-bufs are the node's own: that many of gst's may be missing from DAEMON_INODES, since a
# first allocation's spares can be closed before the sampler looks at the daemon while gst
# still holds them (trixie-weston-vkms, 2026-12-06). The caller checks that no frame went
# through one (the stream stats' copied).
check_zero_copy() {
	local i unseen=0
	echo "${1}zero copy: gst dma-buf inodes: $(echo $GST_INODES); the daemon's: $(echo $2)"
	[ -n "$GST_INODES" ] || TIMING="$TIMING ${1}zero-copy(no-dmabuf)"
	for i in $GST_INODES; do
		echo "$2" | grep -qx "$i" && continue
		unseen=$((unseen + 1))
		[ "$unseen" -le "${3:-0}" ] || FAILS="$FAILS ${1}zero-copy(inode-$i)"
	done
	[ "$unseen" = 0 ] ||
		echo "${1}zero copy: $unseen of gst's dma-bufs not seen in the daemon (spares allowed: ${3:-0})"
}

# pw_before_0_3_85 VERSION: whether PipeWire VERSION (x.y.z) is older than 0.3.85, the
# release that stopped links stranding (the node's relink guard) and whose pipewiresrc
# ends its wait for a format on a stream error.
pw_before_0_3_85() {
	case $1 in 0.[0-2].* | 0.3.[0-9] | 0.3.[0-7][0-9] | 0.3.8[0-4]) return 0 ;; esac
	return 1
}

# pw_local_version: the version of the PipeWire installed here (the guest's root), x.y.z.
pw_local_version() {
	pipewire --version 2>/dev/null | sed -n 's/^Linked with libpipewire \([0-9][0-9.]*\)$/\1/p'
}

cpu_ticks() {
	# Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
	sed 's/.*) //' /proc/"$1"/stat | awk '{ print $12 + $13 }'
}

# A desktop session gives PipeWire's data threads realtime priority through RTKit; the bench
# has no RTKit, so the test does it: SCHED_FIFO for every thread of PID.
rt_boost() {
	for t in /proc/"$1"/task/*; do
		chrt -f -p "${2:-20}" "${t##*/}" >/dev/null 2>&1
	done
}

# rt_boost_graph: rt_boost for the daemon (node_start_daemon) and the PipeWire daemon.
rt_boost_graph() {
	rt_boost "$DAEMON_PID"
	rt_boost "$(pgrep -x pipewire | head -n 1)"
}

# pw_restart PW_LOG WP_LOG [PIPEWIRE_DEBUG]: stops the test user's PipeWire and WirePlumber
# (SIGTERM) and starts them again, PipeWire with that debug setting when given; returns once
# PipeWire's socket is back and WirePlumber is started. Logs are appended to.
pw_restart() {
	for _p in $(pgrep -u "$KMSCAST_TEST_UID" -x wireplumber) $(pgrep -u "$KMSCAST_TEST_UID" -x pipewire); do
		kill -TERM "$_p"
	done
	sleep 1
	if [ -n "${3:-}" ]; then
		PIPEWIRE_DEBUG=$3 as_user pipewire >>"$1" 2>&1 &
	else
		as_user pipewire >>"$1" 2>&1 &
	fi
	wait_for_file /run/user/1000/pipewire-0 20 || vm_fail "pipewire did not come back"
	sleep 1
	WIREPLUMBER_CONFIG_DIR=/run/kmscast-wireplumber as_user wireplumber >>"$2" 2>&1 &
}

# node_producer ARGS...: the test producer on card0 (priority: see t-node-gst.sh), waits for
# "ready"; sets PRODUCER_PID and CONNECTOR.
node_producer() {
	nice -n "${PRODUCER_NICE:-0}" "$B/tests/tools/kms-producer" --log "$NODE_TMP/producer.log" "$@" &
	PRODUCER_PID=$!
	for _ in $(seq 150); do
		grep -q '^ready' "$NODE_TMP/producer.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^ready' "$NODE_TMP/producer.log" || vm_fail "producer did not start"
	CONNECTOR=$(sed -n 's/^mode .*connector=\([^ ]*\).*/\1/p' "$NODE_TMP/producer.log" | head -n 1)
}

node_stop_producer() {
	kill "$PRODUCER_PID" 2>/dev/null
	wait "$PRODUCER_PID" 2>/dev/null
}

# pw_hosted_start NAME: PipeWire hosts node NAME itself (spa-plugin/kmscast.conf's factory
# mapping and a context.objects entry for card0's $CONNECTOR in the test user's
# pipewire.conf.d), with WirePlumber; no kmscast daemon. Sets PW_JOB, WP_JOB, PW_PID and ID
# (the node's id); fails the test when the node does not appear.
pw_hosted_start() {
	local conf=/run/kmscast-test/.config/pipewire/pipewire.conf.d wpconf=$NODE_TMP/wireplumber
	mkdir -p "$conf"
	cp "$KMSCAST_SRC_DIR/spa-plugin/kmscast.conf" "$conf/50-kmscast.conf"
	cat >"$conf/60-kmscast-outputs.conf" <<CONF
context.objects = [
    { factory = spa-node-factory
        args = {
            factory.name      = api.kmscast.source
            library.name      = kmscast/libspa-kmscast
            node.name         = $1
            kmscast.card      = card0
            kmscast.connector = $CONNECTOR
        }
    }
]
CONF
	chown -R "$KMSCAST_TEST_UID:$KMSCAST_TEST_UID" /run/kmscast-test/.config
	as_user env SPA_PLUGIN_DIR="$SPA_PLUGIN_DIR" KMSCAST_HELPER="$KMSCAST_HELPER" PIPEWIRE_DEBUG=3 \
		pipewire >"$NODE_TMP/pipewire.log" 2>&1 &
	PW_JOB=$!
	wait_for_file /run/user/1000/pipewire-0 20 || { cat "$NODE_TMP/pipewire.log"; vm_fail "no pipewire"; }
	cp -r /usr/share/wireplumber "$wpconf"
	: >"$wpconf/bluetooth.lua.d/90-enable-all.lua"
	chmod -R a+rX "$wpconf"
	WIREPLUMBER_CONFIG_DIR=$wpconf as_user wireplumber >"$NODE_TMP/wireplumber.log" 2>&1 &
	WP_JOB=$!
	PW_PID=$(pgrep -P "$PW_JOB" -x pipewire)
	rt_boost "$PW_PID"
	ID=$(wait_for_pw_node "$1" 30 && pw_node_id "$1") ||
		{ tail -n 30 "$NODE_TMP/pipewire.log"; vm_fail "no node $1 in PipeWire"; }
}

# shm_consumer NAME ARGS...: pw-shm-consumer as the test user, output in $OUT/NAME.log.
# The consumer gets realtime priority like the daemon: on this bench a consumer that is
# scheduled late loses frames in the link, which no producer can prevent.
shm_consumer() {
	_name=$1
	shift
	boosted_consumer "$OUT/$_name.log" "$OUT/$_name.err" "$B/tests/tools/pw-shm-consumer" "$@"
}

# boosted_consumer LOG ERR PROGRAM ARGS...: PROGRAM as the test user, stdout in LOG and
# stderr in ERR, with realtime priority as above; returns its exit status. PROGRAM's pid is
# in LOG.pid, for a test that kills it (as_user puts a shell between it and $!).
boosted_consumer() {
	_log=$1
	_err=$2
	shift 2
	as_user "$@" >"$_log" 2>"$_err" &
	_job=$!
	for _ in $(seq 50); do
		_pid=$(pgrep -P "$_job" -x "${1##*/}") && { echo "$_pid" >"$_log.pid"; rt_boost "$_pid" 15; break; }
		sleep 0.05
	done
	wait "$_job"
}

# frames_of LOG: the decoded frame numbers of a pw-shm-consumer log, one per line (-1
# undecodable, -2 torn).
frames_of() {
	sed -n 's/^buf .* frame=\([0-9-]*\) .*/\1/p' "$1"
}

# check_frames LOG MAX_GAPS: every buffer decoded, strictly increasing (no duplicate, none
# backwards), at most MAX_GAPS missing frames in all. Prints a summary line. Returns 1 when
# nothing arrived, a buffer did not decode, or a copy stepped back; 3 (timing, vm_check in
# fixtures.sh) when what failed is only what a consumer sees that falls behind: a torn frame
# (read while the producer painted it again), a mapped dma-buf that stepped back (read after
# the producer painted a later frame into it) or did not decode and was read after the next
# buffer's pts (the vblank that put another FB on screen: from then on the producer may paint
# this one, as sway does with its two), or more than MAX_GAPS missing frames. A dma-buf that
# did not decode although read before that vblank, a copy that did not, and the last buffer
# (nothing to compare it with) fail.
check_frames() {
	sed -n 's/^buf .* pts=\([0-9-]*\) .* data=\([a-z]*\) frame=\([0-9-]*\) .*read_ns=\([0-9]*\).*/\2 \3 \1 \4/p;
		t; s/^buf .* data=\([a-z]*\) frame=\([0-9-]*\) .*/\1 \2 0 0/p' "$1" |
		awk -v max="$2" -v name="$1" '
		pending != "" { if ($3 + 0 > 0 && pending > $3 + 0) late_bad++; else bad++; pending = "" }
		{ n++ }
		$2 == -2 { torn++; next }
		$2 < 0 && $1 == "dmabuf" && $4 + 0 > 0 { pending = $4 + 0; next }
		$2 < 0 { bad++; next }
		prev != "" && $2 <= prev { if ($1 == "dmabuf") late++; else back++ }
		prev != "" && $2 > prev + 1 { gaps += $2 - prev - 1 }
		{ prev = $2; if (first == "") first = $2 }
		END {
			if (pending != "")
				bad++
			printf "%s: buffers=%d first=%s last=%s undecodable=%d undecodable_late=%d torn=%d backwards_or_dup=%d missing=%d\n",
				name, n, first, prev, bad, late_bad, torn, back + late, gaps
			if (!(n > 0 && bad == 0 && back == 0))
				exit 1
			exit (torn == 0 && late == 0 && late_bad == 0 && gaps <= max) ? 0 : 3
		}'
}

# verdict_check VERDICT MAX_GAPS [MIN_DECODED]: judges a pattern-check summary line (of a
# capture that asked for VERDICT's frames= buffers). 1: nothing arrived, or a frame that is
# not this CRTC's screen (bad, wrong_crtc). 3 (timing, vm_check in fixtures.sh): a frame
# torn, repeated or out of order, more than MAX_GAPS missing, or fewer than MIN_DECODED
# (default all) decoded -- what a consumer sees that falls behind the producer's reuse of
# its buffers under TCG; a node that reorders or loses frames does so in both runs.
verdict_check() {
	echo "$1" | awk -v max="$2" -v min="${3:--1}" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END {
			if (!(v["frames"] > 0 && v["bad"] == 0 && v["wrong_crtc"] == 0))
				exit 1
			if (min < 0)
				ok = v["decoded"] == v["frames"] && v["duplicates"] == 0 && v["backwards"] == 0
			else
				ok = v["decoded"] >= min
			exit (ok && v["gaps"] <= max) ? 0 : 3
		}'
}

# frame_faults LOG: the buffer lines around each undecodable buffer or step back of a
# pw-shm-consumer / pw-min-consumer log, at most five faults, so that a failure shows seq
# and pts (the order the node handed buffers over) next to the decoded frames.
frame_faults() {
	awk '$1 != "buf" { next }
		{ f = ""; for (i = 2; i <= NF; i++) if ($i ~ /^frame=/) f = substr($i, 7) + 0
		  line[NR] = $0 }
		f < 0 || (prev != "" && f <= prev) {
			if (++faults <= 5) { print "  around buffer " NR ":"; for (j = NR - 2; j <= NR; j++)
				if (j in line) print "    " line[j]; want = NR + 1 }
		}
		NR == want { print "    " $0 }
		{ prev = f }' "$1"
}

# stream_missed [SKIP]: periods the node itself reports sleeping through in the stream that
# delivered the most frames (the capture's), plus frames it dropped; SKIP: ignore the first
# SKIP streams (an earlier capture's; see stream_wait_end). A flip lost
# that way is the bench's scheduling (two TCG vCPUs shared with other VMs), not a frame the
# node failed to deliver; tests allow exactly these as gaps, and fail on any other loss,
# duplicate or reordering. The first stream is not always the capture's: gst 1.26 and 1.28
# (trixie, forky) start the link, idle it after a frame or none, and start it again.
stream_missed() {
	# The poll timer runs at FLIP_TIMER_OVERSAMPLE (4) times the refresh rate: four missed
	# periods make one refresh period in which a flip could have been lost.
	sed -n 's/.*stream stats: .* delivered \([0-9]*\) .* dropped-busy \([0-9]*\) dropped-unknown \([0-9]*\) .* missed-\([a-z]*\) \([0-9]*\) .*/\1 \2 \3 \4 \5/p' \
		"$NODE_TMP/daemon.log" | tail -n +$((${1:-0} + 1)) | sort -n -k1,1 | tail -n 1 |
		awk '{ m = $5; if ($4 == "timer") m = int((m + 3) / 4); print $2 + $3 + m }'
}

# streams_ended: how many streams the node has logged stats for so far.
streams_ended() {
	grep -c "stream stats: " "$NODE_TMP/daemon.log"
}

# stream_wait_end N: waits up to 5 s for the node to log a stream after the first N. A
# consumer exits before the node hears of it, and its stats line comes after that.
stream_wait_end() {
	local i
	for i in $(seq 50); do
		[ "$(streams_ended)" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

node_stats() {
	grep -E "gone; [0-9]+ ticks" "$NODE_TMP/daemon.log" | tail -n "${1:-1}"
}

# blind_spot PATTERN_CHECK_OUTPUT PRODUCER_LOG: of the frames missing between decoded ones,
# prints how many were the committed FB (FB_ID) for less than a third of a period: the time
# from their page-flip commit to the next one (the producer's submit_ns). The node reads
# FB_ID at each vblank and every quarter period after it, and wakes up to a millisecond or
# two late under TCG, so such a frame can fall between two reads, when the producer commits
# it late and its successor at once after the vblank; a reader of FB_ID that polls cannot
# promise to see it. Prints "N frames: k1 k2 ...".
blind_spot() {
	awk '
		FNR == NR {
			if ($1 == "flip") {
				for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
				s[f["frame"]] = f["submit_ns"]
			} else if ($1 == "mode" && !period) {
				for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "period_ns") period = kv[2] }
			}
			next
		}
		$1 == "frame" && $3 ~ /^frame=/ {
			k = substr($3, 7) + 0
			if (prev != "" && k > prev + 1)
				for (m = prev + 1; m < k; m++)
					if ((m in s) && ((m + 1) in s) && s[m + 1] - s[m] < period / 3) {
						n++; list = list " " m
					}
			prev = k
		}
		END { printf "%d frames:%s\n", n, list }' "$2" "$1"
}

# GST_TIMED: gst-launch-1.0 run by tests/vm/lib/gst-timed.sh (its output, time-stamped, into
# LOG), which sees the first buffer by the filesink's file or by GST_MARK right after
# pipewiresrc. gst_first_buffer_ms LOG prints the milliseconds from gst setting the pipeline
# to PLAYING to that first buffer (0 if it came first), or fails when either never happened.
# A consumer must get the screen within GST_FIRST_BUFFER_MS of PLAYING
# (gst_check_first_buffer).
GST_TIMED="$KMSCAST_SRC_DIR/tests/vm/lib/gst-timed.sh"
GST_MARK="identity name=mark silent=false"
GST_FIRST_BUFFER_MS=2000
gst_first_buffer_ms() {
	awk '/ Setting pipeline to PLAYING/ && p == "" { p = $1 }
		(/ kmscast-first-buffer$/ || /GstIdentity:mark: last-message = chain/) && c == "" { c = $1 }
		# Lines after both are not stamped (gst-timed.sh).
		p != "" && c != "" { exit }
		END { if (p == "" || c == "") exit 1
			d = (c - p) * 1000; printf "%d\n", d < 0 ? 0 : d }' "$1"
}

# gst_check_first_buffer LOG NAME: prints NAME's first-buffer time; adds to FAILS when it
# had none, to TIMING when later than GST_FIRST_BUFFER_MS.
gst_check_first_buffer() {
	local ms
	if ! ms=$(gst_first_buffer_ms "$1"); then
		echo "$2: no buffer after PLAYING (or never PLAYING)"
		FAILS="$FAILS $2-no-first-buffer"
		return
	fi
	echo "$2: first buffer $ms ms after PLAYING"
	[ "$ms" -le "$GST_FIRST_BUFFER_MS" ] || TIMING="$TIMING $2-first-buffer(${ms}ms)"
}

# gst_fell_behind GST_LOG: whether gst (run with GST_DEBUG=pipewiresrc:2) got a buffer back
# from PipeWire that it still held: it fell a whole swapchain behind, so the producer had
# already repainted what it was reading (torn or later frames, then lost ones).
gst_fell_behind() {
	grep -q "can't queue recycled buffer" "$1"
}

# in_place_check NAME PAINTS LOG: judges a pw-shm-consumer LOG of a screen painted in place
# (front-buffer rendering: nothing flips, the node's re-sends carry the changes). PAINTS has
# one line "FRAME T_NS" per frame painted. Every decoded frame must be a painted one and none
# may step back (the buffer only moves forward); 3 (timing) when fewer than half the frames
# painted between the first and the last buffer's pts were seen, or more than half the
# buffers were torn (read while the next frame was being painted, which front-buffer readers
# may always see; torn frames do not count as seen). Prints a summary; returns 0, 1 or 3.
in_place_check() {
	awk -v name="$1" '
		FNR == NR { painted_frame[$1 + 0] = 1; paint[++np] = $2 + 0; next }
		$1 != "buf" { next }
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		{ n++; if (first == "") first = v["pts"] + 0; last = v["pts"] + 0; f = v["frame"] + 0 }
		f == -2 { torn++; next }
		f < 0 { bad++; next }
		!(f in painted_frame) { foreign++ }
		prev != "" && f < prev { back++ }
		prev == "" || f != prev { distinct++ }
		{ prev = f }
		END {
			for (i = 1; i <= np; i++) if (paint[i] >= first && paint[i] <= last) painted++
			printf "%s: %d buffers, %d distinct frames for %d painted, %d torn, %d undecodable, %d not painted, %d backwards\n",
				name, n, distinct, painted, torn, bad, foreign, back
			if (n == 0 || bad > 0 || back > 0 || foreign > 0) exit 1
			if (distinct * 2 < painted || torn * 2 > n) exit 3
		}' "$2" "$3"
}
