#!/usr/bin/env python3
"""Turns the benchmark's raw logs (tests/bench/guest-bench.sh) into the table and JSON.

Accounting, per contestant log (pw-min-consumer's or kmsgrab-probe's):
  - The window is [start_ns, end_ns] from the log; "flipped" is the number of producer
    flips (on that contestant's CRTC) whose completion time falls inside it.
  - kmscast: each buffer's frame number is decoded from the pixels (pattern.h). ffmpeg:
    each grab's FB id and time map to the last flip at or before the grab that showed that
    FB (the frame on screen when kmsgrab read the plane).
  - distinct = producer frames in the window that arrived at least once; dups = buffers
    beyond the first for a frame; gaps = flipped - distinct; undecoded = buffers without
    a readable frame (torn, or the node's cursor-only buffers).
  - latency = receipt (grab) time - flip completion time of that frame, first receipt:
    on vkms the producer's flip event, i.e. the vblank that latched the frame. min, median
    and p99 (a set of consumers: the smallest min, the median of medians, the largest p99).
  - cpu/frame = run time (sum of the threads' sum_exec_runtime, ns precision) of the
    measured processes over the window / distinct frames; ticks (utime+stime, 10 ms)
    are shown too, as the brief asks for them.
  - wake-ups/frame = the serving side's voluntary context switches over the window (each
    is a sleep a thread woke from) / distinct frames; syscalls/frame = perf stat's count of
    its raw_syscalls:sys_enter over the same window (<contestant>.perf) / distinct frames.
    The serving side is ffmpeg, or kmscast's daemon plus its helper, or for
    kmscast-pwhosted (the node hosted by the PipeWire server) the server plus the helper,
    which then has no separate PipeWire column.
"""
import json
import os
import re
import statistics
import sys

KV = re.compile(r"(\w+)=(\S+)")


def kv(line):
    return dict(KV.findall(line))


def load_producer(path):
    flips = {}  # crtc index -> list of (t_ns, frame, fb)
    sizes = {}
    for line in open(path):
        if line.startswith("flip "):
            d = kv(line)
            flips.setdefault(int(d["index"]), []).append(
                (int(d["t_ns"]), int(d["frame"]), int(d["fb"])))
        elif line.startswith("mode "):
            d = kv(line)
            sizes[int(d["index"])] = d["size"]
    return flips, sizes


def load_contestant(path):
    recs, window, watch, consumer = [], {}, [], {}
    for line in open(path):
        if line.startswith("buf "):
            d = kv(line)
            recs.append((int(d["t_ns"]), int(d["frame"]), int(d["size"])))
        elif line.startswith("grab "):
            d = kv(line)
            recs.append((int(d["t_ns"]), None, int(d["fb"])))
        elif line.startswith("window "):
            window = {k: int(v) for k, v in kv(line).items()}
        elif line.startswith("watch "):
            watch.append(kv(line))
        elif line.startswith("consumer "):
            consumer = kv(line)
    return recs, window, watch, consumer


def perf_counts(path):
    """{thread: count} from a `perf stat -x ,` output file (one line per thread with
    --per-thread, whose first field is comm-tid; one line without), or None."""
    if not os.path.exists(path):
        return None
    counts = {}
    for line in open(path):
        if line.startswith("#") or "raw_syscalls:sys_enter" not in line:
            continue
        f = line.rstrip("\n").split(",")
        thread, count = (f[0], f[1]) if not f[0].isdigit() else ("all", f[0])
        if count.isdigit():
            counts[thread] = counts.get(thread, 0) + int(count)
    return counts or None


def perf_count(path):
    """The system calls counted in a perf stat output file, or None (no perf)."""
    counts = perf_counts(path)
    return sum(counts.values()) if counts else None


