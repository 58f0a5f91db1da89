// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The mapped ring (LIBEVBUS_1.4): the consumer protocol of
 * uapi/linux/evbus.h, in the shape of libbpf's ring_buffer__consume() and
 * ring_buffer__poll(), and what evbus_read() uses once a handle is mapped.
 *
 * Records are taken a run at a time: copied out of the ring into the
 * handle's buffer, then claimed with one compare-and-swap of consumer_pos
 * (a failed one means the kernel took them back first under drop-oldest:
 * they are reported in a LAGGED record at the new position, and the copy
 * is dropped), or, under drop-newest, where the kernel never takes a
 * record back, with one release store.  Copying first is what makes a torn
 * record impossible; the records then belong to the caller until its next
 * call, as with read().
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

struct evbus_mmap {
	struct evbus *bus;
	size_t page;
	struct evbus_mmap_ctl *ctl;		/* read-write */
	const struct evbus_mmap_hdr *hdr;	/* read-only */
	const char *data;			/* read-only, 2 * size bytes */
	uint32_t size;
	char *buf;				/* the records taken, for consume */
	size_t buf_size;
	struct evbus_rec_iter it;		/* what consume has not handed out */
};

static void unmap_all(struct evbus_mmap *m)
{
	if (m->data)
		sys_munmap(m->data, 2 * (size_t)m->size);
	if (m->hdr)
		sys_munmap(m->hdr, m->page);
	if (m->ctl)
		sys_munmap(m->ctl, m->page);
}

static int map_regions(struct evbus_mmap *m, int fd)
{
	int err;

	m->ctl = sys_mmap(m->page, PROT_READ | PROT_WRITE, fd,
			  EVBUS_MMAP_CTL_PGOFF * (long long)m->page, &err);
	if (!m->ctl)
		return err;
	m->hdr = sys_mmap(m->page, PROT_READ, fd,
			  EVBUS_MMAP_HDR_PGOFF * (long long)m->page, &err);
	if (!m->hdr)
		return err;
	m->size = m->hdr->size;
	if (!m->size || (m->size & (m->size - 1)))
		return -EPROTO;
	m->data = sys_mmap(2 * (size_t)m->size, PROT_READ, fd,
			   EVBUS_MMAP_DATA_PGOFF * (long long)m->page, &err);
	return m->data ? 0 : err;
}

/* A file without a ring yet: make it, keeping size, policy and wake-ups. */
static int make_ring(struct evbus *bus)
{
	struct evbus_ring_cfg cfg;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	ret = sys_ioctl(bus->fd, EVBUS_IOC_GET_RING, &cfg);
	if (ret)
		return ret;
	return sys_ioctl(bus->fd, EVBUS_IOC_SET_RING, &cfg);
}

EVBUS_API int evbus_mmap_open(struct evbus *bus, struct evbus_mmap **out)
{
	struct evbus_version ver;
	struct evbus_mmap *m;
	int ret;

	if (!bus || !out)
		return -EINVAL;
	if (bus->mm)
		return -EBUSY;
	memset(&ver, 0, sizeof(ver));
	ret = sys_ioctl(bus->fd, EVBUS_IOC_VERSION, &ver);
	if (ret)
		return ret;
	if (!(ver.features & EVBUS_FEAT_MMAP))
		return -EOPNOTSUPP;
	m = sys_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->bus = bus;
	m->page = (size_t)sys_page_size();
	ret = map_regions(m, bus->fd);
	/* No ring yet: the first mmap() failed, nothing is mapped. */
	if (ret == -ENODATA) {
		ret = make_ring(bus);
		if (!ret)
			ret = map_regions(m, bus->fd);
	}
	if (ret) {
		unmap_all(m);
		sys_free(m);
		return ret;
	}
	bus->mm = m;
	*out = m;
	return 0;
}

EVBUS_API void evbus_mmap_close(struct evbus_mmap *m)
{
	if (!m)
		return;
	unmap_all(m);
	if (m->bus)
		m->bus->mm = NULL;
	sys_free(m->buf);
	sys_free(m);
}

/*
 * Take the whole records available now, at most cap bytes, into buf:
 * bytes taken, 0 if there are none, -ENOSPC if the next record does not
 * fit in cap, -EBADMSG if the ring shows what no kernel writes.
 */
