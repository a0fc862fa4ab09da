#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A ScreenCast client that calls xdg-desktop-portal the way apps do.

CreateSession, SelectSources and Start on org.freedesktop.portal.Desktop, each answered by a
Request::Response signal, then OpenPipeWireRemote. The remote's fd is handed to --exec.

  portal-client.py [--types N] [--cursor-mode N] [--multiple] [--persist N]
                   [--restore-token TOKEN] [--state FILE] [--exec CMD]
                   [--after close|wait-closed|exit] [--timeout SEC]

--exec CMD runs through /bin/sh with the fd inherited; {fd}, {node}, {width}, {height},
{x}, {y} and {id} are replaced with the first stream's values ({nodes}: all node ids).
--state FILE gets a JSON record (response codes, streams, restore_token) once Start has
answered, and again at exit with "closed" and the exec status.
Exit status: 0 on success; 1 when a step failed or --exec failed; 3 when --after
wait-closed saw no Session::Closed within --timeout.
"""
import argparse
import json
import os
import subprocess
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

BUS = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
SC = "org.freedesktop.portal.ScreenCast"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"


class Client:
    def __init__(self, args):
        self.args = args
        self.bus = dbus.SessionBus()
        self.portal = self.bus.get_object(BUS, PATH)
        self.sc = dbus.Interface(self.portal, SC)
        self.sender = self.bus.get_unique_name()[1:].replace(".", "_")
        self.counter = 0
        self.loop = GLib.MainLoop()
        self.state = {"responses": {}}
        self.closed = False

    def token(self):
        self.counter += 1
        return "kmscast%d_%d" % (os.getpid(), self.counter)

    def request(self, step, method, *args, options):
        """Calls method and waits for its Request::Response; returns (code, results)."""
        token = self.token()
        path = "%s/request/%s/%s" % (PATH, self.sender, token)
        answer = {}

        def on_response(code, results):
            answer["code"] = int(code)
            answer["results"] = results
            self.loop.quit()

        match = self.bus.add_signal_receiver(on_response, "Response", REQUEST, BUS, path)
        options = dict(options)
        options["handle_token"] = token
        handle = method(*args, options)
        if handle != path:
            fail("%s: request handle %s, expected %s" % (step, handle, path))
        timer = GLib.timeout_add_seconds(self.args.timeout, self.loop.quit)
        self.loop.run()
        if "code" in answer:
            GLib.source_remove(timer)
        match.remove()
        if "code" not in answer:
            fail("%s: no Response within %d s" % (step, self.args.timeout))
        self.state["responses"][step] = answer["code"]
        print("%s: response %d" % (step, answer["code"]), flush=True)
        return answer["code"], answer["results"]

    def run(self):
        a = self.args
        code, res = self.request("CreateSession", self.sc.CreateSession,
                                 options={"session_handle_token": self.token()})
        if code != 0:
            return self.finish(1)
        self.session = str(res["session_handle"])
        self.state["session"] = self.session
        self.bus.add_signal_receiver(self.on_closed, "Closed", SESSION, BUS, self.session)

        opts = {"types": dbus.UInt32(a.types), "multiple": dbus.Boolean(a.multiple),
                "cursor_mode": dbus.UInt32(a.cursor_mode),
                "persist_mode": dbus.UInt32(a.persist)}
        if a.restore_token:
            opts["restore_token"] = a.restore_token
        code, _ = self.request("SelectSources", self.sc.SelectSources, self.session,
                               options=opts)
        if code != 0:
            return self.finish(1)

        code, res = self.request("Start", self.sc.Start, self.session, "", options={})
        if code != 0:
            return self.finish(1)
        streams = []
        for node, props in res.get("streams", []):
            s = {"node": int(node)}
            for k, v in props.items():
                s[str(k)] = [int(x) for x in v] if isinstance(v, dbus.Struct) else \
                    (str(v) if isinstance(v, dbus.String) else int(v))
            streams.append(s)
        self.state["streams"] = streams
        if "restore_token" in res:
            self.state["restore_token"] = str(res["restore_token"])
        print("streams: %s" % json.dumps(streams), flush=True)

        fd = self.sc.OpenPipeWireRemote(self.session, {}).take()
        self.state["remote_fd"] = True
        self.save()
        status = 0
        if a.exec:
            status = self.exec(fd, streams)
        os.close(fd)
        return self.after(status)

    def exec(self, fd, streams):
        s = streams[0]
        cmd = self.args.exec.format(fd=fd, node=s["node"], width=s["size"][0],
                                    height=s["size"][1], x=s["position"][0],
                                    y=s["position"][1], id=s["id"],
                                    nodes=" ".join(str(x["node"]) for x in streams))
        print("exec: %s" % cmd, flush=True)
        proc = subprocess.Popen(["/bin/sh", "-c", cmd], pass_fds=(fd,))

        # Keep the loop running, so a Session::Closed during the command is seen.
        def poll():
            if proc.poll() is None:
                return True
            self.loop.quit()
            return False

        GLib.timeout_add(100, poll)
        self.loop.run()
        if proc.poll() is None:  # Session::Closed came first: let the command finish
            proc.wait()
        self.state["exec_status"] = proc.returncode
        print("exec status %d" % proc.returncode, flush=True)
        return 0 if proc.returncode == 0 else 1

    def on_closed(self, *unused):
        print("Session::Closed", flush=True)
        self.closed = True
        self.loop.quit()

    def after(self, status):
        what = self.args.after
        if what == "close":
            if not self.closed:
                dbus.Interface(self.bus.get_object(BUS, self.session), SESSION).Close()
                print("session closed by the client", flush=True)
        elif what == "wait-closed" and not self.closed:
            timer = GLib.timeout_add_seconds(self.args.timeout, self.loop.quit)
            self.loop.run()
            if self.closed:
                GLib.source_remove(timer)
            if not self.closed:
                print("no Session::Closed within %d s" % self.args.timeout, flush=True)
                return self.finish(3)
        return self.finish(status)

    def save(self):
        if self.args.state:
            tmp = self.args.state + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.state, f)
            os.rename(tmp, self.args.state)

    def finish(self, status):
        self.state["closed"] = self.closed
        self.state["status"] = status
        self.save()
        return status


def fail(msg):
    print("portal-client: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--types", type=int, default=1)
    p.add_argument("--cursor-mode", type=int, default=1)
    p.add_argument("--multiple", action="store_true")
    p.add_argument("--persist", type=int, default=0)
    p.add_argument("--restore-token")
    p.add_argument("--state")
    p.add_argument("--exec")
    p.add_argument("--after", choices=["close", "wait-closed", "exit"], default="close")
    p.add_argument("--timeout", type=int, default=60)
    args = p.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    sys.exit(Client(args).run())


if __name__ == "__main__":
    main()
