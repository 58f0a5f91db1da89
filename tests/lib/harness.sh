# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The harness of the shell suites (lib_cli, ops_record, ops_prometheus,
# ops_bridge), sourced by each after `set -u`:
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/harness.sh" 2>/dev/null || . "$here/../lib/harness.sh"
#
# It is installed beside them in build/ksft, without the execute bit so
# that tests/run-kselftests does not run it.  A suite then
#
#   - finds its programs with find_prog (EVBUS, say), which keeps a path
#     the caller exported;
#   - makes $tmp, where every background process it starts records its
#     pid in a NAME.pid file, which reap kills after each test;
#   - defines its tests as functions t_NAME and calls run_test NAME for
#     each, then tap_end, which prints the kselftest-style totals that
#     tests/run-kselftests adds up and returns nonzero if a test failed.
#
# A test passes by returning 0, is skipped by exiting 77 (its last line
# says why), and fails otherwise; lines of its output starting with "# "
# are shown either way, all of it when it fails.  A suite may define
# after_test NAME, called after reap (tidying $tmp between tests, say).

n=0 pass=0 fail=0 skip=0
echo "TAP version 13"

# find_prog VAR REL NAME: set VAR (unless already set) to the absolute path
# of REL under the build tree, as seen from build/ksft or from tests/DIR;
# exit 1 naming NAME if there is none.
find_prog() {
	local var=$1 rel=$2 c
	if [ -z "${!var:-}" ]; then
		for c in "$here/../$rel" "$here/../../build/$rel"; do
			[ -x "$c" ] && { printf -v "$var" '%s' "$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"; break; }
		done
	fi
	[ -x "${!var:-}" ] || { echo "$3: cannot find $(basename "$rel") (set $var)" >&2; exit 1; }
}

# Kill what a test left running: every NAME.pid in $tmp (stopped ones too).
reap() {
	local f p
	for f in "$tmp"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rm -f "$f"
	done
}

diag() { sed 's/^/# /'; }
die() { echo "FAIL: $*"; exit 1; }
expect_eq() { [ "$1" = "$2" ] || die "${3:-value}: expected '$1', got '$2'"; }
need_device() { [ -c /dev/evbus ] || { echo "no /dev/evbus"; exit 77; }; }
need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }

# wait_for FILE REGEX [TENTHS]: until a line of FILE matches, at most
# TENTHS tenths of a second (default $WAIT_TENTHS, or 20 s).  A bound on a
# poll for a state, never a measure.
wait_for() {
	local i
	for ((i = 0; i < ${3:-${WAIT_TENTHS:-200}}; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# expect_fail CODE REGEX CMD...: CMD exits CODE with a stderr line matching
# REGEX; with EF_STDOUT_EMPTY set it must also print nothing on stdout
# (unless ef_stdout_ok is set for that call).
expect_fail() {
	local code=$1 re=$2 rc=0; shift 2
	"$@" >"$tmp/ef.out" 2>"$tmp/ef.err" || rc=$?
	[ "$rc" = "$code" ] || die "'$*' exited $rc, expected $code; stderr: $(cat "$tmp/ef.err")"
	grep -qE -- "$re" "$tmp/ef.err" || die "'$*': stderr lacks /$re/: $(cat "$tmp/ef.err")"
	[ -z "${EF_STDOUT_EMPTY:-}" ] || [ -n "${ef_stdout_ok:-}" ] || [ ! -s "$tmp/ef.out" ] ||
		die "'$*' wrote to stdout: $(cat "$tmp/ef.out")"
}

# run_test NAME: t_NAME in a subshell, with its output in $tmp/log.
run_test() {
	local name=$1 rc t0
	n=$((n + 1))
	t0=$(date +%s%N)
	( set -u; "t_$name" ) >"$tmp/log" 2>&1
	rc=$?
	reap
	! declare -F after_test >/dev/null || after_test "$name"
	echo "# $name: $((($(date +%s%N) - t0) / 1000000)) ms"
	if [ $rc = 0 ]; then
		grep '^# ' "$tmp/log"
		echo "ok $n $name"; pass=$((pass + 1))
	elif [ $rc = 77 ]; then
		echo "ok $n $name # SKIP $(tail -n1 "$tmp/log")"; skip=$((skip + 1))
	else
		echo "not ok $n $name"; fail=$((fail + 1))
		diag <"$tmp/log"
	fi
}

# tap_totals: the line tests/run-kselftests reads.
tap_totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
}

# skip_all WHY: the whole suite cannot run here.
skip_all() {
	echo "1..0 # SKIP $*"
	skip=1; tap_totals; exit 0
}

# tap_end: the plan and the totals; nonzero if a test failed.
tap_end() {
	echo "1..$n"
	tap_totals
	[ "$fail" = 0 ]
}

# all_tests: the names of the t_* functions, sorted as bash lists them
# (a suite whose order matters lists its tests itself).
all_tests() { declare -F | awk '$3 ~ /^t_/ { print substr($3, 3) }'; }
