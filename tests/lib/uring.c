// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus io_uring helpers against the module: publishing with
 * IORING_OP_URING_CMD and reading with IORING_OP_READ (and, from 6.7,
 * IORING_OP_READ_MULTISHOT) give the same records as the ioctls and read();
 * pending reads complete, cancel and tear down cleanly; errors arrive as
 * CQE res and match the ioctl path's; kernel.io_uring_disabled gives
 * -EPERM.  The error comparisons need the kernel's own answer to the same
 * bad input, so they call ioctl() directly instead of going through the
 * library (which refuses some of that input itself).
 */
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <liburing.h>

#include "lib_test.h"

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT	49	/* 6.7+, not in liburing 2.3 */
#endif

#define RBUF_SIZE	(64U << 10)
#define WAIT_MS		10000

/* ---------------------------------------------------------------- helpers */

static struct __kernel_timespec ms_ts(int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
	return ts;
}

/* Submit what is queued, then wait up to ms for one CQE and copy it out. */
static int wait_one(struct io_uring *ring, struct io_uring_cqe *out, int ms)
{
	struct __kernel_timespec ts = ms_ts(ms);
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	*out = *cqe;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* A CQE already posted, without waiting: 0, or -EAGAIN if there is none. */
static int peek_one(struct io_uring *ring, struct io_uring_cqe *out)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_peek_cqe(ring, &cqe);

	if (ret)
		return ret;
	*out = *cqe;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* One URING_CMD through the ring: the CQE's res (or a negative wait error). */
static int uring_pub(struct io_uring *ring, int fd, struct evbus_pub *p)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe cqe;
	int ret;

	if (!sqe || evbus_prep_publish(sqe, fd, p, NULL))
		return -ENOSPC;
	io_uring_sqe_set_data64(sqe, 0x5151);
	ret = wait_one(ring, &cqe, WAIT_MS);
	if (ret)
		return ret == -ETIME ? -ETIME : -ENOLINK;
	return cqe.user_data == 0x5151 ? cqe.res : -ENOLINK;
}

static int uring_batch(struct io_uring *ring, int fd, struct evbus_pub_batch *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe cqe;
	int ret;

	if (!sqe || evbus_prep_publish_batch(sqe, fd, b, NULL))
		return -ENOSPC;
	io_uring_sqe_set_data64(sqe, 0xba7c);
	ret = wait_one(ring, &cqe, WAIT_MS);
	if (ret)
		return ret == -ETIME ? -ETIME : -ENOLINK;
	return cqe.user_data == 0xba7c ? cqe.res : -ENOLINK;
}

/* A raw command: any cmd_op, any command area. */
static int uring_raw(struct io_uring *ring, int fd, uint32_t op,
		     const struct evbus_uring_cmd *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe cqe;
	int ret;

	if (!sqe)
		return -ENOSPC;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), c, sizeof(*c));
	io_uring_sqe_set_data64(sqe, 0x7a7);
	ret = wait_one(ring, &cqe, WAIT_MS);
	if (ret)
		return ret == -ETIME ? -ETIME : -ENOLINK;
	return cqe.res;
}

/* The kernel's own answer: the ioctl's return value, or -errno. */
static int kioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static long long read_stat(const char *name)
{
	char path[128], buf[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Wait until a global counter returns to want; its last value. */
static long long settle_stat(const char *name, long long want, int ms)
{
	long long deadline = lt_now_ms() + ms, v;

	while ((v = read_stat(name)) != want && lt_now_ms() < deadline)
		usleep(10000);
	return v;
}

static int kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return 0;
	return a > maj || (a == maj && b >= min);
}

/*
 * A page no access to which succeeds.  It stays mapped (PROT_NONE) so that
 * nothing else, the rings of a later io_uring_queue_init() for one, lands
 * there; munmap() it at the end.
 */
static void *inaccessible_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* -------------------------------------------------- records, copied out */

#define NEV		6
#define SNAP_MAX	8192

struct snap {
	size_t len;
	unsigned char raw[SNAP_MAX];
};

struct snaps {
	int n;
	struct snap s[NEV];
};

static int snap_cb(const struct evbus_record *rec, void *arg)
{
	struct snaps *ss = arg;

	if (!rec->event || ss->n >= NEV || rec->len > SNAP_MAX)
		return -E2BIG;
	ss->s[ss->n].len = rec->len;
	memcpy(ss->s[ss->n].raw, rec->hdr, rec->len);
	ss->n++;
	return 0;
}

static const struct evbus_event *snap_ev(const struct snap *s)
{
	return (const void *)s->raw;
}

/* The test events: topics, payloads and the carried fields all differ. */
struct evset {
	char topic[NEV][EVBUS_TOPIC_MAX + 1];
	unsigned char *payload[NEV];
	struct evbus_pub pub[NEV];
};

static void evset_init(struct evset *es)
{
	static const size_t plen[NEV] = { 5, 0, 1000, 7, 1, 4000 };
	char pre[64];
	int i;

	lt_topic(pre, sizeof(pre), "ur");
	snprintf(es->topic[0], sizeof(es->topic[0]), "%s.a", pre);
	snprintf(es->topic[1], sizeof(es->topic[1]), "%s.b.c", pre);
	snprintf(es->topic[2], sizeof(es->topic[2]), "%s.a", pre);
	snprintf(es->topic[3], sizeof(es->topic[3]), "%s.d-e_f:g", pre);
	/* A long one: the prefix, a dot and 200 more bytes. */
	snprintf(es->topic[4], sizeof(es->topic[4]), "%s.", pre);
	memset(es->topic[4] + strlen(es->topic[4]), 'L', 200);
	es->topic[4][strlen(pre) + 1 + 200] = '\0';
	snprintf(es->topic[5], sizeof(es->topic[5]), "%s.big", pre);
	for (i = 0; i < NEV; i++) {
		size_t k;

		es->payload[i] = plen[i] ? malloc(plen[i]) : NULL;
		for (k = 0; k < plen[i]; k++)
			es->payload[i][k] = (unsigned char)(i * 31 + k);
		evbus_pub_prep(&es->pub[i], es->topic[i], es->payload[i], plen[i]);
		es->pub[i].type = i == 3 ? 0xffffffffU : (uint32_t)i * 7;
		es->pub[i].corr = i == 3 ? ~0ULL : 1000 + i;
		es->pub[i].parent = i * 3;
	}
}

static void evset_free(struct evset *es)
{
	int i;

	for (i = 0; i < NEV; i++)
		free(es->payload[i]);
}

/* Events 0..2 with EVBUS_IOC_PUBLISH, 3..5 in one EVBUS_IOC_PUBLISH_BATCH. */
static int publish_ioctl(struct evbus *bus, struct evset *es, uint64_t *seq)
{
	int i, ret;

	for (i = 0; i < 3; i++) {
		EVBUS_OPTS(evbus_pub_opts, po, .type = es->pub[i].type,
			   .corr = es->pub[i].corr, .parent = es->pub[i].parent);

		ret = evbus_publish(bus, es->topic[i], es->payload[i],
				    es->pub[i].payload_len, &po, &seq[i]);
		if (ret)
			return ret;
	}
	ret = evbus_publish_batch(bus, &es->pub[3], 3, &seq[3]);
	seq[4] = seq[5] = 0;	/* only the first is reported: not checked */
	return ret == 3 ? 0 : ret < 0 ? ret : -EIO;
}

/*
 * The same through the ring: three EVBUS_URING_PUBLISH in one submission,
 * then one EVBUS_URING_PUBLISH_BATCH with EVBUS_BATCH_SEQ.
 */
static int publish_uring(struct __test_metadata *_metadata, struct io_uring *ring,
			 int fd, struct evset *es, uint64_t *seq)
{
	struct evbus_pub_batch b;
	struct io_uring_cqe cqe;
	int i, ret;

	for (i = 0; i < 3; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe)
			return -ENOSPC;
		es->pub[i].seq = 0;
		ret = evbus_prep_publish(sqe, fd, &es->pub[i], NULL);
		if (ret)
			return ret;
		io_uring_sqe_set_data64(sqe, 100 + i);
	}
	for (i = 0; i < 3; i++) {
		ret = wait_one(ring, &cqe, WAIT_MS);
		if (ret)
			return ret;
		EXPECT_EQ(100 + i, cqe.user_data);
		if (cqe.res)
			return cqe.res;
	}
	for (i = 0; i < 3; i++) {
		seq[i] = es->pub[i].seq;
		EXPECT_LT(0, seq[i]);
		if (i)
			EXPECT_LT(seq[i - 1], seq[i]);
	}

	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)&es->pub[3];
	b.count = 3;
	b.flags = EVBUS_BATCH_SEQ;
	for (i = 3; i < NEV; i++)
		es->pub[i].seq = 0;
	/* io_uring completes a whole batch with 0, not the count. */
	ret = uring_batch(ring, fd, &b);
	if (ret != 0)
		return ret < 0 ? ret : -EIO;
	EXPECT_EQ(3, b.published);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(3, b.error_index);
	EXPECT_EQ(b.first_seq, es->pub[3].seq);
	EXPECT_LT(seq[2], b.first_seq);
	for (i = 3; i < NEV; i++) {
		seq[i] = es->pub[i].seq;
		if (i > 3)
			EXPECT_LT(seq[i - 1], seq[i]);
	}
	for (i = 0; i < NEV; i++)
		es->pub[i].seq = 0;
	return 0;
}

