#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of 'evbus record' in the VM: every field of every event round-trips
# (compared with 'evbus sub --json' of the same events), batched commits,
# exact gap rows from a forced lag, --query, resume after SIGKILL with
# every seq recorded once (SQLite and PostgreSQL), refused writes (a full
# tmpfs, a read-only PostgreSQL database, a stopped server) and bad input.
# PostgreSQL runs from /usr/lib/postgresql/15/bin as the postgres user, on
# 127.0.0.1 and a socket in the test's directory, and is stopped at exit.
# Installed as build/ksft/ops_record; prints kselftest-style totals.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/harness.sh
. "$here/harness.sh" 2>/dev/null || . "$here/../lib/harness.sh"
find_prog EVBUS bin/evbus record_test
WAIT_TENTHS=300
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evbus-rec.XXXXXX")
chmod 755 "$tmp"
pg_port=
pg_stop() {
	[ -n "$pg_port" ] || return 0
	asuser "$PGBIN/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1
	pg_port=
}
cleanup() {
	reap
	pg_stop
	mountpoint -q "$tmp/full" 2>/dev/null && umount "$tmp/full"
	rm -rf "$tmp"
}
trap cleanup EXIT

T=rectest$$

asuser() { setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"; }

# rec_start NAME ARGS...: a recorder in the background, once it subscribed.
rec_start() {
	local name=$1; shift
	"$EVBUS" record "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	wait_for "$tmp/$name.err" 'recording into|evbus: ' ||
		die "recorder $name did not start: $(cat "$tmp/$name.err")"
	grep -q 'recording into' "$tmp/$name.err" ||
		die "recorder $name failed: $(cat "$tmp/$name.err")"
}
# rec_stop NAME [SIG]: signal it and wait; its status in $rec_rc.
rec_stop() {
	local p; p=$(cat "$tmp/$1.pid")
	kill -"${2:-TERM}" "$p" 2>/dev/null
	rec_rc=0
	wait "$p" || rec_rc=$?
	rm -f "$tmp/$1.pid"
}
sq() { sqlite3 -batch -noheader "$@"; }
# wait_seq DBCMD SEQ: until the highest seq recorded reaches SEQ (30 s).
wait_seq() {
	local i v
	for ((i = 0; i < 300; i++)); do
		v=$($1 "SELECT coalesce(max(seq), 0) FROM evbus_events" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
		sleep 0.1
	done
	die "the database never reached seq $2 (at ${v:-?})"
}
# publish N TOPIC: N events (payload "e<i>"), their seqs appended to FILE $3.
publish() {
	seq "$1" | sed 's/^/e/' | "$EVBUS" pub -v "$2" >>"$3" || die "pub failed"
}
# check_conservation DBCMD SEQFILE: every published seq recorded exactly
# once, no gap row, and nothing else on the topic.
check_conservation() {
	local db=$1 seqs=$2
	$db "SELECT seq FROM evbus_events ORDER BY seq" >"$tmp/got" || die "select failed"
	sort -n "$seqs" >"$tmp/want"
	[ "$(sort -n "$tmp/got" | uniq -d | wc -l)" = 0 ] || die "duplicate seqs"
	cmp -s "$tmp/want" "$tmp/got" || die "recorded seqs differ from published: $(diff "$tmp/want" "$tmp/got" | head -5) ($(wc -l <"$tmp/want") published, $(wc -l <"$tmp/got") recorded)"
	expect_eq 0 "$($db "SELECT count(*) FROM evbus_gaps")" "gap rows"
}

# --- bad input ---------------------------------------------------------------
t_no_backend() { expect_fail 2 'needs --sqlite FILE or --postgres' "$EVBUS" record 'a.>'; }
t_both_backends() {
	expect_fail 2 'exclude each other' "$EVBUS" record --sqlite "$tmp/x.db" --postgres 'dbname=x' 'a.>'
}
t_unknown_option() { expect_fail 2 "unknown option '--bogus'" "$EVBUS" record --sqlite "$tmp/x.db" --bogus 'a.>'; }
t_no_pattern() { expect_fail 2 'at least one PATTERN' "$EVBUS" record --sqlite "$tmp/x.db"; }
t_bad_pattern() { expect_fail 2 "invalid pattern 'a..b'" "$EVBUS" record --sqlite "$tmp/x.db" 'a..b'; }
t_bad_batch() {
	expect_fail 2 "--batch wants" "$EVBUS" record --sqlite "$tmp/x.db" --batch 0 'a.>'
	expect_fail 2 "--flush-ms wants" "$EVBUS" record --sqlite "$tmp/x.db" --flush-ms x 'a.>'
}
t_query_with_pattern() { expect_fail 2 'takes no PATTERN' "$EVBUS" record --sqlite "$tmp/x.db" --query 'a.>'; }
t_query_missing_file() {
	expect_fail 1 '^evbus: sqlite: cannot open .*nothere.db: unable to open database file' \
		"$EVBUS" record --sqlite "$tmp/nothere.db" --query
}
t_bad_conninfo() {
	need_device
	expect_fail 1 '^evbus: postgres: cannot connect: .*(invalid connection option|missing "=")' \
		"$EVBUS" record --postgres 'nosuchkey=1' "$T.bad.>"
}
t_unwritable_file() {
	need_device
	expect_fail 1 '^evbus: sqlite: cannot open /proc/evbus-nope.db' \
		"$EVBUS" record --sqlite /proc/evbus-nope.db "$T.bad.>"
}
t_replay_refused() {
	need_device
	local db=$tmp/rr/replay.db pid mode
	mkdir -p "$tmp/rr"
	rec_start r --sqlite "$db" "$T.rr.>"
	publish 3 "$T.rr.x" "$tmp/rr.seqs"
	wait_seq "sq $db" "$(tail -n1 "$tmp/rr.seqs")"
	rec_stop r
	# The policy withholds replay from uid 65534: its resume is refused.
	chown -R 65534:65534 "$tmp/rr" || die "chown failed"
	mode=$(stat -c %a /dev/evbus)
	chmod 0666 /dev/evbus
	pid=$("$EVBUS" policy add deny replay --uid 65534 "$T.rr.>") || die "policy add failed"
	expect_fail 1 "replay from seq .*EACCES" setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$EVBUS" record --sqlite "$db" "$T.rr.>"
	chmod "$mode" /dev/evbus
	"$EVBUS" policy clear >/dev/null
}
t_other_patterns() {
	need_device
	local db=$tmp/pats.db
	rec_start r --sqlite "$db" "$T.op.>"
	publish 2 "$T.op.x" "$tmp/op.seqs"
	wait_seq "sq $db" "$(tail -n1 "$tmp/op.seqs")"
	rec_stop r
	expect_fail 1 "records the patterns '$T.op.>', not '$T.other.>'" \
		"$EVBUS" record --sqlite "$db" "$T.other.>"
}
t_other_bus() {
	need_device
	local db=$tmp/bus.db
	rec_start r --sqlite "$db" "$T.ob.>"
	publish 2 "$T.ob.x" "$tmp/ob.seqs"
	wait_seq "sq $db" "$(tail -n1 "$tmp/ob.seqs")"
	rec_stop r
	sq "$db" "UPDATE evbus_meta SET value = '999999' WHERE key = 'bus_id'"
	expect_fail 1 "holds events of bus 999999, this is bus" "$EVBUS" record --sqlite "$db" "$T.ob.>"
	# A recorded seq beyond the bus's newest: ERANGE, whatever the meta says.
	sq "$db" "UPDATE evbus_meta SET value = (SELECT value FROM evbus_meta WHERE key = 'x') WHERE 0;
		  DELETE FROM evbus_meta WHERE key = 'bus_id';
		  INSERT INTO evbus_gaps VALUES (4000000000000, 4000000000000, 1, 0)"
	expect_fail 1 "beyond this bus's newest event \(ERANGE\)" "$EVBUS" record --sqlite "$db" "$T.ob.>"
}

# --- SQLite --------------------------------------------------------------------
t_sqlite_roundtrip() {
	need_device
	local db=$tmp/rt.db
	"$EVBUS" sub --json --ready "$T.rt.>" >"$tmp/rt.sub" 2>"$tmp/rt.suberr" &
	echo $! >"$tmp/rtsub.pid"
	wait_for "$tmp/rt.suberr" '^ready$' || die "sub not ready"
	rec_start r --sqlite "$db" "$T.rt.>"
	"$EVBUS" pub --type 7 --corr 18446744073709551615 --parent 3 "$T.rt.a" "$(printf 'bin\xff\x01\x80end')" >/dev/null
	"$EVBUS" pub "$T.rt.b" '' >/dev/null
	"$EVBUS" pub --type 4294967295 --corr 5 "$T.rt.c.d" 'text "quoted" \ é' >/dev/null
	printf 'l1\nl2\nl3\n' | "$EVBUS" pub -v "$T.rt.e" >"$tmp/rt.seqs"
	"$EVBUS" pub "$T.other" 'not recorded' >/dev/null
	wait_seq "sq $db" "$(tail -n1 "$tmp/rt.seqs")"
	rec_stop r
	expect_eq 0 "$rec_rc" "recorder exit status"
	kill "$(cat "$tmp/rtsub.pid")"; wait "$(cat "$tmp/rtsub.pid")"; rm -f "$tmp/rtsub.pid"
	"$EVBUS" record --sqlite "$db" --query --json >"$tmp/rt.q" || die "query failed"
	expect_eq 6 "$(wc -l <"$tmp/rt.q")" "rows"
	cmp "$tmp/rt.sub" "$tmp/rt.q" || die "query differs from sub --json: $(diff "$tmp/rt.sub" "$tmp/rt.q")"
	# The binary payload, byte for byte in the BLOB.
	expect_eq "62696EFF0180656E64" "$(sq "$db" "SELECT hex(payload) FROM evbus_events WHERE topic = '$T.rt.a'")" "payload"
	expect_eq "-1|7|3" "$(sq "$db" "SELECT corr, type, parent FROM evbus_events WHERE topic = '$T.rt.a'")" "corr|type|parent"
}
t_sqlite_schema_meta() {
	need_device
	local db=$tmp/rt.db
	expect_eq 1 "$(sq "$db" "SELECT value FROM evbus_meta WHERE key = 'schema_version'")" "schema_version"
	expect_eq "$T.rt.>" "$(sq "$db" "SELECT value FROM evbus_meta WHERE key = 'patterns'")" "patterns"
	[ -n "$(sq "$db" "SELECT value FROM evbus_meta WHERE key = 'bus_id'")" ] || die "no bus_id"
}
t_query_filters() {
	need_device
	local db=$tmp/rt.db first
	first=$(head -n1 "$tmp/rt.seqs")
	"$EVBUS" record --sqlite "$db" --query --json --since "$first" >"$tmp/q1" || die "query failed"
	expect_eq 3 "$(wc -l <"$tmp/q1")" "rows since $first"
	"$EVBUS" record --sqlite "$db" --query --json --topic "$T.rt.c.*" >"$tmp/q2" || die "query failed"
	expect_eq 1 "$(wc -l <"$tmp/q2")" "rows on $T.rt.c.*"
	grep -q '"payload":"text \\"quoted\\" \\\\ é"' "$tmp/q2" || die "payload: $(cat "$tmp/q2")"
	"$EVBUS" record --sqlite "$db" --query --topic "$T.rt.e" >"$tmp/q3" || die "query failed"
	expect_eq 3 "$(grep -c "$T.rt.e" "$tmp/q3")" "human rows"
}
t_batched_commits() {
	need_device
	local db=$tmp/batch.db last
	# A batch of 50 and a flush far away: 120 events commit as 50 + 50, the
	# last 20 only at SIGTERM.
	rec_start r --sqlite "$db" --batch 50 --flush-ms 3600000 "$T.bt.>"
	publish 120 "$T.bt.x" "$tmp/bt.seqs"
	last=$(sed -n 100p "$tmp/bt.seqs")
	wait_seq "sq $db" "$last"
	expect_eq 100 "$(sq "$db" "SELECT count(*) FROM evbus_events")" "rows committed before the stop"
	rec_stop r
	expect_eq 0 "$rec_rc" "exit status"
	expect_eq 120 "$(sq "$db" "SELECT count(*) FROM evbus_events")" "rows after SIGTERM"
	grep -q "stopped: 120 events, 0 gaps, .* committed through seq $(tail -n1 "$tmp/bt.seqs")\$" "$tmp/r.err" ||
		die "final line: $(cat "$tmp/r.err")"
}
t_gap_rows() {
	need_device
	local db=$tmp/gap.db p
	rec_start r --sqlite "$db" --ring 4K "$T.gp.>"
	p=$(cat "$tmp/r.pid")
	kill -STOP "$p"
	publish 500 "$T.gp.x" "$tmp/gp.seqs"
	kill -CONT "$p"
	wait_seq "sq $db" "$(tail -n1 "$tmp/gp.seqs")"
	rec_stop r
	local ev lost span
	ev=$(sq "$db" "SELECT count(*) FROM evbus_events")
	lost=$(sq "$db" "SELECT coalesce(sum(lost), 0) FROM evbus_gaps")
	span=$(sq "$db" "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM evbus_gaps")
	[ "$lost" -gt 0 ] || die "no gap with a 4K ring and 500 events"
	expect_eq 500 "$((ev + lost))" "events + lost"
	expect_eq "$lost" "$span" "gap ranges cover exactly the lost seqs"
	# No recorded event inside a gap.
	expect_eq 0 "$(sq "$db" "SELECT count(*) FROM evbus_events e JOIN evbus_gaps g ON e.seq BETWEEN g.first_seq AND g.last_seq")" "events inside gaps"
	"$EVBUS" record --sqlite "$db" --query --json | grep -c '"lagged"' >"$tmp/gp.n"
	expect_eq "$(sq "$db" "SELECT count(*) FROM evbus_gaps")" "$(cat "$tmp/gp.n")" "gap rows in --query"
}
t_history_gap() {
	need_device
	local db=$tmp/hgap.db first ev lost cap
	# A 4 KiB history (emptied) holds a few of 200 events: a new database
	# started at the first of them gets the evicted ones as history gap
	# rows and the rest as replayed events, exactly 200 seqs in all.
	cap=$("$EVBUS" history --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["capacity"])') ||
		die "cannot read the history's capacity"
	"$EVBUS" history --set-capacity 4096 >/dev/null || die "cannot size the history"
	publish 200 "$T.hg.x" "$tmp/hg.seqs"
	first=$(head -n1 "$tmp/hg.seqs")
	rec_start r --sqlite "$db" --since "$first" "$T.hg.>"
	wait_seq "sq $db" "$(tail -n1 "$tmp/hg.seqs")"
	rec_stop r
	"$EVBUS" history --set-capacity "$cap" >/dev/null
	ev=$(sq "$db" "SELECT count(*) FROM evbus_events")
	lost=$(sq "$db" "SELECT coalesce(sum(lost), 0) FROM evbus_gaps")
	[ "$lost" -gt 0 ] && [ "$ev" -gt 0 ] || die "$ev events, $lost lost: expected both"
	expect_eq 200 "$((ev + lost))" "events + lost"
	expect_eq "$first" "$(sq "$db" "SELECT min(first_seq) FROM evbus_gaps")" "first gap seq"
	expect_eq 0 "$(sq "$db" "SELECT count(*) FROM evbus_gaps WHERE flags & 1 = 0")" "gaps without the history flag"
	expect_eq "$ev" "$(sq "$db" "SELECT count(*) FROM evbus_events WHERE flags & 1 = 1")" "events flagged replayed"
}
t_sigusr1_progress() {
	need_device
	local db=$tmp/usr1.db
	rec_start r --sqlite "$db" "$T.u1.>"
	publish 5 "$T.u1.x" "$tmp/u1.seqs"
	wait_seq "sq $db" "$(tail -n1 "$tmp/u1.seqs")"
	kill -USR1 "$(cat "$tmp/r.pid")"
	wait_for "$tmp/r.err" "^evbus record: 5 events, 0 gaps, .*committed through seq $(tail -n1 "$tmp/u1.seqs")\$" ||
		die "no progress line on SIGUSR1: $(cat "$tmp/r.err")"
	rec_stop r
	expect_eq 0 "$rec_rc" "exit status"
}
t_sqlite_kill9_conservation() {
	need_device
	local db=$tmp/k9.db i
	rec_start r --sqlite "$db" --batch 64 "$T.k9.>"
	( for i in $(seq 30); do publish 100 "$T.k9.x" "$tmp/k9.seqs"; sleep 0.05; done ) &
	echo $! >"$tmp/k9pub.pid"
	for i in 1 2 3 4 5; do
		sleep 0.3
		rec_stop r KILL
		rec_start r --sqlite "$db" --batch 64 "$T.k9.>"
	done
	wait "$(cat "$tmp/k9pub.pid")"; rm -f "$tmp/k9pub.pid"
	expect_eq 3000 "$(wc -l <"$tmp/k9.seqs")" "published"
	wait_seq "sq $db" "$(tail -n1 "$tmp/k9.seqs")"
	rec_stop r
	check_conservation "sq $db" "$tmp/k9.seqs"
}
t_sqlite_disk_full() {
	need_device
	local db=$tmp/full/f.db committed big
	mkdir -p "$tmp/full"
	mount -t tmpfs -o size=160k tmpfs "$tmp/full" || { echo "cannot mount a tmpfs"; exit 77; }
	big=$(head -c 1500 /dev/zero | tr '\0' 'x')
	"$EVBUS" record --sqlite "$db" --batch 10 "$T.df.>" >"$tmp/df.out" 2>"$tmp/df.err" &
	echo $! >"$tmp/df.pid"
	wait_for "$tmp/df.err" 'recording into' || die "no start: $(cat "$tmp/df.err")"
	for i in $(seq 400); do echo "$i$big"; done | "$EVBUS" pub -v "$T.df.x" >"$tmp/df.seqs"
	rec_rc=0
	wait "$(cat "$tmp/df.pid")" || rec_rc=$?; rm -f "$tmp/df.pid"
	expect_eq 1 "$rec_rc" "exit status on a full disk"
	grep -qE '^evbus: sqlite: cannot (insert an event into|commit to|begin a transaction in) .*full' "$tmp/df.err" ||
		die "message: $(cat "$tmp/df.err")"
	committed=$(sed -n 's/.*stopped on an error: .* committed through seq \([0-9]*\)$/\1/p' "$tmp/df.err")
	[ -n "$committed" ] || die "no final line: $(cat "$tmp/df.err")"
	# Everything reported committed is there.
	expect_eq "$committed" "$(sq "$db" "SELECT coalesce(max(seq), 0) FROM evbus_events")" "committed seq"
	awk -v c="$committed" '$1 <= c' "$tmp/df.seqs" >"$tmp/df.want"
	sq "$db" "SELECT seq FROM evbus_events ORDER BY seq" >"$tmp/df.got"
	cmp -s "$tmp/df.want" "$tmp/df.got" || die "committed rows differ"
	# More room, a restart: the rest, from the history, exactly once.
	mount -o remount,size=16m "$tmp/full" || die "remount failed"
	rec_start r2 --sqlite "$db" "$T.df.>"
	wait_seq "sq $db" "$(tail -n1 "$tmp/df.seqs")"
	rec_stop r2
	check_conservation "sq $db" "$tmp/df.seqs"
}

# --- PostgreSQL -----------------------------------------------------------------
pg_start() {
	local try
	[ -x "$PGBIN/initdb" ] || { echo "no $PGBIN/initdb"; return 1; }
	id postgres >/dev/null 2>&1 || { echo "no postgres user"; return 1; }
	ip link set lo up 2>/dev/null
	mkdir -p "$tmp/pg" "$tmp/pgsock" && chown postgres: "$tmp/pg" "$tmp/pgsock"
	asuser "$PGBIN/initdb" -D "$tmp/pg" -U postgres --auth=trust -E UTF8 \
		--no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; return 1; }
	for try in 1 2 3 4 5 6 7 8; do
		pg_port=$((20000 + (RANDOM % 20000)))
		if asuser "$PGBIN/pg_ctl" -D "$tmp/pg" -l "$tmp/pgsock/log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $tmp/pgsock -c fsync=on" \
			start >/dev/null 2>&1; then
			break
		fi
		pg_port=
	done
	[ -n "$pg_port" ] || { cat "$tmp/pgsock/log"; return 1; }
	psqlc postgres "CREATE DATABASE evrec" >/dev/null
}
psqlc() { local db=$1; shift; "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -c "$@"; }
pq() { psqlc evrec "$@"; }
CI() { echo "host=127.0.0.1 port=$pg_port user=postgres dbname=evrec"; }

need_pg() { [ -n "$pg_port" ] || { echo "PostgreSQL did not start"; exit 77; }; }
t_pg_roundtrip() {
	need_device; need_pg
	"$EVBUS" sub --json --ready "$T.pg.>" >"$tmp/pg.sub" 2>"$tmp/pg.suberr" &
	echo $! >"$tmp/pgsub.pid"
	wait_for "$tmp/pg.suberr" '^ready$' || die "sub not ready"
	rec_start r --postgres "$(CI)" "$T.pg.>"
	"$EVBUS" pub --type 9 --corr 18446744073709551615 --parent 2 "$T.pg.a" "$(printf 'b\xffx\x01')" >/dev/null
	"$EVBUS" pub "$T.pg.b" '' >/dev/null
	printf 'p1\np2\n' | "$EVBUS" pub -v "$T.pg.c" >"$tmp/pg.seqs"
	wait_seq pq "$(tail -n1 "$tmp/pg.seqs")"
	rec_stop r
	expect_eq 0 "$rec_rc" "exit status"
	kill "$(cat "$tmp/pgsub.pid")"; wait "$(cat "$tmp/pgsub.pid")"; rm -f "$tmp/pgsub.pid"
	"$EVBUS" record --postgres "$(CI)" --query --json >"$tmp/pg.q" || die "query failed"
	expect_eq 4 "$(wc -l <"$tmp/pg.q")" "rows"
	cmp "$tmp/pg.sub" "$tmp/pg.q" || die "query differs from sub --json: $(diff "$tmp/pg.sub" "$tmp/pg.q")"
	expect_eq '\x62ff7801' "$(pq "SELECT payload FROM evbus_events WHERE topic = '$T.pg.a'")" "payload"
	expect_eq "-1|9|2" "$(pq "SELECT corr, type, parent FROM evbus_events WHERE topic = '$T.pg.a'" | tr -d ' ')" "corr|type|parent"
	expect_eq 1 "$(pq "SELECT value FROM evbus_meta WHERE key = 'schema_version'")" "schema_version"
}
t_pg_kill9_conservation() {
	need_device; need_pg
	local i
	pq "TRUNCATE evbus_events, evbus_gaps, evbus_meta"
	rec_start r --postgres "$(CI)" --batch 64 "$T.pk.>"
	( for i in $(seq 30); do publish 100 "$T.pk.x" "$tmp/pk.seqs"; sleep 0.05; done ) &
	echo $! >"$tmp/pkpub.pid"
	for i in 1 2 3 4 5; do
		sleep 0.3
		rec_stop r KILL
		rec_start r --postgres "$(CI)" --batch 64 "$T.pk.>"
	done
	wait "$(cat "$tmp/pkpub.pid")"; rm -f "$tmp/pkpub.pid"
	wait_seq pq "$(tail -n1 "$tmp/pk.seqs")"
	rec_stop r
	check_conservation pq "$tmp/pk.seqs"
}
t_pg_read_only() {
	need_device; need_pg
	pq "TRUNCATE evbus_events, evbus_gaps, evbus_meta"
	rec_start r --postgres "$(CI)" "$T.ro.>"
	publish 50 "$T.ro.x" "$tmp/ro.seqs"
	wait_seq pq "$(tail -n1 "$tmp/ro.seqs")"
	# Read-only from now on, and the recorder's session ended.
	pq "ALTER DATABASE evrec SET default_transaction_read_only = on"
	pq "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'evrec' AND pid <> pg_backend_pid()" >/dev/null
	publish 50 "$T.ro.x" "$tmp/ro.seqs"
	rec_rc=0; wait "$(cat "$tmp/r.pid")" || rec_rc=$?; rm -f "$tmp/r.pid"
	expect_eq 1 "$rec_rc" "exit status"
	grep -qE '^evbus: postgres: cannot (insert|begin|commit).*(terminat|connection)' "$tmp/r.err" || die "message: $(cat "$tmp/r.err")"
	# A restart meets the read-only database: a clear refusal.
	expect_fail 1 '^evbus: postgres: .*read-only transaction' "$EVBUS" record --postgres "$(CI)" "$T.ro.>"
	psqlc postgres "ALTER DATABASE evrec RESET default_transaction_read_only"
	rec_start r --postgres "$(CI)" "$T.ro.>"
	wait_seq pq "$(tail -n1 "$tmp/ro.seqs")"
	rec_stop r
	check_conservation pq "$tmp/ro.seqs"
}
t_pg_permission_denied() {
	need_device; need_pg
	pq "TRUNCATE evbus_events, evbus_gaps, evbus_meta"
	pq "CREATE ROLE rec LOGIN; GRANT SELECT, INSERT, UPDATE ON evbus_events, evbus_gaps, evbus_meta TO rec; GRANT CREATE ON SCHEMA public TO rec"
	local ci="host=127.0.0.1 port=$pg_port user=rec dbname=evrec"
	rec_start r --postgres "$ci" "$T.pd.>"
	publish 20 "$T.pd.x" "$tmp/pd.seqs"
	wait_seq pq "$(tail -n1 "$tmp/pd.seqs")"
	pq "REVOKE INSERT ON evbus_events FROM rec"
	publish 20 "$T.pd.x" "$tmp/pd.seqs"
	rec_rc=0; wait "$(cat "$tmp/r.pid")" || rec_rc=$?; rm -f "$tmp/r.pid"
	expect_eq 1 "$rec_rc" "exit status"
	grep -qE '^evbus: postgres: cannot insert (an event|rows): ERROR:  permission denied for table evbus_events \(SQLSTATE 42501\)' "$tmp/r.err" ||
		die "message: $(cat "$tmp/r.err")"
	expect_eq 20 "$(pq "SELECT count(*) FROM evbus_events")" "rows kept"
	pq "GRANT INSERT ON evbus_events TO rec"
	rec_start r --postgres "$ci" "$T.pd.>"
	wait_seq pq "$(tail -n1 "$tmp/pd.seqs")"
	rec_stop r
	check_conservation pq "$tmp/pd.seqs"
}
t_pg_server_stopped() {
	need_device; need_pg
	pq "TRUNCATE evbus_events, evbus_gaps, evbus_meta"
	rec_start r --postgres "$(CI)" "$T.ps.>"
	publish 10 "$T.ps.x" "$tmp/ps.seqs"
	wait_seq pq "$(tail -n1 "$tmp/ps.seqs")"
	asuser "$PGBIN/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1 || die "pg_ctl stop failed"
	publish 10 "$T.ps.x" "$tmp/ps.seqs"
	rec_rc=0; wait "$(cat "$tmp/r.pid")" || rec_rc=$?; rm -f "$tmp/r.pid"
	expect_eq 1 "$rec_rc" "exit status"
	grep -qE '^evbus: postgres: cannot .*(terminat|connection|server closed)' "$tmp/r.err" || die "message: $(cat "$tmp/r.err")"
	asuser "$PGBIN/pg_ctl" -D "$tmp/pg" -l "$tmp/pgsock/log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $tmp/pgsock" start >/dev/null 2>&1 || die "restart failed"
	rec_start r --postgres "$(CI)" "$T.ps.>"
	wait_seq pq "$(tail -n1 "$tmp/ps.seqs")"
	rec_stop r
	check_conservation pq "$tmp/ps.seqs"
}

# PostgreSQL in this shell (its port is needed by the tests and the trap).
if [ -c /dev/evbus ] && { [ -z "${RECORD_TESTS:-}" ] || [[ "$RECORD_TESTS" == *pg_* ]]; }; then
	n=$((n + 1))
	if pg_start >"$tmp/log" 2>&1; then
		echo "ok $n pg_start"; pass=$((pass + 1))
	elif grep -qE '^no ' "$tmp/log"; then
		echo "ok $n pg_start # SKIP $(tail -n1 "$tmp/log")"; skip=$((skip + 1))
	else
		echo "not ok $n pg_start"; fail=$((fail + 1)); sed 's/^/# /' <"$tmp/log"
	fi
fi
for t in no_backend both_backends unknown_option no_pattern bad_pattern bad_batch \
	query_with_pattern query_missing_file bad_conninfo unwritable_file \
	sqlite_roundtrip sqlite_schema_meta query_filters batched_commits gap_rows \
	history_gap sigusr1_progress sqlite_kill9_conservation sqlite_disk_full \
	replay_refused other_patterns other_bus \
	pg_roundtrip pg_kill9_conservation pg_read_only pg_permission_denied \
	pg_server_stopped; do
	[ -z "${RECORD_TESTS:-}" ] || [[ " $RECORD_TESTS " == *" $t "* ]] || continue
	run_test "$t"
done
tap_end
