// SPDX-License-Identifier: GPL-2.0
/*
 * D-Bus as a fan-out peer of the benchmark harness (fanout.c, see bench.h for
 * the contract): dbus-broker as the bus, sd-bus (libsystemd) as the client
 * library, the pairing systemd machines run.
 *
 * The bus is not started here: tests/bench/dbus-session starts dbus-broker
 * (inside the test VM only) and exports DBUS_SESSION_BUS_ADDRESS and
 * EVBUS_DBUS_BROKER_PID, which setup() reads; the broker's pid goes to
 * bench_broker_pid so the harness accounts its CPU time and context switches.
 *
 * Shape: broker fan-out.  Every subscriber is its own bus connection with one
 * match rule, type='signal',interface='org.evbus.Bench',member='<topic>'
 * (BENCH_TOPIC "bench.fanout" becomes the member "bench_fanout": member
 * names allow only [A-Za-z0-9_]).  The publisher emits broadcast signals (no
 * destination) on /org/evbus/Bench with the payload as one byte array ("ay");
 * dbus-broker matches every signal against its match rules and queues a copy
 * to every connection whose rule matches.  The K "others" are K more
 * connections, held by the parent, each with one rule for member
 * 'other_<i>', which is never emitted.
 *
 * End of stream: the publisher owns the name org.evbus.Bench.Publisher and
 * every subscriber has a second rule, for NameOwnerChanged on that name.
 * The broker handles the publisher's messages in order and its
 * disconnection after the last, so the signal that the name lost its owner
 * reaches each subscriber after the last event, also when the broker
 * dropped the publisher.  (An end-of-stream message would need a round trip
 * to know it arrived, and would get lost with a dropped publisher.)
 *
 * Receiving: a subscriber's match callback takes a reference on each signal
 * and points the bench_rx at the array inside it (no copy; the pointer is
 * 4 bytes past an 8-byte boundary, as the array's length comes first in the
 * D-Bus body).  The references are dropped at the next sub_recv() call.
 *
 * Calls: D-Bus has no batched emission.  sd_bus_send() writes a message at
 * once with one sendmsg() when nothing is queued, else appends it to the
 * connection's write queue; publish() sends its count messages and then
 * flushes the queue (one sendmsg() per queued message, a poll() whenever the
 * socket is full).  sd-bus reads exactly one message at a time, the 24-byte
 * fixed header first and then the rest: two recvmsg() per message, one more
 * that finds the socket empty (EAGAIN) before each poll() in sd_bus_wait().
 * The syscall counts reported here follow that model of sd-bus 252 from the
 * state of its queues before and after each call (sd_bus_get_n_queued_*);
 * they are not traced.  tests/bench/strace-counts measures the real ones.
 *
 * Limits: dbus-broker charges every connection, match rule and queued byte
 * to the connection's uid (here all root).  dbus-session's configuration
 * raises the per-uid budgets so that 4096 others plus 64 subscribers fit;
 * the broker's default per-uid object limit (10240 connections, names and
 * pending replies) is not reachable through its launcher and is enough.
 * --ring does not apply: the broker, not a socket buffer, holds the backlog
 * of a subscriber that falls behind.
 *
 * Slow subscribers: dbus-broker never blocks a sender.  It queues the
 * signals for a subscriber that does not read in its own memory, charged to
 * the uids involved, and when an allocation exceeds a uid's byte budget it
 * disconnects the connection that needed it: the slow subscriber when it
 * runs under a uid of its own, and with one uid for everybody (this
 * benchmark: all root) whoever needs memory next, the publisher and busy
 * subscribers included.  A dropped subscriber reads what the broker had
 * already written to its socket, then sub_recv() returns -ECONNRESET; a
 * dropped publisher ends the stream early (see above) and the subscribers
 * count the missing events as silently lost.  D-Bus has no loss notices.
 * With dbus-session's default budget (2 GiB per uid) the runs here never
 * come near: the broker buffers whatever the stopped subscriber misses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "bench.h"

#define DBUS_PATH	"/org/evbus/Bench"
#define DBUS_IFACE	"org.evbus.Bench"
#define DBUS_NAME_MAX	64
#define DBUS_RULE_MAX	160
#define DBUS_PUB_NAME	"org.evbus.Bench.Publisher"
#define DBUS_EOS_RULE	"type='signal',sender='org.freedesktop.DBus'," \
			"interface='org.freedesktop.DBus',member='NameOwnerChanged'," \
			"arg0='" DBUS_PUB_NAME "'"

struct dbus_sub {
	sd_bus *bus;
	struct bench_rx *rx;	/* the caller's array during sub_recv() */
	unsigned int n, max;	/* items in rx, its size */
	sd_bus_message **held;	/* the signals rx[] points into */
	unsigned int nheld, cap;
	int drained;		/* sd_bus_process() found nothing: poll next */
	int eos;		/* the publisher's name went away */
	int error;		/* -errno to report once rx is handed over */
};