static int read_plain(struct evbus *bus, struct snaps *ss)
{
	const struct evbus_record *rec;
	int ret;

	memset(ss, 0, sizeof(*ss));
	while (ss->n < NEV) {
		ret = evbus_read(bus, &rec, WAIT_MS);
		if (ret)
			return ret;
		ret = snap_cb(rec, ss);
		if (ret)
			return ret;
	}
	ret = evbus_read(bus, &rec, 0);
	return ret == -EAGAIN ? 0 : -EEXIST;
}

static int read_uring(struct io_uring *ring, int fd, struct snaps *ss)
{
	static unsigned char buf[RBUF_SIZE] __attribute__((aligned(8)));
	struct io_uring_cqe cqe;
	int ret;

	memset(ss, 0, sizeof(*ss));
	while (ss->n < NEV) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe || evbus_prep_read(sqe, fd, buf, sizeof(buf)))
			return -ENOSPC;
		io_uring_sqe_set_data64(sqe, 0x4ead);
		ret = wait_one(ring, &cqe, WAIT_MS);
		if (ret)
			return ret;
		if (cqe.res <= 0)
			return cqe.res ? cqe.res : -EIO;
		ret = evbus_parse_records(buf, (size_t)cqe.res, snap_cb, ss);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Every field but seq and the two clocks, the topic, the payload, the padding. */
static void expect_same(struct __test_metadata *_metadata, const struct snaps *a,
			const struct snaps *b, const struct evset *es,
			const uint64_t *seq_b, const char *what)
{
	int i;

	ASSERT_EQ(NEV, a->n) TH_LOG("%s", what);
	ASSERT_EQ(NEV, b->n) TH_LOG("%s", what);
	for (i = 0; i < NEV; i++) {
		const struct evbus_event *x = snap_ev(&a->s[i]), *y = snap_ev(&b->s[i]);
		struct snap nx = a->s[i], ny = b->s[i];
		struct evbus_event *ex = (void *)nx.raw, *ey = (void *)ny.raw;

		EXPECT_EQ(a->s[i].len, b->s[i].len) TH_LOG("%s: event %d", what, i);
		EXPECT_EQ(x->hdr.kind, y->hdr.kind);
		EXPECT_EQ(x->hdr.hdr_len, y->hdr.hdr_len);
		EXPECT_EQ(x->topic_len, y->topic_len);
		EXPECT_EQ(x->payload_len, y->payload_len);
		EXPECT_EQ(x->pid, y->pid);
		EXPECT_EQ(x->tid, y->tid) TH_LOG("%s: event %d: sender tid", what, i);
		EXPECT_EQ(x->uid, y->uid);
		EXPECT_EQ(x->gid, y->gid);
		EXPECT_EQ(x->type, y->type);
		EXPECT_EQ(x->flags, y->flags);
		EXPECT_EQ(x->corr, y->corr);
		EXPECT_EQ(x->parent, y->parent);
		/* ... and against what was published. */
		EXPECT_EQ(es->pub[i].topic_len, y->topic_len);
		EXPECT_EQ(0, strcmp(es->topic[i], EVBUS_EVENT_TOPIC(y)));
		EXPECT_EQ(es->pub[i].payload_len, y->payload_len);
		if (y->payload_len == es->pub[i].payload_len && y->payload_len)
			EXPECT_EQ(0, memcmp(es->payload[i], EVBUS_EVENT_PAYLOAD(y),
					    y->payload_len));
		EXPECT_EQ(es->pub[i].type, y->type);
		EXPECT_EQ(es->pub[i].corr, y->corr);
		EXPECT_EQ(es->pub[i].parent, y->parent);
		EXPECT_EQ(getpid(), (pid_t)y->pid);
		EXPECT_EQ(lt_gettid(), (pid_t)y->tid);
		EXPECT_EQ(geteuid(), y->uid);
		EXPECT_EQ(getegid(), y->gid);
		if (seq_b && seq_b[i])
			EXPECT_EQ(seq_b[i], y->seq) TH_LOG("%s: event %d: seq", what, i);
		/* The whole record, padding included, once the stamps are gone. */
		ex->seq = ey->seq = 0;
		ex->time_ns = ey->time_ns = 0;
		ex->mono_ns = ey->mono_ns = 0;
		if (nx.len == ny.len)
			EXPECT_EQ(0, memcmp(nx.raw, ny.raw, nx.len))
				TH_LOG("%s: event %d differs", what, i);
	}
}

