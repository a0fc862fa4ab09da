#!/bin/bash
# gst-timed.sh gst-launch-1.0 ARGS...: runs gst-launch-1.0 with -m -v, its output (both
# streams) on stdout, each line prefixed with the wall-clock time it arrived (bash's
# EPOCHREALTIME; GLib flushes every line it prints). The pipeline puts an
# "identity name=mark silent=false" after pipewiresrc, whose per-buffer last-message -v
# prints; gst_first_buffer_ms (node-lib.sh) reads the time from PLAYING to its first line.
# gst-launch-1.0 is this script's child (for callers that look for it by parent).
# Exits with gst-launch's status.
set -o pipefail
[ "${1:-}" = gst-launch-1.0 ] || { echo "gst-timed.sh: expected gst-launch-1.0, got ${1:-nothing}" >&2; exit 2; }
shift
# -q would silence -m's messages too.
args=()
for a in "$@"; do
	[ "$a" = -q ] || args+=("$a")
done
# Stamped until both the first buffer and PLAYING went by (either may come first); the rest
# goes through cat (bash reads a pipe a byte at a time, which a TCG guest streaming at 60 Hz
# can do without).
playing= buffer=
gst-launch-1.0 -m -v "${args[@]}" 2>&1 | while IFS= read -r line; do
	printf '%s %s\n' "$EPOCHREALTIME" "$line"
	[[ $line == *"GstIdentity:mark: last-message = chain"* ]] && buffer=1
	[[ $line == *'element "pipeline0" (state-changed)'* && ${line,,} == *"new-state=(gststate)"*playing* ]] &&
		playing=1
	[ -n "$playing" ] && [ -n "$buffer" ] && exec cat
done
