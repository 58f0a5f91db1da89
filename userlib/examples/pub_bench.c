// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * pub_bench: publish COUNT events one way, for counting syscalls per event
 * (strace -c -f) and a rough time per event.
 *
 *   pub_bench MODE BATCH COUNT
 *
 * MODE:
 *   ioctl        one EVBUS_IOC_PUBLISH per event (BATCH is ignored)
 *   ioctl-batch  one EVBUS_IOC_PUBLISH_BATCH per BATCH events
 *   uring-batch  one EVBUS_URING_PUBLISH_BATCH SQE per BATCH events, one
 *                io_uring_enter (submit and wait) per SQE
 *   uring-single BATCH EVBUS_URING_PUBLISH SQEs per io_uring_enter
 *
 * COUNT 0 does the setup and nothing else: the baseline to subtract.
 * Exits 77 when io_uring is unavailable or disabled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <liburing.h>
#include <evbus.h>

#define TOPIC	"bench.pub"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for n CQEs, all of which must have res == want (or > 0 if want < 0). */
static int reap(struct io_uring *ring, unsigned int n, int want)
{
	struct io_uring_cqe *cqe;
	int ret;

	while (n--) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		ret = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (want >= 0 ? ret != want : ret <= 0)
			return ret < 0 ? ret : -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct evbus_pub *evs;
	struct evbus_pub_batch b;
	struct evbus *bus;
	const char *mode;
	unsigned int batch, count, done = 0, i, n;
	int uring, ret = 0, fd;
	double t0, dt;

	if (argc != 4) {
		fprintf(stderr, "usage: pub_bench ioctl|ioctl-batch|uring-batch|uring-single BATCH COUNT\n");
		return 2;
	}
	mode = argv[1];
	batch = (unsigned int)strtoul(argv[2], NULL, 0);
	count = (unsigned int)strtoul(argv[3], NULL, 0);
	if (!strcmp(mode, "ioctl"))
		batch = 1;
	if (!batch || batch > EVBUS_BATCH_MAX) {
		fprintf(stderr, "pub_bench: BATCH must be 1..%u\n", EVBUS_BATCH_MAX);
		return 2;
	}
	uring = !strncmp(mode, "uring-", 6);
	if (!uring && strcmp(mode, "ioctl") && strcmp(mode, "ioctl-batch")) {
		fprintf(stderr, "pub_bench: unknown mode %s\n", mode);
		return 2;
	}

	ret = evbus_open(&bus, NULL);
	if (ret) {
		fprintf(stderr, "pub_bench: %s: %s\n", EVBUS_DEVICE_PATH, strerror(-ret));
		return 1;
	}
	fd = evbus_fd(bus);
	evs = calloc(batch, sizeof(*evs));
	if (!evs)
		return 1;
	for (i = 0; i < batch; i++)
		evbus_pub_prep(&evs[i], TOPIC, "0123456789abcdef", 16);
	if (uring) {
		ret = io_uring_queue_init(batch < 8 ? 8 : batch, &ring, 0);
		if (ret) {
			fprintf(stderr, "pub_bench: io_uring: %s\n", strerror(-ret));
			return ret == -ENOSYS || ret == -EPERM ? 77 : 1;
		}
	}

	t0 = now_s();
	while (done < count && !ret) {
		n = count - done < batch ? count - done : batch;
		if (!strcmp(mode, "ioctl")) {
			ret = evbus_publish(bus, TOPIC, "0123456789abcdef", 16, NULL, NULL);
		} else if (!strcmp(mode, "ioctl-batch")) {
			ret = evbus_publish_batch(bus, evs, n, NULL);
			ret = ret == (int)n ? 0 : ret < 0 ? ret : -EIO;
		} else if (!strcmp(mode, "uring-batch")) {
			memset(&b, 0, sizeof(b));
			b.events = (uintptr_t)evs;
			b.count = n;
			evbus_prep_publish_batch(io_uring_get_sqe(&ring), fd, &b, NULL);
			ret = io_uring_submit_and_wait(&ring, 1);
			ret = ret == 1 ? reap(&ring, 1, (int)n) : ret < 0 ? ret : -EIO;
		} else {
			for (i = 0; i < n; i++)
				evbus_prep_publish(io_uring_get_sqe(&ring), fd, &evs[i], NULL);
			ret = io_uring_submit_and_wait(&ring, n);
			ret = ret == (int)n ? reap(&ring, n, 0) : ret < 0 ? ret : -EIO;
		}
		done += n;
	}
	dt = now_s() - t0;
	if (ret) {
		fprintf(stderr, "pub_bench: %s: %s\n", mode, strerror(-ret));
		return 1;
	}
	printf("%s batch=%u: %u events in %.3f s, %.0f ns/event\n", mode, batch, count,
	       dt, count ? dt * 1e9 / count : 0.0);
	if (uring)
		io_uring_queue_exit(&ring);
	free(evs);
	evbus_close(bus);
	return 0;
}