static void open_ring(struct __test_metadata *_metadata, struct io_uring *ring,
		      unsigned int entries)
{
	int ret = io_uring_queue_init(entries, ring, 0);

	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", strerror(-ret));
}

/* -------------------------------------------- no kernel needed: the SQEs */

TEST(prep_fills_the_sqe)
{
	struct io_uring_sqe sqe;
	struct evbus_pub p;
	struct evbus_pub_batch b;
	struct evbus_uring_cmd c, tmpl = { .flags = 5, .reserved = 6 };
	char buf[64];

	memset(&sqe, 0xa5, sizeof(sqe));
	errno = 4242;
	ASSERT_EQ(0, evbus_prep_publish(&sqe, 3, &p, NULL));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(IORING_OP_URING_CMD, sqe.opcode);
	EXPECT_EQ(0, sqe.flags);
	EXPECT_EQ(3, sqe.fd);
	EXPECT_EQ(EVBUS_URING_PUBLISH, sqe.cmd_op);
	EXPECT_EQ(0, sqe.__pad1);
	EXPECT_EQ(0, sqe.user_data);
	EXPECT_EQ(0, sqe.addr);
	EXPECT_EQ(0, sqe.len);
	memcpy(&c, (char *)&sqe + 48, sizeof(c));
	EXPECT_EQ((uintptr_t)&p, c.arg);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(0, c.reserved);

	ASSERT_EQ(0, evbus_prep_publish_batch(&sqe, 4, &b, &tmpl));
	EXPECT_EQ(IORING_OP_URING_CMD, sqe.opcode);
	EXPECT_EQ(EVBUS_URING_PUBLISH_BATCH, sqe.cmd_op);
	memcpy(&c, (char *)&sqe + 48, sizeof(c));
	EXPECT_EQ((uintptr_t)&b, c.arg);
	EXPECT_EQ(5, c.flags);
	EXPECT_EQ(6, c.reserved);
	tmpl.arg = (uintptr_t)&b;
	EXPECT_EQ(0, evbus_prep_publish_batch(&sqe, 4, &b, &tmpl));
	tmpl.arg = (uintptr_t)&p;
	EXPECT_EQ(-EINVAL, evbus_prep_publish_batch(&sqe, 4, &b, &tmpl));

	EXPECT_EQ(-EINVAL, evbus_prep_publish(NULL, 3, &p, NULL));
	EXPECT_EQ(-EINVAL, evbus_prep_publish(&sqe, -1, &p, NULL));
	EXPECT_EQ(-EINVAL, evbus_prep_publish(&sqe, 3, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_prep_publish_batch(&sqe, 3, NULL, NULL));

	ASSERT_EQ(0, evbus_prep_read(&sqe, 5, buf, sizeof(buf)));
	EXPECT_EQ(IORING_OP_READ, sqe.opcode);
	EXPECT_EQ(5, sqe.fd);
	EXPECT_EQ((uintptr_t)buf, sqe.addr);
	EXPECT_EQ(sizeof(buf), sqe.len);
	EXPECT_EQ(0, sqe.off);
	EXPECT_EQ(-EINVAL, evbus_prep_read(&sqe, 5, NULL, 8));
	EXPECT_EQ(-EINVAL, evbus_prep_read(&sqe, 5, buf, 0));

	ASSERT_EQ(0, evbus_prep_read_multishot(&sqe, 6, 9));
	EXPECT_EQ(IORING_OP_READ_MULTISHOT, sqe.opcode);
	EXPECT_EQ(IOSQE_BUFFER_SELECT, sqe.flags);
	EXPECT_EQ(9, sqe.buf_group);
	EXPECT_EQ(0, sqe.addr);
	EXPECT_EQ(0, sqe.len);
	EXPECT_EQ(-EINVAL, evbus_prep_read_multishot(&sqe, 6, 65536));
	EXPECT_EQ(4242, errno);
}

/* -------------------------------------- no kernel needed: the parser */

/* Append a record of kind/len/hdr_len at *off; returns it. */
static struct evbus_rec_hdr *put_rec(unsigned char *buf, size_t *off,
				     unsigned int kind, unsigned int len,
				     unsigned int hdr_len)
{
	struct evbus_rec_hdr *h = (void *)(buf + *off);

	memset(h, 0, len);
	h->kind = kind;
	h->len = len;
	h->hdr_len = hdr_len;
	*off += len;
	return h;
}

static int count_cb(const struct evbus_record *rec, void *arg)
{
	int *stop_at = arg;

	return --*stop_at == 0 ? 1 : 0;
}

static int fail_cb(const struct evbus_record *rec, void *arg)
{
	return -ENOTRECOVERABLE;
}

TEST(parser_walks_records)
{
	static unsigned char buf[1024] __attribute__((aligned(8)));
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	struct evbus_event *ev;
	struct evbus_lagged *lag;
	size_t off = 0, evlen = EVBUS_ALIGN(sizeof(*ev) + EVBUS_ALIGN(4) + 3);
	int stop;

	ev = (void *)put_rec(buf, &off, EVBUS_REC_EVENT, evlen, sizeof(*ev));
	ev->topic_len = 3;
	ev->payload_len = 3;
	ev->seq = 77;
	memcpy((char *)ev + sizeof(*ev), "a.b", 4);
	memcpy((char *)ev + sizeof(*ev) + 8, "xyz", 3);
	put_rec(buf, &off, EVBUS_REC_PAD, 16, 8);
	lag = (void *)put_rec(buf, &off, EVBUS_REC_LAGGED, sizeof(*lag), sizeof(*lag));
	lag->lost = 5;
	put_rec(buf, &off, 99, 24, 8);

	errno = 4242;
	ASSERT_EQ(0, evbus_records_init(&it, buf, off));
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(EVBUS_REC_EVENT, rec->kind);
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(77, rec->event->seq);
	EXPECT_STREQ("a.b", rec->topic);
	EXPECT_EQ(3, rec->topic_len);
	ASSERT_EQ(3, rec->payload_len);
	EXPECT_EQ(0, memcmp("xyz", rec->payload, 3));
	EXPECT_EQ(NULL, rec->lagged);
	ASSERT_EQ(0, evbus_records_next(&it, &rec));	/* PAD skipped */
	EXPECT_EQ(EVBUS_REC_LAGGED, rec->kind);
	ASSERT_NE(NULL, rec->lagged);
	EXPECT_EQ(5, rec->lagged->lost);
	EXPECT_EQ(NULL, rec->event);
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(99, rec->kind);
	EXPECT_EQ(24, rec->len);
	EXPECT_EQ(NULL, rec->event);
	EXPECT_EQ(NULL, rec->lagged);
	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &rec));
	EXPECT_EQ(NULL, rec);
	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &rec));

	EXPECT_EQ(3, evbus_parse_records(buf, off, count_cb, &(int){ 100 }));
	stop = 2;
	EXPECT_EQ(2, evbus_parse_records(buf, off, count_cb, &stop));
	EXPECT_EQ(-ENOTRECOVERABLE, evbus_parse_records(buf, off, fail_cb, NULL));
	EXPECT_EQ(0, evbus_parse_records(buf, 0, fail_cb, NULL));
	EXPECT_EQ(0, evbus_parse_records(NULL, 0, fail_cb, NULL));
	EXPECT_EQ(-EINVAL, evbus_parse_records(buf, off, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_records_init(&it, NULL, 8));
	EXPECT_EQ(4242, errno);
}

