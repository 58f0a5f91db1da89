#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of `evbus bridge` (issue #20) in the VM: a nats-server with
# JetStream on the guest's loopback (a throwaway store), two buses in two
# IPC namespaces, and bridges between them.  Headers, imported fields and
# origin events, conservation with an exact report of ring losses, gaps in
# transit, no echo with bidirectional bridges, kill -9 of nats-server with
# and without JetStream, kill -9 of a JetStream bridge, scoped handles, and
# bad input.  Installed as build/ksft/ops_bridge; prints kselftest-style
# totals for tests/run-kselftests.
#
#   build/ksft/ops_bridge          (root: it makes namespaces)
#   EVBUS=... BRIDGE_TOOL=... tests/bridge/bridge_test.sh
#   BRIDGE_TESTS="headers no_echo" build/ksft/ops_bridge    a subset
#   BRIDGE_KEEP=DIR ...     keep each test's scratch files in DIR/NAME
#
# No assertion depends on timing: the waits below are bounded polls for a
# state (a line in a file), and what is asserted is counted content.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/harness.sh
. "$here/harness.sh" 2>/dev/null || . "$here/../lib/harness.sh"
find_prog EVBUS bin/evbus ops_bridge
find_prog BRIDGE_TOOL bridge/bridge_tool ops_bridge
TOOL=$BRIDGE_TOOL
WAIT_TENTHS=600
command -v nats-server >/dev/null || skip_all "nats-server is not installed"
[ "$(id -u)" = 0 ] || skip_all "needs root (IPC namespaces)"
unshare -i true 2>/dev/null || skip_all "cannot unshare an IPC namespace"
[ -e /dev/evbus ] || skip_all "no /dev/evbus"
command -v jq >/dev/null || skip_all "jq is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evbus-bridge.XXXXXX")
port= nsA= nsB= starts=0

