#!/bin/bash
# Cursor metadata: the producer moves a 64x64 cursor every frame and changes its image every
# 30 frames. A consumer that asks for SPA_META_Cursor gets, with each frame k, the position
# the producer set for frame k (CRTC_X/Y plus the hotspot, which kernel 6.1's vkms does not
# expose, so 0), and a bitmap only when the image changed, decoding to image k / 30.
# Damage, which libwebrtc asks for: every picture is marked whole (one region, the plane's
# source rectangle with the crop meta, else the buffer's size), for a consumer that takes the
# crop meta and for one that does not.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-cursor.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=${FRAMES:-150}

node_setup
node_producer --rate 60 --duration 120 --buffers 6 --mode 640x480 --cursor
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
node_wait_fbs 6
shm_consumer cursor --target "$ID" --dmabuf --cursor --damage --frames "$FRAMES" --timeout 60
RC=$?
shm_consumer nocrop --target "$ID" --dmabuf --damage --no-crop --frames 30 --timeout 60
RC_NOCROP=$?
node_stop_daemon
node_stop_producer
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
[ "$RC" = 0 ] || vm_fail "consumer failed ($RC)"
[ "$RC_NOCROP" = 0 ] || vm_fail "consumer without the crop meta failed ($RC_NOCROP)"
# damage_check LOG: every buffer with pixels came with damage 0,0,640,480 and nothing else.
damage_check() {
	awk '/^buf / { pixels = $0 !~ / chunk=0 / }
		/^damage / { n++; if (pixels && $3 != "0,0,640,480") { bad++; if (bad < 5) print "damage: " $0 } }
		END { printf "%s: damage metas=%d not whole=%d\n", FILENAME, n, bad
			exit !(n > 0 && bad == 0) }' "$1"
}
damage_check "$OUT/cursor.log" || vm_fail "damage (with the crop meta)"
damage_check "$OUT/nocrop.log" || vm_fail "damage (without the crop meta)"
grep -m 3 "^cursor" "$OUT/cursor.log"
# Pair each buffer with the cursor line that follows it; check against the producer's
# formula for the decoded frame (x = 7k mod (W-64), y = 3k mod (H-64)), allowing the cursor
# to be one frame ahead or behind the primary plane (legacy cursor ioctls are not atomic
# with the page flip).
awk -v W=640 -v H=480 '
	/^buf / { split($10, f, "="); frame = f[2]; size = $0 ~ /chunk=0 / ? 0 : 1; next }
	/^cursor / && frame >= 0 {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n++
		ok = 0
		for (d = -2; d <= 2; d++) {
			k = frame + d
			if (v["x"] == (k * 7) % (W - 64) && v["y"] == (k * 3) % (H - 64)) ok = 1
		}
		if (!ok) { bad_pos++; if (bad_pos < 5) print "position mismatch: frame " frame ": " $0 }
		if (v["bitmap"] ~ /x/) {
			bitmaps++
			idx = int(frame / 30)
			if (v["index"] < idx - 1 || v["index"] > idx + 1) {
				bad_img++; print "image mismatch: frame " frame ": " $0
			}
		}
	}
	END {
		printf "cursor metas=%d bad_positions=%d bitmaps=%d bad_images=%d\n", n, bad_pos, bitmaps, bad_img
		# ~150 frames span 5..6 images: a bitmap on every frame would mean it is resent always.
		exit !(n > 0 && bad_pos <= n / 20 && bitmaps >= 2 && bitmaps <= n / 10 && bad_img == 0)
	}' "$OUT/cursor.log" || vm_fail "cursor metadata"
echo "PASS t-node-cursor"
