#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of the evbus command, as separate processes talking over
# /dev/evbus: JSON and human output, identities, batches from stdin, lag
# records under both policies, signals, timeouts, stat, replay from the
# history and retained values, last wills and scopes (run-scope, kill -9
# of the wrapper), rate limits (rate, pub --wait) and lossless
# subscribers (sub --lossless), and the messages and exit codes of bad
# input.  Installed as build/ksft/lib_cli; prints
# kselftest-style totals for tests/run-kselftests.
#
#   tests/lib/cli_test.sh            (or build/ksft/lib_cli)
#   EVBUS=/path/to/evbus tests/lib/cli_test.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/harness.sh
. "$here/harness.sh" 2>/dev/null || . "$here/../lib/harness.sh"
find_prog EVBUS bin/evbus cli_test
EF_STDOUT_EMPTY=1	# a refused command prints only its error

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evbus-cli.XXXXXX")
trap 'reap; rm -rf "$tmp"' EXIT
T=clitest$$		# topic prefix private to this run

# Background subscriber: sub_start NAME ARGS...; output in $tmp/NAME.{out,err}.
sub_start() {
	local name=$1; shift
	"$EVBUS" sub --ready "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	wait_for "$tmp/$name.err" '^ready$' || die "sub $name never got ready: $(cat "$tmp/$name.err")"
}
sub_pid() { cat "$tmp/$1.pid"; }
# sub_wait NAME: wait for the subscriber; its exit status in $sub_rc.
sub_wait() {
	sub_rc=0
	wait "$(sub_pid "$1")" || sub_rc=$?
	rm -f "$tmp/$1.pid"
}
# Stop a process and wait until it really is stopped.
stop_proc() {
	local i
	kill -STOP "$1"
	for ((i = 0; i < 200; i++)); do
		[ "$(awk '{ print $3 }' "/proc/$1/stat")" = T ] && return 0
		sleep 0.05
	done
	die "process $1 did not stop"
}
# jget FILE LINE EXPR: evaluate a Python expression on JSON line LINE (1-based) as r.
jget() {
	python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[int(sys.argv[2]) - 1])
v = eval(sys.argv[3])
print(v if not isinstance(v, bool) else str(v).lower())
' "$@"
}
# jcheck FILE CODE [ARGS...]: run Python CODE with recs (every JSON line of
# FILE), r (the first) and a (ARGS); an AssertionError fails the test.
jcheck() {
	local f=$1 code=$2; shift 2
	python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = recs[0] if recs else None
a = sys.argv[3:]
try:
    exec(sys.argv[2])
except AssertionError as e:
    print("assertion failed:", e, "in", recs[:4])
    sys.exit(1)
' "$f" "$code" "$@" || die "check failed on $f"
}
# need_feature NAME: skip unless the module reports feature NAME (evbus version).
need_feature() {
	"$EVBUS" version 2>/dev/null | grep -E '^features:' | grep -qw -- "$1" ||
		{ echo "the module has no '$1' feature"; exit 77; }
}

# ---------------------------------------------------------------- the tests

t_version_reports_library_and_kernel_abi() {
	need_device
	"$EVBUS" version >"$tmp/v" || die "exit $?"
	grep -qE '^libevbus: *[0-9]+\.[0-9]+\.[0-9]+ ' "$tmp/v" || die "no library version: $(cat "$tmp/v")"
	grep -qE '^kernel ABI: *1$' "$tmp/v" || die "no ABI: $(cat "$tmp/v")"
	grep -qE '^features: *0x[0-9a-f]+ .*publish.*batch' "$tmp/v" || die "no features"
	grep -qE '^max_payload: *[0-9]+' "$tmp/v" || die "no limits"
}

# Every bit the module reports gets its name from linux/evbus.h's one table.
t_version_names_every_feature() {
	need_device
	local line hex names bits=0 b
	"$EVBUS" version >"$tmp/v" || die "exit $?"
	line=$(grep -E '^features:' "$tmp/v") || die "no features line: $(cat "$tmp/v")"
	! grep -q unknown <<<"$line" || die "a feature without a name: $line"
	read -r _ hex names <<<"$line"
	for ((b = 0; b < 64; b++)); do
		(( (hex >> b) & 1 )) && bits=$((bits + 1))
	done
	expect_eq "$bits" "$(wc -w <<<"$names")" "one name per bit set in $hex"
	for b in 5:uring-cmd 6:nowait-read 7:ring-wake 17:history 18:retained; do
		(( (hex >> ${b%%:*}) & 1 )) || continue
		grep -qw -- "${b#*:}" <<<"$names" || die "bit ${b%%:*} is not '${b#*:}': $line"
	done
}

t_json_event_from_another_process() {
	need_device
	sub_start s --json --count 1 "$T.json.>"
	sh -c 'echo $$ >"$1"; exec "$2" pub -v --type 5 --corr 18446744073709551615 --parent 3 "$3" "a \"b\""' \
		sh "$tmp/pubpid" "$EVBUS" "$T.json.a" >"$tmp/seq" || die "pub failed"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq "ready" "$(cat "$tmp/s.err")" "stderr"
	jcheck "$tmp/s.out" '
import time
pid, seq, uid, gid, topic = a
assert len(recs) == 1
assert list(r) == "seq time_ns mono_ns topic type pid tid uid gid corr parent payload".split(), list(r)
assert r["seq"] == int(seq), ("seq", seq)
assert r["pid"] == int(pid) and r["tid"] == int(pid), ("pid", pid)
assert r["uid"] == int(uid) and r["gid"] == int(gid), ("uid/gid", uid, gid)
assert r["topic"] == topic
assert (r["type"], r["corr"], r["parent"]) == (5, 2**64 - 1, 3)
assert r["payload"] == "a \"b\""
assert abs(r["time_ns"] / 1e9 - time.time()) < 60 and r["mono_ns"] > 0
' "$(cat "$tmp/pubpid")" "$(cat "$tmp/seq")" "$(id -u)" "$(id -g)" "$T.json.a"
}

