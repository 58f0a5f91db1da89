/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A reader of a mapped evbus ring for the tests, written from the protocol
 * in uapi/linux/evbus.h with nothing but the uapi: map, take records
 * (copy + compare-and-swap under drop-oldest, in place + store under
 * drop-newest), unmap.  The stress test uses it too.
 */
#ifndef EVBUS_MMAP_TEST_H
#define EVBUS_MMAP_TEST_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/evbus.h>

struct evt_map {
	int fd;
	size_t page;
	struct evbus_mmap_ctl *ctl;		/* RW */
	const struct evbus_mmap_hdr *hdr;	/* RO */
	const char *data;			/* RO, 2 * size bytes */
	uint32_t size;
	uint64_t cas_failures;			/* records the kernel took back */
};

/* Map fd's ring: 0 or -errno. */
static inline int evt_map(struct evt_map *m, int fd)
{
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->page = sysconf(_SC_PAGESIZE);
	p = mmap(NULL, m->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 EVBUS_MMAP_CTL_PGOFF * m->page);
	if (p == MAP_FAILED)
		return -errno;
	m->ctl = p;
	p = mmap(NULL, m->page, PROT_READ, MAP_SHARED, fd,
		 EVBUS_MMAP_HDR_PGOFF * m->page);
	if (p == MAP_FAILED)
		goto err;
	m->hdr = p;
	m->size = m->hdr->size;
	p = mmap(NULL, 2 * (size_t)m->size, PROT_READ, MAP_SHARED, fd,
		 EVBUS_MMAP_DATA_PGOFF * m->page);
	if (p == MAP_FAILED)
		goto err;
	m->data = p;
	return 0;
err:
	p = (void *)(intptr_t)-errno;
	if (m->hdr)
		munmap((void *)m->hdr, m->page);
	munmap(m->ctl, m->page);
	return (int)(intptr_t)p;
}

static inline void evt_unmap(struct evt_map *m)
{
	if (m->data)
		munmap((void *)m->data, 2 * (size_t)m->size);
	if (m->hdr)
		munmap((void *)m->hdr, m->page);
	if (m->ctl)
		munmap(m->ctl, m->page);
	memset(m, 0, sizeof(*m));
}

/* Let the kernel finish with the head (EVBUS_MMAP_BUSY), or wait. */
static inline void evt_map_poll(struct evt_map *m, int timeout_ms)
{
	struct pollfd p = { .fd = m->fd, .events = POLLIN };

	poll(&p, 1, timeout_ms);
}

/*
 * Take the whole records available now, at most cap bytes (at least one
 * record if it fits), into buf: bytes taken, 0 if none, -EBADMSG if the
 * ring shows a record that cannot be (never, from a sane kernel), or
 * -ENOSPC if the next record is bigger than cap.
 */
static inline ssize_t evt_map_take(struct evt_map *m, void *buf, size_t cap)
{
	const uint64_t mask = m->size - 1;

	for (;;) {
		uint64_t c = __atomic_load_n(&m->ctl->consumer_pos, __ATOMIC_ACQUIRE);
		uint64_t p = __atomic_load_n(&m->hdr->producer_pos, __ATOMIC_ACQUIRE);
		uint64_t pos = c, want;

		if (c & EVBUS_MMAP_BUSY) {
			evt_map_poll(m, 0);
			continue;
		}
		if (p - c > m->size) {
			/* c went stale: the kernel evicted past it meanwhile. */
			if (__atomic_load_n(&m->ctl->consumer_pos,
					    __ATOMIC_ACQUIRE) != c)
				continue;
			return -EBADMSG;
		}
		while (pos != p) {
			const struct evbus_rec_hdr *h =
				(const void *)(m->data + (pos & mask));
			uint32_t len = __atomic_load_n(&h->len, __ATOMIC_RELAXED);

			if (len < sizeof(*h) || len % 8 || len > p - pos)
				break;	/* torn or taken back: the CAS says */
			if (pos - c + len > cap)
				break;
			pos += len;
		}
		want = pos - c;
		if (!want) {
			const struct evbus_rec_hdr *h =
				(const void *)(m->data + (c & mask));

			if (p == c)
				return 0;
			/* Taken back while we looked: start again. */
			if (__atomic_load_n(&m->ctl->consumer_pos,
					    __ATOMIC_ACQUIRE) != c)
				continue;
			return h->len > cap ? -ENOSPC : -EBADMSG;
		}
		memcpy(buf, m->data + (c & mask), want);
		if (!(m->hdr->flags & EVBUS_MMAP_OVERWRITE)) {
			__atomic_store_n(&m->ctl->consumer_pos, c + want,
					 __ATOMIC_RELEASE);
			return want;
		}
		if (__atomic_compare_exchange_n(&m->ctl->consumer_pos, &c,
						c + want, 0, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return want;
		m->cas_failures++;
	}
}

/*
 * Everything there is, as read() until EAGAIN would return it: take, and
 * once the ring looks empty poll() once, which writes a loss of an empty
 * ring into it.  Bytes taken or -errno.
 */
static inline ssize_t evt_map_drain(struct evt_map *m, void *buf, size_t cap)
{
	size_t len = 0;
	int polled = 0;
	ssize_t n;

	for (;;) {
		n = evt_map_take(m, (char *)buf + len, cap - len);
		if (n < 0)
			return n;
		if (n) {
			len += n;
			polled = 0;
			continue;
		}
		if (polled)
			return len;
		evt_map_poll(m, 0);
		polled = 1;
	}
}

#endif /* EVBUS_MMAP_TEST_H */
