#!/bin/bash
# Debian suite stacks for the KMS test bench. A stack is a root file system of another Debian
# suite (trixie: PipeWire 1.4; forky, testing: 1.6), booted with that suite's own kernel and
# an out-of-tree vkms.ko, with kmscast built inside it against that suite's PipeWire.
# `tests/vm/run --stack SUITE` shares the root into the VM in place of the host's, which is
# the "bookworm" stack. See docs/testing.md, "Stacks".
#
# Usage:
#   stack.sh SUITE prepare           build (once) and cache SUITE's root, then its vkms.ko,
#                                    vmlinux and initramfs; print the stack's summary
#   stack.sh SUITE boot              what tests/vm/run boots for a prepared stack, as shell
#                                    assignments (KMSCAST_VM_KERNEL=..., KMSCAST_VM_ROOT=...)
#   stack.sh SUITE build [--if-prepared] SRC BUILD
#                                    configure (once, as tools/build does) and build kmscast
#                                    from SRC in BUILD, inside the root; --if-prepared: a
#                                    stack never prepared, or a caller who is not root, is
#                                    no error (for test: run then skips, or uses BUILD as is)
#   stack.sh SUITE test [RUN OPTIONS] -- COMMAND...
#                                    build --if-prepared the source tree in
#                                    $KMSCAST_BUILD_DIR, then tests/vm/run --stack SUITE
#                                    (meson's stack tests: never a stale build)
#   stack.sh SUITE info              versions, times and size of a prepared stack
#
# Exit status 77: the stack is not available here. For prepare, its root could not be built
# (no network, a package missing, the archive mid-transition, vkms not building); for boot
# and build, it was never prepared. Callers skip the stack and say so. Any other non-zero
# status is an error.
#
# Cache: ${KMSCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmscast-bench}/stacks/SUITE/
#   root/      the root, renamed into place once complete; root/.kmscast-stack is its stamp
#   kernel/    vkms.ko, vmlinux, initrd-<hash>.cpio (tests/vm/kernel.sh prepare-root)
#   build.log  the last root build's debootstrap and apt output
# Builders hold an exclusive flock on stacks/SUITE/.lock, kmscast builds a shared one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# The shared steps: in_root, prepare-root's kernel artefacts, log, die.
# shellcheck source-path=SCRIPTDIR source=kernel.sh
. "$here/kernel.sh"

SKIP=77

# What the vm tests run inside (tools/install-deps installs the same on the host), then what
# building kmscast takes. The kernel, its headers and linux-source are resolved per suite.
# OBS 30 and later are Qt 6 programs, whose xcb platform plugin (t-portal-obs runs OBS
# under Xvfb with QT_QPA_PLATFORM=xcb) is in qt6-qpa-plugins, only a Recommends.
runtime_packages="pipewire pipewire-bin wireplumber dbus
	gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	python3 python3-dbus python3-gi xdg-desktop-portal weston ffmpeg
	obs-studio obs-plugins qt6-qpa-plugins xvfb xauth libgl1-mesa-dri
	procps util-linux kmod libcap2-bin file bc
	at-spi2-core gir1.2-atspi-2.0"
# libgtk-4-dev: the consent dialog (kmscast-consent), which the portal tests drive.
build_packages="build-essential meson ninja-build pkg-config
	libpipewire-0.3-dev libspa-0.2-dev libdrm-dev libcap-dev libseccomp-dev libsystemd-dev
	libgtk-4-dev"

usage() {
	sed -n '8,23p' "$0" | sed 's/^# //' >&2
	exit 2
}

# skip MSG: the stack cannot be had here; the callers print their SKIPPED line.
skip() {
	echo "kmscast-stack: $suite: cannot build the root: $*" >&2
	exit "$SKIP"
}

not_prepared() {
	echo "kmscast-stack: $suite is not prepared: run 'tests/vm/stack.sh $suite prepare' as root" >&2
	exit "$SKIP"
}

need_root() {
	[ "$(id -u)" = 0 ] || die "stack.sh $1 needs root (debootstrap, chroot)"
}

now() { date +%s.%N; }
elapsed() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

# The host's own Debian mirror: the archive these machines reach.
host_mirror() {
	local codename
	if [ -n "${KMSCAST_STACK_MIRROR:-}" ]; then
		echo "$KMSCAST_STACK_MIRROR"
		return
	fi
	# shellcheck disable=SC1091 # the host's
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	# shellcheck disable=SC2016 # apt's format fields
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
		awk -v want="$codename" '$2 == want && $3 == "main" { print $1; exit }'
}