cleanup() {
	reap
	[ -f "$tmp/nats-server.pid.keep" ] && kill -KILL "$(cat "$tmp/nats-server.pid.keep")" 2>/dev/null
	[ -n "$nsA" ] && kill -KILL "$nsA" 2>/dev/null
	[ -n "$nsB" ] && kill -KILL "$nsB" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_lines FILE N: until FILE has N lines matching REGEX (default: any).
wait_count() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -Ec -- "${3:-.}" "$1" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- nats-server on loopback, JetStream in a throwaway directory -----------
# The first free port of 14222..14261, found by trying (never by chance);
# a restart (after kill -9) takes the same port again.
nats_try() {
	local log=$tmp/nats.$((++starts)).log i nats_pid
	nats-server -a 127.0.0.1 -p "$1" -js -sd "$tmp/js" >"$log" 2>&1 &
	nats_pid=$!
	disown "$nats_pid"	# killed by nats_kill, from any subshell
	echo "$nats_pid" >"$tmp/nats-server.pid.keep"
	for ((i = 0; i < 150; i++)); do
		grep -q 'Server is ready' "$log" && return 0
		kill -0 "$nats_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$nats_pid" 2>/dev/null
	return 1
}
nats_start() {
	local p i
	if [ -n "$port" ]; then
		for ((i = 0; i < 20; i++)); do
			nats_try "$port" && return 0
			sleep 0.5
		done
		return 1
	fi
	for p in $(seq 14222 14261); do
		nats_try "$p" && { port=$p; return 0; }
	done
	return 1
}
# The server's pid is in a file: tests run in subshells, and one that
# restarts the server leaves the new pid for the next.
nats_kill() {
	local p i
	p=$(cat "$tmp/nats-server.pid.keep")
	kill -KILL "$p" || return 1
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# --- two buses: the IPC namespaces of two idle processes -------------------
inA() { nsenter -t "$nsA" -i "$@"; }
inB() { nsenter -t "$nsB" -i "$@"; }
# The holder of bus A or B (background jobs run nsenter itself, so that
# $! is the program's pid: nsenter execs it).
holder() { if [ "$1" = A ]; then echo "$nsA"; else echo "$nsB"; fi; }

# bridge_start NAME A|B ARGS...: a bridge on that bus, ready; stderr in NAME.err
bridge_start() {
	local name=$1 ns=$2
	shift 2
	nsenter -t "$(holder "$ns")" -i "$EVBUS" bridge --server "nats://127.0.0.1:$port" --ready -v "$@" \
		2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	wait_for "$tmp/$name.err" '^ready$' 300 ||
		die "bridge $name never got ready: $(cat "$tmp/$name.err")"
}
# bridge_stop NAME: SIGTERM, and its exit status must be 0.
bridge_stop() {
	local p rc=0
	p=$(cat "$tmp/$1.pid")
	kill -TERM "$p"
	wait "$p" || rc=$?
	rm -f "$tmp/$1.pid"
	[ $rc = 0 ] || die "bridge $1 exited with $rc: $(cat "$tmp/$1.err")"
}
# ctr NAME KEY: a counter of the bridge's exit line.
ctr() {
	sed -n "s/^evbus: bridge exit: .* $2=\([0-9]*\).*/\1/p" "$tmp/$1.err" | tail -n1
}
origin_of() { sed -n 's/^evbus: bridge: origin \([^,]*\),.*/\1/p' "$tmp/$1.err"; }

# sub_start NAME A|B ARGS...: evbus sub --ready --json on that bus.
sub_start() {
	local name=$1 ns=$2
	shift 2
	nsenter -t "$(holder "$ns")" -i "$EVBUS" sub --ready --json "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	wait_for "$tmp/$name.err" '^ready$' 300 || die "sub $name never got ready: $(cat "$tmp/$name.err")"
}
sub_stop() {
	local p
	p=$(cat "$tmp/$1.pid")
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rm -f "$tmp/$1.pid"
}

# nats_sub NAME SUBJECT COUNT: bridge_tool sub in the background.
nats_sub() {
	"$TOOL" sub "nats://127.0.0.1:$port" "$2" "$3" 120 >"$tmp/$1.out" 2>"$tmp/$1.err" &
	echo $! >"$tmp/$1.pid"
	wait_for "$tmp/$1.err" '^ready$' 300 || die "nats sub $1 never got ready: $(cat "$tmp/$1.err")"
}
# hdr LINE KEY: a header of a bridge_tool line (SUBJECT|K=V,...|PAYLOAD).
hdr() { cut -d'|' -f2 <<<"$1" | tr ',' '\n' | sed -n "s/^$2=//p"; }

# check_conservation OUT TOPIC SEQS [OTHER]: the events on TOPIC in sub
# output OUT (payloads 1..N, published with the seqs in file SEQS, line i
# for payload i) arrived at most once each, and those missing (plus OTHER
# other events known lost) are exactly what the lag reports in OUT count,
# each within a reported range.
check_conservation() {
	local out=$1 topic=$2 seqs=$3 other=${4:-0} total got dups lost missing bad
	total=$(wc -l <"$seqs")
	jq -r --arg t "$topic" 'select(.topic == $t) | .payload' "$out" | sort -n >"$tmp/got"
	got=$(sort -un "$tmp/got" | wc -l)
	dups=$(($(wc -l <"$tmp/got") - got))
	expect_eq 0 "$dups" "events of $topic received twice"
	jq -r 'select(.topic | startswith("_evbus.lag.")) | .payload' "$out" >"$tmp/lags"
	lost=$(jq -s 'map(.lost) | add // 0' "$tmp/lags")
	comm -23 <(seq 1 "$total" | sort) <(sort -u "$tmp/got") | sort -n >"$tmp/missing"
	missing=$(wc -l <"$tmp/missing")
	echo "# $topic: $total published, $got received, $missing missing, $lost reported lost"
	expect_eq "$((missing + other))" "$lost" "events reported lost"
	# Every missing event's seq lies in a reported range.
	bad=$(awk 'NR == FNR { s[NR] = $1; next } { print s[$1] }' "$seqs" "$tmp/missing" |
		while read -r s; do
			jq -e --argjson s "$s" 'select(.first_seq <= $s and $s <= .last_seq)' \
				"$tmp/lags" >/dev/null || echo "$s"
		done | head -n3)
	[ -z "$bad" ] || die "missing seqs outside every reported range: $bad"
}

# after_test NAME (the harness's hook): each test starts with no files
# but the server's; BRIDGE_KEEP=DIR keeps a copy of them in DIR/NAME.
after_test() {
	if [ -n "${BRIDGE_KEEP:-}" ]; then
		mkdir -p "$BRIDGE_KEEP/$1"
		find "$tmp" -maxdepth 1 -type f -exec cp {} "$BRIDGE_KEEP/$1/" \;
	fi
	find "$tmp" -maxdepth 1 -type f ! -name '*.keep' ! -name 'nats.*.log' ! -name log -delete
}

# ---------------------------------------------------------------------------

# Every Evbus-* header of an exported event, checked against what was published.
t_headers() {
	local line pid seq before after t
	bridge_start ea A --export 'h.>'
	nats_sub n 'h.>' 1
	before=$(date +%s%N)
	inA sh -c 'echo $$ >"$1"; exec "$2" pub -v --type 7 --corr 42 --parent 5 h.one "hi there"' \
		sh "$tmp/pubpid" "$EVBUS" >"$tmp/seq" || die "pub failed"
	after=$(date +%s%N)
	wait_count "$tmp/n.out" 1 || die "nothing arrived on NATS"
	line=$(head -n1 "$tmp/n.out")
	pid=$(cat "$tmp/pubpid") seq=$(cat "$tmp/seq")
	expect_eq "h.one" "${line%%|*}" "subject"
	expect_eq "hi there" "${line##*|}" "payload"
	expect_eq "$(origin_of ea)" "$(hdr "$line" Evbus-Origin)" "Evbus-Origin"
	[[ $(hdr "$line" Evbus-Origin) =~ ^[0-9a-f]{32}-[0-9]+$ ]] || die "origin format: $line"
	expect_eq "$seq" "$(hdr "$line" Evbus-Seq)" "Evbus-Seq"
	expect_eq "$pid" "$(hdr "$line" Evbus-Pid)" "Evbus-Pid"
	expect_eq 0 "$(hdr "$line" Evbus-Uid)" "Evbus-Uid"
	expect_eq 0 "$(hdr "$line" Evbus-Gid)" "Evbus-Gid"
	expect_eq 7 "$(hdr "$line" Evbus-Type)" "Evbus-Type"
	expect_eq 42 "$(hdr "$line" Evbus-Corr)" "Evbus-Corr"
	expect_eq 5 "$(hdr "$line" Evbus-Parent)" "Evbus-Parent"
	expect_eq 0 "$(hdr "$line" Evbus-Flags)" "Evbus-Flags"
	expect_eq h.one "$(hdr "$line" Evbus-Topic)" "Evbus-Topic"
	expect_eq 'h.>' "$(hdr "$line" Evbus-Export)" "Evbus-Export"
	expect_eq 1 "$(hdr "$line" Evbus-Bridge-Seq)" "Evbus-Bridge-Seq"
	expect_eq 0 "$(hdr "$line" Evbus-Prev-Seq)" "Evbus-Prev-Seq"
	t=$(hdr "$line" Evbus-Time-Ns)
	[ "$t" -ge "$before" ] && [ "$t" -le "$after" ] || die "Evbus-Time-Ns $t not in $before..$after"
	[ "$(hdr "$line" Evbus-Mono-Ns)" -gt 0 ] || die "Evbus-Mono-Ns: $line"
	[ -n "$(hdr "$line" Evbus-Bridge)" ] || die "no Evbus-Bridge: $line"
	bridge_stop ea
	expect_eq 1 "$(ctr ea exported)" "exported"
}

# The export prefix, and a second message's chain (bridge seq 2, prev seq).
t_export_prefix() {
	local l1 l2
	bridge_start ea A --export 'p.>' --export-prefix site-a
	nats_sub n 'site-a.>' 2
	inA "$EVBUS" pub p.x 1 && inA "$EVBUS" pub p.y 2 || die "pub failed"
	wait_count "$tmp/n.out" 2 || die "not both arrived"
	l1=$(sed -n 1p "$tmp/n.out") l2=$(sed -n 2p "$tmp/n.out")
	expect_eq site-a.p.x "${l1%%|*}" "subject 1"
	expect_eq site-a.p.y "${l2%%|*}" "subject 2"
	expect_eq p.y "$(hdr "$l2" Evbus-Topic)" "Evbus-Topic"
	expect_eq 2 "$(hdr "$l2" Evbus-Bridge-Seq)" "second Evbus-Bridge-Seq"
	expect_eq "$(hdr "$l1" Evbus-Seq)" "$(hdr "$l2" Evbus-Prev-Seq)" "Evbus-Prev-Seq"
	bridge_stop ea
}

# Imported: type, corr, parent from the headers; the origin event after it;
# a plain NATS message without origin; a subject evbus cannot name.
t_import_fields() {
	local ev orig url=nats://127.0.0.1:$port
	bridge_start ib B --import 'i.>' --import-prefix remote
	sub_start s B 'remote.>'
	"$TOOL" pub "$url" i.x 1 Evbus-Origin=0123abcd-9 Evbus-Seq=77 Evbus-Type=3 \
		Evbus-Corr=11 Evbus-Parent=76 Evbus-Time-Ns=1234 Evbus-Pid=555 Evbus-Uid=1000 \
		Evbus-Gid=100 Evbus-Host=far Evbus-Topic=i.x Evbus-Bridge=r1 Evbus-Bridge-Seq=1 || die "pub"
	"$TOOL" pub "$url" 'i.a/b' 1 || die "pub"
	"$TOOL" pub "$url" i.plain 1 || die "pub"
	wait_for "$tmp/s.out" '"topic":"remote.i.plain"' || die "plain message not imported"
	sub_stop s
	ev=$(jq -c 'select(.topic == "remote.i.x")' "$tmp/s.out")
	expect_eq 3 "$(jq .type <<<"$ev")" "type"
	expect_eq 11 "$(jq .corr <<<"$ev")" "corr"
	expect_eq 76 "$(jq .parent <<<"$ev")" "parent"
	expect_eq 1 "$(jq -r .payload <<<"$ev")" "payload"
	orig=$(jq -c 'select(.topic == "remote._evbus.origin")' "$tmp/s.out")
	[ -n "$orig" ] || die "no origin event: $(cat "$tmp/s.out")"
	expect_eq "$(jq .seq <<<"$ev")" "$(jq .parent <<<"$orig")" "origin event's parent"
	expect_eq 77 "$(jq .corr <<<"$orig")" "origin event's corr"
	expect_eq '0123abcd-9 77 1234 555 1000 100 far i.x' \
		"$(jq -r '.payload | fromjson | "\(.origin) \(.origin_seq) \(.time_ns) \(.pid) \(.uid) \(.gid) \(.host) \(.topic)"' <<<"$orig")" \
		"origin event"
	expect_eq 1 "$(jq -c 'select(.topic == "remote._evbus.origin")' "$tmp/s.out" | wc -l)" \
		"origin events (none for a plain message)"
	bridge_stop ib
	expect_eq 2 "$(ctr ib imported)" "imported"
	expect_eq 1 "$(ctr ib invalid)" "invalid"
	grep -q "subject 'i.a/b' is no evbus topic" "$tmp/ib.err" || die "no message for i.a/b: $(cat "$tmp/ib.err")"
}

# A run's bridge seq jumping from 2 to 5: 2 messages lost in transit,
# between the origin seqs after 20 and up to 40; a repeated one is
# dropped.  A jump in a pattern the imports do not wholly take (g.x.>
# under an export of g.>) is what they did not ask for: no report.
t_transit_gap() {
	local url=nats://127.0.0.1:$port lag
	bridge_start ib B --import 'g.x.>' --import 'g.x'
	sub_start s B 'g.>' '_evbus.lag.>'
	for h in "g.> 1 10 0" "g.x.> 1 10 0" "g.x.> 2 20 10" "g.x.> 2 20 10" "g.> 3 30 10" \
		"g.x.> 5 50 40"; do
		set -- $h
		"$TOOL" pub "$url" g.x 1 Evbus-Origin=feed-1 Evbus-Bridge=run1 Evbus-Export=$1 \
			Evbus-Bridge-Seq=$2 Evbus-Seq=$3 Evbus-Prev-Seq=$4 || die "pub"
	done
	"$TOOL" pub "$url" g.x.end 1 || die "pub"
	wait_for "$tmp/s.out" '"topic":"g.x.end"' || die "g.x.end never arrived: $(cat "$tmp/s.out")"
	sub_stop s
	expect_eq 5 "$(jq -c 'select(.topic == "g.x")' "$tmp/s.out" | wc -l)" "events"
	lag=$(jq -r 'select(.topic == "_evbus.lag.feed-1") | .payload' "$tmp/s.out")
	expect_eq 'transit 2 21 40 run1' "$(jq -r '"\(.cause) \(.lost) \(.first_seq) \(.last_seq) \(.bridge)"' <<<"$lag")" "lag report"
	bridge_stop ib
	expect_eq 1 "$(ctr ib duplicates)" "duplicates"
	expect_eq 2 "$(ctr ib transit_lost)" "transit_lost"
}

# A stopped bridge's ring overflows: the LAGGED range reaches the far bus,
# and every event arrived once or is counted there.
t_conservation_lag() {
	local N=400
	bridge_start ea A --export 'c.>' --ring 4096
	bridge_start ib B --import 'c.>'
	sub_start s B 'c.>' '_evbus.lag.>'
	kill -STOP "$(cat "$tmp/ea.pid")"
	seq 1 $N | inA "$EVBUS" pub -v c.n >"$tmp/seqs" || die "pub failed"
	kill -CONT "$(cat "$tmp/ea.pid")"
	inA "$EVBUS" pub c.end x || die "pub failed"
	wait_for "$tmp/s.out" '"topic":"c.end"' || die "c.end never arrived"
	sub_stop s
	check_conservation "$tmp/s.out" c.n "$tmp/seqs"
	[ "$(jq -c 'select(.topic | startswith("_evbus.lag."))' "$tmp/s.out" | wc -l)" -ge 1 ] ||
		die "a 4 KiB ring held $N events?"
	jq -r 'select(.topic | startswith("_evbus.lag.")) | .payload | fromjson | .cause' "$tmp/s.out" |
		sort -u | grep -qx ring || die "the report's cause is not ring"
	bridge_stop ea
	bridge_stop ib
	[ "$(ctr ea lag_msgs)" -ge 1 ] || die "exporter counted no lag"
	expect_eq "$(ctr ea exported)" "$(ctr ib imported)" "exported vs imported"
}

# Two bridges both exporting and importing e.>: each event once on each
# bus, nothing re-exported.  A marker from each side, sent after the
# events, proves that side's exporter has seen everything it imported.
t_no_echo() {
	local N=100
	bridge_start ba A --export 'e.>' --import 'e.>'
	bridge_start bb B --export 'e.>' --import 'e.>'
	sub_start sa A 'e.>'
	sub_start sb B 'e.>'
	seq 1 $N | inA "$EVBUS" pub e.a || die "pub A"
	seq 1 $N | inB "$EVBUS" pub e.b || die "pub B"
	wait_count "$tmp/sa.out" $N '"topic":"e.b"' || die "A got no $N e.b"
	wait_count "$tmp/sb.out" $N '"topic":"e.a"' || die "B got no $N e.a"
	inA "$EVBUS" pub e.mark-a x && inB "$EVBUS" pub e.mark-b x || die "pub marks"
	wait_for "$tmp/sa.out" '"topic":"e.mark-b"' && wait_for "$tmp/sb.out" '"topic":"e.mark-a"' ||
		die "marks never crossed"
	sub_stop sa
	sub_stop sb
	bridge_stop ba
	bridge_stop bb
	for f in sa sb; do
		expect_eq $((2 * N + 2)) "$(wc -l <"$tmp/$f.out")" "events on $f's bus"
		expect_eq $((2 * N)) "$(jq -r '"\(.topic) \(.payload)"' "$tmp/$f.out" | grep -v mark | sort -u | wc -l)" \
			"distinct events on $f's bus"
	done
	expect_eq $((N + 1)) "$(ctr ba exported)" "A exported"
	expect_eq $((N + 1)) "$(ctr bb exported)" "B exported"
	expect_eq $((N + 1)) "$(ctr ba skipped_own)" "A skipped its imports"
	expect_eq $((N + 1)) "$(ctr bb skipped_own)" "B skipped its imports"
	expect_eq 0 "$(ctr ba own_origin)" "A's own messages back"
}

# status NAME REGEX: until the bridge's SIGUSR1 status line matches.
status_until() {
	local p i
	p=$(cat "$tmp/$1.pid")
	for ((i = 0; i < 300; i++)); do
		kill -USR1 "$p"
		sleep 0.2
		grep 'bridge status:' "$tmp/$1.err" | tail -n1 | grep -Eq -- "$2" && return 0
	done
	return 1
}

# kill -9 of nats-server mid-stream, core NATS: the bridges reconnect.
# The exporter's reconnect buffer is small, and the server comes back only
# once it has refused messages: what was lost, in its buffer, in the
# server or before the importer subscribed again, is reported exactly on
# the far bus.
t_nats_kill_core() {
	local i ends=0
	bridge_start ea A --export 'k.>' --reconnect-wait 100 --reconnect-buffer 4K
	bridge_start ib B --import 'k.>' --reconnect-wait 100
	sub_start s B 'k.>' '_evbus.lag.>'
	(for ((i = 0; i < 40; i++)); do
		seq $((i * 50 + 1)) $((i * 50 + 50)) | inA "$EVBUS" pub -v k.n || exit 1
		sleep 0.05
	done) >"$tmp/seqs" &
	echo $! >"$tmp/pubs.pid"
	wait_count "$tmp/s.out" 300 || die "the stream never got going"
	nats_kill || die "nats-server would not die"
	status_until ea 'not_sent=[1-9]' || die "the exporter never refused a message"
	nats_start || die "nats-server did not restart"
	wait "$(cat "$tmp/pubs.pid")" || die "publisher failed"
	rm -f "$tmp/pubs.pid"
	# An end marker, again until one arrives: the far side then knows.
	for ((i = 0; i < 120; i++)); do
		inA "$EVBUS" pub k.end x; ends=$((ends + 1))
		wait_for "$tmp/s.out" '"topic":"k.end"' 5 && break
	done
	sub_stop s
	bridge_stop ea
	bridge_stop ib
	grep -q reconnected "$tmp/ea.err" || die "the exporter never reconnected: $(cat "$tmp/ea.err")"
	grep -Eq 'messages not sent to NATS \(seq [0-9]+\.\.[0-9]+\)' "$tmp/ea.err" ||
		die "the exporter did not report what it could not send: $(cat "$tmp/ea.err")"
	# End markers lost on the way are in the reports' counts too.
	check_conservation "$tmp/s.out" k.n "$tmp/seqs" \
		$((ends - $(grep -c '"topic":"k.end"' "$tmp/s.out")))
	[ "$(ctr ib transit_lost)" -ge "$(ctr ea not_sent)" ] ||
		die "the importer reported fewer than the exporter could not send"
	echo "# exporter: $(grep 'bridge exit' "$tmp/ea.err")"
	echo "# importer: $(grep 'bridge exit' "$tmp/ib.err")"
}

# state_acked FILE: the acked seq of a state file, 0 if none.
state_acked() { sed -n 's/^acked //p' "$1" 2>/dev/null || echo 0; }
# wait_acked FILE SEQ: until the bridge has SEQ acknowledged.
wait_acked() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(state_acked "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# check_stream STREAM SUBJECT SEQS: the stream holds every seq of SEQS on
# SUBJECT exactly once.
check_stream() {
	"$TOOL" js "nats://127.0.0.1:$port" "$1" >"$tmp/stream" || die "cannot read stream $1"
	grep "^$2|" "$tmp/stream" | cut -d'|' -f2 | tr ',' '\n' | sed -n 's/^Evbus-Seq=//p' |
		sort -n >"$tmp/stored"
	echo "# stream $1: $(wc -l <"$tmp/stored") of $(wc -l <"$3") stored, $(sort -u "$tmp/stored" | wc -l) distinct"
	expect_eq "$(sort -u "$tmp/stored" | wc -l)" "$(wc -l <"$tmp/stored")" "messages stored twice"
	cmp -s "$tmp/stored" <(sort -n "$3") || die "stored seqs differ from the published ones: $(diff "$tmp/stored" <(sort -n "$3") | head -5)"
}

# JetStream, kill -9 of nats-server mid-stream: nothing lost, nothing twice.
t_js_nats_kill() {
	local i
	bridge_start ea A --export 'j.>' --jetstream JK --state "$tmp/jk.state" --reconnect-wait 100
	(for ((i = 0; i < 30; i++)); do
		seq $((i * 50 + 1)) $((i * 50 + 50)) | inA "$EVBUS" pub -v j.n || exit 1
		sleep 0.05
	done) >"$tmp/seqs" &
	echo $! >"$tmp/pubs.pid"
	wait_acked "$tmp/jk.state" 1 && wait_count "$tmp/seqs" 300 || die "the stream never got going"
	nats_kill || die "nats-server would not die"
	nats_start || die "nats-server did not restart"
	wait "$(cat "$tmp/pubs.pid")" || die "publisher failed"
	rm -f "$tmp/pubs.pid"
	wait_acked "$tmp/jk.state" "$(tail -n1 "$tmp/seqs")" ||
		die "not all acknowledged: $(cat "$tmp/jk.state") $(tail -n3 "$tmp/ea.err")"
	bridge_stop ea
	check_stream JK j.n "$tmp/seqs"
	echo "# $(grep 'bridge exit' "$tmp/ea.err")"
}

# JetStream, kill -9 of the bridge mid-stream and a restart: it resumes
# from the state file through replay; nothing lost, nothing twice.
t_js_bridge_kill() {
	local i
	bridge_start ea A --export 'r.>' --jetstream JR --state "$tmp/jr.state"
	(for ((i = 0; i < 30; i++)); do
		seq $((i * 50 + 1)) $((i * 50 + 50)) | inA "$EVBUS" pub -v r.n || exit 1
		sleep 0.05
	done) >"$tmp/seqs" &
	echo $! >"$tmp/pubs.pid"
	wait_count "$tmp/seqs" 300 && wait_acked "$tmp/jr.state" 1 || die "the stream never got going"
	kill -KILL "$(cat "$tmp/ea.pid")"
	wait "$(cat "$tmp/ea.pid")" 2>/dev/null
	echo "# killed at acked $(state_acked "$tmp/jr.state")"
	wait "$(cat "$tmp/pubs.pid")" || die "publisher failed"
	rm -f "$tmp/pubs.pid"
	mv "$tmp/ea.err" "$tmp/ea1.err"
	bridge_start ea A --export 'r.>' --jetstream JR --state "$tmp/jr.state"
	grep -q 'resuming after seq' "$tmp/ea.err" || die "no resume: $(cat "$tmp/ea.err")"
	wait_acked "$tmp/jr.state" "$(tail -n1 "$tmp/seqs")" || die "not all acknowledged"
	bridge_stop ea
	check_stream JR r.n "$tmp/seqs"
}

# JetStream: the bridge's ring overflows while it is stopped; it takes the
# lost range from the bus's history, so the stream still has everything.
t_js_ring_rewind() {
	bridge_start ea A --export 'w.>' --jetstream JW --state "$tmp/jw.state" --ring 4096
	kill -STOP "$(cat "$tmp/ea.pid")"
	seq 1 400 | inA "$EVBUS" pub -v w.n >"$tmp/seqs" || die "pub failed"
	kill -CONT "$(cat "$tmp/ea.pid")"
	wait_acked "$tmp/jw.state" "$(tail -n1 "$tmp/seqs")" || die "not all acknowledged"
	bridge_stop ea
	[ "$(ctr ea rewinds)" -ge 1 ] || die "no rewind: $(cat "$tmp/ea.err")"
	expect_eq 0 "$(ctr ea lag_msgs)" "lag messages"
	check_stream JW w.n "$tmp/seqs"
}

# Under a scoped handle: the bridge may export only what the scope allows.
t_scoped_handle() {
	local rc=0
	inA "$EVBUS" exec --subscribe 'ok.>' --publish 'ok.>' -- "$EVBUS" bridge \
		--server "nats://127.0.0.1:$port" --export 'no.>' 2>"$tmp/err" || rc=$?
	expect_eq 1 $rc "exit status outside the scope"
	grep -q "cannot subscribe to 'no.>'" "$tmp/err" && grep -q EACCES "$tmp/err" ||
		die "message: $(cat "$tmp/err")"
	nsenter -t "$nsA" -i "$EVBUS" exec --subscribe 'ok.>' --publish 'ok.>' -- "$EVBUS" bridge \
		--server "nats://127.0.0.1:$port" --export 'ok.>' --ready 2>"$tmp/ok.err" &
	echo $! >"$tmp/ok.pid"
	wait_for "$tmp/ok.err" '^ready$' 300 || die "not ready within its scope: $(cat "$tmp/ok.err")"
}

# Bad input: exit 2 and a precise message, or 1 for what fails at run time.
t_bad_input() {
	local rc out
	check() {	# check RC REGEX ARGS...
		local want=$1 re=$2
		shift 2
		rc=0
		out=$(inA "$EVBUS" bridge "$@" 2>&1) || rc=$?
		expect_eq "$want" "$rc" "exit status of bridge $*"
		grep -Eq -- "$re" <<<"$out" || die "bridge $*: message '$out' lacks /$re/"
	}
	check 2 'nothing to do'
	check 2 "kernel topics \(\\\$sys\)" --export '$sys.>'
	check 2 "NATS's system subjects" --import '$JS.API.>'
	check 2 "invalid --export 'a..b'" --export 'a..b'
	check 2 "invalid --import-prefix" --import a --import-prefix 'x.*'
	check 2 'needs --state' --export a --jetstream S
	check 2 'go together' --export a --tls-cert c
	check 2 'go together' --export a --user u
	check 2 "reconnect-buffer needs a size" --export a --reconnect-buffer 0
	check 2 "invalid stream name 'a.b'" --export a --jetstream a.b --state x
	check 2 'at most 16' $(for i in $(seq 17); do echo --export "a$i"; done)
	check 2 "unknown option '--bogus'" --bogus
	check 2 "too long|more than" --import "$(printf 'a.%.0s' $(seq 10))b" --import-prefix "$(printf 'p.%.0s' $(seq 10))q"
	# Run time: no server there (the port of a server that is stopped).
	check 1 'cannot connect to NATS' --server nats://127.0.0.1:1 --export a
	check 1 'cannot load|credentials|No such file' --server "nats://127.0.0.1:$port" --creds /nonexistent --export a
	echo garbage >"$tmp/bad.state"
	check 1 'not a bridge state file' --server "nats://127.0.0.1:$port" --export a --jetstream S \
		--state "$tmp/bad.state"
}

# ---------------------------------------------------------------------------
ip link set lo up 2>/dev/null
if ! nats_start; then
	echo "# nats-server would not start: $(tail -n3 "$tmp"/nats.*.log 2>/dev/null)"
	skip_all "nats-server would not start on 127.0.0.1"
fi
echo "# nats-server $(nats-server --version 2>&1) on 127.0.0.1:$port"
unshare -i sleep 100000 & nsA=$!
unshare -i sleep 100000 & nsB=$!
disown $nsA $nsB
sleep 0.2	# let unshare get in (checked below)
[ "$(readlink /proc/$nsA/ns/ipc)" != "$(readlink /proc/$nsB/ns/ipc)" ] &&
[ "$(readlink /proc/$nsA/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ] ||
	{ echo "# the two namespaces are not separate"; exit 1; }

for t in headers export_prefix import_fields transit_gap conservation_lag no_echo \
	nats_kill_core js_nats_kill js_bridge_kill js_ring_rewind scoped_handle bad_input; do
	case " ${BRIDGE_TESTS:-$t} " in *" $t "*) run_test "$t" ;; esac
done
tap_end
