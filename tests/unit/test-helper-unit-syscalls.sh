#!/bin/sh
# kmscast-helper.service's SystemCallFilter= against what the helper calls. systemd installs
# its filter before exec; the helper adds its own (helper/hardening.c) after start-up, and the
# kernel applies both, so the unit must allow
#  - every syscall the helper's own filter allows (SCMP_SYS() in the helper's sources), and
#  - what the helper calls before its filter is in place (STARTUP below).
# A syscall the unit denies fails with SystemCallErrorNumber=EPERM: capset, for one, makes the
# helper exit at start ("cannot drop capabilities").
#
# The filter is expanded with `systemd-analyze syscall-filter` (groups nest), with systemd's
# rules for several assignments: the first decides allow-list or deny-list ("~"), later ones
# add to or take from it, an empty one resets. As a control, the same check must fail on a
# copy of the unit that also says SystemCallFilter=~capset.
#   test-helper-unit-syscalls.sh SYSTEMD_ANALYZE UNIT HELPER_SOURCE...
set -eu
analyze=$1 unit=$2
shift 2

# Before helper_install_seccomp (helper/main.c, hardening.c, privilege.c):
#   prctl      PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_NO_NEW_PRIVS
#   capget capset              libcap's cap_get_proc/cap_set_proc, privilege.c's raw calls
#   setrlimit prlimit64        helper_set_rlimits (glibc's setrlimit is prlimit64)
#   seccomp                    libseccomp's seccomp_load and its API probes
#   getpid                     LISTEN_PID
#   fcntl setsockopt getsockopt    verify_listeners, clear_pass_options, helper_check_listener
#   rt_sigaction               signal(SIGPIPE, SIG_IGN)
#   socket connect             getgrnam through NSS (nscd, systemd-userdbd)
STARTUP="prctl capget capset setrlimit prlimit64 seccomp getpid fcntl setsockopt getsockopt
rt_sigaction socket connect"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expand NAME: the syscalls NAME stands for, one a line; @groups recursively.
expand() {
	case $1 in
	@*)
		grep -qx -- "$1" "$dir/seen" 2>/dev/null && return 0
		echo "$1" >>"$dir/seen"
		"$analyze" syscall-filter --no-pager "$1" >"$dir/group.$$" 2>&1 ||
			fail "systemd-analyze syscall-filter $1: $(cat "$dir/group.$$")"
		# The first line names the group; then indented entries and "# comments".
		for e in $(sed -n '2,$ { s/^[[:space:]]*//; /^#/d; /^$/d; p; }' "$dir/group.$$"); do
			expand "$e"
		done
		;;
	*) echo "$1" ;;
	esac
}

# expand_list "A B:EPERM ...": each entry (without its :errno) expanded, sorted, unique.
expand_list() {
	: >"$dir/seen"
	for e in $1; do
		expand "${e%%:*}"
	done | sort -u
}

# verdicts UNIT: writes $dir/mode (none, allow or deny) and $dir/set (the allowed, or the
# denied, syscalls) from UNIT's SystemCallFilter= lines, in order.
verdicts() {
	echo none >"$dir/mode"
	: >"$dir/set"
	sed -n 's/^SystemCallFilter=//p' "$1" >"$dir/lines"
	while IFS= read -r value; do
		value=$(echo "$value" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		if [ -z "$value" ]; then
			echo none >"$dir/mode"
			: >"$dir/set"
			continue
		fi
		deny=no
		case $value in "~"*) deny=yes value=${value#"~"} ;; esac
		expand_list "$value" >"$dir/entries"
		mode=$(cat "$dir/mode")
		if [ "$mode" = none ]; then
			mode=allow
			[ "$deny" = yes ] && mode=deny
			echo "$mode" >"$dir/mode"
			cp "$dir/entries" "$dir/set"
		elif { [ "$mode" = allow ] && [ "$deny" = no ]; } ||
			{ [ "$mode" = deny ] && [ "$deny" = yes ]; }; then
			sort -u "$dir/set" "$dir/entries" >"$dir/set.new"
			mv "$dir/set.new" "$dir/set"
		else
			comm -23 "$dir/set" "$dir/entries" >"$dir/set.new"
			mv "$dir/set.new" "$dir/set"
		fi
	done <"$dir/lines"
	# systemd.exec(5): an allow-list always permits these.
	if [ "$(cat "$dir/mode")" = allow ]; then
		printf '%s\n' execve exit exit_group getrlimit rt_sigreturn sigreturn |
			sort -u - "$dir/set" >"$dir/set.new"
		mv "$dir/set.new" "$dir/set"
	fi
}

# denied UNIT: the required syscalls UNIT does not allow, one a line.
denied() {
	verdicts "$1"
	case $(cat "$dir/mode") in
	allow) comm -23 "$dir/required" "$dir/set" ;;
	deny) comm -12 "$dir/required" "$dir/set" ;;
	none) ;;
	esac
}

grep -q '^SystemCallFilter=' "$unit" || fail "$unit has no SystemCallFilter="
runtime=$(cat "$@" | grep -o 'SCMP_SYS([a-z0-9_]*)' | sed 's/SCMP_SYS(\(.*\))/\1/' | sort -u)
[ -n "$runtime" ] || fail "no SCMP_SYS() in $*"
printf '%s\n' $STARTUP $runtime | sort -u >"$dir/required"
echo "required: $(tr '\n' ' ' <"$dir/required")"

out=$(denied "$unit")
echo "filter: $(cat "$dir/mode")-list of $(wc -l <"$dir/set") syscalls"
[ -z "$out" ] || fail "$unit denies what kmscast-helper calls: $(echo "$out" | tr '\n' ' ')"

# The control: a unit that takes capset away must fail this check.
cp "$unit" "$dir/control.service"
echo 'SystemCallFilter=~capset' >>"$dir/control.service"
[ "$(denied "$dir/control.service")" = capset ] ||
	fail "the check did not catch SystemCallFilter=~capset"
echo "ok: $(basename "$unit") allows every syscall kmscast-helper needs"
