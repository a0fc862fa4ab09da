#!/bin/bash
# Kernel artefacts for the kmscast VM bench: a kernel image, an out-of-tree vkms.ko built
# from the matching linux-source, and a busybox initramfs with the modules the bench loads.
# Two kinds of kernel root feed the same steps:
#   - the host stack (bookworm): Debian 12's current kernel image, downloaded and unpacked
#     into the cache, never installed; vkms builds against the host's installed headers;
#   - a suite stack (tests/vm/stack.sh): a Debian root that has its kernel, headers and
#     linux-source installed; vkms builds inside that root with its own compiler.
#
# Usage:
#   kernel.sh resolve   print "<abi> <version>" of the host stack's kernel
#   kernel.sh headers   install linux-headers-<abi>-amd64 at exactly that version (root)
#   kernel.sh prepare   build whatever is missing in the cache; print shell assignments
#                       KMSCAST_VM_KERNEL=... KMSCAST_VM_INITRD=... KMSCAST_VM_KVER=...
#   kernel.sh prepare-root ROOT OUTDIR
#                       the same for the kernel installed in ROOT, artefacts in OUTDIR
#
# Cache: ${KMSCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmscast-bench}/<version>/.
# Every artefact appears by an atomic rename once complete, so a reader that sees it may use
# it without a lock; builders serialise on <version>/.lock (meson runs vm tests in parallel).
#
# stack.sh sources this file for its functions; run directly, it dispatches on $1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cache_root=${KMSCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmscast-bench}

# Modules the initramfs carries. Dependencies are resolved with modprobe --show-depends;
# vkms's come from the depends field of the vkms.ko just built (7.2's adds configfs and
# drm_client_lib to 6.1's DRM helpers).
common_modules="virtio_pci 9pnet_virtio 9p"
virtio_gpu_modules="virtio-gpu"

log() { [ -n "${KMSCAST_VM_QUIET_BUILD:-}" ] || echo "kmscast-bench: $*" >&2; }
die() { echo "kmscast-bench: error: $*" >&2; exit 1; }

