#!/bin/bash
# The Linux console: fbcon on vkms's fbdev emulation, no display server. With nobody else on
# the card, the CRTC shows the console's framebuffer, which the kernel changes in place
# (nothing flips). Known text is written to tty1 (a line of 100 'H'), consumers capture the
# monitor, then more text goes to line 11 (50 'M') and they capture again. The captures must
# show each line where fbcon's 8x16 font puts it and nothing else lit, the second capture the
# new line (the node re-sends the static screen), and the last frame must equal the FB on
# screen as root reads it back (fb-readback).
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-console.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
TTY=/dev/tty1

grep -q vkmsdrmfb /proc/fb || vm_fail "no fbdev on vkms: $(cat /proc/fb)"
node_setup
# No blanking, cursor off (it blinks), screen cleared, the first line written.
printf '\033[9;0]\033[?25l\033[2J\033[H%s' "$(printf 'H%.0s' $(seq 100))" >"$TTY"
node_start_daemon
rt_boost_graph
CONNECTOR=$(for c in /sys/class/drm/card0-*; do
	[ "$(cat "$c/status")" = connected ] && { echo "${c#/sys/class/drm/card0-}"; break; }; done)
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
shm_consumer first --target "$ID" --frames 3 --out "$OUT/first.raw" --timeout 30
FIRST_RC=$?
printf '\033[11;1H%s' "$(printf 'M%.0s' $(seq 50))" >"$TTY"
sleep 0.5
shm_consumer second --target "$ID" --frames 3 --out "$OUT/second.raw" --timeout 30
SECOND_RC=$?
"$B/tests/tools/fb-readback" --count 1 --dump "$OUT/readback.raw" >"$OUT/readback.log" 2>&1
cat "$OUT/readback.log"
node_stop_daemon

FAILS=
[ "$FIRST_RC" = 0 ] || FAILS="$FAILS first-exit($FIRST_RC)"
[ "$SECOND_RC" = 0 ] || FAILS="$FAILS second-exit($SECOND_RC)"
size=$(sed -n 's/^buf .* size=\([0-9]*x[0-9]*\) .*/\1/p' "$OUT/second.log" | tail -n 1)
echo "captured $size, data $(sed -n 's/^buf .* data=\([a-z]*\) .*/\1/p' "$OUT/second.log" | sort -u)"
python3 - "$size" "$OUT/first.raw" "$OUT/second.raw" "$OUT/readback.raw" <<'PY' || FAILS="$FAILS pixels"
import sys
w, h = (int(v) for v in sys.argv[1].split("x"))
frame = w * h * 4

def last(path):
    data = open(path, "rb").read()
    if len(data) < frame:
        sys.exit(f"{path}: {len(data)} bytes, not a {w}x{h} frame")
    return data[len(data) - frame:]

def lit(px, y0, y1, x0, x1):
    """The share of pixels in rows y0..y1-1, columns x0..x1-1 brighter than dark grey."""
    n = on = 0
    for y in range(y0, y1):
        row = px[(y * w + x0) * 4:(y * w + x1) * 4]
        for i in range(0, len(row), 4):
            n += 1
            on += max(row[i], row[i + 1], row[i + 2]) > 100
    return on / n

first, second, back = last(sys.argv[2]), last(sys.argv[3]), last(sys.argv[4])
ok = True
def want(what, value, cond):
    global ok
    print(f"{what}: {value:.3f}")
    ok &= cond
# fbcon's 8x16 font: line 1 is rows 0-15, line 11 rows 160-175; 'H' and 'M' light about a
# third of their cells.
want("first capture, line 1 lit", lit(first, 0, 16, 0, 800), lit(first, 0, 16, 0, 800) > 0.15)
want("first capture, line 11 lit", lit(first, 160, 176, 0, 400), lit(first, 160, 176, 0, 400) == 0)
want("first capture, below line 1 lit", lit(first, 16, h, 0, w), lit(first, 16, h, 0, w) == 0)
want("second capture, line 1 lit", lit(second, 0, 16, 0, 800), lit(second, 0, 16, 0, 800) > 0.15)
want("second capture, line 11 lit", lit(second, 160, 176, 0, 400), lit(second, 160, 176, 0, 400) > 0.15)
want("second capture, elsewhere lit", lit(second, 176, h, 0, w), lit(second, 176, h, 0, w) == 0)
same = sum(1 for i in range(0, frame, 4) if second[i:i + 3] == back[i:i + 3]) / (w * h)
want("second capture equal to the root read-back", same, same == 1.0)
sys.exit(0 if ok else 1)
PY
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-console
