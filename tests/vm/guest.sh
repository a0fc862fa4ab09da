#!/bin/bash
# Runs inside the bench VM as PID 1's child, chrooted into the read-only host root that init
# has already set up (mounts, shares, device permissions, the test user's passwd entry).
# Starts the requested fixtures and then runs the command. The host reads the result from
# the run share: "rc" holds the command's exit status; "bench-error" says the bench failed.
# shellcheck disable=SC2154 # src_dir, build_dir, cwd, cmd come from vars.sh
set -u
run=/run/kmscast-vm
exec </dev/null >>"$run/stdout" 2>>"$run/stderr"

# shellcheck source=/dev/null
. "$run/config"
# src_dir, build_dir, cwd and the cmd array.
# shellcheck source=/dev/null disable=SC2154
. "$run/vars.sh"
[ "$KMSCAST_VM_DEBUG" = 1 ] && set -x

die() {
	echo "kmscast-vm: $*" >&2
	echo "$*" >>"$run/bench-error"
	exit 1
}

# Guest uptime at each phase, for "kmscast-vm: timing" (KMSCAST_VM_TIMING=1). Builtins only.
mark() {
	local up _
	read -r up _ </proc/uptime
	echo "$1 $up" >>"$run/timing"
}

# sleep without an exec: each exec costs 30-100 ms under TCG.
exec {nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$nap_fd" || :; }

# Polls every 20 ms for up to $2 seconds.
wait_path() {
	local i
	for ((i = 0; i < $2 * 50; i++)); do
		[ -e "$1" ] && return 0
		nap 0.02
	done
	return 1
}

# Root may use the user's PipeWire socket: one exec per readiness poll instead of three.
as_root_pw() { PIPEWIRE_RUNTIME_DIR=/run/user/1000 "$@"; }

# The fixtures start concurrently (2 vCPUs) and are waited for afterwards: dbus-daemon,
# pipewire and wireplumber each take a second or more to start under TCG. PipeWire only
# uses the session bus to look for the portal and RealtimeKit, which are absent anyway.
start_dbus() {
	# --fork returns once the bus socket is listening.
	as_user dbus-daemon --session --fork --nopidfile --address=unix:path=/run/user/1000/bus \
		>"$run/logs/dbus.log" 2>&1 </dev/null &
	dbus_pid=$!
}

wait_dbus() {
	wait "$dbus_pid" || die "session dbus-daemon did not start (see logs/dbus.log)"
}

start_pipewire() {
	as_user pipewire >"$run/logs/pipewire.log" 2>&1 &
	pipewire_pid=$!
}

# The socket exists once module-protocol-native is loaded; a client that connects then is
# served when the main loop runs, so one 'pw-cli info 0' tells that the daemon answers.
wait_pipewire_socket() {
	wait_path /run/user/1000/pipewire-0 20 || die "pipewire did not create its socket"
}

wait_pipewire() {
	local i
	for ((i = 0; i < 20; i++)); do
		as_root_pw pw-cli info 0 >/dev/null 2>&1 && return 0
		kill -0 "$pipewire_pid" 2>/dev/null || die "pipewire exited (see logs/pipewire.log)"
		nap 0.1
	done
	die "pipewire does not answer 'pw-cli info 0'"
}

# WirePlumber runs from a config copy in /run/kmscast-wireplumber (WIREPLUMBER_CONFIG_DIR;
# node-lib.sh's pw_restart starts it the same way) that disables its bluez monitor: in 0.4.13
# that monitor loads the logind plugin, and the daemon exits without systemd-logind
# ("disconnected from pipewire"). The VM has no sound card and no libcamera either: their
# monitors only cost startup time. 0.4 is configured by Lua files (main.lua.d/ and others
# next to its wireplumber.conf), 0.5 by SPA-JSON profiles (wireplumber.conf and its conf.d
# fragments): whether the root has 0.4's Lua directories picks the edit, without an exec.
start_wireplumber() {
	local conf=/run/kmscast-wireplumber
	cp -r /usr/share/wireplumber "$conf"
	# 0.4.13 has a wireplumber.conf too, but only 0.4 has the Lua directories.
	if [ ! -d "$conf/main.lua.d" ]; then
		mkdir -p "$conf/wireplumber.conf.d"
		cat >"$conf/wireplumber.conf.d/90-kmscast-bench.conf" <<-'EOF'
			wireplumber.profiles = {
			  main = {
			    monitor.bluez = disabled
			    monitor.bluez-midi = disabled
			    monitor.bluez.seat-monitoring = disabled
			    support.logind = disabled
			    monitor.alsa = disabled
			    monitor.alsa-midi = disabled
			    monitor.libcamera = disabled
			  }
			}
		EOF
	else
		: >"$conf/bluetooth.lua.d/90-enable-all.lua"
		sed -i -e '/^alsa_monitor.enable()/d' -e '/^libcamera_monitor.enable()/d' \
			"$conf/main.lua.d/90-enable-all.lua"
	fi
	WIREPLUMBER_CONFIG_DIR=$conf as_user wireplumber >"$run/logs/wireplumber.log" 2>&1 &
	wireplumber_pid=$!
}

# Ready once its "default" metadata is in the graph: the policy scripts load after it but
# pick up nodes that already exist, so a command racing them loses nothing.
wait_wireplumber() {
	local i
	for ((i = 0; i < 300; i++)); do
		[[ $(as_root_pw pw-cli ls Metadata 2>/dev/null) == *'"default"'* ]] && return 0
		kill -0 "$wireplumber_pid" 2>/dev/null ||
			die "wireplumber exited (see logs/wireplumber.log)"
		nap 0.05
	done
	die "wireplumber did not publish its default metadata (see logs/wireplumber.log)"
}

has_fixture() { case ",$KMSCAST_VM_WITH," in *",$1,"*) return 0 ;; esac; return 1; }

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mark guest.sh
# shellcheck source=fixtures.sh
. "$run/fixtures.sh"
if has_fixture dbus; then start_dbus; fi
if has_fixture pipewire; then start_pipewire; fi
if has_fixture wireplumber; then
	wait_pipewire_socket
	start_wireplumber
fi
if has_fixture dbus; then wait_dbus && mark dbus; fi
if has_fixture pipewire; then wait_pipewire && mark pipewire; fi
if has_fixture wireplumber; then wait_wireplumber && mark wireplumber; fi

# The command's environment: a clean root environment, what the host passed through, the
# bench's variables and, with fixtures, the user session's so root can reach its PipeWire.
for v in $(compgen -e); do
	case $v in KMSCAST_VM_*) ;; *) unset "$v" ;; esac
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
# shellcheck source=/dev/null
. "$run/env.sh"
export KMSCAST_VM=1 KMSCAST_VM_STACK KMSCAST_VM_KMS KMSCAST_VM_WITH KMSCAST_VM_GPUS
export KMSCAST_SRC_DIR=$src_dir
[ -n "$build_dir" ] && export KMSCAST_BUILD_DIR=$build_dir
if [ -n "$KMSCAST_VM_WITH" ]; then
	export XDG_RUNTIME_DIR=/run/user/1000 PIPEWIRE_RUNTIME_DIR=/run/user/1000
	has_fixture dbus && export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus
fi

exec {nap_fd}>&-
cd "$cwd" || die "cannot enter $cwd inside the VM"
mark command
set +x
"${cmd[@]}"
echo $? >"$run/rc"