# apt-cache without lists finds nothing; an update is needed once on a fresh machine.
apt_lists_present() {
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_update_once() {
	[ "$(id -u)" -eq 0 ] || die "apt lists are missing or stale; run 'apt-get update' as root"
	log "running apt-get update"
	apt-get update -q >&2 || die "apt-get update failed"
}

# The lists' names, sizes and mtimes: when they change, the resolution is redone.
apt_stamp() {
	stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null || true
}

candidate_version() {
	{ apt-cache show --no-all-versions "$1" 2>/dev/null || true; } | sed -n 's/^Version: //p' |
		sed -n 1p
}

# Sets abi and version. apt-cache costs about 1 s here (no pkgcache.bin in this image), so
# the answer is remembered next to the cache, keyed by the apt lists' stamp.
resolve() {
	local memo=$cache_root/resolved stamp
	apt_lists_present || apt_update_once
	stamp=$(apt_stamp | cksum)
	if [ -r "$memo" ] && [ "$(sed -n 1p "$memo")" = "$stamp" ]; then
		read -r abi version < <(sed -n 2p "$memo")
		[ -n "$abi" ] && [ -n "$version" ] && return 0
	fi
	local dep
	dep=$({ apt-cache depends linux-image-amd64 2>/dev/null || true; } |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)-amd64$/\1/p' | sed -n 1p)
	[ -n "$dep" ] || die "cannot resolve the kernel ABI: 'apt-cache depends linux-image-amd64'" \
		"names no linux-image-<abi>-amd64 (run 'apt-get update'?)"
	abi=$dep
	version=$(candidate_version "linux-image-$abi-amd64")
	[ -n "$version" ] || die "no candidate version for linux-image-$abi-amd64"
	mkdir -p "$cache_root"
	local tmp
	tmp=$(mktemp "$cache_root/.resolved.XXXXXX")
	printf '%s\n%s %s\n' "$stamp" "$abi" "$version" >"$tmp"
	mv -f "$tmp" "$memo"
}

# linux-source-6.1 keeps several versions in the archive: the one equal to the image's must
# be among them.
source_version_available() {
	source_versions | grep -qxF "$version"
}

source_versions() {
	{ apt-cache madison linux-source-6.1 2>/dev/null || true; } |
		awk -F'|' '{ gsub(/ /, "", $2); print $2 }'
}

installed_headers_version() {
	{ dpkg-query -W -f='${Status} ${Version}\n' "linux-headers-$abi-amd64" 2>/dev/null || true; } |
		sed -n 's/^install ok installed //p'
}

mismatch() {
	local hdr src
	hdr=$(installed_headers_version)
	src=$(source_versions | paste -sd, -)
	die "kernel versions do not match: linux-image-$abi-amd64 $version," \
		"linux-headers-$abi-amd64 ${hdr:-not installed} (candidate" \
		"$(candidate_version "linux-headers-$abi-amd64")), linux-source-6.1" \
		"available: ${src:-none}. $*"
}

cmd_headers() {
	resolve
	local have
	have=$(installed_headers_version)
	[ "$have" = "$version" ] && return 0
	[ "$(id -u)" -eq 0 ] || mismatch "Run 'tools/install-deps' as root."
	local cand
	cand=$(candidate_version "linux-headers-$abi-amd64")
	[ "$cand" = "$version" ] || mismatch "The headers' candidate differs from the image."
	log "installing linux-headers-$abi-amd64=$version"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"linux-headers-$abi-amd64=$version" >&2 ||
		mismatch "apt-get install linux-headers-$abi-amd64=$version failed."
}

# apt-get download into a private directory, then rename into place.
download() {
	local pkg=$1 dest=$2 tmp
	[ -s "$dest" ] && return 0
	tmp=$(mktemp -d "$vdir/.dl.XXXXXX")
	log "downloading $pkg"
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2 2>&1); then
		rm -rf "$tmp"
		return 1
	fi
	mv -f "$tmp"/*.deb "$dest"
	rm -rf "$tmp"
}

build_kernel_root() {
	local deb=$vdir/linux-image.deb tmp
	[ -d "$vdir/root" ] && return 0
	download "linux-image-$abi-amd64=$version" "$deb" ||
		die "apt-get download linux-image-$abi-amd64=$version failed (run 'apt-get update'?)"
	tmp=$(mktemp -d "$vdir/.root.XXXXXX")
	dpkg -x "$deb" "$tmp"
	depmod -b "$tmp" "$kver"
	mv -T "$tmp" "$vdir/root"
}

# vkms_extract TARBALL DEST: drivers/gpu/drm/vkms of a linux-source-X.Y.tar.xz into DEST,
# with a Kbuild that builds it as a module; prints the driver's directory.
vkms_extract() {
	local tarball=$1 dest=$2 top
	top=$(basename "$tarball" .tar.xz)
	log "extracting drivers/gpu/drm/vkms from ${tarball##*/}"
	tar -xJf "$tarball" -C "$dest" "$top/drivers/gpu/drm/vkms" ||
		die "no drivers/gpu/drm/vkms in $tarball"
	local src=$dest/$top/drivers/gpu/drm/vkms
	# Kbuild from the upstream Makefile: its object list, built as a module unconditionally.
	# shellcheck disable=SC2016 # a literal make variable
	sed 's/^obj-\$(CONFIG_DRM_VKMS)/obj-m/' "$src/Makefile" >"$src/Kbuild"
	grep -q '^obj-m' "$src/Kbuild" || die "unexpected vkms Makefile in ${tarball##*/}"
	vkms_fix_vblank_deadlock "$src/vkms_crtc.c" || die "cannot fix vkms's vblank deadlock in ${tarball##*/}"
	echo "$src"
}

# Bump when vkms_fix_vblank_deadlock changes: a vkms.ko built before is built again.
VKMS_FIX=1