TEST(parser_rejects_malformed_buffers)
{
	static unsigned char buf[256] __attribute__((aligned(8)));
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	struct evbus_event *ev;
	size_t off = 0;
	int n = 100;

	/* A good record, then one running past the end: the first still counts. */
	put_rec(buf, &off, EVBUS_REC_LAGGED, sizeof(struct evbus_lagged),
		sizeof(struct evbus_lagged));
	put_rec(buf, &off, EVBUS_REC_PAD, 16, 8)->len = 64;
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, off, count_cb, &n));
	EXPECT_EQ(99, n);
	ASSERT_EQ(0, evbus_records_init(&it, buf, off));
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	EXPECT_EQ(-EBADMSG, evbus_records_next(&it, &rec));
	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &rec));	/* rest dropped */

	/* Length not a multiple of 8; shorter than a header; truncated buffer. */
	off = 0;
	put_rec(buf, &off, EVBUS_REC_PAD, 16, 8)->len = 12;
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, 16, fail_cb, NULL));
	off = 0;
	put_rec(buf, &off, EVBUS_REC_PAD, 16, 8)->len = 0;
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, 16, fail_cb, NULL));
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, 4, fail_cb, NULL));

	/* An event whose topic is not NUL-terminated, or runs past the record. */
	off = 0;
	ev = (void *)put_rec(buf, &off, EVBUS_REC_EVENT, sizeof(*ev) + 8, sizeof(*ev));
	ev->topic_len = 3;
	memcpy((char *)ev + sizeof(*ev), "abcd", 4);
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, off, fail_cb, NULL));
	ev->topic_len = 3;
	((char *)ev)[sizeof(*ev) + 3] = 0;
	ev->payload_len = 1;
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, off, fail_cb, NULL));
	ev->payload_len = 0;
	EXPECT_EQ(-ENOTRECOVERABLE, evbus_parse_records(buf, off, fail_cb, NULL));
	ev->hdr.hdr_len = 8;	/* shorter than struct evbus_event */
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf, off, fail_cb, NULL));

	/* Records are read in place: a misaligned buffer is refused. */
	EXPECT_EQ(-EBADMSG, evbus_parse_records(buf + 4, 16, fail_cb, NULL));
}

/* ----------------------------------------------------------- the probe */

TEST(probe_reports_what_works)
{
	struct io_uring ring;
	struct evbus *bus;
	int caps, fd;

	LT_OPEN(bus, 0);
	errno = 4242;
	caps = evbus_uring_probe(NULL, evbus_fd(bus));
	ASSERT_LE(0, caps) TH_LOG("probe: %s", strerror(-caps));
	EXPECT_EQ(4242, errno);
	EXPECT_TRUE(caps & EVBUS_URING_CAN_PUBLISH);
	EXPECT_TRUE(caps & EVBUS_URING_CAN_READ);
	EXPECT_EQ(kernel_at_least(6, 7), !!(caps & EVBUS_URING_CAN_READ_MULTISHOT));

	open_ring(_metadata, &ring, 4);
	EXPECT_EQ(caps, evbus_uring_probe(&ring, evbus_fd(bus)));
	/* Without a file: the kernel's opcodes alone. */
	EXPECT_EQ(caps, evbus_uring_probe(&ring, -1));
	/* Not an evbus file. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, evbus_uring_probe(&ring, fd));
	EXPECT_EQ(4242, errno);
	close(fd);
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING	(1U << 13)	/* 6.3+, not in liburing 2.3 */
#endif

/*
 * A ring whose fd liburing has closed (io_uring_close_ring_fd(), liburing
 * 2.4, on kernels with IORING_FEAT_REG_REG_RING) is probed through its
 * registered index: the library makes the register syscall itself.
 */
TEST(probe_through_a_registered_ring_without_its_fd)
{
	struct io_uring ring;
	struct evbus *bus;
	int caps;

	LT_OPEN(bus, 0);
	caps = evbus_uring_probe(NULL, evbus_fd(bus));
	ASSERT_LE(0, caps) TH_LOG("probe: %s", strerror(-caps));
	open_ring(_metadata, &ring, 4);
	if (!(ring.features & IORING_FEAT_REG_REG_RING)) {
		TH_LOG("no IORING_FEAT_REG_REG_RING in this kernel (before 6.3): "
		       "only the ring's fd is probed");
		EXPECT_EQ(caps, evbus_uring_probe(&ring, evbus_fd(bus)));
	} else {
		ASSERT_EQ(1, io_uring_register_ring_fd(&ring));
		/* What io_uring_close_ring_fd() does. */
		ASSERT_EQ(0, close(ring.ring_fd));
		ring.ring_fd = -1;
		EXPECT_EQ(caps, evbus_uring_probe(&ring, evbus_fd(bus)));
	}
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

/* --------------------------------------- same records, either way round */

TEST(records_match_between_ioctl_read_and_io_uring)
{
	struct snaps ref, got;
	struct io_uring ring;
	struct evbus *bus;
	struct evset es;
	uint64_t seq[NEV];
	char pat[64];
	int fd;

	LT_OPEN(bus, 0);
	fd = evbus_fd(bus);
	ASSERT_EQ(0, evbus_set_ring(bus, 1U << 20, EVBUS_POLICY_DROP_NEWEST));
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(pat, sizeof(pat), ">"), NULL));
	open_ring(_metadata, &ring, 16);
	evset_init(&es);

	/* The reference: the ioctls, then read(). */
	ASSERT_EQ(0, publish_ioctl(bus, &es, seq));
	ASSERT_EQ(0, read_plain(bus, &ref));
	expect_same(_metadata, &ref, &ref, &es, seq, "ioctl -> read()");

	/* io_uring publish, read(). */
	ASSERT_EQ(0, publish_uring(_metadata, &ring, fd, &es, seq));
	ASSERT_EQ(0, read_plain(bus, &got));
	expect_same(_metadata, &ref, &got, &es, seq, "io_uring -> read()");

	/* ioctl publish, io_uring read. */
	ASSERT_EQ(0, publish_ioctl(bus, &es, seq));
	ASSERT_EQ(0, read_uring(&ring, fd, &got));
	expect_same(_metadata, &ref, &got, &es, seq, "ioctl -> io_uring read");

	/* io_uring both ways. */
	ASSERT_EQ(0, publish_uring(_metadata, &ring, fd, &es, seq));
	ASSERT_EQ(0, read_uring(&ring, fd, &got));
	expect_same(_metadata, &ref, &got, &es, seq, "io_uring -> io_uring read");

	evset_free(&es);
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

/* Events another process publishes with io_uring look like any others. */
TEST(io_uring_publish_is_seen_by_other_processes)
{
	const struct evbus_record *rec;
	struct evbus *bus;
	char t[64];
	pid_t child;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "x"), NULL));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct io_uring ring;
		struct evbus_pub p;
		struct evbus *pub;

		if (evbus_open(&pub, NULL) || io_uring_queue_init(4, &ring, 0))
			_exit(1);
		evbus_pub_prep(&p, t, "from-child", 10);
		p.corr = 99;
		_exit(uring_pub(&ring, evbus_fd(pub), &p) || !p.seq ? 2 : 0);
	}
	ASSERT_EQ(0, evbus_read(bus, &rec, WAIT_MS));
	EXPECT_EQ(child, (pid_t)rec->event->pid);
	EXPECT_EQ(child, (pid_t)rec->event->tid);
	EXPECT_EQ(99, rec->event->corr);
	ASSERT_EQ(10, rec->payload_len);
	EXPECT_EQ(0, memcmp("from-child", rec->payload, 10));
	EXPECT_EQ(0, lt_wait(child));
	evbus_close(bus);
}

