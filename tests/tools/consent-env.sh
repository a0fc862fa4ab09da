# shellcheck shell=sh
# A display for kmscast-consent without a real one: weston's headless backend (pixman, no
# /dev/dri) and the accessibility bus its widgets are read and driven through. Source this
# file under a private session bus (dbus-run-session), then:
#   consent_env_start RUNTIME_DIR   exports XDG_RUNTIME_DIR, WAYLAND_DISPLAY, GDK_BACKEND,
#                                   GSK_RENDERER; returns non-zero with a message on failure
#   consent_env_stop                stops what consent_env_start started
# Used by the unit test tests/unit/test-consent.sh and meant for the vm portal tests.

CONSENT_ENV_WESTON_PID=
CONSENT_ENV_A11Y_PID=
# at-spi2-core's launcher; D-Bus activation would start it too, but a known pid can be stopped.
: "${CONSENT_ENV_A11Y_LAUNCHER:=/usr/libexec/at-spi-bus-launcher}"

consent_env_wait_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ "$i" -le 100 ] || return 1
		kill -0 "$CONSENT_ENV_WESTON_PID" 2>/dev/null || return 1
		sleep 0.05
	done
}

# org.a11y.Bus answers GetAddress once the accessibility bus is up.
consent_env_wait_a11y() {
	i=0
	until dbus-send --session --print-reply --dest=org.a11y.Bus /org/a11y/bus \
		org.a11y.Bus.GetAddress >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le 100 ] || return 1
		sleep 0.05
	done
}

consent_env_start() {
	rundir=$1
	if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
		echo "consent-env: no session bus; run under dbus-run-session" >&2
		return 1
	fi
	mkdir -p "$rundir" && chmod 700 "$rundir" || return 1
	export XDG_RUNTIME_DIR="$rundir"
	socket=consent-$$
	weston --backend=headless-backend.so --shell=kiosk-shell.so --socket="$socket" \
		--idle-time=0 --no-config >"$rundir/weston.log" 2>&1 &
	CONSENT_ENV_WESTON_PID=$!
	if ! consent_env_wait_socket "$rundir/$socket"; then
		echo "consent-env: weston did not start; its log:" >&2
		cat "$rundir/weston.log" >&2
		consent_env_stop
		return 1
	fi
	export WAYLAND_DISPLAY="$socket" GDK_BACKEND=wayland GSK_RENDERER=cairo
	# The accessibility bus is the one this session bus names; GTK_A11Y=none would hide it.
	unset DISPLAY AT_SPI_BUS_ADDRESS GTK_A11Y
	if [ -x "$CONSENT_ENV_A11Y_LAUNCHER" ]; then
		"$CONSENT_ENV_A11Y_LAUNCHER" --launch-immediately >"$rundir/a11y.log" 2>&1 &
		CONSENT_ENV_A11Y_PID=$!
	fi
	if ! consent_env_wait_a11y; then
		echo "consent-env: no accessibility bus (org.a11y.Bus); is at-spi2-core installed?" >&2
		consent_env_stop
		return 1
	fi
}

consent_env_stop() {
	for pid in $CONSENT_ENV_A11Y_PID $CONSENT_ENV_WESTON_PID; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	CONSENT_ENV_WESTON_PID=
	CONSENT_ENV_A11Y_PID=
	return 0
}
