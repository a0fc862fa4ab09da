# Shared setup for the t-browser-*.sh tests: a browser under Xvfb shares the vkms monitor
# through the real xdg-desktop-portal frontend and kmscast's backend, and the page
# (lib/browser/) decodes the producer's frame numbers after a WebRTC loop. Source after
# fixtures.sh, node-lib.sh and portal-lib.sh, inside the VM, with --with wireplumber.
#
#   browser_setup [MODE [RATE]]  loopback up, producer (blocks pattern, MODE at RATE Hz:
#                            320x240 at 20 by default), kmscast, the frontend,
#                            Xvfb :99 and the page's HTTP server on 127.0.0.1; sets W, H
#                            (the monitor's size), CONN, PAGE_URL
#   browser_watch_graph      in the background, once the driver has the page's result and
#                            while it keeps the streams running ($BROWSER_HOLD, the drivers'
#                            --hold): a pw-dump ($OUT/pw-dump.json) for the consumer's params,
#                            and pw-shm-consumer --blocks on the daemon's own node for 150
#                            frames ($OUT/shm-probe.log): the SHM copy path under the
#                            browser's load, seen by a consumer that holds no buffer while
#                            decoding
#   browser_check NAME       judges $OUT/result.json (browser-check.py), prints the path the
#                            node served; fails the test when the stream was not good
#   browser_finish NAME      stops what browser_setup started, copies the logs out

BROWSER_PAGE_DIR=$KMSCAST_SRC_DIR/tests/vm/lib/browser
BROWSER_PORT=8765
BROWSER_SECONDS=${BROWSER_SECONDS:-20}
# The judged seconds start this long after the first decoded frame. On a quiet host the
# longest gaps of both browsers were in the WebRTC loop's first seconds (Chromium 0.97 to
# 1.35 s, its first gap; Firefox 1.7 s at the start and 1.5 s 2.8 s in, none over 0.65 s
# after 4.3 s) while the node delivered every flip to their streams: the encoder and the
# bandwidth estimate starting under TCG, not the source (docs/testing.md, "Browsers").
BROWSER_WARMUP=${BROWSER_WARMUP:-5}