# sub takes records through the mapped ring by default: the same output as
# with --no-mmap, losses included, and its fdinfo shows the mapping.
t_sub_through_the_mapping_and_without() {
	need_device
	local i
	sub_start m --json --timeout 8 --ring 4096 "$T.mm"
	sub_start r --json --timeout 8 --ring 4096 --no-mmap "$T.mm"
	grep -q "^evbus-mapped:[[:space:]]*[1-9]" /proc/"$(sub_pid m)"/fdinfo/* ||
		die "sub did not map its ring"
	stop_proc "$(sub_pid m)"
	stop_proc "$(sub_pid r)"
	for ((i = 0; i < 300; i++)); do echo "event $i"; done | "$EVBUS" pub "$T.mm" >/dev/null ||
		die "pub of stdin lines"
	kill -CONT "$(sub_pid m)" "$(sub_pid r)"
	"$EVBUS" pub "$T.mm" last >/dev/null || die "pub"
	sub_wait m; expect_eq 0 "$sub_rc" "mapped sub exit"
	sub_wait r; expect_eq 0 "$sub_rc" "read sub exit"
	python3 -c '
import json, sys
def strip(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        for k in ("time_ns", "mono_ns"):
            r.pop(k, None)
        out.append(r)
    return out
a, b = strip(sys.argv[1]), strip(sys.argv[2])
assert a == b, "outputs differ"
assert any("lagged" in r for r in a), "no loss reported"
assert a[-1].get("payload") == "last", a[-1]
' "$tmp/m.out" "$tmp/r.out" || die "mapped and read() subscribers differ: $(head -3 "$tmp/m.out") / $(head -3 "$tmp/r.out")"
}

t_json_payload_is_exact() {
	need_device
	# Compare byte for byte through Python, which reads the payload from a file.
	printf 'h\xc3\xa9llo "q" \\ tab\t\x01 end' >"$tmp/payload"
	sub_start s --json --count 1 "$T.exact"
	"$EVBUS" pub "$T.exact" "$(cat "$tmp/payload")" || die "pub"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
want = open(sys.argv[2], "rb").read().decode()
sys.exit(0 if r["payload"] == want and "payload_b64" not in r else 1)
' "$tmp/s.out" "$tmp/payload" || die "payload differs: $(cat "$tmp/s.out")"
}

t_identity_of_another_user() {
	need_device
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
	local dir=$tmp/other pid
	# A private node for the same device, so uid 4321 can open it.
	mkdir -m 0755 "$dir" && chmod 0711 "$tmp"
	mknod -m 0666 "$dir/evbus" c $(stat -c '%t %T' /dev/evbus | while read -r a b; do echo $((16#$a)) $((16#$b)); done) ||
		{ echo "cannot mknod in $tmp"; exit 77; }
	sub_start s --json --count 1 "$T.user"
	EVBUS_DEVICE=$dir/evbus setpriv --reuid 4321 --regid 4322 --clear-groups \
		sh -c 'echo $$; exec "$1" pub "$2" hi' sh "$EVBUS" "$T.user" >"$tmp/pubpid" ||
		die "pub as uid 4321 failed"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" 'assert (r["pid"], r["uid"], r["gid"]) == (int(a[0]), 4321, 4322), a' \
		"$(cat "$tmp/pubpid")"
}

t_human_format() {
	need_device
	local pid
	sub_start s --count 2 "$T.human.*"
	sh -c 'echo $$ >"$1"; exec "$2" pub "$3" "hello world"' sh "$tmp/pubpid" "$EVBUS" "$T.human.a" || die pub
	"$EVBUS" pub --type 9 --corr 4 "$T.human.b" $'bin\xff\x01\\' || die pub2
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	pid=$(cat "$tmp/pubpid")
	grep -qE "^[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{6} pid=$pid uid=$(id -u) $T\.human\.a hello world\$" "$tmp/s.out" ||
		die "line 1: $(head -n1 "$tmp/s.out")"
	grep -qF " type=9 corr=4 $T.human.b bin\\xff\\x01\\\\" "$tmp/s.out" ||
		die "line 2: $(sed -n 2p "$tmp/s.out")"
}

t_binary_payload_is_base64_in_json() {
	need_device
	sub_start s --json --count 1 "$T.bin"
	"$EVBUS" pub "$T.bin" $'\xff\xfe' || die pub
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" 'assert r["payload_b64"] == "//4=" and "payload" not in r'
}

t_stdin_lines_are_published_in_order() {
	need_device
	sub_start s --json --count 4 "$T.lines"
	printf 'one\ntwo\n\nthree' | "$EVBUS" pub "$T.lines" || die "pub exit $?"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq "one|two||three" "$(python3 -c '
import json, sys
print("|".join(json.loads(l)["payload"] for l in open(sys.argv[1])))' "$tmp/s.out")" payloads
	python3 -c '
import json, sys
s = [json.loads(l)["seq"] for l in open(sys.argv[1])]
sys.exit(0 if s == sorted(s) and len(set(s)) == 4 else 1)' "$tmp/s.out" || die "seqs not increasing"
}

t_stdin_with_v_prints_every_seq() {
	need_device
	sub_start s --json --count 3 "$T.v"
	printf 'a\nb\nc\n' | "$EVBUS" pub -v "$T.v" >"$tmp/seqs" || die "pub exit $?"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq "$(tr '\n' ' ' <"$tmp/seqs")" "$(python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["seq"]) for l in open(sys.argv[1])), end=" ")' "$tmp/s.out")" seqs
}

t_many_stdin_lines_go_out_in_batches() {
	need_device
	local lines=3000
	sub_start s --json --ring 1M --count $lines "$T.many"
	seq 1 $lines | "$EVBUS" pub "$T.many" || die "pub exit $?"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq $lines "$(wc -l <"$tmp/s.out")" lines
	expect_eq "$lines" "$(jget "$tmp/s.out" $lines 'r["payload"]')" "last payload"
}

t_patterns_select_topics() {
	need_device
	sub_start s --json --count 3 "$T.sel.a" "$T.sel.b.*"
	for t in sel.a sel.c sel.b.x sel.b sel.b.y; do
		"$EVBUS" pub "$T.$t" "$t" || die "pub $t"
	done
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq "sel.a sel.b.x sel.b.y" "$(python3 -c '
import json, sys
print(" ".join(json.loads(l)["payload"] for l in open(sys.argv[1])))' "$tmp/s.out")" payloads
}

# Publish 200 events of 100 bytes while a 4 KiB subscriber is stopped.
flood() {
	local first
	first=$(head -c 100 /dev/zero | tr '\0' x | "$EVBUS" pub -v "$T.lag" | head -n1)
	for ((i = 0; i < 199; i++)); do printf '%0100d\n' $i; done | "$EVBUS" pub "$T.lag" || die "flood pub"
	echo "$first"
}

t_drop_oldest_lag_record_comes_first() {
	need_device
	local first pid
	sub_start s --json --ring 4096 "$T.lag"
	pid=$(sub_pid s)
	stop_proc "$pid"
	first=$(flood)
	"$EVBUS" pub "$T.lag" end || die "pub end"
	kill -CONT "$pid"
	wait_for "$tmp/s.out" '"payload":"end"' || die "end never arrived"
	kill -TERM "$pid"
	sub_wait s; expect_eq 0 "$sub_rc" "exit after SIGTERM"
	python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
first = int(sys.argv[2])
lag, evs = recs[0], recs[1:]
assert set(lag) == {"lagged", "first_seq", "last_seq"}, lag
assert lag["first_seq"] == first, (lag, first)
assert lag["last_seq"] == first + lag["lagged"] - 1, lag
assert all("seq" in e for e in evs), evs
assert [e["seq"] for e in evs] == list(range(lag["last_seq"] + 1, first + 201)), evs
assert lag["lagged"] + len(evs) == 201
' "$tmp/s.out" "$first" || die "records: $(head -c 600 "$tmp/s.out")"
}

t_drop_newest_lag_record_comes_last() {
	need_device
	local first pid
	sub_start s --json --ring 4096 --policy drop-newest "$T.lag"
	pid=$(sub_pid s)
	stop_proc "$pid"
	first=$(flood)
	kill -CONT "$pid"
	wait_for "$tmp/s.out" '"lagged"' || die "no lag record"
	kill -INT "$pid"
	sub_wait s; expect_eq 0 "$sub_rc" "exit after SIGINT"
	python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
first = int(sys.argv[2])
evs, lag = recs[:-1], recs[-1]
assert [e["seq"] for e in evs] == list(range(first, first + len(evs))), evs
assert lag == {"lagged": 200 - len(evs), "first_seq": first + len(evs), "last_seq": first + 199}, lag
' "$tmp/s.out" "$first" || die "records: $(head -c 600 "$tmp/s.out")"
}

t_count_includes_lag_records_and_human_lag_line() {
	need_device
	local pid
	sub_start s --ring 4096 --count 2 "$T.lag"
	pid=$(sub_pid s)
	stop_proc "$pid"
	flood >/dev/null
	kill -CONT "$pid"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	expect_eq 2 "$(wc -l <"$tmp/s.out")" lines
	grep -qE '^!! lagged: [0-9]+ events lost \(seq [0-9]+\.\.[0-9]+\)$' "$tmp/s.out" ||
		die "no lag line: $(cat "$tmp/s.out")"
}

t_timeout_exits_zero() {
	need_device
	local t0 t1 rc=0
	t0=$(date +%s%N)
	"$EVBUS" sub --timeout 0.5 "$T.quiet" >"$tmp/out" 2>"$tmp/err" || rc=$?
	t1=$(date +%s%N)
	expect_eq 0 $rc exit
	[ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ] || die "output: $(cat "$tmp/out" "$tmp/err")"
	[ $(((t1 - t0) / 1000000)) -ge 500 ] || die "returned after $(((t1 - t0) / 1000000)) ms"
}

t_sigint_and_sigterm_exit_zero() {
	need_device
	local sig
	for sig in INT TERM; do
		sub_start s "$T.quiet"
		kill -$sig "$(sub_pid s)"
		sub_wait s; expect_eq 0 "$sub_rc" "exit after SIG$sig"
	done
}

t_usage_errors_exit_2() {
	local long
	long=$(printf 'a%.0s' $(seq 1 256))
	expect_fail 2 'usage: evbus' "$EVBUS"
	expect_fail 2 "unknown command 'frob'" "$EVBUS" frob
	expect_fail 2 'needs a TOPIC' "$EVBUS" pub
	expect_fail 2 'too many arguments' "$EVBUS" pub a b c
	expect_fail 2 "invalid topic 'a..b': it has an empty segment" "$EVBUS" pub a..b x
	expect_fail 2 "invalid topic '.a'.*empty segment" "$EVBUS" pub .a x
	expect_fail 2 "invalid topic 'a.\*'.*wildcard" "$EVBUS" pub 'a.*' x
	expect_fail 2 'longer than 255 bytes' "$EVBUS" pub "$long" x
	expect_fail 2 'has more than 20 segments' "$EVBUS" pub "$(printf 'a.%.0s' $(seq 1 20))a" x
	expect_fail 2 'character other than' "$EVBUS" pub 'a b' x
	expect_fail 2 "--type wants a number" "$EVBUS" pub --type 4294967296 a x
	expect_fail 2 "--corr wants" "$EVBUS" pub --corr -1 a x
	expect_fail 2 "--parent wants" "$EVBUS" pub --parent x a x
	expect_fail 2 "unknown option '--bogus'" "$EVBUS" pub --bogus a x
	expect_fail 2 'at least one PATTERN' "$EVBUS" sub
	expect_fail 2 "invalid pattern 'a.>.b'.*last segment" "$EVBUS" sub --ready 'a.>.b'
	grep -q ready "$tmp/ef.err" && die "ready printed before a usage error"
	expect_fail 2 "invalid pattern 'ab\*'.*whole segment" "$EVBUS" sub 'ab*'
	expect_fail 2 '--count wants a positive number' "$EVBUS" sub --count 0 a
	expect_fail 2 '--count wants' "$EVBUS" sub --count abc a
	expect_fail 2 '--timeout wants' "$EVBUS" sub --timeout -1 a
	expect_fail 2 '--ring wants' "$EVBUS" sub --ring 12X a
	expect_fail 2 '--policy is drop-oldest or drop-newest' "$EVBUS" sub --policy foo a
	expect_fail 2 "option '--count' needs a value" "$EVBUS" sub a --count
	expect_fail 2 'stat takes no arguments' "$EVBUS" stat extra
	expect_fail 2 '--watch wants' "$EVBUS" stat --watch 0
	expect_fail 2 'version takes no arguments' "$EVBUS" version extra
	"$EVBUS" sub --help | grep -q '^usage: evbus sub' || die "sub --help"
	"$EVBUS" --help | grep -q '^usage: evbus' || die "--help"
}

t_missing_device_says_how_to_load_the_module() {
	local cmd
	for cmd in "pub $T.x data" "sub $T.x" "version"; do
		# shellcheck disable=SC2086
		EVBUS_DEVICE=$tmp/no-such-device ef_stdout_ok=1 expect_fail 1 'modprobe evbus' "$EVBUS" $cmd
		grep -q 'insmod evbus.ko' "$tmp/ef.err" || die "$cmd: no insmod hint"
	done
}

t_runtime_errors_exit_1() {
	need_device
	local max
	max=$(cat /sys/module/evbus/parameters/max_payload)
	expect_fail 1 "ring_min\.\.ring_max" "$EVBUS" sub --ring 1K "$T.x"
	head -c $((max + 1)) /dev/zero | tr '\0' a >"$tmp/big"
	expect_fail 1 "exceeds the module's max_payload of $max bytes" "$EVBUS" pub "$T.x" "$(cat "$tmp/big")"
	expect_fail 1 "line 2 of stdin: .*max_payload" sh -c '{ echo small; cat "$1"; echo; } | "$2" pub "$3"' \
		sh "$tmp/big" "$EVBUS" "$T.x"
}

t_stat_reads_the_live_counters() {
	need_device
	[ -d /sys/kernel/evbus/stats ] || { echo "module has no /sys/kernel/evbus/stats"; exit 77; }
	local before after
	"$EVBUS" stat >"$tmp/table" || die "stat exit $?"
	grep -qE '^MODULE COUNTER +VALUE$' "$tmp/table" || die "no header: $(cat "$tmp/table")"
	grep -qE '^BUS COUNTER +VALUE$' "$tmp/table" || die "no bus header: $(cat "$tmp/table")"
	grep -qE '^policy_default +(allow|deny)$' "$tmp/table" || die "no bus rows: $(cat "$tmp/table")"
	grep -qE '^published +[0-9]+$' "$tmp/table" || die "no published row"
	grep -qE '^max_payload +[0-9]+$' "$tmp/table" || die "no parameter row"
	"$EVBUS" stat --json >"$tmp/j1" || die "stat --json exit $?"
	"$EVBUS" pub "$T.stat" x || die pub
	"$EVBUS" stat --json >"$tmp/j2" || die "stat --json exit $?"
	cat "$tmp/j2" >>"$tmp/j1"
	jcheck "$tmp/j1" '
before, after = recs
assert after["published"] > before["published"], (before["published"], after["published"])
assert [k for k in after if k not in ("parameters", "bus")] == sorted(a[1].split()), list(after)
assert all(isinstance(after[k], int) for k in after if k not in ("parameters", "bus"))
assert after["bus"]["published"] > before["bus"]["published"]
assert after["bus"]["ipc_ns"] == int(a[2]), (after["bus"], a[2])
assert after["parameters"]["max_payload"] == int(a[0])
' "$(cat /sys/module/evbus/parameters/max_payload)" "$(ls /sys/kernel/evbus/stats)" \
	"$(stat -L -c %i /proc/self/ns/ipc)"
}

# A fake sysfs tree: EVBUS_SYSFS=DIR makes stat read DIR/sys/...
fake_sysfs() {
	local root=$tmp/fake
	rm -rf "$root"
	mkdir -p "$root/sys/kernel/evbus/stats" "$root/sys/module/evbus/parameters"
	echo 7 >"$root/sys/kernel/evbus/stats/zeta"
	echo 100 >"$root/sys/kernel/evbus/stats/alpha"
	echo 42 >"$root/sys/kernel/evbus/stats/mid_counter"
	echo 65536 >"$root/sys/module/evbus/parameters/max_payload"
	echo 'Y' >"$root/sys/module/evbus/parameters/flag"
	echo "$root"
}

t_stat_renders_whatever_files_exist() {
	local root
	root=$(fake_sysfs)
	EVBUS_SYSFS=$root EVBUS_DEVICE=/nonexistent "$EVBUS" stat >"$tmp/table" || die "stat exit $?"
	grep -qE '^BUS COUNTER: none \(cannot reach the bus: No such file' "$tmp/table" || die "bus: $(cat "$tmp/table")"
	expect_eq "alpha mid_counter zeta" "$(sed -n '/^MODULE COUNTER/,/^$/p' "$tmp/table" | sed -n '2,4p' | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')" order
	grep -qE '^zeta +7$' "$tmp/table" || die "zeta: $(cat "$tmp/table")"
	grep -qE '^flag +Y$' "$tmp/table" || die "flag: $(cat "$tmp/table")"
	EVBUS_SYSFS=$root EVBUS_DEVICE=/nonexistent "$EVBUS" stat --json >"$tmp/j" || die "json exit $?"
	expect_eq '{"alpha":100,"mid_counter":42,"zeta":7,"bus":null,"parameters":{"flag":"Y","max_payload":65536}}' "$(cat "$tmp/j")" json

	rm -r "$root/sys/kernel/evbus"
	EVBUS_SYSFS=$root expect_fail 1 'stats does not exist' "$EVBUS" stat
	rm -r "$root/sys/module/evbus"
	EVBUS_SYSFS=$root expect_fail 1 'module is not loaded.*' "$EVBUS" stat
	grep -q 'modprobe evbus' "$tmp/ef.err" || die "no load hint"
}

t_stat_watch_adds_rates_until_a_signal() {
	local root pid rc=0
	root=$(fake_sysfs)
	EVBUS_SYSFS=$root "$EVBUS" stat --json --watch 0.3 >"$tmp/w" 2>"$tmp/werr" &
	pid=$!
	echo $pid >"$tmp/watch.pid"
	wait_for "$tmp/w" '.' || die "no first sample"
	# Atomically, as sysfs would: a half-written fake file reads empty.
	echo 130 >"$root/alpha.new"
	mv "$root/alpha.new" "$root/sys/kernel/evbus/stats/alpha"
	# A sample after the change: a nonzero rate for alpha.
	wait_for "$tmp/w" '"rates":\{"alpha":([1-9]|0\.0*[1-9])' || die "no rates"
	kill -INT $pid
	wait $pid || rc=$?
	expect_eq 0 $rc "exit after SIGINT"
	expect_eq False "$(jget "$tmp/w" 1 'str("rates" in r)')" "no rates in the first sample"
	python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])][1:]
assert all(set(r["rates"]) == {"alpha", "mid_counter", "zeta"} for r in rs), rs
assert any(r["rates"]["alpha"] > 0 for r in rs), rs
' "$tmp/w" || die "rates: $(cat "$tmp/w")"
	EVBUS_SYSFS=$root "$EVBUS" stat --watch 0.2 >"$tmp/t" &
	pid=$!
	echo $pid >"$tmp/watch.pid"
	wait_for "$tmp/t" 'RATE/s' || die "no table"
	sleep 0.5
	kill -TERM $pid
	wait $pid || die "exit after SIGTERM"
	grep -qE '^alpha +130 +[0-9.-]+$' "$tmp/t" || die "table: $(cat "$tmp/t")"
}

# ------------------------------------------------ permissions (#13)

# in_new_bus 'SCRIPT': run SCRIPT (bash, with every helper here) in a new
# IPC namespace, so it has a bus and a policy of its own.
in_new_bus() {
	command -v unshare >/dev/null || { echo "needs unshare"; exit 77; }
	unshare --ipc true 2>/dev/null || { echo "cannot unshare --ipc"; exit 77; }
	EVBUS=$EVBUS tmp=$tmp T=$T unshare --ipc -- bash -c "$(declare -f); set -u; $1"
}

# A node for the same device that uid 4321 may open: $tmp/other/evbus.
other_node() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
	mkdir -p -m 0755 "$tmp/other" && chmod 0711 "$tmp"
	[ -c "$tmp/other/evbus" ] ||
	mknod -m 0666 "$tmp/other/evbus" c $(stat -c '%t %T' /dev/evbus | while read -r a b; do echo $((16#$a)) $((16#$b)); done) ||
		{ echo "cannot mknod in $tmp"; exit 77; }
}
as_other() { EVBUS_DEVICE=$tmp/other/evbus setpriv --reuid 4321 --regid 4322 --clear-groups "$@"; }

t_policy_add_list_remove_clear() {
	need_device
	in_new_bus '
	"$EVBUS" policy list >"$tmp/l0" || die "list exit $?"
	expect_eq "default: allow|0 rules" "$(tr "\n" "|" <"$tmp/l0" | sed "s/|$//")" "empty policy"
	id1=$("$EVBUS" policy add deny subscribe --uid 4321 "app.secret.>") || die "add 1"
	id2=$("$EVBUS" policy add allow publish,subscribe --all "app.>") || die "add 2"
	id3=$("$EVBUS" policy add allow publish --gid 4322 "svc.*.out") || die "add 3"
	[ "$id1" -lt "$id2" ] && [ "$id2" -lt "$id3" ] || die "ids $id1 $id2 $id3"
	"$EVBUS" policy default deny || die "default"
	"$EVBUS" policy list --json >"$tmp/l1" || die "list --json"
	jcheck "$tmp/l1" "
i1, i2, i3 = map(int, a)
assert r[\"default\"] == \"deny\" and r[\"total\"] == 3, r
assert r[\"rules\"] == [
  {\"id\": i1, \"verdict\": \"deny\", \"rights\": [\"subscribe\"], \"who\": \"uid\", \"uid\": 4321, \"pattern\": \"app.secret.>\"},
  {\"id\": i2, \"verdict\": \"allow\", \"rights\": [\"publish\", \"subscribe\"], \"who\": \"all\", \"pattern\": \"app.>\"},
  {\"id\": i3, \"verdict\": \"allow\", \"rights\": [\"publish\"], \"who\": \"gid\", \"gid\": 4322, \"pattern\": \"svc.*.out\"}], r[\"rules\"]
" "$id1" "$id2" "$id3"
	"$EVBUS" policy list >"$tmp/l2" || die "list"
	grep -qE "^default: deny$" "$tmp/l2" || die "human default: $(cat "$tmp/l2")"
	grep -qE "^$id1 +deny +subscribe +uid 4321 +app\.secret\.>$" "$tmp/l2" || die "human row: $(cat "$tmp/l2")"
	grep -qE "^$id2 +allow +publish,subscribe +all +app\.>$" "$tmp/l2" || die "human row 2: $(cat "$tmp/l2")"
	"$EVBUS" policy remove "$id2" || die "remove"
	expect_fail 1 "cannot remove rule $id2: there is no such rule" "$EVBUS" policy remove "$id2"
	expect_eq 2 "$("$EVBUS" policy list --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"total\"])")" "after remove"
	"$EVBUS" policy clear || die "clear"
	expect_eq "default: allow|0 rules" "$("$EVBUS" policy list | tr "\n" "|" | sed "s/|$//")" "after clear"
	'
}

t_policy_usage_errors() {
	expect_fail 2 "policy wants list, default" "$EVBUS" policy
	expect_fail 2 "unknown policy command 'frob'" "$EVBUS" policy frob
	expect_fail 2 "the verdict is allow, deny or ask, not 'maybe'" "$EVBUS" policy add maybe publish --all x
	expect_fail 2 "RIGHT is publish, subscribe" "$EVBUS" policy add allow read --all x
	expect_fail 2 "RIGHT is publish, subscribe" "$EVBUS" policy add allow publish,,x --all x
	expect_fail 2 "wants one of --uid U, --gid G and --all" "$EVBUS" policy add allow publish x
	expect_fail 2 "give one of --uid, --gid and --all" "$EVBUS" policy add allow publish --all --uid 1 x
	expect_fail 2 "--uid wants a uid or a user name" "$EVBUS" policy add allow publish --uid no-such-user-here x
	expect_fail 2 "invalid pattern 'a..b'" "$EVBUS" policy add allow publish --all a..b
	expect_fail 2 "policy default wants allow or deny" "$EVBUS" policy default maybe
	expect_fail 2 "policy remove wants a rule ID" "$EVBUS" policy remove 0
	expect_fail 2 "--json goes with 'policy list'" "$EVBUS" policy clear --json
	expect_fail 2 "--revoke goes with a change" "$EVBUS" policy list --revoke
	expect_fail 2 "--uid, --gid and --all go with 'policy add'" "$EVBUS" policy clear --all
	expect_fail 2 "policy list takes no arguments" "$EVBUS" policy list extra
}

t_policy_refusals_as_another_user() {
	need_device
	other_node
	in_new_bus '
	"$EVBUS" policy default deny || die "default deny"
	expect_fail 1 "cannot subscribe to .app\.x.: Permission denied \(EACCES: refused by the bus.s policy" as_other "$EVBUS" sub --count 1 app.x
	expect_fail 1 "Permission denied \(EACCES" as_other "$EVBUS" pub app.x hi
	expect_fail 1 "cannot change the policy \(default\): Operation not permitted \(EPERM: only the bus.s owner" as_other "$EVBUS" policy default allow
	expect_fail 1 "EPERM" as_other "$EVBUS" policy add allow publish --all x
	expect_fail 1 "EPERM" as_other "$EVBUS" policy clear
	# Anyone may read the policy.
	as_other "$EVBUS" policy list | grep -q "^default: deny$" || die "list as uid 4321"
	"$EVBUS" policy add allow subscribe --uid 4321 "app.>" >/dev/null || die "allow"
	as_other "$EVBUS" sub --count 1 --timeout 0.1 app.x || die "sub within the allowed pattern: $?"
	expect_fail 1 "EACCES" as_other "$EVBUS" sub --count 1 ">"
	"$EVBUS" policy clear || die clear
	'
}

t_policy_revoke_reaches_the_subscriber() {
	need_device
	in_new_bus '
	sub_start s --json "app.>"
	"$EVBUS" pub -v app.a one >"$tmp/seq" || die pub
	id=$("$EVBUS" policy add deny subscribe --all --revoke "app.>") || die "add --revoke"
	sub_wait s
	expect_eq 1 "$sub_rc" "sub exit when its only subscription is revoked"
	grep -q "revoked every subscription" "$tmp/s.err" || die "stderr: $(cat "$tmp/s.err")"
	jcheck "$tmp/s.out" "
assert len(recs) == 2, recs
assert recs[0][\"seq\"] == int(a[0]) and recs[0][\"payload\"] == \"one\"
assert recs[1] == {\"revoked\": 1, \"reason\": \"rule\", \"seq\": int(a[0])}, recs[1]
" "$(cat "$tmp/seq")"
	"$EVBUS" policy clear || die clear
	'
}

t_exec_gives_a_scoped_handle() {
	need_device
	in_new_bus '
	sub_start spy --json ">"
	# Inside the scope: subscribe and publish work; EVBUS_FD is set.
	"$EVBUS" exec --publish "session.42.>" --subscribe "session.42.>" -- \
		sh -c "echo \$EVBUS_FD >\"$tmp/fd\"; \"$EVBUS\" pub session.42.out hello" || die "exec pub: $?"
	[ "$(cat "$tmp/fd")" -gt 2 ] || die "EVBUS_FD=$(cat "$tmp/fd")"
	# Outside it: every attempt EACCES, nothing delivered.
	expect_fail 1 "EACCES" "$EVBUS" exec --publish "session.42.>" --subscribe "session.42.>" -- "$EVBUS" pub session.43.out nope
	expect_fail 1 "EACCES" "$EVBUS" exec --publish "session.42.>" --subscribe "session.42.>" -- "$EVBUS" sub --count 1 ">"
	expect_fail 1 "EACCES" "$EVBUS" exec --subscribe "session.42.>" -- "$EVBUS" pub session.42.out nope
	"$EVBUS" pub -v done.marker x >"$tmp/last" || die "marker"
	wait_for "$tmp/spy.out" "done.marker" || die "spy saw no marker"
	jcheck "$tmp/spy.out" "
topics = [x[\"topic\"] for x in recs if \"topic\" in x]
assert topics == [\"session.42.out\", \"done.marker\"], topics
"
	'
}

t_exec_usage_and_bad_handles() {
	expect_fail 2 "exec wants a command" "$EVBUS" exec --publish a
	expect_fail 2 "give --publish or --subscribe" "$EVBUS" exec -- true
	expect_fail 2 "invalid pattern 'a..b'" "$EVBUS" exec --publish a..b -- true
	need_device
	expect_fail 127 "cannot run /nonexistent/cmd" "$EVBUS" exec --publish a -- /nonexistent/cmd
	EVBUS_FD=abc expect_fail 1 "cannot use the evbus handle EVBUS_FD=abc: Bad file descriptor" "$EVBUS" pub a x
	EVBUS_FD=0 expect_fail 1 "EVBUS_FD=0: it is not an open /dev/evbus file" "$EVBUS" pub a x </dev/null
	# EVBUS_DEVICE overrides an inherited handle.
	EVBUS_FD=abc EVBUS_DEVICE=/dev/evbus "$EVBUS" pub "$T.x" y || die "EVBUS_DEVICE with a bad EVBUS_FD"
}

t_sub_filters_by_sender_type_and_bpf() {
	need_device
	other_node
	in_new_bus '
	sub_start uid --json --from-uid 4321 "f.>"
	sub_start typ --json --type 5-7 "f.>"
	printf "# payload_len == 3\n4\n32 0 0 12\n21 0 1 3\n6 0 0 1\n6 0 0 0\n" >"$tmp/len3.bpf"
	sub_start bpf --json --filter "$tmp/len3.bpf" "f.>"
	sub_start all --json "f.>"
	"$EVBUS" pub --type 4 f.a abcd || die pub1
	as_other "$EVBUS" pub --type 5 f.b abc || die pub2
	"$EVBUS" pub --type 7 f.c xyz || die pub3
	"$EVBUS" pub --type 8 f.d zz || die pub4
	"$EVBUS" pub f.end end || die pub5
	wait_for "$tmp/all.out" "f.end" || die "all saw no end"
	sleep 0.2
	for n in uid typ bpf all; do kill -INT "$(sub_pid $n)"; sub_wait $n; done
	expect_eq "f.b" "$(python3 -c "import json,sys; print(\" \".join(json.loads(l)[\"topic\"] for l in open(sys.argv[1])))" "$tmp/uid.out")" "--from-uid"
	expect_eq "f.b f.c" "$(python3 -c "import json,sys; print(\" \".join(json.loads(l)[\"topic\"] for l in open(sys.argv[1])))" "$tmp/typ.out")" "--type"
	expect_eq "f.b f.c f.end" "$(python3 -c "import json,sys; print(\" \".join(json.loads(l)[\"topic\"] for l in open(sys.argv[1])))" "$tmp/bpf.out")" "--filter"
	expect_eq 5 "$(wc -l <"$tmp/all.out")" "unfiltered"
	'
}

t_sub_filter_errors() {
	printf "3\n6 0 0 1\n" >"$tmp/short.bpf"
	expect_fail 2 "is not 'tcpdump -ddd' text \(line 3\)" "$EVBUS" sub --filter "$tmp/short.bpf" x
	expect_fail 2 "--type wants N or N-M" "$EVBUS" sub --type 7-5 x
	expect_fail 2 "--type wants N or N-M" "$EVBUS" sub --type 5- x
	expect_fail 2 "--from-uid wants a uid" "$EVBUS" sub --from-uid me x
	printf "1\n6 0 0 1\n" >"$tmp/all.bpf"
	expect_fail 2 "--filter may be given once" "$EVBUS" sub --filter "$tmp/all.bpf" --filter "$tmp/all.bpf" x
	expect_fail 1 "cannot read the filter /nonexistent" "$EVBUS" sub --filter /nonexistent x
	need_device
	printf "2\n32 0 0 2000\n6 0 0 1\n" >"$tmp/far.bpf"
	expect_fail 1 "the kernel refused the filter" "$EVBUS" sub --filter "$tmp/far.bpf" x
	# A pid below pid_max that no process has (above it: a usage of EINVAL).
	local p
	p=$(( $(cat /proc/sys/kernel/pid_max) - 1 ))
	while [ $p -gt 300 ] && kill -0 $p 2>/dev/null; do p=$((p - 1)); done
	expect_fail 1 "no process $p" "$EVBUS" sub --from-pid $p x
}

t_stat_shows_this_namespace_bus() {
	need_device
	local outer
	outer=$("$EVBUS" stat --json | python3 -c "import json,sys; b=json.load(sys.stdin)[\"bus\"]; print(b[\"bus_id\"], b[\"ipc_ns\"])") || die "stat"
	in_new_bus '
	"$EVBUS" pub ns.x 1 && "$EVBUS" pub ns.x 2 || die pub
	"$EVBUS" stat --json >"$tmp/inner" || die "stat inside"
	jcheck "$tmp/inner" "
outer_id, outer_ns, ns = map(int, a)
b = r[\"bus\"]
assert b[\"ipc_ns\"] == ns and ns != outer_ns, (b, ns, outer_ns)
assert b[\"bus_id\"] != outer_id
assert b[\"published\"] == 2 and b[\"seq\"] == 2, b
assert b[\"policy_default\"] == \"allow\"
" '"$outer"' "$(stat -L -c %i /proc/self/ns/ipc)"
	'
}

# ------------------------------- history, replay and retained values (#15)

t_pub_retain_then_sub_retained() {
	need_device
	need_feature retained
	local seq
	"$EVBUS" pub --retain "$T.ret.cfg" v1 || die "pub --retain v1"
	seq=$("$EVBUS" pub -v --retain "$T.ret.cfg" v2) || die "pub --retain v2"
	"$EVBUS" pub "$T.ret.cfg" "not retained" || die "plain pub"
	# A newcomer gets the retained value first, with its own seq.
	"$EVBUS" sub --json --retained --count 1 --timeout 10 "$T.ret.>" >"$tmp/r.out" ||
		die "sub --retained exit $?"
	jcheck "$tmp/r.out" '
assert len(recs) == 1, recs
assert r["seq"] == int(a[0]) and r["topic"] == a[1] and r["payload"] == "v2", r
assert r["retained"] is True and "replayed" not in r, r
' "$seq" "$T.ret.cfg"
	"$EVBUS" sub --retained --count 1 --timeout 10 "$T.ret.cfg" >"$tmp/h.out" || die "human sub exit $?"
	grep -qE "^$seq [0-9-]+ [0-9:.]+ pid=[0-9]+ uid=[0-9]+ retained $T\.ret\.cfg v2\$" "$tmp/h.out" ||
		die "human line: $(cat "$tmp/h.out")"
	# An empty payload clears it.
	"$EVBUS" pub --retain "$T.ret.cfg" '' || die "pub --retain ''"
	"$EVBUS" sub --json --retained --timeout 0.5 "$T.ret.>" >"$tmp/c.out" || die "sub exit $?"
	[ ! -s "$tmp/c.out" ] || die "a cleared value was delivered: $(cat "$tmp/c.out")"
}

# A subscriber that records the seq of the last event it processed resumes
# with --since LAST+1: exactly the events published while it was down (no
# gap, no duplicate), flagged, then live ones.
t_sub_since_resumes_after_a_restart() {
	need_device
	need_feature history
	local last
	sub_start s --json --count 3 "$T.resume"
	printf 'a\nb\nc\n' | "$EVBUS" pub -v "$T.resume" >"$tmp/seqs1" || die "pub 1"
	sub_wait s; expect_eq 0 "$sub_rc" "first run exit"
	last=$(jget "$tmp/s.out" 3 'r["seq"]')
	expect_eq "$(tail -n1 "$tmp/seqs1")" "$last" "last seq processed"
	# Down: these are missed.
	printf 'd\ne\nf\ng\n' | "$EVBUS" pub -v "$T.resume" >"$tmp/seqs2" || die "pub 2"
	"$EVBUS" pub "$T.other" "not ours" || die "pub other"
	sub_start s2 --json --since $((last + 1)) "$T.resume"
	"$EVBUS" pub -v "$T.resume" live >"$tmp/seq3" || die "pub live"
	wait_for "$tmp/s2.out" '"payload":"live"' || die "live event never arrived: $(cat "$tmp/s2.out")"
	sleep 0.2
	kill -TERM "$(sub_pid s2)"
	sub_wait s2; expect_eq 0 "$sub_rc" "second run exit"
	jcheck "$tmp/s2.out" '
missed = [int(x) for x in open(a[0]).read().split()]
live = int(open(a[1]).read())
assert all("seq" in x for x in recs), ("a lag record", recs)
assert [x["seq"] for x in recs] == missed + [live], ([x["seq"] for x in recs], missed, live)
assert [x["payload"] for x in recs] == ["d", "e", "f", "g", "live"], recs
assert all(x.get("replayed") is True for x in recs[:4]), recs
assert not any("retained" in x for x in recs), recs
' "$tmp/seqs2" "$tmp/seq3"
}

# With a history too small for what was missed: one exact lag record marked
# history, then what the history still holds, in order.
t_sub_since_with_a_tiny_history_lags_exactly() {
	need_device
	need_feature history
	[ "$(id -u)" = 0 ] || { echo "needs root (the bus's owner)"; exit 77; }
	in_new_bus '
	cap0=$("$EVBUS" history --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"capacity\"])") ||
		die "history --json"
	"$EVBUS" history --set-capacity 4K >"$tmp/set" || die "history --set-capacity exit $?"
	grep -qE "^capacity: +[0-9]+$" "$tmp/set" || die "set-capacity output: $(cat "$tmp/set")"
	grep -qE "^events: +0$" "$tmp/set" || die "a new capacity empties the history: $(cat "$tmp/set")"
	last=$("$EVBUS" pub -v t.x processed) || die pub
	for ((i = 0; i < 200; i++)); do printf "%0100d\n" $i; done | "$EVBUS" pub t.x || die "pub of 200"
	"$EVBUS" history --json >"$tmp/h" || die "history --json"
	n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"events\"] + 1)" "$tmp/h")
	"$EVBUS" sub --json --since $((last + 1)) --count "$n" --timeout 10 t.x >"$tmp/s.out" || die "sub exit $?"
	jcheck "$tmp/s.out" "
h = json.load(open(a[1]))
last = int(a[0])
lag, evs = recs[0], recs[1:]
assert h[\"oldest_seq\"] > last + 1, h
assert lag == {\"lagged\": h[\"oldest_seq\"] - last - 1, \"first_seq\": last + 1,
               \"last_seq\": h[\"oldest_seq\"] - 1, \"history\": True}, (lag, h)
assert [e[\"seq\"] for e in evs] == list(range(h[\"oldest_seq\"], h[\"newest_seq\"] + 1)), (evs[:3], h)
assert all(e.get(\"replayed\") is True for e in evs)
" "$last" "$tmp/h"
	"$EVBUS" sub --since $((last + 1)) --count 1 --timeout 10 t.x >"$tmp/human" || die "human sub"
	grep -qE "^!! lagged: [0-9]+ events lost \(seq $((last + 1))\.\.[0-9]+\), no longer in the history$" "$tmp/human" ||
		die "human lag line: $(cat "$tmp/human")"
	"$EVBUS" history --set-capacity "$cap0" >/dev/null || die "restoring the capacity"
	expect_eq "$cap0" "$("$EVBUS" history --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"capacity\"])")" "capacity restored"
	'
}

t_sub_last_k_and_since_beyond_the_bus() {
	need_device
	need_feature history
	in_new_bus '
	printf "1\n2\n3\n4\n" | "$EVBUS" pub -v k.x >"$tmp/seqs" || die pub
	"$EVBUS" pub k.y other || die "pub other"
	"$EVBUS" sub --json --last 2 --count 2 --timeout 10 k.x >"$tmp/k.out" || die "sub --last exit $?"
	jcheck "$tmp/k.out" "
want = [int(x) for x in open(a[0]).read().split()][-2:]
assert [x[\"seq\"] for x in recs] == want, (recs, want)
assert all(x[\"replayed\"] is True for x in recs)
" "$tmp/seqs"
	"$EVBUS" sub --last 1 --count 1 --timeout 10 k.x >"$tmp/k.txt" || die "human sub --last"
	grep -qE "^$(tail -n1 "$tmp/seqs") .* replayed k\.x 4$" "$tmp/k.txt" || die "human: $(cat "$tmp/k.txt")"
	next=$("$EVBUS" history --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"next_seq\"])") || die history
	expect_fail 1 "seq $((next + 1)) is beyond this bus.s newest event: a different bus, or it was recreated" \
		"$EVBUS" sub --since $((next + 1)) k.x
	# since the next seq: nothing to replay, then live.
	"$EVBUS" sub --json --since "$next" --timeout 0.5 k.x >"$tmp/n.out" || die "sub --since next"
	[ ! -s "$tmp/n.out" ] || die "replayed from the next seq: $(cat "$tmp/n.out")"
	'
}

t_history_json_and_text() {
	need_device
	need_feature history
	in_new_bus '
	s1=$("$EVBUS" pub -v h.a one) && "$EVBUS" pub h.a two && s3=$("$EVBUS" pub -v h.b three) || die pub
	"$EVBUS" history --json >"$tmp/hj" || die "history --json exit $?"
	jcheck "$tmp/hj" "
s1, s3 = int(a[0]), int(a[1])
assert len(recs) == 1
assert list(r) == \"capacity bytes events oldest_seq newest_seq next_seq evicted skipped replayed retained retained_bytes\".split(), list(r)
assert all(isinstance(v, int) for v in r.values()), r
assert (r[\"events\"], r[\"oldest_seq\"], r[\"newest_seq\"], r[\"next_seq\"]) == (3, s1, s3, s3 + 1), r
assert r[\"capacity\"] >= r[\"bytes\"] > 0, r
assert (r[\"evicted\"], r[\"skipped\"], r[\"retained\"], r[\"retained_bytes\"]) == (0, 0, 0, 0), r
" "$s1" "$s3"
	"$EVBUS" history >"$tmp/ht" || die "history exit $?"
	expect_eq 11 "$(grep -cE "^[a-z_]+: +[0-9]+$" "$tmp/ht")" "name: value lines"
	grep -qE "^next_seq: +$((s3 + 1))$" "$tmp/ht" || die "text: $(cat "$tmp/ht")"
	grep -qE "^events: +3$" "$tmp/ht" || die "text: $(cat "$tmp/ht")"
	'
}

t_policy_replay_right() {
	need_device
	need_feature history
	need_feature retained
	in_new_bus '
	id=$("$EVBUS" policy add deny replay --all "secret.>") || die "add deny replay"
	id2=$("$EVBUS" policy add allow subscribe,replay --all "open.>") || die "add allow subscribe,replay"
	"$EVBUS" policy list --json >"$tmp/l" || die "list --json"
	jcheck "$tmp/l" "
assert [x[\"rights\"] for x in r[\"rules\"]] == [[\"replay\"], [\"subscribe\", \"replay\"]], r
"
	"$EVBUS" policy list >"$tmp/lt" || die list
	grep -qE "^$id +deny +replay +all +secret\.>$" "$tmp/lt" || die "human row: $(cat "$tmp/lt")"
	grep -qE "^$id2 +allow +subscribe,replay +all +open\.>$" "$tmp/lt" || die "human row 2: $(cat "$tmp/lt")"
	"$EVBUS" pub secret.a s || die pub
	expect_fail 1 "with --since: Permission denied \(EACCES: the bus.s policy withholds the replay right" \
		"$EVBUS" sub --since 1 secret.a
	expect_fail 1 "with --retained: .*EACCES" "$EVBUS" sub --retained "secret.>"
	# Live, the same pattern is fine.
	"$EVBUS" sub --timeout 0.1 secret.a || die "live sub: $?"
	"$EVBUS" policy clear || die clear
	'
}

t_history_and_replay_usage_errors() {
	expect_fail 2 "--since, --last and --retained exclude each other" "$EVBUS" sub --since 1 --last 2 x
	expect_fail 2 "--since, --last and --retained exclude each other" "$EVBUS" sub --retained --since 1 x
	expect_fail 2 "--since wants a sequence number" "$EVBUS" sub --since 0 x
	expect_fail 2 "--since wants a sequence number" "$EVBUS" sub --since -1 x
	expect_fail 2 "--last wants a positive number" "$EVBUS" sub --last 0 x
	expect_fail 2 "--last wants a positive number" "$EVBUS" sub --last 4294967296 x
	expect_fail 2 "history takes no arguments" "$EVBUS" history extra
	expect_fail 2 "--set-capacity wants a size" "$EVBUS" history --set-capacity 1X
	expect_fail 2 "option '--set-capacity' needs a value" "$EVBUS" history --set-capacity
	expect_fail 2 "RIGHT is publish, subscribe, replay, approve or wait" "$EVBUS" policy add allow replay,bogus --all x
	"$EVBUS" history --help | grep -q '^usage: evbus history' || die "history --help"
	"$EVBUS" pub --help | grep -q -- '--retain' || die "pub --help"
	"$EVBUS" sub --help | grep -q -- '--since SEQ' || die "sub --help"
}

# ------------------------------------------------------- the approval gate (#16)

# appr_start NAME ARGS...: a background `evbus approve --ready ARGS`; its
# output in $tmp/NAME.{out,err}, its pid in $tmp/NAME.pid.
appr_start() {
	local name=$1; shift
	"$EVBUS" approve --ready "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	wait_for "$tmp/$name.err" '^ready$' || die "approve $name never got ready: $(cat "$tmp/$name.err")"
}
# appr_wait NAME: wait for it to exit; its status in $appr_rc.
appr_wait() {
	appr_rc=0
	wait "$(cat "$tmp/$1.pid")" || appr_rc=$?
	rm -f "$tmp/$1.pid"
}
# script NAME BODY: an executable bash script $tmp/NAME.sh.
script() {
	printf '#!/bin/bash\n%s\n' "$2" >"$tmp/$1.sh" && chmod +x "$tmp/$1.sh"
}

t_approve_a_shell_script_that_allows() {
	need_device
	need_feature approval
	local seq
	script allow 'while read -r line; do printf "%s\n" "$line" >>'"$tmp"'/reqs; echo allow; done'
	appr_start a "$T.gate.>" -- "$tmp/allow.sh"
	sub_start s --json --count 1 --timeout 10 "$T.gate.>"
	seq=$("$EVBUS" pub -v --ask --deadline 5000 --type 4 --corr 99 "$T.gate.run" 'ls -l') ||
		die "pub --ask exit $?: $(cat "$tmp/a.err")"
	sub_wait s
	expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" '
assert len(recs) == 1, recs
assert r["seq"] == int(a[0]) and r["topic"] == a[1] + ".gate.run", (r, a)
assert r["payload"] == "ls -l" and r["type"] == 4 and r["corr"] == 99, r
assert r["approved"] is True and "modified" not in r and "flags" not in r, r
' "$seq" "$T"
	jcheck "$tmp/reqs" '
assert len(recs) == 1, recs
assert list(r)[:5] == ["id", "approver_id", "flags", "deadline_ns", "seq"], list(r)
assert r["id"] > 0 and r["approver_id"] >= 1 and r["flags"] == 0 and r["seq"] == 0, r
assert r["deadline_ns"] > r["mono_ns"] and r["deadline_ns"] - r["mono_ns"] <= 51 * 10**8, r
assert r["topic"] == a[0] + ".gate.run" and r["payload"] == "ls -l", r
assert r["type"] == 4 and r["corr"] == 99 and r["uid"] == int(a[1]) and r["pid"] > 0, r
assert "approved" not in r and "mandatory" not in r, r
' "$T" "$(id -u)"
	# approve is still there, answering.
	"$EVBUS" pub --ask "$T.gate.run" again || die "second pub --ask"
	expect_eq 2 "$(wc -l <"$tmp/reqs")" "requests seen"
}

t_approve_a_shell_script_that_denies() {
	need_device
	need_feature approval
	script deny 'while read -r line; do case "$line" in *\"payload\":\"13\"*) echo "deny 13";; *\"payload\":\"plain\"*) echo deny;; *) echo "deny EPERM";; esac; done'
	appr_start d "$T.gate.>" -- "$tmp/deny.sh"
	sub_start s --json "$T.gate.>"
	expect_fail 1 '^evbus: pub: denied: Operation not permitted$' "$EVBUS" pub --ask "$T.gate.rm" 'rm -rf /'
	expect_fail 1 '^evbus: pub: denied: Permission denied$' "$EVBUS" pub -v --ask "$T.gate.rm" 13
	expect_fail 1 '^evbus: pub: denied: Permission denied$' "$EVBUS" pub --ask "$T.gate.rm" plain
	# Lines of stdin go one at a time; the first refusal names its line.
	printf 'a\nb\n' | expect_fail 1 '^evbus: pub: denied \(line 1 of stdin\): Operation not permitted$' \
		"$EVBUS" pub --ask "$T.gate.rm" || exit 1
	sleep 0.3
	[ ! -s "$tmp/s.out" ] || die "a denied event was delivered: $(cat "$tmp/s.out")"
}

t_approve_a_shell_script_that_modifies() {
	need_device
	need_feature approval
	script mod 'while read -r line; do printf "%s\n" "$line" >>'"$tmp"'/mod.reqs; echo "{\"payload\": \"changed \\\"quoted\\\" \\u00e9\", \"type\": 9}"; done'
	appr_start m "$T.gate.>" -- "$tmp/mod.sh"
	sub_start s --json --count 1 --timeout 10 "$T.gate.>"
	seq=$("$EVBUS" pub -v --ask "$T.gate.cfg" original) || die "pub --ask exit $?: $(cat "$tmp/m.err")"
	sub_wait s
	jcheck "$tmp/s.out" '
req = json.loads(open(a[1]).readline())
assert r["seq"] == int(a[0]) and r["payload"] == "changed \"quoted\" \u00e9" and r["type"] == 9, r
assert r["modified"] is True and r["modifier"] == req["approver_id"] and r["approved"] is True, (r, req)
assert req["payload"] == "original", req
' "$seq" "$tmp/mod.reqs"
}

t_approve_with_a_new_topic() {
	need_device
	need_feature approval
	script topic 'while read -r line; do echo "{\"topic\": \"'"$T"'.gate.moved\"}"; done'
	appr_start m "$T.gate.in" -- "$tmp/topic.sh"
	sub_start s --count 1 --timeout 10 "$T.gate.>"
	"$EVBUS" pub --ask "$T.gate.in" same || die "pub --ask exit $?: $(cat "$tmp/m.err")"
	sub_wait s
	grep -qE "^[0-9]+ .* approved modified-by=[0-9]+ $T\.gate\.moved same$" "$tmp/s.out" ||
		die "human line: $(cat "$tmp/s.out")"
}

t_approve_deadline_default_deny_and_allow() {
	need_device
	need_feature approval
	local t0 ms seq
	# mute reads every request and never answers (its stdout stays open).
	script mute 'while read -r line; do :; done'
	appr_start n --deny-by-default "$T.gate.>" -- "$tmp/mute.sh"
	t0=$(date +%s%N)
	expect_fail 1 '^evbus: pub: denied: Connection timed out \(no verdict before the deadline' \
		"$EVBUS" pub --ask --deadline 300 "$T.gate.slow" x
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -ge 290 ] && [ "$ms" -lt 5000 ] || die "waited $ms ms for a 300 ms deadline"
	kill "$(cat "$tmp/n.pid")"; appr_wait n
	expect_eq 0 "$appr_rc" "approve exit on SIGTERM"
	appr_start y "$T.gate.>" -- "$tmp/mute.sh"
	sub_start s --json --count 1 --timeout 10 "$T.gate.>"
	seq=$("$EVBUS" pub -v --ask --deadline 300 "$T.gate.slow" y) || die "default allow: pub exit $?"
	sub_wait s
	jcheck "$tmp/s.out" 'assert r["seq"] == int(a[0]) and r["payload"] == "y" and "modified" not in r, r' "$seq"
}

t_approve_cmd_exits_or_answers_garbage() {
	need_device
	need_feature approval
	# CMD reads one request and exits without an answer.
	script quit 'read -r line; exit 3'
	appr_start g1 --deny-by-default "$T.gate.>" -- "$tmp/quit.sh"
	expect_fail 1 '^evbus: pub: denied: Connection reset by peer \(an approver went away' \
		"$EVBUS" pub --ask --deadline 10000 "$T.gate.x" x
	appr_wait g1
	expect_eq 1 "$appr_rc" "approve exit when CMD exits"
	grep -qE "^evbus: approve: .*quit\.sh exited with status 3: approver [0-9]+ is gone, its pending requests get its default verdict \(deny\)$" "$tmp/g1.err" ||
		die "message: $(cat "$tmp/g1.err")"
	# CMD answers something else.
	script garbage 'while read -r line; do echo maybe; done'
	appr_start g2 --deny-by-default "$T.gate.>" -- "$tmp/garbage.sh"
	expect_fail 1 'denied: Connection reset by peer' "$EVBUS" pub --ask --deadline 10000 "$T.gate.x" x
	appr_wait g2
	expect_eq 1 "$appr_rc" "approve exit on a malformed answer"
	grep -qE "^evbus: approve: malformed answer from .*garbage.sh to request [0-9]+: 'maybe' \(want allow, deny" "$tmp/g2.err" ||
		die "message: $(cat "$tmp/g2.err")"
	# An errno that does not exist is malformed too.
	script badno 'while read -r line; do echo "deny ENOTANERRNO"; done'
	appr_start g3 "$T.gate.>" -- "$tmp/badno.sh"
	"$EVBUS" pub --ask --deadline 10000 "$T.gate.x" x || die "default allow after a malformed answer: $?"
	appr_wait g3
	expect_eq 1 "$appr_rc" "approve exit on a bad errno"
}

t_approve_reports_cancelled_requests() {
	need_device
	need_feature approval
	script slow 'while read -r line; do sleep 1; echo allow; done'
	appr_start c -v --deny-by-default "$T.gate.>" -- "$tmp/slow.sh"
	expect_fail 1 'denied: Connection timed out' "$EVBUS" pub --ask --deadline 200 "$T.gate.x" late
	wait_for "$tmp/c.err" 'was cancelled \(expired\)$' 50 || die "no cancellation: $(cat "$tmp/c.err")"
	grep -qE "^evbus: approve: request [0-9]+ is no longer pending .*: the allow is dropped$" "$tmp/c.err" ||
		die "no dropped verdict: $(cat "$tmp/c.err")"
	# Still approving.
	"$EVBUS" pub --ask --deadline 10000 "$T.gate.x" in-time || die "pub after a cancellation: $?"
	grep -qE "^evbus: approve: request [0-9]+ on $T\.gate\.x: allow$" "$tmp/c.err" || die "-v: $(cat "$tmp/c.err")"
}

t_approve_counters_policy_ask_and_right() {
	need_device
	need_feature approval
	script allow2 'while read -r line; do echo allow; done'
	in_new_bus '
	"$EVBUS" policy add ask publish --all "must.>" >"$tmp/rule" || die "policy add ask"
	"$EVBUS" policy list >"$tmp/pl" || die "policy list"
	grep -qE "^$(cat "$tmp/rule") +ask +publish +all +must\.>$" "$tmp/pl" || die "list: $(cat "$tmp/pl")"
	expect_fail 1 "^evbus: pub: denied: Connection refused \(the bus.s policy makes this topic ask, and no approver watches it\)$" \
		"$EVBUS" pub must.x nobody
	appr_start p "must.>" -- "$tmp/allow2.sh"
	"$EVBUS" pub must.x plain || die "pub under the ask rule: $?"
	"$EVBUS" pub --ask must.y asked || die "pub --ask: $?"
	"$EVBUS" stat --json >"$tmp/st" || die stat
	jcheck "$tmp/st" "
b = r[\"bus\"]
assert (b[\"approval_asked\"], b[\"approval_requests\"], b[\"approval_allowed\"]) == (3, 2, 2), b
assert (b[\"approval_nobody\"], b[\"approval_denied\"], b[\"approvers\"], b[\"approval_pending\"]) == (1, 0, 1, 0), b
"
	"$EVBUS" stat >"$tmp/stt" || die "stat text"
	grep -qE "^approval_allowed +2$" "$tmp/stt" || die "stat text: $(cat "$tmp/stt")"
	kill "$(cat "$tmp/p.pid")"; appr_wait p
	"$EVBUS" policy clear || die clear
	"$EVBUS" policy add deny approve --all "secret.>" >/dev/null || die "deny approve"
	expect_fail 1 "cannot approve .secret\.x.: Permission denied \(EACCES: the bus.s policy withholds the approve right" \
		"$EVBUS" approve secret.x -- cat
	'
}

t_approve_and_ask_usage_errors() {
	expect_fail 2 "approve wants a PATTERN" "$EVBUS" approve
	expect_fail 2 "approve wants '--' and a command after the PATTERN" "$EVBUS" approve x cat
	expect_fail 2 "approve wants a command after '--'" "$EVBUS" approve x --
	expect_fail 2 "--priority wants a number" "$EVBUS" approve --priority 1x x -- cat
	expect_fail 2 "--priority wants a number" "$EVBUS" approve --priority 2147483648 x -- cat
	expect_fail 2 "invalid pattern 'a..b'" "$EVBUS" approve a..b -- cat
	expect_fail 2 "unknown option '--bogus'" "$EVBUS" approve --bogus x -- cat
	expect_fail 2 "--deadline goes with --ask" "$EVBUS" pub --deadline 5 x y
	expect_fail 2 "--deadline wants a positive number of milliseconds" "$EVBUS" pub --ask --deadline 0 x y
	expect_fail 2 "an ask rule is about publishing" "$EVBUS" policy add ask subscribe --all x
	expect_fail 2 "policy default wants allow or deny" "$EVBUS" policy default ask
	"$EVBUS" approve --help | grep -q '^usage: evbus approve' || die "approve --help"
	"$EVBUS" pub --help | grep -q -- '--ask' || die "pub --help"
	"$EVBUS" --help | grep -q 'approve \[-v\]' || die "evbus --help"
}

# ------------------------------------------------ last wills and scopes

t_pub_will_fires_when_evbus_ends() {
	need_device
	need_feature will
	local rc
	sub_start s --json --count 2 --timeout 10 "$T.w.>"
	rc=0; "$EVBUS" pub --will --corr 5 --type 6 "$T.w.done" bye -- sh -c 'exit 4' || rc=$?
	expect_eq 4 "$rc" "pub --will exit (CMD's)"
	# --clear-on-success: a success disarms it, a failure does not.
	"$EVBUS" pub --will --clear-on-success --scope 7 "$T.w.cleared" x -- true ||
		die "pub --will --clear-on-success true: exit $?"
	rc=0; "$EVBUS" pub --will --clear-on-success "$T.w.fail" y -- false || rc=$?
	expect_eq 1 "$rc" "pub --will exit (false)"
	sub_wait s
	expect_eq 0 "$sub_rc" "sub exit"
	# The cleared will would have come second.
	jcheck "$tmp/s.out" '
assert len(recs) == 2, recs
assert r["topic"] == a[0] + ".w.done" and r["payload"] == "bye" and r["will"] is True, r
assert r["corr"] == 5 and r["type"] == 6 and r["pid"] > 0, r
assert recs[1]["topic"] == a[0] + ".w.fail" and recs[1]["payload"] == "y" and recs[1]["will"] is True, recs
' "$T"
}

t_run_scope_success_and_failure() {
	need_device
	need_feature will
	local id rc
	sub_start s --json --count 4 --timeout 10 "$T.job.>"
	id=$("$EVBUS" run-scope -v "$T.job" -- true) || die "run-scope true: exit $?"
	rc=0; "$EVBUS" run-scope "$T.job" -- sh -c 'exit 3' || rc=$?
	expect_eq 3 "$rc" "run-scope exit (CMD's)"
	sub_wait s
	expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" '
t = a[0] + ".job"
s, ok, s2, bad = recs
assert s["topic"] == t + ".started" and s["seq"] == int(a[1]) and s["payload"] == "true", s
assert "parent" not in s or s["parent"] == 0, s
assert ok["topic"] == t + ".success" and ok["corr"] == s["seq"] and ok["parent"] == s["seq"], ok
assert ok["payload"] == "exit 0" and "will" not in ok, ok
assert s2["topic"] == t + ".started" and s2["payload"] == "sh -c exit 3", s2
assert bad["topic"] == t + ".failed" and bad["corr"] == s2["seq"] and bad["payload"] == "exit 3", bad
assert "will" not in bad, bad
' "$T" "$id"
}

t_run_scope_nests_through_EVBUS_SCOPE() {
	need_device
	need_feature will
	local id
	sub_start s --json --count 4 --timeout 10 "$T.nest.>"
	id=$("$EVBUS" run-scope -v "$T.nest.outer" -- "$EVBUS" run-scope "$T.nest.inner" -- true) ||
		die "nested run-scope: exit $?"
	sub_wait s
	jcheck "$tmp/s.out" '
o, i, iok, ook = recs
assert o["topic"].endswith(".outer.started") and o["seq"] == int(a[0]), o
assert i["topic"].endswith(".inner.started") and i["parent"] == o["seq"], i
assert iok["topic"].endswith(".inner.success") and iok["corr"] == i["seq"], iok
assert ook["topic"].endswith(".outer.success") and ook["corr"] == o["seq"], ook
' "$id"
}

# kill -9 of the wrapper while CMD sleeps: the will ends the scope failed.
t_run_scope_kill_9_of_the_wrapper_ends_failed() {
	need_device
	need_feature will
	local w id child i
	# Generous: a debug kernel may take a minute to get this far, and CMD
	# must not end by itself before the wrapper is killed.
	sub_start s --json --count 2 --timeout 300 "$T.k.>"
	sub_start h --count 2 --timeout 300 "$T.k.>"
	"$EVBUS" run-scope -v "$T.k" -- sleep 3600 >"$tmp/rs.out" 2>"$tmp/rs.err" &
	w=$!
	echo "$w" >"$tmp/rs.pid"
	wait_for "$tmp/rs.out" '^[0-9]+$' || die "no scope id: $(cat "$tmp/rs.err")"
	id=$(cat "$tmp/rs.out")
	for ((i = 0; i < 100; i++)); do
		child=$(cat "/proc/$w/task/$w/children" 2>/dev/null)
		[ -n "$child" ] && break
		sleep 0.05
	done
	[ -n "$child" ] && echo "$child" >"$tmp/sleep.pid"
	kill -KILL "$w" || die "run-scope ended before it was killed: $(cat "$tmp/rs.err")"
	wait "$w" 2>/dev/null
	rm -f "$tmp/rs.pid"
	sub_wait s
	expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" '
s, f = recs
assert s["topic"] == a[0] + ".k.started" and s["seq"] == int(a[1]) and s["payload"] == "sleep 3600", s
assert f["topic"] == a[0] + ".k.failed" and f["will"] is True, f
assert f["corr"] == s["seq"] and f["parent"] == s["seq"] and f["pid"] == int(a[2]), f
assert "payload" not in f or f["payload"] == "", f
' "$T" "$id" "$w"
	sub_wait h
	grep -qE "^[0-9]+ .* corr=$id parent=$id will $T\.k\.failed $" "$tmp/h.out" ||
		die "the human format lacks 'will': $(cat "$tmp/h.out")"
}

t_will_usage_errors() {
	expect_fail 2 "pub wants '--' and a command after the TOPIC" "$EVBUS" pub --will x
	expect_fail 2 "pub wants a command after '--'" "$EVBUS" pub --will x d --
	expect_fail 2 "too many arguments before '--'" "$EVBUS" pub --will x a b -- true
	expect_fail 2 "--scope goes with --will" "$EVBUS" pub --scope 3 x d
	expect_fail 2 "--clear-on-success goes with --will" "$EVBUS" pub --clear-on-success x d
	expect_fail 2 "--will does not go with --retain" "$EVBUS" pub --will --retain x -- true
	expect_fail 2 "--scope wants an unsigned 64-bit number" "$EVBUS" pub --will --scope -1 x -- true
	expect_fail 2 "run-scope wants '--' and a command after the TOPIC" "$EVBUS" run-scope x true
	expect_fail 2 "run-scope needs a TOPIC before '--'" "$EVBUS" run-scope -- true
	expect_fail 2 "pub needs a TOPIC before '--'" "$EVBUS" pub --will -- true
	expect_fail 2 "invalid topic 'a..b'" "$EVBUS" run-scope a..b -- true
	expect_fail 2 "--parent wants a sequence number" "$EVBUS" run-scope --parent x y -- true
	"$EVBUS" run-scope --help | grep -q '^usage: evbus run-scope' || die "run-scope --help"
	"$EVBUS" pub --help | grep -q -- '--clear-on-success' || die "pub --help"
	"$EVBUS" --help | grep -q 'run-scope \[-v\]' || die "evbus --help"
}

# ------------------------------------- rate limits and lossless rings

# stat shows the VER2 counters, named as in sysfs, when the module has them.
t_stat_shows_rate_and_lossless_counters() {
	need_device
	need_feature rate
	in_new_bus '
	"$EVBUS" rate --all --events 1/s:1 || die "rate --all"
	"$EVBUS" stat >"$tmp/stt" || die "stat"
	for c in rate_refused_file rate_refused_user rate_waited rate_wait_ns rate_interrupted \
		lossless_waits lossless_wait_ns lossless_expired lossless_foreign; do
		grep -qE "^$c +0$" "$tmp/stt" || die "no $c row: $(cat "$tmp/stt")"
		[ -e "/sys/kernel/evbus/stats/$c" ] || die "$c is not a sysfs counter"
	done
	grep -qE "^rate_users +1$" "$tmp/stt" || die "rate_users: $(cat "$tmp/stt")"
	# One process: a user'"'"'s bucket lives while a file that used it is open.
	expect_fail 1 "line 2 of stdin on .rl\.x.: .*EAGAIN: over the rate limit" \
		sh -c "printf \"1\n2\n\" | \"\$1\" pub rl.x" sh "$EVBUS"
	"$EVBUS" stat --json >"$tmp/st" || die "stat --json"
	jcheck "$tmp/st" "
b = r[\"bus\"]
# pub retries the refused line alone, to report its error: refused again.
assert b[\"rate_refused_user\"] >= 1 and (b[\"rate_refused_file\"], b[\"rate_users\"]) == (0, 1), b
assert all(isinstance(b[k], int) for k in (\"rate_waited\", \"rate_wait_ns\", \"rate_interrupted\",
	\"lossless_waits\", \"lossless_wait_ns\", \"lossless_expired\", \"lossless_foreign\")), b
assert b[\"published\"] == 1, b
"
	'
}

# The owner limits every user (--all) or one (--user); a publisher of
# another user meets it, batch and all, may wait for it, cannot change it.
t_rate_limits_another_user_as_the_owner_sets() {
	need_device
	need_feature rate
	other_node
	in_new_bus '
	"$EVBUS" rate >"$tmp/r0" || die "rate exit $?"
	expect_eq "user: unlimited|file: unlimited|refused: 0|waited: 0" "$(tr "\n" "|" <"$tmp/r0" | sed "s/|$//")" "fresh limits"
	expect_eq "all: no limit" "$("$EVBUS" rate --all)" "no limit yet"
	expect_eq "uid 4321: no limit of its own" "$("$EVBUS" rate --user 4321)" "no uid limit yet"
	"$EVBUS" rate --all --events 1/s:3 >"$tmp/set" || die "rate --all --events"
	[ ! -s "$tmp/set" ] || die "setting printed: $(cat "$tmp/set")"
	expect_eq "all: events 1/s:3, bytes unlimited" "$("$EVBUS" rate --all)" "--all"
	"$EVBUS" rate --all --json >"$tmp/rj" || die "rate --all --json"
	jcheck "$tmp/rj" "assert r == {\"who\": \"all\", \"limit\": {\"events_per_sec\": 1, \"events_burst\": 3, \"bytes_per_sec\": 0, \"bytes_burst\": 0}}, r"
	as_other "$EVBUS" rate >"$tmp/ro" || die "rate as uid 4321"
	grep -qxF "user: events 1/s:3, bytes unlimited (tokens: 3 events)" "$tmp/ro" || die "as other: $(cat "$tmp/ro")"
	expect_fail 1 "cannot set the limit: Operation not permitted \(EPERM: only the bus.s owner" \
		as_other "$EVBUS" rate --all --events 100/s
	expect_fail 1 "EPERM" as_other "$EVBUS" rate --all --clear

	sub_start s --json --timeout 60 "rl.>" "hold.>"
	# The user'"'"'s bucket lives while a file of the user that has published
	# is open: the next commands run as separate processes, so hold one.
	mkfifo "$tmp/hold"
	as_other "$EVBUS" pub hold.x <"$tmp/hold" &
	echo $! >"$tmp/holder.pid"
	exec 3>"$tmp/hold"
	echo h >&3
	wait_for "$tmp/s.out" "\"topic\":\"hold\.x\"" || die "the holder did not publish"
	# Four lines in one batch: what the bucket holds (2, or 3 if a second
	# went by) goes out, then the limit refuses.  From t0 on, at most 3
	# tokens (the burst) plus one a second can be spent.
	t0=$(date +%s%N)
	expect_fail 1 "cannot publish line [34] of stdin on .rl\.o.: Resource temporarily unavailable \(EAGAIN: over the rate limit" \
		as_other sh -c "printf \"a\nb\nc\nd\n\" | \"\$1\" pub rl.o" sh "$EVBUS"
	# Two more at 1/s: the second waits for its token, whenever the first went.
	as_other sh -c "printf \"e\nf\n\" | \"\$1\" pub --wait 5000 rl.o" sh "$EVBUS" ||
		die "pub --wait as uid 4321"
	# a, b, e, f and g are 5 tokens: g is refused at once, unless the
	# slow commands since t0 took 2 s (a debug kernel) to refill them.
	gone=
	if as_other "$EVBUS" pub --wait 1 rl.o g 2>"$tmp/g.err"; then
		el=$(( $(date +%s%N) - t0 ))
		[ "$el" -ge 2000000000 ] || die "pub --wait 1 went through $el ns after t0: 5 tokens in under 2 s"
		gone=g
	else
		rc=$?
		[ "$rc" = 1 ] && grep -q "would not allow it within --wait 1 ms" "$tmp/g.err" ||
			die "pub --wait 1: exit $rc: $(cat "$tmp/g.err")"
	fi
	"$EVBUS" stat --json >"$tmp/st" || die "stat --json"
	jcheck "$tmp/st" "
b = r[\"bus\"]
assert b[\"rate_refused_user\"] >= (1 if \"$gone\" else 2) and b[\"rate_refused_file\"] == 0, b
assert \"$gone\" or (b[\"rate_waited\"] >= 1 and b[\"rate_wait_ns\"] > 0), b
assert (b[\"rate_users\"], b[\"rate_interrupted\"]) == (1, 0), b
"
	exec 3>&-
	wait "$(cat "$tmp/holder.pid")" || die "holder exit $?"
	"$EVBUS" rate --all --clear || die "rate --all --clear"
	"$EVBUS" pub rl.end end || die "pub without a limit"
	wait_for "$tmp/s.out" "\"payload\":\"end\"" || die "sub: $(cat "$tmp/s.out")"
	kill -TERM "$(sub_pid s)"; sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" "
p = [x[\"payload\"] for x in recs]
assert p in (list(\"habef$gone\") + [\"end\"], list(\"habcef$gone\") + [\"end\"]), p
assert all(x[\"uid\"] == 4321 for x in recs[:-1]), recs
"
	# A uid of its own replaces the everyone limit; --clear removes.
	"$EVBUS" rate --uid 4321 --bytes 1K/s:2K || die "rate --uid --bytes"
	"$EVBUS" rate --user 4321 --json >"$tmp/ru" || die "rate --user --json"
	jcheck "$tmp/ru" "assert r == {\"who\": \"uid\", \"uid\": 4321, \"limit\": {\"events_per_sec\": 0, \"events_burst\": 0, \"bytes_per_sec\": 1024, \"bytes_burst\": 2048}}, r"
	as_other "$EVBUS" rate --json >"$tmp/roj" || die "rate --json as uid 4321"
	jcheck "$tmp/roj" "assert r[\"user\"][\"bytes_burst\"] == 2048 and r[\"user\"][\"events_per_sec\"] == 0 and r[\"file\"][\"events_per_sec\"] == 0, r"
	head -c 2049 /dev/zero | tr "\0" x >"$tmp/big"
	expect_fail 1 "payload of 2049 bytes exceeds the byte burst of a rate limit" \
		as_other sh -c "\"\$1\" pub rl.o \"\$(cat \"\$2\")\"" sh "$EVBUS" "$tmp/big"
	"$EVBUS" rate --user 4321 --clear || die "rate --user --clear"
	expect_fail 1 "cannot remove the limit: there is no limit for all users" "$EVBUS" rate --all --clear
	expect_fail 1 "cannot remove the limit: uid 4321 has no limit of its own" "$EVBUS" rate --user 4321 --clear
	expect_eq 0 "$("$EVBUS" stat --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"bus\"][\"rate_users\"])")" "rate_users after --clear"
	'
}

t_rate_and_wait_usage_errors() {
	expect_fail 2 "--events wants RATE\[/s\]\[:BURST\]" "$EVBUS" rate --all --events 0/s
	expect_fail 2 "--events wants RATE" "$EVBUS" rate --all --events 1/m
	expect_fail 2 "--events wants RATE" "$EVBUS" rate --all --events 1/s:0
	expect_fail 2 "--events wants RATE" "$EVBUS" rate --all --events 1/s:4294967297
	expect_fail 2 "--bytes wants RATE\[/s\]\[:BURST\] in bytes" "$EVBUS" rate --all --bytes x
	expect_fail 2 "--events wants one of --user U and --all" "$EVBUS" rate --events 5
	expect_fail 2 "--clear wants one of --user U and --all" "$EVBUS" rate --clear
	expect_fail 2 "--clear does not go with --events or --bytes" "$EVBUS" rate --all --clear --events 5
	expect_fail 2 "give one of --user and --all" "$EVBUS" rate --all --user 5
	expect_fail 2 "--user wants a uid or a user name" "$EVBUS" rate --user no-such-user-here
	expect_fail 2 "--json goes with showing a limit" "$EVBUS" rate --all --json --clear
	expect_fail 2 "rate takes no arguments" "$EVBUS" rate extra
	expect_fail 2 "--wait wants a positive number of milliseconds" "$EVBUS" pub --wait 0 x y
	expect_fail 2 "--wait wants a positive number of milliseconds" "$EVBUS" pub --wait soon x y
	expect_fail 2 "--will does not go with --wait" "$EVBUS" pub --will --wait 5 x -- true
	expect_fail 2 "--deadline and --wait are one deadline" "$EVBUS" pub --ask --deadline 5 --wait 6 x y
	expect_fail 2 "--lossless wants a positive number of milliseconds" "$EVBUS" sub --lossless 0 x
	expect_fail 2 "--lossless is a policy of its own" "$EVBUS" sub --lossless 5 --policy drop-newest x
	expect_fail 2 "RIGHT is publish, subscribe, replay, approve or wait" "$EVBUS" policy add allow waiting --all x
	"$EVBUS" rate --help | grep -q '^usage: evbus rate' || die "rate --help"
	"$EVBUS" pub --help | grep -q -- '--wait MS' || die "pub --help"
	"$EVBUS" sub --help | grep -q -- '--lossless MS' || die "sub --help"
	"$EVBUS" --help | grep -q '  rate \[--json\]' || die "evbus --help"
}

# A lossless subscriber makes a publisher of its euid wait instead of
# losing events; the policy's 'wait' right extends that to another user.
t_sub_lossless_makes_the_publisher_wait() {
	need_device
	need_feature lossless
	other_node
	in_new_bus '
	expect_fail 1 "the module refused --lossless 3600000: the wait must be at most its lossless_max_ms" \
		"$EVBUS" sub --lossless 3600000 ll.x
	sub_start s --json --count 60 --timeout 60 --ring 4096 --lossless 10000 "ll.>"
	stop_proc "$(sub_pid s)"
	# 60 events of 200 bytes: about 14 fit in 4 KiB, the rest wait.
	for ((i = 0; i < 60; i++)); do printf "%03d%197s\n" $i ""; done >"$tmp/lines"
	"$EVBUS" pub ll.a <"$tmp/lines" &
	pub=$!; echo $pub >"$tmp/pub.pid"
	sleep 1
	kill -0 $pub 2>/dev/null || die "the publisher did not wait for the stopped subscriber"
	kill -CONT "$(sub_pid s)"
	wait $pub || die "pub exit $?"
	rm -f "$tmp/pub.pid"
	sub_wait s; expect_eq 0 "$sub_rc" "sub exit"
	jcheck "$tmp/s.out" "
assert len(recs) == 60 and all(\"lagged\" not in x for x in recs), [x for x in recs if \"lagged\" in x]
assert [int(x[\"payload\"][:3]) for x in recs] == list(range(60))
assert [x[\"seq\"] for x in recs] == list(range(recs[0][\"seq\"], recs[0][\"seq\"] + 60))
"
	"$EVBUS" stat --json >"$tmp/st" || die stat
	jcheck "$tmp/st" "
b = r[\"bus\"]
assert b[\"lossless_waits\"] >= 1 and b[\"lossless_wait_ns\"] > 0, b
assert (b[\"lossless_expired\"], b[\"lossless_foreign\"], b[\"lost\"]) == (0, 0, 0), b
"
	# Another user waits only with the right; without it, its events are dropped.
	sub_start f --json --timeout 8 --ring 4096 --lossless 10000 "ll.>"
	stop_proc "$(sub_pid f)"
	t0=$(date +%s%N)
	as_other "$EVBUS" pub ll.o <"$tmp/lines" || die "pub as uid 4321"
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 5000 ] || die "uid 4321 waited $ms ms for a lossless reader of root"
	kill -CONT "$(sub_pid f)"
	sub_wait f
	jcheck "$tmp/f.out" "
lost = sum(x[\"lagged\"] for x in recs if \"lagged\" in x)
events = [x for x in recs if \"lagged\" not in x]
assert lost > 0 and len(events) + lost == 60, (lost, len(events))
"
	"$EVBUS" policy add allow wait --uid 4321 "ll.>" >"$tmp/rule" || die "policy add allow wait"
	"$EVBUS" policy list --json >"$tmp/pl" || die "policy list"
	jcheck "$tmp/pl" "assert r[\"rules\"][0][\"rights\"] == [\"wait\"], r"
	sub_start g --json --count 60 --timeout 60 --ring 4096 --lossless 10000 "ll.>"
	stop_proc "$(sub_pid g)"
	as_other "$EVBUS" pub ll.o <"$tmp/lines" &
	pub=$!; echo $pub >"$tmp/pub.pid"
	sleep 1
	kill -0 $pub 2>/dev/null || die "uid 4321 with the wait right did not wait"
	kill -CONT "$(sub_pid g)"
	wait $pub || die "pub as uid 4321 exit $?"
	rm -f "$tmp/pub.pid"
	sub_wait g; expect_eq 0 "$sub_rc" "sub g exit"
	jcheck "$tmp/g.out" "assert len(recs) == 60 and all(\"lagged\" not in x for x in recs), recs[:3]"
	'
}

for t in $(all_tests); do
	run_test "$t"
done
tap_end
