# Shared setup for the t-portal-*.sh tests of the xdg-desktop-portal backend. Source after fixtures.sh and
# node-lib.sh, inside the VM, with --with wireplumber.
#
#   portal_producer [ARGS]        kms-producer at 60 Hz into $NODE_TMP/producer.log; waits ready
#   portal_start_consent          a headless weston for the consent dialog (kmscast-consent) and
#                                 tests/tools/consent-drive.py answering every dialog through
#                                 AT-SPI with PORTAL_CONSENT_ARGS (default: share what is
#                                 preselected), logging what it saw to $NODE_TMP/consent.log
#   portal_start_kmscast [ARGS]   node_setup + portal_start_consent (unless PORTAL_CONSENT=none)
#                                 + kmscast (as the user) + waits for its bus name
#   portal_start_frontend         the real /usr/libexec/xdg-desktop-portal, as the user, with
#                                 XDG_DESKTOP_PORTAL_DIR holding `kmscast --print-portal-file`
#   portal_client [ARGS]          tests/vm/lib/portal-client.py as the user
#   portal_capture N FILE         an --exec command: gst pipewiresrc fd= path= N frames, BGRx
#   portal_nodes                  "id name session" of every portal node (the ones with a
#                                 kmscast.portal.session property), from pw-dump
#   portal_dump_logs              the daemon's, frontend's and producer's logs, on failure

PORTAL_DESKTOP=kmscast-test
PORTAL_CLIENT="/usr/bin/python3 $KMSCAST_SRC_DIR/tests/vm/lib/portal-client.py"

portal_dump_logs() {
	for f in daemon.log frontend.log producer.log consent.log; do
		[ -f "$NODE_TMP/$f" ] || continue
		echo "--- $f (tail)"
		tail -n "${1:-40}" "$NODE_TMP/$f"
	done
}

portal_fail() {
	portal_dump_logs >&2
	vm_fail "$@"
}

portal_producer() {
	"$B/tests/tools/kms-producer" --rate 60 --buffers 3 --log "$NODE_TMP/producer.log" "$@" &
	PRODUCER=$!
	for _ in $(seq 100); do
		grep -q '^ready' "$NODE_TMP/producer.log" 2>/dev/null && return 0
		sleep 0.1
	done
	portal_fail "producer did not start"
}

bus_has_owner() {
	as_user dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
		org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
}

wait_bus_name() {
	for _ in $(seq "$((${2:-20} * 10))"); do
		bus_has_owner "$1" && return 0
		sleep 0.1
	done
	return 1
}

# The user's side of the consent step, as on a desktop: the daemon runs the real dialog on the
# session's display, and a person (here the AT-SPI driver) reads it and clicks. The driver
# prints a "dialog", "label", "row ID DESC CHECKED", "chose" and "answer" line per dialog.
PORTAL_CONSENT_ARGS=${PORTAL_CONSENT_ARGS:-}
portal_start_consent() {
	rm -f "$KMSCAST_TEST_RUNTIME_DIR/consent-display"
	# shellcheck disable=SC2016 # expanded by the user's shell
	as_user sh -c '. "$1/tests/tools/consent-env.sh" && consent_env_start "$XDG_RUNTIME_DIR" &&
		echo "$WAYLAND_DISPLAY" >"$XDG_RUNTIME_DIR/consent-display" &&
		exec /usr/bin/python3 -u "$1/tests/tools/consent-drive.py" --loop $2' \
		sh "$KMSCAST_SRC_DIR" "$PORTAL_CONSENT_ARGS" >"$NODE_TMP/consent.log" 2>&1 &
	CONSENT_JOB=$!
	wait_for_file "$KMSCAST_TEST_RUNTIME_DIR/consent-display" 30 ||
		{ cat "$NODE_TMP/consent.log" >&2; portal_fail "no display for the consent dialog"; }
	NODE_DAEMON_ENV="WAYLAND_DISPLAY=$(cat "$KMSCAST_TEST_RUNTIME_DIR/consent-display")"
	NODE_DAEMON_ENV="$NODE_DAEMON_ENV GDK_BACKEND=wayland GSK_RENDERER=cairo"
	NODE_DAEMON_ENV="$NODE_DAEMON_ENV KMSCAST_CONSENT=$B/src/kmscast-consent"
}

