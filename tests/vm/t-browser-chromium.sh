#!/bin/bash
# A browser's screen share, end to end: Debian's Chromium under Xvfb, driven by chromedriver
# (python3-selenium), shares the vkms monitor through the real xdg-desktop-portal frontend
# and kmscast's backend. The page (lib/browser/) sends the track through one
# RTCPeerConnection to another and decodes the producer's frame numbers (blocks pattern)
# from the received video. browser-check.py judges the 20 s after a 5 s warm-up of the loop:
# at least 100 frames, no number going back, no stall over 1 s, the monitor's size
# (docs/testing.md, "Browsers").
# Run: tests/vm/run --kms vkms --with wireplumber --mem 3072 --timeout 900 --
#      tests/vm/t-browser-chromium.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/browser-lib.sh"
trap 'browser_finish; node_keep' EXIT

[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] &&
	/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	vm_fail "chromium, chromium-driver and python3-selenium are not installed (tools/install-deps --browsers)"

# Under TCG Chromium is short of CPU for VP8 at 320x240 (browser-lib.sh).
browser_setup 160x120 10
browser_watch_graph
PROFILE=$NODE_TMP/chromium-profile
mkdir -p "$PROFILE" && chown "$KMSCAST_TEST_UID" "$PROFILE"

# shellcheck disable=SC2054 # --disable-features takes one comma-separated list
flags=(
	# The PipeWire capturer, which reaches screens through the portal's ScreenCast.
	--enable-features=WebRTCPipeWireCapturer
	# Chromium (content::desktop_capture::CanUsePipeWire) and libwebrtc
	# (DesktopCapturer::IsRunningUnderWayland) take the PipeWire capturer only in a Wayland
	# session: XDG_SESSION_TYPE=wayland and WAYLAND_DISPLAY set (below). On X11 they capture
	# the X server instead. The browser itself draws on Xvfb.
	--ozone-platform=x11
	# No Chromium picker: the fake UI accepts at once and asks for the whole screen, and
	# the portal's backend picks the monitor (kmscast: the only one, without a chooser).
	--use-fake-ui-for-media-stream
	# ICE between the page's two connections runs over lo, the VM's only interface.
	--allow-loopback-in-peer-connection
	# One list: Chromium takes the last --disable-features only. WebRtcHideLocalIpsWithMdns:
	# ICE over lo. The rest is work Chromium 156 starts by itself a few seconds into the
	# share, which under TCG stalled the loop for 2 s (2026-12-06): the omnibox's suggestion
	# popup as a WebUI page in a renderer of its own (chrome://omnibox-popup.top-chrome) and
	# other preloaded top-chrome WebUIs, plus the Cast device discovery, translation and
	# optimization-hint services, none of which the test uses.
	--disable-features=WebRtcHideLocalIpsWithMdns,WebUIOmniboxPopup,WebUIOmniboxAimPopup,PreloadTopChromeWebUI,MediaRouter,Translate,OptimizationHints
	--disable-extensions --disable-component-extensions-with-background-pages --mute-audio
	# The bench runs a chroot, where Chromium's user-namespace sandbox cannot start.
	--no-sandbox
	# No GPU: software compositing. The capturer finds no render node to import dma-bufs
	# with EGL (vkms has none) and takes MemFd buffers.
	--disable-gpu
	--no-first-run --no-default-browser-check --disable-background-networking
	--disable-component-update --disable-sync --disable-default-apps --password-store=basic
	--window-size=1000,600
	--enable-logging=stderr --v=0
	--vmodule='*/desktop_capture/*=4'
)
chmod -R a+rX "$KMSCAST_SRC_DIR/tests/vm/lib"
start=$SECONDS
as_user env DISPLAY=:99 GDK_BACKEND=x11 XDG_SESSION_TYPE=wayland WAYLAND_DISPLAY=wayland-kmscast-none \
	/usr/bin/python3 "$KMSCAST_SRC_DIR/tests/vm/lib/drive-chromium.py" \
	--url "$PAGE_URL" --out "$OUT" --profile "$PROFILE" --hold "$BROWSER_HOLD" -- "${flags[@]}" >"$NODE_TMP/driver.log" 2>&1
rc=$?
echo "driver exited $rc after $((SECONDS - start)) s"
cat "$NODE_TMP/driver.log"
grep -i -E 'pipewire|portal|screencast|dmabuf|egl|shared_screencast' "$OUT/chromium.log" | head -n 80
[ -f "$OUT/result.json" ] || portal_fail "the driver wrote no result (see the logs above)"
browser_check chromium
sleep 1
grep -q "closed by the caller" "$NODE_TMP/daemon.log" || portal_fail "Chromium's portal session did not close"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
vm_finish t-browser-chromium
