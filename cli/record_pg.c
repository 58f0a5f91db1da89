// SPDX-License-Identifier: GPL-2.0
/*
 * evbus record: the PostgreSQL backend (libpq).  Prepared statements with
 * binary parameters; bigint holds the unsigned 64-bit fields bit for bit
 * (values from 2^63 on read back negative in SQL), bytea the payload.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "cli.h"
#include "record.h"

/*
 * The inserts of a transaction go through libpq's pipeline mode: sent
 * without waiting, their results read at every PG_PIPE_SYNC rows and at
 * COMMIT (a Sync inside BEGIN .. COMMIT ends no transaction).  Reading
 * every PG_PIPE_SYNC rows keeps the server's replies from filling the
 * socket while this side still sends.
 */
#define PG_PIPE_SYNC	256

struct rec_db {
	PGconn *conn;
	bool pipe;		/* in pipeline mode */
	unsigned int unsynced;	/* statements sent since the last sync */
};

static const char pg_schema[] =
"SET client_min_messages = warning;\n"
"CREATE TABLE IF NOT EXISTS evbus_meta (\n"
"  key text PRIMARY KEY,\n"
"  value text NOT NULL);\n"
"CREATE TABLE IF NOT EXISTS evbus_events (\n"
"  seq bigint PRIMARY KEY,\n"
"  time_ns bigint NOT NULL,\n"
"  mono_ns bigint NOT NULL,\n"
"  pid bigint NOT NULL,\n"
"  tid bigint NOT NULL,\n"
"  uid bigint NOT NULL,\n"
"  gid bigint NOT NULL,\n"
"  topic text NOT NULL,\n"
"  type bigint NOT NULL,\n"
"  flags bigint NOT NULL,\n"
"  corr bigint NOT NULL,\n"
"  parent bigint NOT NULL,\n"
"  payload bytea NOT NULL);\n"
"CREATE TABLE IF NOT EXISTS evbus_gaps (\n"
"  first_seq bigint PRIMARY KEY,\n"
"  last_seq bigint NOT NULL,\n"
"  lost bigint NOT NULL,\n"
"  flags bigint NOT NULL);\n";

static const char pg_ins_event[] =
	"INSERT INTO evbus_events (seq, time_ns, mono_ns, pid, tid, uid, gid, topic, type, flags, corr, parent, payload) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::text, $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bytea)";
static const char pg_ins_gap[] =
	"INSERT INTO evbus_gaps (first_seq, last_seq, lost, flags) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint)";

/* The message of a failed call: the server's, or the connection's. */
static int pg_err(struct rec_db *d, const char *what, PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t n;

	if (!*msg)
		msg = PQerrorMessage(d->conn);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		n--;
	cli_err("postgres: %s: %.*s%s%s%s%s", what, (int)n, msg,
		state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "",
		PQstatus(d->conn) == CONNECTION_BAD ? " [connection lost]" : "");
	PQclear(res);
	return -1;
}

