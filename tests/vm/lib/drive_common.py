"""What drive-chromium.py and drive-firefox.py share: how often they ask the page for its
state, and the hold after its result.
"""
import os
import time

# Seconds between two reads of the page's state. Each read is a script run through the
# driver, the browser and its renderer: at 0.5 s chromedriver alone took 6 to 13 % of a vCPU
# under TCG (top in the VM, 2026-12-06), CPU the browser's codec is short of.
STATE_POLL_S = 2.0


def hold(path, timeout, log):
    """Waits while PATH exists, at most TIMEOUT seconds; says how long it held.

    browser-lib.sh creates the file before the driver starts and removes it once its probe
    of the daemon's node is done: the probe runs under the browser's load, but after the
    judged seconds.
    """
    if not path:
        return
    start = time.monotonic()
    while os.path.exists(path):
        if time.monotonic() - start > timeout:
            log(f"hold: {path} still there after {timeout:.0f} s, stopping anyway")
            return
        time.sleep(0.5)
    log(f"held the streams {time.monotonic() - start:.1f} s after the result")
