#!/bin/sh
# The short hostile-input run inside `make check`: a kselftest-style wrapper
# so tests/run-kselftests counts it.  `make fuzz` runs the long one.
dir=$(dirname "$0")
out=$("$dir/../fuzz/ioctl_fuzz" --calls "${EVBUS_FUZZ_CALLS:-30000}" --seed "${EVBUS_FUZZ_SEED:-1}" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 20
# One test, however many calls it made.
if [ $rc = 0 ] && printf '%s\n' "$out" | grep -qE '^ioctl-fuzz: [0-9]+ passed, 0 failed'; then
	echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
	exit 0
fi
echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
exit 1
