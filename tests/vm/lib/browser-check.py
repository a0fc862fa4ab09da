#!/usr/bin/python3
"""Judges what a browser's page (lib/browser/loop.js) decoded after its WebRTC loop.

  browser-check.py --name NAME --width W --height H [--warmup W] [--seconds S]
                   [--min-frames N] [--max-stall-ms MS] [--pw-dump FILE] RESULT_JSON

Passes when the page finished without an error, the shared track was the monitor's size,
and in the S seconds (20) that start W seconds (0) after the first decoded frame: at least N
frames (100) decoded, no frame number below the one before (a repeat, the browser resending
its last captured frame, is counted but allowed), and no frame more than MS (1000) ms after
the one before it (the one before may be in the warm-up). The warm-up is the WebRTC loop
starting: its frames are counted and its longest gap printed, not judged. Prints one summary
line either way, the WebRTC stats, with --pw-dump the params of the browser's PipeWire
stream (EnumFormat, Format, Buffers, Meta), then each failed condition as "FAIL: ...".

Exits 0 when it passes, 1 when the content is wrong (the page failed, the size, a number going
back), and 3 when only the pace failed (too few frames, a stall): a figure of the bench's
speed under TCG, which tests/vm/timing-retry runs once more.
"""
import argparse
import json
import sys


# The blocks pattern carries the frame number mod 4096 (tests/tools/pattern.h).
FRAME_MOD = 4096


def unwrap(nums):
    """Frame numbers mod 4096 made monotonic: a step back by more than half the range is a
    wrap (at 30 Hz, 68 s between two decoded frames, far beyond any stall the test allows)."""
    out, base = [], 0
    for i, n in enumerate(nums):
        if i and n + base < out[-1] - FRAME_MOD // 2:
            base += FRAME_MOD
        out.append(n + base)
    return out


def consumer_params(dump_path, name):
    """Prints what the browser's PipeWire stream asked for: its input port's params."""
    try:
        with open(dump_path) as f:
            objs = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{name}: no graph dump: {e}")
        return
    streams = {o["id"] for o in objs if o.get("type") == "PipeWire:Interface:Node" and
               ((o.get("info") or {}).get("props") or {}).get("media.class") == "Stream/Input/Video"}
    for o in objs:
        info = o.get("info") or {}
        if o.get("type") != "PipeWire:Interface:Port" or (info.get("props") or {}).get("node.id") not in streams:
            continue
        for pid in ("EnumFormat", "Format", "Buffers", "Meta"):
            for p in (info.get("params") or {}).get(pid, []):
                print(f"{name}: consumer {pid} {json.dumps(p, separators=(',', ':'))}")