# vkms_fix_vblank_deadlock FILE: vkms up to 6.18 deadlocks a whole SMP guest when a mode set
# turns the vblank off while the vblank timer's callback runs on another CPU: the DRM core
# disables the vblank holding its event and vblank-time locks, vkms_disable_vblank waits in
# hrtimer_cancel for the callback to finish, and the callback spins on those locks in
# drm_crtc_handle_vblank (reported upstream on 2023-09-13; mainline dropped this code for the
# DRM core's vblank timer; the bench froze in a soak's mode set, 2026-12-05, and 6.1's and
# 6.12's vkms both have it). The fix: the disable only tries to cancel; a callback it could
# not stop finds the vblank off and does not re-arm; and enable sets the timer up once and
# only starts it when it is not queued, so that it never re-initialises a timer whose
# callback is still finishing. Sources without the pattern (7.x) are left as they are.
vkms_fix_vblank_deadlock() {
	python3 - "$1" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
if "hrtimer_cancel(&out->vblank_hrtimer);" not in src:
    sys.exit(0)
edits = [
    ("\tbool ret, fence_cookie;\n", "\tbool ret, handled, fence_cookie;\n"),
    ("\tret = drm_crtc_handle_vblank(crtc);\n", "\tret = handled = drm_crtc_handle_vblank(crtc);\n"),
    ("\treturn HRTIMER_RESTART;\n", "\treturn handled ? HRTIMER_RESTART : HRTIMER_NORESTART;\n"),
    ("\thrtimer_init(&out->vblank_hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);\n"
     "\tout->vblank_hrtimer.function = &vkms_vblank_simulate;\n"
     "\tout->period_ns = ktime_set(0, vblank->framedur_ns);\n"
     "\thrtimer_start(&out->vblank_hrtimer, out->period_ns, HRTIMER_MODE_REL);\n",
     "\tif (!out->vblank_hrtimer.function) {\n"
     "\t\thrtimer_init(&out->vblank_hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);\n"
     "\t\tout->vblank_hrtimer.function = &vkms_vblank_simulate;\n"
     "\t}\n"
     "\tout->period_ns = ktime_set(0, vblank->framedur_ns);\n"
     "\tif (!hrtimer_is_queued(&out->vblank_hrtimer))\n"
     "\t\thrtimer_start(&out->vblank_hrtimer, out->period_ns, HRTIMER_MODE_REL);\n"),
    ("\thrtimer_cancel(&out->vblank_hrtimer);\n", "\thrtimer_try_to_cancel(&out->vblank_hrtimer);\n"),
]
for old, new in edits:
    if src.count(old) != 1:
        sys.exit(f"vkms_crtc.c: expected once: {old!r}")
    src = src.replace(old, new)
open(path, "w").write(src)
PY
}

# vkms_make DIR HDRDIR LOG [RUNNER...]: make the module in DIR against the headers in
# HDRDIR, both as RUNNER sees them (a command prefix: the suite stacks build inside their
# root); make's output goes to LOG. Appends the build time to $kdir/timings.
vkms_make() {
	local dir=$1 hdrdir=$2 buildlog=$3 t0 t1
	shift 3
	log "building vkms.ko against $hdrdir"
	t0=$(date +%s.%N)
	"$@" make -s -C "$hdrdir" M="$dir" -j"$(nproc)" modules >"$buildlog" 2>&1 ||
		{ cat "$buildlog" >&2; die "building vkms.ko failed"; }
	t1=$(date +%s.%N)
	printf 'vkms-build %.1f\n' "$(echo "$t1 - $t0" | bc)" >>"$kdir/timings"
}

# vkms_current DIR: DIR has a vkms.ko built with this VKMS_FIX.
vkms_current() {
	[ -s "$1/vkms.ko" ] && [ "$(cat "$1/vkms.ko.fix" 2>/dev/null)" = "$VKMS_FIX" ]
}

build_vkms() {
	local deb=$vdir/linux-source.deb tmp hdrdir=/usr/src/linux-headers-$abi-amd64 src
	vkms_current "$vdir" && return 0
	source_version_available || mismatch "linux-source-6.1=$version is not in the archive."
	if [ "$(installed_headers_version)" != "$version" ]; then
		cmd_headers
	fi
	[ -d "$hdrdir" ] || mismatch "$hdrdir is missing."
	download "linux-source-6.1=$version" "$deb" ||
		die "apt-get download linux-source-6.1=$version failed (run 'apt-get update'?)"
	tmp=$(mktemp -d "$vdir/.vkms.XXXXXX")
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/src/linux-source-6.1.tar.xz
	src=$(vkms_extract "$tmp/usr/src/linux-source-6.1.tar.xz" "$tmp")
	rm -rf "${tmp:?}/usr"
	vkms_make "$src" "$hdrdir" "$tmp/build.log"
	mv -f "$src/vkms.ko" "$vdir/vkms.ko"
	echo "$VKMS_FIX" >"$vdir/vkms.ko.fix"
	rm -rf "$tmp"
}

