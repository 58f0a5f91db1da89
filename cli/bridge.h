/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus bridge: shared state of the exporter (bridge.c, bridge_export.c),
 * the importer (bridge_import.c) and the NATS connection (bridge_nats.c).
 *
 * One process, one evbus handle, one NATS connection.  The main thread
 * reads the handle's ring and exports; libnats's threads run the import
 * callbacks, which publish on the same handle (publishing only uses the
 * descriptor, so both may run at once).  The import side's state (peers,
 * counters) is under imp_lock; the export side's belongs to the main
 * thread alone.
 */
#ifndef EVBUS_CLI_BRIDGE_H
#define EVBUS_CLI_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <nats/nats.h>

#include "cli.h"

#define BRIDGE_MAX_SERVERS	16
#define BRIDGE_MAX_PATTERNS	16
#define BRIDGE_ORIGIN_MAX	64

/* Subjects and topics of the bridge's own reports (see evbus-bridge(1)). */
#define BRIDGE_LAG_SUBJECT	"_evbus.lag"	/* + "." + origin [+ "." + stream] */
#define BRIDGE_LAG_TOPIC	"_evbus.lag"	/* + "." + origin, locally */
#define BRIDGE_ORIGIN_TOPIC	"_evbus.origin"	/* an imported event's origin */

/* NATS header names. */
#define HDR_ORIGIN	"Evbus-Origin"
#define HDR_HOST	"Evbus-Host"
#define HDR_TOPIC	"Evbus-Topic"
#define HDR_SEQ		"Evbus-Seq"
#define HDR_TIME	"Evbus-Time-Ns"
#define HDR_MONO	"Evbus-Mono-Ns"
#define HDR_PID		"Evbus-Pid"
#define HDR_UID		"Evbus-Uid"
#define HDR_GID		"Evbus-Gid"
#define HDR_TYPE	"Evbus-Type"
#define HDR_CORR	"Evbus-Corr"
#define HDR_PARENT	"Evbus-Parent"
#define HDR_FLAGS	"Evbus-Flags"
#define HDR_BRIDGE	"Evbus-Bridge"
#define HDR_EXPORT	"Evbus-Export"
#define HDR_BSEQ	"Evbus-Bridge-Seq"
#define HDR_PREV	"Evbus-Prev-Seq"
#define HDR_CAUSE	"Evbus-Lag-Cause"
#define HDR_LOST	"Evbus-Lost"
#define HDR_FIRST	"Evbus-First-Seq"
#define HDR_LAST	"Evbus-Last-Seq"

#define BRIDGE_SUBJECT_MAX	(2 * EVBUS_TOPIC_MAX + 2)

/*
 * A chain: one export pattern's messages in one run, numbered by
 * Evbus-Bridge-Seq.  The importer follows each (run, Evbus-Export) it
 * receives; the exporter keeps one per pattern plus one for lag messages.
 */
struct bridge_peer {
	struct bridge_peer *next;
	char id[40];			/* Evbus-Bridge */
	char export[BRIDGE_SUBJECT_MAX];	/* Evbus-Export */
	uint64_t bseq;			/* last Evbus-Bridge-Seq seen */
	uint64_t seq;			/* last origin seq it covered */
};

struct bridge {
	/* options */
	const char *servers[BRIDGE_MAX_SERVERS];
	int n_servers;
	const char *exports[BRIDGE_MAX_PATTERNS];
	int n_exports;
	const char *imports[BRIDGE_MAX_PATTERNS];
	int n_imports;
	const char *export_prefix, *import_prefix;
	const char *stream, *state_path;
	const char *creds, *tls_ca, *tls_cert, *tls_key;
	const char *user, *password, *token;
	uint32_t ring;
	long long reconnect_wait_ms;
	uint32_t reconnect_buf;		/* bytes; 0: libnats's default (8 MiB) */
	bool ready, verbose, no_origin_events;

	/* identity */
	char origin[BRIDGE_ORIGIN_MAX];	/* <boot id>-<bus id> */
	char host[256];
	char run_id[40];		/* this process's run, Evbus-Bridge */
	char lag_subject[BRIDGE_ORIGIN_MAX + 300];	/* where lag messages go */
	uint64_t since;			/* JetStream: where to resume, 0: live */
	pid_t pid;
	pid_t prev_pid;			/* the previous run's, from the state file */

	struct evbus *bus;
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *subs[BRIDGE_MAX_PATTERNS + 1];
	int n_subs;
	atomic_bool closed;		/* the NATS connection is gone for good */
	atomic_bool closing;		/* we are closing it: no messages */
	uint32_t sub_ids[BRIDGE_MAX_PATTERNS];	/* the exported patterns' */

	/* export side (main thread); chain n_exports is the lag messages' */
	char export_subj[BRIDGE_MAX_PATTERNS][BRIDGE_SUBJECT_MAX];	/* [prefix.]pattern */
	struct {
		const char *name;	/* Evbus-Export */
		uint64_t bseq;		/* Evbus-Bridge-Seq of its last message */
		uint64_t prev;		/* last origin seq it covered */
	} chain[BRIDGE_MAX_PATTERNS + 1];
	uint64_t acked;			/* JetStream: last seq acknowledged */
	uint64_t exported, skipped_own, not_sent, lag_msgs, lag_events;
	uint64_t fail_first, fail_last, fail_run;	/* failures since last success */
	uint64_t rewinds;		/* JetStream: ring losses taken from the history */

	/* import side (libnats threads) */
	pthread_mutex_t imp_lock;
	struct bridge_peer *peers;
	bool stopping;			/* set at exit: callbacks do nothing */
	uint64_t imported, dup, own_origin, gaps, gap_msgs, invalid, refused,
		 lag_reports;
};

/* bridge_nats.c */
int bridge_nats_connect(struct bridge *br);
void bridge_nats_close(struct bridge *br);
int bridge_stream_setup(struct bridge *br);
const char *bridge_nats_err(natsStatus s);

/* bridge_export.c */
int bridge_export_event(struct bridge *br, const struct evbus_record *rec,
			int sigfd);
int bridge_export_lag(struct bridge *br, const struct evbus_lagged *lg,
		      int sigfd);
int bridge_state_load(struct bridge *br);
int bridge_sub_exports(struct bridge *br, uint64_t since);
int bridge_state_save(struct bridge *br);

/* bridge_import.c */
void bridge_import_msg(natsConnection *nc, natsSubscription *sub,
		       natsMsg *msg, void *closure);
void bridge_import_free(struct bridge *br);

#endif /* EVBUS_CLI_BRIDGE_H */
