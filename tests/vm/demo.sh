#!/bin/sh
# The README's main job, inside the bench: a producer flips at 60 Hz on vkms and kmscast,
# as an unprivileged user, lists what is on screen. usage: demo.sh OUT_DIR
set -eu
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
out=$1
B=$KMSCAST_BUILD_DIR

"$B/tests/tools/kms-producer" --frames 300 --cursor >"$out/producer.log" 2>&1 &
producer=$!
tries=100
until grep -q '^ready' "$out/producer.log"; do
	tries=$((tries - 1))
	[ "$tries" -gt 0 ] || vm_fail "producer not ready: $(cat "$out/producer.log")"
	sleep 0.1
done

echo "== kmscast --list (as $(as_user id -un))"
as_user "$B/src/kmscast" --list
as_user "$B/src/kmscast" --list --json >"$out/list.json"

wait "$producer"
flipped=$(grep -c '^flip ' "$out/producer.log")
echo "== producer flipped $flipped frames; logs and list.json in $out"