# in_root ROOT [--bind DIR | --env VAR=VALUE]... -- COMMAND...: COMMAND chrooted into ROOT
# with /proc, /sys and /dev, each DIR bound at its own path, and a clean environment. The
# mounts live in a private mount namespace: they vanish with COMMAND, even when it is killed.
in_root() {
	local root=$1 binds=() envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		--bind) binds+=("$2") ;;
		--env) envs+=("$2") ;;
		*) die "in_root: unknown option $1" ;;
		esac
		shift 2
	done
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- /bin/bash -ec '
		root=$1 nbind=$2 nenv=$3
		shift 3
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		for ((i = 0; i < nbind; i++)); do
			mkdir -p "$root$1"
			mount --bind "$1" "$root$1"
			shift
		done
		envs=("${@:1:nenv}")
		shift "$nenv"
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" "$@"
	' in_root "$root" "${#binds[@]}" "${#envs[@]}" "${binds[@]+"${binds[@]}"}" \
		"${envs[@]+"${envs[@]}"}" "$@"
}

# The linux-image package a suite root has installed: sets kver and version.
root_kernel() {
	local k
	kver=
	for k in "$kroot"/boot/vmlinuz-*; do
		[ -e "$k" ] || continue
		[ -z "$kver" ] || die "$kroot has more than one kernel: ${kver} and ${k##*/vmlinuz-}"
		kver=${k##*/vmlinuz-}
	done
	[ -n "$kver" ] || die "$kroot has no kernel in /boot"
	version=$(dpkg-query --admindir="$kroot/var/lib/dpkg" -W -f='${Version}' \
		"linux-image-$kver") || die "linux-image-$kver is not installed in $kroot"
}

# vkms.ko for a suite root, built inside it from its linux-source and headers.
build_vkms_in_root() {
	local tarballs tmp src hdrdir=/usr/src/linux-headers-$kver
	vkms_current "$kdir" && return 0
	tarballs=("$kroot"/usr/src/linux-source-*.tar.xz)
	if [ ${#tarballs[@]} != 1 ] || [ ! -e "${tarballs[0]}" ]; then
		die "want one linux-source tarball in $kroot/usr/src, found: ${tarballs[*]##*/}"
	fi
	[ -d "$kroot$hdrdir" ] || die "$hdrdir is missing in $kroot"
	tmp=$(mktemp -d "$kroot/var/tmp/kmscast-vkms.XXXXXX")
	src=$(vkms_extract "${tarballs[0]}" "$tmp")
	vkms_make "${src#"$kroot"}" "$hdrdir" "$tmp/build.log" in_root "$kroot" --
	mv -f "$src/vkms.ko" "$kdir/vkms.ko"
	echo "$VKMS_FIX" >"$kdir/vkms.ko.fix"
	rm -rf "$tmp"
}

# bz_payload BZIMAGE: the compressed kernel inside a bzImage, as the boot protocol header
# places it: payload_offset (0x248) and payload_length (0x24c), counted from the
# protected-mode code that follows the setup sectors (0x1f1; 0 means 4). Sets payload_start
# (a byte offset) and payload_len.
bz_payload() {
	local sects poff
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
	[ "$sects" = 0 ] && sects=4
	poff=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
	payload_len=$(od -An -tu4 -j $((0x24c)) -N4 "$1" | tr -d ' ')
	payload_start=$(((sects + 1) * 512 + poff))
}

# The bzImage's payload as an ELF vmlinux: qemu boots it through its PVH entry point
# (CONFIG_PVH=y in Debian's config), which skips the real-mode setup and, above all, the
# in-guest decompression that costs about 2 s under TCG. Debian's 6.1 compresses the payload
# with xz; zstd and gzip are handled should a later config pick them. Empty output means
# "use the bzImage".
build_vmlinux() {
	local out=$kdir/vmlinux bz=$kroot/boot/vmlinuz-$kver tmp magic unpack=
	[ -e "$out" ] && return 0
	tmp=$(mktemp "$kdir/.vmlinux.XXXXXX")
	if grep -q '^CONFIG_PVH=y' "$kroot/boot/config-$kver"; then
		bz_payload "$bz"
		magic=$(od -An -tx1 -j "$payload_start" -N4 "$bz" | tr -d ' ')
		case $magic in
		fd377a58) unpack="xz -dcq" ;;
		28b52ffd) unpack="zstd -dcq" ;;
		1f8b*) unpack="gzip -dcq" ;;
		*) log "unknown bzImage payload ($magic): booting the bzImage itself" ;;
		esac
		# The payload ends with the decompressed size, which the decompressors take for
		# trailing garbage: their complaint is expected.
		[ -n "$unpack" ] && { tail -c +$((payload_start + 1)) "$bz" | head -c "$payload_len" |
			$unpack >"$tmp" 2>/dev/null || true; }
		[ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || : >"$tmp"
	fi
	chmod 0644 "$tmp"
	mv -f "$tmp" "$out"
}