static const char *bus_address;
static char member[DBUS_NAME_MAX];	/* BENCH_TOPIC as a member name */
static sd_bus *pub_bus;
static sd_bus **others;
static unsigned int nothers;

/* "bench.fanout" -> "bench_fanout" */
static void topic_to_member(const char *topic, char *buf, size_t len)
{
	size_t i = 0;

	if (*topic >= '0' && *topic <= '9')
		buf[i++] = '_';
	for (; *topic && i + 1 < len; topic++) {
		char c = *topic;

		buf[i++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') ? c : '_';
	}
	buf[i] = '\0';
}

static void match_rule(char *buf, size_t len, const char *memb)
{
	snprintf(buf, len, "type='signal',interface='%s',member='%s'",
		 DBUS_IFACE, memb);
}

/*
 * A new client connection to the bus; authentication and Hello proceed as
 * the connection is used.
 */
static int dbus_connect(sd_bus **busp)
{
	sd_bus *bus;
	int r;

	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, bus_address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*busp = bus;
	return 0;
}

static int is_disconnect(int r)
{
	return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE ||
	       r == -ESHUTDOWN || r == -ECONNABORTED;
}

static int dbus_setup(unsigned int m)
{
	const char *pid;

	bus_address = getenv("DBUS_SESSION_BUS_ADDRESS");
	if (!bus_address || !*bus_address) {
		fprintf(stderr, "dbus: no DBUS_SESSION_BUS_ADDRESS (%s)\n",
			"in the test VM: eval \"$(tests/bench/dbus-session start)\"");
		return -ENOTCONN;
	}
	pid = getenv("EVBUS_DBUS_BROKER_PID");
	if (pid && *pid) {
		char path[64];

		bench_broker_pid = strtol(pid, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)bench_broker_pid);
		if (bench_broker_pid <= 0 || access(path, R_OK)) {
			fprintf(stderr, "dbus: EVBUS_DBUS_BROKER_PID=%s is not a running process\n",
				pid);
			return -ESRCH;
		}
	} else {
		fprintf(stderr, "dbus: no EVBUS_DBUS_BROKER_PID: %s\n",
			"the broker's CPU time and context switches are not counted");
	}
	topic_to_member(BENCH_TOPIC, member, sizeof(member));
	/* The parent holds the publisher's and the others' connections. */
	bench_raise_nofile((unsigned long)opt.k + m + 64);
	return 0;
}

static void sub_release(struct dbus_sub *s)
{
	for (unsigned int i = 0; i < s->nheld; i++)
		sd_bus_message_unref(s->held[i]);
	s->nheld = 0;
}

static int on_event(sd_bus_message *msg, void *userdata, sd_bus_error *err)
{
	struct dbus_sub *s = userdata;
	const void *p;
	size_t len;
	int r;

	r = sd_bus_message_read_array(msg, 'y', &p, &len);
	if (r < 0) {
		s->error = r;
		return 1;
	}
	if (s->n >= s->max || s->nheld >= s->cap) {
		/* sd_bus_process() dispatches one message per call */
		s->error = -EOVERFLOW;
		return 1;
	}
	s->rx[s->n].payload = p;
	s->rx[s->n].len = len;
	s->rx[s->n].lost = 0;
	s->n++;
	s->held[s->nheld++] = sd_bus_message_ref(msg);
	return 1;
}

