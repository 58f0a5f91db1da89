#!/bin/sh
# The short stress run inside `make check`: a kselftest-style wrapper so
# tests/run-kselftests counts it.  `make stress` runs the long one.
dir=$(dirname "$0")
out=$("$dir/../stress/evbus-stress" --duration "${EVBUS_STRESS_SECS:-15}" 2>&1)
rc=$?
printf '%s\n' "$out"
line=$(printf '%s\n' "$out" | grep -E '^stress: [0-9]+ passed, [0-9]+ failed' | tail -n1)
pass=$(echo "$line" | sed -E 's/^stress: ([0-9]+) passed.*/\1/')
fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
[ -n "$line" ] || { pass=0; fail=1; }
[ $rc = 0 ] || [ "$fail" != 0 ] || fail=1
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
