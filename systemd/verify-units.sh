#!/bin/sh
# Runs `systemd-analyze verify` on the kmscast-helper units, with ExecStart= pointing at the
# built helper, and fails on any diagnostic about our units.
#   verify-units.sh SYSTEMD_ANALYZE BUILT_HELPER INSTALLED_HELPER UNIT...
set -eu
analyze=$1 built=$2 installed=$3
shift 3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for unit in "$@"; do
	sed "s|$installed|$built|g" "$unit" > "$dir/$(basename "$unit")"
done
grep -q "ExecStart=$built --socket-activated" "$dir/kmscast-helper.service"
cd "$dir"
# --man=no: verify would look the man pages up with the host's man, that is in whatever the
# host has installed; the install test checks Documentation= against its DESTDIR instead.
out=$("$analyze" verify --man=no ./kmscast-helper.socket ./kmscast-helper.service 2>&1) || {
	echo "$out"
	exit 1
}
# verify prints warnings without failing; any line about our units fails the test.
if echo "$out" | grep -i "kmscast-helper"; then
	exit 1
fi
echo "verified: $*"
