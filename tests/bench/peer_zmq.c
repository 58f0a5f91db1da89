// SPDX-License-Identifier: GPL-2.0
/*
 * ZeroMQ (libzmq 4.x) PUB/SUB over ipc:// as a fan-out peer of the
 * benchmark harness (fanout.c, see bench.h for the contract).
 *
 * Sockets: the publisher binds one XPUB socket (a PUB that also hands the
 * subscriptions it receives to the application) to ipc://<tmp path>, unique
 * per run; every subscriber process has its own context and one SUB socket
 * connected to it, subscribed to BENCH_TOPIC.  The K others are K more SUB
 * sockets in the publisher's process, subscribed to "other.<i>" and never
 * read.  Over ipc:// (and tcp://) libzmq filters on the publisher side: the
 * XPUB matches every message's first frame against a prefix trie of the
 * subscriptions and queues it only on the matching connections, so the
 * others cost the publisher a trie lookup, not K string compares.
 *
 * Framing: every event is a two-frame message [topic][payload], the
 * envelope the ZeroMQ guide recommends for pub-sub ("Pub-Sub Message
 * Envelopes"): the subscription filter then sees only the topic and the
 * payload frame stays opaque.  End of stream is [topic][empty frame].
 *
 * Calls: ZeroMQ has no batch send.  A publish call of B events makes 2B
 * zmq_send() calls (topic frame, payload frame); a subscriber takes one
 * blocking zmq_msg_recv() for the first frame and then drains what is
 * queued with ZMQ_DONTWAIT, up to the harness's max (2 calls per event, plus
 * the one that finds the queue empty).  These are the counted "calls", and
 * they are library calls, not system calls: zmq_send() appends to a
 * lock-free pipe to the context's I/O thread and makes a system call only to
 * wake that thread (an eventfd write) when it was idle; the I/O thread then
 * sends whatever accumulated, up to 8 KiB (ZMQ_OUT_BATCH_SIZE) per send(),
 * i.e. libzmq batches writes internally, and the receiving I/O thread reads
 * 8 KiB (ZMQ_IN_BATCH_SIZE) per recv().  The I/O threads' system calls are
 * not counted here; strace -f -c (run-bench) sees them.  The I/O threads
 * (one per context, the libzmq default, plus libzmq's reaper thread) are
 * threads of the publisher and subscriber processes, so the harness's
 * process CPU clocks and rusage include their CPU time and context
 * switches.
 *
 * Readiness (the slow joiner): a SUB's subscription reaches the publisher
 * asynchronously, after the connection is up; anything published before
 * that is not delivered.  The subscribers connect in sub_open() while the
 * publisher does not exist yet (libzmq retries the connect every
 * RECONNECT_MS), so sub_open() can only start the subscription.  The
 * handshake is in pub_open(): the XPUB is verbose (ZMQ_XPUB_VERBOSER), so it
 * hands the application one subscribe message per subscribing connection
 * (duplicates included) right after adding it to its trie; pub_open()
 * returns once it has seen m subscriptions to BENCH_TOPIC and k to
 * "other.*", and every message published after that reaches every
 * subscriber (or is counted against a high-water mark, below).  Every
 * socket has ZMQ_HANDSHAKE_IVL 0 (no handshake timeout): libzmq cancels
 * that timer with a linear search of its I/O thread's timer map, which made
 * 4096 others connecting at once quadratic.  That only touches setup.
 *
 * High-water marks: SNDHWM on the XPUB (per connection) and RCVHWM on every
 * SUB are libzmq's default of 1000 messages unless the environment variable
 * BENCH_ZMQ_HWM is a number of messages (0: unlimited) or "ring", which
 * converts opt.ring bytes to opt.ring / (opt.size + topic length) messages.
 * A PUB socket drops messages for a connection whose queue is at the
 * high-water mark, silently: the harness sees the holes in the sequence
 * numbers as lost_silent.  That is ZeroMQ's isolation model (a stopped
 * subscriber loses messages, the publisher never waits).  With
 * BENCH_ZMQ_NODROP=1 the XPUB runs with ZMQ_XPUB_NODROP instead and the
 * publisher blocks at the high-water mark, like a pipe.
 *
 * End of stream: with drops, the end marker itself may not fit, and libzmq
 * sets a connection that hit its high-water mark aside until its reader has
 * drained half of it, so one marker is not enough.  pub_close() sends the
 * marker, then waits on the XPUB's command mailbox (ZMQ_FD) and resends it
 * whenever the XPUB was told something (a queue drained, a subscriber
 * unsubscribed) or every RESEND_MS, until every subscriber is done.  A
 * subscriber is done at the first marker, at the last event (sequence
 * number opt.n, after which the harness reads no more; the peer peeks at the
 * struct bench_stamp for that), or when it fails, and says so by
 * unsubscribing from BENCH_TOPIC, which also stops further copies.  The
 * verbose XPUB hands the publisher one unsubscribe message per subscriber,
 * and one per connection that closes before it unsubscribed (a subscriber
 * that died), so pub_close() returns in every case.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"

#define TOPIC_LEN	(sizeof(BENCH_TOPIC) - 1)
#define OTHER_PREFIX	"other."
#define RECONNECT_MS	10	/* connect retry while the publisher binds */
#define READY_MS	120000	/* pub_open(): all subscriptions in by then */
#define RESEND_MS	100	/* pub_close(): resend the marker at least so often */
#define CLOSE_MS	900000	/* pub_close(): give up waiting after this */
#define TEARDOWN_MAX	256	/* teardown(): close at most this many others */

