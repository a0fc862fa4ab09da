#!/bin/bash
# The card goes away under a running node and comes back: virtio-gpu's PCI function is
# unbound from its driver (every ioctl on an open card fd then answers ENODEV, and the fd
# does not hang up) and bound again. Something still holds the old device then (the node's
# set of dma-bufs, a consumer's), so the kernel gives the card another name, card1, and its
# connector another, Virtual-2 (connector names count per type across devices). PipeWire
# hosts the node (no kmscast daemon: the daemon's one-second rescan would remove and
# re-create its nodes instead), so the node itself must notice, wait, find its device again
# by bus address (libdrm's drmDevicesEqual) whatever its name, and serve the new producer's
# frames, without being re-created. Asserts: one warning for the loss, "card0 is back as
# card1", the same node id, the stream that ran across the rebind gets the new producer's
# frames, and a new consumer after it gets them in order.
# Run: tests/vm/run --kms virtio-gpu --with dbus -- tests/vm/t-node-rebind.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"

node_setup
node_producer --rate 60 --duration 300 --buffers 3 --mode 640x480
NAME=kmscast.card0.$CONNECTOR

DEV=$(readlink -f /sys/class/drm/card0/device) || vm_fail "no /sys/class/drm/card0/device"
DRV=$(readlink -f "$DEV/driver")
DEVNAME=${DEV##*/}
echo "card0 is $DEVNAME, driver ${DRV##*/}"
# card0's parent is the PCI function (virtio-pci), whose unbind takes virtio-gpu with it.
case ${DRV##*/} in
virtio_gpu | virtio-pci) ;;
*) vm_fail "card0's device is bound to ${DRV##*/}; this test wants virtio-gpu" ;;
esac

pw_hosted_start "$NAME"
node_wait_fbs 3 20 "$NODE_TMP/pipewire.log"
FAILS=

# 1. Frames before.
shm_consumer r1 --target "$ID" --frames 60 --timeout 60 || FAILS="$FAILS before"

# 2. A consumer runs across the unbind; the producer dies with its card (its fd, like ours,
#    is dead) and must be gone before the bind, or its fd keeps the name card0 taken.
shm_consumer r2 --target "$ID" --frames 100000 --timeout 90 &
R2=$!
sleep 2
echo "unbinding $DEVNAME"
echo "$DEVNAME" >"$DRV/unbind" || vm_fail "unbind $DEVNAME"
node_stop_producer
for _ in $(seq 50); do
	grep -q "went away" "$NODE_TMP/pipewire.log" && break
	sleep 0.1
done
grep -q "went away" "$NODE_TMP/pipewire.log" || FAILS="$FAILS loss-not-logged"
# Several reopen attempts fail meanwhile (0.5, 1, 2, 4 s apart).
sleep 4
[ -e /dev/dri/card0 ] && echo "note: /dev/dri/card0 still there while unbound"
echo "binding $DEVNAME"
echo "$DEVNAME" >"$DRV/bind" || vm_fail "bind $DEVNAME"
NEWCARD=
for _ in $(seq 100); do
	NEWCARD=$(ls -d "$DEV"/drm/card* "$DEV"/*/drm/card* 2>/dev/null | head -n 1)
	[ -n "$NEWCARD" ] && break
	sleep 0.1
done
NEWCARD=${NEWCARD##*/}
echo "the device's card is now: ${NEWCARD:-none}"
ls -l /dev/dri/
[ -n "$NEWCARD" ] || vm_fail "the device has no card after the bind"
# What udev does for a new card (root:video 0660); the bench has no udev, its init did
# the same for card0 at boot.
chgrp video "/dev/dri/$NEWCARD" && chmod 0660 "/dev/dri/$NEWCARD"
: >"$NODE_TMP/producer.log" # node_producer waits for this log's "ready"
node_producer --card "$NEWCARD" --rate 60 --duration 200 --buffers 3 --mode 640x480
# The node comes back by itself within the 5 s backoff, same node id.
for _ in $(seq 100); do
	grep -q "card0 is back as $NEWCARD" "$NODE_TMP/pipewire.log" && break
	sleep 0.1
done
grep -q "card0 is back as $NEWCARD" "$NODE_TMP/pipewire.log" || FAILS="$FAILS not-back"
ID2=$(pw_node_id "$NAME")
[ "$ID2" = "$ID" ] || FAILS="$FAILS node-recreated($ID->$ID2)"
PR_PID=$(cat "$OUT/r2.log.pid" 2>/dev/null)
[ -n "$PR_PID" ] && kill -TERM "$PR_PID"
wait "$R2" 2>/dev/null
# The stream that ran across the rebind goes on with the new producer's frames (whose
# numbers start again): at least 30 of them after the restart.
r2_after=$(frames_of "$OUT/r2.log" | awk '$1 >= 0 && p != "" && $1 < p { restart = 1 }
	restart { n++ } { p = $1 } END { print n + 0 }')
echo "r2 (across the rebind): $(frames_of "$OUT/r2.log" | wc -l) buffers, $r2_after after it"
[ "$r2_after" -ge 30 ] || FAILS="$FAILS stream-across($r2_after)"

# 3. Frames after, on the new card: the new producer's (its frame numbers start again).
shm_consumer r3 --target "$ID" --frames 60 --timeout 60 || FAILS="$FAILS after"
check_frames "$OUT/r3.log" 1000000
vm_check $? r3-frames
# One warn for the loss, one info when back, no error, no crash.
n_warn=$(grep -c "went away" "$NODE_TMP/pipewire.log")
[ "$n_warn" = 1 ] || FAILS="$FAILS warned-$n_warn-times"
grep -q "main loop's queue is full" "$NODE_TMP/pipewire.log" && FAILS="$FAILS queue-full"
kill -0 "$PW_PID" || FAILS="$FAILS pipewire-died"
grep "went away\|is back\|joins\|renegotiat\|stream stats" "$NODE_TMP/pipewire.log" |
	sed 's/.*\] //' | tail -n 12
kill "$WP_JOB" "$PW_JOB" 2>/dev/null
node_stop_producer
tail -n 5 "$NODE_TMP/producer.log"
vm_finish t-node-rebind