# Ordered, deduplicated module paths (relative to lib/modules/<kver>, without a compression
# suffix) for the given names, leaving out those already listed in the files given after
# the names.
module_list() {
	local names=$1; shift
	local m
	for m in $names; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" ||
			die "module $m not found in $kroot/lib/modules/$kver"
	done | sed -n "s|^insmod $kroot/lib/modules/$kver/\([^ ]*\).*|\1|p" |
		sed 's/\.\(xz\|zst\|gz\)$//' |
		awk -v skip="$*" 'BEGIN { n = split(skip, f, " "); for (i = 1; i <= n; i++)
			while ((getline l < f[i]) > 0) seen[l] = 1 } !seen[$0]++'
}

# module_copy REL DEST: the module REL of $kroot, decompressed (busybox insmod reads only
# plain ELF; Debian 12's modules are plain, 6.12's and 7.x's are .ko.xz) and stripped.
# Stripping drops the appended signature too: the kernel then skips verifying it, which
# costs tens of ms per module under TCG (an unsigned module only taints).
module_copy() {
	local src=$kroot/lib/modules/$kver/$1 dest=$2
	if [ -e "$src" ]; then
		strip --strip-debug -o "$dest" "$src"
		return
	fi
	if [ -e "$src.xz" ]; then
		xz -dc "$src.xz" >"$dest.raw"
	elif [ -e "$src.zst" ]; then
		zstd -dcq "$src.zst" >"$dest.raw"
	elif [ -e "$src.gz" ]; then
		gzip -dc "$src.gz" >"$dest.raw"
	else
		die "module $1 is missing in $kroot/lib/modules/$kver"
	fi
	strip --strip-debug -o "$dest" "$dest.raw"
	rm -f "$dest.raw"
}

