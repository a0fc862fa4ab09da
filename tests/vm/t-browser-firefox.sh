#!/bin/bash
# A browser's screen share, end to end: Debian's Firefox ESR under Xvfb, driven over its
# built-in Marionette server (Debian 12 packages no geckodriver; lib/drive-firefox.py speaks
# the protocol), shares the vkms monitor through the real xdg-desktop-portal frontend and
# kmscast's backend. The page (lib/browser/) sends the track through one RTCPeerConnection to
# another and decodes the producer's frame numbers (blocks pattern) from the received video.
# browser-check.py judges the 20 s after a 5 s warm-up of the loop: at least 100 frames, no
# number going back, no stall over 1 s, the monitor's size (docs/testing.md, "Browsers").
# Run: tests/vm/run --kms vkms --with wireplumber --mem 3072 --timeout 1200 --
#      tests/vm/t-browser-firefox.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/browser-lib.sh"
trap 'browser_finish; node_keep' EXIT

[ -x /usr/lib/firefox-esr/firefox-esr ] || vm_fail "firefox-esr is not installed (tools/install-deps --browsers)"

# Firefox encodes on its own timer whatever the rate (browser-lib.sh).
browser_setup 320x240 20
browser_watch_graph
PROFILE=$NODE_TMP/firefox-profile
mkdir -p "$PROFILE"
cat >"$PROFILE/user.js" <<'EOF'
// Screen capture through PipeWire and the portal's ScreenCast (the default on Linux; the
// capturer is used only in a Wayland session: XDG_SESSION_TYPE=wayland, WAYLAND_DISPLAY).
user_pref("media.webrtc.capture.allow-pipewire", true);
// No Firefox sharing prompt: getDisplayMedia takes the first screen, which under PipeWire
// is the portal's; the portal's backend picks the monitor (kmscast, without a chooser).
user_pref("media.navigator.permission.disabled", true);
// ICE between the page's two connections runs over lo, the VM's only interface.
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
// The driver.
user_pref("marionette.port", 2828);
// A quiet first start with no network: no welcome pages, updates, telemetry or downloads.
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("dom.disable_open_during_load", false);
EOF
chown -R "$KMSCAST_TEST_UID" "$PROFILE"
chmod -R a+rX "$KMSCAST_SRC_DIR/tests/vm/lib"

start=$SECONDS
# Firefox draws on Xvfb (MOZ_ENABLE_WAYLAND=0, GDK_BACKEND=x11) while XDG_SESSION_TYPE and
# WAYLAND_DISPLAY say Wayland: libwebrtc's DesktopCapturer::IsRunningUnderWayland() reads
# exactly these two, and only then does Firefox capture screens through the portal.
# The bench runs a chroot, where Firefox's user-namespace sandboxes cannot start.
as_user env DISPLAY=:99 GDK_BACKEND=x11 MOZ_ENABLE_WAYLAND=0 \
	XDG_SESSION_TYPE=wayland WAYLAND_DISPLAY=wayland-kmscast-none \
	MOZ_DISABLE_CONTENT_SANDBOX=1 MOZ_DISABLE_RDD_SANDBOX=1 MOZ_DISABLE_SOCKET_PROCESS_SANDBOX=1 \
	MOZ_DISABLE_GMP_SANDBOX=1 MOZ_DISABLE_UTILITY_SANDBOX=1 \
	MOZ_LOG="${KMSCAST_MOZ_LOG:-}" \
	/usr/bin/python3 "$KMSCAST_SRC_DIR/tests/vm/lib/drive-firefox.py" \
	--url "$PAGE_URL" --out "$OUT" --profile "$PROFILE" --hold "$BROWSER_HOLD" >"$NODE_TMP/driver.log" 2>&1
rc=$?
echo "driver exited $rc after $((SECONDS - start)) s"
cat "$NODE_TMP/driver.log"
grep -i -E 'pipewire|portal|screencast|dmabuf|webrtc' "$OUT/firefox.log" | head -n 80
[ -f "$OUT/result.json" ] || portal_fail "the driver wrote no result (see the logs above)"
browser_check firefox
sleep 1
grep -q "closed by the caller" "$NODE_TMP/daemon.log" || portal_fail "Firefox's portal session did not close"
node_stop_daemon
kill "$PRODUCER" 2>/dev/null
vm_finish t-browser-firefox
