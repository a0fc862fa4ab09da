#!/bin/bash
# A format the node cannot serve comes and goes: the producer flips XR24 FBs, then, once the
# consumer has 30 frames (SIGUSR1), shows FMT_N frames on new XRGB16161616 FBs (16 bits per channel, no SPA video format:
# what a game or video player in direct scanout with an HDR or wide format puts on the plane),
# then new XR24 FBs again. While the XR48 FBs are on screen the node still offers BGRx (an
# empty EnumFormat would leave a consumer that connects then nothing to link with). A zero-copy
# consumer (pw-shm-consumer --dmabuf) streams through it:
# it must keep its stream (exit 0 with all its frames, every format BGRx: an empty EnumFormat
# would end it), get the producer's frames in order before and after, none in between (they
# cannot be served), and the daemon must say once why the picture stood still. The XR48 FBs
# are exported at most once a second each while they are on screen.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-node-format.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
FMT_N=${FMT_N:-120}
FRAMES=${FRAMES:-240}

node_setup
node_producer --rate 60 --duration 120 --buffers 3 --mode 640x480 \
	--format-change-at "usr1:XR48:$FMT_N"
node_start_daemon
rt_boost_graph
ID=$(node_wait "kmscast.card0.$CONNECTOR") || exit 1
node_wait_fbs 3

# What a consumer that connects now would be offered: the node's EnumFormat while the XR48
# FBs are on screen, after the renegotiation debounce.
(
	for _ in $(seq 600); do
		grep -q "fourcc=XR48" "$NODE_TMP/producer.log" && break
		sleep 0.05
	done
	sleep 0.8
	as_user pw-cli enum-params "$ID" EnumFormat >"$OUT/enum-xr48.txt" 2>&1
) &
ENUM_JOB=$!
shm_consumer fmt --target "$ID" --dmabuf --frames "$FRAMES" --timeout 60 &
CONSUMER_JOB=$!
# The XR48 FBs come once the consumer streams, however long the node took to get there.
for _ in $(seq 600); do
	[ "$(grep -c '^buf' "$OUT/fmt.log" 2>/dev/null)" -ge 30 ] && break
	sleep 0.05
done
kill -USR1 "$PRODUCER_PID"
wait "$CONSUMER_JOB"
RC=$?
wait "$ENUM_JOB"
node_stop_daemon
node_stop_producer
grep "format" "$OUT/fmt.err"
grep "stream stats\|renegotiating\|joins\|cannot describe\|gone;" "$NODE_TMP/daemon.log" |
	sed 's/.*\] //' | tail -n 20
grep -c "fourcc=XR48" "$NODE_TMP/producer.log" | sed 's/^/producer XR48 FBs: /'
grep -q "fourcc=XR48" "$NODE_TMP/producer.log" || vm_fail "the producer made no XR48 FB"
[ "$RC" = 0 ] || vm_fail "consumer failed ($RC): the stream did not survive the format"
FAILS=
FMT_AT=$(sed -n 's/^format-change .* frame=\([0-9]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n 1)
echo "XR48 from frame ${FMT_AT:-?} for $FMT_N frames"
[ -n "$FMT_AT" ] || vm_fail "the producer logged no format change"
formats=$(sed -n 's/.*: format \([^ ]*\) .*/\1/p' "$OUT/fmt.err" | sort -u | tr '\n' ' ')
echo "formats negotiated: $formats"
[ "$formats" = "BGRx " ] || FAILS="$FAILS formats($formats)"
# In order, decoded, zero copy; the XR48 frames are missing by design.
check_frames "$OUT/fmt.log" 1000000
vm_check $? frames
data=$(sed -n 's/^buf .* data=\([a-z]*\) .*/\1/p' "$OUT/fmt.log" | sort -u | tr '\n' ' ')
[ "$data" = "dmabuf " ] || FAILS="$FAILS data-types($data)"
read -r before inside after <<<"$(frames_of "$OUT/fmt.log" | awk -v a="$FMT_AT" -v n="$FMT_N" '
	$1 >= 0 && $1 < a { b++ } $1 >= a && $1 < a + n { i++ } $1 >= a + n { f++ }
	END { print b + 0, i + 0, f + 0 }')"
echo "frames before the XR48 FBs: $before, while they were on screen: $inside, after: $after"
[ "$before" -ge 30 ] || FAILS="$FAILS before($before)"
[ "$inside" = 0 ] || FAILS="$FAILS served-xr48($inside)"
[ "$after" -ge 60 ] || FAILS="$FAILS after($after)"
enum=$(grep -o "VideoFormat:[A-Za-z0-9_]*" "$OUT/enum-xr48.txt" | sort -u | tr '\n' ' ')
echo "EnumFormat while the XR48 FBs were on screen: ${enum:-none}"
[ "$enum" = "VideoFormat:BGRx " ] || { cat "$OUT/enum-xr48.txt"; FAILS="$FAILS enum-format(${enum:-none})"; }
warned=$(grep -c "is XR48, a format PipeWire cannot describe" "$NODE_TMP/daemon.log")
[ "$warned" = 1 ] || FAILS="$FAILS warned($warned)"
# 3 XR24 FBs, 3 XR48 ones (each again after a second on screen: FMT_N frames is 2 s), 3 new
# XR24 ones; a node that exported the XR48 FBs on every flip would export about FMT_N times.
exports=$(sed -n 's/.*gone; .* \([0-9]*\) exports.*/\1/p' "$NODE_TMP/daemon.log" | tail -n 1)
echo "helper exports over the node's life: ${exports:-?}"
[ -n "$exports" ] && [ "$exports" -le 20 ] || FAILS="$FAILS exports(${exports:-none})"
vm_finish t-node-format
