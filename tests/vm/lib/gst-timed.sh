#!/bin/bash
# gst-timed.sh [--first-buffer-file FILE] gst-launch-1.0 ARGS...: runs gst-launch-1.0 (never
# -q), its output (both streams) on stdout, the lines up to "Setting pipeline to PLAYING"
# prefixed with the wall-clock time they arrived (bash's EPOCHREALTIME; GLib flushes every
# line). The first buffer is seen one of two ways, for gst_first_buffer_ms (node-lib.sh):
#   --first-buffer-file FILE: the pipeline's filesink writes FILE (removed first); a poller
#     prints "<time> kmscast-first-buffer" once it is not empty. Costs gst nothing, for the
#     captures whose every frame counts.
#   otherwise: the pipeline puts "identity name=mark silent=false" (GST_MARK) after
#     pipewiresrc and gst runs with -v, which prints a line per buffer; stamping goes on to
#     the first of them.
# Exits with gst-launch's status.
set -o pipefail
file=
if [ "${1:-}" = --first-buffer-file ]; then
	file=$2
	shift 2
fi
[ "${1:-}" = gst-launch-1.0 ] || { echo "gst-timed.sh: expected gst-launch-1.0, got ${1:-nothing}" >&2; exit 2; }
shift
args=()
for a in "$@"; do
	[ "$a" = -q ] || args+=("$a")
done
poller=
if [ -n "$file" ]; then
	rm -f "$file"
	verbose=()
	(
		while [ ! -s "$file" ]; do
			sleep 0.02
		done
		printf '%s kmscast-first-buffer\n' "$EPOCHREALTIME"
	) &
	poller=$!
else
	verbose=(-v)
fi
playing= buffer=${file:+1}
gst-launch-1.0 "${verbose[@]}" "${args[@]}" 2>&1 | while IFS= read -r line; do
	printf '%s %s\n' "$EPOCHREALTIME" "$line"
	[[ $line == *"GstIdentity:mark: last-message = chain"* ]] && buffer=1
	[[ $line == "Setting pipeline to PLAYING"* ]] && playing=1
	# bash reads a pipe a byte at a time: the rest goes through cat.
	[ -n "$playing" ] && [ -n "$buffer" ] && exec cat
done
rc=$?
if [ -n "$poller" ]; then
	# Give a last write a moment to show, then stop a poller that saw nothing.
	sleep 0.1
	kill "$poller" 2>/dev/null
	wait "$poller" 2>/dev/null
fi
exit "$rc"
