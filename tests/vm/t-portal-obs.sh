#!/bin/bash
# A real application: OBS Studio (Debian's 29, linux-pipewire plugin) under Xvfb with Mesa's
# llvmpipe. Its scene holds one "Screen Capture (PipeWire)" source; loading it makes OBS call
# the portal (CreateSession, SelectSources, Start, OpenPipeWireRemote) like a user adding
# the source would. OBS records the canvas losslessly (RGB, 1:1 with the monitor), and the
# recording must decode to the test producer's frame numbers: producer frames arrived in OBS.
# Run: tests/vm/run --kms vkms --with wireplumber --mem 3072 -- tests/vm/t-portal-obs.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
# 8 s of the stream on a 10 fps canvas: about 80 recorded frames of it, where the checks need
# 10 (25 s cost about 20 s more of the run, in recording and in decoding under TCG).
RECORD_S=${RECORD_S:-8}
OUT=$NODE_TMP/out
OBS_HOME=$NODE_TMP/obs-home
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

command -v obs >/dev/null && [ -e /usr/lib/x86_64-linux-gnu/obs-plugins/linux-pipewire.so ] ||
	vm_fail "obs-studio and obs-plugins are not installed (tools/install-deps)"

# 640x480 and a 10 fps canvas: OBS renders with llvmpipe under TCG and must keep up.
# Where OBS imports the scanout dma-bufs (OBS 32 with Mesa 26), it samples the buffer when it
# renders its canvas, up to a canvas period after the frame came, and the producer repaints a
# buffer as soon as it is off screen: with 3 buffers at 60 Hz, 231 of 300 recorded frames
# were torn and 69 unreadable (forky, 2026-12-03). 12 buffers at 20 Hz leave each picture in
# place for 600 ms, longer than OBS's lag under TCG (docs/usage.md, "What the consumer sees").
portal_producer --duration 600 --mode 640x480 --rate 20 --buffers 12
read -r W H < <(sed -n 's/.* size=\([0-9]*\)x\([0-9]*\) .*/\1 \2/p' "$NODE_TMP/producer.log" | head -n1)
portal_start_kmscast
portal_start_frontend

# OBS's configuration: no first-run wizard, one profile recording losslessly at the
# monitor's size in RGB, one scene with the PipeWire screen capture source.
cfg=$OBS_HOME/.config/obs-studio
mkdir -p "$cfg/basic/profiles/kmscast" "$cfg/basic/scenes"
cat >"$cfg/global.ini" <<EOF
[General]
FirstRun=true
LastVersion=486539266
[Basic]
Profile=kmscast
ProfileDir=kmscast
SceneCollection=kmscast
SceneCollectionFile=kmscast
EOF
cat >"$cfg/basic/profiles/kmscast/basic.ini" <<EOF
[General]
Name=kmscast
[Output]
Mode=Simple
[SimpleOutput]
FilePath=$OUT
RecFormat=mkv
RecQuality=Lossless
FileNameWithoutSpace=true
[Video]
BaseCX=$W
BaseCY=$H
OutputCX=$W
OutputCY=$H
FPSType=0
FPSCommon=10
ColorFormat=RGB
ColorRange=Full
[Audio]
SampleRate=48000
ChannelSetup=Mono
EOF
cat >"$cfg/basic/scenes/kmscast.json" <<EOF
{
  "name": "kmscast",
  "current_scene": "Scene",
  "current_program_scene": "Scene",
  "scene_order": [{"name": "Scene"}],
  "sources": [
    {"id": "scene", "versioned_id": "scene", "name": "Scene", "uuid": "6b1f0a5e-6f0e-4c25-9a53-000000000001",
     "settings": {"id_counter": 1, "items": [
       {"name": "Screen", "source_uuid": "6b1f0a5e-6f0e-4c25-9a53-000000000002", "visible": true,
        "id": 1, "pos": {"x": 0, "y": 0}, "scale": {"x": 1.0, "y": 1.0}, "align": 5,
        "bounds_type": 0, "crop_left": 0, "crop_top": 0, "crop_right": 0, "crop_bottom": 0}]}},
    {"id": "pipewire-desktop-capture-source", "versioned_id": "pipewire-desktop-capture-source",
     "name": "Screen", "uuid": "6b1f0a5e-6f0e-4c25-9a53-000000000002",
     "settings": {"ShowCursor": false}}
  ]
}
EOF
chown -R "$KMSCAST_TEST_UID" "$OBS_HOME"

