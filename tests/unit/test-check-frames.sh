#!/bin/bash
# check_frames (tests/vm/node-lib.sh), which judges a consumer's decoded frames in the vm
# tests: a dma-buf that did not decode fails the test unless the consumer read it after the
# next buffer's pts (the producer may paint it again from then on: the bench's timing, 3).
#   test-check-frames.sh SRC_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
eval "$(sed -n '/^check_frames() {/,/^}/p' "$src/tests/vm/node-lib.sh")"
declare -F check_frames >/dev/null || { echo "FAIL: no check_frames in node-lib.sh"; exit 1; }

# buf DATA FRAME PTS READ_NS: one pw-shm-consumer line.
buf() {
	echo "buf n=0 seq=0 pts=$3 flags=0x0 size=64x64 stride=256 chunk=16384 data=$1 frame=$2" \
		"crop=0,0,0,0 read_ns=$4"
}
fails=0
# expect WANT NAME: check_frames on $tmp/log must return WANT.
expect() {
	check_frames "$tmp/log" 0 >/dev/null
	local rc=$?
	[ "$rc" = "$1" ] && echo "ok: $2" || { echo "FAIL: $2: returned $rc, not $1"; fails=1; }
}
{ buf dmabuf 5 1000 1100; buf dmabuf 6 2000 2100; buf dmabuf 7 3000 3100; } >"$tmp/log"
expect 0 "every frame decoded, in order"
{ buf dmabuf 5 1000 1100; buf dmabuf -1 2000 3500; buf dmabuf 7 3000 3100; } >"$tmp/log"
expect 3 "a dma-buf read after the next vblank did not decode: timing"
{ buf dmabuf 5 1000 1100; buf dmabuf -1 2000 2500; buf dmabuf 7 3000 3100; } >"$tmp/log"
expect 1 "a dma-buf read before the next vblank did not decode"
# Clock values of the bench (ns since boot): compared as numbers, not as strings.
{ buf dmabuf 5 8000000000 8000100000; buf dmabuf -1 9000000000 10000000000
	buf dmabuf 7 9900000000 10000100000; } >"$tmp/log"
expect 3 "a read after the next vblank, in nanoseconds of different lengths"
{ buf dmabuf 5 8000000000 8000100000; buf dmabuf -1 9000000000 9500000000
	buf dmabuf 7 10000000000 10000100000; } >"$tmp/log"
expect 1 "a read before the next vblank, in nanoseconds of different lengths"
{ buf dmabuf 5 1000 1100; buf memfd -1 2000 3500; buf memfd 7 3000 3100; } >"$tmp/log"
expect 1 "a copy did not decode, however late"
{ buf dmabuf 5 1000 1100; buf dmabuf 6 2000 2100; buf dmabuf -1 3000 9000; } >"$tmp/log"
expect 1 "the last buffer did not decode: nothing tells it was late"
{ buf dmabuf 5 1000 1100; buf dmabuf -2 2000 2100; buf dmabuf 7 3000 3100; } >"$tmp/log"
expect 3 "a torn frame: timing"
{ buf dmabuf 5 1000 1100; buf dmabuf 4 2000 2100; } >"$tmp/log"
expect 3 "a dma-buf stepped back: timing"
{ buf memfd 5 1000 1100; buf memfd 4 2000 2100; } >"$tmp/log"
expect 1 "a copy stepped back"
{ buf dmabuf 5 1000 1100; buf dmabuf -1 2000 3500; buf dmabuf 7 3000 3100; } |
	sed 's/ read_ns=[0-9]*//' >"$tmp/log"
expect 1 "a line without read_ns did not decode"
: >"$tmp/log"
expect 1 "nothing arrived"
exit "$fails"
