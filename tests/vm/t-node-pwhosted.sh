#!/bin/bash
# PipeWire hosts the node itself: the config fragment spa-plugin/kmscast.conf (factory
# mapping) plus a context.objects entry for card0's output, in the test user's
# pipewire.conf.d. No kmscast daemon runs. WirePlumber links gst pipewiresrc to the node, and
# the frames decode, in order; the dma-bufs gst holds are the ones the PipeWire process got
# from the helper. A client that asks the server's factories for a kmscast node of its own,
# naming a helper program of its own, is refused and its program never runs.
# Run: tests/vm/run --kms vkms --with dbus -- tests/vm/t-node-pwhosted.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-120}

node_setup
gst_warm_registry
# Ten buffers, as t-node-gst.sh: gst reads the scanout buffers themselves and gets the
# swapchain's length in periods before one is repainted.
node_producer --rate 60 --duration 120 --buffers 10 --mode 640x480
NAME=kmscast.card0.$CONNECTOR

pw_hosted_start "$NAME"
echo "node $NAME id $ID, hosted by pipewire pid $PW_PID"
node_wait_fbs 10 20 "$NODE_TMP/pipewire.log"
gst_wait_registry
hosted_capture() {
	as_user env GST_DEBUG=pipewiresrc:2 GST_DEBUG_NO_COLOR=1 "$GST_TIMED" \
		--first-buffer-file "$OUT/hosted.raw" gst-launch-1.0 pipewiresrc path="$ID" \
		num-buffers="$FRAMES" ! videoconvert ! video/x-raw,format=BGRx ! \
		filesink location="$OUT/hosted.raw" >"$NODE_TMP/gst.log" 2>&1 &
	GST=$!
	sample_gst_inodes "$GST"
	wait "$GST"
	GST_RC=$?
}
hosted_verdict() {
	"$B/tests/tools/pattern-check" --width 640 --height 480 --format BGRx --quiet \
		"$OUT/hosted.raw" | tail -n 1
}
# The frames are the producer's, in order. A torn frame is gst reading a scanout buffer the
# producer already repaints (zero copy gives no slack beyond the swapchain); allow 10%.
hosted_frames_ok() {
	echo "$1" | awk -v n="$FRAMES" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { if (!(v["frames"] == n && v["bad"] == 0)) exit 1
			exit (v["decoded"] >= n * 0.9 && v["duplicates"] == 0 && v["backwards"] == 0) ? 0 : 3 }'
}
hosted_capture
# A failed capture is repeated once, and said so (t-node-gst.sh says why).
verdict=$(hosted_verdict)
if [ "$GST_RC" = 0 ] && ! hosted_frames_ok "$verdict"; then
	echo "capture 1: $verdict"
	gst_fell_behind "$NODE_TMP/gst.log" && echo "gst fell a swapchain behind (\"can't queue recycled buffer\")"
	echo "capturing again"
	hosted_capture
fi
PW_INODES=$(dmabuf_inodes "$PW_PID")
grep "stream stats\|buffers over\|joins" "$NODE_TMP/pipewire.log" | sed 's/.*\] //' | tail -n 8

# A PipeWire client asks the server's factories for a kmscast node of its own, with a helper
# path of its choosing: what a sandboxed app with the PipeWire socket could do. Each way must
# be refused: no program of the client's runs, and no node appears.
evil=/run/kmscast-test/evil-helper
marker=/run/kmscast-test/evil-ran
printf '#!/bin/sh\ntouch %s\n' "$marker" >"$evil"
chmod 0755 "$evil"
chown "$KMSCAST_TEST_UID:$KMSCAST_TEST_UID" "$evil"
attempt() { # attempt NAME FACTORY [EXTRA PROPS]
	_props="factory.name=api.kmscast.source library.name=kmscast/libspa-kmscast"
	_props="$_props node.name=$1 kmscast.card=card0 kmscast.connector=$CONNECTOR"
	as_user pw-cli create-node "$2" "{ $_props kmscast.helper.path=$evil ${3:-} }" \
		>"$NODE_TMP/$1.log" 2>&1
	sleep 1
	if as_user pw-dump 2>/dev/null | grep -q "\"node.name\": \"$1\""; then
		FAILS="$FAILS factory($1:created)"
	fi
}
FAILS=
gst_check_first_buffer "$NODE_TMP/gst.log" gst
attempt evil-plain spa-node-factory
attempt evil-linger spa-node-factory "object.linger=true client.id=0"
attempt evil-adapter adapter
[ -e "$marker" ] && FAILS="$FAILS factory(client's-program-ran)"
refusals=$(grep -c "refusing an api.kmscast.source node requested by PipeWire client" \
	"$NODE_TMP/pipewire.log")
echo "client-created nodes refused: $refusals of 3; client's program ran: $([ -e "$marker" ] && echo yes || echo no)"
[ "$refusals" -ge 3 ] || FAILS="$FAILS factory(refusals:$refusals)"
FACTORY_FAILS=$FAILS

kill "$WP_JOB" "$PW_JOB" 2>/dev/null
node_stop_producer
[ "$GST_RC" = 0 ] || { cat "$NODE_TMP/gst.log"; vm_fail "gst exited $GST_RC"; }
FAILS=$FACTORY_FAILS
verdict=$(hosted_verdict)
echo "$verdict"
hosted_frames_ok "$verdict"
vm_check $? frames
echo "gst dma-buf inodes: $(echo $GST_INODES); pipewire's: $(echo $PW_INODES)"
for i in $GST_INODES; do
	echo "$PW_INODES" | grep -qx "$i" || FAILS="$FAILS inode-$i"
done
# Informational: t-node-gst asserts zero copy through the daemon.
[ -n "$GST_INODES" ] || echo "note: no dma-buf fd of gst was sampled"
vm_finish t-node-pwhosted