def stat_line(stats, key, fields):
    for name, s in (stats or {}).items():
        if name.startswith(key):
            return " ".join(f"{f}={s[f]}" for f in fields if f in s)
    return "none"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--warmup", type=float, default=0)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--min-frames", type=int, default=100)
    ap.add_argument("--max-stall-ms", type=float, default=1000)
    ap.add_argument("--pw-dump", help="pw-dump taken while streaming: print the consumer's params")
    ap.add_argument("result")
    args = ap.parse_args()

    with open(args.result) as f:
        r = json.load(f)
    fails = []  # content
    slow = []  # pace only
    if r.get("state") != "done":
        fails.append(f"page state {r.get('state')}: {r.get('error')}")
    # The settings once frames flowed: Chromium reports the X screen's size before that.
    cap = r.get("capturedEnd") or r.get("captured") or {}
    if (cap.get("width"), cap.get("height")) != (args.width, args.height):
        fails.append(f"shared track is {cap.get('width')}x{cap.get('height')}, "
                     f"the monitor {args.width}x{args.height}")

    start_ms, end_ms = args.warmup * 1000, (args.warmup + args.seconds) * 1000
    recorded = [f for f in r.get("frames", []) if f[1] <= end_ms]
    first = next((i for i, f in enumerate(recorded) if f[1] >= start_ms), len(recorded))
    warm, frames = recorded[:first], recorded[first:]
    nums = unwrap([f[0] for f in frames])
    times = [f[1] for f in frames]
    dup = sum(1 for a, b in zip(nums, nums[1:]) if b == a)
    back = sum(1 for a, b in zip(nums, nums[1:]) if b < a)
    missing = sum(b - a - 1 for a, b in zip(nums, nums[1:]) if b > a + 1)
    # The first frame of the window is judged against the last one of the warm-up.
    chain = ([warm[-1][1]] if warm else []) + times
    gaps = [b - a for a, b in zip(chain, chain[1:])]
    stall = max(gaps) if gaps else None
    warm_times = [f[1] for f in warm]
    warm_stall = max((b - a for a, b in zip(warm_times, warm_times[1:])), default=None)
    sizes = sorted({f"{f[2]}x{f[3]}" for f in frames})
    span_s = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0
    if args.warmup:
        print(f"{args.name}: warm-up, the first {args.warmup:g} s after the first decoded frame "
              f"(not judged): decoded={len(warm)} max_stall_ms={warm_stall}")
    print(f"{args.name}: decoded={len(nums)} in {span_s:.1f} s "
          f"({len(nums) / span_s if span_s else 0:.1f}/s) "
          f"first={nums[0] if nums else None} last={nums[-1] if nums else None} "
          f"duplicates={dup} backwards={back} skipped_numbers={missing} max_stall_ms={stall} "
          f"received_sizes={','.join(sizes) or 'none'} seen={r.get('seen')} via {r.get('feeder')} "
          f"undecodable={json.dumps(r.get('bad'))} "
          f"captured={cap.get('width')}x{cap.get('height')}@{cap.get('frameRate')}")
    local = r.get("local") or {}
    lnums = unwrap(local.get("frames", []))
    if local.get("seen"):
        print(f"{args.name}: shared track before WebRTC: seen={local.get('seen')} "
              f"decoded={len(lnums)} undecodable={json.dumps(local.get('bad'))} "
              f"backwards={sum(1 for a, b in zip(lnums, lnums[1:]) if b < a)} "
              f"duplicates={sum(1 for a, b in zip(lnums, lnums[1:]) if b == a)}")
    stats = r.get("stats")
    print(f"{args.name}: sender " + stat_line(stats, "sender.outbound-rtp", (
        "encoderImplementation", "framesEncoded", "framesSent", "frameWidth", "frameHeight",
        "framesPerSecond", "qualityLimitationReason", "qualityLimitationResolutionChanges",
        "keyFramesEncoded", "totalEncodeTime")))
    print(f"{args.name}: receiver " + stat_line(stats, "receiver.inbound-rtp", (
        "decoderImplementation", "framesReceived", "framesDecoded", "framesDropped",
        "frameWidth", "frameHeight", "keyFramesDecoded", "freezeCount", "totalFreezesDuration")))
    print(f"{args.name}: codec " + stat_line(stats, "receiver.codec", ("mimeType",)))

    if args.pw_dump:
        consumer_params(args.pw_dump, args.name)

    if len(nums) < args.min_frames:
        slow.append(f"{len(nums)} frames decoded in {args.seconds:g} s after the warm-up, "
                     f"want {args.min_frames}")
    # A repeat is the browser's capturer sending its last frame again because its timer ran
    # ahead of the screen (Firefox does); only a number going back is a stale frame.
    if back:
        fails.append(f"frame numbers not increasing: {back} went back ({dup} repeats)")
    if stall is not None and stall > args.max_stall_ms:
        slow.append(f"a stall of {stall} ms between decoded frames")
    for msg in fails:
        print(f"FAIL: {args.name}: {msg}")
    for msg in slow:
        print(f"FAIL: {args.name}: {msg} (timing)")
    return 1 if fails else (3 if slow else 0)


if __name__ == "__main__":
    sys.exit(main())
