#!/bin/sh
# The short hostile-input run inside `make check`: a kselftest-style wrapper
# so tests/run-kselftests counts it.  `make fuzz` runs the long one.
dir=$(dirname "$0")
out=$("$dir/../fuzz/ioctl_fuzz" --calls "${EVBUS_FUZZ_CALLS:-30000}" --seed "${EVBUS_FUZZ_SEED:-1}" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 20
line=$(printf '%s\n' "$out" | grep -E '^ioctl-fuzz: [0-9]+ passed, [0-9]+ failed' | tail -n1)
pass=$(echo "$line" | sed -E 's/^ioctl-fuzz: ([0-9]+) passed.*/\1/')
fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
[ -n "$line" ] || { pass=0; fail=1; }
[ $rc = 0 ] || [ "$fail" != 0 ] || fail=1
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