# consent_answers: how many dialogs the driver answered so far, any answer.
consent_answers() {
	grep -c '^answer' "$NODE_TMP/consent.log" 2>/dev/null
}

portal_start_kmscast() {
	node_setup
	[ "${PORTAL_CONSENT:-}" = none ] || portal_start_consent
	node_start_daemon --portal-desktop "$PORTAL_DESKTOP" "$@"
	# As for the node tests: a desktop's RTKit gives PipeWire's data threads realtime
	# priority, which the bench has not; without it the daemon's data loop slept through
	# 20 to 30 vblanks of a 2 s capture on a busy host, and frames went missing.
	rt_boost_graph
	wait_bus_name org.freedesktop.impl.portal.desktop.kmscast 20 ||
		portal_fail "kmscast did not take its portal bus name"
}

portal_start_frontend() {
	mkdir -p "$NODE_TMP/portals"
	# The .portal file comes from the daemon itself: UseIn follows --portal-desktop.
	"$B/src/kmscast" --portal-desktop "$PORTAL_DESKTOP" --print-portal-file \
		>"$NODE_TMP/portals/kmscast.portal" || portal_fail "--print-portal-file"
	grep -qx "UseIn=$PORTAL_DESKTOP;" "$NODE_TMP/portals/kmscast.portal" ||
		portal_fail "kmscast.portal has no UseIn=$PORTAL_DESKTOP"
	chmod -R a+rX "$NODE_TMP/portals"
	as_user env XDG_DESKTOP_PORTAL_DIR="$NODE_TMP/portals" XDG_CURRENT_DESKTOP="$PORTAL_DESKTOP" \
		G_MESSAGES_DEBUG=all /usr/libexec/xdg-desktop-portal -r \
		>"$NODE_TMP/frontend.log" 2>&1 &
	FRONTEND_PID=$!
	wait_bus_name org.freedesktop.portal.Desktop 30 ||
		portal_fail "xdg-desktop-portal did not start"
}

portal_client() {
	as_user $PORTAL_CLIENT "$@"
}

# gst's pipewiresrc on the portal's remote: {fd} and {node} are filled in by portal-client.py.
# portal_capture N RAW [LOG]: the command that captures N frames through the session's remote
# into RAW; with LOG (writable by the test user), through gst-timed.sh, its output into LOG
# for gst_check_first_buffer.
portal_capture() {
	if [ -n "${3:-}" ]; then
		echo "$GST_TIMED --first-buffer-file $2 gst-launch-1.0 pipewiresrc fd={fd} path={node}" \
			"num-buffers=$1 ! videoconvert ! video/x-raw,format=BGRx ! filesink location=$2" \
			"> $3 2>&1"
	else
		echo "gst-launch-1.0 -q pipewiresrc fd={fd} path={node} num-buffers=$1 ! videoconvert !" \
			"video/x-raw,format=BGRx ! filesink location=$2"
	fi
}

# portal_check_first_buffer LOG: portal_fail unless the capture through portal_capture's LOG
# got a first buffer; one later than GST_FIRST_BUFFER_MS after PLAYING goes to TIMING
# (gst_check_first_buffer), for the test's vm_finish.
portal_check_first_buffer() {
	local FAILS=
	gst_check_first_buffer "$1" gst
	[ -z "$FAILS" ] || portal_fail "gst through the portal:$FAILS"
}

portal_nodes() {
	as_user pw-dump 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    p = (o.get("info") or {}).get("props") or {}
    if o.get("type") == "PipeWire:Interface:Node" and "kmscast.portal.session" in p:
        print(o["id"], p.get("node.name"), p["kmscast.portal.session"])
'
}

# Reads a key of the client's --state JSON: json_get FILE EXPR (python expression on "s").
json_get() {
	python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2"
}

# port_meta_types DUMP NODE: the Meta types (Header, VideoCrop, Cursor) the output port of
# node NODE offers, one per line, from a pw-dump saved in DUMP. Meta is a port param.
port_meta_types() {
	python3 - "$1" "$2" <<'PY'
import json, sys
node = int(sys.argv[2])
for o in json.load(open(sys.argv[1])):
    info = o.get("info") or {}
    if o.get("type") != "PipeWire:Interface:Port" or (info.get("props") or {}).get("node.id") != node:
        continue
    for m in (info.get("params") or {}).get("Meta", []):
        print(m.get("type"))
PY
}
