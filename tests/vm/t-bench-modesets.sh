#!/bin/bash
# The bench itself: mode sets while the producer flips must not freeze the guest. vkms up to
# 6.18 deadlocks both vCPUs when a mode set turns the vblank off while its timer's callback
# runs on the other vCPU; tests/vm/kernel.sh (vkms_fix_vblank_deadlock) fixes the vkms.ko the
# bench builds. The race is narrow: unfixed, one run of seven froze (19 s into it; 30 to 90 s
# runs on 2026-12-05, a mode set every 1 or 4 frames), and tests/vm/run reported the freeze
# with both CPUs' backtraces: one in hrtimer_cancel under drm_crtc_vblank_off, the other in
# drm_handle_vblank under vkms_vblank_simulate. A soak froze at its mode set the same day
# (one of six runs; before the freeze report, so without backtraces). This test therefore
# catches a regression of the fix only sometimes; the freeze report shows it in any test.
# The producer toggles 640x480 and 800x600 every EVERY frames (4: the flips between mode sets
# keep the vblank on) for SECONDS (15: tools/test's 40 min are tight); it must end by itself,
# after at least 50 mode sets (about 135 on a quiet 2-core host).
# Run: tests/vm/run --kms vkms -- tests/vm/t-bench-modesets.sh [SECONDS [EVERY]]
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
B=$KMSCAST_BUILD_DIR
LOG=/tmp/kmscast-modesets.log
SECONDS_RUN=${1:-15}
"$B/tests/tools/kms-producer" --mode 640x480 --mode-change-every "${2:-4}:800x600" \
	--duration "$SECONDS_RUN" --log "$LOG"
rc=$?
modesets=$(grep -c 'via=modeset' "$LOG")
echo "producer exit $rc: $modesets mode sets, $(grep -c '^flip' "$LOG") frames"
[ "$rc" = 0 ] || vm_fail "the producer failed (exit $rc)"
[ "$modesets" -ge 50 ] || vm_fail "only $modesets mode sets in $SECONDS_RUN s"
echo "ok: t-bench-modesets"
