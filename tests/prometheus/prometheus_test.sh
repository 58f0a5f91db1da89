#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# evbus stat --prometheus against a real node_exporter: the exposition is
# well formed (promtool check metrics, one HELP and TYPE per family, no
# duplicate series), its values equal the module's sysfs counters and the
# deltas of known activity exactly, the bus counters carry the bus's id
# and IPC namespace, the --output file replaces the old one atomically
# while node_exporter's textfile collector scrapes it, and bad input and
# failed writes leave the old file and no temporary file behind.
# Installed as build/ksft/ops_prometheus; runs as root in the VM
# (tests/vm/run) and prints kselftest-style totals.
#
#   build/ksft/ops_prometheus
#   EVBUS=/path/to/evbus tests/prometheus/prometheus_test.sh
#   PROM_TESTS=REGEX build/ksft/ops_prometheus   (only the tests it matches)
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/harness.sh
. "$here/harness.sh" 2>/dev/null || . "$here/../lib/harness.sh"
find_prog EVBUS bin/evbus prometheus_test
NODE_EXPORTER=${NODE_EXPORTER:-prometheus-node-exporter}
STATS=/sys/kernel/evbus/stats
PARAMS=/sys/module/evbus/parameters

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evbus-prom.XXXXXX")
chmod 0755 "$tmp"		# uid 65534 runs evbus in it
textdir=$tmp/textfile		# node_exporter's textfile directory
mkdir -m 0755 "$textdir"
prom=$textdir/evbus.prom
ne_pid= port=

