#!/bin/bash
# The bench's timing verdicts: vm_check and vm_finish (tests/vm/fixtures.sh) exit 3 only
# when every failed check was a timing one, and tests/vm/timing-retry runs a command that
# exits 3 once more, and only that.
#   test-timing-retry.sh SRC_DIR
set -u
src=$1
retry=$src/tests/vm/timing-retry
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Its own list of second runs: tools/test exports the run's, which this fake test must not fill.
export KMSCAST_RETRY_LOG=$tmp/retries
fails=0
expect() { # expect WANT GOT WHAT
	if [ "$1" = "$2" ]; then
		echo "ok   $3"
	else
		echo "FAIL $3: exit $2, want $1"
		fails=$((fails + 1))
	fi
}

# finish CHECK...: a test script that files each "RC:NAME" CHECK and calls vm_finish.
finish() {
	bash -c '. "$0/tests/vm/fixtures.sh"; shift; for c in "$@"; do vm_check "${c%%:*}" "${c#*:}"; done
		vm_finish t-fake' "$src" x "$@" >"$tmp/out" 2>&1
}
finish 0:a 0:b
expect 0 $? "all checks held: exit 0"
grep -qx "PASS t-fake" "$tmp/out" || { echo "FAIL no PASS line"; fails=$((fails + 1)); }
finish 0:a 3:slow
expect 3 $? "a timing check failed: exit 3"
grep -q "FAIL (timing): slow" "$tmp/out" || { echo "FAIL no timing line: $(cat "$tmp/out")"; fails=$((fails + 1)); }
finish 3:slow 1:wrong
expect 1 $? "a content check failed beside a timing one: exit 1"
grep -q "FAIL:  wrong (timing: slow)" "$tmp/out" || { echo "FAIL: $(cat "$tmp/out")"; fails=$((fails + 1)); }

# A fake test: exits with the statuses listed in $tmp/plan, one per run, and counts runs.
cat >"$tmp/fake" <<'FAKE'
#!/bin/sh
n=$(($(cat "$1/runs" 2>/dev/null || echo 0) + 1))
echo "$n" >"$1/runs"
exit "$(sed -n "${n}p" "$1/plan")"
FAKE
chmod +x "$tmp/fake"
# run PLAN...: timing-retry over the fake test; sets RC and RUNS.
run() {
	printf '%s\n' "$@" >"$tmp/plan"
	rm -f "$tmp/runs"
	"$retry" "$tmp/fake" "$tmp" >/dev/null 2>&1
	RC=$?
	RUNS=$(cat "$tmp/runs")
}
run 0
expect 0:1 "$RC:$RUNS" "a pass runs once"
run 1 0
expect 1:1 "$RC:$RUNS" "a content failure runs once and fails"
run 3 0
expect 0:2 "$RC:$RUNS" "a timing failure runs again and the pass counts"
run 3 3
expect 1:2 "$RC:$RUNS" "timing failures in both runs fail"
run 3 1
expect 1:2 "$RC:$RUNS" "a content failure in the second run fails"
run 77
expect 77:1 "$RC:$RUNS" "a skip passes through"
# One line per second run: 3 0, 3 3 and 3 1 above.
expect "second run exit 0,failed in both runs,second run exit 1" \
	"$(cut -d: -f1 "$KMSCAST_RETRY_LOG" | paste -sd,)" "each second run listed in KMSCAST_RETRY_LOG"
[ "$fails" = 0 ] || exit 1