static char endpoint[128];	/* ipc://<path> */
static unsigned int nsub;	/* subscribers (m) */
static int hwm = 1000;
static int nodrop;

/* Publisher process. */
static void *pctx, *xpub;
static void **others;
static unsigned int nothers;

struct zsub {
	void *ctx, *sock;
	zmq_msg_t topic;
	zmq_msg_t *held;	/* payload frames handed out by the last call */
	unsigned int cap;
	int done;		/* the stream is over for us; told the publisher */
	int err;		/* why, if it failed: -errno */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int zerr(const char *what)
{
	int err = errno ? errno : EPROTO;

	fprintf(stderr, "zmq: %s: %s\n", what, zmq_strerror(err));
	return -err;
}

static int set_int(void *sock, int option, int val)
{
	return zmq_setsockopt(sock, option, &val, sizeof(val));
}

static int zpeer_setup(unsigned int m)
{
	const char *env = getenv("BENCH_ZMQ_HWM");
	struct timespec ts;

	nsub = m;
	if (env && !strcmp(env, "ring")) {
		unsigned long msgs = opt.ring / (opt.size + TOPIC_LEN);

		hwm = msgs < 1 ? 1 : msgs > 1u << 30 ? 1 << 30 : (int)msgs;
	} else if (env && *env) {
		hwm = atoi(env);
		if (hwm < 0)
			return -EINVAL;
	}
	env = getenv("BENCH_ZMQ_NODROP");
	nodrop = env && atoi(env);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(endpoint, sizeof(endpoint), "ipc:///tmp/evbus-bench-zmq.%d.%lx",
		 (int)getpid(), (unsigned long)ts.tv_nsec);
	return 0;
}

static void *zpeer_sub_open(unsigned int i)
{
	struct zsub *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	zmq_msg_init(&s->topic);
	s->ctx = zmq_ctx_new();
	if (!s->ctx)
		goto fail;
	s->sock = zmq_socket(s->ctx, ZMQ_SUB);
	if (!s->sock ||
	    set_int(s->sock, ZMQ_RCVHWM, hwm) ||
	    set_int(s->sock, ZMQ_RECONNECT_IVL, RECONNECT_MS) ||
	    set_int(s->sock, ZMQ_HANDSHAKE_IVL, 0) ||
	    set_int(s->sock, ZMQ_LINGER, 0) ||
	    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, BENCH_TOPIC, TOPIC_LEN) ||
	    zmq_connect(s->sock, endpoint))
		goto fail;
	return s;
fail:
	err = errno;
	if (s->sock)
		zmq_close(s->sock);
	if (s->ctx)
		zmq_ctx_term(s->ctx);
	free(s);
	errno = err;
	return NULL;
}

