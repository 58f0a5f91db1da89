// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The record walker: the one place that steps through a buffer of records
 * as read() (or an io_uring read) returns them, skips PAD filler and
 * decodes events, lag reports, revocations, and an approver's requests
 * (with the event each carries, checked as an event record is) and
 * cancellations.  evbus_read() walks its read() buffer with it;
 * applications walk io_uring completions with it.  Nothing here needs
 * io_uring.  Kinds it does not know are handed out with only kind, len
 * and hdr set.
 */
#include <string.h>

#include "internal.h"

/*
 * Check the event record ev, which has avail bytes (its hdr.len must fit
 * in them), and point rec's topic and payload into it: 0 or -EBADMSG.
 */
static int evbus_event_decode(struct evbus_record *rec,
			      const struct evbus_event *ev, uint64_t avail)
{
	const struct evbus_rec_hdr *h = &ev->hdr;
	uint64_t need;

	if (h->hdr_len < sizeof(*ev) || h->len < sizeof(*ev) || h->len > avail)
		return -EBADMSG;
	need = (uint64_t)h->hdr_len + EVBUS_ALIGN((uint64_t)ev->topic_len + 1) +
	       ev->payload_len;
	if (need > h->len || ev->topic_len > EVBUS_TOPIC_MAX ||
	    EVBUS_EVENT_TOPIC(ev)[ev->topic_len] != '\0')
		return -EBADMSG;
	rec->topic = EVBUS_EVENT_TOPIC(ev);
	rec->topic_len = ev->topic_len;
	rec->payload = EVBUS_EVENT_PAYLOAD(ev);
	rec->payload_len = ev->payload_len;
	return 0;
}

/*
 * A request: its fixed part, then at hdr_len (8-aligned) a whole event
 * record within the request's length.
 */
static int evbus_request_decode(struct evbus_record *rec,
				const struct evbus_rec_hdr *h)
{
	const struct evbus_request *rq = (const void *)h;
	const struct evbus_event *ev;

	if (h->hdr_len < sizeof(*rq) || (h->hdr_len & (EVBUS_REC_ALIGN - 1)) ||
	    (uint64_t)h->hdr_len + sizeof(*ev) > h->len)
		return -EBADMSG;
	ev = EVBUS_REQUEST_EVENT(rq);
	if (ev->hdr.kind != EVBUS_REC_EVENT)
		return -EBADMSG;
	return evbus_event_decode(rec, ev, h->len - h->hdr_len);
}

/* Fill in rec from the raw record h; -EBADMSG if it is malformed. */
static int evbus_rec_decode(struct evbus_record *rec, const struct evbus_rec_hdr *h)
{
	int ret;

	memset(rec, 0, sizeof(*rec));
	rec->kind = h->kind;
	rec->len = h->len;
	rec->hdr = h;

	switch (h->kind) {
	case EVBUS_REC_EVENT:
		ret = evbus_event_decode(rec, (const void *)h, h->len);
		if (!ret)
			rec->event = (const void *)h;
		return ret;
	case EVBUS_REC_LAGGED:
		if (h->hdr_len < sizeof(struct evbus_lagged) ||
		    h->len < sizeof(struct evbus_lagged))
			return -EBADMSG;
		rec->lagged = (const void *)h;
		return 0;
	case EVBUS_REC_REVOKED:
		if (h->hdr_len < sizeof(struct evbus_revoked) ||
		    h->len < sizeof(struct evbus_revoked))
			return -EBADMSG;
		return 0;
	case EVBUS_REC_REQUEST:
		return evbus_request_decode(rec, h);
	case EVBUS_REC_CANCELLED:
		if (h->hdr_len < sizeof(struct evbus_cancelled) ||
		    h->len < sizeof(struct evbus_cancelled))
			return -EBADMSG;
		return 0;
	default:
		return 0;
	}
}

EVBUS_API int evbus_records_init(struct evbus_rec_iter *it, const void *buf,
				 size_t len)
{
	if (!it || (!buf && len))
		return -EINVAL;
	memset(it, 0, sizeof(*it));
	it->buf = buf;
	it->len = len;
	return 0;
}

/*
 * The next record: 0 with *rec set, -ENODATA at the end of the buffer,
 * -EBADMSG (and the rest of the buffer dropped) for a malformed record.
 * Records must be 8-byte aligned in memory, as read() buffers from malloc()
 * or provided-buffer rings are.
 */
EVBUS_API int evbus_records_next(struct evbus_rec_iter *it,
				 const struct evbus_record **rec)
{
	if (!it || !rec)
		return -EINVAL;
	*rec = NULL;
	if ((uintptr_t)it->buf & (EVBUS_REC_ALIGN - 1)) {
		it->off = it->len;
		return -EBADMSG;
	}
	for (;;) {
		const struct evbus_rec_hdr *h;
		size_t left = it->len - it->off;
		int ret;

		if (!left)
			return -ENODATA;
		h = (const void *)(it->buf + it->off);
		if (!EVBUS_REC_OK(h, left)) {
			it->off = it->len;
			return -EBADMSG;
		}
		it->off += h->len;
		if (h->kind == EVBUS_REC_PAD)
			continue;
		ret = evbus_rec_decode(&it->rec, h);
		if (ret) {
			it->off = it->len;
			return ret;
		}
		*rec = &it->rec;
		return 0;
	}
}

/*
 * cb for every record in turn.  Returns the number of records handed to cb,
 * stopping early when cb returns nonzero: a positive value just stops (the
 * count includes that record), a negative one is returned as is.  -EBADMSG
 * for a malformed buffer, after cb saw every record before the bad one.
 */
EVBUS_API int evbus_parse_records(const void *buf, size_t len,
				  int (*cb)(const struct evbus_record *rec, void *arg),
				  void *arg)
{
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	int n = 0, ret;

	if (!cb)
		return -EINVAL;
	ret = evbus_records_init(&it, buf, len);
	if (ret)
		return ret;
	while (!(ret = evbus_records_next(&it, &rec))) {
		if (n == INT32_MAX)
			return -EOVERFLOW;
		n++;
		ret = cb(rec, arg);
		if (ret < 0)
			return ret;
		if (ret > 0)
			return n;
	}
	return ret == -ENODATA ? n : ret;
}