def frame_for_grab(flips, t, fb):
    """The producer frame kmsgrab got when it read FB id fb from the plane at time t.

    The plane's FB_ID changes when the producer commits a flip, not when the flip completes
    (the logged vblank time): a grab between the two reads the pending frame. So the
    candidates are the last completed flip and the next one, then older ones; with n
    buffers an FB id repeats every n flips, and the nearest flip showing it wins.
    """
    lo, hi = 0, len(flips)
    while lo < hi:
        mid = (lo + hi) // 2
        if flips[mid][0] <= t:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1
    for j in (i, i + 1, i - 1, i - 2):
        if 0 <= j < len(flips) and flips[j][2] == fb:
            return flips[j][1]
    return None


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def analyze(path, flips_by_crtc, crtc, bpp=4, size=None):
    recs, window, watch, consumer = load_contestant(path)
    flips = flips_by_crtc.get(crtc, [])
    t0, t1 = window.get("start_ns", 0), window.get("end_ns", 0)
    flip_time = {f: t for t, f, _ in flips}
    in_window = [f for t, f, _ in flips if t0 <= t <= t1]
    first_seen, counts, undecoded = {}, {}, 0
    for t, frame, extra in recs:
        if not (t0 <= t <= t1):
            continue
        if frame is None:  # a kmsgrab grab: extra is the FB id
            frame = frame_for_grab(flips, t, extra)
        if frame is None or frame < 0:
            undecoded += 1
            continue
        counts[frame] = counts.get(frame, 0) + 1
        first_seen.setdefault(frame, t)
    wanted = set(in_window)
    distinct = len(wanted & set(counts))
    dups = sum(c - 1 for c in counts.values())
    lat = [(first_seen[f] - flip_time[f]) / 1e6 for f in first_seen if f in flip_time]
    procs = {}
    for w in watch:
        procs.setdefault(w["name"], {"run_ns": 0, "ticks": 0, "wakeups": 0, "hwm_kb": 0})
        p = procs[w["name"]]
        p["run_ns"] += int(w["run_ns"])
        p["ticks"] += int(w["ticks"])
        p["wakeups"] += int(w.get("wakeups", 0))
        p["hwm_kb"] = max(p["hwm_kb"], int(w["hwm_kb"]))
    return {
        "log": os.path.basename(path),
        "complete": bool(window.get("complete", 0)),
        "window_s": (t1 - t0) / 1e9 if t1 > t0 else 0,
        "buffers": sum(counts.values()) + undecoded,
        "flipped": len(in_window),
        "distinct": distinct,
        "dups": dups,
        "gaps": len(in_window) - distinct,
        "undecoded": undecoded,
        "lat_min_ms": min(lat) if lat else None,
        "lat_med_ms": statistics.median(lat) if lat else None,
        "lat_p99_ms": percentile(lat, 99),
        "procs": procs,
        "data": consumer.get("data", "dmabuf" if "ffmpeg" in path else None),
        "size": size,
    }