/* ------------------------------------------------------- pending reads */

TEST(pending_read_completes_when_another_process_publishes)
{
	static unsigned char buf[RBUF_SIZE] __attribute__((aligned(8)));
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct io_uring ring;
	struct evbus *bus;
	long long t0;
	char t[64];
	pid_t child;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "wake"), NULL));
	open_ring(_metadata, &ring, 4);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read(sqe, evbus_fd(bus), buf, sizeof(buf)));
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(&ring));

	/* Nothing yet: the read waits (it must not complete with -EAGAIN). */
	usleep(100000);
	ASSERT_EQ(-EAGAIN, peek_one(&ring, &cqe))
		TH_LOG("read completed early with %d", cqe.res);

	t0 = lt_now_ms();
	child = lt_publish_later(t, "wake", 200);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
	EXPECT_LE(150, lt_now_ms() - t0);
	EXPECT_EQ(1, cqe.user_data);
	ASSERT_LT(0, cqe.res) TH_LOG("read: %s", strerror(-cqe.res));
	ASSERT_EQ(0, evbus_records_init(&it, buf, (size_t)cqe.res));
	ASSERT_EQ(0, evbus_records_next(&it, &rec));
	ASSERT_NE(NULL, rec->event);
	EXPECT_EQ(child, (pid_t)rec->event->pid);
	EXPECT_STREQ(t, rec->topic);
	ASSERT_EQ(4, rec->payload_len);
	EXPECT_EQ(0, memcmp("wake", rec->payload, 4));
	EXPECT_EQ(-ENODATA, evbus_records_next(&it, &rec));
	EXPECT_EQ(0, lt_wait(child));
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

TEST(cancelled_read_completes_with_ecanceled)
{
	static unsigned char buf[RBUF_SIZE] __attribute__((aligned(8)));
	const struct evbus_record *rec;
	struct io_uring_cqe cqe[2];
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct evbus *bus;
	int i, got_read = 0, got_cancel = 0;
	char t[64];

	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "cancel"), NULL));
	open_ring(_metadata, &ring, 4);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read(sqe, evbus_fd(bus), buf, sizeof(buf)));
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(50000);
	ASSERT_EQ(-EAGAIN, peek_one(&ring, &cqe[0]));

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	io_uring_sqe_set_data64(sqe, 2);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_one(&ring, &cqe[i], WAIT_MS));
		if (cqe[i].user_data == 1) {
			EXPECT_EQ(-ECANCELED, cqe[i].res);
			got_read++;
		} else {
			EXPECT_EQ(2, cqe[i].user_data);
			EXPECT_EQ(0, cqe[i].res);
			got_cancel++;
		}
	}
	EXPECT_EQ(1, got_read);
	EXPECT_EQ(1, got_cancel);

	/* Nothing left to cancel; and the cancelled read consumed nothing. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	ASSERT_EQ(0, wait_one(&ring, &cqe[0], WAIT_MS));
	EXPECT_EQ(-ENOENT, cqe[0].res);
	ASSERT_EQ(0, evbus_publish(bus, t, "after", 5, NULL, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(5, rec->payload_len);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

/*
 * Close the evbus file while a read on it is in flight, then tear the ring
 * down: neither may hang, and afterwards no descriptor and no evbus file is
 * left (the module's open_files is back where it was).
 */
TEST(close_with_reads_in_flight_then_ring_exit)
{
	static unsigned char buf[4][RBUF_SIZE] __attribute__((aligned(8)));
	long long files0, t0;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct io_uring ring;
	struct evbus *bus, *other;
	int fds0, fd, caps, i;
	char t[64];

	fds0 = count_fds();
	files0 = read_stat("open_files");
	ASSERT_LE(0, fds0);
	LT_OPEN(bus, 0);
	fd = evbus_fd(bus);
	caps = evbus_uring_probe(NULL, fd);
	ASSERT_LE(0, caps);
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "close"), NULL));
	open_ring(_metadata, &ring, 8);

	/* Two plain reads, and a multishot one where the kernel has it. */
	for (i = 0; i < 2; i++) {
		sqe = io_uring_get_sqe(&ring);
		ASSERT_EQ(0, evbus_prep_read(sqe, fd, buf[i], RBUF_SIZE));
		io_uring_sqe_set_data64(sqe, 10 + i);
	}
	if (caps & EVBUS_URING_CAN_READ_MULTISHOT) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_provide_buffers(sqe, buf[2], RBUF_SIZE, 2, 1, 0);
		io_uring_sqe_set_data64(sqe, 20);
		ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
		if (cqe.user_data == 20)
			EXPECT_EQ(0, cqe.res);
		sqe = io_uring_get_sqe(&ring);
		ASSERT_EQ(0, evbus_prep_read_multishot(sqe, fd, 1));
		io_uring_sqe_set_data64(sqe, 30);
	}
	ASSERT_LE(1, io_uring_submit(&ring));
	usleep(50000);
	EXPECT_EQ(-EAGAIN, peek_one(&ring, &cqe)) TH_LOG("%llu completed with %d",
							 cqe.user_data, cqe.res);

	/* The fd goes; the requests still hold the file. */
	evbus_close(bus);
	if (files0 >= 0)
		EXPECT_EQ(files0 + 1, read_stat("open_files"));

	/* A publish still reaches the file the ring holds: one read completes. */
	LT_OPEN(other, EVBUS_OPEN_WRONLY);
	ASSERT_EQ(0, evbus_publish(other, t, "late", 4, NULL, NULL));
	evbus_close(other);
	ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
	EXPECT_LT(0, cqe.res) TH_LOG("request %llu: %d", cqe.user_data, cqe.res);

	t0 = lt_now_ms();
	io_uring_queue_exit(&ring);
	EXPECT_GT(5000, lt_now_ms() - t0);

	EXPECT_EQ(fds0, count_fds());
	if (files0 >= 0)
		EXPECT_EQ(files0, settle_stat("open_files", files0, 5000))
			TH_LOG("the evbus file outlived the ring");
}

