#!/usr/bin/python3
"""tests/vm/lib/browser-check.py, which judges a browser test's received frames: the warm-up
is left out of the judged window, a stall crossing into the window is judged, and each
condition fails on its own.

  test-browser-check.py SRC_DIR
"""
import json
import os
import subprocess
import sys
import tempfile


def result(gaps_ms, back_at=None, frames=200):
    """A page result: frames 3 numbers apart, 180 ms apart except where gaps_ms says."""
    out, t = [], 0
    for i in range(frames):
        n = 1000 + 3 * i
        if back_at is not None and i == back_at:
            n -= 10
        out.append([n % 4096, t, 320, 240])
        t += gaps_ms.get(i, 180)
    return {"state": "done", "capturedEnd": {"width": 320, "height": 240}, "frames": out}


def run(check, r, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(r, f)
    try:
        p = subprocess.run([sys.executable, check, "--name", "t", "--width", "320",
                            "--height", "240", *args, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return p.returncode, p.stdout


def main():
    check = os.path.join(sys.argv[1], "tests/vm/lib/browser-check.py")
    cases = [
        # (what, result, args, want exit status, a line the output must hold)
        ("steady frames pass", result({}), [], 0, "max_stall_ms=180"),
        ("a stall at the start fails without a warm-up", result({1: 1300}), [], 3,
         "FAIL: t: a stall of 1300 ms"),
        ("a stall in the warm-up is printed, not judged", result({1: 1300}),
         ["--warmup", "5"], 0, "(not judged): decoded="),
        ("a stall crossing into the window is judged", result({27: 1500}),
         ["--warmup", "5"], 3, "FAIL: t: a stall of 1500 ms"),
        ("a stall in the window fails", result({60: 1100}), ["--warmup", "5"], 3,
         "FAIL: t: a stall of 1100 ms between decoded frames (timing)"),
        ("too few frames in the window", result({}, frames=120), ["--warmup", "5"], 3,
         "after the warm-up, want 100"),
        ("a number going back in the window", result({}, back_at=80), ["--warmup", "5"], 1,
         "went back"),
        ("a number going back and a stall: content wins", result({60: 1100}, back_at=80),
         ["--warmup", "5"], 1, "went back"),
        ("the wrong size is content", dict(result({}), capturedEnd={"width": 640,
         "height": 480}), ["--warmup", "5"], 1, "shared track is 640x480"),
        ("a number going back in the warm-up is not judged", result({}, back_at=5),
         ["--warmup", "5"], 0, "backwards=0"),
    ]
    fails = 0
    for what, r, args, want, line in cases:
        rc, out = run(check, r, *args)
        if rc != want or line not in out:
            print(f"FAIL: {what}: exit {rc} (want {want}), {line!r} in output: {line in out}")
            print(out)
            fails += 1
        else:
            print(f"ok: {what}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
