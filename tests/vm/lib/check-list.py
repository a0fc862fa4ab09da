#!/usr/bin/python3
"""Checks `kmscast --list --json` snapshots against the test producer's log.

usage: check-list.py KIND CARD=PRODUCER_LOG[,CARD=PRODUCER_LOG...] LIST_JSON...

Every CRTC the producer drives must be reported active, with the producer's mode, and a
primary framebuffer of that size in XR24 whose modifier is LINEAR and explicit (vkms) or
implicit (virtio-gpu). Across the snapshots the primary FB id must change, and each id
seen must be one the producer created on that CRTC.
"""
import json
import re
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def producer_state(logs):
    """Maps (card, crtc id) to the FB ids the producer made there and its mode size.
    CRTC and FB ids are per card: two virtio-gpu cards both have CRTC 33."""
    fbs, sizes = {}, {}
    for item in logs.split(","):
        card, path = item.split("=", 1)
        n = 0
        for line in open(path):
            m = re.match(r"fb-create crtc=(\d+) index=\d+ fb=(\d+) size=(\d+)x(\d+)", line)
            if m:
                key = (card, int(m[1]))
                fbs.setdefault(key, set()).add(int(m[2]))
                sizes[key] = (int(m[3]), int(m[4]))
                n += 1
        if n == 0:
            fail(f"the producer on {card} created no framebuffer: " + open(path).read())
    return fbs, sizes


def main():
    kind, logs, snapshots = sys.argv[1], sys.argv[2], sys.argv[3:]
    fbs, sizes = producer_state(logs)
    seen = {crtc: set() for crtc in fbs}
    for snap in snapshots:
        doc = json.load(open(snap))
        active = {}
        for card in doc["cards"]:
            if "error" in card:
                fail(f"{card['name']}: {card['error']}")
            for crtc in card["crtcs"]:
                if crtc["active"]:
                    active[(card["name"], crtc["id"])] = (card, crtc)
        if set(active) != set(fbs):
            fail(f"{snap}: active CRTCs {sorted(active)}, producer drives {sorted(fbs)}")
        for crtc_id, (card, crtc) in active.items():
            w, h = sizes[crtc_id]
            mode, fb = crtc["mode"], crtc["primary"]["fb"]
            if (mode["width"], mode["height"]) != (w, h):
                fail(f"crtc {crtc_id}: mode {mode['width']}x{mode['height']}, want {w}x{h}")
            if (fb["width"], fb["height"]) != (w, h):
                fail(f"crtc {crtc_id}: fb {fb['width']}x{fb['height']}, want {w}x{h}")
            if fb["fourcc"] != "XR24" or fb["format"] != "XRGB8888":
                fail(f"crtc {crtc_id}: fourcc {fb['fourcc']} ({fb['format']}), want XR24")
            if kind == "vkms":
                want = (True, "LINEAR", "0x0000000000000000", True)
            else:
                want = (False, "implicit", "0x00ffffffffffffff", False)
            got = (fb["modifier_explicit"], fb["modifier_name"], fb["modifier"],
                   card["addfb2_modifiers"])
            if got != want:
                fail(f"crtc {crtc_id}: modifier {got}, want {want} on {kind}")
            if crtc["connector"] is None:
                fail(f"crtc {crtc_id}: no connector reported")
            if fb["id"] not in fbs[crtc_id]:
                fail(f"crtc {crtc_id}: fb {fb['id']} is not one the producer made")
            seen[crtc_id].add(fb["id"])
    for crtc_id, ids in seen.items():
        if len(ids) < 2:
            fail(f"crtc {crtc_id}: FB id never changed across {len(snapshots)} snapshots")
        print(f"crtc {crtc_id}: {sizes[crtc_id][0]}x{sizes[crtc_id][1]}, fb ids seen {sorted(ids)}")
    print(f"ok: {len(fbs)} CRTC(s) on {kind} match the producer")


main()
