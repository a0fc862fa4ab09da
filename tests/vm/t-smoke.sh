#!/bin/sh
# Smoke test of the bench itself, run inside the VM:
#   tests/vm/run --kms KIND [--gpus N] [--with ...] -- tests/vm/t-smoke.sh KIND [N]
# Checks that N cards of the requested kind are there with the promised ownership, vkms's
# cursor parameter, and every fixture the run asked for (KMSCAST_VM_WITH).
set -eu
. "${KMSCAST_SRC_DIR:?not inside the kmscast bench}/tests/vm/fixtures.sh"

kind=${1:?usage: t-smoke.sh vkms|virtio-gpu [ncards]}
ncards=${2:-1}
case $kind in
vkms) driver=vkms ;;
virtio-gpu) driver=virtio_gpu ;;
*) vm_fail "unknown kind $kind" ;;
esac

[ "${KMSCAST_VM:-}" = 1 ] || vm_fail "KMSCAST_VM is not 1"
# The source tree and the build tree are writable shares inside.
for dir in "$KMSCAST_SRC_DIR" ${KMSCAST_BUILD_DIR:+"$KMSCAST_BUILD_DIR"}; do
	probe=$dir/.kmscast-smoke.$$
	echo probe >"$probe" && [ "$(cat "$probe")" = probe ] || vm_fail "$dir is not writable"
	rm -f "$probe"
done
[ -x "$KMSCAST_SRC_DIR/tests/vm/t-smoke.sh" ] || vm_fail "source tree not visible"
echo "ok: shares writable (${KMSCAST_BUILD_DIR:-no build dir})"

i=0
while [ "$i" -lt "$ncards" ]; do
	card=/dev/dri/card$i
	[ -c "$card" ] || vm_fail "$card is not a character device"
	perm=$(stat -c '%U:%G %a' "$card")
	[ "$perm" = "root:video 660" ] || vm_fail "$card is $perm, want root:video 660"
	# The DRM driver's own name, as DRM_IOCTL_VERSION reports it.
	name=$(cut -d' ' -f1 "/sys/kernel/debug/dri/$i/name")
	[ "$name" = "$driver" ] || vm_fail "$card is driven by '$name', want '$driver'"
	echo "ok: $card ($name, $perm)"
	i=$((i + 1))
done
[ ! -e "/dev/dri/card$ncards" ] || vm_fail "/dev/dri/card$ncards exists; want only $ncards card(s)"

if [ "$kind" = vkms ]; then
	[ "$(cat /sys/module/vkms/parameters/enable_cursor)" = Y ] || vm_fail "vkms without enable_cursor"
	echo "ok: vkms enable_cursor=Y"
fi

case ",${KMSCAST_VM_WITH:-}," in *,user,*)
	groups=$(id -Gn kmscast-test)
	[ "$(id -u kmscast-test)" = 1000 ] || vm_fail "kmscast-test is not uid 1000"
	case " $groups " in *" video "*) ;; *) vm_fail "kmscast-test not in video: $groups" ;; esac
	case " $groups " in *" kmscast "*) ;; *) vm_fail "kmscast-test not in kmscast: $groups" ;; esac
	as_user sh -c ': <>/dev/dri/card0' || vm_fail "kmscast-test cannot open /dev/dri/card0"
	[ "$(stat -c %u /run/user/1000)" = 1000 ] || vm_fail "/run/user/1000 not owned by the user"
	echo "ok: kmscast-test ($groups) opens card0"
	;;
esac

case ",${KMSCAST_VM_WITH:-}," in *,dbus,*)
	as_user dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
		org.freedesktop.DBus.GetId >/dev/null || vm_fail "no session bus"
	echo "ok: session bus"
	;;
esac

case ",${KMSCAST_VM_WITH:-}," in *,pipewire,*)
	as_user pw-dump >/tmp/smoke-dump.json || vm_fail "pw-dump failed"
	grep -q '"type": "PipeWire:Interface:Core"' /tmp/smoke-dump.json ||
		vm_fail "pw-dump lists no PipeWire core"
	# Root reaches the user's daemon through the exported PIPEWIRE_RUNTIME_DIR.
	pw-cli info 0 | grep -q 'core.name = "pipewire-0"' || vm_fail "root cannot reach pipewire-0"
	echo "ok: pipewire core listed by pw-dump, reachable by root"
	;;
esac

case ",${KMSCAST_VM_WITH:-}," in *,wireplumber,*)
	grep -q '"application.name": "WirePlumber"' /tmp/smoke-dump.json ||
		vm_fail "no WirePlumber client in pw-dump"
	echo "ok: wireplumber connected"
	;;
esac
echo "smoke: all checks passed"
