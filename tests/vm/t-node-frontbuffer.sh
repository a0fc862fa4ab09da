#!/bin/bash
# Front-buffer rendering: X11's modesetting driver without page flips and the Linux console
# change the scanout buffer in place and mark it with DIRTYFB; nothing flips. The producer
# paints frame after frame into the FB on screen at 10 Hz (--front-buffer). The node cannot
# see DIRTYFB, so only its re-sends of the static screen (resend-ms, 50 ms) carry the paints:
# a consumer must see at least half of the paints made while it ran, in order, both on the
# SHM path (a fresh copy each time) and on the dma-buf path (the buffer itself).
# Run: tests/vm/run --kms vkms|virtio-gpu --with wireplumber -- tests/vm/t-node-frontbuffer.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=60

node_setup
node_producer --front-buffer --rate 10 --duration 120 --mode 640x480
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1

shm_consumer dmabuf --target "$ID" --frames "$FRAMES" --dmabuf --out "$OUT/dmabuf.raw" --timeout 60
DMABUF_RC=$?
# A new node for the copy: PipeWire 0.3.65 gives a second consumer the buffers of the node's
# port as the first link left them, dma-bufs even to one that takes MemFd only.
node_stop_daemon
node_start_daemon
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
shm_consumer copy --target "$ID" --frames "$FRAMES" --out "$OUT/copy.raw" --timeout 60
COPY_RC=$?
node_stop_daemon
node_stop_producer

FAILS=
# The producer's frames: the modeset's, then its paints (flip lines via=dirtyfb).
sed -n 's/^flip .* frame=\([0-9]*\) .* t_ns=\([0-9]*\) via=.*/\1 \2/p' \
	"$NODE_TMP/producer.log" >"$OUT/paints"
[ "$COPY_RC" = 0 ] || FAILS="$FAILS copy-exit($COPY_RC)"
[ "$DMABUF_RC" = 0 ] || FAILS="$FAILS dmabuf-exit($DMABUF_RC)"
grep -q 'data=memfd\|data=memptr' "$OUT/copy.log" || FAILS="$FAILS copy-path"
grep -q 'data=dmabuf' "$OUT/dmabuf.log" || FAILS="$FAILS dmabuf-path"
for c in copy dmabuf; do
	echo "$c: $(grep -o 'data=[a-z]*' "$OUT/$c.log" | sort | uniq -c | tr '\n' ' ')"
	grep -v '^buf ' "$OUT/$c.log" | head -n 5
	in_place_check "$c" "$OUT/paints" "$OUT/$c.log"
	vm_check $? "$c"
done
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-node-frontbuffer