static int pg_cmd(struct rec_db *d, const char *sql, const char *what)
{
	PGresult *res = PQexec(d->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_err(d, what, res);
	PQclear(res);
	return 0;
}

static void pg_close(struct rec_db *d)
{
	if (!d)
		return;
	PQfinish(d->conn);
	free(d);
}

static int pg_prepare(struct rec_db *d, const char *name, const char *sql)
{
	PGresult *res = PQprepare(d->conn, name, sql, 0, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_err(d, "cannot prepare statements", res);
	PQclear(res);
	return 0;
}

static int pg_open(struct rec_db **dbp, const char *conninfo, bool create)
{
	struct rec_db *d = calloc(1, sizeof(*d));

	if (!d) {
		cli_err("postgres: out of memory");
		return -1;
	}
	d->conn = PQconnectdb(conninfo);
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		if (d->conn)
			pg_err(d, "cannot connect", NULL);
		else
			cli_err("postgres: cannot connect: out of memory");
		pg_close(d);
		return -1;
	}
	if ((create && pg_cmd(d, pg_schema, "cannot create the tables")) ||
	    (create && (pg_prepare(d, "ev", pg_ins_event) ||
			pg_prepare(d, "gap", pg_ins_gap)))) {
		pg_close(d);
		return -1;
	}
	*dbp = d;
	return 0;
}

static int pg_meta_get(struct rec_db *d, const char *key, char *buf, size_t len)
{
	const char *params[1] = { key };
	PGresult *res;

	buf[0] = '\0';
	res = PQexecParams(d->conn, "SELECT value FROM evbus_meta WHERE key = $1",
			   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_err(d, "cannot read evbus_meta", res);
	if (PQntuples(res))
		snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int pg_meta_set(struct rec_db *d, const char *key, const char *value)
{
	const char *params[2] = { key, value };
	PGresult *res;

	res = PQexecParams(d->conn,
			   "INSERT INTO evbus_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
			   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_err(d, "cannot write evbus_meta", res);
	PQclear(res);
	return 0;
}

static int pg_last_seq(struct rec_db *d, uint64_t *seq)
{
	PGresult *res = PQexec(d->conn,
		"SELECT greatest(coalesce((SELECT max(seq) FROM evbus_events), 0),"
		" coalesce((SELECT max(last_seq) FROM evbus_gaps), 0))");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_err(d, "cannot read the last seq", res);
	*seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int pg_begin(struct rec_db *d)
{
	return pg_cmd(d, "BEGIN", "cannot begin a transaction");
}

/*
 * Send a Sync and read every result up to it; the first error is the
 * message (what failed: what), the statements after it are aborted.
 */
static int pg_pipe_sync(struct rec_db *d, const char *what)
{
	PGresult *res, *err = NULL;
	ExecStatusType st;

	if (!PQpipelineSync(d->conn))
		return pg_err(d, what, NULL);
	for (;;) {
		res = PQgetResult(d->conn);
		if (!res) {
			if (PQstatus(d->conn) == CONNECTION_BAD)
				break;
			continue;	/* the end of one statement's results */
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED && !err)
			err = res;
		else
			PQclear(res);
	}
	d->unsynced = 0;
	if (err || PQstatus(d->conn) == CONNECTION_BAD)
		return pg_err(d, what, err);
	return 0;
}

static int pg_pipe_end(struct rec_db *d, const char *what)
{
	int ret = pg_pipe_sync(d, what);

	d->pipe = false;
	if (!PQexitPipelineMode(d->conn) && !ret)
		return pg_err(d, what, NULL);
	return ret;
}

static int pg_commit(struct rec_db *d)
{
	PGresult *res;

	if (d->pipe && pg_pipe_end(d, "cannot insert rows"))
		return -1;
	res = PQexec(d->conn, "COMMIT");

	/* A failed transaction's COMMIT answers ROLLBACK: that is no commit. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK ||
	    strcmp(PQcmdStatus(res), "COMMIT"))
		return pg_err(d, "cannot commit", res);
	PQclear(res);
	return 0;
}

static int pg_exec_prepared(struct rec_db *d, const char *name, int n,
			    const char *const *vals, const int *lens,
			    const char *what)
{
	static const int fmts[13] = { 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1 };

	if (!d->pipe) {
		if (!PQenterPipelineMode(d->conn))
			return pg_err(d, what, NULL);
		d->pipe = true;
	}
	if (!PQsendQueryPrepared(d->conn, name, n, vals, lens, fmts, 0))
		return pg_err(d, what, NULL);
	if (++d->unsynced < PG_PIPE_SYNC)
		return 0;
	return pg_pipe_sync(d, what);
}

static int pg_put_event(struct rec_db *d, const struct evbus_record *rec)
{
	const struct evbus_event *ev = rec->event;
	uint64_t v[12] = {
		ev->seq, ev->time_ns, ev->mono_ns, ev->pid, ev->tid, ev->uid,
		ev->gid, 0, ev->type, ev->flags, ev->corr, ev->parent,
	};
	const char *vals[13];
	int lens[13], i;

	for (i = 0; i < 12; i++) {
		v[i] = htobe64(v[i]);
		vals[i] = (const char *)&v[i];
		lens[i] = 8;
	}
	vals[7] = rec->topic;
	lens[7] = (int)rec->topic_len;
	vals[12] = rec->payload ? rec->payload : "";
	lens[12] = (int)rec->payload_len;
	return pg_exec_prepared(d, "ev", 13, vals, lens, "cannot insert an event");
}

static int pg_put_gap(struct rec_db *d, const struct evbus_lagged *lg)
{
	uint64_t v[4] = { lg->first_seq, lg->last_seq, lg->lost, lg->flags };
	const char *vals[4];
	int lens[4], i;

	for (i = 0; i < 4; i++) {
		v[i] = htobe64(v[i]);
		vals[i] = (const char *)&v[i];
		lens[i] = 8;
	}
	return pg_exec_prepared(d, "gap", 4, vals, lens, "cannot insert a gap");
}

static uint64_t pg_u64(PGresult *res, int row, int col)
{
	return (uint64_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int pg_query_row(PGresult *res, int i, rec_row_fn fn, void *ctx)
{
	struct rec_row r = {};
	unsigned char *pl = NULL;
	size_t len = 0;
	int ret;

	r.is_gap = pg_u64(res, i, 0);
	if (r.is_gap) {
		r.gap.first_seq = pg_u64(res, i, 1);
		r.gap.last_seq = pg_u64(res, i, 2);
		r.gap.lost = pg_u64(res, i, 3);
		r.gap.flags = (uint32_t)pg_u64(res, i, 4);
		return fn(&r, ctx);
	}
	r.ev.seq = pg_u64(res, i, 1);
	r.ev.time_ns = pg_u64(res, i, 2);
	r.ev.mono_ns = pg_u64(res, i, 3);
	r.ev.flags = (uint32_t)pg_u64(res, i, 4);
	r.ev.pid = (uint32_t)pg_u64(res, i, 5);
	r.ev.tid = (uint32_t)pg_u64(res, i, 6);
	r.ev.uid = (uint32_t)pg_u64(res, i, 7);
	r.ev.gid = (uint32_t)pg_u64(res, i, 8);
	r.topic = PQgetvalue(res, i, 9);
	r.ev.type = (uint32_t)pg_u64(res, i, 10);
	r.ev.corr = pg_u64(res, i, 11);
	r.ev.parent = pg_u64(res, i, 12);
	pl = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 13), &len);
	if (!pl) {
		cli_err("postgres: out of memory");
		return -1;
	}
	r.payload = pl;
	r.payload_len = len;
	r.ev.topic_len = (uint32_t)strlen(r.topic);
	r.ev.payload_len = (uint32_t)len;
	ret = fn(&r, ctx);
	PQfreemem(pl);
	return ret;
}

static int pg_query(struct rec_db *d, uint64_t since, rec_row_fn fn, void *ctx)
{
	char buf[32];
	const char *params[1] = { buf };
	PGresult *res;
	int i, n, ret = 0;

	snprintf(buf, sizeof(buf), "%" PRIu64, since);
	res = PQexecParams(d->conn,
		"SELECT 0, seq, time_ns, mono_ns, flags, pid, tid, uid, gid, topic,"
		" type, corr, parent, payload FROM evbus_events WHERE seq >= $1::bigint"
		" UNION ALL SELECT 1, first_seq, last_seq, lost, flags, 0, 0, 0, 0,"
		" NULL, 0, 0, 0, NULL FROM evbus_gaps WHERE last_seq >= $1::bigint"
		" ORDER BY 2", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_err(d, "cannot query", res);
	n = PQntuples(res);
	for (i = 0; i < n && !ret; i++)
		ret = pg_query_row(res, i, fn, ctx);
	PQclear(res);
	return ret;
}

const struct rec_ops rec_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.last_seq = pg_last_seq,
	.begin = pg_begin,
	.put_event = pg_put_event,
	.put_gap = pg_put_gap,
	.commit = pg_commit,
	.query = pg_query,
};
