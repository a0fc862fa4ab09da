#!/bin/bash
# meson install into a DESTDIR: checks the installed file set, the .portal, D-Bus activation
# and unit contents, and runs systemd-analyze verify on the user and system units.
#   test-install.sh BUILD_DIR PREFIX
set -u
build=$1
prefix=$2
dest=$(mktemp -d /tmp/kmscast-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

DESTDIR=$dest meson install -C "$build" --no-rebuild --quiet >"$dest.log" 2>&1 ||
	{ cat "$dest.log" >&2; rm -f "$dest.log"; fail "meson install"; }
rm -f "$dest.log"
root=$dest$prefix

# The file set. Paths are relative to the prefix, except the system unit dir, which comes
# from systemd.pc and may sit outside it.
need=(
	bin/kmscast
	libexec/kmscast-helper
	share/xdg-desktop-portal/portals/kmscast.portal
	share/dbus-1/services/org.freedesktop.impl.portal.desktop.kmscast.service
	share/doc/kmscast/examples/portals.conf
	share/doc/kmscast/examples/kmscast.conf
	share/man/man1/kmscast.1
	share/man/man8/kmscast-helper.8
	share/pipewire/pipewire.conf.d/50-kmscast.conf
)
for f in "${need[@]}"; do
	[ -e "$root/$f" ] || fail "not installed: $prefix/$f"
done
find_one() {
	find "$dest" -path "*/$1" -print -quit
}
user_unit=$(find_one "systemd/user/kmscast.service")
helper_service=$(find_one "systemd/system/kmscast-helper.service")
helper_socket=$(find_one "systemd/system/kmscast-helper.socket")
plugin=$(find_one "spa-0.2/kmscast/libspa-kmscast.so")
for v in user_unit helper_service helper_socket plugin; do
	[ -n "${!v}" ] || fail "not installed: $v"
done
echo "installed: $(cd "$dest" && find . -type f | sort | tr '\n' ' ')"

# The .portal file: exactly what `kmscast --print-portal-file` prints by default, and the
# keys xdg-desktop-portal 1.16 requires (UseIn is mandatory there).
portal=$root/share/xdg-desktop-portal/portals/kmscast.portal
diff -u "$portal" <("$build/src/kmscast" --config /dev/null --print-portal-file) ||
	fail "kmscast.portal differs from --print-portal-file"
grep -qx '\[portal\]' "$portal" || fail ".portal group"
grep -qx 'DBusName=org.freedesktop.impl.portal.desktop.kmscast' "$portal" || fail "DBusName"
grep -qx 'Interfaces=org.freedesktop.impl.portal.ScreenCast;' "$portal" || fail "Interfaces"
grep -q '^UseIn=..*' "$portal" || fail "UseIn"

svc=$root/share/dbus-1/services/org.freedesktop.impl.portal.desktop.kmscast.service
grep -qx 'Name=org.freedesktop.impl.portal.desktop.kmscast' "$svc" || fail "activation Name"
grep -qx "Exec=$prefix/bin/kmscast" "$svc" || fail "activation Exec"
grep -qx 'SystemdService=kmscast.service' "$svc" || fail "activation SystemdService"

grep -qx "ExecStart=$prefix/bin/kmscast" "$user_unit" || fail "user unit ExecStart"
grep -q '^After=.*pipewire.service' "$user_unit" || fail "user unit not after pipewire"
grep -q '^PartOf=graphical-session.target' "$user_unit" || fail "user unit PartOf"
! grep -q '^ConditionEnvironment' "$user_unit" || fail "ConditionEnvironment fails headless"
grep -q '^WantedBy=' "$user_unit" || fail "user unit has no [Install] target"

grep -q '^org.freedesktop.impl.portal.ScreenCast=kmscast' \
	"$root/share/doc/kmscast/examples/portals.conf" || fail "portals.conf example"

# systemd-analyze verify: units must reference binaries that exist, so verify copies whose
# paths point into the DESTDIR (the unit text is otherwise the installed one).
if command -v systemd-analyze >/dev/null; then
	vdir=$dest/verify
	mkdir -p "$vdir"
	for u in "$user_unit" "$helper_service" "$helper_socket"; do
		sed "s|=$prefix/|=$root/|g" "$u" >"$vdir/$(basename "$u")"
	done
	mkdir -p -m 0700 "$dest/run"
	out=$(cd "$vdir" && XDG_RUNTIME_DIR=$dest/run SYSTEMD_LOG_LEVEL=warning \
		systemd-analyze verify --user \
		"$vdir/kmscast.service" 2>&1 | grep -v -e 'pipewire.service' -e 'graphical-session' \
		-e 'Failed to .*bus' -e 'XDG_RUNTIME_DIR')
	[ -z "$out" ] || fail "systemd-analyze verify --user kmscast.service: $out"
	out=$(cd "$vdir" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
		"$vdir/kmscast-helper.socket" "$vdir/kmscast-helper.service" 2>&1)
	[ -z "$out" ] || fail "systemd-analyze verify helper units: $out"
	echo "systemd-analyze verify: clean"
fi
echo "PASS test-install"