build_initramfs() {
	local out=$1 tmp stage vkms_modules
	[ -s "$out" ] && return 0
	tmp=$(mktemp -d "$kdir/.initrd.XXXXXX")
	stage=$tmp/root
	mkdir -p "$stage"/{bin,dev,proc,sys,mnt,etc/kmscast,lib/modules}
	cp /bin/busybox "$stage/bin/busybox"
	file -b /bin/busybox | grep -q 'statically linked' ||
		die "/bin/busybox is not static (install busybox-static)"
	# Applet links made here rather than by "busybox --install" at every boot.
	local applet
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
	done
	cp "$here/init" "$stage/init"
	chmod 0755 "$stage/init"
	vkms_modules=$(modinfo -F depends "$kdir/vkms.ko" | tr , ' ')
	module_list "$common_modules" >"$stage/etc/kmscast/common.list"
	module_list "$virtio_gpu_modules" "$stage/etc/kmscast/common.list" \
		>"$stage/etc/kmscast/virtio-gpu.list"
	module_list "$vkms_modules" "$stage/etc/kmscast/common.list" >"$stage/etc/kmscast/vkms.list"
	echo vkms.ko >>"$stage/etc/kmscast/vkms.list"
	local rel
	sort -u "$stage"/etc/kmscast/*.list | while read -r rel; do
		[ "$rel" = vkms.ko ] && continue
		mkdir -p "$stage/lib/modules/$(dirname "$rel")"
		module_copy "$rel" "$stage/lib/modules/$rel"
	done
	# The out-of-tree build keeps its debug info: 2 MB of the initramfs otherwise.
	strip --strip-debug -o "$stage/lib/modules/vkms.ko" "$kdir/vkms.ko"
	# The kernel opens /dev/console before running /init; init reopens it after mounting
	# devtmpfs in case this mknod was not allowed.
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	# Uncompressed: decompressing under TCG costs more than qemu copying a few MB.
	(cd "$stage" && find . -print0 | sort -z |
		cpio --null -o -H newc --quiet --owner=0:0 >"$tmp/initrd.cpio")
	mv -f "$tmp/initrd.cpio" "$out"
	rm -rf "$tmp"
	# Images of other init/kernel.sh revisions may belong to another checkout sharing the
	# cache: only those unused for two days go (prepare touches the one it hands out).
	find "$kdir" -maxdepth 1 -name 'initrd-*.cpio' ! -path "$out" -mtime +2 -delete
}

# The initramfs is named after what goes into it besides the kernel: init and this script.
initrd_path() {
	echo "$kdir/initrd-$(cat "$here/init" "$here/kernel.sh" | sha256sum | cut -c1-12).cpio"
}

print_artefacts() {
	local initrd=$1 kernel=$kdir/vmlinux
	touch -c "$initrd"
	[ -s "$kernel" ] || kernel=$kroot/boot/vmlinuz-$kver
	printf 'KMSCAST_VM_KVER=%q\nKMSCAST_VM_KERNEL=%q\nKMSCAST_VM_INITRD=%q\nKMSCAST_VM_VERSION=%q\n' \
		"$kver" "$kernel" "$initrd" "$version"
}

cmd_prepare() {
	resolve
	vdir=$cache_root/$version
	kdir=$vdir
	kroot=$vdir/root
	kver=$abi-amd64
	local initrd
	initrd=$(initrd_path)
	if [ ! -d "$kroot" ] || ! vkms_current "$kdir" || [ ! -s "$initrd" ] ||
		[ ! -e "$kdir/vmlinux" ]; then
		mkdir -p "$vdir"
		exec 9>"$vdir/.lock"
		flock 9
		build_kernel_root
		build_vkms
		build_vmlinux
		build_initramfs "$initrd"
		flock -u 9
		exec 9>&-
	fi
	print_artefacts "$initrd"
}

# prepare-root ROOT OUTDIR: the kernel ROOT has installed (a suite stack's), its vkms.ko,
# vmlinux and initramfs in OUTDIR. ROOT must be complete: stack.sh renames it into place
# only then.
cmd_prepare_root() {
	[ $# = 2 ] || die "usage: kernel.sh prepare-root ROOT OUTDIR"
	kroot=$(cd "$1" && pwd -P) || die "no root $1"
	kdir=$2
	root_kernel
	local initrd
	initrd=$(initrd_path)
	if ! vkms_current "$kdir" || [ ! -s "$initrd" ] || [ ! -e "$kdir/vmlinux" ]; then
		mkdir -p "$kdir"
		exec 9>"$kdir/.lock"
		flock 9
		build_vkms_in_root
		build_vmlinux
		build_initramfs "$initrd"
		flock -u 9
		exec 9>&-
	fi
	print_artefacts "$initrd"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	case ${1:-} in
	resolve) resolve; echo "$abi $version" ;;
	headers) cmd_headers ;;
	prepare) cmd_prepare ;;
	prepare-root) shift; cmd_prepare_root "$@" ;;
	*) echo "usage: $0 resolve|headers|prepare|prepare-root ROOT OUTDIR" >&2; exit 2 ;;
	esac
fi
