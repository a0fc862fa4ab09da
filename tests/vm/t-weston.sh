#!/bin/bash
# A real compositor: Debian's weston 10 (DRM backend, pixman renderer)
# drives vkms, weston-simple-shm animates a window on it, and an unmodified
# `gst-launch-1.0 pipewiresrc` captures weston's screen through kmscast's node, with the
# daemon unprivileged (kmscast-test, helper with cap_sys_admin) as in every node test.
#
# Asserts (tests/vm/lib/weston-check.py does the pixels):
#   - every captured frame is weston's desktop as configured below: the background colour
#     everywhere but one 250x250 window whose white border and pattern are simple-shm's, and
#     the pattern decodes to simple-shm's frame time T;
#     A frame whose top and bottom decode to two T a few ms apart is torn: weston repainted
#     that scanout buffer while gst read it. Weston double-buffers, so a consumer has one
#     frame period to read a buffer, and zero copy means nothing protects it (no fence in
#     the dma-buf a consumer gets). A frame read after weston repainted its buffer shows a
#     later T, so the next one seems to go back. Torn frames and steps back together may
#     be up to half the frames (fresh-clone runs counted 7 to 25 of 120; how late gst
#     reads under TCG decides it), and are printed;
#   - the frames follow the animation (several distinct T, never going back);
#   - weston's scanout, read back as root through a dma-buf export (fb-readback --dump)
#     while gst captures, holds frames with the same T, and those are pixel-identical to
#     the captured ones;
#   - zero copy: the node negotiated the dma-buf path, and every dma-buf gst held is one
#     of the scanout dma-bufs the daemon got from the helper (same inodes).
# One captured frame is written as weston.png to $WESTON_KEEP (default: the build tree's
# tests/vm/t-weston/), with the logs.
#
# Why not under seatd, as a desktop would run it: Debian 12's weston
# 10.0.1 is built without the libseat launcher (upstream's -Dlauncher-libseat, off by
# default in weston 10): neither weston nor libweston-10 nor drm-backend.so links libseat,
# and drm-backend.so knows only the logind, weston-launch and direct launchers (its
# strings: "Trying %s launcher...", "logind", "weston_launch", "direct"). Debian 12 ships
# no weston-launch, and the bench has no logind. seatd would have no client, so it is not
# started. weston runs as root with the direct launcher, which needs a VT: --tty=2.
# weston 14 (trixie) and 16 (forky), on the suite stacks, have only the libseat launcher,
# whose embedded seatd serves root without a VT; they refuse --tty ("unhandled option").
#
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-weston.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-120}
# Samples of the scanout read back as root, 100 ms apart.
READBACKS=${READBACKS:-50}
BG=0x112233
W=640
H=480
KEEP=${WESTON_KEEP:-$B/tests/vm/t-weston}

command -v weston >/dev/null && command -v weston-simple-shm >/dev/null ||
	vm_fail "weston is not installed (tools/install-deps)"

node_setup
gst_warm_registry

# weston's own runtime dir (root's): socket, config, log.
WDIR=$NODE_TMP/weston
mkdir -m 0700 "$WDIR"
# A solid background, no panel, no animations: every pixel but the client's is known.
# idle-time=0: never blank. The mode is small so that pixman keeps up under TCG.
cat >"$WDIR/weston.ini" <<EOF
[core]
idle-time=0