/* The ring goes first, then the file: the other order. */
TEST(ring_exit_with_read_in_flight_then_close)
{
	static unsigned char buf[RBUF_SIZE] __attribute__((aligned(8)));
	const struct evbus_record *rec;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct evbus *bus;
	long long files0;
	int fds0;
	char t[64];

	fds0 = count_fds();
	files0 = read_stat("open_files");
	LT_OPEN(bus, 0);
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "exit"), NULL));
	open_ring(_metadata, &ring, 4);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read(sqe, evbus_fd(bus), buf, sizeof(buf)));
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(50000);
	io_uring_queue_exit(&ring);

	/* The file works as before: the dead read took nothing. */
	ASSERT_EQ(0, evbus_publish(bus, t, "still", 5, NULL, NULL));
	ASSERT_EQ(0, evbus_read(bus, &rec, WAIT_MS));
	EXPECT_EQ(5, rec->payload_len);
	evbus_close(bus);
	EXPECT_EQ(fds0, count_fds());
	if (files0 >= 0)
		EXPECT_EQ(files0, settle_stat("open_files", files0, 5000));
}

/*
 * A blocking file (O_NONBLOCK cleared) and IOSQE_ASYNC: the read runs in an
 * io-wq worker, which may sleep in the module's read.  Cancelling it and
 * exiting the ring with one still sleeping must neither hang nor leak.
 */
TEST(blocking_read_in_io_wq_cancels_and_exits)
{
	static unsigned char buf[2][RBUF_SIZE] __attribute__((aligned(8)));
	struct io_uring_cqe cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct evbus *bus;
	long long files0, t0;
	int fds0, fd, i, got_read = 0;
	char t[64];

	fds0 = count_fds();
	files0 = read_stat("open_files");
	LT_OPEN(bus, 0);
	fd = evbus_fd(bus);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK));
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "blk"), NULL));
	open_ring(_metadata, &ring, 4);

	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read(sqe, fd, buf[0], RBUF_SIZE));
	sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(100000);
	ASSERT_EQ(-EAGAIN, peek_one(&ring, &cqe)) TH_LOG("completed early: %d", cqe.res);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	io_uring_sqe_set_data64(sqe, 2);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
		if (cqe.user_data == 1) {
			/* Interrupted in the worker, or cancelled before it slept. */
			EXPECT_TRUE(cqe.res == -ECANCELED || cqe.res == -EINTR)
				TH_LOG("read: %d", cqe.res);
			got_read++;
		}
	}
	EXPECT_EQ(1, got_read);

	/* Another one left sleeping: close, exit the ring. */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read(sqe, fd, buf[1], RBUF_SIZE));
	sqe->flags |= IOSQE_ASYNC;
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(100000);
	evbus_close(bus);
	t0 = lt_now_ms();
	io_uring_queue_exit(&ring);
	EXPECT_GT(5000, lt_now_ms() - t0);
	EXPECT_EQ(fds0, count_fds());
	if (files0 >= 0)
		EXPECT_EQ(files0, settle_stat("open_files", files0, 5000));
}

/* --------------------------------------------------------------- errors */

/* A single publish both ways; both results and written-back structs must match. */
static void same_pub_error(struct __test_metadata *_metadata, struct io_uring *ring,
			   int fd, const struct evbus_pub *in, int want, const char *what)
{
	struct evbus_pub a = *in, b = *in;
	int ra, rb;

	ra = kioctl(fd, EVBUS_IOC_PUBLISH, &a);
	rb = uring_pub(ring, fd, &b);
	EXPECT_EQ(want, ra) TH_LOG("%s: ioctl gave %d", what, ra);
	EXPECT_EQ(ra, rb) TH_LOG("%s: io_uring gave %d, ioctl %d", what, rb, ra);
	a.seq = b.seq = 0;
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a))) TH_LOG("%s: written back", what);
}

static void same_batch_error(struct __test_metadata *_metadata, struct io_uring *ring,
			     int fd, const struct evbus_pub_batch *in, int want,
			     const char *what)
{
	struct evbus_pub_batch a = *in, b = *in;
	int ra, rb;

	ra = kioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &a);
	rb = uring_batch(ring, fd, &b);
	EXPECT_EQ(want, ra) TH_LOG("%s: ioctl gave %d", what, ra);
	/*
	 * Where the ioctl returns a count, io_uring completes with 0 or the
	 * errno that stopped the batch (a.error); errors are the same.
	 */
	EXPECT_EQ(ra > 0 ? a.error : ra, rb)
		TH_LOG("%s: io_uring gave %d, ioctl %d", what, rb, ra);
	/* first_seq differs when something was published; nothing else may. */
	if (a.published)
		EXPECT_LT(a.first_seq, b.first_seq);
	a.first_seq = b.first_seq = 0;
	EXPECT_EQ(a.published, b.published) TH_LOG("%s", what);
	EXPECT_EQ(a.error, b.error) TH_LOG("%s", what);
	EXPECT_EQ(a.error_index, b.error_index) TH_LOG("%s", what);
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a))) TH_LOG("%s: written back", what);
}

