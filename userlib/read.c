// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The reader.  read() hands out as many whole records as fit in the
 * buffer (or, once the handle is mapped, mmap.c takes them from the ring); evbus_read() returns them one at a time and only calls read()
 * again once the buffer is used up.  The file is non-blocking, so waiting
 * (forever or with a timeout) is a poll() on it.
 *
 * A record that does not fit makes read() fail with EINVAL: the buffer is
 * then doubled, up to EVBUS_READ_BUF_MAX, which holds the largest record
 * the module can ever produce.
 */
#include "internal.h"

/*
 * Take the next record from the buffer with the library's one record
 * walker (records.c).  Returns 0 with *rec set, -EAGAIN when the buffer is
 * used up, -EBADMSG (and drops the rest of the buffer) when the record is
 * not well formed.
 */
static int evbus_next(struct evbus *bus, const struct evbus_record **rec)
{
	int ret = evbus_records_next(&bus->it, rec);

	return ret == -ENODATA ? -EAGAIN : ret;
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

	evbus_records_init(&bus->it, NULL, 0);
	if (!bus->buf) {
		bus->buf = sys_calloc(1, bus->buf_size);
		if (!bus->buf)
			return -ENOMEM;
	}
	for (;;) {
		/* A mapped ring: the same records, without the copy in read(). */
		if (bus->mm) {
			n = evbus_mmap_take(bus->mm, bus->buf, bus->buf_size);
			if (!n)
				n = -EAGAIN;
			else if (n == -ENOSPC)
				n = -EINVAL;
		} else {
			n = sys_read(bus->fd, bus->buf, bus->buf_size);
		}
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
	return evbus_records_init(&bus->it, bus->buf, (size_t)n);
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
		ret = evbus_next(bus, rec);
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
	if (ret)
		*rec = NULL;
	return ret;
}
