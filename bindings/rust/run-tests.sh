#!/bin/bash
# Run the Rust binding's integration-test binaries as one kselftest-style
# program: bindings/rust/rust.mk writes $(B)/ksft/bindings_rust, which
# execs this with the list of binaries `cargo test --no-run` built.
#
#   run-tests.sh LIST [LIBTEST ARGS...]
#
# Each binary runs with --test-threads=1 (the tests share the bus and
# count its sequence numbers).  libtest's "test result: ... N passed;
# M failed; K ignored" lines are summed; the last line is
#   # Totals: pass:N fail:M xfail:0 xpass:0 skip:K error:E
# and the exit status is nonzero on any failure.  Writes nothing to disk.
set -u
list=${1:?usage: run-tests.sh LIST [ARGS...]}
shift
pass=0 fail=0 skip=0 err=0
while IFS= read -r bin; do
	[ -n "$bin" ] || continue
	name=$(basename "$bin")
	echo "# === $name"
	if [ ! -x "$bin" ]; then
		echo "# $name: missing: $bin"
		err=$((err + 1))
		continue
	fi
	out=$("$bin" --test-threads=1 "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	res=$(grep -E '^test result: ' <<<"$out" | tail -n 1)
	if [ -z "$res" ]; then
		echo "# $name: no test result (exit $rc)"
		err=$((err + 1))
		continue
	fi
	p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$res")
	f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$res")
	s=$(sed -nE 's/.* ([0-9]+) ignored.*/\1/p' <<<"$res")
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "# $name: exit $rc"
		err=$((err + 1))
	fi
done <"$list"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:$err"
[ "$fail" -eq 0 ] && [ "$err" -eq 0 ] && [ "$pass" -gt 0 ]
