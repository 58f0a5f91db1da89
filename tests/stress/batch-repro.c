// SPDX-License-Identifier: GPL-2.0
/*
 * Reproducers for publish bugs found by evbus-stress (1, 2) and while
 * reading the code for it (3).  Each case prints what happened and "OK" or
 * "BUG"; the exit status is 0 when all behave as documented, 1 otherwise,
 * 3 on setup errors.
 *
 *   tests/vm/run -- build/stress/batch-repro
 *
 * 1. efault-writeback.  uapi/linux/evbus.h: with EVBUS_BATCH_SEQ, "if that
 *    write faults, publishing stops after that event with error -EFAULT",
 *    and the call returns the number of events published.  With every
 *    descriptor read-only exactly one event may go out and the call
 *    returns 1.  evbus_publish() (module/main.c) publishes the whole
 *    staging chunk under the bus lock before it writes any seq back, then
 *    truncates the count at the first failed write: the rest of the chunk
 *    reaches subscribers (and the sysfs 'published' counter) although the
 *    caller was told it was not published.
 *
 * 2. ioctl-errors.  A batch whose first event fails (here: an invalid
 *    topic) returns -1/EINVAL to userspace, but /sys/kernel/evbus/stats/
 *    ioctl_errors does not move (publish_err_einval does).  In
 *    evbus_ioctl_publish_batch(), 'return done ? done : err;' has type
 *    unsigned int (done is u32), so -EINVAL becomes 4294967274 as a long;
 *    evbus_ioctl() sees a positive value and does not count an error.  The
 *    caller still sees -1/EINVAL only because sys_ioctl() truncates the
 *    value into its 'int error'.  Same for 'return done ? done : -EFAULT'
 *    and for io_uring (evbus_uring_cmd), and whatever makes the first event
 *    fail (EINVAL, EMSGSIZE, EFAULT, ENOMEM from staging).
 *
 * 3. single-efault.  EVBUS_IOC_PUBLISH with its struct evbus_pub in a
 *    read-only page: the event is published and delivered, then writing
 *    the seq back faults and the call fails with EFAULT.  The caller sees
 *    a failure (and may publish again: a duplicate) for an event that went
 *    out, and sysfs 'published' grows on a failed call, which
 *    Documentation/ABI/testing/sysfs-kernel-evbus says never happens.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/evbus.h>

#define COUNT 8

static long stat_of(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int subscriber(const char *pattern)
{
	struct evbus_sub s;
	int fd = open("/dev/evbus", O_RDWR | O_NONBLOCK);

	if (fd < 0) {
		perror("open /dev/evbus");
		exit(3);
	}
	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE, &s)) {
		perror("EVBUS_IOC_SUBSCRIBE");
		exit(3);
	}
	return fd;
}

static void fill(struct evbus_pub *ev, const char *topic, int i)
{
	memset(ev, 0, sizeof(*ev));
	ev->topic = (uintptr_t)topic;
	ev->topic_len = strlen(topic);
	ev->payload = (uintptr_t)"x";
	ev->payload_len = 1;
	ev->corr = i;
}

static int efault_writeback(void)
{
	static const char topic[] = "repro.efault";
	static char buf[1 << 16];
	struct evbus_pub_batch b;
	struct evbus_pub *ev;
	long pub0, pub1;
	int fd = subscriber(topic), ret, got = 0;
	ssize_t n;

	ev = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ev == MAP_FAILED)
		exit(3);
	for (int i = 0; i < COUNT; i++)
		fill(&ev[i], topic, i);
	if (mprotect(ev, 4096, PROT_READ))
		exit(3);

	pub0 = stat_of("published");
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)ev;
	b.count = COUNT;
	b.flags = EVBUS_BATCH_SEQ;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	pub1 = stat_of("published");
	printf("efault-writeback: batch of %d, read-only descriptors: ret %d published %u error %d error_index %u first_seq %llu\n",
	       COUNT, ret, b.published, b.error, b.error_index,
	       (unsigned long long)b.first_seq);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; p += ((struct evbus_rec_hdr *)p)->len) {
			struct evbus_event *e = (struct evbus_event *)p;

			if (e->hdr.kind == EVBUS_REC_EVENT) {
				printf("  subscriber got seq %llu (descriptor %llu)\n",
				       (unsigned long long)e->seq, (unsigned long long)e->corr);
				got++;
			}
		}
	}
	printf("efault-writeback: subscriber received %d, sysfs published %+ld, caller told %d: ",
	       got, pub1 - pub0, ret);
	close(fd);
	munmap(ev, 4096);
	/* Read-only descriptors: nothing may be published (uapi header). */
	if (ret == -1 && got == 0 && pub1 - pub0 == 0) {
		printf("OK\n");
		return 0;
	}
	printf("BUG (events reported unpublished were delivered)\n");
	return 1;
}

static int ioctl_errors(void)
{
	static const char bad[] = "repro..bad";
	struct evbus_pub_batch b;
	struct evbus_pub ev;
	long e0, e1, p0, p1;
	int fd = subscriber("repro.x"), ret, err;

	fill(&ev, bad, 0);
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)&ev;
	b.count = 1;
	e0 = stat_of("ioctl_errors");
	p0 = stat_of("publish_err_einval");
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	err = errno;
	e1 = stat_of("ioctl_errors");
	p1 = stat_of("publish_err_einval");
	close(fd);
	printf("ioctl-errors: batch with an invalid first topic: ret %d errno %d (%s), error %d; sysfs ioctl_errors %+ld, publish_err_einval %+ld: ",
	       ret, ret < 0 ? err : 0, ret < 0 ? strerror(err) : "-", b.error, e1 - e0,
	       p1 - p0);
	if (ret == -1 && err == EINVAL && e1 - e0 == 1 && p1 - p0 == 1) {
		printf("OK\n");
		return 0;
	}
	printf("BUG (a failed ioctl not counted in ioctl_errors)\n");
	return 1;
}

static int single_efault(void)
{
	static const char topic[] = "repro.single";
	static char buf[1 << 16];
	struct evbus_pub *ev;
	long pub0, pub1;
	int fd = subscriber(topic), ret, err, got = 0;
	ssize_t n;

	ev = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ev == MAP_FAILED)
		exit(3);
	fill(ev, topic, 0);
	if (mprotect(ev, 4096, PROT_READ))
		exit(3);
	pub0 = stat_of("published");
	ret = ioctl(fd, EVBUS_IOC_PUBLISH, ev);
	err = errno;
	pub1 = stat_of("published");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += ((struct evbus_rec_hdr *)p)->len)
			got += ((struct evbus_rec_hdr *)p)->kind == EVBUS_REC_EVENT;
	close(fd);
	munmap(ev, 4096);
	printf("single-efault: read-only struct evbus_pub: ret %d errno %d (%s); subscriber received %d, sysfs published %+ld: ",
	       ret, ret < 0 ? err : 0, ret < 0 ? strerror(err) : "-", got, pub1 - pub0);
	if ((ret == 0 && got == 1) || (ret < 0 && got == 0 && pub1 == pub0)) {
		printf("OK\n");
		return 0;
	}
	printf("BUG (the call failed but the event was published)\n");
	return 1;
}

int main(void)
{
	int bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bad += efault_writeback();
	bad += ioctl_errors();
	bad += single_efault();
	return bad ? 1 : 0;
}
