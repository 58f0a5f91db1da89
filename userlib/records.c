// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The record walker: the one place that steps through a buffer of records
 * as read() (or an io_uring read) returns them, skips PAD filler and
 * decodes events, lag reports and revocations.  evbus_read() walks its read() buffer
 * with it; applications walk io_uring completions with it.  Nothing here
 * needs io_uring.
 */
#include <string.h>

#include "internal.h"

/* Fill in rec from the raw record h; -EBADMSG if it is malformed. */
static int evbus_rec_decode(struct evbus_record *rec, const struct evbus_rec_hdr *h)
{
	memset(rec, 0, sizeof(*rec));
	rec->kind = h->kind;
	rec->len = h->len;
	rec->hdr = h;

	if (h->kind == EVBUS_REC_EVENT) {
		const struct evbus_event *ev = (const void *)h;
		uint64_t need;

		if (h->hdr_len < sizeof(*ev) || h->len < sizeof(*ev))
			return -EBADMSG;
		need = (uint64_t)h->hdr_len + EVBUS_ALIGN((uint64_t)ev->topic_len + 1) +
		       ev->payload_len;
		if (need > h->len || ev->topic_len > EVBUS_TOPIC_MAX ||
		    EVBUS_EVENT_TOPIC(ev)[ev->topic_len] != '\0')
			return -EBADMSG;
		rec->event = ev;
		rec->topic = EVBUS_EVENT_TOPIC(ev);
		rec->topic_len = ev->topic_len;
		rec->payload = EVBUS_EVENT_PAYLOAD(ev);
		rec->payload_len = ev->payload_len;
	} else if (h->kind == EVBUS_REC_LAGGED) {
		if (h->hdr_len < sizeof(struct evbus_lagged) ||
		    h->len < sizeof(struct evbus_lagged))
			return -EBADMSG;
		rec->lagged = (const void *)h;
	} else if (h->kind == EVBUS_REC_REVOKED) {
		if (h->hdr_len < sizeof(struct evbus_revoked) ||
		    h->len < sizeof(struct evbus_revoked))
			return -EBADMSG;
	}
	return 0;
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