def metas(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d.setdefault(k, v)
    return d


def scenario(dirpath):
    flips, sizes = load_producer(os.path.join(dirpath, "producer.log"))
    groups = {}
    for name in sorted(os.listdir(dirpath)):
        m = re.match(r"(ffmpeg)\.(\d+)\.log$", name) or \
            re.match(r"(kmscast-\w+-x\d+)\.(\d+)\.\d+\.log$", name)
        if not m:
            continue
        crtc = int(m.group(2))
        r = analyze(os.path.join(dirpath, name), flips, crtc, size=sizes.get(crtc))
        r["load"] = metas(os.path.join(dirpath, name[:-4] + ".meta")).get("load")
        # ffmpeg.<crtc>.perf beside each ffmpeg; one <contestant>.perf per kmscast set
        perf = os.path.join(dirpath, (
            f"ffmpeg.{crtc}" if m.group(1) == "ffmpeg" else m.group(1)) + ".perf")
        r["syscalls"] = perf_count(perf)
        r["syscalls_by_thread"] = perf_counts(perf)
        groups.setdefault(m.group(1), []).append(r)
    rows = []
    for name, rs in groups.items():
        rows.append(summarize(os.path.basename(dirpath), name, rs))
    return rows


def summarize(scen, name, rs):
    """One table row: consumers' frame figures summed/merged, CPU of the serving side."""
    w, h = (int(x) for x in (rs[0]["size"] or "0x0").split("x"))
    shm = name.startswith("kmscast-shm")
    ffmpeg = name == "ffmpeg"
    hosted = name.startswith("kmscast-pwhosted")
    distinct = sum(r["distinct"] for r in rs)
    # The serving side: ffmpeg itself, or kmscast's daemon + helper (the first consumer's
    # window; all consumers of a set run at once). PipeWire's server is shown apart.
    if ffmpeg:
        serve = {k: sum(r["procs"].get("ffmpeg", {}).get(k, 0) for r in rs)
                 for k in ("run_ns", "ticks", "wakeups")}
        counts = [r["syscalls"] for r in rs]
        syscalls = sum(counts) if None not in counts else None
        hwm = max(r["procs"].get("ffmpeg", {}).get("hwm_kb", 0) for r in rs)
        pw = None
    else:
        # one consumer per node carries the watch; with K consumers on one node the
        # daemon's CPU is counted once, from consumer 1 of each node
        firsts = [r for r in rs if r["log"].endswith(".1.log")] or rs[:1]
        # Every node's first consumer watches the same daemon over about the same window:
        # the daemon's CPU is their mean, and it served all of their frames.
        # A node the PipeWire server hosts: the server is the serving side, node and graph
        # work in one process, so it has no separate server column.
        host = "pipewire" if hosted else "kmscast"
        serve = {k: sum(r["procs"].get(host, {}).get(k, 0)
                        + r["procs"].get("kmscast-helper", {}).get(k, 0) for r in firsts)
                 / len(firsts) for k in ("run_ns", "ticks", "wakeups")}
        # counted once per set, over the first consumer of the first node's window
        syscalls = rs[0]["syscalls"]
        hwm = max(r["procs"].get(host, {}).get("hwm_kb", 0) for r in rs)
        hwm_helper = max(r["procs"].get("kmscast-helper", {}).get("hwm_kb", 0) for r in rs)
        hwm = hwm + hwm_helper
        pw = None if hosted else (
            sum(r["procs"].get("pipewire", {}).get("run_ns", 0) for r in firsts) / len(firsts))
        firsts_distinct = sum(r["distinct"] for r in firsts)
    per_frame_distinct = distinct if ffmpeg else firsts_distinct
    lat_min = [r["lat_min_ms"] for r in rs if r["lat_min_ms"] is not None]
    lat_med = [r["lat_med_ms"] for r in rs if r["lat_med_ms"] is not None]
    lat_p99 = [r["lat_p99_ms"] for r in rs if r["lat_p99_ms"] is not None]
    return {
        "scenario": scen,
        "contestant": name,
        "consumers": len(rs),
        "size": f"{w}x{h}",
        "path": "shm copy" if shm else ("dma-buf (kmsgrab)" if ffmpeg else
                                        "dma-buf, in pipewire" if hosted else "dma-buf"),
        "complete": all(r["complete"] for r in rs),
        "flipped": sum(r["flipped"] for r in rs),
        "distinct": distinct,
        "dups": sum(r["dups"] for r in rs),
        "gaps": sum(r["gaps"] for r in rs),
        "undecoded": sum(r["undecoded"] for r in rs),
        "cpu_us_per_frame": serve["run_ns"] / 1e3 / per_frame_distinct if per_frame_distinct else None,
        "cpu_ticks": serve["ticks"],
        "pipewire_us_per_frame": (pw / 1e3 / per_frame_distinct) if pw is not None and per_frame_distinct else None,
        "wakeups_per_frame": serve["wakeups"] / per_frame_distinct if per_frame_distinct else None,
        "syscalls_per_frame": (syscalls / per_frame_distinct
                               if syscalls is not None and per_frame_distinct else None),
        "copied_bytes_per_frame": w * h * 4 if shm else 0,
        "lat_min_ms": min(lat_min) if lat_min else None,
        "lat_med_ms": statistics.median(lat_med) if lat_med else None,
        "lat_p99_ms": max(lat_p99) if lat_p99 else None,
        "peak_rss_kb": hwm,
        "load": rs[0].get("load"),
        "per_consumer": rs,
    }


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows):
    hdr = ("scenario", "contestant", "n", "path", "flipped", "distinct", "dups", "gaps",
           "cpu us/frame", "wake-ups/frame", "syscalls/frame", "pw us/frame", "copied B/frame",
           "lat min ms", "lat med ms", "lat p99 ms",
           "peak RSS MB", "load")
    out = [hdr]
    for r in rows:
        out.append((r["scenario"], r["contestant"], str(r["consumers"]), r["path"],
                    str(r["flipped"]), str(r["distinct"]), str(r["dups"]), str(r["gaps"]),
                    fmt(r["cpu_us_per_frame"], ".0f"), fmt(r.get("wakeups_per_frame"), ".1f"),
                    fmt(r.get("syscalls_per_frame"), ".1f"), fmt(r["pipewire_us_per_frame"], ".0f"),
                    str(r["copied_bytes_per_frame"]), fmt(r.get("lat_min_ms"), ".1f"),
                    fmt(r["lat_med_ms"], ".1f"),
                    fmt(r["lat_p99_ms"], ".1f"), fmt(r["peak_rss_kb"] / 1024, ".1f"),
                    (r["load"] or "-").split()[0]))
    widths = [max(len(row[i]) for row in out) for i in range(len(hdr))]
    lines = []
    for i, row in enumerate(out):
        lines.append("| " + " | ".join(c.ljust(widths[j]) for j, c in enumerate(row)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def flatness(rows):
    """Zero-copy cost flat across resolution: 4K per-frame CPU within 1.5x of 1080p."""
    def find(s):
        for r in rows:
            if r["scenario"] == s and r["contestant"] == "kmscast-dmabuf-x1":
                return r["cpu_us_per_frame"]
        return None
    a, b = find("vkms-1080p"), find("vkms-4k")
    if a is None or b is None:
        return None
    return {"1080p_us": a, "4k_us": b, "ratio": b / a, "flat": b / a <= 1.5}


def main():
    out_dir = sys.argv[1]
    rows = []
    for d in sorted(os.listdir(out_dir)):
        p = os.path.join(out_dir, d)
        if os.path.isfile(os.path.join(p, "producer.log")):
            rows.extend(scenario(p))
    flat = flatness(rows)
    print(table(rows))
    if flat:
        print(f"\nzero-copy per-frame CPU 1080p {flat['1080p_us']:.0f} us, 4K {flat['4k_us']:.0f} us"
              f" (x{flat['ratio']:.2f}): {'FLAT' if flat['flat'] else 'NOT FLAT'}")
    json_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(out_dir, "bench.json")
    with open(json_path, "w") as f:
        json.dump({"rows": rows, "zero_copy_flat": flat}, f, indent=1)
    print(f"\nJSON: {json_path}")


if __name__ == "__main__":
    main()
