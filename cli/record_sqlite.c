// SPDX-License-Identifier: GPL-2.0
/*
 * evbus record: the SQLite backend.  One connection, prepared statements,
 * WAL journal, synchronous FULL by default (a commit is on disk when
 * COMMIT returns).  Unsigned 64-bit fields are stored as SQLite's signed
 * INTEGER, bit for bit (values from 2^63 on read back negative in SQL).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "record.h"

const char *rec_sqlite_sync;

enum { ST_EVENT, ST_GAP, ST_BEGIN, ST_COMMIT, ST_MAX };

struct rec_db {
	sqlite3 *db;
	const char *path;
	sqlite3_stmt *st[ST_MAX];
};

static const char schema_sql[] =
"CREATE TABLE IF NOT EXISTS evbus_meta (\n"
"  key TEXT PRIMARY KEY,\n"
"  value TEXT NOT NULL);\n"
"CREATE TABLE IF NOT EXISTS evbus_events (\n"
"  seq INTEGER PRIMARY KEY,\n"
"  time_ns INTEGER NOT NULL,\n"
"  mono_ns INTEGER NOT NULL,\n"
"  pid INTEGER NOT NULL,\n"
"  tid INTEGER NOT NULL,\n"
"  uid INTEGER NOT NULL,\n"
"  gid INTEGER NOT NULL,\n"
"  topic TEXT NOT NULL,\n"
"  type INTEGER NOT NULL,\n"
"  flags INTEGER NOT NULL,\n"
"  corr INTEGER NOT NULL,\n"
"  parent INTEGER NOT NULL,\n"
"  payload BLOB NOT NULL);\n"
"CREATE TABLE IF NOT EXISTS evbus_gaps (\n"
"  first_seq INTEGER PRIMARY KEY,\n"
"  last_seq INTEGER NOT NULL,\n"
"  lost INTEGER NOT NULL,\n"
"  flags INTEGER NOT NULL);\n";

static const char *const stmt_sql[ST_MAX] = {
	[ST_EVENT] = "INSERT INTO evbus_events (seq, time_ns, mono_ns, pid, tid, uid, gid, topic, type, flags, corr, parent, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_GAP] = "INSERT INTO evbus_gaps (first_seq, last_seq, lost, flags) VALUES (?1, ?2, ?3, ?4)",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
};

static int sq_err(struct rec_db *d, const char *what, int rc)
{
	cli_err("sqlite: %s %s: %s (%s, code %d)", what, d->path,
		d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc),
		sqlite3_errstr(rc), d->db ? sqlite3_extended_errcode(d->db) : rc);
	return -1;
}

static int sq_exec(struct rec_db *d, const char *sql, const char *what)
{
	int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(d, what, rc);
}

static void sq_close(struct rec_db *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(d->st[i]);
	sqlite3_close(d->db);
	free(d);
}

static int sq_setup(struct rec_db *d, bool create)
{
	char sql[64];
	int i, rc;

	sqlite3_busy_timeout(d->db, 5000);
	if (sq_exec(d, "PRAGMA journal_mode=WAL", "cannot use a WAL journal on"))
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s",
		 rec_sqlite_sync ? rec_sqlite_sync : "FULL");
	if (sq_exec(d, sql, "cannot set synchronous on"))
		return -1;
	if (create && sq_exec(d, schema_sql, "cannot create the tables in"))
		return -1;
	for (i = 0; i < ST_MAX; i++) {
		rc = sqlite3_prepare_v3(d->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL);
		if (rc != SQLITE_OK)
			return sq_err(d, "cannot prepare statements on", rc);
	}
	return 0;
}

static int sq_open(struct rec_db **dbp, const char *path, bool create)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	struct rec_db *d = calloc(1, sizeof(*d));
	int rc;

	if (!d) {
		cli_err("sqlite: out of memory");
		return -1;
	}
	d->path = path;
	rc = sqlite3_open_v2(path, &d->db, flags, NULL);
	if (rc != SQLITE_OK || sq_setup(d, create)) {
		if (rc != SQLITE_OK)
			sq_err(d, "cannot open", rc);
		sq_close(d);
		return -1;
	}
	*dbp = d;
	return 0;
}

/* Run a statement that returns no row, and reset it. */
static int sq_step(struct rec_db *d, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sq_err(d, what, rc);
}

