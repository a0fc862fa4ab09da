#!/bin/bash
# PipeWire restarts under the daemon: pipewire and wireplumber are killed and started again.
# The daemon must notice the broken connection, drop its nodes, reconnect and publish the
# output again, and a consumer then gets frames; the daemon never exits.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-pwrestart.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"

node_setup
node_producer --rate 60 --duration 200 --buffers 4 --mode 640x480
node_start_daemon
NAME=kmscast.card0.$CONNECTOR
ID=$(node_wait "$NAME") || exit 1
FAILS=
shm_consumer r1 --target "$ID" --dmabuf --frames 30 --timeout 60 || FAILS="$FAILS before"

# The bench's fixtures, killed and restarted the way tests/vm/guest.sh starts them.
kill -KILL $(pgrep -x wireplumber) $(pgrep -x pipewire) 2>/dev/null
sleep 2
kill -0 "$DAEMON_PID" || vm_fail "kmscast died with PipeWire"
as_user pipewire >"$NODE_TMP/pipewire2.log" 2>&1 &
wait_for_file /run/user/1000/pipewire-0 20 || vm_fail "pipewire did not come back"
sleep 1
wpconf=$NODE_TMP/wireplumber
cp -r /usr/share/wireplumber "$wpconf"
: >"$wpconf/bluetooth.lua.d/90-enable-all.lua"
sed -i -e '/^alsa_monitor.enable()/d' -e '/^libcamera_monitor.enable()/d' \
	"$wpconf/main.lua.d/90-enable-all.lua"
chmod -R a+rX "$wpconf"
WIREPLUMBER_CONFIG_DIR=$wpconf as_user wireplumber >"$NODE_TMP/wireplumber2.log" 2>&1 &
ID2=$(node_wait "$NAME" 40) || FAILS="$FAILS not-republished"
echo "node back as ${ID2:-?}"
sleep 1
shm_consumer r2 --target "${ID2:-0}" --dmabuf --frames 60 --timeout 60 || FAILS="$FAILS after"
check_frames "$OUT/r2.log" 1000000
vm_check $? r2-frames
kill -0 "$DAEMON_PID" || FAILS="$FAILS daemon-died"
node_stop_daemon
node_stop_producer
grep "PipeWire\|connected\|publishing\|removing" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-node-pwrestart