TEST(errors_match_the_ioctls)
{
	struct evbus_pub p, evs[3];
	struct evbus_pub_batch b;
	struct evbus_uring_cmd c, tmpl = { .flags = 2 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct evbus_version v;
	struct evbus_stats st;
	struct io_uring ring;
	struct evbus *bus, *ro;
	void *hole, *rop;
	char *big, t[64];
	int fd;

	LT_OPEN(bus, 0);
	LT_OPEN(ro, EVBUS_OPEN_RDONLY);
	fd = evbus_fd(bus);
	ASSERT_EQ(0, evbus_query(bus, &v));
	big = calloc(1, v.max_payload + 1);
	ASSERT_NE(NULL, big);
	hole = inaccessible_page();
	ASSERT_NE(NULL, hole);
	open_ring(_metadata, &ring, 4);
	lt_topic(t, sizeof(t), "err");

	/* struct evbus_pub problems, single publish. */
	evbus_pub_prep(&p, "bad..topic", "x", 1);
	same_pub_error(_metadata, &ring, fd, &p, -EINVAL, "bad topic");
	evbus_pub_prep(&p, t, NULL, 0);
	p.topic_len = 0;
	same_pub_error(_metadata, &ring, fd, &p, -EINVAL, "empty topic");
	p.topic_len = EVBUS_TOPIC_MAX + 1;
	same_pub_error(_metadata, &ring, fd, &p, -EINVAL, "topic too long");
	evbus_pub_prep(&p, t, big, v.max_payload + 1);
	same_pub_error(_metadata, &ring, fd, &p, -EMSGSIZE, "payload too big");
	evbus_pub_prep(&p, t, "x", 1);
	p.flags = 1U << 31;	/* bits 0, 1 are EVBUS_PUB_RETAIN, _ASK */
	same_pub_error(_metadata, &ring, fd, &p, -EINVAL, "pub.flags");
	evbus_pub_prep(&p, t, "x", 1);
	p.reserved = 1;
	same_pub_error(_metadata, &ring, fd, &p, -EINVAL, "pub.reserved");
	evbus_pub_prep(&p, t, "x", 1);
	p.topic = (uintptr_t)hole;
	same_pub_error(_metadata, &ring, fd, &p, -EFAULT, "bad topic pointer");
	evbus_pub_prep(&p, t, hole, 8);
	same_pub_error(_metadata, &ring, fd, &p, -EFAULT, "bad payload pointer");

	/* A bad pointer to the struct itself. */
	EXPECT_EQ(-EFAULT, kioctl(fd, EVBUS_IOC_PUBLISH, hole));
	memset(&c, 0, sizeof(c));
	c.arg = (uintptr_t)hole;
	EXPECT_EQ(-EFAULT, uring_raw(&ring, fd, EVBUS_URING_PUBLISH, &c));
	EXPECT_EQ(-EFAULT, kioctl(fd, EVBUS_IOC_PUBLISH_BATCH, hole));
	EXPECT_EQ(-EFAULT, uring_raw(&ring, fd, EVBUS_URING_PUBLISH_BATCH, &c));
	c.arg = 0;
	EXPECT_EQ(-EFAULT, uring_raw(&ring, fd, EVBUS_URING_PUBLISH, &c));

	/* A read-only struct: nothing is published, -EFAULT both ways. */
	rop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rop);
	evbus_pub_prep(rop, t, "x", 1);
	ASSERT_EQ(0, mprotect(rop, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, kioctl(fd, EVBUS_IOC_PUBLISH, rop));
	memset(&c, 0, sizeof(c));
	c.arg = (uintptr_t)rop;
	EXPECT_EQ(-EFAULT, uring_raw(&ring, fd, EVBUS_URING_PUBLISH, &c));

	/* The command area: flags, reserved, cmd_op. */
	evbus_pub_prep(&p, t, "x", 1);
	c.arg = (uintptr_t)&p;
	c.flags = 1;
	EXPECT_EQ(-EINVAL, uring_raw(&ring, fd, EVBUS_URING_PUBLISH, &c));
	c.flags = 0x80000000U;
	EXPECT_EQ(-EINVAL, uring_raw(&ring, fd, EVBUS_URING_PUBLISH_BATCH, &c));
	c.flags = 0;
	c.reserved = 1;
	EXPECT_EQ(-EINVAL, uring_raw(&ring, fd, EVBUS_URING_PUBLISH, &c));
	c.reserved = 0;
	EXPECT_EQ(-EOPNOTSUPP, uring_raw(&ring, fd, 0, &c));
	EXPECT_EQ(-EOPNOTSUPP, uring_raw(&ring, fd, 3, &c));
	EXPECT_EQ(-EOPNOTSUPP, uring_raw(&ring, fd, EVBUS_IOC_PUBLISH, &c));
	EXPECT_EQ(-EOPNOTSUPP, uring_raw(&ring, fd, 0xffffffffU, &c));
	/* And with the library's own template. */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_publish(sqe, fd, &p, &tmpl));
	ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
	EXPECT_EQ(-EINVAL, cqe.res);

	/* A file opened read-only cannot publish. */
	evbus_pub_prep(&p, t, "x", 1);
	same_pub_error(_metadata, &ring, evbus_fd(ro), &p, -EBADF, "read-only file");

	/* struct evbus_pub_batch problems. */
	for (int i = 0; i < 3; i++)
		evbus_pub_prep(&evs[i], t, "b", 1);
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)evs;
	b.count = 0;
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "count 0");
	b.count = EVBUS_BATCH_MAX + 1;
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "count too big");
	b.count = 3;
	b.flags = 0x100;
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "batch.flags");
	b.flags = 0;
	b.reserved32 = 1;
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "batch.reserved32");
	b.reserved32 = 0;
	b.reserved[0] = 1;
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "batch.reserved");
	b.reserved[0] = 0;
	b.events = (uintptr_t)hole;
	same_batch_error(_metadata, &ring, fd, &b, -EFAULT, "bad events pointer");
	b.events = (uintptr_t)evs;

	evbus_pub_prep(&evs[0], "bad..topic", "b", 1);
	same_batch_error(_metadata, &ring, fd, &b, -EINVAL, "first event bad");
	evbus_pub_prep(&evs[0], t, "b", 1);
	evs[2].payload_len = v.max_payload + 1;
	evs[2].payload = (uintptr_t)big;
	same_batch_error(_metadata, &ring, fd, &b, 2, "third event too big");
	evbus_pub_prep(&evs[2], t, hole, 1);
	same_batch_error(_metadata, &ring, fd, &b, 2, "third payload unmapped");
	evbus_pub_prep(&evs[2], t, "b", 1);
	evs[1].flags = 1U << 31;
	same_batch_error(_metadata, &ring, fd, &b, 1, "second event flags");
	evs[1].flags = 0;

	/* EVBUS_BATCH_SEQ into read-only descriptors: nothing goes out. */
	ASSERT_EQ(0, mprotect(rop, 4096, PROT_READ | PROT_WRITE));
	for (int i = 0; i < 3; i++)
		evbus_pub_prep((struct evbus_pub *)rop + i, t, "s", 1);
	ASSERT_EQ(0, mprotect(rop, 4096, PROT_READ));
	b.events = (uintptr_t)rop;
	b.flags = EVBUS_BATCH_SEQ;
	same_batch_error(_metadata, &ring, fd, &b, -EFAULT, "seq write-back faults");

	ASSERT_EQ(0, evbus_get_stats(ro, &st));
	EXPECT_EQ(0, st.published);
	munmap(rop, 4096);
	munmap(hole, 4096);
	free(big);
	io_uring_queue_exit(&ring);
	evbus_close(ro);
	evbus_close(bus);
}

/* ------------------------------------------------------------ multishot */

#define MS_BUFS		8	/* more than the completions: never -ENOBUFS */
#define MS_BUF_SIZE	4096
#define MS_BGID		3