/* One frame; -errno on failure, EINTR retried for blocking calls. */
static int recv_frame(void *sock, zmq_msg_t *msg, int flags, uint64_t *calls)
{
	for (;;) {
		++*calls;
		if (zmq_msg_recv(msg, sock, flags) >= 0)
			return 0;
		if (errno != EINTR || (flags & ZMQ_DONTWAIT))
			return -errno;
	}
}

/*
 * This subscriber is done: it saw the end of stream, or the last event
 * (after which the harness reads no more), or failed.  Unsubscribing tells
 * the publisher (see zpeer_pub_close()) and stops further copies.
 */
static void sub_done(struct zsub *s)
{
	if (s->done)
		return;
	s->done = 1;
	zmq_setsockopt(s->sock, ZMQ_UNSUBSCRIBE, BENCH_TOPIC, TOPIC_LEN);
}

/* The next event into *msg: 1, 0 at end of stream, or -errno. */
static int recv_event(struct zsub *s, zmq_msg_t *msg, int flags,
		      uint64_t *calls)
{
	struct bench_stamp stamp;
	int ret;

	ret = recv_frame(s->sock, &s->topic, flags, calls);
	if (ret)
		return ret;
	if (!zmq_msg_more(&s->topic) ||
	    zmq_msg_size(&s->topic) != TOPIC_LEN ||
	    memcmp(zmq_msg_data(&s->topic), BENCH_TOPIC, TOPIC_LEN))
		return -EPROTO;
	/* Multipart messages arrive whole: the payload is there. */
	ret = recv_frame(s->sock, msg, 0, calls);
	if (ret)
		return ret;
	if (zmq_msg_more(msg))
		return -EPROTO;
	if (!zmq_msg_size(msg))
		return 0;
	if (zmq_msg_size(msg) >= sizeof(stamp)) {
		memcpy(&stamp, zmq_msg_data(msg), sizeof(stamp));
		if (stamp.seq >= opt.n)
			sub_done(s);
	}
	return 1;
}

static int zpeer_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			  uint64_t *calls)
{
	struct zsub *s = ctx;
	unsigned int n = 0;
	int ret = 0;

	if (s->done)
		return s->err;		/* 0: end of stream */
	if (max > s->cap) {
		zmq_msg_t *h = realloc(s->held, max * sizeof(*h));

		if (!h) {
			s->err = -ENOMEM;
			sub_done(s);
			return s->err;
		}
		for (unsigned int j = s->cap; j < max; j++)
			zmq_msg_init(&h[j]);
		s->held = h;
		s->cap = max;
	}
	/* Block for the first event, then take what is queued. */
	while (n < max && !s->done) {
		ret = recv_event(s, &s->held[n], n ? ZMQ_DONTWAIT : 0, calls);
		if (ret <= 0)
			break;
		rx[n].payload = zmq_msg_data(&s->held[n]);
		rx[n].len = zmq_msg_size(&s->held[n]);
		rx[n].lost = 0;
		n++;
	}
	if (ret == -EAGAIN || ret == -EINTR)
		return n ? (int)n : -EINTR;	/* the harness calls again */
	if (ret < 0)
		s->err = ret;
	if (ret <= 0)
		sub_done(s);		/* end of stream, or failed */
	return n ? (int)n : s->err;
}

