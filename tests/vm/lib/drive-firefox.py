#!/usr/bin/python3
"""Drives Debian's Firefox ESR over Marionette for t-browser-firefox.sh.

  drive-firefox.py --url URL --out DIR --profile DIR [--launch-timeout S]
                   [--start-timeout S] [--run-timeout S] [--hold FILE [--hold-timeout S]]

Debian 12 packages no geckodriver, but Firefox has the Marionette server built in
(-marionette): a WebDriver-like protocol of length-prefixed JSON messages over TCP. This
is the little of it the test needs: a session, navigation, a click (getDisplayMedia needs a
user gesture; Marionette's click is one), scripts and a screenshot.

Starts /usr/lib/firefox-esr/firefox-esr with the profile DIR (its user.js holds the prefs),
opens URL (lib/browser/index.html), clicks its share button, waits until the page is "done",
writes the page's window.kmscast to DIR/result.json, takes a screenshot (DIR/firefox.png)
while the streams still run, keeps them running while --hold's FILE exists (browser-lib.sh's
probe), and stops the share (window.kmscastStop()). Firefox's stdout and stderr go to
DIR/firefox.log.
Exits 0 when the page got as far as "done", 1 otherwise.
"""
import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time

from drive_common import STATE_POLL_S, hold

FIREFOX = "/usr/lib/firefox-esr/firefox-esr"
DEFAULT_PORT = 2828
# The W3C WebDriver key of an element reference.
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"


def log(msg):
    print(f"drive-firefox: {msg}", flush=True)


class Marionette:
    """One Marionette connection: send [0, id, name, params], read [1, id, error, result]."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.next_id = 0
        hello = self._read()
        if hello.get("applicationType") != "gecko":
            raise RuntimeError(f"not a Marionette server: {hello}")

    def _read(self):
        while b":" not in self.buf:
            self._fill()
        length, _, rest = self.buf.partition(b":")
        self.buf = rest
        n = int(length)
        while len(self.buf) < n:
            self._fill()
        msg, self.buf = self.buf[:n], self.buf[n:]
        return json.loads(msg)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("Marionette closed the connection")
        self.buf += chunk

    def call(self, name, params=None):
        self.next_id += 1
        body = json.dumps([0, self.next_id, name, params or {}]).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body)
        while True:
            reply = self._read()
            if reply[0] == 1 and reply[1] == self.next_id:
                break
        if reply[2]:
            raise RuntimeError(f"{name}: {reply[2].get('error')}: {reply[2].get('message')}")
        return reply[3]

    def script(self, source):
        return self.call("WebDriver:ExecuteScript", {"script": source, "args": []}).get("value")


def launch(profile, out, timeout):
    """Starts Firefox; returns (process, Marionette) once its server answers."""
    port_file = os.path.join(profile, "MarionetteActivePort")
    if os.path.exists(port_file):
        os.unlink(port_file)
    output = open(os.path.join(out, "firefox.log"), "wb")
    proc = subprocess.Popen(
        [FIREFOX, "-marionette", "-no-remote", "-profile", profile, "about:blank"],
        stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"firefox exited {proc.returncode} at start")
        try:
            try:
                with open(port_file) as f:
                    port = int(f.readline())
            except OSError:
                # The profile's marionette.port, for a Firefox that writes no port file.
                port = DEFAULT_PORT
            # Under TCG the first window, which a new session waits for, takes minutes.
            client = Marionette(port, 300)
            log(f"firefox up in {time.monotonic() - t0:.1f} s, Marionette on port {port}")
            return proc, client
        except (OSError, ValueError):
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"firefox's Marionette did not answer in {timeout:.0f} s")


def wait_state(m, states, timeout):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = m.script("return window.kmscast ? window.kmscast.state : 'no page'")
        if state in states or state == "error":
            return state
        time.sleep(STATE_POLL_S)
    return state


def drive(m, args):
    caps = m.call("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {}}})
    log(f"session: Firefox {caps.get('capabilities', {}).get('browserVersion')}")
    m.call("WebDriver:SetTimeouts", {"script": 60000, "pageLoad": 120000})
    m.call("WebDriver:Navigate", {"url": args.url})
    button = m.call("WebDriver:FindElement", {"using": "css selector", "value": "#share"})
    m.call("WebDriver:ElementClick", {"id": button["value"][ELEMENT_KEY]})
    t1 = time.monotonic()
    state = wait_state(m, ("receiving", "done"), args.start_timeout)
    log(f"state {state} {time.monotonic() - t1:.1f} s after the click")
    if state in ("receiving", "done"):
        state = wait_state(m, ("done",), args.run_timeout)
        log(f"state {state} {time.monotonic() - t1:.1f} s after the click")
    result = m.script("return JSON.stringify(window.kmscast)")
    with open(os.path.join(args.out, "result.json"), "w") as f:
        f.write(result)
    if state == "done":
        # The page keeps streaming until told to stop: the picture shows the live video.
        try:
            png = m.call("WebDriver:TakeScreenshot", {"full": False}).get("value")
            with open(os.path.join(args.out, "firefox.png"), "wb") as f:
                f.write(base64.b64decode(png))
        except (RuntimeError, OSError) as e:
            log(f"no screenshot: {e}")
        hold(args.hold, args.hold_timeout, log)
    m.script("if (window.kmscastStop) window.kmscastStop()")
    for entry in json.loads(result).get("log", []):
        log(f"page: {entry}")
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
    args = ap.parse_args()

    proc, m = launch(args.profile, args.out, args.launch_timeout)
    state = None
    try:
        state = drive(m, args)
        try:
            m.call("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (RuntimeError, ConnectionError, OSError):
            pass
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            log("firefox did not quit: killed")
    return 0 if state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