TEST(multishot_read)
{
	static unsigned char bufs[MS_BUFS][MS_BUF_SIZE] __attribute__((aligned(4096)));
	const struct evbus_record *rec;
	struct evbus_rec_iter it;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct io_uring ring;
	struct evbus *bus;
	int caps, got = 0, completions = 0, done = 0, fd;
	char t[64], want[16];
	pid_t child;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	fd = evbus_fd(bus);
	caps = evbus_uring_probe(NULL, fd);
	ASSERT_LE(0, caps);
	if (!(caps & EVBUS_URING_CAN_READ_MULTISHOT)) {
		/* Before 6.7: the probe must say so, and there is nothing else. */
		EXPECT_FALSE(kernel_at_least(6, 7));
		TH_LOG("no IORING_OP_READ_MULTISHOT in this kernel (before 6.7): "
		       "only the probe is checked");
		evbus_close(bus);
		return;
	}
	ASSERT_EQ(0, evbus_subscribe(bus, lt_topic(t, sizeof(t), "ms"), NULL));
	open_ring(_metadata, &ring, 16);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_provide_buffers(sqe, bufs, MS_BUF_SIZE, MS_BUFS, MS_BGID, 0);
	io_uring_sqe_set_data64(sqe, 2);
	ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
	ASSERT_EQ(0, cqe.res);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_EQ(0, evbus_prep_read_multishot(sqe, fd, MS_BGID));
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(50000);
	ASSERT_EQ(-EAGAIN, peek_one(&ring, &cqe)) TH_LOG("completed early: %d", cqe.res);

	/* Three rounds of two events from another process, apart in time. */
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct evbus *pub;
		char text[16];

		if (evbus_open(&pub, NULL))
			_exit(1);
		for (int r = 0; r < 3; r++) {
			usleep(100000);
			for (int e = 0; e < 2; e++) {
				snprintf(text, sizeof(text), "r%de%d", r, e);
				if (evbus_publish(pub, t, text, strlen(text), NULL, NULL))
					_exit(2);
			}
		}
		_exit(0);
	}

	/* One armed request, many completions, each in a buffer of its own. */
	while (got < 6) {
		int bid;

		ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS)) TH_LOG("%d events so far", got);
		if (cqe.user_data == 2) {
			EXPECT_EQ(0, cqe.res);	/* a buffer given back */
			continue;
		}
		ASSERT_EQ(1, cqe.user_data);
		ASSERT_LT(0, cqe.res) TH_LOG("multishot read: %s", strerror(-cqe.res));
		ASSERT_TRUE(cqe.flags & IORING_CQE_F_BUFFER);
		EXPECT_TRUE(cqe.flags & IORING_CQE_F_MORE);
		bid = (int)(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
		ASSERT_GT(MS_BUFS, bid);
		completions++;
		ASSERT_EQ(0, evbus_records_init(&it, bufs[bid], (size_t)cqe.res));
		while (!evbus_records_next(&it, &rec)) {
			ASSERT_NE(NULL, rec->event);
			snprintf(want, sizeof(want), "r%de%d", got / 2, got % 2);
			ASSERT_EQ(strlen(want), rec->payload_len);
			EXPECT_EQ(0, memcmp(want, rec->payload, rec->payload_len));
			EXPECT_EQ(child, (pid_t)rec->event->pid);
			got++;
		}
		/* Give the buffer back for the next completion. */
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_provide_buffers(sqe, bufs[bid], MS_BUF_SIZE, 1, MS_BGID, bid);
		io_uring_sqe_set_data64(sqe, 2);
		io_uring_submit(&ring);
	}
	EXPECT_EQ(6, got);
	EXPECT_LE(3, completions);	/* the rounds were 100 ms apart */
	EXPECT_EQ(0, lt_wait(child));

	/* Cancelling ends it: a last CQE without IORING_CQE_F_MORE. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	io_uring_sqe_set_data64(sqe, 3);
	while (!done) {
		ASSERT_EQ(0, wait_one(&ring, &cqe, WAIT_MS));
		if (cqe.user_data == 1) {
			EXPECT_EQ(-ECANCELED, cqe.res);
			EXPECT_FALSE(cqe.flags & IORING_CQE_F_MORE);
			done = 1;
		} else if (cqe.user_data == 3) {
			EXPECT_EQ(0, cqe.res);
		}
	}
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

/* -------------------------------------------------- io_uring_disabled */

#define URING_DISABLED	"/proc/sys/kernel/io_uring_disabled"

static int sysctl_rw(const char *path, int *old, int val)
{
	char buf[16];
	int fd, n, ret = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (old) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		if (n > 0)
			buf[n] = '\0';
		if (n <= 0 || sscanf(buf, "%d", old) != 1)
			ret = -EIO;
		lseek(fd, 0, SEEK_SET);
	}
	if (!ret) {
		n = snprintf(buf, sizeof(buf), "%d\n", val);
		if (write(fd, buf, n) != n)
			ret = -errno;
	}
	close(fd);
	return ret;
}

TEST(io_uring_disabled_gives_eperm)
{
	struct io_uring ring, ring2;
	struct evbus_pub p;
	struct evbus *bus;
	int old = -1, caps, ret;
	char t[64];

	if (access(URING_DISABLED, F_OK)) {
		/* Before 6.6 there is no such switch: nothing to check. */
		EXPECT_FALSE(kernel_at_least(6, 6));
		TH_LOG("no %s in this kernel (before 6.6): nothing to check", URING_DISABLED);
		return;
	}
	LT_OPEN(bus, 0);
	lt_topic(t, sizeof(t), "off");
	/* A ring made before the switch keeps working. */
	open_ring(_metadata, &ring, 4);
	caps = evbus_uring_probe(NULL, evbus_fd(bus));
	ASSERT_LT(0, caps);

	ASSERT_EQ(0, sysctl_rw(URING_DISABLED, &old, 2));
	/* No ASSERT until the old value is back. */
	errno = 4242;
	EXPECT_EQ(-EPERM, evbus_uring_probe(NULL, evbus_fd(bus)));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-EPERM, evbus_uring_probe(NULL, -1));
	ret = io_uring_queue_init(4, &ring2, 0);
	EXPECT_EQ(-EPERM, ret);
	if (!ret)
		io_uring_queue_exit(&ring2);
	EXPECT_EQ(caps, evbus_uring_probe(&ring, evbus_fd(bus)));
	evbus_pub_prep(&p, t, "x", 1);
	EXPECT_EQ(0, uring_pub(&ring, evbus_fd(bus), &p));
	EXPECT_EQ(0, sysctl_rw(URING_DISABLED, NULL, old));

	EXPECT_EQ(caps, evbus_uring_probe(NULL, evbus_fd(bus)));
	io_uring_queue_exit(&ring);
	evbus_close(bus);
}

TEST_HARNESS_MAIN
