// SPDX-License-Identifier: GPL-2.0
/*
 * evbus bridge, the export side: events and LAGGED records of the
 * bridge's ring become NATS messages with the evbus metadata in headers.
 *
 * Every message of one run carries Evbus-Bridge (the run), Evbus-Export
 * (the export pattern it went out by, as a NATS subject pattern; lag
 * messages have their subject), Evbus-Bridge-Seq (1, 2, 3, ... with no gap
 * per run and pattern) and Evbus-Prev-Seq (the origin seq of the previous
 * message of that pattern): an importer that sees the bridge seq jump
 * knows exactly how many messages it missed and between which origin seqs.
 *
 * Core NATS: a message libnats refuses (connection closed, reconnect
 * buffer full) is counted and reported, and its bridge seq is spent, so
 * the far side reports it too.  JetStream: each message is published with
 * Nats-Msg-Id <origin>-<seq> and retried with backoff until the stream
 * acknowledges it; the last acknowledged seq goes to the state file, from
 * which a restarted bridge resumes through replay.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000

static natsStatus hdr_u64(natsMsg *m, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return natsMsgHeader_Set(m, key, buf);
}

/* The headers every message of this run has; c is its chain. */
static natsStatus hdr_common(struct bridge *br, natsMsg *m, int c)
{
	natsStatus s;

	s = natsMsgHeader_Set(m, HDR_ORIGIN, br->origin);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HDR_HOST, br->host);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HDR_BRIDGE, br->run_id);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HDR_EXPORT, br->chain[c].name);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_BSEQ, br->chain[c].bseq + 1);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_PREV, br->chain[c].prev);
	return s;
}

static natsStatus hdr_event(struct bridge *br, natsMsg *m,
			    const struct evbus_record *rec, int c)
{
	const struct evbus_event *ev = rec->event;
	natsStatus s;

	s = hdr_common(br, m, c);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HDR_TOPIC, rec->topic);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_SEQ, ev->seq);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_TIME, ev->time_ns);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_MONO, ev->mono_ns);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_PID, ev->pid);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_UID, ev->uid);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_GID, ev->gid);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_TYPE, ev->type);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_CORR, ev->corr);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_PARENT, ev->parent);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_FLAGS, ev->flags);
	return s;
}

