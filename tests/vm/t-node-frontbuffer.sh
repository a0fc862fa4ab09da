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
# judge NAME: decoded frames never step back (the buffer only moves forward), none is
# undecodable, and the distinct frames are at least half of the paints between the first and
# the last buffer's pts (the vblank or tick it went out at).
judge() {
	local res
	res=$(awk -v name="$1" '
		FNR == NR { if ($1 == "flip" && $0 ~ /via=dirtyfb/) {
				for (i = 2; i <= NF; i++) if ($i ~ /^t_ns=/) paint[++np] = substr($i, 6) + 0 }
			next }
		$1 != "buf" { next }
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		{ n++; if (first == "") first = v["pts"] + 0; last = v["pts"] + 0; f = v["frame"] + 0 }
		f == -2 { torn++; next }
		f < 0 { bad++; next }
		prev != "" && f < prev { back++ }
		prev == "" || f != prev { distinct++ }
		{ prev = f }
		END {
			for (i = 1; i <= np; i++) if (paint[i] >= first && paint[i] <= last) painted++
			printf "%s: %d buffers, %d distinct frames for %d paints, %d torn, %d undecodable, %d backwards\n",
				name, n, distinct, painted, torn, bad, back
			if (n == 0 || bad > 0 || back > 0) exit 1
			if (distinct * 2 < painted || torn * 4 > n) exit 3
		}' "$NODE_TMP/producer.log" "$OUT/$1.log")
	local rc=$?
	echo "$res"
	vm_check "$rc" "$1"
}
[ "$COPY_RC" = 0 ] || FAILS="$FAILS copy-exit($COPY_RC)"
[ "$DMABUF_RC" = 0 ] || FAILS="$FAILS dmabuf-exit($DMABUF_RC)"
grep -q 'data=memfd\|data=memptr' "$OUT/copy.log" || FAILS="$FAILS copy-path"
grep -q 'data=dmabuf' "$OUT/dmabuf.log" || FAILS="$FAILS dmabuf-path"
for c in copy dmabuf; do
	echo "$c: $(grep -o 'data=[a-z]*' "$OUT/$c.log" | sort | uniq -c | tr '\n' ' ')"
	grep -v '^buf ' "$OUT/$c.log" | head -n 5
	judge "$c"
done
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-node-frontbuffer
