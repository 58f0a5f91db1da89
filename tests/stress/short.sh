#!/bin/sh
# The short stress run inside `make check`: a kselftest-style wrapper so
# tests/run-kselftests counts it.  `make stress` runs the long one.
# evbus-stress, then the approval gate's gate-stress (#16), each a few
# seconds; their "stress: N passed, N failed" lines add up.
dir=$(dirname "$0")
pass=0 fail=0
run() {
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^stress: [0-9]+ passed, [0-9]+ failed' | tail -n1)
	p=$(echo "$line" | sed -E 's/^stress: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	[ -n "$line" ] || { p=0; f=1; }
	# 4: skipped (a module without the gate)
	[ $rc = 0 ] || [ $rc = 4 ] || [ "$f" != 0 ] || f=1
	pass=$((pass + p)) fail=$((fail + f))
}
run "$dir/../stress/evbus-stress" --duration "${EVBUS_STRESS_SECS:-15}"
run "$dir/../stress/gate-stress" --duration "${EVBUS_GATE_STRESS_SECS:-8}" --round-secs 4
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
