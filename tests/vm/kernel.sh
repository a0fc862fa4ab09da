#!/bin/bash
# Kernel artefacts for the kmscast VM bench: Debian's current kernel image (downloaded and
# unpacked, never installed), an out-of-tree vkms.ko built from the matching linux-source,
# and a busybox initramfs with the modules the bench loads.
#
# Usage:
#   kernel.sh resolve   print "<abi> <version>" of the kernel the bench uses
#   kernel.sh headers   install linux-headers-<abi>-amd64 at exactly that version (root)
#   kernel.sh prepare   build whatever is missing in the cache; print shell assignments
#                       KMSCAST_VM_KERNEL=... KMSCAST_VM_INITRD=... KMSCAST_VM_KVER=...
#
# Cache: ${KMSCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmscast-bench}/<version>/.
# Every artefact appears by an atomic rename once complete, so a reader that sees it may use
# it without a lock; builders serialise on <version>/.lock (meson runs vm tests in parallel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cache_root=${KMSCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmscast-bench}

# Modules the initramfs carries. Dependencies are resolved with modprobe --show-depends.
common_modules="virtio_pci 9pnet_virtio 9p"
virtio_gpu_modules="virtio-gpu"
vkms_modules="drm_kms_helper drm_shmem_helper"

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
	# Debian 12 ships uncompressed modules; busybox insmod cannot read compressed ones, so
	# decompress here should a later kernel compress them.
	find "$tmp/lib/modules" -name '*.ko.xz' -exec xz -d {} + 2>/dev/null || true
	find "$tmp/lib/modules" -name '*.ko.zst' -exec zstd -q -d --rm {} + 2>/dev/null || true
	find "$tmp/lib/modules" -name '*.ko.gz' -exec gzip -d {} + 2>/dev/null || true
	depmod -b "$tmp" "$kver"
	mv -T "$tmp" "$vdir/root"
}

build_vkms() {
	local deb=$vdir/linux-source.deb tmp hdrdir=/usr/src/linux-headers-$abi-amd64
	[ -s "$vdir/vkms.ko" ] && return 0
	source_version_available || mismatch "linux-source-6.1=$version is not in the archive."
	if [ "$(installed_headers_version)" != "$version" ]; then
		cmd_headers
	fi
	[ -d "$hdrdir" ] || mismatch "$hdrdir is missing."
	download "linux-source-6.1=$version" "$deb" ||
		die "apt-get download linux-source-6.1=$version failed (run 'apt-get update'?)"
	tmp=$(mktemp -d "$vdir/.vkms.XXXXXX")
	log "extracting drivers/gpu/drm/vkms from linux-source-6.1 $version"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/src/linux-source-6.1.tar.xz
	tar -xJf "$tmp/usr/src/linux-source-6.1.tar.xz" -C "$tmp" \
		linux-source-6.1/drivers/gpu/drm/vkms
	rm -rf "${tmp:?}/usr"
	local src=$tmp/linux-source-6.1/drivers/gpu/drm/vkms
	# Kbuild from the upstream Makefile: its object list, built as a module unconditionally.
	sed 's/^obj-\$(CONFIG_DRM_VKMS)/obj-m/' "$src/Makefile" >"$src/Kbuild"
	grep -q '^obj-m' "$src/Kbuild" || die "unexpected vkms Makefile in linux-source $version"
	log "building vkms.ko against $hdrdir"
	make -s -C "$hdrdir" M="$src" -j"$(nproc)" modules >"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log" >&2; die "building vkms.ko failed"; }
	mv -f "$src/vkms.ko" "$vdir/vkms.ko"
	rm -rf "$tmp"
}

