#!/bin/sh
# The KMS listing: with the producer flipping, `kmscast --list --json`, run as an unprivileged user,
# reports each active CRTC with the producer's mode, FB size and format; the FB id changes
# across flips; and the frame numbers the producer paints advance when read back through
# a DMA-BUF export as root.
#
# usage (inside the bench): t-list.sh vkms|virtio-gpu N_CARDS
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
kind=$1
n_cards=$2
B=$KMSCAST_BUILD_DIR
T=$KMSCAST_SRC_DIR/tests/vm

# Different modes per card, so a report that mixed cards up would fail.
producers=""
logs=""
n=0
for card in /dev/dri/card*; do
	case $n in 0) mode=1024x768 ;; *) mode=800x600 ;; esac
	"$B/tests/tools/kms-producer" --card "$card" --mode "$mode" --buffers 3 --duration 30 \
		>"/tmp/producer$n.log" 2>&1 &
	producers="$producers $!"
	logs="${logs:+$logs,}$(basename "$card")=/tmp/producer$n.log"
	n=$((n + 1))
done
for i in $(seq 0 $((n - 1))); do
	tries=100
	until grep -q '^ready' "/tmp/producer$i.log"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || vm_fail "producer $i not ready: $(cat /tmp/producer$i.log)"
		sleep 0.1
	done
done
[ "$n" -eq "$n_cards" ] || vm_fail "expected $n_cards cards, found $n"

# Sample at uneven intervals so a 3-buffer cycle cannot alias to one FB.
snaps=""
for i in 1 2 3 4 5 6; do
	as_user "$B/src/kmscast" --list --json >"/tmp/list$i.json" || vm_fail "kmscast --list failed"
	snaps="$snaps /tmp/list$i.json"
	sleep "0.0$((i * 13 % 10))"
done
cat /tmp/producer*.log >/tmp/producers.log
python3 "$T/lib/check-list.py" "$kind" "$logs" $snaps
as_user "$B/src/kmscast" --list

# Read back as root: the pattern's frame numbers advance on every active CRTC.
for card in /dev/dri/card*; do
	"$B/tests/tools/fb-readback" --card "$card" --count 4 --interval-ms 150 --expect-advancing ||
		vm_fail "frame numbers did not advance on $card"
done

kill $producers 2>/dev/null || true
wait