# OBS's simple output writes a lossless recording as .avi (utvideo), others as .mkv.
recording() { ls "$OUT"/*.mkv "$OUT"/*.avi 2>/dev/null | head -n 1; }

mkdir -p -m 1777 /tmp/.X11-unix
as_user Xvfb :99 -screen 0 1280x1024x24 -nolisten tcp >"$NODE_TMP/xvfb.log" 2>&1 &
XVFB=$!
wait_for_file /tmp/.X11-unix/X99 20 || portal_fail "Xvfb did not start"
as_user env HOME="$OBS_HOME" DISPLAY=:99 LIBGL_ALWAYS_SOFTWARE=1 QT_QPA_PLATFORM=xcb \
	obs --disable-shutdown-check --collection kmscast --profile kmscast --scene Scene \
	--startrecording >"$NODE_TMP/obs.log" 2>&1 &
OBS=$!
# OBS must have reached the portal and be recording before the clock starts. OBS with
# llvmpipe under TCG is slow to start: up to OBS_START_S (by the clock, not by iterations:
# under load each poll costs more than its sleep). With PORTAL_SHARE set (a --share dir), the
# logs are copied there as we go, so a timed-out run still says how far OBS got.
deadline=$((SECONDS + ${OBS_START_S:-240}))
while [ "$SECONDS" -lt "$deadline" ]; do
	grep -q "portal-[0-9]*: streaming" "$NODE_TMP/daemon.log" && [ -n "$(recording)" ] && break
	kill -0 "$OBS" 2>/dev/null || break
	[ -n "${PORTAL_SHARE:-}" ] && cp "$NODE_TMP/obs.log" "$NODE_TMP/daemon.log" "$PORTAL_SHARE/" 2>/dev/null
	sleep 2
done
echo "OBS start wait: $((SECONDS - deadline + ${OBS_START_S:-240})) s"
grep -i -E 'pipewire|portal|screencast|Recording|error' "$NODE_TMP/obs.log" | head -n 40
grep -q "portal-[0-9]*: streaming" "$NODE_TMP/daemon.log" || portal_fail "OBS did not start a portal session"
ls -l "$OUT"
sleep "$RECORD_S"
[ -n "${PORTAL_SHARE:-}" ] && cp "$NODE_TMP/obs.log" "$NODE_TMP/daemon.log" "$PORTAL_SHARE/" 2>/dev/null
# OBS 29 did not exit on SIGINT within 60 s on the bench while recording (why not was not
# looked into): SIGINT, then SIGKILL after 10 s. The recording is not finalized then, but each utvideo frame is
# a key frame and ffmpeg decodes the file up to the last whole one.
kill -INT "$OBS"
for _ in $(seq 20); do kill -0 "$OBS" 2>/dev/null || break; sleep 0.5; done
kill -0 "$OBS" 2>/dev/null && { kill -KILL "$OBS"; echo "OBS still running 10 s after SIGINT: killed"; }
wait "$OBS" 2>/dev/null
kill "$XVFB" 2>/dev/null
grep -i -E 'pipewire|Output .* stopping|Recording' "$NODE_TMP/obs.log" | tail -n 15
rec=$(recording)
[ -n "$rec" ] || portal_fail "OBS wrote no recording"
ffprobe -v error -show_entries stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_frames -of compact "$rec"
# One raw frame per recorded frame (passthrough), and at most 300 of them: a 640x480 frame
# is 1.2 MB of the guest's tmpfs, and with OBS 32 the decode of a 25 s recording filled it.
# (Skipping the recording's start with -ss, before the stream came, is not safe: OBS starts
# recording some unknown time after it starts, and a skip by its start time left 0 frames.)
ffmpeg -v error -i "$rec" -fps_mode passthrough -frames:v 300 -f rawvideo -pix_fmt bgr0 "$OUT/obs.raw" || portal_fail "cannot decode $rec"
summary=$("$B/tests/tools/pattern-check" --width "$W" --height "$H" --format BGRx --quiet \
	"$OUT/obs.raw" | tail -n1)
echo "OBS recording: $summary"
decoded=$(sed -n 's/.*decoded=\([0-9]*\).*/\1/p' <<<"$summary")
first=$(sed -n 's/.*first=\([0-9]*\).*/\1/p' <<<"$summary")
last=$(sed -n 's/.*last=\([0-9]*\).*/\1/p' <<<"$summary")
[ "${decoded:-0}" -ge 10 ] || portal_fail "only ${decoded:-0} recorded frames carry a producer frame number"
[ "${last:-0}" -gt "${first:-0}" ] || portal_fail "the recorded frames do not advance"
grep -q "closed by the caller" "$NODE_TMP/daemon.log" || echo "note: OBS did not close its session"
node_stop_daemon
# Which path the node served OBS: its scanout dma-bufs or CPU copies in MemFd buffers. OBS
# offers dma-buf formats only when its EGL lists modifiers it can import; which it did is a
# fact of the stack's Mesa and OBS, recorded here, not asserted (docs/usage.md).
grep -E "buffers over .* FBs, path|stream stats" "$NODE_TMP/daemon.log" | sed 's/.*\] //'
paths=$(sed -n 's/.* buffers over .* FBs, path \([a-z-]*\),.*/\1/p' "$NODE_TMP/daemon.log" | sort -u)
echo "OBS path: $(echo ${paths:-none})"
kill "$PRODUCER" 2>/dev/null
echo "PASS t-portal-obs"