cleanup() {
	reap
	[ -z "$ne_pid" ] || { kill -TERM "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null; }
	grep -qs " $tmp/" /proc/mounts && awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/mounts |
		sort -r | xargs -r -n1 umount
	rm -rf "$tmp"
}
trap cleanup EXIT

T=promtest$$

need_exporter() { [ -n "$port" ] || die "node_exporter is not running: $(cat "$tmp/ne.log" 2>/dev/null)"; }
# wait_until CMD...: until CMD succeeds (at most 30 s; a bound, not a measure).
wait_until() {
	local i
	for ((i = 0; i < 300; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }
scrape() { curl -sS --max-time 30 "http://127.0.0.1:$port/metrics"; }
# sysfs_snap FILE: "name value" for every module counter.
sysfs_snap() { grep -H . "$STATS"/* | sed 's|.*/||; s/:/ /' >"$1"; }
# promtool_ok FILE: promtool check metrics finds no problem at all.
promtool_ok() {
	local out rc=0
	out=$(promtool check metrics <"$1" 2>&1) || rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || die "promtool check metrics on $1: exit $rc: $out"
}
# no_temp DIR: DIR holds nothing but the files named after it.
only_files() {
	local dir=$1; shift
	expect_eq "$*" "$(ls -A "$dir" | tr '\n' ' ' | sed 's/ $//')" "files in $dir"
}

# pq FILE CODE [ARGS...]: Python CODE on the exposition in FILE, with
# S (series: (name, ((label, value), ...)) -> float), F (family -> help,
# type lists), v(name, **labels), a (ARGS).  The parser itself asserts
# the format: every sample after its family's TYPE, families contiguous,
# no duplicate series.  An AssertionError fails the test.
pq() {
	local f=$1 code=$2; shift 2
	python3 -c '
import re, sys
def unesc(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), s)
S, F, closed, cur = {}, {}, set(), None
try:
    for ln in open(sys.argv[1]):
        ln = ln.rstrip("\n")
        if not ln:
            continue
        m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)$", ln)
        if m:
            kind, name, rest = m.groups()
            f = F.setdefault(name, {"HELP": [], "TYPE": []})
            f[kind].append(rest)
            assert name not in closed, "family %s split" % name
            if cur and cur != name:
                closed.add(cur)
            cur = name
            continue
        if ln.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)$", ln)
        assert m, "unparsable line %r" % ln
        name, lab, val = m.groups()
        assert name in F and F[name]["TYPE"], "%s has no TYPE before it" % name
        assert name == cur, "%s outside its family" % name
        labels = tuple(sorted((k, unesc(x)) for k, x in
                   re.findall(r"([a-zA-Z_]\w*)=\"((?:[^\"\\]|\\.)*)\"", lab or "")))
        assert (name, labels) not in S, "duplicate series %s%r" % (name, labels)
        S[(name, labels)] = float(val)
    def v(metric, **labels):
        return S[(metric, tuple(sorted(labels.items())))]
    def series(prefix):
        return {k: x for k, x in S.items() if k[0].startswith(prefix)}
    a = sys.argv[3:]
    exec(sys.argv[2])
except (AssertionError, KeyError) as e:
    print("check failed on %s: %s: %s" % (sys.argv[1], type(e).__name__, e))
    sys.exit(1)
' "$f" "$code" "$@" || die "check failed"
}

# The names the module's sysfs counters must have, from the ABI document:
# gauges as they are, *_ns counters in seconds, every other one a counter.
PY_EXPECT='
GAUGES = {"queued_events", "queued_bytes", "subscriptions", "open_files",
          "ring_bytes", "ring_bytes_max", "approvers", "approval_pending",
          "wills", "rate_users", "buses"}
def expect(n, x):
    """(metric name, type, value in the exposition) of sysfs counter n = x."""
    if n in GAUGES:
        return "evbus_" + n, "gauge", x
    if n.endswith("_ns"):
        return "evbus_" + n[:-3] + "_seconds_total", "counter", x / 1e9
    return "evbus_" + n + "_total", "counter", x
def sysfs(path):
    return {l.split()[0]: int(l.split()[1]) for l in open(path)}
'

# node_exporter on 127.0.0.1, textfile collector only, on a free port:
# a port that turns out to be taken is retried with another.
start_exporter() {
	local try p
	ip link set lo up 2>/dev/null
	command -v "$NODE_EXPORTER" >/dev/null || { echo "no $NODE_EXPORTER" >"$tmp/ne.log"; return 1; }
	for ((try = 0; try < 10; try++)); do
		p=$((20000 + RANDOM % 40000))
		grep -q ":$(printf '%04X' $p) .* 0A " /proc/net/tcp 2>/dev/null && continue
		"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$p" \
			--collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$textdir" \
			--web.disable-exporter-metrics >"$tmp/ne.log" 2>&1 &
		ne_pid=$!
		port=$p
		wait_until eval 'scrape >/dev/null 2>&1 || ! kill -0 $ne_pid 2>/dev/null'
		if scrape >/dev/null 2>&1; then
			return 0
		fi
		kill -TERM "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null
		ne_pid= port=
		grep -q 'address already in use' "$tmp/ne.log" || return 1
	done
	return 1
}

# ---------------------------------------------------------------- the tests

t_exposition_lints_clean_and_is_well_formed() {
	need_device
	"$EVBUS" stat --prometheus >"$tmp/out" 2>"$tmp/err" || die "exit $?: $(cat "$tmp/err")"
	[ ! -s "$tmp/err" ] || die "stderr: $(cat "$tmp/err")"
	promtool_ok "$tmp/out"
	pq "$tmp/out" '
assert v("evbus_up") == 1 and v("evbus_bus_up") == 1
for name, f in F.items():
    assert len(f["HELP"]) == 1 and len(f["TYPE"]) == 1, (name, f)
    assert f["HELP"][0].strip(), "%s: empty HELP" % name
    assert name.startswith("evbus_"), name
    t = f["TYPE"][0]
    assert t in ("counter", "gauge"), (name, t)
    assert (t == "counter") == name.endswith("_total"), (name, t)
    assert any(k[0] == name for k in S), "%s has no sample" % name
'
}

t_every_module_counter_equals_sysfs() {
	local i
	need_device
	# A bus of an earlier case's IPC namespace goes away asynchronously
	# (the namespace is freed from a work item): sample until nothing moved.
	for i in $(seq 50); do
		sysfs_snap "$tmp/before"
		"$EVBUS" stat --prometheus >"$tmp/out" 2>"$tmp/err" || die "exit $?: $(cat "$tmp/err")"
		sysfs_snap "$tmp/after"
		cmp -s "$tmp/before" "$tmp/after" && break
		sleep 0.2
	done
	pq "$tmp/out" "$PY_EXPECT"'
before, after = sysfs(a[0]), sysfs(a[1])
assert before == after, "the system was not quiet: %r" % {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
assert len(before) >= 50, sorted(before)
for n, x in before.items():
    if n == "open_files":
        x += 1          # evbus stat counts its own open file
    name, t, want = expect(n, x)
    assert F[name]["TYPE"] == [t], (name, F[name], t)
    got = v(name)
    ok = round(got * 1e9) == x if n.endswith("_ns") else got == want
    assert ok, "%s: sysfs %s=%d, exposition %r" % (name, n, x, got)
module = {k[0] for k in S if not k[0].startswith(("evbus_bus_", "evbus_param", "evbus_up"))}
assert module == {expect(n, 0)[0] for n in before}, module ^ {expect(n, 0)[0] for n in before}
' "$tmp/before" "$tmp/after"
}

t_every_parameter_is_exported() {
	need_device
	"$EVBUS" stat --prometheus >"$tmp/out" 2>/dev/null || die "exit $?"
	grep -H . "$PARAMS"/* | sed 's|.*/||; s/:/ /' >"$tmp/params"
	pq "$tmp/out" '
params = dict(l.rstrip("\n").split(" ", 1) for l in open(a[0]))
assert "max_payload" in params and "dev_mode" in params, params
for n, x in params.items():
    if x.isdigit() and (x == "0" or x[0] != "0"):
        assert v("evbus_param", name=n) == int(x), (n, x)
    else:
        assert v("evbus_param_info", name=n, value=x) == 1, (n, x)
assert len(series("evbus_param")) == len(params), series("evbus_param")
assert F["evbus_param"]["TYPE"] == ["gauge"]
' "$tmp/params"
}

t_bus_counters_carry_bus_id_and_ipc_namespace() {
	need_device
	local id ns
	id=$("$EVBUS" stat --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bus"]["bus_id"])') ||
		die "stat --json"
	ns=$(stat -L -c %i /proc/self/ns/ipc)
	"$EVBUS" stat --prometheus >"$tmp/out" 2>/dev/null || die "exit $?"
	pq "$tmp/out" '
bus = series("evbus_bus_")
bus.pop(("evbus_bus_up", ()))
assert len(bus) >= 20, bus
for (name, labels), x in bus.items():
    assert labels == (("bus", a[0]), ("ipc_ns", a[1])), (name, labels, a)
for g in ("open_files", "subscriptions", "queued_events", "queued_bytes", "seq", "policy_rules"):
    assert F["evbus_bus_" + g]["TYPE"] == ["gauge"], g
for c in ("published", "deliveries", "lost", "read_events", "denied_rule"):
    assert F["evbus_bus_" + c + "_total"]["TYPE"] == ["counter"], c
assert v("evbus_bus_open_files", bus=a[0], ipc_ns=a[1]) >= 1
' "$id" "$ns"
}

t_each_ipc_namespace_has_its_own_bus_series() {
	need_device
	need_root
	unshare -i true 2>/dev/null || { echo "cannot unshare an IPC namespace"; exit 77; }
	"$EVBUS" stat --prometheus >"$tmp/host" 2>/dev/null || die "host exit $?"
	unshare -i sh -c 'for i in 1 2 3; do "$1" pub "$2.ns" "$i" || exit 1; done
		exec "$1" stat --prometheus' sh "$EVBUS" "$T" >"$tmp/ns" 2>"$tmp/err" ||
		die "namespace exit $?: $(cat "$tmp/err")"
	pq "$tmp/ns" '
host = {}
for l in open(a[0]):
    m = re.match(r"evbus_bus_published_total\{bus=\"(\d+)\",ipc_ns=\"(\d+)\"\} ", l)
    if m:
        host = m.groups()
(name, labels), = [k for k in S if k[0] == "evbus_bus_published_total"]
lab = dict(labels)
assert host and lab["bus"] != host[0] and lab["ipc_ns"] != host[1], (host, lab)
assert v("evbus_bus_published_total", **lab) == 3, "a new bus published 3 events"
assert v("evbus_bus_seq", **lab) == 3
' "$tmp/host"
}

# S subscribers, N events: the scrape through node_exporter equals sysfs
# exactly, and the deltas are N published, S*N delivered and read.  The
# subscribers read from the mapped ring (the CLI's default) and exit right
# after their last event: the kernel catches up with a mapped reader's
# position at release, so those count as read, not discarded.
t_scrape_after_known_activity_matches_sysfs() {
	need_device
	need_exporter
	local s=3 N=40 i bytes
	"$EVBUS" stat --prometheus >"$tmp/p0" 2>/dev/null || die "first stat exit $?"
	sysfs_snap "$tmp/s0"
	for ((i = 0; i < s; i++)); do
		"$EVBUS" sub --ready --count $N --timeout 60 "$T.act.>" >"$tmp/sub$i.out" 2>"$tmp/sub$i.err" &
		echo $! >"$tmp/sub$i.pid"
		wait_until grep -q '^ready$' "$tmp/sub$i.err" || die "subscriber $i not ready"
	done
	seq 1 $N | sed "s/^/event /" >"$tmp/lines"
	bytes=$(($(wc -c <"$tmp/lines") - N))	# payloads without their newlines
	"$EVBUS" pub "$T.act.x" <"$tmp/lines" || die "pub exit $?"
	for ((i = 0; i < s; i++)); do
		wait "$(cat "$tmp/sub$i.pid")" || die "subscriber $i exit $?"
		rm -f "$tmp/sub$i.pid"
		expect_eq $N "$(wc -l <"$tmp/sub$i.out")" "events read by subscriber $i"
	done
	"$EVBUS" stat --prometheus --output "$prom" || die "--output exit $?"
	sysfs_snap "$tmp/s1"
	scrape >"$tmp/scrape" || die "curl exit $?"
	promtool_ok "$tmp/scrape"
	pq "$tmp/scrape" "$PY_EXPECT"'
s0, s1 = sysfs(a[0]), sysfs(a[1])
subs, N = int(a[3]), int(a[4])
assert v("node_textfile_scrape_error") == 0, "textfile scrape error"
for n, x in s1.items():
    if n == "open_files":
        x += 1          # the writer counted its own open file
    name, t, want = expect(n, x)
    got = v(name)
    ok = round(got * 1e9) == x if n.endswith("_ns") else got == want
    assert ok, "%s: sysfs %d, scraped %r" % (name, x, got)
d = {k: s1[k] - s0.get(k, 0) for k in s1 if s1[k] != s0.get(k)}
print("# sysfs deltas:", d)
assert d["published"] == N, ("sysfs deltas", d)
assert d["deliveries"] == subs * N, ("sysfs deltas", d)
assert d["published_bytes"] == int(a[5]), ("sysfs deltas", d, a[5])
assert d["read_events"] == subs * N, ("sysfs deltas", d)
assert d.get("discarded", 0) == 0, ("mapped reads counted as discarded", d)
assert v("evbus_published_total") - s0["published"] == N, d
assert v("evbus_deliveries_total") - s0["deliveries"] == subs * N, d
# The bus counters against the first exposition: the same deltas.
before = {}
for l in open(a[2]):
    m = re.match(r"(evbus_bus_\w+)\{(.*)\} (\S+)$", l)
    if m:
        before[m.group(1)] = (m.group(2), float(m.group(3)))
lab = dict(re.findall(r"(\w+)=\"(\d+)\"", before["evbus_bus_published_total"][0]))
def bus_delta(c):
    return v("evbus_bus_" + c, **lab) - before["evbus_bus_" + c][1]
for c, want in (("published_total", N), ("deliveries_total", subs * N),
                ("published_bytes_total", int(a[5])),
                ("read_events_total", subs * N), ("lost_total", 0), ("seq", N)):
    assert bus_delta(c) == want, ("bus delta", c, bus_delta(c), want)
' "$tmp/s0" "$tmp/s1" "$tmp/p0" $s $N $bytes
}

t_output_file_lints_and_has_no_scrape_error() {
	need_device
	need_exporter
	"$EVBUS" stat --prometheus --output "$prom" || die "exit $?"
	promtool_ok "$prom"
	scrape >"$tmp/scrape" || die "curl exit $?"
	promtool_ok "$tmp/scrape"
	grep -q '^node_textfile_scrape_error 0$' "$tmp/scrape" ||
		die "scrape error: $(grep node_textfile "$tmp/scrape"; cat "$tmp/ne.log")"
	grep -q "^node_textfile_mtime_seconds{file=\"\(.*/\)\?evbus.prom\"}" "$tmp/scrape" ||
		die "node_exporter did not read evbus.prom: $(grep node_textfile "$tmp/scrape")"
	expect_eq 644 "$(stat -c %a "$prom")" "mode of $prom"
	only_files "$textdir" evbus.prom
}

# 200 rewrites while node_exporter is scraped as fast as curl can: every
# scrape parses, has no textfile error and has every evbus series.
t_rewrites_during_scrapes_are_never_partial() {
	need_device
	need_exporter
	local i k=0 bad=0
	"$EVBUS" stat --prometheus --output "$prom" || die "exit $?"
	scrape | grep '^evbus_' | sed 's/[ {].*//' | sort -u >"$tmp/names"
	[ "$(wc -l <"$tmp/names")" -ge 50 ] || die "only $(wc -l <"$tmp/names") evbus names scraped"
	(
		for ((i = 0; i < 200; i++)); do
			((i % 10)) || "$EVBUS" pub "$T.rw" "$i" || exit 1
			"$EVBUS" stat --prometheus --output "$prom" || exit 1
		done
	) >"$tmp/writer.log" 2>&1 &
	local writer=$!
	echo $writer >"$tmp/writer.pid"
	mkdir "$tmp/scrapes"
	while :; do
		k=$((k + 1))
		scrape >"$tmp/scrapes/$k" || die "scrape $k: curl exit $?"
		kill -0 $writer 2>/dev/null || break
	done
	wait $writer || die "writer exit $?: $(cat "$tmp/writer.log")"
	rm -f "$tmp/writer.pid"
	echo "# $k scrapes during 200 rewrites"
	for ((i = 1; i <= k; i++)); do
		grep -q '^node_textfile_scrape_error 0$' "$tmp/scrapes/$i" || { bad=$((bad + 1)); echo "scrape $i: textfile error"; }
		grep '^evbus_' "$tmp/scrapes/$i" | sed 's/[ {].*//' | sort -u | cmp -s - "$tmp/names" ||
			{ bad=$((bad + 1)); echo "scrape $i: evbus names differ"; }
	done
	pq "$tmp/scrapes/$k" 'assert v("evbus_up") == 1'
	expect_eq 0 $bad "bad scrapes"
	only_files "$textdir" evbus.prom
}

t_output_mode_is_0644_whatever_the_umask() {
	need_device
	(umask 077 && "$EVBUS" stat --prometheus --output "$tmp/m.prom") || die "exit $?"
	expect_eq 644 "$(stat -c %a "$tmp/m.prom")" "mode"
	(umask 000 && "$EVBUS" stat --prometheus --output "$tmp/m.prom") || die "exit $?"
	expect_eq 644 "$(stat -c %a "$tmp/m.prom")" "mode"
}

t_missing_directory_is_a_precise_error() {
	expect_fail 1 "cannot write $tmp/nope/x.prom: directory $tmp/nope: No such file or directory" \
		"$EVBUS" stat --prometheus --output "$tmp/nope/x.prom"
	[ ! -e "$tmp/nope" ] || die "created $tmp/nope"
}

t_unwritable_directory_keeps_the_old_file() {
	need_device
	need_root
	command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
	mkdir -m 0755 "$tmp/ro"
	"$EVBUS" stat --prometheus --output "$tmp/ro/e.prom" || die "exit $?"
	cp "$tmp/ro/e.prom" "$tmp/old"
	expect_fail 1 "cannot write $tmp/ro/e.prom: cannot create a temporary file in $tmp/ro: Permission denied" \
		as_nobody "$EVBUS" stat --prometheus --output "$tmp/ro/e.prom"
	cmp -s "$tmp/old" "$tmp/ro/e.prom" || die "the old file changed"
	only_files "$tmp/ro" e.prom
}

t_read_only_filesystem_keeps_the_old_file() {
	need_device
	need_root
	mkdir "$tmp/rofs"
	mount -t tmpfs -o size=1m tmpfs "$tmp/rofs" || { echo "cannot mount tmpfs"; exit 77; }
	"$EVBUS" stat --prometheus --output "$tmp/rofs/e.prom" || die "exit $?"
	cp "$tmp/rofs/e.prom" "$tmp/old"
	mount -o remount,ro "$tmp/rofs" || die "remount ro"
	expect_fail 1 "cannot write $tmp/rofs/e.prom: cannot create a temporary file in $tmp/rofs: Read-only file system" \
		"$EVBUS" stat --prometheus --output "$tmp/rofs/e.prom"
	cmp -s "$tmp/old" "$tmp/rofs/e.prom" || die "the old file changed"
	only_files "$tmp/rofs" e.prom
}

t_full_filesystem_keeps_the_old_file_and_no_temporary() {
	need_device
	need_root
	mkdir "$tmp/full"
	mount -t tmpfs -o size=256k tmpfs "$tmp/full" || { echo "cannot mount tmpfs"; exit 77; }
	"$EVBUS" stat --prometheus --output "$tmp/full/e.prom" || die "exit $?"
	cp "$tmp/full/e.prom" "$tmp/old"
	dd if=/dev/zero of="$tmp/full/fill" bs=4k 2>/dev/null
	expect_fail 1 "cannot write $tmp/full/e.prom: writing $tmp/full/\.e\.prom\.[a-z0-9]{6}: No space left on device \(the old file is unchanged\)" \
		"$EVBUS" stat --prometheus --output "$tmp/full/e.prom"
	cmp -s "$tmp/old" "$tmp/full/e.prom" || die "the old file changed"
	only_files "$tmp/full" e.prom fill
}

t_output_onto_a_directory_fails_cleanly() {
	need_device
	mkdir -p "$tmp/d/e.prom"
	expect_fail 1 "cannot write $tmp/d/e.prom: renaming $tmp/d/\.e\.prom\.[a-z0-9]{6} over it: Is a directory \(the old file is unchanged\)" \
		"$EVBUS" stat --prometheus --output "$tmp/d/e.prom"
	only_files "$tmp/d" e.prom
	[ -d "$tmp/d/e.prom" ] || die "the directory is gone"
}

t_bad_option_combinations_are_usage_errors() {
	expect_fail 2 "--prometheus and --json exclude each other" "$EVBUS" stat --prometheus --json
	expect_fail 2 "--output needs --prometheus" "$EVBUS" stat --output "$tmp/x.prom"
	expect_fail 2 "--output needs --prometheus" "$EVBUS" stat --json --output "$tmp/x.prom"
	expect_fail 2 "--prometheus --watch needs --output FILE" "$EVBUS" stat --prometheus --watch 1
	expect_fail 2 "--output wants a file name, not ''" "$EVBUS" stat --prometheus --output ''
	expect_fail 2 "--output wants a file name, not '$tmp/'" "$EVBUS" stat --prometheus --output "$tmp/"
	expect_fail 2 "--watch wants a positive number of seconds, not '0'" \
		"$EVBUS" stat --prometheus --output "$tmp/x.prom" --watch 0
	expect_fail 2 "option '--output' needs a value" "$EVBUS" stat --prometheus --output
	[ ! -e "$tmp/x.prom" ] || die "a usage error wrote $tmp/x.prom"
}

t_user_who_cannot_open_the_device_gets_module_metrics() {
	need_device
	need_root
	command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
	as_nobody test -r /dev/evbus && { echo "uid 65534 may open /dev/evbus here"; exit 77; }
	as_nobody "$EVBUS" stat --prometheus >"$tmp/out" 2>"$tmp/err" || die "exit $?: $(cat "$tmp/err")"
	grep -q "no bus counters (evbus_bus_up 0): cannot open /dev/evbus: Permission denied" "$tmp/err" ||
		die "stderr: $(cat "$tmp/err")"
	promtool_ok "$tmp/out"
	pq "$tmp/out" '
assert v("evbus_up") == 1 and v("evbus_bus_up") == 0
assert not [k for k in S if k[0].startswith("evbus_bus_") and k[0] != "evbus_bus_up"]
assert v("evbus_published_total") >= 0 and ("evbus_param", (("name", "max_payload"),)) in S
'
}

t_user_who_can_open_the_device_gets_bus_metrics() {
	need_device
	need_root
	command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
	mkdir -m 0755 "$tmp/node" && chown 65534:65534 "$tmp/node" || die "mkdir"
	mknod -m 0666 "$tmp/node/evbus" c $(stat -c '%t %T' /dev/evbus | while read -r a b; do echo $((16#$a)) $((16#$b)); done) ||
		{ echo "cannot mknod in $tmp"; exit 77; }
	"$EVBUS" stat --prometheus >"$tmp/root" 2>/dev/null || die "root exit $?"
	EVBUS_DEVICE=$tmp/node/evbus as_nobody "$EVBUS" stat --prometheus --output "$tmp/node/e.prom" 2>"$tmp/err" ||
		die "exit $?: $(cat "$tmp/err")"
	[ ! -s "$tmp/err" ] || die "stderr: $(cat "$tmp/err")"
	expect_eq 65534 "$(stat -c %u "$tmp/node/e.prom")" "owner"
	bus=$(grep -o 'evbus_bus_published_total{[^}]*}' "$tmp/root")
	[ -n "$bus" ] || die "no bus series as root"
	pq "$tmp/node/e.prom" '
assert v("evbus_bus_up") == 1
assert [k for k in S if k[0] + "{" + ",".join("%s=\"%s\"" % l for l in k[1]) + "}" == a[0]], a[0]
' "$bus"
}

t_module_missing_writes_evbus_up_0_and_fails() {
	mkdir -p "$tmp/nosys"
	EVBUS_SYSFS=$tmp/nosys expect_fail 1 "the evbus module is not loaded" \
		"$EVBUS" stat --prometheus --output "$tmp/down.prom"
	promtool_ok "$tmp/down.prom"
	pq "$tmp/down.prom" '
assert v("evbus_up") == 0 and v("evbus_bus_up") == 0
assert len(S) == 2, S
'
}

t_unknown_counters_are_untyped_and_labels_escaped() {
	need_device
	local f=$tmp/fake
	mkdir -p "$f$STATS" "$f$PARAMS"
	cp "$STATS"/* "$f$STATS/" && cp "$PARAMS"/* "$f$PARAMS/" || die "copying sysfs"
	echo 42 >"$f$STATS/zz_future_things"
	echo 'not a number' >"$f$STATS/zz_future_text"
	printf 'a "quoted" \\ value\n' >"$f$PARAMS/zz_odd"
	echo 0644 >"$f$PARAMS/zz_mode"
	EVBUS_SYSFS=$f "$EVBUS" stat --prometheus >"$tmp/out" 2>"$tmp/err" || die "exit $?: $(cat "$tmp/err")"
	promtool_ok "$tmp/out"
	pq "$tmp/out" '
assert F["evbus_zz_future_things"]["TYPE"] == ["untyped"]
assert v("evbus_zz_future_things") == 42
assert not [k for k in S if "future_text" in k[0]]
assert v("evbus_param_info", name="zz_odd", value="a \"quoted\" \\ value") == 1
assert v("evbus_param_info", name="zz_mode", value="0644") == 1
'
	grep -qF 'evbus_param_info{name="zz_odd",value="a \"quoted\" \\ value"} 1' "$tmp/out" ||
		die "escaping: $(grep zz_odd "$tmp/out")"
}

t_watch_rewrites_until_sigterm() {
	need_device
	local w pub0
	"$EVBUS" stat --prometheus --watch 0.2 --output "$tmp/w.prom" 2>"$tmp/w.err" &
	w=$!; echo $w >"$tmp/w.pid"
	wait_until test -s "$tmp/w.prom" || die "no file after 30 s"
	pub0=$(awk '$1 == "evbus_published_total" { print $2 }' "$tmp/w.prom")
	for i in 1 2 3 4 5; do "$EVBUS" pub "$T.watch" "$i" || die "pub"; done
	want=$(python3 -c "print(int(float('$pub0')) + 5)")
	wait_until eval "awk '\$1 == \"evbus_published_total\" { exit !(\$2 + 0 >= $want) }' '$tmp/w.prom'" ||
		die "the file never showed $want published: $(grep published_total "$tmp/w.prom")"
	kill -TERM $w
	wait $w; rc=$?
	rm -f "$tmp/w.pid"
	expect_eq 0 $rc "exit status after SIGTERM"
	[ ! -s "$tmp/w.err" ] || die "stderr: $(cat "$tmp/w.err")"
	promtool_ok "$tmp/w.prom"
	[ -z "$(cd "$tmp" && ls -A | grep '^\.w\.prom\.')" ] || die "temporary files left: $(ls -A "$tmp")"
}

start_exporter || echo "# node_exporter did not start: $(tail -n 3 "$tmp/ne.log" | tr '\n' ' ')"
[ -z "$port" ] || echo "# node_exporter $($NODE_EXPORTER --version 2>&1 | head -n1) on 127.0.0.1:$port"
for t in $(all_tests); do
	[[ $t =~ ${PROM_TESTS:-.} ]] || continue	# PROM_TESTS=REGEX: only those
	run_test "$t"
done
tap_end