/*
 * NameOwnerChanged for DBUS_PUB_NAME: a new owner is the publisher, no new
 * owner the end of stream.
 */
static int on_owner(sd_bus_message *msg, void *userdata, sd_bus_error *err)
{
	struct dbus_sub *s = userdata;
	const char *name, *old_owner, *new_owner;
	int r;

	r = sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner);
	if (r < 0)
		s->error = r;
	else if (!*new_owner)
		s->eos = 1;
	return 1;
}

static void *dbus_sub_open(unsigned int i)
{
	struct dbus_sub *s = calloc(1, sizeof(*s));
	char rule[DBUS_RULE_MAX];
	int r;

	if (!s)
		return NULL;
	r = dbus_connect(&s->bus);
	if (r >= 0) {
		/* Synchronous: the broker has the rule when this returns. */
		match_rule(rule, sizeof(rule), member);
		r = sd_bus_add_match(s->bus, NULL, rule, on_event, s);
	}
	if (r >= 0)
		r = sd_bus_add_match(s->bus, NULL, DBUS_EOS_RULE, on_owner, s);
	if (r < 0) {
		fprintf(stderr, "dbus: subscriber %u: %s: %s\n", i,
			s->bus ? "AddMatch" : "connect", strerror(-r));
		sd_bus_close_unref(s->bus);
		free(s);
		errno = -r;
		return NULL;
	}
	return s;
}

static int dbus_sub_recv(void *ctx, struct bench_rx *rx, unsigned int max,
			 uint64_t *calls)
{
	struct dbus_sub *s = ctx;
	uint64_t queued;
	int r;

	sub_release(s);
	if (max > s->cap) {
		sd_bus_message **h = realloc(s->held, max * sizeof(*h));

		if (!h)
			return -ENOMEM;
		s->held = h;
		s->cap = max;
	}
	s->rx = rx;
	s->max = max;
	s->n = 0;
	while (s->n < max && !s->eos && !s->error) {
		if (s->drained) {
			r = sd_bus_wait(s->bus, UINT64_MAX);
			++*calls;			/* ppoll() */
			if (r < 0 && r != -EINTR) {
				s->error = is_disconnect(r) ? -ECONNRESET : r;
				break;
			}
			s->drained = 0;
			continue;
		}
		queued = 0;
		sd_bus_get_n_queued_read(s->bus, &queued);
		r = sd_bus_process(s->bus, NULL);
		if (r < 0) {
			s->error = is_disconnect(r) ? -ECONNRESET : r;
			break;
		}
		if (!queued)
			*calls += r ? 2 : 1;	/* recvmsg(): header, rest | EAGAIN */
		if (!r) {
			s->drained = 1;
			if (s->n)
				break;
		}
	}
	if (s->n)
		return s->n;
	if (s->error) {
		r = s->error;
		s->error = 0;
		return r;
	}
	return 0;			/* end of stream */
}

static int on_other(sd_bus_message *msg, void *userdata, sd_bus_error *err)
{
	return 0;
}

static int dbus_add_others(unsigned int k)
{
	char rule[DBUS_RULE_MAX], memb[DBUS_NAME_MAX];
	int r;

	others = calloc(k ? k : 1, sizeof(*others));
	if (!others)
		return -ENOMEM;
	bench_raise_nofile((unsigned long)k + opt.m + 64);
	for (nothers = 0; nothers < k; nothers++) {
		snprintf(rule, sizeof(rule), "other.%u", nothers);
		topic_to_member(rule, memb, sizeof(memb));
		match_rule(rule, sizeof(rule), memb);
		r = dbus_connect(&others[nothers]);
		if (r < 0) {
			fprintf(stderr, "dbus: other %u of %u: connect: %s\n",
				nothers, k, strerror(-r));
			return r;
		}
		r = sd_bus_add_match(others[nothers], NULL, rule, on_other, NULL);
		if (r < 0) {
			fprintf(stderr, "dbus: other %u of %u: AddMatch: %s\n",
				nothers, k, strerror(-r));
			sd_bus_close_unref(others[nothers]);
			return r;
		}
	}
	return 0;
}