/* Sleep up to ms, or until SIGINT/SIGTERM: 1 if one came. */
static int backoff_sleep(int sigfd, int ms)
{
	struct pollfd p = { .fd = sigfd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

static void send_failed(struct bridge *br, uint64_t first, uint64_t last,
			natsStatus s)
{
	if (!br->fail_run++) {
		br->fail_first = first;
		cli_err("bridge: cannot send seq %" PRIu64 " to NATS: %s",
			first, bridge_nats_err(s));
	}
	br->fail_last = last;
}

static void send_recovered(struct bridge *br)
{
	if (!br->fail_run)
		return;
	if (br->stream)
		cli_err("bridge: JetStream acknowledges again after %" PRIu64 " failed attempts",
			br->fail_run);
	else
		cli_err("bridge: %" PRIu64 " messages not sent to NATS (seq %" PRIu64 "..%" PRIu64 ")",
			br->fail_run, br->fail_first, br->fail_last);
	br->fail_run = 0;
}

/* Core NATS: one attempt; a refusal is counted and the seq spent. */
static int send_core(struct bridge *br, natsMsg *m, uint64_t first,
		     uint64_t last)
{
	natsStatus s = natsConnection_PublishMsg(br->nc, m);

	if (s != NATS_OK) {
		br->not_sent++;
		send_failed(br, first, last, s);
		return 0;
	}
	send_recovered(br);
	return 0;
}

/* JetStream: until acknowledged; 1 if a signal stopped the retries. */
static int send_js(struct bridge *br, natsMsg *m, const char *msg_id,
		   uint64_t first, uint64_t last, int sigfd)
{
	int wait = BACKOFF_MIN_MS;
	jsPubOptions po;
	jsPubAck *ack;
	jsErrCode jerr;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = 2000;
	for (;;) {
		ack = NULL;
		jerr = 0;
		s = js_PublishMsg(&ack, br->js, m, &po, &jerr);
		jsPubAck_Destroy(ack);
		if (s == NATS_OK)
			break;
		send_failed(br, first, last, s);
		if (atomic_load(&br->closed) || backoff_sleep(sigfd, wait))
			return 1;
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
	send_recovered(br);
	br->acked = last;
	return bridge_state_save(br) ? -1 : 0;
}

/* Send m (covering origin seqs first..last), then advance chain c. */
static int bridge_send(struct bridge *br, natsMsg *m, const char *msg_id,
		       uint64_t first, uint64_t last, int c, int sigfd)
{
	int ret;

	if (br->js)
		ret = send_js(br, m, msg_id, first, last, sigfd);
	else
		ret = send_core(br, m, first, last);
	if (ret)
		return ret;
	br->chain[c].bseq++;
	br->chain[c].prev = last;
	return 0;
}

/* An event this bridge imported itself, now or in its previous run? */
static bool bridge_own(const struct bridge *br, const struct evbus_event *ev)
{
	if (ev->pid == (uint32_t)br->pid)
		return true;
	return br->prev_pid && (ev->flags & EVBUS_EVENT_REPLAYED) &&
	       ev->pid == (uint32_t)br->prev_pid && ev->uid == geteuid();
}

/* The chain of a topic: the first export pattern it matches. */
static int export_chain(const struct bridge *br, const char *topic)
{
	int i;

	/* The ring only has events of one of them: no need to match the last. */
	for (i = 0; i < br->n_exports - 1; i++)
		if (evbus_match(br->exports[i], topic) == 1)
			return i;
	return br->n_exports - 1;
}

/* 0, 1 (stopped by a signal, not sent) or a negative errno. */
int bridge_export_event(struct bridge *br, const struct evbus_record *rec,
			int sigfd)
{
	const struct evbus_event *ev = rec->event;
	char subject[EVBUS_TOPIC_MAX * 2 + 2];
	char msg_id[BRIDGE_ORIGIN_MAX + 24];
	natsMsg *m = NULL;
	natsStatus s;
	int c, ret;

	if (bridge_own(br, ev)) {
		br->skipped_own++;
		return 0;
	}
	if (br->export_prefix)
		snprintf(subject, sizeof(subject), "%s.%s", br->export_prefix, rec->topic);
	else
		snprintf(subject, sizeof(subject), "%s", rec->topic);
	snprintf(msg_id, sizeof(msg_id), "%s-%" PRIu64, br->origin, (uint64_t)ev->seq);
	s = natsMsg_Create(&m, subject, NULL, rec->payload, (int)rec->payload_len);
	c = export_chain(br, rec->topic);
	if (s == NATS_OK)
		s = hdr_event(br, m, rec, c);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		cli_err("bridge: cannot build the message for seq %" PRIu64 ": %s",
			(uint64_t)ev->seq, bridge_nats_err(s));
		return -ENOMEM;
	}
	ret = bridge_send(br, m, msg_id, ev->seq, ev->seq, c, sigfd);
	natsMsg_Destroy(m);
	if (!ret && !br->fail_run)
		br->exported++;
	return ret;
}

/*
 * A LAGGED record of the bridge's ring (or of its replay: the history no
 * longer had the range) goes out on _evbus.lag.<origin>.
 */
int bridge_export_lag(struct bridge *br, const struct evbus_lagged *lg,
		      int sigfd)
{
	const char *cause = lg->flags & EVBUS_LAGGED_HISTORY ? "history" : "ring";
	char body[256];
	char msg_id[BRIDGE_ORIGIN_MAX + 48];
	natsMsg *m = NULL;
	natsStatus s;
	int len, ret;

	cli_err("bridge: lost %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 ", %s): reported on %s",
		(uint64_t)lg->lost, (uint64_t)lg->first_seq, (uint64_t)lg->last_seq, cause,
		br->lag_subject);
	snprintf(msg_id, sizeof(msg_id), "%s-lag-%" PRIu64 "-%" PRIu64, br->origin,
		 (uint64_t)lg->first_seq, (uint64_t)lg->last_seq);
	len = snprintf(body, sizeof(body),
		       "{\"origin\":\"%s\",\"cause\":\"%s\",\"lost\":%" PRIu64
		       ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}",
		       br->origin, cause, (uint64_t)lg->lost,
		       (uint64_t)lg->first_seq, (uint64_t)lg->last_seq);
	s = natsMsg_Create(&m, br->lag_subject, NULL, body, len);
	if (s == NATS_OK)
		s = hdr_common(br, m, br->n_exports);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HDR_CAUSE, cause);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_LOST, lg->lost);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_FIRST, lg->first_seq);
	if (s == NATS_OK)
		s = hdr_u64(m, HDR_LAST, lg->last_seq);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		cli_err("bridge: cannot build the lag message: %s", bridge_nats_err(s));
		return -ENOMEM;
	}
	ret = bridge_send(br, m, msg_id, lg->first_seq, lg->last_seq, br->n_exports,
			  sigfd);
	natsMsg_Destroy(m);
	if (!ret && !br->fail_run) {
		br->lag_msgs++;
		br->lag_events += lg->lost;
	}
	return ret;
}

/*
 * The state file: "origin O", "acked SEQ" and "pid P" lines, replaced
 * atomically (rename) after every acknowledgement.  Not fsync()ed on each
 * one: a killed bridge loses nothing (the page cache survives it); after a
 * power loss the file may be behind, and the seqs it is behind by are
 * published again and dropped by the stream's de-duplication window.
 */
int bridge_state_save(struct bridge *br)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (!br->state_path)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", br->state_path);
	f = fopen(tmp, "w");
	if (!f) {
		cli_err("bridge: cannot write %s: %s", tmp, strerror(errno));
		return -errno;
	}
	fprintf(f, "origin %s\nacked %" PRIu64 "\npid %d\n", br->origin,
		br->acked, (int)br->pid);
	ok = !ferror(f);
	if (fclose(f) || !ok || rename(tmp, br->state_path)) {
		cli_err("bridge: cannot write %s: %s", br->state_path, strerror(errno));
		return -EIO;
	}
	return 0;
}

/*
 * Where to resume: *since = acked + 1 when the state file is this
 * origin's, 0 (start live) when there is none or it is another bus's.
 */
int bridge_state_load(struct bridge *br)
{
	uint64_t *since = &br->since;
	char origin[BRIDGE_ORIGIN_MAX] = "";
	unsigned long long acked = 0;
	int pid = 0, n;
	FILE *f;

	*since = 0;
	if (!br->state_path)
		return 0;
	f = fopen(br->state_path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		cli_err("bridge: cannot read %s: %s", br->state_path, strerror(errno));
		return EXIT_RUNTIME;
	}
	n = fscanf(f, "origin %63s acked %llu pid %d", origin, &acked, &pid);
	fclose(f);
	if (n != 3) {
		cli_err("bridge: %s is not a bridge state file", br->state_path);
		return EXIT_RUNTIME;
	}
	if (strcmp(origin, br->origin)) {
		cli_err("bridge: %s is from bus %s, this is %s: starting live",
			br->state_path, origin, br->origin);
		return 0;
	}
	br->acked = acked;
	for (n = 0; n <= br->n_exports; n++)
		br->chain[n].prev = acked;
	br->prev_pid = pid;
	*since = acked + 1;
	return 0;
}
