# Shared shell for the kmscast-helper vm tests (sourced by t-helper-*.sh, inside the bench).
# shellcheck shell=sh

B=$KMSCAST_BUILD_DIR
TOOL=$B/tests/unit/test-helper-vmtool
HELPER_DIR=/tmp/kmscast-helper-bin
HELPER=$HELPER_DIR/kmscast-helper

# Installs the built helper the way `meson install` does on a real system: root:kmscast 0750,
# with cap_sys_admin+ep. The host root is read-only in the bench, so this is a tmpfs copy.
install_helper() {
	install -d -m 0755 "$HELPER_DIR"
	# The bench mounts /tmp, /run and /var/tmp nosuid, and exec ignores file capabilities
	# on nosuid mounts: give the helper a tmpfs of its own.
	mountpoint -q "$HELPER_DIR" || mount -t tmpfs -o mode=0755,nodev tmpfs "$HELPER_DIR"
	install -m 0750 -o root -g kmscast "$B/helper/kmscast-helper" "$HELPER"
	if [ "${1:-caps}" = caps ]; then
		setcap cap_sys_admin+ep "$HELPER"
	fi
	ls -l "$HELPER"
	getcap "$HELPER"
}

# start_producer LOG ARGS...: kms-producer on card0 in the background; waits for "ready".
start_producer() {
	_log=$1
	shift
	"$B/tests/tools/kms-producer" --card /dev/dri/card0 "$@" >"$_log" 2>&1 &
	PRODUCER_PID=$!
	_n=150
	until grep -q '^ready' "$_log"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || vm_fail "producer not ready: $(cat "$_log")"
		sleep 0.1
	done
	CRTC=$(sed -n 's/^mode crtc=\([0-9]*\).*/\1/p' "$_log" | head -n 1)
	[ -n "$CRTC" ] || vm_fail "no mode line in $_log"
}

stop_producer() {
	kill "$PRODUCER_PID" 2>/dev/null || true
	wait "$PRODUCER_PID" 2>/dev/null || true
}

# field NAME LINE: the value of NAME=value in LINE.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# status_check PID CAPBND: the helper's /proc status shows the hardening.
status_check() {
	_st=/proc/$1/status
	grep -E '^(NoNewPrivs|Seccomp|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' "$_st"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$_st" || vm_fail "NoNewPrivs is not 1"
	grep -q '^Seccomp:[[:space:]]*2$' "$_st" || vm_fail "Seccomp is not 2 (filter)"
	# Sampled between requests: CAP_SYS_ADMIN is effective only inside an export's GETFB2.
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "$_st" || vm_fail "CapEff is not empty"
	grep -q '^CapPrm:[[:space:]]*0000000000200000$' "$_st" || vm_fail "CapPrm is not cap_sys_admin"
	grep -q '^CapAmb:[[:space:]]*0000000000000000$' "$_st" || vm_fail "CapAmb is not empty"
	if [ -n "${2:-}" ]; then
		grep -q "^CapBnd:[[:space:]]*$2\$" "$_st" || vm_fail "CapBnd is not $2"
	fi
}

# tool_held NAME ARGS...: runs `TOOL ARGS...` as the test user in the background, its output
# in $HELD_OUT, its stdin a fifo held open on fd 7: each `echo go >&7` releases one of the
# tool's holds (its wait for a line), held_end the last. Sets HELD_PID.
tool_held() {
	HELD_OUT=/tmp/$1.$$.out
	HELD_CTL=/tmp/$1.$$.ctl
	shift
	rm -f "$HELD_CTL"
	mkfifo -m 0666 "$HELD_CTL"
	as_user "$TOOL" "$@" <"$HELD_CTL" >"$HELD_OUT" 2>&1 &
	HELD_PID=$!
	exec 7>"$HELD_CTL"
}

# wait_output ERE TENTHS: waits until $HELD_OUT has a line matching ERE, failing after TENTHS
# tenths of a second.
wait_output() {
	_n=$2
	until grep -qE "$1" "$HELD_OUT"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || vm_fail "no line like '$1' from the tool: $(cat "$HELD_OUT")"
		sleep 0.1
	done
}

# held_end: closes the tool's stdin and waits for it; fails if the tool failed.
held_end() {
	exec 7>&-
	wait "$HELD_PID" || vm_fail "the tool failed: $(cat "$HELD_OUT")"
	rm -f "$HELD_CTL"
}

# closed_handles: the numbers HANDLES_MIN..HANDLES_MAX of run_stress that are not in
# KEPT_HANDLES, one per line: the helper must have closed them.
closed_handles() {
	for _h in $(seq "$HANDLES_MIN" "$HANDLES_MAX"); do
		case ",$KEPT_HANDLES," in
		*",$_h,"*) ;;
		*) echo "$_h" ;;
		esac
	done
}

# handles_flat WHAT: fails unless the handle numbers of run_stress stayed within what the kept
# handles and one export's own explain: every GETFB2 takes the lowest free numbers.
handles_flat() {
	[ "$HANDLES_MAX" -le $((HANDLES_MIN + KEPT + 1)) ] ||
		vm_fail "$1: GEM handle numbers climb: $HANDLES_MIN..$HANDLES_MAX with $KEPT kept"
}

# Runs `TOOL stress ARGS...` as the test user with two holds; at each hold the helper's fds
# are counted as root. Sets STRESS_OUT to the tool's output file.
#   run_stress AT_HOLD1_CMD ARGS...   (AT_HOLD1_CMD runs after release 1, e.g. a kill)
run_stress() {
	_after_release=$1
	shift
	tool_held stress stress "$@"
	STRESS_OUT=$HELD_OUT
	wait_output '^hold1' 300
	_l=$(grep '^hold1' "$STRESS_OUT")
	HELPER_PID=$(field pid "$_l")
	HELPER_FDS1=$(ls /proc/"$HELPER_PID"/fd | wc -l)
	status_check "$HELPER_PID" "${STATUS_CAPBND:-}"
	echo go >&7
	eval "$_after_release"
	wait_output '^(hold2|export)' 3000
	_l=$(grep '^hold2' "$STRESS_OUT") || vm_fail "stress failed: $(cat "$STRESS_OUT")"
	HELPER_PID2=$(field pid "$_l")
	HELPER_FDS2=$(ls /proc/"$HELPER_PID2"/fd | wc -l)
	HANDLES_MIN=$(field handles_min "$_l")
	HANDLES_MAX=$(field handles_max "$_l")
	# The handles the helper keeps open for CHECK (primary FBs, one entry per FB id).
	KEPT=$(field kept "$_l")
	KEPT_HANDLES=$(field kept_handles "$_l")
	AFTER_HOLD2=${AFTER_HOLD2:-:}
	eval "$AFTER_HOLD2"
	echo go >&7
	held_end
	cat "$STRESS_OUT"
}
