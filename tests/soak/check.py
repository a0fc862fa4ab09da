#!/usr/bin/env python3
"""The soak's assertions on the logs guest-soak.sh leaves in OUT.

Fault windows (declared here, not discovered): each starts at the fault and lasts
WINDOW_S (3 s), except the PipeWire restart (from the kill to 6 s after PipeWire is back:
WirePlumber must relink) and the CRTC off (from "off" to 3 s after the next flip). FB
re-creation, a mode change and a helper kill are faults too: each forces a renegotiation
or a new export. Frames flipped outside every window while a steady consumer was connected
must all arrive at it (decoded from the pixels), up to SOAK_MAX_LOST_PERMILLE (default 10)
per mille lost to TCG scheduling; the figure is printed either way.

Other assertions: no segfault in the kernel log; the daemon alive at the end and exited 0
(guest-soak.sh checks the exit); the daemon's fds within FD_SLACK and RSS within RSS_SLACK_KB
of the start sample; the helper's fds within FD_SLACK of the first helper's; no sample with
more than MAX_LIVE_GEM live GEM handles in the helper, or a handle number above
MAX_GEM_HANDLE; Shmem within SHMEM_SLACK_KB of the start; and after each fault window a
frame delivered within RECOVER_S.

The lost-frame bound and the RECOVER_S bound measure the bench's speed: when only they fail,
the exit status is 3 (tests/vm/timing-retry runs the soak once more); any other failure
exits 1.
"""
import glob
import os
import re
import sys

KV = re.compile(r"(\w+)=(\S+)")
WINDOW_S = 3.0
PW_WINDOW_S = 6.0
RECOVER_S = 10.0
FD_SLACK = 6
RSS_SLACK_KB = 16 * 1024
SHMEM_SLACK_KB = 64 * 1024
# The helper keeps the handles of the last HELPER_MAX_KEPT_FBS (16) primary FBs it exported
# on a connection (one each: the producer's FBs have one plane), so that CHECK can tell a
# reused FB id from the FB it exported; an export holds up to 4 more for a moment. A leak
# climbs past both bounds within the soak's hundreds of exports.
MAX_LIVE_GEM = 16 + 4
MAX_GEM_HANDLE = 32
NS = 1e9


def kv(line):
    return dict(KV.findall(line))


