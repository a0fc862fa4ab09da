#!/bin/bash
# Runs inside the bench VM as PID 1's child, chrooted into the read-only host root. Mounts the
# scratch filesystems and shares, fixes device permissions, creates the test user, starts the
# requested fixtures and finally runs the command. The host reads the result from the run
# share: "rc" holds the command's exit status; "bench-error" says the bench itself failed.
set -u
run=/run/kmscast-vm
exec </dev/null >>"$run/stdout" 2>>"$run/stderr"

# shellcheck source=/dev/null
. "$run/config"
# shellcheck source=/dev/null
. "$run/vars.sh"
[ "$KMSCAST_VM_DEBUG" = 1 ] && set -x

die() {
	echo "kmscast-vm: $*" >&2
	echo "$*" >>"$run/bench-error"
	exit 1
}

uptime_to() { cut -d' ' -f1 /proc/uptime >"$run/$1"; }

# Paths the bench puts a tmpfs on. The host's copies stay hidden; shares are mounted on top.
is_scratch() {
	case "$1/" in
	/tmp/* | /var/tmp/* | /root/* | /run/*) return 0 ;;
	esac
	[ -n "${host_home:-}" ] && [ "$host_home" != / ] && case "$1/" in "$host_home"/*) return 0 ;; esac
	return 1
}

mount_scratch() {
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || die "tmpfs /tmp"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp || die "tmpfs /var/tmp"
	mount -t tmpfs -o mode=0700 tmpfs /root || die "tmpfs /root"
	if [ -n "$host_home" ] && [ "$host_home" != / ] && [ -d "$host_home" ]; then
		local save=$host_home
		host_home=
		is_scratch "$save" || mount -t tmpfs -o mode=0755 tmpfs "$save" || die "tmpfs $save"
		host_home=$save
	fi
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || die "devpts"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || die "tmpfs /dev/shm"
	# devtmpfs has no /dev/fd; bash process substitution and many scripts need it.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	mkdir -p /run/lock /run/user
	# /sys/kernel/debug/dri/N/name tells tests which driver a card has.
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	return 0
}

# Writable 9p shares at their host paths. cache=mmap: writes reach the host at once (it
# reads them right after poweroff), while shared writable mmap still works.
mount_shares() {
	local tag path
	while IFS=$'\t' read -r tag path; do
		mkdir -p "$path" 2>/dev/null
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap "$tag" "$path" ||
			die "cannot mount share $path"
	done <"$run/shares"
}

setup_devices() {
	local want=1 n=0 i
	[ "$KMSCAST_VM_KMS" = virtio-gpu ] && want=$KMSCAST_VM_GPUS
	for ((i = 0; i < 200; i++)); do
		n=$(compgen -G '/dev/dri/card*' | wc -l)
		[ "$n" -ge "$want" ] && break
		sleep 0.05
	done
	[ "$n" -ge "$want" ] || die "expected $want DRM card(s) for $KMSCAST_VM_KMS, found $n"
	chgrp video /dev/dri/card* /dev/dri/renderD* 2>/dev/null
	chmod 0660 /dev/dri/card* /dev/dri/renderD* 2>/dev/null
	return 0
}

# /etc/passwd and /etc/group are bind-mounted copies with the test user added: the host
# root is read-only. Conflicting entries (uid 1000, gid 990) are dropped from the copies.
setup_user() {
	local ov=/run/kmscast-etc
	mkdir -p "$ov"
	awk -F: '$1 != "kmscast-test" && $3 != 1000' /etc/passwd >"$ov/passwd"
	echo "kmscast-test:x:1000:1000:kmscast test user:/run/kmscast-test:/bin/bash" >>"$ov/passwd"
	awk -F: -v OFS=: '
		$1 == "kmscast-test" || ($3 == 1000 && $1 != "kmscast") { next }
		$1 == "kmscast" { kg = 1 }
		$1 == "video" || $1 == "kmscast" { $4 = ($4 == "" ? "" : $4 ",") "kmscast-test" }
		$3 == 990 && $1 != "kmscast" { next }
		{ print }
		END {
			print "kmscast-test:x:1000:"
			if (!kg) print "kmscast:x:990:kmscast-test"
		}' /etc/group >"$ov/group"
	mount --bind "$ov/passwd" /etc/passwd || die "bind /etc/passwd"
	mount --bind "$ov/group" /etc/group || die "bind /etc/group"
	install -d -m 0700 -o 1000 -g 1000 /run/user/1000 /run/kmscast-test
}

start_dbus() {
	as_user dbus-daemon --session --nofork --nopidfile --address=unix:path=/run/user/1000/bus \
		>"$run/logs/dbus.log" 2>&1 &
	wait_for_file /run/user/1000/bus 10 || die "session dbus-daemon did not start"
}

start_pipewire() {
	as_user pipewire >"$run/logs/pipewire.log" 2>&1 &
	local pid=$!
	wait_for_file /run/user/1000/pipewire-0 20 || die "pipewire did not create its socket"
	local i
	for ((i = 0; i < 200; i++)); do
		as_user pw-cli info 0 >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || die "pipewire exited (see logs/pipewire.log)"
		sleep 0.05
	done
	die "pipewire does not answer 'pw-cli info 0'"
}

# WirePlumber 0.4.13's bluez monitor loads the logind plugin and the daemon exits without
# systemd-logind ("disconnected from pipewire"): run it from a config copy that disables it.
start_wireplumber() {
	local conf=/run/kmscast-wireplumber
	cp -r /usr/share/wireplumber "$conf"
	: >"$conf/bluetooth.lua.d/90-enable-all.lua"
	WIREPLUMBER_CONFIG_DIR=$conf as_user wireplumber >"$run/logs/wireplumber.log" 2>&1 &
	local pid=$! i
	# Ready once its session-manager metadata ("default") is exported to the graph.
	for ((i = 0; i < 400; i++)); do
		as_user pw-cli ls Metadata 2>/dev/null | grep -q '"default"' && return 0
		kill -0 "$pid" 2>/dev/null || die "wireplumber exited (see logs/wireplumber.log)"
		sleep 0.05
	done
	die "wireplumber did not publish its default metadata"
}

has_fixture() { case ",$KMSCAST_VM_WITH," in *",$1,"*) return 0 ;; esac; return 1; }


mount_scratch
mount_shares
setup_devices
mkdir -p "$run/logs"
# shellcheck source=fixtures.sh
. "$run/fixtures.sh"
uptime_to uptime-fixtures-start
has_fixture user && setup_user
has_fixture dbus && start_dbus
has_fixture pipewire && start_pipewire
has_fixture wireplumber && start_wireplumber

# The command's environment: a clean root environment, what the host passed through, the
# bench's variables and, with fixtures, the user session's so root can reach its PipeWire.
for v in $(compgen -e); do
	case $v in KMSCAST_VM_KMS | KMSCAST_VM_WITH | KMSCAST_VM_GPUS | KMSCAST_VM_DEBUG) ;; *) unset "$v" ;; esac
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
# shellcheck source=/dev/null
. "$run/env.sh"
export KMSCAST_VM=1 KMSCAST_VM_KMS KMSCAST_VM_WITH KMSCAST_VM_GPUS
export KMSCAST_SRC_DIR=$src_dir
[ -n "$build_dir" ] && export KMSCAST_BUILD_DIR=$build_dir
if [ -n "$KMSCAST_VM_WITH" ]; then
	export XDG_RUNTIME_DIR=/run/user/1000 PIPEWIRE_RUNTIME_DIR=/run/user/1000
	has_fixture dbus && export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus
fi

cd "$cwd" || die "cannot enter $cwd inside the VM"
uptime_to uptime-cmd
set +x
"${cmd[@]}"
echo $? >"$run/rc"
