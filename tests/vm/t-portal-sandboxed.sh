#!/bin/bash
# portal-copies = sandboxed (the default) on a real kernel: a session of a Flatpak app gets a
# copy node, a host app's session in the same run zero copy. The app is a Flatpak app to
# kmscast when a running instance's $XDG_RUNTIME_DIR/.flatpak/<instance>/info names its id,
# so the test writes such an instance for org.kmscast.test.Sandboxed into the test user's
# runtime dir, as flatpak run would, and runs no Flatpak.
#
# The app id reaches the backend in one of two ways:
#  - xdg-desktop-portal 1.19 and later (the trixie and forky stacks): the client registers it
#    with org.freedesktop.host.portal.Registry, and the real frontend passes it on;
#  - xdg-desktop-portal 1.16 (bookworm, the default stack) gives every host process the empty
#    app id and has no Registry, and a real Flatpak sandbox is not on the bench: the client
#    then calls the backend's org.freedesktop.impl.portal.ScreenCast itself, as the frontend
#    would, with the app id of its choice, and captures as a host PipeWire client
#    (portal-remote --direct) instead of through OpenPipeWireRemote. The backend serves only
#    the owner of org.freedesktop.portal.Desktop, so the client first takes that name from
#    the real frontend (which allows the replacement, and exits).
# Asserts, for the sandboxed app:
#  - its node says kmscast.copy = "true", and the daemon logged it as a flatpak app;
#  - a consumer that offers both the LINEAR modifier (dma-bufs) and no modifier (memory), as
#    OBS and libwebrtc do, gets MemFd (or MemPtr) buffers, never a DmaBuf;
#  - those frames decode to the producer's frame numbers, none repeated, torn or backwards;
#  - a consumer that takes dma-bufs only gets no frame at all: the node offers none.
# And for a host app (the empty app id) in the same run: no kmscast.copy, and the same
# consumer gets DmaBuf buffers with the producer's frames.
# Run: KMSCAST_BUILD_DIR=<abs build dir> tests/vm/run --kms vkms --with wireplumber -- \
#          tests/vm/t-portal-sandboxed.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
FRAMES=${FRAMES:-30}
APP=org.kmscast.test.Sandboxed
INSTANCE=$KMSCAST_TEST_RUNTIME_DIR/.flatpak/1789456123
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

