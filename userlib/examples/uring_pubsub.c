// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * uring_pubsub: subscribe, then publish and read through one io_uring.
 *
 *   uring_pubsub [TOPIC-PREFIX]     (default "example.uring")
 *
 * Reads are IORING_OP_READ_MULTISHOT from provided buffers where the kernel
 * has it (6.7+), otherwise one IORING_OP_READ at a time, re-armed after each
 * completion.  It publishes one event with EVBUS_URING_PUBLISH and three
 * with EVBUS_URING_PUBLISH_BATCH, prints the four events as they arrive,
 * cancels the outstanding read and exits 0.  Exits 77 when io_uring is not
 * available (ENOSYS) or not allowed (EPERM: kernel.io_uring_disabled, or a
 * process outside kernel.io_uring_group), 1 on any other failure.
 *
 * Build: cc uring_pubsub.c $(pkg-config --cflags --libs --static evbus)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>
#include <evbus.h>

#define NBUFS		8
#define BUF_SIZE	(64U << 10)	/* holds any record up to ~64 KiB payload */
#define BGID		7

/* user_data tags: which request a CQE belongs to. */
enum { TAG_READ = 1, TAG_PUB, TAG_BATCH, TAG_PROVIDE, TAG_CANCEL };

struct app {
	struct io_uring ring;
	int fd;
	int multishot;
	unsigned char *bufs;	/* NBUFS * BUF_SIZE; buffer 0 for single reads */
	int events;		/* events printed so far */
	int read_armed;
};

static struct io_uring_sqe *get_sqe(struct app *a)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe) {		/* SQ full: flush it and try again */
		io_uring_submit(&a->ring);
		sqe = io_uring_get_sqe(&a->ring);
	}
	return sqe;
}

static void provide(struct app *a, int bid, int nr)
{
	struct io_uring_sqe *sqe = get_sqe(a);

	io_uring_prep_provide_buffers(sqe, a->bufs + (size_t)bid * BUF_SIZE,
				      BUF_SIZE, nr, BGID, bid);
	io_uring_sqe_set_data64(sqe, TAG_PROVIDE);
}

static void arm_read(struct app *a)
{
	struct io_uring_sqe *sqe = get_sqe(a);

	if (a->multishot)
		evbus_prep_read_multishot(sqe, a->fd, BGID);
	else
		evbus_prep_read(sqe, a->fd, a->bufs, BUF_SIZE);
	io_uring_sqe_set_data64(sqe, TAG_READ);
	a->read_armed = 1;
}

static int print_record(const struct evbus_record *rec, void *arg)
{
	struct app *a = arg;
	const struct evbus_event *ev = rec->event;

	if (rec->lagged) {
		printf("lagged: %" PRIu64 " events lost\n",
		       (uint64_t)rec->lagged->lost);
		return 0;
	}
	if (!ev)
		return 0;	/* a record kind this program does not know */
	printf("event seq=%" PRIu64 " topic=%s type=%u pid=%u tid=%u payload=\"%.*s\"\n",
	       (uint64_t)ev->seq, rec->topic, ev->type, ev->pid, ev->tid,
	       (int)rec->payload_len, (const char *)rec->payload);
	a->events++;
	return 0;
}

/* One CQE of a read; -errno on failure. */
static int read_done(struct app *a, const struct io_uring_cqe *cqe)
{
	const unsigned char *buf = a->bufs;
	int bid = -1, ret;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		buf = a->bufs + (size_t)bid * BUF_SIZE;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		a->read_armed = 0;
	if (cqe->res == -ENOBUFS && a->multishot) {
		/* Ran out of provided buffers: they come back below. */
		return 0;
	}
	if (cqe->res < 0) {
		fprintf(stderr, "uring_pubsub: read: %s\n", strerror(-cqe->res));
		return cqe->res;
	}
	ret = evbus_parse_records(buf, (size_t)cqe->res, print_record, a);
	if (bid >= 0)
		provide(a, bid, 1);	/* hand the buffer back */
	if (ret < 0) {
		fprintf(stderr, "uring_pubsub: bad records: %s\n", strerror(-ret));
		return ret;
	}
	return 0;
}

