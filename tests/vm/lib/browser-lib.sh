# Shared setup for the t-browser-*.sh tests: a browser under Xvfb shares the vkms monitor
# through the real xdg-desktop-portal frontend and kmscast's backend, and the page
# (lib/browser/) decodes the producer's frame numbers after a WebRTC loop. Source after
# fixtures.sh, node-lib.sh and portal-lib.sh, inside the VM, with --with wireplumber.
#
#   browser_setup            loopback up, producer (blocks pattern), kmscast, the frontend,
#                            Xvfb :99 and the page's HTTP server on 127.0.0.1; sets W, H
#                            (the monitor's size), CONN, PAGE_URL
#   browser_watch_graph      in the background, once a portal node streams: a pw-dump
#                            ($OUT/pw-dump.json) for the consumer's params, and
#                            pw-shm-consumer --blocks on the daemon's own node for 150 frames
#                            ($OUT/shm-probe.log): the SHM copy path under the browser's load,
#                            seen by a consumer that holds no buffer while decoding
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
	# 20 Hz over 6 buffers, 320x240: a browser encodes and decodes VP8 in software, and
	# under TCG on a busy host 640x480 took Chromium 0.5 s a frame, 320x240 0.1 to 0.3 s.
	# Every buffer the node delivers is also copied by libwebrtc. The blocks pattern
	# survives lossy video coding.
	portal_producer --duration 1800 --rate 20 --buffers 6 --mode "${KMSCAST_BROWSER_MODE:-320x240}" \
		--pattern blocks
	read -r W H < <(sed -n 's/.* size=\([0-9]*\)x\([0-9]*\) .*/\1 \2/p' "$NODE_TMP/producer.log" | head -n1)
	CONN=$(sed -n 's/.* connector=\([^ ]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n1)
	echo "producer: $CONN ${W}x${H}"
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
	(
		for _ in $(seq 1200); do
			grep -q 'portal-[0-9]*: streaming' "$NODE_TMP/daemon.log" && break
			sleep 0.5
		done
		sleep 5
		as_user pw-dump >"$OUT/pw-dump.json" 2>/dev/null
		shm_consumer shm-probe --target "kmscast.card0.$CONN" --blocks --frames 150 --timeout 120
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
