#!/bin/bash
# Running the daemon from the build tree. Usage: test-run-from-build.sh BUILD_DIR MESON
#  1. SPA_PLUGIN_DIR without the node's plugin: the daemon exits at once, saying once where it
#     looked and how to fix it (install, or meson devenv).
#  2. SPA_PLUGIN_DIR with the plugin in a later entry: the daemon gets past that check (it then
#     fails to reach a PipeWire server that does not exist).
#  3. meson devenv: SPA_PLUGIN_DIR, KMSCAST_HELPER and PATH point into the build, the plugin
#     sits where PipeWire looks for it, and the daemon run through it finds its plugin.
set -u
build=$1
meson=$2
daemon=$build/src/kmscast
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Never a real PipeWire server: a private runtime dir and a remote nobody serves.
run_daemon() {
	env XDG_RUNTIME_DIR="$tmp/run" PIPEWIRE_REMOTE=kmscast-test-none PIPEWIRE_DEBUG=2 \
		timeout 20 "$@" --config /dev/null >"$tmp/out" 2>&1
}
mkdir -p "$tmp/run" "$tmp/empty"
sys_spa=$(pkg-config --variable=plugindir libspa-0.2)

# 1
run_daemon env SPA_PLUGIN_DIR="$tmp/empty" "$daemon"
rc=$?
cat "$tmp/out"
[ "$rc" = 1 ] || fail "exit status $rc with no plugin, want 1"
n=$(grep -c 'no kmscast/libspa-kmscast.so in the SPA plugin directory' "$tmp/out")
[ "$n" = 1 ] || fail "the missing plugin is said $n times, want once"
grep -q "SPA_PLUGIN_DIR=$tmp/empty" "$tmp/out" || fail "the message does not name $tmp/empty"
grep -q 'meson devenv -C BUILD kmscast' "$tmp/out" || fail "the message gives no fix"

# 2
mkdir -p "$tmp/spa"
ln -s "$build/spa-plugin" "$tmp/spa/kmscast"
run_daemon env SPA_PLUGIN_DIR="$tmp/empty:$tmp/spa:$sys_spa" "$daemon"
rc=$?
cat "$tmp/out"
grep -q 'cannot find the' "$tmp/out" && fail "plugin in the second entry not found"
grep -q 'cannot connect to PipeWire' "$tmp/out" || fail "daemon did not get past the check"
[ "$rc" = 1 ] || fail "exit status $rc without a server, want 1"

# 3
if [ -z "$meson" ]; then
	echo "PASS (no meson program: meson devenv not checked)"
	exit 0
fi
"$meson" devenv -C "$build" --dump >"$tmp/env" || fail "meson devenv --dump"
cat "$tmp/env"
grep -qx "SPA_PLUGIN_DIR=\"$build/devenv/spa:$sys_spa\"" "$tmp/env" ||
	fail "devenv SPA_PLUGIN_DIR is not the build's plugin dir, then libspa's"
grep -qx "KMSCAST_HELPER=\"$build/helper/kmscast-helper\"" "$tmp/env" ||
	fail "devenv KMSCAST_HELPER is not the build's helper"
grep -q "^PATH=\"$build/src:" "$tmp/env" || fail "devenv PATH lacks $build/src"
[ -f "$build/devenv/spa/kmscast/libspa-kmscast.so" ] ||
	fail "no kmscast/libspa-kmscast.so under $build/devenv/spa"
run_daemon "$meson" devenv -C "$build" kmscast
cat "$tmp/out"
grep -q 'cannot find the' "$tmp/out" && fail "kmscast in meson devenv does not find its plugin"
grep -q 'cannot connect to PipeWire' "$tmp/out" || fail "kmscast in meson devenv did not start"
echo PASS
