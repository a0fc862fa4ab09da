#!/bin/bash
# meson install into a DESTDIR: checks the installed file set, the .portal, D-Bus activation
# and unit contents, that every unit's Documentation= is in the staged install (man pages
# render), and runs systemd-analyze verify on the user and system units.
#   test-install.sh BUILD_DIR PREFIX MANDIR
# Everything is checked against the DESTDIR, never against what the host has installed: a
# fresh machine has no kmscast, a developer's may have an old one.
set -u
build=$1
prefix=$2
mandir=$3
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
	share/doc/kmscast/security.md
	share/man/man1/kmscast.1
	share/man/man8/kmscast-helper.8
	share/doc/kmscast/examples/pipewire.conf.d/50-kmscast.conf
)
# The consent dialog is built only with gtk4; when built, it must be installed.
[ -x "$build/src/kmscast-consent" ] && need+=(libexec/kmscast-consent)
for f in "${need[@]}"; do
	[ -e "$root/$f" ] || fail "not installed: $prefix/$f"
done
# PipeWire-hosted nodes are opt-in: nothing may map the factory into the server by default.
[ -z "$(find "$dest" -path '*/pipewire.conf.d/*' ! -path '*/doc/kmscast/examples/*' -print -quit)" ] ||
	fail "a pipewire.conf.d fragment is installed enabled"
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

# Documentation= of every installed unit. systemd-analyze verify checks man: pages by running
# the host's man, which answers from whatever the host has installed: "failed with code 16"
# on a machine where kmscast never was, a stale page where it was. So verify runs with
# --man=no, and each man:PAGE(SECTION) is looked up here the way systemd does ("man
# PAGE(SECTION)") but with MANPATH set to the staged man tree alone, then rendered with man -l.
# file:// references must be staged files. http(s) ones are not fetched (no network here).
command -v man >/dev/null || fail "man not found: the Documentation= checks need man-db" \
	"(tools/install-deps installs it)"
staged_man=$dest$mandir
check_man_ref() {
	local unit=$1 ref=$2 name section page title
	[[ $ref =~ ^([^/()]+)\(([1-9][a-z]*)\)$ ]] ||
		fail "$unit: Documentation=man:$ref is not man:NAME(SECTION)"
	name=${BASH_REMATCH[1]} section=${BASH_REMATCH[2]}
	page=$(MANPATH=$staged_man man -w "$ref" 2>/dev/null) ||
		fail "$unit: Documentation=man:$ref is not in the staged install ($mandir)"
	case $page in
	"$staged_man"/*) ;;
	*) fail "$unit: man:$ref resolved outside the DESTDIR: $page" ;;
	esac
	# The first line of the rendered page is its .TH title: NAME(SECTION) on both sides.
	title=$(LC_ALL=C MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$page" 2>/dev/null |
		sed -n '/[^ ]/{p;q}')
	[[ ${title,,} == "${name,,}($section)"* ]] ||
		fail "$unit: man -l ${page#"$dest"} does not render as $ref (first line: '$title')"
	echo "documented: man:$ref (${page#"$dest"})"
}
mapfile -t units < <(find "$dest" -path '*/systemd/*' -type f \( -name '*.service' -o \
	-name '*.socket' -o -name '*.timer' -o -name '*.path' -o -name '*.target' \) | sort)
[ "${#units[@]}" -ge 3 ] || fail "expected at least 3 installed units, found ${#units[@]}"
n_docs=0
for u in "${units[@]}"; do
	# Documentation= takes a space-separated list, and may be repeated.
	refs=()
	while read -ra line; do refs+=("${line[@]}"); done < <(sed -n 's/^Documentation=//p' "$u")
	for ref in "${refs[@]+"${refs[@]}"}"; do
		n_docs=$((n_docs + 1))
		case $ref in
		man:*) check_man_ref "${u##*/}" "${ref#man:}" ;;
		file://*)
			[ -f "$dest${ref#file://}" ] ||
				fail "${u##*/}: Documentation=$ref is not in the staged install"
			echo "documented: $ref" ;;
		http://* | https://*) ;;
		*) fail "${u##*/}: Documentation=$ref: not man:, file:// or http(s)://" ;;
		esac
	done
done
[ "$n_docs" -gt 0 ] || fail "no Documentation= in any installed unit"

# systemd-analyze verify: units must reference binaries that exist, so verify copies whose
# paths point into the DESTDIR (the unit text is otherwise the installed one). --man=no: the
# man pages were checked above, against the DESTDIR.
if command -v systemd-analyze >/dev/null; then
	vdir=$dest/verify
	mkdir -p "$vdir"
	for u in "$user_unit" "$helper_service" "$helper_socket"; do
		sed "s|=$prefix/|=$root/|g" "$u" >"$vdir/$(basename "$u")"
	done
	mkdir -p -m 0700 "$dest/run"
	out=$(cd "$vdir" && XDG_RUNTIME_DIR=$dest/run SYSTEMD_LOG_LEVEL=warning \
		systemd-analyze verify --user --man=no \
		"$vdir/kmscast.service" 2>&1 | grep -v -e 'pipewire.service' -e 'graphical-session' \
		-e 'Failed to .*bus' -e 'XDG_RUNTIME_DIR')
	[ -z "$out" ] || fail "systemd-analyze verify --user kmscast.service: $out"
	out=$(cd "$vdir" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
		"$vdir/kmscast-helper.socket" "$vdir/kmscast-helper.service" 2>&1)
	[ -z "$out" ] || fail "systemd-analyze verify helper units: $out"
	echo "systemd-analyze verify: clean"
fi
echo "PASS test-install"
