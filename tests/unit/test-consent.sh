#!/bin/bash
# kmscast-consent, the real GTK 4 dialog, on weston's headless backend, driven through AT-SPI
# by tests/tools/consent-drive.py as a screen reader would: what it shows (rows, the app's
# prompt, "Remember"), what it prints for Share, Cancel and a closed window, and that it
# refuses (exit 3) without a display or with bad input.
#   test-consent.sh BUILD_DIR SOURCE_DIR
# Skips (77) when the dialog was not built (no gtk4) or weston is missing.
set -u
build=$1
src=$2
consent=$build/src/kmscast-consent
drive=$src/tests/tools/consent-drive.py
skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ -x "$consent" ] || skip "kmscast-consent is not built (gtk4 not found; -Dconsent=enabled)"
command -v weston >/dev/null || skip "weston is not installed"
command -v dbus-run-session >/dev/null || fail "dbus-run-session missing (tools/install-deps)"
/usr/bin/python3 -c 'import gi; gi.require_version("Atspi", "2.0")' 2>/dev/null ||
	fail "python3-gi or gir1.2-atspi-2.0 missing (tools/install-deps)"

if [ "${CONSENT_TEST_IN_SESSION:-}" != 1 ]; then
	tmp=$(mktemp -d /tmp/kmscast-consent-test.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	export CONSENT_TEST_TMP=$tmp CONSENT_TEST_IN_SESSION=1
	# A private session bus: the accessibility bus and the dialogs on it are ours alone.
	dbus-run-session -- "$0" "$@" 2> >(grep -v '^dbus-daemon\[' >&2)
	exit $?
fi
tmp=$CONSENT_TEST_TMP
# A sanitizer build: what GTK's libraries keep until exit is not the dialog's leak. The
# suppressions name functions inside system libraries, built without frame pointers: only
# the slow unwinder sees them.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$src/tests/unit/consent-lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

# shellcheck source-path=SCRIPTDIR source=../tools/consent-env.sh
. "$src/tests/tools/consent-env.sh"

# reap PID SECONDS: the exit status of PID, or 124 after killing it when it did not exit.
reap() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt $(($2 * 20)) ]; then
			kill "$1"
			wait "$1"
			return 124
		fi
		sleep 0.05
	done
	wait "$1"
}

expect_file() { # NAME FILE EXPECTED-CONTENT (with \n escapes)
	printf '%b' "$3" | diff -u - "$2" >&2 || fail "$1: $(basename "$2") differs (above)"
}

# dialog NAME INPUT-FILE [VAR=VALUE...] -- [consent-drive.py args...]: runs the dialog and
# the driver; leaves $tmp/NAME.{out,err,drive} and the dialog's status in $rc.
dialog() {
	name=$1 input=$2
	shift 2
	envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	env "${envs[@]}" "$consent" <"$input" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	timeout 25 "$drive" --timeout 20 "$@" >"$tmp/$name.drive" 2>"$tmp/$name.drive.err"
	drive_rc=$?
	reap "$pid" 10
	rc=$?
	echo "--- $name: dialog exited $rc; the driver ($drive_rc) saw:"
	cat "$tmp/$name.drive"
	[ "$drive_rc" -eq 0 ] || { cat "$tmp/$name.drive.err" "$tmp/$name.err" >&2; fail "$name: driver"; }
}

# The rows as the daemon writes them (portal-session.c chooser_input).
monitors=$tmp/monitors
printf 'card0:Virtual-1\tQEMU Monitor 1024x768\ncard1:HDMI-A-1\tDell U2415 1920x1200\n' >"$monitors"
rows=$(printf 'row\tcard0:Virtual-1\tQEMU Monitor 1024x768\t1\nrow\tcard1:HDMI-A-1\tDell U2415 1920x1200\t0\n')

# (d) No display at all: exit 3 at once, and say so.
start=$(date +%s)
env -u WAYLAND_DISPLAY -u DISPLAY "$consent" <"$monitors" >"$tmp/d.out" 2>"$tmp/d.err"
rc=$?
[ "$rc" -eq 3 ] || fail "no display: exit $rc, expected 3"
grep -q 'cannot open display' "$tmp/d.err" || fail "no display: stderr '$(cat "$tmp/d.err")'"
[ ! -s "$tmp/d.out" ] || fail "no display: printed an answer"
[ $(($(date +%s) - start)) -le 5 ] || fail "no display: took more than 5 s"
echo "ok - no display: exit 3: $(cat "$tmp/d.err")"