static int dbus_pub_open(void)
{
	int r;

	r = dbus_connect(&pub_bus);
	if (r < 0)
		return r;
	/* Synchronous (after Hello): the subscribers see it before any event. */
	r = sd_bus_request_name(pub_bus, DBUS_PUB_NAME, 0);
	/* Drop what came meanwhile (NameAcquired). */
	while (r >= 0 && (r = sd_bus_process(pub_bus, NULL)) > 0)
		;
	return r < 0 ? r : 0;
}

/* Write out the write queue; counts as described at the top. */
static int dbus_flush(sd_bus *bus, uint64_t *calls)
{
	uint64_t before, after, rq;
	int r;

	for (;;) {
		r = sd_bus_get_n_queued_write(bus, &before);
		if (r < 0 || !before)
			return r < 0 ? r : 0;
		rq = 0;
		sd_bus_get_n_queued_read(bus, &rq);
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return r;
		sd_bus_get_n_queued_write(bus, &after);
		/* one sendmsg() per message written, one that found no room */
		*calls += before - after + (after ? 1 : 0);
		if (before != after)
			continue;
		/* nothing written: sd_bus_process() went on to read */
		if (!rq)
			*calls += r ? 2 : 1;
		if (!r) {
			r = sd_bus_wait(bus, UINT64_MAX);
			++*calls;			/* ppoll() */
			if (r < 0 && r != -EINTR)
				return r;
		}
	}
}

static int send_signal(const void *payload, size_t len, uint64_t *calls)
{
	sd_bus_message *msg = NULL;
	uint64_t queued = 0;
	int r;

	sd_bus_get_n_queued_write(pub_bus, &queued);
	r = sd_bus_message_new_signal(pub_bus, &msg, DBUS_PATH, DBUS_IFACE, member);
	if (r >= 0)
		r = sd_bus_message_append_array(msg, 'y', payload, len);
	if (r >= 0)
		r = sd_bus_send(pub_bus, msg, NULL);
	sd_bus_message_unref(msg);
	if (r >= 0 && !queued)
		++*calls;			/* written at once: sendmsg() */
	return r < 0 ? r : 0;
}

static int dbus_publish(void *const *payload, unsigned int count,
			uint64_t *calls)
{
	int r;

	for (unsigned int i = 0; i < count; i++) {
		r = send_signal(payload[i], opt.size, calls);
		if (r)
			return r;
	}
	return dbus_flush(pub_bus, calls);
}

/*
 * Closing the connection is the end of stream: the broker handles the
 * publisher's messages in order, then its disconnection, which releases
 * DBUS_PUB_NAME; the NameOwnerChanged signal for that reaches every
 * subscriber after the last event.  It comes just as well when the broker
 * drops the publisher (dbus-broker does when the publisher's uid runs out of
 * its byte budget): the subscribers count the events that never came.
 */
static void dbus_pub_close(void)
{
	if (pub_bus)
		pub_bus = sd_bus_flush_close_unref(pub_bus);
}

static void dbus_teardown(void)
{
	for (unsigned int i = 0; i < nothers; i++)
		sd_bus_close_unref(others[i]);
	free(others);
	others = NULL;
	nothers = 0;
	if (pub_bus)
		pub_bus = sd_bus_close_unref(pub_bus);
}

const struct bench_peer peer_dbus = {
	.name		= "dbus",
	.workloads	= W_ALL,
	.setup		= dbus_setup,
	.sub_open	= dbus_sub_open,
	.sub_recv	= dbus_sub_recv,
	.add_others	= dbus_add_others,
	.pub_open	= dbus_pub_open,
	.publish	= dbus_publish,
	.pub_close	= dbus_pub_close,
	.teardown	= dbus_teardown,
};
