#!/bin/bash
# A wlroots desktop: Debian's sway 1.7 (wlroots 0.15, DRM backend, pixman renderer) on vkms,
# seated by seatd and run by the unprivileged test user, as a desktop user's sway runs. A
# Wayland client (wl-pattern) shows the test pattern fullscreen with a new frame number at
# every frame callback; its wl_shm buffers cannot be scanned out, so sway composites each
# frame into its own swapchain and flips, one flip per frame drawn. sway commits the way
# wlroots does, an atomic page flip right after the frame event, and picks its own FB ids.
# kmscast captures the monitor with a consumer that maps the dma-bufs:
#   - every frame decodes, frame numbers strictly increase, and none is missing beyond the
#     periods the node itself reports sleeping through (the bench's scheduling); a frame the
#     consumer read only after the next flip's vblank may show sway painting that buffer
#     again (it has two), which counts as the bench's timing, not the node's fault;
#   - every flip the node saw reached the consumer (the stream stats' flips against
#     delivered; up to 4 allowed: the flips still in the node's check queue, CHECK_QUEUE,
#     when the consumer has its last frame and leaves);
#   - every captured frame number is one wl-pattern drew;
#   - zero copy: dma-buf buffers only, nothing copied by the node;
#   - a root read-back of the FB on screen decodes to a frame wl-pattern drew: the capture
#     is sway's scanout.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-sway.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-120}
MODE=640x480

command -v sway >/dev/null && command -v seatd >/dev/null ||
	vm_fail "sway or seatd is not installed (tools/install-deps)"
[ -x "$B/tests/tools/wl-pattern" ] ||
	vm_fail "wl-pattern was not built (no libwayland-dev, wayland-protocols)"
node_setup
SDIR=$NODE_TMP/sway
mkdir -m 0755 "$SDIR"
# No wallpaper program, no Xwayland, no borders: the client's pixels are the screen.
cat >"$SDIR/sway.conf" <<EOF
output Virtual-1 mode $MODE
swaybg_command -
xwayland disable
default_border none
default_floating_border none
EOF
chmod 0644 "$SDIR/sway.conf"

sway_stop() {
	[ -n "${DRAW:-}" ] && kill "$DRAW" 2>/dev/null
	[ -n "${SWAY:-}" ] && kill "$SWAY" 2>/dev/null
	[ -n "${SEATD:-}" ] && kill "$SEATD" 2>/dev/null
	wait 2>/dev/null
	DRAW= SWAY= SEATD=
}
trap 'sway_stop; cp "$SDIR"/*.log "$OUT"/ 2>/dev/null' EXIT

# seatd hands the card to members of group video; the test user is one.
seatd -g video >"$SDIR/seatd.log" 2>&1 &
SEATD=$!
wait_for_file /run/seatd.sock 10 || vm_fail "seatd did not start"
as_user env WLR_RENDERER=pixman WLR_BACKENDS=drm WLR_DRM_DEVICES=/dev/dri/card0 \
	WLR_LIBINPUT_NO_DEVICES=1 LIBSEAT_BACKEND=seatd \
	sway -c "$SDIR/sway.conf" >"$SDIR/sway.log" 2>&1 &
SWAY=$!
for _ in $(seq 150); do
	WL=$(cd "$KMSCAST_TEST_RUNTIME_DIR" && ls wayland-? 2>/dev/null | head -n 1)
	[ -n "$WL" ] && break
	sleep 0.2
done
[ -n "$WL" ] || { tail -n 20 "$SDIR/sway.log"; vm_fail "sway did not start"; }
grep -E "Using seatd|renderer|Modesetting|Selected mode" "$SDIR/sway.log" | head -n 6
as_user env WAYLAND_DISPLAY="$WL" "$B/tests/tools/wl-pattern" --size "$MODE" \
	>"$SDIR/draws.log" 2>"$SDIR/wl-pattern.log" &
DRAW=$!
for _ in $(seq 100); do
	grep -q "^draw frame=30 " "$SDIR/draws.log" && break
	sleep 0.1
done
grep -q "^draw frame=30 " "$SDIR/draws.log" ||
	{ cat "$SDIR/wl-pattern.log"; tail -n 20 "$SDIR/sway.log"; vm_fail "wl-pattern draws nothing"; }

node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.Virtual-1") || exit 1
# sway double-buffers: let the node see both FBs before the link allocates.
node_wait_fbs 2
shm_consumer sway --target "$ID" --frames "$FRAMES" --dmabuf --timeout 60
RC=$?
"$B/tests/tools/fb-readback" --count 1 >"$OUT/readback.log" 2>&1
node_stop_daemon
sway_stop

FAILS=
[ "$RC" = 0 ] || { cat "$OUT/sway.err"; FAILS="$FAILS consumer-exit($RC)"; }
cat "$SDIR/wl-pattern.log"
grep "buffers over\|stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
data=$(sed -n 's/^buf .* data=\([a-z]*\) .*/\1/p' "$OUT/sway.log" | sort -u | tr '\n' ' ')
[ "$data" = "dmabuf " ] || FAILS="$FAILS data-types($data)"
copied=$(sed -n 's/.*stream stats: .* copied \([0-9]*\).*/\1/p' "$NODE_TMP/daemon.log" |
	awk '{ n += $1 } END { print n + 0 }')
[ "$copied" = 0 ] || FAILS="$FAILS zero-copy(copied-$copied)"
missed=$(stream_missed)
echo "node-reported misses: ${missed:-?}"
check_frames "$OUT/sway.log" "${missed:-0}"
rc=$?
[ "$rc" = 0 ] || frame_faults "$OUT/sway.log"
vm_check "$rc" frames
lost=$(sed -n 's/.*stream stats: flips \([0-9]*\) delivered \([0-9]*\) .*/\1 \2/p' \
	"$NODE_TMP/daemon.log" | sort -n -k2,2 | tail -n 1 | awk '{ print $1 - $2 }')
echo "flips the node saw and did not deliver: ${lost:-?}"
[ -n "$lost" ] && [ "$lost" -le 4 ] || FAILS="$FAILS node-lost(${lost:-?})"
# Every frame captured is one wl-pattern drew (check_frames knows only the pattern).
sed -n 's/^draw frame=\([0-9]*\) .*/\1/p' "$SDIR/draws.log" >"$OUT/drawn"
foreign=$(frames_of "$OUT/sway.log" | awk 'FNR == NR { drawn[$1] = 1; next }
	$1 >= 0 && !($1 in drawn) { n++ } END { print n + 0 }' "$OUT/drawn" -)
echo "captured frames wl-pattern never drew: $foreign"
[ "$foreign" = 0 ] || FAILS="$FAILS not-drawn($foreign)"
cat "$OUT/readback.log"
rb=$(sed -n 's/.* frame=\([0-9]*\) .*/\1/p' "$OUT/readback.log" | head -n 1)
[ -n "$rb" ] && grep -q "^draw frame=$rb " "$SDIR/draws.log" || FAILS="$FAILS readback(${rb:-none})"
vm_finish t-sway