# As t-portal-two.sh: 30 Hz over 6 buffers leaves a zero-copy consumer time to read each.
portal_producer --duration 150 --rate 30 --buffers 6
read -r W H < <(sed -n 's/.* size=\([0-9]*\)x\([0-9]*\) .*/\1 \2/p' "$NODE_TMP/producer.log" | head -n1)
conn=$(sed -n 's/.* connector=\([^ ]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n1)

# The instance as flatpak 1.14 leaves it while the app runs; written by the user, as
# flatpak run writes it.
as_user mkdir -p "$INSTANCE" || portal_fail "cannot make $INSTANCE"
as_user sh -c "cat >'$INSTANCE/info'" <<EOF || portal_fail "cannot write $INSTANCE/info"
[Application]
name=$APP
runtime=runtime/org.freedesktop.Platform/x86_64/23.08

[Instance]
instance-id=1789456123
branch=stable
arch=x86_64
EOF
as_user touch "$INSTANCE/.ref"

portal_start_kmscast
node_wait "kmscast.card0.$conn" >/dev/null || exit 1
node_wait_fbs 6
portal_start_frontend
if as_user dbus-send --session --print-reply --dest=org.freedesktop.portal.Desktop \
	/org/freedesktop/portal/desktop org.freedesktop.DBus.Introspectable.Introspect 2>/dev/null |
	grep -q 'org.freedesktop.host.portal.Registry'; then
	MODE=frontend
	REMOTE="--fd {fd}"
else
	MODE=backend
	REMOTE="--direct"
fi
echo "app ids reach the backend through: $MODE"

# client NAME APP_ID CONSUMER_ARGS: one session of APP_ID ("" for a host app); its node's
# info into $OUT/NAME-node.txt, the capture into $OUT/NAME.raw, the client's log into
# $NODE_TMP/client-NAME.log. Returns the client's status.
client() {
	local name=$1 app=$2 args=()

	if [ "$MODE" = backend ]; then
		args=(--backend --app-id "$app")
	elif [ -n "$app" ]; then
		args=(--app-id "$app")
	fi
	portal_client "${args[@]}" --state "$OUT/$name.json" --exec \
		"pw-cli info {node} > $OUT/$name-node.txt; \
		 $B/tests/unit/portal-remote $REMOTE --node {node} --frames $FRAMES $3 --out $OUT/$name.raw" \
		>"$NODE_TMP/client-$name.log" 2>&1
}

# check_frames NAME MAX_REPEATS: the capture decodes to the producer's frames.
check_frames() {
	local summary decoded rep

	summary=$("$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx --quiet \
		"$OUT/$1.raw" | tail -n 1)
	echo "$1: $summary"
	decoded=$(sed -n 's/.*decoded=\([0-9]*\).*/\1/p' <<<"$summary")
	[ "${decoded:-0}" -ge $((FRAMES / 2)) ] || portal_fail "$1: only ${decoded:-0} of $FRAMES decode"
	rep=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print v["duplicates"] + v["backwards"] + v["torn"] }' <<<"$summary")
	[ "${rep:-1}" -le "$2" ] || portal_fail "$1: frames repeat, tear or go back ($rep, at most $2)"
}

client sandboxed "$APP" --any || { cat "$NODE_TMP/client-sandboxed.log"; portal_fail "sandboxed client failed"; }
cat "$NODE_TMP/client-sandboxed.log"
if [ "$MODE" = backend ]; then
	grep -qx 'owns org.freedesktop.portal.Desktop' "$NODE_TMP/client-sandboxed.log" ||
		portal_fail "the client playing the frontend did not own its name"
fi
grep -q "'$APP' is a flatpak app: its nodes serve CPU copies" "$NODE_TMP/daemon.log" ||
	portal_fail "the daemon did not take $APP for a Flatpak app"
grep -q 'kmscast.copy = "true"' "$OUT/sandboxed-node.txt" ||
	{ cat "$OUT/sandboxed-node.txt"; portal_fail "the sandboxed app's node has no kmscast.copy"; }
grep -q "data=memfd\|data=memptr" "$NODE_TMP/client-sandboxed.log" ||
	portal_fail "the sandboxed app's consumer got no MemFd buffers"
grep -q "data=dmabuf" "$NODE_TMP/client-sandboxed.log" &&
	portal_fail "the sandboxed app's consumer got the scanout dma-bufs"
# Copies: every frame the consumer holds is its own, none repeats or tears.
check_frames sandboxed 0

# Asking for dma-bufs only gets a sandboxed app nothing: no format, no frame (20 s timeout).
client sandboxed-dmabuf "$APP" --modifier &&
	{ cat "$NODE_TMP/client-sandboxed-dmabuf.log"; portal_fail "a dma-buf-only consumer of a copy node got frames"; }
grep -q "data=dmabuf" "$NODE_TMP/client-sandboxed-dmabuf.log" &&
	portal_fail "a copy node handed out a dma-buf"

client host "" --any || { cat "$NODE_TMP/client-host.log"; portal_fail "host client failed"; }
cat "$NODE_TMP/client-host.log"
# The empty id, or (xdg-desktop-portal >= 1.18) one from a systemd scope: a host app either way.
grep -q "is a host app: its nodes serve the scanout buffers" "$NODE_TMP/daemon.log" ||
	portal_fail "the daemon took no app for a host app"
grep -q 'kmscast.copy' "$OUT/host-node.txt" &&
	portal_fail "the host app's node is a copy node"
grep -q "data=dmabuf" "$NODE_TMP/client-host.log" ||
	portal_fail "the host app's consumer got no DmaBuf buffers"
# Zero copy reads the scanout buffers the producer repaints (t-portal-two.sh).
check_frames host $((FRAMES / 10))

sleep 0.5
left=$(portal_nodes)
[ -z "$left" ] || portal_fail "portal nodes left after the sessions closed: $left"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
echo "PASS t-portal-sandboxed ($MODE)"