def main(out):
    failures, timing = [], []

    def check(ok, msg, slow=False):
        print(("ok   " if ok else ("FAIL (timing) " if slow else "FAIL ")) + msg)
        if not ok:
            (timing if slow else failures).append(msg)

    flips, seen_fbs, windows = [], set(), []
    initial = True
    off_t = None
    for line in open(os.path.join(out, "producer.log")):
        d = kv(line)
        if line.startswith("flip "):
            t, fb = int(d["t_ns"]), int(d["fb"])
            flips.append((t, int(d["frame"]) & 0xFFFFF))
            if off_t is not None:
                windows.append(("crtc-off", off_t, t + WINDOW_S * NS))
                off_t = None
            if d.get("via") == "modeset" and not initial:
                windows.append(("modeset", t, t + WINDOW_S * NS))
            if fb not in seen_fbs and len(seen_fbs) >= 3:
                windows.append(("fb-recreate", t, t + WINDOW_S * NS))
            seen_fbs.add(fb)
            initial = False
        elif line.startswith("off "):
            off_t = int(d["t_ns"])
    pw_kill = None
    flaps = 0
    for line in open(os.path.join(out, "faults.log")):
        d = kv(line)
        if line.startswith("fault helper-kill"):
            windows.append(("helper-kill", int(d["t_ns"]), int(d["t_ns"]) + WINDOW_S * NS))
        elif line.startswith("fault pipewire-restart"):
            pw_kill = int(d["t_ns"])
        elif line.startswith("fault pipewire-back") and pw_kill:
            windows.append(("pipewire-restart", pw_kill, int(d["t_ns"]) + PW_WINDOW_S * NS))
        elif line.startswith("flap connect"):
            flaps += 1
        elif line.startswith("fault daemon-died"):
            check(False, "daemon died during the soak")
    # One window per event: a re-creation brings several new FBs within a few flips.
    windows.sort(key=lambda w: w[1])
    merged = []
    for w in windows:
        if merged and merged[-1][0] == w[0] and w[1] - merged[-1][1] < 1 * NS:
            continue
        merged.append(w)
    windows = merged
    kinds = {}
    for k, _, _ in windows:
        kinds[k] = kinds.get(k, 0) + 1
    print("fault windows: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))
          + f"; flapping consumer connected {flaps} times")
    for k in ("helper-kill", "pipewire-restart", "modeset", "crtc-off", "fb-recreate"):
        check(kinds.get(k, 0) > 0, f"fault {k} applied")

    def in_window(t):
        return any(a - 0.05 * NS <= t <= b for _, a, b in windows)

    # What the steady consumers got, and when they were connected.
    got, spans, received, undecoded = {}, [], 0, []
    for path in sorted(glob.glob(os.path.join(out, "steady.*.log"))):
        first = last = None
        for line in open(path):
            if line.startswith("buf "):
                d = kv(line)
                t, f = int(d["t_ns"]), int(d["frame"])
                received += 1
                first = t if first is None else first
                last = t
                if f >= 0:
                    got.setdefault(f, t)
                else:
                    undecoded.append(t)
        if first is not None:
            spans.append((first, last))
    check(bool(spans), f"steady consumer received frames ({received} buffers, {len(spans)} sessions)")
    wanted = [(t, f) for t, f in flips
              if any(a + 1 * NS <= t <= b - 0.5 * NS for a, b in spans) and not in_window(t)]
    lost = [(t, f) for t, f in wanted if f not in got]
    permille = int(os.environ.get("SOAK_MAX_LOST_PERMILLE", "10"))
    print(f"frames outside fault windows while connected: {len(wanted)}, delivered "
          f"{len(wanted) - len(lost)}, lost {len(lost)}")
    if lost:
        print("  first lost frames: " + " ".join(str(f) for _, f in lost[:20]))
        # A frame is lost to the consumer both when no buffer came and when one came that it
        # could not decode: the second is the consumer's mapping or the buffer's content,
        # which its stderr says (pw-min-consumer's "not decoded" lines).
        bad = [t for t in undecoded if not in_window(t)]
        print(f"  buffers received outside fault windows that did not decode: {len(bad)}")
        err = os.path.join(out, "steady.err")
        if bad and os.path.exists(err):
            for line in open(err):
                if "not decoded" in line:
                    print("  " + line.rstrip())
    check(len(wanted) > 0, "frames flipped outside fault windows while connected")
    check(len(lost) * 1000 <= permille * len(wanted),
          f"lost outside fault windows <= {permille} per mille", slow=True)

    # Back to streaming after each fault window.
    deliveries = sorted(got.values())
    end_of_run = spans[-1][1] if spans else 0
    for k, a, b in windows:
        if b + RECOVER_S * NS > end_of_run:
            continue  # too close to the end to tell
        back = next((t for t in deliveries if t > b), None)
        check(back is not None, f"streaming again after {k} at {a / NS:.1f} s")
        if back is not None:
            check(back - b <= RECOVER_S * NS, f"streaming again after {k} within {RECOVER_S:.0f} s"
                  f" of its window ({(back - a) / NS:.1f} s after the fault)", slow=True)

    samples = [kv(line) for line in open(os.path.join(out, "samples.log"))]
    start = next((s for s in samples if s.get("tag") == "start"), None)
    end = next((s for s in samples if s.get("tag") == "end"), None)
    check(start is not None and end is not None, "start and end samples taken")
    if start and end:
        def delta(key):
            return int(end.get(key, 0)) - int(start.get(key, 0))
        print(f"daemon fds {start['daemon_fds']} -> {end['daemon_fds']}, RSS "
              f"{start['daemon_rss_kb']} -> {end['daemon_rss_kb']} kB, peak {end['daemon_hwm_kb']} kB;"
              f" Shmem {start['shmem_kb']} -> {end['shmem_kb']} kB")
        check(delta("daemon_fds") <= FD_SLACK, f"daemon fds within {FD_SLACK} of start")
        check(delta("daemon_rss_kb") <= RSS_SLACK_KB, f"daemon RSS within {RSS_SLACK_KB} kB of start")
        check(delta("shmem_kb") <= SHMEM_SLACK_KB, f"Shmem within {SHMEM_SLACK_KB} kB of start")
    helpers = [s for s in samples if s.get("helper_pid", "0") != "0" and "helper_fds" in s]
    if helpers:
        base = int(helpers[0]["helper_fds"])
        worst = max(int(s["helper_fds"]) for s in helpers)
        rss = [int(s["helper_rss_kb"]) for s in helpers]
        pids = sorted({s["helper_pid"] for s in helpers})
        print(f"helper: {len(pids)} processes seen, fds {base} .. {worst}, RSS {min(rss)} .. {max(rss)} kB")
        check(worst - base <= FD_SLACK, f"helper fds within {FD_SLACK} of the first sample")
        check(max(rss) - rss[0] <= 4096, "helper RSS within 4096 kB of the first sample")
    gem = [s for s in samples if "handles" in s]
    if gem:
        live = max(int(s["handles"]) for s in gem)
        top = max(int(s["max_handle"]) for s in gem)
        print(f"helper GEM handles over {len(gem)} samples: at most {live} live, highest number {top}")
        check(live <= MAX_LIVE_GEM and top <= MAX_GEM_HANDLE,
              f"GEM handles not climbing (<= {MAX_LIVE_GEM} live, numbers <= {MAX_GEM_HANDLE})")
    else:
        check(False, "GEM handles sampled")

    dmesg = open(os.path.join(out, "dmesg.log")).read() if os.path.exists(
        os.path.join(out, "dmesg.log")) else ""
    crashes = [l for l in dmesg.splitlines() if "segfault" in l or "general protection" in l]
    check(not crashes, "no crash in the kernel log" + (": " + crashes[0] if crashes else ""))
    stats = [l for l in open(os.path.join(out, "daemon.log")) if "gone;" in l] \
        if os.path.exists(os.path.join(out, "daemon.log")) else []
    for l in stats[-3:]:
        print("node: " + l.strip()[-200:])

    if failures:
        print(f"soak: {len(failures)} failed" + (f", {len(timing)} timing" if timing else ""))
        return 1
    if timing:
        print(f"soak: only timing checks failed ({len(timing)})")
        return 3
    print("soak: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
