#!/bin/bash
# A real X11 desktop without page flips: Debian's Xorg with its modesetting driver on vkms,
# acceleration off (no GPU: the driver draws into a shadow and copies damage into its one
# scanout buffer, marked with DIRTYFB; nothing flips), and a small X client (x-pattern)
# drawing the test pattern's frame numbers over the whole screen at 10 Hz. kmscast
# captures the monitor: the frames must be x-pattern's, never step back, and be at least half
# of those drawn while the consumer ran; a root read-back of the FB on screen must decode to
# one x-pattern drew.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-xorg.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FRAMES=60

command -v Xorg >/dev/null && [ -e /usr/lib/xorg/modules/drivers/modesetting_drv.so ] ||
	vm_fail "no Xorg with the modesetting driver (tools/install-deps installs xserver-xorg-core)"
[ -x "$B/tests/tools/x-pattern" ] || vm_fail "x-pattern was not built (no libX11 headers: libx11-dev)"
node_setup
mkdir -p -m 1777 /tmp/.X11-unix
cat >"$NODE_TMP/xorg.conf" <<'CONF'
Section "ServerFlags"
	Option "AutoAddDevices" "false"
	Option "AutoEnableDevices" "false"
EndSection
Section "Device"
	Identifier "vkms"
	Driver "modesetting"
	Option "kmsdev" "/dev/dri/card0"
	Option "AccelMethod" "none"
EndSection
CONF
mkdir -p "$NODE_TMP/xorg.conf.d"
Xorg :1 -config "$NODE_TMP/xorg.conf" -configdir "$NODE_TMP/xorg.conf.d" -noreset \
	-nolisten tcp -logfile "$OUT/xorg.log" vt2 >"$OUT/xorg.out" 2>&1 &
XORG=$!
for _ in $(seq 200); do
	[ -S /tmp/.X11-unix/X1 ] && break
	sleep 0.1
done
[ -S /tmp/.X11-unix/X1 ] || { tail -n 30 "$OUT/xorg.log" "$OUT/xorg.out"; vm_fail "Xorg did not start"; }
grep "modeset(0)" "$OUT/xorg.log" | head -n 6
"$B/tests/tools/x-pattern" --display :1 --rate 10 --frames 900 >"$OUT/draws.log" 2>&1 &
DRAW=$!
sleep 1
node_start_daemon
rt_boost_graph
CONNECTOR=$(for c in /sys/class/drm/card0-*; do
	[ "$(cat "$c/status")" = connected ] && { echo "${c#/sys/class/drm/card0-}"; break; }; done)
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
shm_consumer x --target "$ID" --frames "$FRAMES" --dmabuf --timeout 60
X_RC=$?
# x-pattern keeps painting while it is read, so one read can catch Xorg's copy of the damage
# half done (torn): read a few times, 50 ms apart.
"$B/tests/tools/fb-readback" --count 5 --interval-ms 50 >"$OUT/readback.log" 2>&1
node_stop_daemon
kill "$DRAW" "$XORG" 2>/dev/null
wait "$DRAW" "$XORG" 2>/dev/null

FAILS=
[ "$X_RC" = 0 ] || FAILS="$FAILS consumer-exit($X_RC)"
cat "$OUT/readback.log"
echo "consumer: $(grep -o 'data=[a-z]*' "$OUT/x.log" | sort | uniq -c | tr '\n' ' ')"
sed -n 's/^draw frame=\([0-9]*\) t_ns=\([0-9]*\)$/\1 \2/p' "$OUT/draws.log" >"$OUT/paints"
in_place_check x "$OUT/paints" "$OUT/x.log"
vm_check $? frames
# At least one read decodes, and every read that decodes shows a frame x-pattern drew.
rbs=$(sed -n 's/.* frame=\([0-9]*\) .*/\1/p' "$OUT/readback.log")
[ -n "$rbs" ] || FAILS="$FAILS readback(none)"
for rb in $rbs; do
	grep -q "^draw frame=$rb " "$OUT/draws.log" || FAILS="$FAILS readback($rb)"
done
grep "stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
vm_finish t-xorg
