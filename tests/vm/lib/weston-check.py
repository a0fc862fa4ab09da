#!/usr/bin/python3
"""Checks frames of weston's screen: captured through kmscast and read back as root.

usage: weston-check.py --width W --height H --background 0xRRGGBB
                       [--png FILE] CAPTURE.raw READBACK.raw

Both files are raw 32-bit frames in memory order B, G, R, X (gst's BGRx; an XR24 scanout
buffer read through its dma-buf), rows of W * 4 bytes. The X byte is ignored.

Weston runs with a solid background of the given colour, no panel and one client,
weston-simple-shm. simple-shm draws a square S x S XRGB8888 buffer (S = 250 up to weston
13, 256 since; found from the frame): a 20-pixel white border around a pattern that is a
function of the frame callback time t (ms) only. With c = 20 + (S - 40) / 2 (the centre),
R = c - 8, K = 0x080401 and every value masked to 24 bits, for buffer coordinates (x, y):
  - outside the circle of radius R around (c, c):  v = (x + t/16) * K
  - in the ring of radii R - 32..R:                v = (y + t/32) * K
  - inside radius R - 32:                          v = (r^2/32 + t/64) * K
K is odd, so v * K^-1 mod 2^24 gives x + t/16 back: every pixel of the four corner
patches must decode to the same T = t/16, the ring to T/2 and the centre to T/4. That
identifies simple-shm's pixels exactly, and T says which of its frames is on screen.

Checks, each a failure when not met:
  1. every frame: everything outside one 250x250 square is the background colour; the
     square has a white border and decodes to one T (consistent corners, ring, centre);
  2. the square is at the same place in every captured and read-back frame;
  3. the capture shows the animation: at least --min-distinct different T; torn frames and
     steps back in T (a buffer read after weston repainted it) at most --max-torn together;
  4. at least one read-back frame has a T that was also captured, and those frame pairs
     are identical in every pixel: the capture is weston's scanout, not a look-alike.
Prints one summary line "weston-check: ..." and exits 0, or prints FAIL lines and exits 1.
"""
import argparse
import struct
import sys
import zlib

K = 0x080401
K_INV = pow(K, -1, 1 << 24)
MASK = (1 << 24) - 1
PAD = 20
SIZES = (250, 256)  # weston-simple-shm's window: 250 up to weston 13, 256 since
SIZE = CENTRE = CORNERS = None  # set_size(), for the window found


def set_size(size):
    global SIZE, CENTRE, CORNERS
    SIZE = size
    CENTRE = PAD + (SIZE - 2 * PAD) // 2  # halfw == halfh in simple-shm
    # Window-relative patches that lie entirely outside the circle (radius CENTRE - 8).
    CORNERS = [(PAD, PAD), (SIZE - PAD - 20, PAD), (PAD, SIZE - PAD - 20),
               (SIZE - PAD - 20, SIZE - PAD - 20)]


# A patch inside the ring for either size: x 120..130, y 25..35 is 90..103 pixels from the
# centre, between the radii (85..117 for 250, 88..120 for 256).
RING = (120, 25, 10, 10)

failures = []
torn = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


class Frame:
    def __init__(self, data, width, height):
        self.data = data
        self.w = width
        self.h = height
        self.stride = width * 4

    def rgb(self, x, y):
        o = y * self.stride + x * 4
        d = self.data
        return d[o + 2] << 16 | d[o + 1] << 8 | d[o]

    def row(self, y, x0=0, x1=None):
        x1 = self.w if x1 is None else x1
        o = y * self.stride
        return self.data[o + x0 * 4:o + x1 * 4]

    def channels(self, seg):
        """B, G and R bytes of a row segment, the X byte dropped (C speed, no loop)."""
        return seg[0::4], seg[1::4], seg[2::4]


def solid(frame, bg, y, x0, x1):
    """True when pixels x0..x1 of row y are all colour bg."""
    if x1 <= x0:
        return True
    b, g, r = frame.channels(frame.row(y, x0, x1))
    n = x1 - x0
    return (b == bytes([bg & 0xff]) * n and g == bytes([bg >> 8 & 0xff]) * n and
            r == bytes([bg >> 16 & 0xff]) * n)


