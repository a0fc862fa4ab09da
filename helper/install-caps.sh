#!/bin/sh
# meson install hook: give the installed kmscast-helper its one capability and its group.
# Where that is not possible (not root, no setcap, a DESTDIR staging install, no such group)
# it prints the exact commands an administrator has to run instead. Never fails the install.
#   install-caps.sh <libexecdir-relative path> <group>
set -u

rel=$1
group=$2
case $rel in
/*) target=$rel ;;
*) target=$MESON_INSTALL_PREFIX/$rel ;;
esac
dest=${MESON_INSTALL_DESTDIR_PREFIX:-$MESON_INSTALL_PREFIX}/${target#"$MESON_INSTALL_PREFIX"/}

# meson 1.0 swallows the output of install scripts that succeed: say it on stderr (newer
# meson shows it), on the terminal if there is one, and in meson-logs/install-caps.log.
log=${MESON_BUILD_ROOT:+$MESON_BUILD_ROOT/meson-logs/install-caps.log}
say() {
	echo "$*" >&2
	{ echo "$*" >/dev/tty; } 2>/dev/null || true
	[ -z "$log" ] || echo "$*" >>"$log"
}

print_commands() {
	say "kmscast-helper: $1; as root, run:"
	say "  getent group $group >/dev/null || groupadd --system $group"
	say "  chown root:$group $target && chmod 0750 $target"
	say "  setcap cap_sys_admin+ep $target"
}

if [ -n "${DESTDIR:-}" ]; then
	print_commands "staged install (DESTDIR), capabilities are applied on the target system"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	print_commands "not installing as root"
	exit 0
fi
if ! getent group "$group" >/dev/null; then
	print_commands "group $group does not exist"
	exit 0
fi
if ! command -v setcap >/dev/null; then
	print_commands "setcap not found (package libcap2-bin)"
	exit 0
fi
chown "root:$group" "$dest" && chmod 0750 "$dest" && setcap cap_sys_admin+ep "$dest" || {
	print_commands "applying ownership or capability failed"
	exit 0
}
say "kmscast-helper: $dest is root:$group 0750 with $(getcap "$dest" | cut -d' ' -f2-)"