/* The publisher's context and bound XPUB, made on first use. */
static int pub_bind(unsigned int k)
{
	int max;

	if (xpub)
		return 0;
	pctx = zmq_ctx_new();
	if (!pctx)
		return zerr("zmq_ctx_new");
	/* The XPUB, the K others, and libzmq's own reaper and I/O sockets. */
	max = k + 64;
	if (max > zmq_ctx_get(pctx, ZMQ_SOCKET_LIMIT)) {
		fprintf(stderr, "zmq: %u sockets exceed ZMQ_SOCKET_LIMIT %d\n",
			k + 1, zmq_ctx_get(pctx, ZMQ_SOCKET_LIMIT));
		return -EMFILE;
	}
	if (zmq_ctx_set(pctx, ZMQ_MAX_SOCKETS, max < 1024 ? 1024 : max))
		return zerr("ZMQ_MAX_SOCKETS");
	/* Per other: the SUB's mailbox and both ends of its connection. */
	bench_raise_nofile(3ul * k + nsub + 256);
	xpub = zmq_socket(pctx, ZMQ_XPUB);
	if (!xpub)
		return zerr("zmq_socket XPUB");
	if (set_int(xpub, ZMQ_SNDHWM, hwm) ||
	    set_int(xpub, ZMQ_XPUB_VERBOSER, 1) ||
	    set_int(xpub, ZMQ_XPUB_NODROP, nodrop) ||
	    set_int(xpub, ZMQ_BACKLOG, nsub + k + 64) ||
	    set_int(xpub, ZMQ_HANDSHAKE_IVL, 0) ||
	    set_int(xpub, ZMQ_LINGER, 0))
		return zerr("XPUB options");
	if (zmq_bind(xpub, endpoint))
		return zerr(endpoint);
	return 0;
}

static int zpeer_add_others(unsigned int k)
{
	char topic[32];
	int ret;

	ret = pub_bind(k);
	if (ret)
		return ret;
	others = calloc(k ? k : 1, sizeof(*others));
	if (!others)
		return -ENOMEM;
	for (nothers = 0; nothers < k; nothers++) {
		void *s = zmq_socket(pctx, ZMQ_SUB);

		if (!s)
			return zerr("zmq_socket SUB (other)");
		others[nothers] = s;
		snprintf(topic, sizeof(topic), OTHER_PREFIX "%u", nothers);
		if (set_int(s, ZMQ_RCVHWM, hwm) ||
		    set_int(s, ZMQ_RECONNECT_IVL, RECONNECT_MS) ||
		    set_int(s, ZMQ_HANDSHAKE_IVL, 0) ||
		    set_int(s, ZMQ_LINGER, 0) ||
		    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)) ||
		    zmq_connect(s, endpoint))
			return zerr("SUB options/connect (other)");
	}
	return 0;
}

/*
 * Read the (un)subscription notices the XPUB has queued: +1 per subscribe,
 * -1 per unsubscribe, to *subs for BENCH_TOPIC and to *oth for the others.
 */
static int read_notices(int *subs, int *oth)
{
	zmq_msg_t msg;
	int ret = 0;

	zmq_msg_init(&msg);
	for (;;) {
		const unsigned char *d;
		size_t len;
		int delta;

		if (zmq_msg_recv(&msg, xpub, ZMQ_DONTWAIT) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				ret = -errno;
			break;
		}
		d = zmq_msg_data(&msg);
		len = zmq_msg_size(&msg);
		if (!len || d[0] > 1)
			continue;
		delta = d[0] ? 1 : -1;
		if (len - 1 == TOPIC_LEN && !memcmp(d + 1, BENCH_TOPIC, TOPIC_LEN))
			*subs += delta;
		else if (len - 1 > strlen(OTHER_PREFIX) &&
			 !memcmp(d + 1, OTHER_PREFIX, strlen(OTHER_PREFIX)))
			*oth += delta;
	}
	zmq_msg_close(&msg);
	return ret;
}

static int zpeer_pub_open(void)
{
	uint64_t deadline;
	int subs = 0, oth = 0, ret;

	ret = pub_bind(nothers);
	if (ret)
		return ret;
	deadline = mono_ms() + READY_MS;
	for (;;) {
		zmq_pollitem_t it = { .socket = xpub, .events = ZMQ_POLLIN };
		uint64_t now = mono_ms();

		ret = read_notices(&subs, &oth);
		if (ret)
			return zerr("XPUB subscriptions");
		if (subs >= (int)nsub && oth >= (int)nothers)
			return 0;
		if (now >= deadline) {
			fprintf(stderr,
				"zmq: only %d of %u subscribers and %d of %u others subscribed within %d s\n",
				subs, nsub, oth, nothers, READY_MS / 1000);
			return -ETIMEDOUT;
		}
		if (zmq_poll(&it, 1, deadline - now) < 0 && errno != EINTR)
			return zerr("zmq_poll");
	}
}