def find_window(frame, bg):
    """The top-left corner and width of the one non-background square, or None."""
    rows = [y for y in range(frame.h) if not solid(frame, bg, y, 0, frame.w)]
    if not rows:
        return None
    y0 = rows[0]
    x0 = next(x for x in range(frame.w) if frame.rgb(x, y0) != bg)
    x1 = next((x for x in range(x0, frame.w) if frame.rgb(x, y0) == bg), frame.w)
    return x0, y0, x1 - x0


def decode(frame, x0, y0, bg, name):
    """Checks the frame's layout for a window at (x0, y0); returns simple-shm's T or None."""
    w, h = frame.w, frame.h
    if x0 + SIZE > w or y0 + SIZE > h:
        fail(f"{name}: window at {x0},{y0} does not fit in {w}x{h}")
        return None
    # Outside the square: background only.
    for y in range(h):
        if y0 <= y < y0 + SIZE:
            ok = solid(frame, bg, y, 0, x0) and solid(frame, bg, y, x0 + SIZE, w)
        else:
            ok = solid(frame, bg, y, 0, w)
        if not ok:
            fail(f"{name}: row {y} has non-background pixels outside the window at {x0},{y0}")
            return None
    # The white border.
    white = 0xffffff
    for y in range(SIZE):
        if y < PAD or y >= SIZE - PAD:
            ok = solid(frame, white, y0 + y, x0, x0 + SIZE)
        else:
            ok = (solid(frame, white, y0 + y, x0, x0 + PAD) and
                  solid(frame, white, y0 + y, x0 + SIZE - PAD, x0 + SIZE))
        if not ok:
            fail(f"{name}: window row {y} breaks simple-shm's white border")
            return None
    # The pattern.
    ts = set()
    for cx, cy in CORNERS:
        for y in range(cy, cy + 20):
            for x in range(cx, cx + 20):
                ts.add((frame.rgb(x0 + x, y0 + y) * K_INV - x) & MASK)
    if len(ts) >= 2 and max(ts) - min(ts) <= 64:
        # Two or more of simple-shm's frames a few ms apart: weston repainted this scanout
        # buffer, more than once for a slow read, while the consumer read it (zero copy means
        # no copy to protect it; see --max-torn). Measured: three times 7 ms apart in one
        # frame of 120 under TCG (2026-12-02).
        torn.append((name, sorted(ts)))
        return None
    if len(ts) != 1:
        fail(f"{name}: corner patches decode to {len(ts)} different times, not one "
             f"(e.g. {sorted(ts)[:4]}): not simple-shm's pattern")
        return None
    t = ts.pop()
    rx, ry, rw, rh = RING
    ring = {(frame.rgb(x0 + x, y0 + y) * K_INV - y) & MASK
            for y in range(ry, ry + rh) for x in range(rx, rx + rw)}
    centre = (frame.rgb(x0 + CENTRE, y0 + CENTRE) * K_INV) & MASK
    if ring != {t // 2 & MASK} or centre != t // 4:
        # Ring and centre from another of simple-shm's frames a few ms from the corners':
        # torn the same way as above, between regions instead of between corners (measured
        # once in 120 frames under TCG, 2026-12-02: corners T=1762, centre from T=1756..1759).
        near = [2 * r for r in ring] + [4 * centre]
        if all(abs(u - t) <= 64 for u in near):
            torn.append((name, sorted({t} | set(near))))
            return None
        fail(f"{name}: corners say T={t}, but the ring says {sorted(ring)[:4]} "
             f"(want {t // 2}) and the centre {centre} (want {t // 4})")
        return None
    return t


def frames_of(path, width, height):
    size = width * height * 4
    with open(path, "rb") as f:
        data = f.read()
    if not data or len(data) % size:
        fail(f"{path}: {len(data)} bytes is not a whole number of {width}x{height} frames")
        return []
    return [Frame(data[i:i + size], width, height) for i in range(0, len(data), size)]


def same_pixels(a, b):
    return a.channels(a.data) == b.channels(b.data)


def write_png(path, frame):
    """An RGB PNG of the frame: zlib and struct are enough, no imaging module needed."""
    b, g, r = frame.channels(frame.data)
    rgb = bytearray(frame.w * frame.h * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = r, g, b
    raw = b"".join(b"\0" + bytes(rgb[y * frame.w * 3:(y + 1) * frame.w * 3])
                   for y in range(frame.h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", frame.w, frame.h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--background", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--min-distinct", type=int, default=3)
    ap.add_argument("--max-torn", type=int, default=0,
                    help="captured frames allowed to be torn between two simple-shm frames")
    ap.add_argument("--png")
    ap.add_argument("capture")
    ap.add_argument("readback")
    a = ap.parse_args()
    bg = a.background & MASK

    cap = frames_of(a.capture, a.width, a.height)
    rb = frames_of(a.readback, a.width, a.height)
    if not cap or not rb:
        return 1
    pos = find_window(cap[-1], bg)
    if pos is None:
        fail("the last captured frame is all background: no simple-shm window")
        return 1
    x0, y0, size = pos
    if size not in SIZES:
        fail(f"the window at {x0},{y0} is {size} pixels wide, not one of simple-shm's "
             f"sizes {SIZES}")
        return 1
    set_size(size)
    cap_t = [decode(f, x0, y0, bg, f"captured frame {i}") for i, f in enumerate(cap)]
    rb_t = [decode(f, x0, y0, bg, f"read-back frame {i}") for i, f in enumerate(rb)]
    if failures:
        return 1
    n_cap = len(cap)
    n_torn = sum(1 for t in cap_t if t is None)
    for name, ts in torn:
        print(f"torn: {name}: parts decode to T {ts}")
    if len(cap) - n_torn < a.min_distinct:
        fail("too few whole captured frames")
        return 1
    # A torn read-back frame has no T to pair; a torn capture none to compare.
    cap, cap_t = [f for f, t in zip(cap, cap_t) if t is not None], [t for t in cap_t if t is not None]
    rb, rb_t = [f for f, t in zip(rb, rb_t) if t is not None], [t for t in rb_t if t is not None]

    distinct = len(set(cap_t))
    back = sum(1 for p, n in zip(cap_t, cap_t[1:]) if n < p)
    if distinct < a.min_distinct:
        fail(f"only {distinct} different simple-shm frames in {len(cap)} captured: "
             "the capture does not follow the animation")
    # A frame read after weston repainted its buffer shows a later T, and the next one
    # then seems to go back: the same late read as a torn frame, counted with them.
    if n_torn + back > a.max_torn:
        fail(f"{n_torn} torn frames and {back} steps back in simple-shm's time in "
             f"{n_cap} captured frames, at most {a.max_torn} allowed: {cap_t}")

    by_t = {}
    for f, t in zip(cap, cap_t):
        by_t.setdefault(t, f)
    pairs = [(t, by_t[t], f) for f, t in zip(rb, rb_t) if t in by_t]
    if not pairs:
        fail(f"no read-back frame (T {rb_t}) is among the captured ones (T {cap_t[0]}.."
             f"{cap_t[-1]})")
    same = 0
    for t, c, r in pairs:
        if same_pixels(c, r):
            same += 1
        else:
            fail(f"T={t}: the captured frame and the scanout read back as root differ")
    if a.png:
        write_png(a.png, pairs[0][1] if pairs else cap[-1])

    print(f"weston-check: {SIZE}x{SIZE} window at {x0},{y0}; captured {n_cap} frames, {distinct} distinct, "
          f"T {cap_t[0]}..{cap_t[-1]}; read back {len(rb)}: {len(pairs)} with a captured T, "
          f"{same} of them pixel-identical; {n_torn} captured torn, {back} steps back; "
          f"background 0x{bg:06x}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
