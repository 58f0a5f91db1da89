/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libevbus: a thin client library for /dev/evbus.
 *
 * One struct evbus is one open file of the device: a subscriber with its
 * own ring, and a publisher.  Every function maps onto one ioctl or one
 * read(), returns 0 (or a count) on success and a negative errno on
 * failure, and never changes errno.  Option structs start with their own
 * size so they can grow without breaking binaries; declare them with
 * EVBUS_OPTS().  See evbus(7) for an overview and one man page per
 * function for the details.
 *
 * A handle is not thread-safe for evbus_read(); the publish and subscribe
 * calls only use the file descriptor and may run concurrently.
 */
#ifndef _EVBUS_H
#define _EVBUS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/evbus.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVBUS_LIB_VERSION_MAJOR	1
#define EVBUS_LIB_VERSION_MINOR	0
#define EVBUS_LIB_VERSION_PATCH	0
#define EVBUS_LIB_VERSION	"1.0.0"

#define EVBUS_DEVICE_PATH	"/dev/evbus"

/*
 * Declare an option struct with its size filled in and every other field,
 * padding and reserved ones included, zero:
 *	EVBUS_OPTS(evbus_pub_opts, po, .type = 7);
 * Option structs have no implicit padding, so "zero" is well defined.
 */
#define EVBUS_OPTS(TYPE, NAME, ...)					\
	struct TYPE NAME = {						\
		.sz = sizeof(struct TYPE),				\
		__VA_ARGS__						\
	}

struct evbus;

/* evbus_opts.flags */
#define EVBUS_OPEN_RDONLY	(1U << 0)	/* subscribe only */
#define EVBUS_OPEN_WRONLY	(1U << 1)	/* publish only */

struct evbus_opts {
	size_t sz;		/* sizeof(struct evbus_opts) */
	const char *path;	/* device node; NULL: EVBUS_DEVICE_PATH */
	unsigned int flags;	/* EVBUS_OPEN_* */
	unsigned int reserved0;	/* must be 0 */
	size_t read_buf;	/* initial read buffer, bytes; 0: 64 KiB */
};

/* Publish options: carried verbatim to every subscriber. */
struct evbus_pub_opts {
	size_t sz;		/* sizeof(struct evbus_pub_opts) */
	uint32_t type;		/* application type code */
	uint32_t reserved0;	/* must be 0 */
	uint64_t corr;		/* correlation id */
	uint64_t parent;	/* parent sequence number */
};

/*
 * One record from evbus_read().  It and everything it points to belong to
 * the handle and stay valid until the next evbus_read() or evbus_close().
 * Records of a kind this library does not know have kind set and both
 * event and lagged NULL: skip them.
 */
struct evbus_record {
	unsigned int kind;			/* EVBUS_REC_EVENT, EVBUS_REC_LAGGED */
	unsigned int len;			/* bytes of the raw record */
	const struct evbus_rec_hdr *hdr;	/* the raw record */
	const struct evbus_event *event;	/* EVBUS_REC_EVENT, else NULL */
	const struct evbus_lagged *lagged;	/* EVBUS_REC_LAGGED, else NULL */
	const char *topic;			/* events: NUL-terminated */
	size_t topic_len;
	const void *payload;			/* events: payload_len bytes */
	size_t payload_len;
};

/* The device */
int evbus_open(struct evbus **bus, const struct evbus_opts *opts);
void evbus_close(struct evbus *bus);
int evbus_fd(const struct evbus *bus);
int evbus_query(struct evbus *bus, struct evbus_version *ver);

/* Subscriptions */
int evbus_subscribe(struct evbus *bus, const char *pattern, uint32_t *sub_id);
int evbus_unsubscribe(struct evbus *bus, uint32_t sub_id);

/* Publishing */
int evbus_publish(struct evbus *bus, const char *topic, const void *data,
		  size_t len, const struct evbus_pub_opts *opts, uint64_t *seq);
int evbus_publish_batch(struct evbus *bus, const struct evbus_pub *events,
			unsigned int count, uint64_t *first_seq);

/* Fill one batch entry; set type, corr and parent afterwards if needed. */
static inline void evbus_pub_prep(struct evbus_pub *p, const char *topic,
				  const void *data, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->topic = (uintptr_t)topic;
	p->topic_len = (uint32_t)strlen(topic);
	p->payload = (uintptr_t)data;
	p->payload_len = (uint32_t)len;
}

/* Receiving */
int evbus_read(struct evbus *bus, const struct evbus_record **rec,
	       int timeout_ms);

/* Ring and counters */
int evbus_set_ring(struct evbus *bus, uint32_t size, uint32_t policy);
int evbus_get_ring(struct evbus *bus, uint32_t *size, uint32_t *policy);
int evbus_get_stats(struct evbus *bus, struct evbus_stats *stats);

/* Topic and pattern syntax, checked without the device */
int evbus_check_topic(const char *topic, const char **why);
int evbus_check_pattern(const char *pattern, const char **why);

/* The library's own version, at run time */
const char *evbus_lib_version(void);
int evbus_lib_version_major(void);
int evbus_lib_version_minor(void);

#ifdef __cplusplus
}
#endif

#endif /* _EVBUS_H */
