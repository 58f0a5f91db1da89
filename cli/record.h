/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus record: the storage backends (SQLite, PostgreSQL) behind one small
 * table of operations.  Every operation prints its own message, naming the
 * backend and the backend's error, and returns 0 or -1.
 */
#ifndef EVBUS_CLI_RECORD_H
#define EVBUS_CLI_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "evbus.h"

#define REC_SCHEMA_VERSION	1

struct rec_db;

/* A row read back by --query: an event, or a gap (is_gap). */
struct rec_row {
	bool is_gap;
	struct evbus_event ev;		/* events: every field but hdr */
	const char *topic;
	const void *payload;
	size_t payload_len;
	struct evbus_lagged gap;	/* gaps: flags, lost, first/last_seq */
};

typedef int (*rec_row_fn)(const struct rec_row *row, void *ctx);

struct rec_ops {
	const char *name;
	/* Connect; with create, make the tables if missing. */
	int (*open)(struct rec_db **db, const char *target, bool create);
	void (*close)(struct rec_db *db);
	/* The value of meta key into buf ("" when missing). */
	int (*meta_get)(struct rec_db *db, const char *key, char *buf,
			size_t len);
	int (*meta_set)(struct rec_db *db, const char *key, const char *value);
	/* The highest seq in the events and the gaps, 0 when empty. */
	int (*last_seq)(struct rec_db *db, uint64_t *seq);
	int (*begin)(struct rec_db *db);
	int (*put_event)(struct rec_db *db, const struct evbus_record *rec);
	int (*put_gap)(struct rec_db *db, const struct evbus_lagged *lg);
	int (*commit)(struct rec_db *db);
	/* Events and gaps from seq since on, in seq order. */
	int (*query)(struct rec_db *db, uint64_t since, rec_row_fn fn,
		     void *ctx);
};

extern const struct rec_ops rec_sqlite_ops;
extern const struct rec_ops rec_pg_ops;

/* record_sqlite.c: PRAGMA synchronous for the next open (NULL: FULL). */
extern const char *rec_sqlite_sync;

#endif /* EVBUS_CLI_RECORD_H */
