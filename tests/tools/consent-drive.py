#!/usr/bin/python3
"""Drives kmscast-consent the way a screen reader or a GUI test would: through AT-SPI.

Waits for a kmscast-consent application on the accessibility bus, prints what its dialog
shows, ticks the rows asked for, then clicks Share or Cancel, or closes the window. Needs
python3-gi and gir1.2-atspi-2.0, and the dialog's session bus (hence its accessibility bus):
see tests/tools/consent-env.sh.

Printed, one fact per line, tab-separated (tests assert on these):
    dialog    PID
    title     Share your screen?
    label     TEXT                  (each text of the dialog, the app's prompt among them)
    row       ID  DESCRIPTION  CHECKED(0|1)
    remember  OFFERED(0|1)
    chose     ID ...                (the rows ticked when the answer is clicked)
    answer    share|cancel|close

Exit status: 0 when every dialog seen was answered as asked; 2 when no dialog came within
--timeout, or it did not show what --expect-rows/--pick/--remember need (it is then
cancelled, never left open).
"""
import argparse
import re
import sys
import time
import warnings

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

# at-spi2-core 2.46 marks get_action_name deprecated without a replacement in its GI API.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

APP_NAME = "kmscast-consent"
TITLE = "Share your screen?"
# Row names: "Dell U2415 1920x1200 (card0:HDMI-A-1)", or the id alone.
ROW_NAME = re.compile(r"^(?:(.*) )?\(([^()\s]+)\)$")
POLL = 0.05


class DriveError(Exception):
    pass


def children(acc):
    for i in range(acc.get_child_count()):
        child = acc.get_child_at_index(i)
        if child is not None:
            yield child


def walk(acc):
    yield acc
    for child in children(acc):
        yield from walk(child)


def fresh(acc):
    """GTK sends state changes as events; read the state itself, not a cached copy."""
    acc.clear_cache()
    return acc


def checked(acc):
    return fresh(acc).get_state_set().contains(Atspi.StateType.CHECKED)


def action_index(acc, wanted):
    """The index of action `wanted` ("click") or of one named "<group>.wanted"."""
    if "Action" not in acc.get_interfaces():
        return None
    for i in range(Atspi.Action.get_n_actions(acc)):
        name = Atspi.Action.get_action_name(acc, i)
        if name == wanted or name.endswith("." + wanted):
            return i
    return None


def click(acc):
    idx = action_index(acc, "click")
    if idx is None:
        raise DriveError(f"{acc.get_role_name()} '{acc.get_name()}' has no click action")
    if not Atspi.Action.do_action(acc, idx):
        raise DriveError(f"click on '{acc.get_name()}' refused")


def final(what, acc):
    """Share, Cancel and closing end the dialog: it may exit before its reply is sent."""
    try:
        what(acc)
    except GLib.GError as e:
        if "disconnected" not in e.message:
            raise


def close_window(frame):
    """What the title bar's close button or the compositor's close does: window.close."""
    idx = action_index(frame, "close")
    if idx is None or not Atspi.Action.do_action(frame, idx):
        raise DriveError("the window has no window.close action")


class Dialog:
    """What one kmscast-consent window shows, found by role and accessible name."""

    def __init__(self, app):
        self.app = app
        self.frame = next((c for c in children(app) if c.get_name() == TITLE), None)
        self.rows = []
        self.labels = []
        self.remember = None
        self.buttons = {}
        if self.frame is None:
            return
        for acc in walk(self.frame):
            role, name = acc.get_role(), acc.get_name()
            if role == Atspi.Role.PUSH_BUTTON and name in ("Share", "Cancel"):
                self.buttons[name] = acc
            elif role in (Atspi.Role.CHECK_BOX, Atspi.Role.RADIO_BUTTON):
                if name == "Remember for this app":
                    self.remember = acc
                # GTK 4.8 names the rows' box "Monitors"; 4.18 exposes it as an unnamed
                # panel: a row is then known by its own name, "DESCRIPTION (CARD:CONNECTOR)".
                elif acc.get_parent().get_name() == "Monitors" or ROW_NAME.match(name):
                    self.rows.append(acc)
            elif role == Atspi.Role.LABEL and acc.get_parent().get_role() not in (
                    Atspi.Role.CHECK_BOX, Atspi.Role.RADIO_BUTTON, Atspi.Role.PUSH_BUTTON):
                if name not in self.labels:
                    self.labels.append(name)

    def complete(self):
        return self.frame is not None and len(self.buttons) == 2 and self.rows

    @staticmethod
    def row_id(row):
        m = ROW_NAME.match(row.get_name())
        return (m.group(2), m.group(1) or "") if m else (row.get_name(), "")


