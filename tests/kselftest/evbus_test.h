/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the evbus kselftests: raw ioctl wrappers (the tests
 * exercise the ABI directly, not through libevbus) and record walking.
 */
#ifndef EVBUS_TEST_H
#define EVBUS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/evbus.h>

#define EVBUS_DEV	"/dev/evbus"

_Static_assert(sizeof(struct evbus_version) == 64, "evbus_version");
_Static_assert(sizeof(struct evbus_sub) == 24, "evbus_sub");
_Static_assert(sizeof(struct evbus_pub) == 72, "evbus_pub");
_Static_assert(sizeof(struct evbus_pub_batch) == 56, "evbus_pub_batch");
_Static_assert(sizeof(struct evbus_ring_cfg) == 32, "evbus_ring_cfg");
_Static_assert(sizeof(struct evbus_stats) == 96, "evbus_stats");
_Static_assert(sizeof(struct evbus_event) == 80, "evbus_event");
_Static_assert(sizeof(struct evbus_lagged) == 40, "evbus_lagged");

static inline int evt_open(void)
{
	return open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
}

static inline int evt_open_nb(void)
{
	return open(EVBUS_DEV, O_RDWR | O_CLOEXEC | O_NONBLOCK);
}

/* Subscribe; returns the id (> 0) or -errno. */
static inline int evt_sub(int fd, const char *pattern)
{
	struct evbus_sub s;

	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE, &s))
		return -errno;
	return (int)s.sub_id;
}

static inline int evt_unsub(int fd, uint32_t id)
{
	return ioctl(fd, EVBUS_IOC_UNSUBSCRIBE, &id) ? -errno : 0;
}

/* Publish; returns the sequence number (> 0) or -errno. */
static inline int64_t evt_pub_full(int fd, const char *topic, const void *data,
				   size_t len, uint32_t type, uint64_t corr,
				   uint64_t parent)
{
	struct evbus_pub p;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = strlen(topic);
	p.payload = (uintptr_t)data;
	p.payload_len = len;
	p.type = type;
	p.corr = corr;
	p.parent = parent;
	if (ioctl(fd, EVBUS_IOC_PUBLISH, &p))
		return -errno;
	return (int64_t)p.seq;
}

static inline int64_t evt_pub(int fd, const char *topic, const char *text)
{
	return evt_pub_full(fd, topic, text, text ? strlen(text) : 0, 0, 0, 0);
}

static inline int evt_set_ring(int fd, uint32_t size, uint32_t policy)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.policy = policy;
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

static inline int evt_stats(int fd, struct evbus_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, EVBUS_IOC_STATS, st) ? -errno : 0;
}

/* Write text to path (a sysfs or proc file): 0, or -errno (-EIO if short). */
static inline int evt_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return n;
}

/* The number in a sysfs file (a counter or a parameter), or -1. */
static inline long long evt_read_num(const char *path)
{
	char buf[64] = {};
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 0);
	fclose(f);
	return v;
}

/* Module parameters (root may change them at run time). */
#define EVT_PARAM_DIR	"/sys/module/evbus/parameters/"

/* Read parameter name as a number: 0, or -errno (-ENOENT: no such param). */
static inline int evt_param_get(const char *name, unsigned long long *val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EVT_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	*val = strtoull(buf, NULL, 0);
	return 0;
}

/* Write parameter name: 0, or -errno (the module's validation, -ENOENT). */
static inline int evt_param_set(const char *name, unsigned long long val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EVT_PARAM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%llu", val);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, strlen(buf));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline int evt_version(int fd, struct evbus_version *v)
{
	memset(v, 0, sizeof(*v));
	return ioctl(fd, EVBUS_IOC_VERSION, v) ? -errno : 0;
}

/* Walk the records in buf[0..len); returns the number of records. */
#define evt_for_each_rec(h, buf, len, left)				\
	for (left = (len), h = (struct evbus_rec_hdr *)(buf);		\
	     EVBUS_REC_OK(h, (size_t)left);				\
	     h = EVBUS_REC_NEXT(h, left))

#endif /* EVBUS_TEST_H */
