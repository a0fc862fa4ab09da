#!/bin/bash
# The portal offers only the monitors of the user's seat (docs/security.md, "The portal:
# consent, seats and remembered answers"). With logind's state faked as t-helper-seat.sh
# fakes it, and a shell chooser (the consent step's program: `--chooser`) that records what
# it was offered on stdin and answers with the first line:
#  - the test user active on seat0, vkms's card0 on seat0 (no ID_SEAT): the chooser runs,
#    offered exactly card0's monitor with KMSCAST_APP_ID/MULTIPLE/PERSIST set, and the
#    stream the app gets is that monitor;
#  - card0 moved to seat1 (ID_SEAT=seat1 in its udev database entry): nothing is offered,
#    the chooser does not run, SelectSources answers 2 and the daemon logs why;
#  - card0 back on seat0 but the user active on no seat: refused the same way.
# The daemon reads the seats at every SelectSources: one daemon serves all three rounds.
#
# Faked files (systemd 252, sd-login.c and sd-device): sd_uid_get_seats(uid, 1) reads
# ACTIVE_SEATS of /run/systemd/users/UID; sd-device reads the properties of char device
# MAJ:MIN from /run/udev/data/cMAJ:MIN ("E:KEY=VALUE" lines). /run/systemd/seats/ tells both
# the helper and the daemon that logind runs; the helper's own checks (seat0's ACTIVE and
# ACTIVE_UID, the session's REMOTE) pass for c1, so Start's node can export.
# Run: tests/vm/run --kms vkms --with wireplumber -- tests/vm/t-portal-seat.sh
set -u
. "$KMSCAST_SRC_DIR/tests/vm/fixtures.sh"
. "$KMSCAST_SRC_DIR/tests/vm/node-lib.sh"
. "$KMSCAST_SRC_DIR/tests/vm/lib/portal-lib.sh"
OUT=$NODE_TMP/out
mkdir -p "$OUT" && chown "$KMSCAST_TEST_UID" "$OUT"
U=$KMSCAST_TEST_UID

# user_active_seats SEATS: the seats where the test user's session is the active one.
user_active_seats() {
	write_file "/run/systemd/users/$U" <<USER
# This is private data. Do not parse.
NAME=$KMSCAST_TEST_USER
STATE=$([ -n "$1" ] && echo active || echo online)
RUNTIME=$KMSCAST_TEST_RUNTIME_DIR
SESSIONS=c1
SEATS=seat0
ACTIVE_SESSIONS=$([ -n "$1" ] && echo c1)
ONLINE_SESSIONS=c1
ACTIVE_SEATS=$1
ONLINE_SEATS=seat0
USER
}

mkdir -p /run/systemd/seats /run/systemd/sessions /run/systemd/users /run/udev/data
logind_seat_file seat0 c1 "$U" c1 "$U"
write_file /run/systemd/sessions/c1 <<SESSION
# This is private data. Do not parse.
UID=$U
USER=$KMSCAST_TEST_USER
ACTIVE=1
IS_DISPLAY=1
STATE=active
REMOTE=0
TYPE=wayland
ORIGINAL_TYPE=wayland
CLASS=user
SCOPE=session-c1.scope
SEAT=seat0
VTNR=2
POSITION=0
LEADER=1
SESSION
user_active_seats seat0

# card0's udev database entry: absent (seat0) until the second round writes one.
read -r CARD_DEV </sys/class/drm/card0/dev || vm_fail "no /sys/class/drm/card0"
UDEV_DB=/run/udev/data/c$CARD_DEV
[ -e "$UDEV_DB" ] && vm_fail "$UDEV_DB exists: this bench runs udev; the test expects none"

# The chooser keeps what it was offered and its environment under the round's name.
cat >"$OUT/chooser.sh" <<CHOOSER
#!/bin/sh
round=\$(cat "$OUT/round")
cat >"$OUT/offered-\$round"
env | grep '^KMSCAST_' | sort >"$OUT/env-\$round"
head -n 1 "$OUT/offered-\$round" | cut -f 1
CHOOSER
chmod 0755 "$OUT/chooser.sh"
chown "$U" "$OUT/chooser.sh"

portal_producer --duration 150
conn=$(sed -n 's/.* connector=\([^ ]*\) .*/\1/p' "$NODE_TMP/producer.log" | head -n1)
echo "producer: $conn"
portal_start_kmscast --chooser "$OUT/chooser.sh"
node_wait "kmscast.card0.$conn" >/dev/null || portal_fail "no shared node: did the helper refuse?"
portal_start_frontend

# select_round NAME: one app session; its client log and state under NAME.
select_round() {
	echo "$1" >"$OUT/round"
	chmod a+r "$OUT/round"
	portal_client --state "$OUT/state-$1.json" >"$NODE_TMP/client-$1.log" 2>&1
	echo "client exited $?"
	cat "$NODE_TMP/client-$1.log"
}

# expect_refused NAME LOG_TEXT: SelectSources answered 2, nothing offered, the reason logged.
expect_refused() {
	[ "$(json_get "$OUT/state-$1.json" 's["responses"].get("SelectSources")')" = 2 ] ||
		portal_fail "$1: SelectSources did not answer 2"
	[ -e "$OUT/offered-$1" ] && portal_fail "$1: the chooser ran: $(cat "$OUT/offered-$1")"
	grep -F "refusing '" "$NODE_TMP/daemon.log" | grep -Fq "$2" ||
		portal_fail "$1: the daemon did not log \"$2\""
}

echo "== the test user active on seat0, card0 on seat0: offered, shared"
select_round seat0
[ -f "$OUT/offered-seat0" ] || portal_fail "the chooser did not run"
echo "--- offered"; cat "$OUT/offered-seat0"
echo "--- chooser env"; cat "$OUT/env-seat0"
[ "$(wc -l <"$OUT/offered-seat0")" = 1 ] || portal_fail "not exactly one monitor offered"
grep -q "^card0:$conn	" "$OUT/offered-seat0" || portal_fail "card0:$conn not offered"
grep -qx 'KMSCAST_MULTIPLE=0' "$OUT/env-seat0" || portal_fail "KMSCAST_MULTIPLE"
grep -qx 'KMSCAST_PERSIST=0' "$OUT/env-seat0" || portal_fail "KMSCAST_PERSIST"
grep -q '^KMSCAST_APP_ID=' "$OUT/env-seat0" || portal_fail "no KMSCAST_APP_ID"
[ "$(json_get "$OUT/state-seat0.json" 's["responses"].get("SelectSources")')" = 0 ] ||
	portal_fail "SelectSources did not succeed"
[ "$(json_get "$OUT/state-seat0.json" 's["streams"][0]["id"]')" = "$conn" ] ||
	portal_fail "the stream is not $conn"

echo "== card0 on seat1 (ID_SEAT), the user active on seat0: nothing offered, refused"
printf 'E:ID_SEAT=seat1\nG:seat\n' | write_file "$UDEV_DB"
select_round seat1
expect_refused seat1 "none of the 1 monitors is on seat0"

echo "== card0 on seat0 again, the user active on no seat: refused"
rm -f "$UDEV_DB"
user_active_seats ""
select_round none
expect_refused none "has no active session on any seat"

node_stop_daemon
kill "$PRODUCER" 2>/dev/null
rm -rf /run/systemd/users /run/systemd/sessions /run/systemd/seats
echo "PASS t-portal-seat"