static int run(struct app *a, const char *prefix)
{
	char topic[3][128];
	struct evbus_pub pub, evs[3];
	struct evbus_pub_batch batch;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int pending = 0, ret, i;

	for (i = 0; i < 3; i++)
		snprintf(topic[i], sizeof(topic[i]), "%s.batch.%d", prefix, i);

	if (a->multishot)
		provide(a, 0, NBUFS);
	arm_read(a);

	/* One event with EVBUS_URING_PUBLISH. */
	evbus_pub_prep(&pub, prefix, "single", 6);
	pub.type = 1;
	sqe = get_sqe(a);
	evbus_prep_publish(sqe, a->fd, &pub, NULL);
	io_uring_sqe_set_data64(sqe, TAG_PUB);
	pending++;

	/* Three with EVBUS_URING_PUBLISH_BATCH, seqs written back. */
	for (i = 0; i < 3; i++) {
		evbus_pub_prep(&evs[i], topic[i], "batched", 7);
		evs[i].type = 2;
		evs[i].corr = i;
	}
	memset(&batch, 0, sizeof(batch));
	batch.events = (uintptr_t)evs;
	batch.count = 3;
	batch.flags = EVBUS_BATCH_SEQ;
	sqe = get_sqe(a);
	evbus_prep_publish_batch(sqe, a->fd, &batch, NULL);
	io_uring_sqe_set_data64(sqe, TAG_BATCH);
	pending++;

	while (pending || a->events < 4) {
		struct __kernel_timespec ts = { .tv_sec = 5 };

		if (a->events < 4 && !a->read_armed)
			arm_read(a);
		ret = io_uring_submit_and_wait_timeout(&a->ring, &cqe, 1, &ts, NULL);
		if (ret == -ETIME) {
			fprintf(stderr, "uring_pubsub: nothing arrived for 5 s\n");
			return -ETIME;
		}
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "uring_pubsub: wait: %s\n", strerror(-ret));
			return ret;
		}
		while (io_uring_peek_cqe(&a->ring, &cqe) == 0) {
			int res = cqe->res;

			switch (cqe->user_data) {
			case TAG_READ:
				ret = read_done(a, cqe);
				if (ret)
					return ret;
				break;
			case TAG_PUB:
				pending--;
				if (res < 0) {
					fprintf(stderr, "uring_pubsub: publish: %s\n", strerror(-res));
					return res;
				}
				printf("published seq=%" PRIu64 " (EVBUS_URING_PUBLISH)\n",
				       (uint64_t)pub.seq);
				break;
			case TAG_BATCH:
				pending--;
				if (res < 0) {
					fprintf(stderr, "uring_pubsub: batch: %s\n", strerror(-res));
					return res;
				}
				printf("published %d events, first seq=%" PRIu64 " last seq=%" PRIu64
				       " (EVBUS_URING_PUBLISH_BATCH)\n", res,
				       (uint64_t)batch.first_seq, (uint64_t)evs[2].seq);
				break;
			case TAG_PROVIDE:
				if (res < 0) {
					fprintf(stderr, "uring_pubsub: provide buffers: %s\n",
						strerror(-res));
					return res;
				}
				break;
			}
			io_uring_cqe_seen(&a->ring, cqe);
		}
	}

	/* Done: cancel the read still waiting (multishot stays armed). */
	if (a->read_armed) {
		sqe = get_sqe(a);
		io_uring_prep_cancel64(sqe, TAG_READ, 0);
		io_uring_sqe_set_data64(sqe, TAG_CANCEL);
		io_uring_submit(&a->ring);
		while (a->read_armed) {
			struct __kernel_timespec ts = { .tv_sec = 5 };

			ret = io_uring_wait_cqe_timeout(&a->ring, &cqe, &ts);
			if (ret)
				return ret;
			if (cqe->user_data == TAG_READ &&
			    !(cqe->flags & IORING_CQE_F_MORE))
				a->read_armed = 0;
			io_uring_cqe_seen(&a->ring, cqe);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *prefix = argc > 1 ? argv[1] : "example.uring";
	struct evbus *bus;
	struct app a;
	char pattern[300];
	int caps, ret;

	memset(&a, 0, sizeof(a));
	ret = evbus_open(&bus, NULL);
	if (ret) {
		fprintf(stderr, "uring_pubsub: %s: %s\n", EVBUS_DEVICE_PATH, strerror(-ret));
		return 1;
	}
	a.fd = evbus_fd(bus);
	snprintf(pattern, sizeof(pattern), "%s.>", prefix);
	ret = evbus_subscribe(bus, prefix, NULL);
	if (!ret)
		ret = evbus_subscribe(bus, pattern, NULL);
	if (ret) {
		fprintf(stderr, "uring_pubsub: subscribe %s: %s\n", prefix, strerror(-ret));
		evbus_close(bus);
		return 1;
	}

	caps = evbus_uring_probe(NULL, a.fd);
	if (caps == -ENOSYS || caps == -EPERM) {
		fprintf(stderr, "uring_pubsub: io_uring is %s (%s)\n",
			caps == -ENOSYS ? "not available in this kernel" :
			"disabled or not permitted (see kernel.io_uring_disabled)",
			strerror(-caps));
		evbus_close(bus);
		return 77;
	}
	if (caps < 0) {
		fprintf(stderr, "uring_pubsub: probe: %s\n", strerror(-caps));
		evbus_close(bus);
		return 1;
	}
	if (!(caps & EVBUS_URING_CAN_PUBLISH) || !(caps & EVBUS_URING_CAN_READ)) {
		fprintf(stderr, "uring_pubsub: this evbus module has no io_uring support\n");
		evbus_close(bus);
		return 1;
	}
	a.multishot = !!(caps & EVBUS_URING_CAN_READ_MULTISHOT);
	printf("io_uring: publish, read%s\n", a.multishot ? ", multishot read" : "");

	ret = io_uring_queue_init(16, &a.ring, 0);
	if (ret) {
		fprintf(stderr, "uring_pubsub: io_uring_queue_init: %s\n", strerror(-ret));
		evbus_close(bus);
		return ret == -ENOSYS || ret == -EPERM ? 77 : 1;
	}
	a.bufs = aligned_alloc(4096, (size_t)NBUFS * BUF_SIZE);
	ret = a.bufs ? run(&a, prefix) : -ENOMEM;
	io_uring_queue_exit(&a.ring);
	free(a.bufs);
	evbus_close(bus);
	if (ret) {
		fprintf(stderr, "uring_pubsub: failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("ok: %d events\n", a.events);
	return 0;
}