def find_new_app(seen):
    desktop = Atspi.get_desktop(0)
    for app in children(desktop):
        try:
            if app.get_name() != APP_NAME:
                continue
            pid = app.get_process_id()
            if pid in seen:
                continue
            dialog = Dialog(app)
        except GLib.GError:
            continue  # an app that left the bus while we looked: an answered dialog, exiting
        if dialog.complete():
            return pid, dialog
    return None, None


def report(pid, dialog):
    print(f"dialog\t{pid}")
    print(f"title\t{dialog.frame.get_name()}")
    for text in dialog.labels:
        print(f"label\t{text}")
    for row in dialog.rows:
        rid, desc = Dialog.row_id(row)
        print(f"row\t{rid}\t{desc}\t{int(checked(row))}")
    print(f"remember\t{int(dialog.remember is not None)}")


def set_picks(dialog, picks):
    ids = [Dialog.row_id(r)[0] for r in dialog.rows]
    for pick in picks:
        if pick not in ids:
            raise DriveError(f"no row {pick} (rows: {' '.join(ids)})")
    # Tick first, then untick: radio rows untick themselves when another is ticked.
    for want in (True, False):
        for row, rid in zip(dialog.rows, ids):
            if (rid in picks) == want and checked(row) != want:
                click(row)
    wait_for(lambda: all(checked(r) == (i in picks) for r, i in zip(dialog.rows, ids)),
             2.0, "the rows did not take the picks")


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise DriveError(what)
        time.sleep(POLL)


def answer(dialog, args):
    if args.expect_rows is not None and len(dialog.rows) != args.expect_rows:
        raise DriveError(f"{len(dialog.rows)} rows shown, expected {args.expect_rows}")
    if args.pick:
        set_picks(dialog, args.pick)
    if args.remember:
        if dialog.remember is None:
            raise DriveError("no 'Remember for this app' offered")
        if not checked(dialog.remember):
            click(dialog.remember)
        wait_for(lambda: checked(dialog.remember), 2.0, "'Remember' did not tick")
    chose = [Dialog.row_id(r)[0] for r in dialog.rows if checked(r)]
    print("chose\t" + " ".join(chose))
    if args.answer == "close":
        final(close_window, dialog.frame)
    else:
        final(click, dialog.buttons["Share" if args.answer == "share" else "Cancel"])
    print(f"answer\t{args.answer}")


def drive_one(pid, dialog, args):
    report(pid, dialog)
    try:
        answer(dialog, args)
        return True
    except DriveError as e:
        print(f"consent-drive: {e}; cancelling the dialog", file=sys.stderr)
        final(click, dialog.buttons["Cancel"])
        print("answer\tcancel")
        return False
    finally:
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answer", choices=("share", "cancel", "close"), default="share")
    ap.add_argument("--pick", action="append", default=[], metavar="CARD:CONNECTOR",
                    help="tick exactly these rows (repeat for several)")
    ap.add_argument("--remember", action="store_true", help="tick 'Remember for this app'")
    ap.add_argument("--expect-rows", type=int, metavar="N")
    ap.add_argument("--loop", action="store_true",
                    help="answer every dialog that comes until killed (or --timeout)")
    ap.add_argument("--dialogs", type=int, metavar="N",
                    help="with --loop, exit after answering N dialogs: the AT-SPI polling "
                         "costs a test that needs only N the CPU its browser is short of")
    ap.add_argument("--timeout", type=float, metavar="S",
                    help="give up after S seconds (default: 20; with --loop: never)")
    args = ap.parse_args()
    timeout = args.timeout if args.timeout is not None else (0 if args.loop else 20)

    Atspi.init()
    seen = set()
    ok = True
    end = time.monotonic() + timeout if timeout > 0 else None
    while end is None or time.monotonic() < end:
        pid, dialog = find_new_app(seen)
        if dialog is None:
            time.sleep(POLL)
            continue
        seen.add(pid)
        ok = drive_one(pid, dialog, args) and ok
        if not args.loop or (args.dialogs is not None and len(seen) >= args.dialogs):
            return 0 if ok else 2
    if not seen:
        print(f"consent-drive: no {APP_NAME} dialog within {timeout:g} s", file=sys.stderr)
        return 2
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