ssize_t evbus_mmap_take(struct evbus_mmap *m, void *buf, size_t cap)
{
	_Atomic uint64_t *cpos = (_Atomic uint64_t *)&m->ctl->consumer_pos;
	const _Atomic uint64_t *ppos =
		(const _Atomic uint64_t *)&m->hdr->producer_pos;
	const uint64_t mask = m->size - 1;

	for (;;) {
		uint64_t c = atomic_load_explicit(cpos, memory_order_acquire);
		uint64_t p = atomic_load_explicit(ppos, memory_order_acquire);
		uint64_t pos = c;

		if (c & EVBUS_MMAP_BUSY) {
			/* The kernel is rewriting the head; poll() waits for it. */
			sys_poll_in(m->bus->fd, 0);
			continue;
		}
		if (p - c > m->size) {
			/* c went stale: the kernel evicted past it meanwhile. */
			if (atomic_load_explicit(cpos, memory_order_acquire) != c)
				continue;
			return -EBADMSG;
		}
		while (pos != p) {
			const struct evbus_rec_hdr *h =
				(const void *)(m->data + (pos & mask));
			uint32_t len = h->len;

			if (len < sizeof(*h) || (len & 7) || len > p - pos ||
			    pos - c + len > cap)
				break;
			pos += len;
		}
		if (pos == c) {
			const struct evbus_rec_hdr *h =
				(const void *)(m->data + (c & mask));

			if (p == c)
				return 0;
			/* Taken back while we looked: start again. */
			if (atomic_load_explicit(cpos, memory_order_acquire) != c)
				continue;
			return h->len > cap ? -ENOSPC : -EBADMSG;
		}
		memcpy(buf, m->data + (c & mask), pos - c);
		if (!(m->hdr->flags & EVBUS_MMAP_OVERWRITE)) {
			atomic_store_explicit(cpos, pos, memory_order_release);
			return (ssize_t)(pos - c);
		}
		if (atomic_compare_exchange_strong_explicit(cpos, &c, pos,
							    memory_order_release,
							    memory_order_relaxed))
			return (ssize_t)(pos - c);
		/* The kernel evicted them first: a LAGGED record says so. */
	}
}

/* Refill m->buf from the ring: records taken (> 0), 0 if none, or -errno. */
static int refill(struct evbus_mmap *m)
{
	ssize_t n;
	int ret;

	for (;;) {
		if (!m->buf) {
			if (!m->buf_size)
				m->buf_size = m->bus->buf_size;
			m->buf = sys_calloc(1, m->buf_size);
			if (!m->buf)
				return -ENOMEM;
		}
		n = evbus_mmap_take(m, m->buf, m->buf_size);
		if (n != -ENOSPC)
			break;
		if (m->buf_size >= EVBUS_READ_BUF_MAX)
			return -EBADMSG;
		sys_free(m->buf);
		m->buf = NULL;
		m->buf_size *= 2;
	}
	if (n <= 0)
		return (int)n;
	ret = evbus_records_init(&m->it, m->buf, (size_t)n);
	return ret ? ret : 1;
}

EVBUS_API int evbus_mmap_consume(struct evbus_mmap *m, evbus_record_fn fn,
				 void *ctx)
{
	const struct evbus_record *rec;
	int count = 0, ret;

	if (!m || !fn)
		return -EINVAL;
	for (;;) {
		ret = evbus_records_next(&m->it, &rec);
		if (ret == -ENODATA) {
			ret = refill(m);
			if (ret <= 0)
				return ret ? ret : count;
			continue;
		}
		if (ret)
			return ret;
		count++;
		ret = fn(ctx, rec);
		if (ret)
			return ret < 0 ? ret : count;
	}
}

EVBUS_API int evbus_mmap_poll(struct evbus_mmap *m, evbus_record_fn fn,
			      void *ctx, int timeout_ms)
{
	int ret;

	if (!m || !fn)
		return -EINVAL;
	/* poll() also writes a loss of an emptied ring into it. */
	ret = sys_poll_in(m->bus->fd, timeout_ms);
	if (ret < 0)
		return ret;
	return evbus_mmap_consume(m, fn, ctx);
}
