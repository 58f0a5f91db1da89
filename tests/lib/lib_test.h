/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the libevbus tests (tests/lib/NAME.c, built as
 * build/ksft/lib_NAME).  Unlike tests/kselftest/, these go through the
 * library, never through raw ioctls.
 */
#ifndef EVBUS_LIB_TEST_H
#define EVBUS_LIB_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "evbus.h"
#include "kselftest_harness.h"

/* Open the bus with flags, or skip the test when the module is not loaded. */
#define LT_OPEN(bus, open_flags) do {					\
	EVBUS_OPTS(evbus_opts, lt_o_, .flags = (open_flags));		\
	int lt_r_ = evbus_open(&(bus), &lt_o_);				\
	if (lt_r_ == -ENOENT)						\
		SKIP(return, "no /dev/evbus: load evbus.ko first");	\
	ASSERT_EQ(0, lt_r_);						\
	ASSERT_NE(NULL, (bus));						\
} while (0)

/* A topic no other test (each runs in its own process) publishes on. */
static inline const char *lt_topic(char *buf, size_t size, const char *suffix)
{
	snprintf(buf, size, "lt%d.%s", (int)getpid(), suffix);
	return buf;
}

static inline long long lt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline pid_t lt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Wait for a child and return its exit status, or -1 if it did not exit. */
static inline int lt_wait(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Fork a child that sleeps delay_ms and publishes text on topic. */
static inline pid_t lt_publish_later(const char *topic, const char *text,
				     int delay_ms)
{
	pid_t pid = fork();
	struct evbus *bus;
	int ret;

	if (pid)
		return pid;
	usleep(delay_ms * 1000);
	ret = evbus_open(&bus, NULL);
	if (!ret)
		ret = evbus_publish(bus, topic, text, strlen(text), NULL, NULL);
	evbus_close(bus);
	_exit(ret ? 1 : 0);
}

/*
 * Write an event record as read() returns it at buf (8-byte aligned):
 * header, topic and payload, every other field zero.  Returns its length.
 */
static inline size_t lt_put_event(void *buf, const char *topic,
				  const void *payload, size_t plen)
{
	struct evbus_event *ev = buf;
	size_t tlen = strlen(topic);
	size_t len = sizeof(*ev) + EVBUS_ALIGN(tlen + 1) + EVBUS_ALIGN(plen);

	memset(buf, 0, len);
	ev->hdr.len = len;
	ev->hdr.kind = EVBUS_REC_EVENT;
	ev->hdr.hdr_len = sizeof(*ev);
	ev->topic_len = tlen;
	ev->payload_len = plen;
	memcpy((char *)EVBUS_EVENT_TOPIC(ev), topic, tlen);
	memcpy((char *)EVBUS_EVENT_PAYLOAD(ev), payload, plen);
	return len;
}

#endif /* EVBUS_LIB_TEST_H */
