// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The reader.  read() hands out as many whole records as fit in the
 * buffer; evbus_read() returns them one at a time and only calls read()
 * again once the buffer is used up.  The file is non-blocking, so waiting
 * (forever or with a timeout) is a poll() on it.
 *
 * A record that does not fit makes read() fail with EINVAL: the buffer is
 * then doubled, up to EVBUS_READ_BUF_MAX, which holds the largest record
 * the module can ever produce.
 */
#include <string.h>

#include "internal.h"

/*
 * Fill in rec from the raw record h; -EBADMSG if it is malformed.  Shared
 * by evbus_read() and the io_uring buffer iterator (uring.c).
 */
int evbus_rec_decode(struct evbus_record *rec, const struct evbus_rec_hdr *h)
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
	}
	return 0;
}

/*
 * Take the next record from the buffer.  Returns 0 with bus->rec filled,
 * -EAGAIN when the buffer is used up, -EBADMSG (and drops the rest of the
 * buffer) when the record is not well formed.
 */
static int evbus_next(struct evbus *bus)
{
	for (;;) {
		const struct evbus_rec_hdr *h;
		size_t left = bus->buf_len - bus->buf_off;
		int ret;

		if (!left)
			return -EAGAIN;
		h = (const void *)(bus->buf + bus->buf_off);
		if (!EVBUS_REC_OK(h, left)) {
			bus->buf_off = bus->buf_len;
			return -EBADMSG;
		}
		bus->buf_off += h->len;
		if (h->kind == EVBUS_REC_PAD)
			continue;
		ret = evbus_rec_decode(&bus->rec, h);
		if (ret)
			bus->buf_off = bus->buf_len;
		return ret;
	}
}

static int evbus_grow(struct evbus *bus)
{
	size_t size = bus->buf_size * 2;
	char *buf;

	if (bus->buf_size >= EVBUS_READ_BUF_MAX)
		return -EINVAL;		/* cannot happen with a sane module */
	if (size > EVBUS_READ_BUF_MAX)
		size = EVBUS_READ_BUF_MAX;
	buf = sys_realloc(bus->buf, size);
	if (!buf)
		return -ENOMEM;
	bus->buf = buf;
	bus->buf_size = size;
	return 0;
}

/* One non-blocking read() into the (empty) buffer: 0 or -errno. */
static int evbus_fill(struct evbus *bus)
{
	ssize_t n;
	int ret;

	bus->buf_len = 0;
	bus->buf_off = 0;
	if (!bus->buf) {
		bus->buf = sys_calloc(1, bus->buf_size);
		if (!bus->buf)
			return -ENOMEM;
	}
	for (;;) {
		n = sys_read(bus->fd, bus->buf, bus->buf_size);
		if (n != -EINVAL)
			break;
		ret = evbus_grow(bus);
		if (ret)
			return ret;
	}
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EIO;	/* read() never returns 0 for a non-empty buffer */
	bus->buf_len = (size_t)n;
	return 0;
}

/* Wait until readable or the deadline (ms on the monotonic clock, -1: none). */
static int evbus_wait(struct evbus *bus, long long deadline)
{
	long long left = -1;
	int ret;

	if (deadline >= 0) {
		left = deadline - sys_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (left > INT32_MAX)
			left = INT32_MAX;
	}
	ret = sys_poll_in(bus->fd, (int)left);
	if (ret == 0)
		return deadline >= 0 && sys_now_ms() >= deadline ? -ETIMEDOUT : 0;
	return ret < 0 ? ret : 0;
}

EVBUS_API int evbus_read(struct evbus *bus, const struct evbus_record **rec,
			 int timeout_ms)
{
	long long deadline = -1;
	int ret;

	if (!bus || !rec)
		return -EINVAL;
	if (bus->flags & EVBUS_OPEN_WRONLY)
		return -EBADF;
	if (timeout_ms > 0)
		deadline = sys_now_ms() + timeout_ms;

	for (;;) {
		ret = evbus_next(bus);
		if (ret != -EAGAIN)
			break;
		/*
		 * With wake-up coalescing the kernel says when a batch is
		 * due; a non-blocking read() would take whatever is there.
		 */
		if (bus->wake && timeout_ms != 0) {
			ret = evbus_wait(bus, deadline);
			if (ret)
				break;
		}
		ret = evbus_fill(bus);
		if (!ret)
			continue;
		if (ret != -EAGAIN || timeout_ms == 0)
			break;
		if (bus->wake)
			continue;
		ret = evbus_wait(bus, deadline);
		if (ret)
			break;
	}
	*rec = ret ? NULL : &bus->rec;
	return ret;
}
