#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# evbus demo: a real cross-process session on /dev/evbus, narrated.
#
#   make demo                                  (boots the test VM)
#   tests/vm/run -- tests/demo/demo.sh         (the same, by hand)
#   sudo insmod evbus.ko && tests/demo/demo.sh (on a host; run as a user who
#                                               can open /dev/evbus)
#
# Three subscribers with different patterns and a publisher, each its own
# process.  One subscriber has a tiny ring and is frozen with SIGSTOP while
# a burst goes out, so it gets a lag report when it wakes up.  Then
# `evbus stat` shows the module's counters.  EVBUS=/path/to/evbus overrides
# the binary (default: build/bin/evbus, else evbus on PATH).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${EVBUS:-}" ]; then
	if [ -x "$repo/build/bin/evbus" ]; then
		EVBUS=$repo/build/bin/evbus
	else
		EVBUS=$(command -v evbus || true)
	fi
fi
[ -x "${EVBUS:-}" ] || { echo "demo: no evbus binary: run 'make cli' or set EVBUS" >&2; exit 1; }
[ -e /dev/evbus ] || {
	echo "demo: /dev/evbus is missing: load the module first (sudo insmod evbus.ko)" >&2
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/evbus-demo.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

step=0
say() { step=$((step + 1)); printf '\n=== %d. %s\n' "$step" "$*"; }
note() { printf '    %s\n' "$@"; }
run() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; }
show() {	# show FILE [MAX]: a subscriber's output, indented
	local max=${2:-12} lines
	lines=$(wc -l <"$1")
	head -n "$max" "$1" | sed 's/^/      | /'
	[ "$lines" -le "$max" ] || printf '      | ... (%d more lines)\n' $((lines - max))
}
# wait_for FILE REGEX: until some line of FILE matches (20 s at most).
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: timed out waiting for /$2/ in $1" >&2
	return 1
}
# start NAME ARGS...: a subscriber in the background, once it is subscribed.
start() {
	local name=$1; shift
	"$EVBUS" sub --ready "$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
	eval "pid_$name=$!"
	wait_for "$work/$name.err" '^ready$'
}

say "evbus: what is loaded"
run "$EVBUS" version

say "Three subscribers, each its own process"
start audit 'orders.>'
note "audit      (pid $pid_audit): evbus sub 'orders.>'" \
     "           every order event, one readable line each"
start payments --json 'payments.>' '*.eu.created'
note "payments   (pid $pid_payments): evbus sub --json 'payments.>' '*.eu.created'" \
     "           every payment, and whatever is created in the EU, as JSON Lines"
start analytics --ring 4096 '>'
note "analytics  (pid $pid_analytics): evbus sub --ring 4096 '>'" \
     "           everything, through a deliberately tiny 4 KiB ring"
kill -STOP "$pid_analytics"
note "" "analytics stalls: SIGSTOP (it cannot read until SIGCONT)"

say "A publisher script runs 'evbus pub' for a small order flow"
cat >"$work/publisher.sh" <<'EOF'
set -e
echo "publisher pid $$"
o=$("$EVBUS" pub -v --type 1 --corr 1001 orders.eu.created '{"order":1001,"total":"42.50"}')
echo "orders.eu.created          seq $o"
p=$("$EVBUS" pub -v --type 2 --corr 1001 --parent "$o" payments.card.authorized '{"order":1001}')
echo "payments.card.authorized   seq $p (parent $o)"
s=$("$EVBUS" pub -v --type 3 --corr 1001 --parent "$p" orders.eu.shipped '{"order":1001,"carrier":"DHL"}')
echo "orders.eu.shipped          seq $s (parent $p)"
u=$("$EVBUS" pub -v users.created '{"user":"ana"}')
echo "users.created              seq $u"
echo "then a burst: 300 lines of stdin on metrics.cpu.host1, in batches"
seq -f 'load=%g' 1 300 | "$EVBUS" pub metrics.cpu.host1
EOF
EVBUS=$EVBUS bash "$work/publisher.sh" | sed 's/^/      /'

wait_for "$work/audit.out" 'orders\.eu\.shipped'
wait_for "$work/payments.out" 'payments\.card\.authorized'

say "What the audit subscriber printed: seq, time, sender pid/uid, topic, payload"
show "$work/audit.out"

say "What the payments subscriber printed (JSON Lines)"
show "$work/payments.out"

say "analytics wakes up (SIGCONT): its ring overflowed during the burst"
kill -CONT "$pid_analytics"
wait_for "$work/analytics.out" 'load=300$'
note "It reports what it lost, in order, before the events it still has:"
show "$work/analytics.out" 6
lost=$(sed -n 's/^!! lagged: \([0-9]*\) events\{0,1\} lost.*/\1/p' "$work/analytics.out" | head -n1)
note "" "${lost:-no} events were dropped for analytics alone; audit and payments lost nothing."

say "Stopping the subscribers with SIGINT (a clean exit)"
for p in "$pid_audit" "$pid_payments" "$pid_analytics"; do
	kill -INT "$p"
	rc=0
	wait "$p" || rc=$?
	note "pid $p exited with status $rc"
done
pids=()

say "The module's counters and parameters"
if ! "$EVBUS" stat 2>&1 | sed 's/^/      /'; then
	note "(evbus stat failed: see the message above)"
fi
printf '\ndemo: done\n'