static int send_frame(const void *buf, size_t len, int flags, uint64_t *calls)
{
	for (;;) {
		++*calls;
		if (zmq_send(xpub, buf, len, flags) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int zpeer_publish(void *const *payload, unsigned int count,
			 uint64_t *calls)
{
	int ret;

	for (unsigned int j = 0; j < count; j++) {
		ret = send_frame(BENCH_TOPIC, TOPIC_LEN, ZMQ_SNDMORE, calls);
		if (!ret)
			ret = send_frame(payload[j], opt.size, 0, calls);
		if (ret)
			return ret;
	}
	return 0;
}

/* Process the XPUB's pending commands; 0 or -errno. */
static int xpub_commands(void)
{
	int events;
	size_t len = sizeof(events);

	return zmq_getsockopt(xpub, ZMQ_EVENTS, &events, &len) ? -errno : 0;
}

static void zpeer_pub_close(void)
{
	uint64_t calls = 0, deadline = mono_ms() + CLOSE_MS;
	int subs = (int)nsub, oth = 0, fd, ret;
	size_t len = sizeof(fd);

	if (!xpub)
		return;
	if (zmq_getsockopt(xpub, ZMQ_FD, &fd, &len)) {
		zerr("ZMQ_FD");
		return;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		/* Queues that drained below their mark take messages again. */
		if (xpub_commands() || read_notices(&subs, &oth)) {
			zerr("XPUB");
			return;
		}
		if (subs <= 0)
			return;		/* every subscriber has the marker */
		if (mono_ms() >= deadline) {
			fprintf(stderr,
				"zmq: %d subscribers did not acknowledge the end of stream within %d s\n",
				subs, CLOSE_MS / 1000);
			return;
		}
		/*
		 * The marker; a full queue (NODROP) is retried on the next
		 * round.  Once the topic frame is in, the empty frame cannot
		 * fail: a multipart message is queued whole or not at all.
		 */
		ret = send_frame(BENCH_TOPIC, TOPIC_LEN,
				 ZMQ_SNDMORE | ZMQ_DONTWAIT, &calls);
		if (!ret)
			ret = send_frame("", 0, 0, &calls);
		if (ret && ret != -EAGAIN) {
			errno = -ret;
			zerr("end of stream");
			return;
		}
		if (poll(&p, 1, RESEND_MS) < 0 && errno != EINTR) {
			zerr("poll ZMQ_FD");
			return;
		}
	}
}

static void zpeer_teardown(void)
{
	unlink(endpoint + strlen("ipc://"));
	/*
	 * libzmq's teardown of many connections is quadratic: for every
	 * connection that goes away the XPUB walks its whole subscription
	 * trie (mtrie rm by pipe).  For K = 4096 that is ~2.5 s on the host
	 * and minutes under TCG, after the measurement; past TEARDOWN_MAX
	 * others the sockets are left to the process's exit instead.
	 */
	if (nothers > TEARDOWN_MAX)
		return;
	for (unsigned int i = 0; i < nothers; i++)
		zmq_close(others[i]);
	free(others);
	others = NULL;
	nothers = 0;
	if (xpub)
		zmq_close(xpub);
	xpub = NULL;
	if (pctx)
		zmq_ctx_term(pctx);
	pctx = NULL;
}

const struct bench_peer peer_zmq = {
	.name		= "zmq",
	.workloads	= W_ALL,
	.setup		= zpeer_setup,
	.sub_open	= zpeer_sub_open,
	.sub_recv	= zpeer_sub_recv,
	.add_others	= zpeer_add_others,
	.pub_open	= zpeer_pub_open,
	.publish	= zpeer_publish,
	.pub_close	= zpeer_pub_close,
	.teardown	= zpeer_teardown,
};
