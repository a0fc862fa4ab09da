#!/usr/bin/python3
"""Drives Debian's Chromium through chromedriver (python3-selenium) for t-browser-chromium.sh.

  drive-chromium.py --url URL --out DIR [--launch-timeout S] [--start-timeout S]
                    [--run-timeout S] [--hold FILE [--hold-timeout S]] -- FLAG...

Starts /usr/lib/chromium/chromium with FLAGS and a DevTools port, waits for it, attaches
chromedriver to it, opens URL (lib/browser/index.html) and clicks its share button
(getDisplayMedia needs a user gesture; a WebDriver click is one), waits until the page is
"done", writes the page's window.kmscast to DIR/result.json, takes a screenshot
(DIR/chromium.png) while the streams still run, keeps them running while --hold's FILE exists
(browser-lib.sh's probe), and stops the share (window.kmscastStop()). Chromium's stderr goes to
DIR/chromium.log, chromedriver's log to DIR/chromedriver.log.

Chromedriver is attached rather than left to launch the browser: it gives a browser 60 s to
come up, and Chromium under TCG on a busy host takes longer than that.

Exits 0 when the page got as far as "done", 1 otherwise (what the page decoded is judged by
browser-check.py, not here).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from drive_common import STATE_POLL_S, hold

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/lib/chromium/chromium"


def log(msg):
    print(f"drive-chromium: {msg}", flush=True)


def page_state(driver):
    return driver.execute_script("return window.kmscast ? window.kmscast.state : 'no page'")


def wait_state(driver, states, timeout):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = page_state(driver)
        if state in states or state == "error":
            return state
        time.sleep(STATE_POLL_S)
    return state


def screenshot(driver, path):
    """The page keeps streaming until told to stop, so the picture shows the live video.
    Chromium gives its renderer 10 s to answer: a busy one may need another try. The picture
    is no part of the verdict."""
    for attempt in range(3):
        try:
            driver.save_screenshot(path)
            return
        except TimeoutException as e:
            log(f"screenshot, try {attempt + 1}: {e.msg}")


def launch(flags, profile, out, timeout):
    """Starts Chromium; returns (process, DevTools port) once the port file exists."""
    port_file = os.path.join(profile, "DevToolsActivePort")
    if os.path.exists(port_file):
        os.unlink(port_file)
    stderr = open(os.path.join(out, "chromium.log"), "wb")
    proc = subprocess.Popen(
        [CHROMIUM, "--remote-debugging-port=0", f"--user-data-dir={profile}", *flags,
         "about:blank"],
        stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited {proc.returncode} at start")
        try:
            with open(port_file) as f:
                port = int(f.readline())
            log(f"chromium up in {time.monotonic() - t0:.1f} s, DevTools on port {port}")
            return proc, port
        except (OSError, ValueError):
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"chromium did not open its DevTools port in {timeout:.0f} s")


def log_targets(port):
    """What the browser runs besides the test's page: a WebUI started in the background
    (chrome://...) takes CPU from the judged loop under TCG."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            for t in json.load(r):
                log(f"target {t.get('type')} {t.get('url')}")
    except (OSError, ValueError) as e:
        log(f"no target list: {e}")


def drive(driver, args):
    driver.get(args.url)
    driver.find_element(By.ID, "share").click()
    t1 = time.monotonic()
    state = wait_state(driver, ("receiving", "done"), args.start_timeout)
    log(f"state {state} {time.monotonic() - t1:.1f} s after the click")
    if state in ("receiving", "done"):
        state = wait_state(driver, ("done",), args.run_timeout)
        log(f"state {state} {time.monotonic() - t1:.1f} s after the click")
    result = driver.execute_script("return JSON.stringify(window.kmscast)")
    # Kept before anything else runs in the browser: Chromium under TCG once went away
    # during the screenshot, and the page's result went with it.
    with open(os.path.join(args.out, "result.json"), "w") as f:
        f.write(result)
    for entry in json.loads(result).get("log", []):
        log(f"page: {entry}")
    log_targets(args.port)
    try:
        if state == "done":
            screenshot(driver, os.path.join(args.out, "chromium.png"))
            hold(args.hold, args.hold_timeout, log)
        driver.execute_script("if (window.kmscastStop) window.kmscastStop()")
    except WebDriverException as e:
        log(f"the browser went away after the result was taken: {e.msg}")
    return state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--launch-timeout", type=float, default=300)
    ap.add_argument("--start-timeout", type=float, default=180)
    ap.add_argument("--run-timeout", type=float, default=120)
    ap.add_argument("--hold", metavar="FILE",
                    help="after the result, keep the streams running while FILE exists")
    ap.add_argument("--hold-timeout", type=float, default=60)
    ap.add_argument("flags", nargs="*")
    args = ap.parse_args()

    proc, port = launch(args.flags, args.profile, args.out, args.launch_timeout)
    args.port = port
    state = None
    try:
        opts = webdriver.ChromeOptions()
        opts.debugger_address = f"127.0.0.1:{port}"
        service = Service("/usr/bin/chromedriver",
                          log_path=os.path.join(args.out, "chromedriver.log"))
        driver = webdriver.Chrome(service=service, options=opts)
        try:
            driver.set_script_timeout(60)
            log(f"chromedriver attached: Chromium {driver.capabilities.get('browserVersion')}")
            state = drive(driver, args)
        finally:
            try:
                driver.quit()
            except WebDriverException as e:
                log(f"chromedriver: {e.msg}")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            log("chromium did not exit on SIGTERM: killed")
    return 0 if state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
