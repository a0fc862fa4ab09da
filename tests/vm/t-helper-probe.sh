#!/bin/sh
# kmscast-helper end to end: the unprivileged diagnostic `kmscast --probe` obtains, through the
# helper, in both modes, a DMA-BUF of the current scanout of each active CRTC and prints its
# format, modifier and a checksum of its pixels. The checksum is checked independently: it
# must be the FNV-1a 64 of one of the frames pattern-gen paints for the frame numbers the
# producer showed while the probe ran.
#
# Until src/daemon/main.c wires --probe, the same kmscast_probe() is run through
# test-helper-vmtool, and the test says so.
#
# usage (inside the bench, --with user): t-helper-probe.sh vkms|virtio-gpu
# (with virtio-gpu --gpus N, a producer runs on every card and the probe must list them all)
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/t-helper-lib.sh"
# vkms adds its FBs with DRM_MODE_FB_MODIFIERS (LINEAR); virtio-gpu (6.1) does not, so the
# modifier is implicit and reported as DRM_FORMAT_MOD_INVALID.
case ${1:-vkms} in
vkms) modifier='modifier 0x0 explicit' ;;
virtio-gpu) modifier='modifier 0xffffffffffffff implicit' ;;
*) vm_fail "unknown device kind $1" ;;
esac

if "$B/src/kmscast" --help 2>&1 | grep -q -- '--probe'; then
	probe_spawn() { as_user env KMSCAST_HELPER="$HELPER" "$B/src/kmscast" --probe; }
	probe_socket() {
		as_user "$B/src/kmscast" --probe --helper-mode socket --helper-socket "$SOCK"
	}
else
	echo "NOTE: kmscast has no --probe yet; running kmscast_probe() via test-helper-vmtool"
	probe_spawn() { as_user env KMSCAST_HELPER="$HELPER" "$TOOL" probe; }
	probe_socket() { as_user "$TOOL" probe --socket "$SOCK"; }
fi

install_helper caps
SOCK=/run/kmscast/helper.sock
install -d -m 0755 /run/kmscast
systemd-socket-activate --seqpacket -l "$SOCK" "$HELPER" --socket-activated \
	>/tmp/helper.log 2>&1 &
wait_for_file "$SOCK" 10 || vm_fail "no socket"
chgrp kmscast "$SOCK"
chmod 0660 "$SOCK"

# 2 Hz keeps the range of candidate frames small.
start_producer /tmp/producer.log --cursor --buffers 3 --rate 2 --duration 600
size=$(sed -n "s/^mode crtc=$CRTC .* size=\([0-9]*x[0-9]*\) .*/\1/p" /tmp/producer.log)
width=${size%x*}
height=${size#*x}
echo "CRTC $CRTC: $size"

last_frame() {
	grep "^flip crtc=$CRTC " /tmp/producer.log | tail -n 1 | sed 's/.* frame=\([0-9]*\) .*/\1/'
}

# More cards (virtio-gpu --gpus N): a producer on each; the probe must cover them all.
others=""
for dev in /dev/dri/card*; do
	[ "$dev" = /dev/dri/card0 ] && continue
	name=$(basename "$dev")
	"$B/tests/tools/kms-producer" --card "$dev" --buffers 3 --rate 2 --duration 600 \
		>"/tmp/producer-$name.log" 2>&1 &
	others="$others $name"
done
for name in $others; do
	n=150
	until grep -q '^ready' "/tmp/producer-$name.log"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || vm_fail "producer on $name not ready"
		sleep 0.1
	done
done

check_other_cards() { # MODE
	for name in $others; do
		crtc=$(sed -n 's/^mode crtc=\([0-9]*\).*/\1/p' "/tmp/producer-$name.log" | head -n 1)
		grep -Eq "^$name crtc $crtc primary fb [0-9]+ [0-9]+x[0-9]+ XR24 .* fnv1a64 0x[0-9a-f]{16} " \
			"/tmp/probe-$1.out" || vm_fail "$1: no primary line for $name crtc $crtc"
	done
}

check_probe() { # MODE
	first=$(last_frame)
	"probe_$1" >/tmp/probe-$1.out 2>&1 || vm_fail "$1 probe failed: $(cat /tmp/probe-$1.out)"
	last=$(last_frame)
	cat /tmp/probe-$1.out
	line=$(grep "^card0 crtc $CRTC primary " /tmp/probe-$1.out) || vm_fail "no primary line"
	echo "$line" | grep -Eq " ${size} XR24 $modifier fnv1a64 0x[0-9a-f]{16} " ||
		vm_fail "unexpected format: $line"
	grep -Eq "^card0 crtc $CRTC cursor fb [0-9]+ [0-9]+x[0-9]+ AR24 " /tmp/probe-$1.out ||
		vm_fail "no cursor line"
	sum=$(echo "$line" | sed 's/.* fnv1a64 \(0x[0-9a-f]*\) .*/\1/')
	count=$((last - first + 2))
	"$B/tests/tools/pattern-gen" --width "$width" --height "$height" --format XR24 \
		--first "$first" --count "$count" /tmp/frames.raw
	"$TOOL" fnv-frames /tmp/frames.raw "$width" "$height" 4 >/tmp/sums.txt
	rm -f /tmp/frames.raw
	grep -qx "$sum" /tmp/sums.txt ||
		vm_fail "$1: checksum $sum is none of frames $first..$((first + count - 1))"
	echo "$1: checksum $sum is a frame in $first..$((first + count - 1)), as painted"
	check_other_cards "$1"
}

check_probe spawn
check_probe socket
stop_producer
jobs -p | xargs -r kill 2>/dev/null || true
echo PASS