static int sq_meta_get(struct rec_db *d, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	buf[0] = '\0';
	rc = sqlite3_prepare_v2(d->db, "SELECT value FROM evbus_meta WHERE key = ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(d, "cannot read evbus_meta in", rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	       sq_err(d, "cannot read evbus_meta in", rc);
}

static int sq_meta_set(struct rec_db *d, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO evbus_meta (key, value) VALUES (?1, ?2)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(d, "cannot write evbus_meta in", rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sq_err(d, "cannot write evbus_meta in", rc);
}

static int sq_last_seq(struct rec_db *d, uint64_t *seq)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(d->db,
		"SELECT max(coalesce((SELECT max(seq) FROM evbus_events), 0),"
		" coalesce((SELECT max(last_seq) FROM evbus_gaps), 0))",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(d, "cannot read the last seq in", rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : sq_err(d, "cannot read the last seq in", rc);
}

static int sq_begin(struct rec_db *d)
{
	return sq_step(d, d->st[ST_BEGIN], "cannot begin a transaction in");
}

static int sq_commit(struct rec_db *d)
{
	int ret = sq_step(d, d->st[ST_COMMIT], "cannot commit to");

	if (ret && !sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static int sq_put_event(struct rec_db *d, const struct evbus_record *rec)
{
	const struct evbus_event *ev = rec->event;
	sqlite3_stmt *st = d->st[ST_EVENT];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ev->time_ns);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ev->mono_ns);
	sqlite3_bind_int64(st, 4, ev->pid);
	sqlite3_bind_int64(st, 5, ev->tid);
	sqlite3_bind_int64(st, 6, ev->uid);
	sqlite3_bind_int64(st, 7, ev->gid);
	sqlite3_bind_text(st, 8, rec->topic, (int)rec->topic_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, ev->type);
	sqlite3_bind_int64(st, 10, ev->flags);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)ev->corr);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)ev->parent);
	sqlite3_bind_blob64(st, 13, rec->payload ? rec->payload : "",
			    rec->payload_len, SQLITE_STATIC);
	return sq_step(d, st, "cannot insert an event into");
}

static int sq_put_gap(struct rec_db *d, const struct evbus_lagged *lg)
{
	sqlite3_stmt *st = d->st[ST_GAP];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)lg->first_seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)lg->last_seq);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)lg->lost);
	sqlite3_bind_int64(st, 4, lg->flags);
	return sq_step(d, st, "cannot insert a gap into");
}

static void sq_fill_row(sqlite3_stmt *st, struct rec_row *r)
{
	memset(r, 0, sizeof(*r));
	r->is_gap = sqlite3_column_int(st, 0);
	if (r->is_gap) {
		r->gap.first_seq = (uint64_t)sqlite3_column_int64(st, 1);
		r->gap.last_seq = (uint64_t)sqlite3_column_int64(st, 2);
		r->gap.lost = (uint64_t)sqlite3_column_int64(st, 3);
		r->gap.flags = (uint32_t)sqlite3_column_int64(st, 4);
		return;
	}
	r->ev.seq = (uint64_t)sqlite3_column_int64(st, 1);
	r->ev.time_ns = (uint64_t)sqlite3_column_int64(st, 2);
	r->ev.mono_ns = (uint64_t)sqlite3_column_int64(st, 3);
	r->ev.flags = (uint32_t)sqlite3_column_int64(st, 4);
	r->ev.pid = (uint32_t)sqlite3_column_int64(st, 5);
	r->ev.tid = (uint32_t)sqlite3_column_int64(st, 6);
	r->ev.uid = (uint32_t)sqlite3_column_int64(st, 7);
	r->ev.gid = (uint32_t)sqlite3_column_int64(st, 8);
	r->topic = (const char *)sqlite3_column_text(st, 9);
	r->ev.type = (uint32_t)sqlite3_column_int64(st, 10);
	r->ev.corr = (uint64_t)sqlite3_column_int64(st, 11);
	r->ev.parent = (uint64_t)sqlite3_column_int64(st, 12);
	r->payload = sqlite3_column_blob(st, 13);
	r->payload_len = (size_t)sqlite3_column_bytes(st, 13);
	r->ev.topic_len = r->topic ? (uint32_t)strlen(r->topic) : 0;
	r->ev.payload_len = (uint32_t)r->payload_len;
}

static int sq_query(struct rec_db *d, uint64_t since, rec_row_fn fn, void *ctx)
{
	static const char sql[] =
		"SELECT 0, seq, time_ns, mono_ns, flags, pid, tid, uid, gid, topic,"
		" type, corr, parent, payload FROM evbus_events WHERE seq >= ?1"
		" UNION ALL SELECT 1, first_seq, last_seq, lost, flags, 0, 0, 0, 0,"
		" NULL, 0, 0, 0, NULL FROM evbus_gaps WHERE last_seq >= ?1"
		" ORDER BY 2";
	struct rec_row row;
	sqlite3_stmt *st;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(d, "cannot query", rc);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sq_fill_row(st, &row);
		ret = fn(&row, ctx);
		if (ret)
			break;
	}
	sqlite3_finalize(st);
	if (ret)
		return ret;
	return rc == SQLITE_DONE ? 0 : sq_err(d, "cannot query", rc);
}

const struct rec_ops rec_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.last_seq = sq_last_seq,
	.begin = sq_begin,
	.put_event = sq_put_event,
	.put_gap = sq_put_gap,
	.commit = sq_commit,
	.query = sq_query,
};
