#!/bin/bash
# A real compositor: Debian's weston 10 (DRM backend, pixman renderer) on vkms, kept
# repainting by weston-simple-shm, captured through kmscast by unmodified gst pipewiresrc.
# Asserts: the captured frames are weston's screen (not one flat colour; the simple-shm
# window animates so consecutive captures differ), at weston's mode, and zero copy (gst
# holds the dma-bufs the daemon got from the helper). Writes a PNG of one frame to
# $NODE_KEEP when set.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-weston.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-120}

node_setup
gst_warm_registry
# Weston 10 has no libseat launcher: as root it uses the direct launcher on a VT (FACTS.md).
export XDG_RUNTIME_DIR=/run/weston-root
mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
weston --backend=drm-backend.so --use-pixman --continue-without-input --idle-time=0 --tty=2 \
	--socket=wayland-1 >"$NODE_TMP/weston.log" 2>&1 &
WESTON=$!
wait_for_file "$XDG_RUNTIME_DIR/wayland-1" 30 || { cat "$NODE_TMP/weston.log"; vm_fail "weston did not start"; }
WAYLAND_DISPLAY=wayland-1 weston-simple-shm >"$NODE_TMP/simple-shm.log" 2>&1 &
SHM_CLIENT=$!
sleep 2
conn=$(ls /sys/class/drm | sed -n 's/^card0-//p' | head -n 1)
node_start_daemon
rt_boost "$DAEMON_PID"
NAME=kmscast.card0.${conn:-Virtual-1}
ID=$(node_wait "$NAME" 30) || exit 1
gst_wait_registry
as_user gst-launch-1.0 -q pipewiresrc path="$ID" num-buffers="$FRAMES" ! videoconvert ! \
	video/x-raw,format=BGRx ! filesink location="$OUT/weston.raw" >"$NODE_TMP/gst.log" 2>&1 &
GST=$!
sample_gst_inodes "$GST"
wait "$GST"
GST_RC=$?
DAEMON_INODES=$(dmabuf_inodes "$DAEMON_PID")
size=$(sed -n 's/.*FB [0-9]* \([0-9]*x[0-9]*\) joins.*/\1/p' "$NODE_TMP/daemon.log" | head -n 1)
node_stop_daemon
kill "$SHM_CLIENT" "$WESTON" 2>/dev/null
grep "stream stats\|buffers over" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
[ "$GST_RC" = 0 ] || { cat "$NODE_TMP/gst.log"; vm_fail "gst exited $GST_RC"; }
W=${size%x*}
H=${size#*x}
echo "weston scans out ${W}x${H}; gst dma-bufs: $(echo $GST_INODES); daemon's: $(echo $DAEMON_INODES)"
FAILS=
[ -n "$GST_INODES" ] || FAILS="$FAILS no-dmabuf"
for i in $GST_INODES; do
	echo "$DAEMON_INODES" | grep -qx "$i" || FAILS="$FAILS inode-$i"
done
python3 - "$OUT/weston.raw" "$W" "$H" "$FRAMES" "${NODE_KEEP:-}" <<'PY' || FAILS="$FAILS content"
import sys, zlib, struct
path, w, h, n, keep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
data = open(path, "rb").read()
fs = w * h * 4
frames = [data[i * fs:(i + 1) * fs] for i in range(len(data) // fs)]
assert len(frames) == n, f"{len(frames)} frames, wanted {n}"
colours = len(set(frames[0][i:i + 3] for i in range(0, fs, 4 * 97)))
distinct = len(set(zlib.crc32(f) for f in frames))
print(f"first frame: {colours} distinct sampled colours; {distinct} distinct frames of {n}")
if keep:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    f = frames[-1]
    rows = b"".join(b"\0" + b"".join(f[(y * w + x) * 4:(y * w + x) * 4 + 3][::-1] for x in range(w)) for y in range(h))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    open(keep + "/weston.png", "wb").write(png)
sys.exit(0 if colours >= 3 and distinct >= 2 else 1)
PY
[ -z "$FAILS" ] || vm_fail "$FAILS"
echo "PASS t-node-weston"
