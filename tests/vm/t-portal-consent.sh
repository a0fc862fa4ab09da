#!/bin/bash
# The consent step through the real xdg-desktop-portal 1.16 frontend, with the real dialog
# (kmscast-consent, GTK 4) on a headless weston, read and clicked through AT-SPI as a screen
# reader or a person would. Asserts:
#  - the user clicks Cancel: SelectSources answers 1 (cancelled), no portal node exists, and
#    the daemon logs that the user declined; the dialog named the monitor it offered;
#  - the display is gone (no dialog can be shown): SelectSources answers 2, the dialog did
#    not answer, and the daemon's log line says why and what to do; nothing is shared.
# t-portal-flow.sh covers the Share click.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-portal-consent.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"

portal_producer --duration 150
conn=$(sed -n 's/.* connector=\([^ ]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n1)
PORTAL_CONSENT_ARGS="--answer cancel"
portal_start_kmscast
node_wait "kmscast.card0.$conn" >/dev/null || exit 1
portal_start_frontend

select_response() {
	json_get "$OUT/state-$1.json" 's["responses"].get("SelectSources")'
}

echo "== the user clicks Cancel"
portal_client --state "$OUT/state-cancel.json" >"$NODE_TMP/client-cancel.log" 2>&1
echo "client exited $?"; cat "$NODE_TMP/client-cancel.log"
echo "--- consent dialog"; cat "$NODE_TMP/consent.log"
[ "$(select_response cancel)" = 1 ] || portal_fail "SelectSources did not answer 1 (cancelled)"
grep -q "^row	card0:$conn	" "$NODE_TMP/consent.log" || portal_fail "the dialog did not offer card0:$conn"
grep -qx "answer	cancel" "$NODE_TMP/consent.log" || portal_fail "the dialog was not cancelled"
grep -q "the user declined to share a screen" "$NODE_TMP/daemon.log" ||
	portal_fail "the daemon did not log the refusal"
[ -z "$(portal_nodes)" ] || portal_fail "a portal node exists after Cancel: $(portal_nodes)"

echo "== no display: the dialog cannot be shown"
answers=$(consent_answers)
# SIGKILL: the display vanishes as in a compositor crash; its socket file stays, unanswered.
pkill -KILL -x weston
# Dead once only a zombie is left: its parent, the driver, does not reap it.
weston_alive() { ps -C weston -o stat= | grep -qv '^Z'; }
for _ in $(seq 50); do weston_alive || break; sleep 0.1; done
weston_alive && portal_fail "weston did not stop: $(pgrep -a weston)"
portal_client --state "$OUT/state-nodisplay.json" >"$NODE_TMP/client-nodisplay.log" 2>&1
echo "client exited $?"; cat "$NODE_TMP/client-nodisplay.log"
[ "$(select_response nodisplay)" = 2 ] || portal_fail "SelectSources did not answer 2 without a display"
[ "$(consent_answers)" = "$answers" ] || portal_fail "a dialog was answered without a display"
grep -q "no consent dialog could be shown" "$NODE_TMP/daemon.log" ||
	portal_fail "the daemon did not say why nothing could be shown"
[ -z "$(portal_nodes)" ] || portal_fail "a portal node exists without consent: $(portal_nodes)"
grep "no consent dialog could be shown" "$NODE_TMP/daemon.log" | tail -n 1

node_stop_daemon
kill "$PRODUCER" 2>/dev/null
echo "PASS t-portal-consent"