[shell]
background-color=0xff${BG#0x}
panel-position=none
locking=false
animation=none
close-animation=none
startup-animation=none
focus-animation=none

[output]
name=Virtual-1
mode=${W}x${H}
EOF

weston_stop() {
	[ -n "${SHM_PID:-}" ] && kill "$SHM_PID" 2>/dev/null && wait "$SHM_PID" 2>/dev/null
	[ -n "${WESTON_PID:-}" ] && kill "$WESTON_PID" 2>/dev/null && wait "$WESTON_PID" 2>/dev/null
	SHM_PID=
	WESTON_PID=
}

keep() {
	weston_stop
	mkdir -p "$KEEP" 2>/dev/null || return 0
	cp "$NODE_TMP"/*.log "$WDIR"/*.log "$OUT"/*.png "$OUT"/*.log "$KEEP"/ 2>/dev/null
	node_keep
}
trap keep EXIT

tty_opt=
weston --help 2>&1 | grep -q -- '--tty=' && tty_opt=--tty=2
XDG_RUNTIME_DIR=$WDIR weston --backend=drm-backend.so --use-pixman --continue-without-input \
	--idle-time=0 $tty_opt --socket=wayland-kmscast --config="$WDIR/weston.ini" \
	--log="$WDIR/weston.log" >/dev/null 2>&1 &
WESTON_PID=$!
wait_for_file "$WDIR/wayland-kmscast" 30 || { cat "$WDIR/weston.log"; vm_fail "weston did not start"; }
grep -E "launcher|pixman|Output Virtual-1|mode" "$WDIR/weston.log" | sed 's/^\[[^]]*\] /weston: /' | head -n 8
XDG_RUNTIME_DIR=$WDIR WAYLAND_DISPLAY=wayland-kmscast weston-simple-shm \
	>"$WDIR/simple-shm.log" 2>&1 &
SHM_PID=$!

# What the unprivileged user sees on the card: weston's FB on the lit CRTC, at our mode. The
# list can show the mode's width before weston's first FB (forky, 2026-12-05): wait for the FB.
list_fbs() {
	python3 - "$NODE_TMP/list.json" "$W" "$H" <<'EOF'
import json, sys
w, h = int(sys.argv[2]), int(sys.argv[3])
doc = json.load(open(sys.argv[1]))
def walk(o):
    if isinstance(o, dict):
        yield o
        for v in o.values(): yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
fbs = [o for o in walk(doc) if o.get("width") == w and o.get("height") == h and "format" in o]
print("list: %d FB(s) of %dx%d: %s" % (len(fbs), w, h, [(f.get("id"), f.get("format"), f.get("modifier")) for f in fbs]))
sys.exit(0 if fbs else 1)
EOF
}
for _ in $(seq 50); do
	as_user "$B/src/kmscast" --list --json >"$NODE_TMP/list.json" 2>/dev/null &&
		list_fbs >/dev/null && break
	sleep 0.2
done
list_fbs || vm_fail "kmscast --list does not show weston's output"

node_start_daemon
rt_boost_graph
NAME=kmscast.card0.Virtual-1
ID=$(node_wait "$NAME") || exit 1
echo "node $NAME id $ID"
# weston double-buffers: let the node see both FBs before the link allocates.
sleep 1
gst_wait_registry

# Read weston's scanout back as root beside the capture: started first, and sampling for
# longer than gst's start-up plus its capture take, so that samples fall inside the capture.
# fb-readback exits 1 (weston's pixels are not the test pattern); the dump is what counts.
"$B/tests/tools/fb-readback" --count "$READBACKS" --interval-ms 100 \
	--dump "$OUT/readback.raw" >"$NODE_TMP/readback.log" 2>&1 &
READBACK=$!
as_user "$GST_TIMED" --first-buffer-file "$OUT/capture.raw" gst-launch-1.0 -v \
	pipewiresrc path="$ID" num-buffers="$FRAMES" ! videoconvert ! \
	video/x-raw,format=BGRx,width=$W,height=$H ! filesink location="$OUT/capture.raw" \
	>"$OUT/gst.log" 2>&1 &
GST=$!
DAEMON_INODES=
# The daemon is sampled with gst: spare slots (PipeWire 1.0 to 1.5) are dma-bufs the node
# makes for one allocation and closes with it; gst holds them whether or not a frame went
# through one, and the stream stats' copied says whether one did.
sample_daemon_inodes() {
	inodes_add DAEMON_INODES "$(dmabuf_inodes "$DAEMON_PID")"
}
sample_gst_inodes "$GST" "" sample_daemon_inodes
wait "$GST"
GST_RC=$?
wait "$READBACK"
node_stop_daemon
weston_stop

echo "--- daemon log (tail)"; grep -v "^$" "$NODE_TMP/daemon.log" | tail -n 12
[ "$GST_RC" = 0 ] || { cat "$OUT/gst.log"; vm_fail "gst-launch exited $GST_RC"; }
FAILS=
grep -m1 "caps = video/x-raw" "$OUT/gst.log" | sed 's/^[0-9.]* /gst: /'
echo "readback: $(grep -c '^crtc=' "$NODE_TMP/readback.log" 2>/dev/null) samples," \
	"$(stat -c %s "$OUT/readback.raw" 2>/dev/null || echo 0) bytes"
# The weston-check arguments are the whole content check: see the header.
python3 "$KMSCAST_SRC_DIR/tests/vm/lib/weston-check.py" --width "$W" --height "$H" \
	--background "$BG" --max-torn $((FRAMES / 2)) --png "$OUT/weston.png" "$OUT/capture.raw" "$OUT/readback.raw" ||
	FAILS="$FAILS content"
gst_check_first_buffer "$OUT/gst.log" gst

grep -E "buffers over [0-9]+ FBs, path" "$NODE_TMP/daemon.log" | sed 's/.*\] /daemon: /'
grep -qE "buffers over [0-9]+ FBs, path dma-buf" "$NODE_TMP/daemon.log" || FAILS="$FAILS path(not-dma-buf)"
spares=$(sed -n 's/.*buffers over [0-9]* FBs, path dma-buf, \([0-9]*\) spares.*/\1/p' \
	"$NODE_TMP/daemon.log" | sort -n | tail -n 1)
check_zero_copy "" "$DAEMON_INODES" "${spares:-0}"
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] /daemon: /'
copied=$(sed -n 's/.*stream stats: .* copied \([0-9]*\).*/\1/p' "$NODE_TMP/daemon.log" |
	awk '{ n += $1 } END { print n + 0 }')
[ "$copied" = 0 ] || FAILS="$FAILS zero-copy(copied-$copied)"
echo "PNG: $KEEP/weston.png"
vm_finish t-weston