# The bzImage's payload as an ELF vmlinux: qemu boots it through its PVH entry point
# (CONFIG_PVH=y in Debian's config), which skips the real-mode setup and, above all, the
# in-guest xz decompression that costs about 2 s under TCG. Empty output means "use the
# bzImage".
build_vmlinux() {
	local out=$vdir/vmlinux bz=$vdir/root/boot/vmlinuz-$kver tmp off
	[ -e "$out" ] && return 0
	tmp=$(mktemp "$vdir/.vmlinux.XXXXXX")
	if grep -q '^CONFIG_PVH=y' "$vdir/root/boot/config-$kver"; then
		off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | head -n1 | cut -d: -f1)
		# xz stops at the end of its stream and complains about what follows.
		[ -n "$off" ] && tail -c +$((off + 1)) "$bz" | xz -dcq >"$tmp" 2>/dev/null || true
		[ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || : >"$tmp"
	fi
	chmod 0644 "$tmp"
	mv -f "$tmp" "$out"
}

# Ordered, deduplicated module paths (relative to lib/modules/<kver>) for the given names,
# leaving out those already listed in the files given after --skip.
module_list() {
	local names=$1; shift
	local m
	for m in $names; do
		modprobe -d "$vdir/root" -S "$kver" --show-depends "$m" ||
			die "module $m not found in linux-image-$abi-amd64"
	done | sed -n "s|^insmod $vdir/root/lib/modules/$kver/\([^ ]*\).*|\1|p" |
		awk -v skip="$*" 'BEGIN { n = split(skip, f, " "); for (i = 1; i <= n; i++)
			while ((getline l < f[i]) > 0) seen[l] = 1 } !seen[$0]++'
}

build_initramfs() {
	local out=$1 tmp stage
	[ -s "$out" ] && return 0
	tmp=$(mktemp -d "$vdir/.initrd.XXXXXX")
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
	module_list "$common_modules" >"$stage/etc/kmscast/common.list"
	module_list "$virtio_gpu_modules" "$stage/etc/kmscast/common.list" \
		>"$stage/etc/kmscast/virtio-gpu.list"
	module_list "$vkms_modules" "$stage/etc/kmscast/common.list" >"$stage/etc/kmscast/vkms.list"
	echo vkms.ko >>"$stage/etc/kmscast/vkms.list"
	local rel
	sort -u "$stage"/etc/kmscast/*.list | while read -r rel; do
		[ "$rel" = vkms.ko ] && continue
		mkdir -p "$stage/lib/modules/$(dirname "$rel")"
		# Stripping drops the appended signature too: the kernel then skips verifying it,
		# which costs tens of ms per module under TCG (an unsigned module only taints).
		strip --strip-debug -o "$stage/lib/modules/$rel" "$vdir/root/lib/modules/$kver/$rel"
	done
	# The out-of-tree build keeps its debug info: 2 MB of the initramfs otherwise.
	strip --strip-debug -o "$stage/lib/modules/vkms.ko" "$vdir/vkms.ko"
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
	find "$vdir" -maxdepth 1 -name 'initrd-*.cpio' ! -path "$out" -mtime +2 -delete
}

cmd_prepare() {
	resolve
	vdir=$cache_root/$version
	kver=$abi-amd64
	local initrd_key initrd
	initrd_key=$(cat "$here/init" "$here/kernel.sh" | sha256sum | cut -c1-12)
	initrd=$vdir/initrd-$initrd_key.cpio
	if [ ! -d "$vdir/root" ] || [ ! -s "$vdir/vkms.ko" ] || [ ! -s "$initrd" ] ||
		[ ! -e "$vdir/vmlinux" ]; then
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
	touch -c "$initrd"
	local kernel=$vdir/vmlinux
	[ -s "$kernel" ] || kernel=$vdir/root/boot/vmlinuz-$kver
	printf 'KMSCAST_VM_KVER=%q\nKMSCAST_VM_KERNEL=%q\nKMSCAST_VM_INITRD=%q\nKMSCAST_VM_VERSION=%q\n' \
		"$kver" "$kernel" "$initrd" "$version"
}

case ${1:-} in
resolve) resolve; echo "$abi $version" ;;
headers) cmd_headers ;;
prepare) cmd_prepare ;;
*) echo "usage: $0 resolve|headers|prepare" >&2; exit 2 ;;
esac