# Everything the root's build depends on, so that a change of it rebuilds the root.
root_key() {
	{
		echo "$suite"
		echo "$runtime_packages" "$build_packages"
		declare -f configure_root install_packages resolve_kernel
	} | sha256sum | cut -c1-16
}

# apt and dpkg set up for a throwaway root: no recommends, no docs, no services started, no
# initramfs (the bench builds its own), and testing's Release may be past its Valid-Until
# (forky's was): the check only guards against a frozen mirror, which a test root can live
# with.
configure_root() {
	local r=$1
	cat >"$r/etc/apt/apt.conf.d/90kmscast-bench" <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Languages "none";
		Acquire::Check-Valid-Until "false";
		Dpkg::Use-Pty "false";
	EOF
	cat >"$r/etc/dpkg/dpkg.cfg.d/90kmscast-bench" <<-'EOF'
		force-unsafe-io
		path-exclude=/usr/share/doc/*
		path-include=/usr/share/doc/*/copyright
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/info/*
		path-exclude=/usr/share/locale/*
	EOF
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	in_root "$r" -- dpkg-divert --local --rename --add /usr/sbin/update-initramfs
	ln -sf /bin/true "$r/usr/sbin/update-initramfs"
}

# resolve_kernel ROOT: sets kabi, kversion and ksource from the root's apt lists.
# linux-image-amd64 depends on linux-image-<abi>-amd64; forky's lists linux-base-amd64
# first, so only a linux-image-* dependency counts. The headers and linux-source-X.Y must
# have exactly the image's version: mid-transition they may not, and the stack is skipped.
resolve_kernel() {
	local r=$1 hdr src
	kabi=$(in_root "$r" -- apt-cache depends linux-image-amd64 |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)-amd64$/\1/p' | sed -n 1p)
	[ -n "$kabi" ] || skip "apt-cache depends linux-image-amd64 names no linux-image-<abi>-amd64"
	kversion=$(candidate "$r" "linux-image-$kabi-amd64")
	ksource=linux-source-$(echo "$kversion" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
	hdr=$(candidate "$r" "linux-headers-$kabi-amd64")
	src=$(in_root "$r" -- apt-cache madison "$ksource" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
		paste -sd, -)
	if [ -z "$kversion" ] || [ "$hdr" != "$kversion" ] || [[ ,$src, != *",$kversion,"* ]]; then
		skip "kernel versions do not match: linux-image-$kabi-amd64 ${kversion:-none}," \
			"linux-headers-$kabi-amd64 ${hdr:-none}, $ksource: ${src:-none}"
	fi
}

candidate() {
	in_root "$1" -- apt-cache show --no-all-versions "$2" 2>/dev/null | sed -n 's/^Version: //p' |
		sed -n 1p
}

# install_packages ROOT: everything at once, the kernel pinned to the resolved version.
install_packages() {
	local r=$1
	in_root "$r" -- apt-get update -q >>"$buildlog" 2>&1 || skip "apt-get update failed (see $buildlog)"
	resolve_kernel "$r"
	# shellcheck disable=SC2086 # word lists
	in_root "$r" --env DEBIAN_FRONTEND=noninteractive -- apt-get install -y -q \
		$runtime_packages $build_packages "linux-image-$kabi-amd64=$kversion" \
		"linux-headers-$kabi-amd64=$kversion" "$ksource=$kversion" >>"$buildlog" 2>&1 ||
		skip "apt-get install failed: $(grep -E '^(E:|  [a-z0-9].* : Depends)' "$buildlog" |
			tail -n 5 | tr '\n' ' ')(see $buildlog)"
	in_root "$r" -- apt-get clean
	# The session bus and GLib want a machine id; a root without systemd has none.
	[ -s "$r/etc/machine-id" ] || in_root "$r" -- dbus-uuidgen --ensure=/etc/machine-id
}

debootstrap_script() {
	local scripts=/usr/share/debootstrap/scripts
	# bookworm's debootstrap predates forky: sid's script builds any later suite.
	if [ -e "$scripts/$suite" ]; then
		echo "$scripts/$suite"
	else
		echo "$scripts/sid"
	fi
}

# build_root: debootstrap and packages into a private directory, stamped, then renamed into
# place. A root that failed half-way is never renamed, and is removed on exit (or, if this
# was killed, by the next prepare). Its chroots' mounts were in private namespaces: rm -rf
# cannot walk into the host's /dev or /proc through them.
half_root=
build_root() {
	local mirror tmp t0 t_boot t_pkg mb
	mirror=$(host_mirror)
	[ -n "$mirror" ] || skip "no Debian mirror in the host's apt sources (set KMSCAST_STACK_MIRROR)"
	command -v debootstrap >/dev/null || skip "debootstrap is not installed (tools/install-deps)"
	rm -rf "$sdir"/.root.* "$sdir/.old-root"
	tmp=$(mktemp -d "$sdir/.root.XXXXXX")
	half_root=$tmp
	trap 'rm -rf "${half_root:-/nonexistent}"' EXIT
	# The VM's / : mktemp's 0700 would lock every user but root out of it.
	chmod 0755 "$tmp"
	: >"$buildlog"
	log "$suite: debootstrap from $mirror"
	t0=$(now)
	debootstrap --variant=minbase --components=main "$suite" "$tmp" "$mirror" \
		"$(debootstrap_script)" >>"$buildlog" 2>&1 ||
		skip "debootstrap failed: $(grep -E '^(E|W):' "$buildlog" | tail -n 3 | tr '\n' ' ')" \
			"(see $buildlog)"
	t_boot=$(elapsed "$t0")
	configure_root "$tmp"
	log "$suite: installing packages"
	t0=$(now)
	install_packages "$tmp"
	t_pkg=$(elapsed "$t0")
	mb=$(du -sxm "$tmp" | cut -f1)
	cat >"$tmp/.kmscast-stack" <<-EOF
		suite=$suite
		key=$key
		built=$(date -u +%Y-%m-%dT%H:%MZ)
		mirror=$mirror
		kernel_abi=$kabi
		kernel_version=$kversion
		debootstrap_s=$t_boot
		packages_s=$t_pkg
		root_mb=$mb
	EOF
	# An older root moves aside first: a VM still running on it keeps working until the
	# rename, and the next prepare deletes it.
	[ -d "$root" ] && mv -T "$root" "$sdir/.old-root"
	mv -T "$tmp" "$root"
	half_root=
	rm -rf "$sdir/.old-root" "$sdir/kernel" "$sdir/guest-cache"
	log "$suite: root built: debootstrap ${t_boot} s, packages ${t_pkg} s, ${mb} MB"
}

root_ready() {
	[ -r "$root/.kmscast-stack" ]
}

stamp_get() {
	sed -n "s/^$1=//p" "$root/.kmscast-stack"
}

cmd_prepare() {
	need_root prepare
	mkdir -p "$sdir"
	exec 9>"$sdir/.lock"
	flock 9
	if ! root_ready || [ "$(stamp_get key)" != "$key" ] || [ "${KMSCAST_STACK_REFRESH:-0}" = 1 ]; then
		build_root
	fi
	local t0 fresh=0
	[ -s "$sdir/kernel/vkms.ko" ] || fresh=1
	t0=$(now)
	# vkms that does not build against the suite's kernel is a stack we cannot have either.
	"$here/kernel.sh" prepare-root "$root" "$sdir/kernel" >/dev/null ||
		skip "the kernel artefacts (vkms.ko, initramfs) failed (see above)"
	[ "$fresh" = 0 ] || echo "kernel-artefacts $(elapsed "$t0")" >>"$sdir/kernel/timings"
	gst_registry >/dev/null
	flock -u 9
	cmd_info
}

# gst_registry: GStreamer's plugin registry of the root, made once inside it (natively, in
# about a second) for tests/vm/run to hand to the guest. Not made when this is not root; the
# guest's gst then scans its plugins itself, as before.
gst_registry() {
	local reg=$sdir/guest-cache/gst-registry.bin tmp
	[ -s "$reg" ] && { echo "$reg"; return 0; }
	[ "$(id -u)" = 0 ] && [ -x "$root/usr/bin/gst-inspect-1.0" ] || return 0
	mkdir -p "$sdir/guest-cache"
	tmp=$(mktemp "$root/var/tmp/gst-registry.XXXXXX")
	if in_root "$root" --env "GST_REGISTRY=${tmp#"$root"}" -- gst-inspect-1.0 >/dev/null 2>&1 &&
		[ -s "$tmp" ]; then
		mv -f "$tmp" "$reg"
		echo "$reg"
	else
		log "note: no GStreamer registry for $suite's guests: gst-inspect-1.0 failed in the root"
		rm -f "$tmp"
	fi
}

cmd_boot() {
	local reg
	root_ready || not_prepared
	[ "$(stamp_get key)" = "$key" ] ||
		log "note: $suite's root predates this stack.sh (packages): 'stack.sh $suite prepare' rebuilds it"
	"$here/kernel.sh" prepare-root "$root" "$sdir/kernel" || die "kernel artefacts for $suite failed"
	reg=$(gst_registry)
	printf 'KMSCAST_VM_ROOT=%q\n' "$root"
	[ -z "$reg" ] || printf 'KMSCAST_VM_GST_REGISTRY=%q\n' "$reg"
}

# The build dir remembers which root configured it: another root (rebuilt, newer PipeWire)
# means a wipe, so that nothing compiled against the old one lingers.
cmd_build() {
	local if_prepared=0
	[ "${1:-}" = --if-prepared ] && { if_prepared=1; shift; }
	[ $# = 2 ] || usage
	if [ "$if_prepared" = 1 ] && ! root_ready; then
		log "$suite is not prepared: its tests will skip ('tests/vm/stack.sh $suite prepare')"
		return 0
	fi
	if [ "$if_prepared" = 1 ] && [ "$(id -u)" != 0 ]; then
		log "$suite: not root, so $2 is not rebuilt inside the root (chroot)"
		return 0
	fi
	root_ready || not_prepared
	need_root build
	local src build t0 marker want
	src=$(cd "$1" && pwd -P) || die "no source tree $1"
	mkdir -p "$2"
	build=$(cd "$2" && pwd -P)
	marker=$build/.kmscast-stack
	want="$suite $(stamp_get key) $(stamp_get built)"
	exec 9>>"$sdir/.lock"
	flock -s 9
	# One ninja at a time in BUILD: two meson test runs may both rebuild it.
	exec 8>>"$build/.kmscast-stack.lock"
	flock 8
	t0=$(now)
	local binds=(--bind "$src")
	case "$build/" in "$src"/*) ;; *) binds+=(--bind "$build") ;; esac
	if [ -e "$build/build.ninja" ] && [ "$(cat "$marker" 2>/dev/null)" != "$want" ]; then
		log "$suite: $build was configured elsewhere: wiping it"
		in_root "$root" "${binds[@]}" -- meson setup --wipe "$build" "$src" >&2
	fi
	in_root "$root" "${binds[@]}" --env "CI=${CI:-}" -- "$src/tools/build" "$build" >&2
	echo "$want" >"$marker"
	log "$suite: kmscast built in $build in $(elapsed "$t0") s"
}

cmd_test() {
	: "${KMSCAST_BUILD_DIR:?stack.sh test needs KMSCAST_BUILD_DIR}"
	cmd_build --if-prepared "$here/../.." "$KMSCAST_BUILD_DIR"
	# The VM keeps the shared lock on the stack (a prepare waits for it to end), not the
	# build dir's.
	exec 8>&-
	exec "$here/run" --stack "$suite" "$@"
}

pkg_version() {
	dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' "$1" 2>/dev/null || echo none
}

cmd_info() {
	root_ready || not_prepared
	local p
	echo "stack $suite: built $(stamp_get built) from $(stamp_get mirror)"
	echo "  kernel linux-image-$(stamp_get kernel_abi)-amd64 $(stamp_get kernel_version)"
	printf '  '
	for p in pipewire wireplumber libgstreamer1.0-0 xdg-desktop-portal weston obs-studio \
		libgl1-mesa-dri; do
		printf '%s %s  ' "$p" "$(pkg_version "$p")"
	done
	echo
	echo "  times: debootstrap $(stamp_get debootstrap_s) s, packages $(stamp_get packages_s) s," \
		"root $(stamp_get root_mb) MB;" \
		"$(awk '{ printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2 }' "$sdir/kernel/timings" 2>/dev/null)"
}

[ $# -ge 2 ] || usage
suite=$1
cmd=$2
shift 2
[[ $suite =~ ^[a-z]+$ ]] || die "not a Debian suite name: $suite"
[ "$suite" != bookworm ] || die "bookworm is the host stack: tests/vm/run without --stack"
sdir=$cache_root/stacks/$suite
root=$sdir/root
buildlog=$sdir/build.log
key=$(root_key)
case $cmd in
prepare) cmd_prepare ;;
boot) cmd_boot ;;
build) cmd_build "$@" ;;
test) cmd_test "$@" ;;
info) cmd_info ;;
*) usage ;;
esac