# (e) Input it must refuse before any window: exit 3 and the reason.
refuse() { # NAME EXPECTED-STDERR-PATTERN [VAR=VALUE...]: stdin from $tmp/bad
	name=$1 pattern=$2
	shift 2
	env -u WAYLAND_DISPLAY -u DISPLAY "$@" "$consent" <"$tmp/bad" >"$tmp/e.out" 2>"$tmp/e.err"
	rc=$?
	[ "$rc" -eq 3 ] || fail "$name: exit $rc, expected 3"
	grep -q "$pattern" "$tmp/e.err" || fail "$name: stderr '$(cat "$tmp/e.err")'"
	[ ! -s "$tmp/e.out" ] || fail "$name: printed an answer"
	echo "ok - $name: exit 3: $(cat "$tmp/e.err")"
}
printf 'card0:Virtual-1\tok 1x1\nnot a monitor\n' >"$tmp/bad"
refuse "malformed line" 'line 2: expected CARD:CONNECTOR'
printf 'card0:Virtual-1\tbell\a 1x1\n' >"$tmp/bad"
refuse "control character" 'line 1: the description'
head -c 70000 /dev/zero | tr '\0' 'x' >"$tmp/bad"
refuse "oversized stdin" 'more than 64 KiB'
for i in $(seq 17); do printf 'card0:Virtual-%d\tm %d\n' "$i" "$i"; done >"$tmp/bad"
refuse "17 monitors" 'more than 16 monitors'
: >"$tmp/bad"
refuse "empty list" 'no monitor offered'
cp "$monitors" "$tmp/bad"
refuse "bad KMSCAST_MULTIPLE" 'KMSCAST_MULTIPLE' KMSCAST_MULTIPLE=yes

consent_env_start "$tmp/run" || fail "no headless weston / accessibility bus"
trap 'consent_env_stop' EXIT

# (a) One monitor allowed: the second picked and shared. Stdout is exactly its id.
dialog a "$monitors" KMSCAST_APP_ID=org.example.Viewer KMSCAST_MULTIPLE=0 KMSCAST_PERSIST=0 -- \
	--answer share --pick card1:HDMI-A-1 --expect-rows 2
[ "$rc" -eq 0 ] || fail "a: exit $rc, expected 0 (stderr: $(cat "$tmp/a.err"))"
expect_file a "$tmp/a.out" 'card1:HDMI-A-1\n'
[ "$(grep '^row' "$tmp/a.drive")" = "$rows" ] || fail "a: rows shown differ from the input"
grep -qx 'title	Share your screen?' "$tmp/a.drive" || fail "a: title"
grep -qx 'label	“org.example.Viewer” wants to see your screen.' "$tmp/a.drive" ||
	fail "a: the app id is not shown"
grep -qx 'remember	0' "$tmp/a.drive" || fail "a: 'Remember' offered with KMSCAST_PERSIST=0"
echo "ok - share the second monitor"

# (b) Cancel: exit 1, nothing printed; a host app without an id is named as such.
dialog b "$monitors" KMSCAST_APP_ID= -- --answer cancel
[ "$rc" -eq 1 ] || fail "b: exit $rc, expected 1"
[ ! -s "$tmp/b.out" ] || fail "b: cancel printed '$(cat "$tmp/b.out")'"
grep -qx 'label	An application on this computer wants to see your screen.' "$tmp/b.drive" ||
	fail "b: the unnamed app's prompt"
echo "ok - cancel"

# (c) Several monitors allowed, persist_mode 1: both ticked and "Remember" ticked.
dialog c "$monitors" KMSCAST_APP_ID=org.example.Viewer KMSCAST_MULTIPLE=1 KMSCAST_PERSIST=1 -- \
	--answer share --pick card0:Virtual-1 --pick card1:HDMI-A-1 --remember --expect-rows 2
[ "$rc" -eq 0 ] || fail "c: exit $rc, expected 0"
expect_file c "$tmp/c.out" 'card0:Virtual-1\ncard1:HDMI-A-1\nremember\n'
grep -qx 'remember	1' "$tmp/c.drive" || fail "c: 'Remember' not offered with KMSCAST_PERSIST=1"
echo "ok - share both and remember"

# Closing the window is Cancel, whatever was ticked.
dialog close "$monitors" KMSCAST_PERSIST=2 -- --answer close --pick card1:HDMI-A-1 --remember
[ "$rc" -eq 1 ] || fail "close: exit $rc, expected 1"
[ ! -s "$tmp/close.out" ] || fail "close: printed '$(cat "$tmp/close.out")'"
echo "ok - closing the window cancels"

# --loop --dialogs 1 (the browser tests): the driver leaves once it answered, instead of
# polling AT-SPI until --timeout (20 s here).
start=$(date +%s)
dialog loop1 "$monitors" -- --loop --dialogs 1 --answer share
[ "$rc" -eq 0 ] || fail "loop1: exit $rc, expected 0"
expect_file loop1 "$tmp/loop1.out" 'card0:Virtual-1\n'
[ $(($(date +%s) - start)) -lt 20 ] || fail "loop1: the driver stayed until --timeout"
echo "ok - --dialogs 1 leaves after one answer"
