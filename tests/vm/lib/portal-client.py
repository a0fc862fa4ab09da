#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A ScreenCast client that calls xdg-desktop-portal the way apps do.

CreateSession, SelectSources and Start on org.freedesktop.portal.Desktop, each answered by a
Request::Response signal, then OpenPipeWireRemote. The remote's fd is handed to --exec.

  portal-client.py [--types N] [--cursor-mode N] [--multiple] [--persist N]
                   [--restore-token TOKEN] [--state FILE] [--exec CMD]
                   [--after close|wait-closed|exit] [--timeout SEC]
                   [--app-id ID [--backend]]

--app-id ID: the app id the backend is to see. Through the frontend, the client first
registers ID with org.freedesktop.host.portal.Registry (xdg-desktop-portal 1.19 and later;
older frontends give a host app the empty id, and the client then fails). With --backend
the client calls the backend, org.freedesktop.impl.portal.desktop.kmscast, itself, as the
frontend would, passing ID: there is no OpenPipeWireRemote then, and --exec's {fd} is -1
(the command connects to PipeWire itself, as a host client). The backend serves only the
owner of org.freedesktop.portal.Desktop, so --backend first takes that name, replacing a
running xdg-desktop-portal (which allows it, and exits when it loses the name).

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
REGISTRY = "org.freedesktop.host.portal.Registry"
IMPL_BUS = "org.freedesktop.impl.portal.desktop.kmscast"
IMPL_SC = "org.freedesktop.impl.portal.ScreenCast"
IMPL_SESSION = "org.freedesktop.impl.portal.Session"
# RequestName's flags and replies (the D-Bus specification).
NAME_FLAG_REPLACE_EXISTING = 0x2
NAME_FLAG_DO_NOT_QUEUE = 0x4
REQUEST_NAME_REPLY_PRIMARY_OWNER = 1
REQUEST_NAME_REPLY_ALREADY_OWNER = 4


class Client:
    def __init__(self, args):
        self.args = args
        self.bus = dbus.SessionBus()
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

    def register(self):
        """Tells the frontend which app this host client is, before any portal call.

        Not even an Introspect of the portal object comes first: the frontend takes the first
        call's app info for good.
        """
        registry = self.bus.get_object(BUS, PATH, introspect=False)
        try:
            dbus.Interface(registry, REGISTRY).Register(
                self.args.app_id, dbus.Dictionary({}, signature="sv"), signature="sa{sv}")
        except dbus.exceptions.DBusException as e:
            fail("Register %s: %s" % (self.args.app_id, e))
        print("registered as %s" % self.args.app_id, flush=True)

    def select_options(self):
        a = self.args
        opts = {"types": dbus.UInt32(a.types), "multiple": dbus.Boolean(a.multiple),
                "cursor_mode": dbus.UInt32(a.cursor_mode),
                "persist_mode": dbus.UInt32(a.persist)}
        if a.restore_token:
            opts["restore_token"] = a.restore_token
        return opts

    def impl_call(self, step, method, *args):
        """A backend method: it answers (response, results) itself, no Request signal."""
        code, results = method(*args, timeout=self.args.timeout)
        self.state["responses"][step] = int(code)
        print("%s: response %d" % (step, code), flush=True)
        return int(code), results

    def own_frontend_name(self):
        """Becomes the owner of the frontend's name, which the backend checks on every call.

        Before any backend call: the bus tells the backend about the new owner first.
        """
        try:
            reply = self.bus.request_name(BUS, NAME_FLAG_REPLACE_EXISTING | NAME_FLAG_DO_NOT_QUEUE)
        except dbus.exceptions.DBusException as e:
            fail("RequestName %s: %s" % (BUS, e))
        if reply not in (REQUEST_NAME_REPLY_PRIMARY_OWNER, REQUEST_NAME_REPLY_ALREADY_OWNER):
            fail("cannot own %s (RequestName reply %d): its owner does not allow replacement"
                 % (BUS, reply))
        print("owns %s" % BUS, flush=True)

    def run_backend(self):
        """The frontend's side of the impl interface, with the app id of our choosing."""
        a = self.args
        self.own_frontend_name()
        impl = dbus.Interface(self.bus.get_object(IMPL_BUS, PATH), IMPL_SC)
        self.session = "%s/session/%s/%s" % (PATH, self.sender, self.token())
        self.state["session"] = self.session

        def handle():
            return "%s/request/%s/%s" % (PATH, self.sender, self.token())

        code, _ = self.impl_call("CreateSession", impl.CreateSession, handle(), self.session,
                                 a.app_id, {})
        if code != 0:
            return self.finish(1)
        self.bus.add_signal_receiver(self.on_closed, "Closed", IMPL_SESSION, IMPL_BUS,
                                     self.session)
        code, _ = self.impl_call("SelectSources", impl.SelectSources, handle(), self.session,
                                 a.app_id, self.select_options())
        if code != 0:
            return self.finish(1)
        code, res = self.impl_call("Start", impl.Start, handle(), self.session, a.app_id, "",
                                   {})
        if code != 0:
            return self.finish(1)
        streams = self.read_streams(res)
        self.save()
        status = self.exec(-1, streams) if a.exec else 0
        if not self.closed:
            dbus.Interface(self.bus.get_object(IMPL_BUS, self.session), IMPL_SESSION).Close()
            print("session closed by the client", flush=True)
        return self.finish(status)

    def read_streams(self, res):
        streams = []
        for node, props in res.get("streams", []):
            s = {"node": int(node)}
            for k, v in props.items():
                s[str(k)] = [int(x) for x in v] if isinstance(v, dbus.Struct) else \
                    (str(v) if isinstance(v, dbus.String) else int(v))
            streams.append(s)
        self.state["streams"] = streams
        print("streams: %s" % json.dumps(streams), flush=True)
        return streams

    def run(self):
        a = self.args
        if a.backend:
            return self.run_backend()
        if a.app_id is not None:
            self.register()
        self.portal = self.bus.get_object(BUS, PATH)
        self.sc = dbus.Interface(self.portal, SC)
        code, res = self.request("CreateSession", self.sc.CreateSession,
                                 options={"session_handle_token": self.token()})
        if code != 0:
            return self.finish(1)
        self.session = str(res["session_handle"])
        self.state["session"] = self.session
        self.bus.add_signal_receiver(self.on_closed, "Closed", SESSION, BUS, self.session)

        code, _ = self.request("SelectSources", self.sc.SelectSources, self.session,
                               options=self.select_options())
        if code != 0:
            return self.finish(1)

        code, res = self.request("Start", self.sc.Start, self.session, "", options={})
        if code != 0:
            return self.finish(1)
        streams = self.read_streams(res)
        if "restore_token" in res:
            self.state["restore_token"] = str(res["restore_token"])

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
        proc = subprocess.Popen(["/bin/sh", "-c", cmd], pass_fds=(fd,) if fd >= 0 else ())

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
    p.add_argument("--app-id")
    p.add_argument("--backend", action="store_true")
    args = p.parse_args()
    if args.backend and args.app_id is None:
        args.app_id = ""
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    sys.exit(Client(args).run())


if __name__ == "__main__":
    main()