browser_setup() {
	# WebRTC's ICE and the drivers talk over TCP/UDP on 127.0.0.1: the bench leaves lo down.
	ip link set lo up || vm_fail "cannot bring up lo (ip, from iproute2: tools/install-deps --browsers)"
	# MODE and RATE: what each browser's test asks for (KMSCAST_BROWSER_MODE and
	# KMSCAST_BROWSER_RATE override them), over 6 buffers. A browser encodes and decodes VP8
	# in software, and under TCG that is what the test is short of, not the node.
	#  - Chromium: 160x120 at 10 Hz. On one host (2026-12-06) at 320x240 and 20 Hz its
	#    libvpx took 44 to 53 ms of CPU a frame, encoded 11 to 17 of the 20 a second, and its
	#    receiver decoded about half of those: 4.0 to 5.9 frames a second reached the page,
	#    against the 5 the test asks for. At 160x120 and 10 Hz, 7 to 9 ms a frame, every
	#    frame encoded and decoded, 9.0 to 9.9 a second reached the page.
	#  - Firefox: 320x240 at 20 Hz. Its capturer encodes on its own timer (22 frames a second
	#    whatever the source's rate), and the page sees the frames its compositor presents:
	#    at 160x120 and 10 Hz 5.9 a second reached the page, at 20 Hz more distinct ones.
	# docs/testing.md, "Browsers". The blocks pattern survives lossy video coding.
	portal_producer --duration 1800 --rate "${KMSCAST_BROWSER_RATE:-${2:-20}}" --buffers 6 \
		--mode "${KMSCAST_BROWSER_MODE:-${1:-320x240}}" --pattern blocks
	read -r W H < <(sed -n 's/.* size=\([0-9]*\)x\([0-9]*\) .*/\1 \2/p' "$NODE_TMP/producer.log" | head -n1)
	CONN=$(sed -n 's/.* connector=\([^ ]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n1)
	echo "producer: $CONN ${W}x${H}"
	# The browser asks once; the AT-SPI driver's polling after that took a tenth of a vCPU
	# (itself, the bus and the registry) from a browser short of CPU.
	PORTAL_CONSENT_ARGS="$PORTAL_CONSENT_ARGS --dialogs 1"
	portal_start_kmscast
	node_wait "kmscast.card0.$CONN" >/dev/null || exit 1
	# The session's node starts from the swapchain the daemon's node learned.
	node_wait_fbs 6
	portal_start_frontend

	mkdir -p -m 1777 /tmp/.X11-unix
	as_user Xvfb :99 -screen 0 1280x1024x24 -nolisten tcp >"$NODE_TMP/xvfb.log" 2>&1 &
	XVFB=$!
	wait_for_file /tmp/.X11-unix/X99 20 || portal_fail "Xvfb did not start"
	as_user /usr/bin/python3 -m http.server "$BROWSER_PORT" --bind 127.0.0.1 \
		--directory "$BROWSER_PAGE_DIR" >"$NODE_TMP/http.log" 2>&1 &
	HTTPD=$!
	PAGE_URL="http://127.0.0.1:$BROWSER_PORT/index.html?seconds=$BROWSER_SECONDS&warmup=$BROWSER_WARMUP"
	# KMSCAST_BROWSER_LOCAL=1: the page also decodes the shared track before WebRTC, which
	# tells frames broken by the capture from frames broken by the codec.
	[ "${KMSCAST_BROWSER_LOCAL:-0}" = 1 ] && PAGE_URL="$PAGE_URL&local=1"
	for _ in $(seq 50); do
		python3 -c "import urllib.request as u; u.urlopen('$PAGE_URL', timeout=2)" 2>/dev/null && return 0
		sleep 0.2
	done
	portal_fail "the page's HTTP server does not answer"
}

browser_watch_graph() {
	# Kept out of the judged seconds: the probe's copies and decoding take CPU the browser's
	# codec is short of under TCG. The driver keeps the streams running after the result
	# while BROWSER_HOLD exists (--hold), and the probe then sees the SHM path under the
	# browser's load all the same.
	BROWSER_HOLD=$OUT/hold
	: >"$BROWSER_HOLD"
	chown "$KMSCAST_TEST_UID" "$BROWSER_HOLD"
	(
		# A look a second: each starts a sleep, a process the browser pays for under TCG.
		wait_for_file "$OUT/result.json" 900 1 || exit 0
		as_user pw-dump >"$OUT/pw-dump.json" 2>/dev/null
		shm_consumer shm-probe --target "kmscast.card0.$CONN" --blocks --frames 150 --timeout 120
		rm -f "$BROWSER_HOLD"
	) &
	GRAPH_WATCH=$!
}

# The allocation lines say which path the node served: dma-buf (the scanout buffers) or shm
# (a CPU copy into MemFd buffers), once per negotiation.
browser_paths() {
	grep -E 'portal-[0-9]+: [0-9]+ buffers over [0-9]+ FBs, path' "$NODE_TMP/daemon.log"
}

browser_check() {
	echo "--- node: allocations and stream stats"
	browser_paths
	grep -E 'portal-[0-9]+: (streaming|stream stats)' "$NODE_TMP/daemon.log"
	if [ -s "$OUT/shm-probe.log" ]; then
		frames_of "$OUT/shm-probe.log" | awk -v name="$1" '
			{ n++ } $1 < 0 { bad++; next }
			prev != "" && $1 == prev { rep++ }
			prev != "" && $1 < prev && prev - $1 < 2048 { back++ }
			{ prev = $1 }
			END { printf "%s: the daemon'"'"'s node meanwhile, pw-shm-consumer: buffers=%d undecodable=%d backwards=%d repeats=%d\n", name, n, bad, back, rep }'
	fi
	path=$(browser_paths | tail -n 1 | sed -n 's/.*, path \([a-z-]*\)[ ,].*/\1/p')
	echo "$1: node path ${path:-none}"
	/usr/bin/python3 "$KMSCAST_SRC_DIR/tests/vm/lib/browser-check.py" --name "$1" \
		--width "$W" --height "$H" --warmup "$BROWSER_WARMUP" --seconds "$BROWSER_SECONDS" \
		--pw-dump "$OUT/pw-dump.json" "$OUT/result.json"
	case $? in
	0) ;;
	# Only the pace (frames, stalls) failed: the test ends with vm_finish's timing verdict.
	3) vm_check 3 "$1-pace" ;;
	*) portal_fail "$1: the received stream is not good (above)" ;;
	esac
}

browser_finish() {
	[ -n "${PORTAL_SHARE:-}" ] && cp "$NODE_TMP"/*.log "$OUT"/* "$PORTAL_SHARE/" 2>/dev/null
	kill "$HTTPD" "$XVFB" ${GRAPH_WATCH:-} 2>/dev/null
	return 0
}
