// SPDX-License-Identifier: GPL-2.0
/*
 * libevbus: the handle, option structs, the errno convention, the version
 * and feature query, and access modes.
 */
#include "lib_test.h"

TEST(open_gives_nonblocking_cloexec_fd)
{
	struct evbus *bus;
	int fd, fl;

	LT_OPEN(bus, 0);
	fd = evbus_fd(bus);
	ASSERT_LE(0, fd);
	fl = fcntl(fd, F_GETFL);
	EXPECT_TRUE(fl & O_NONBLOCK);
	EXPECT_EQ(O_RDWR, fl & O_ACCMODE);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	evbus_close(bus);
	/* The fd is gone with the handle. */
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
}

TEST(null_handles_are_safe)
{
	const struct evbus_record *rec = (void *)1;
	struct evbus_stats st;
	struct evbus_version v;

	evbus_close(NULL);
	EXPECT_EQ(-EINVAL, evbus_fd(NULL));
	EXPECT_EQ(-EINVAL, evbus_open(NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_query(NULL, &v));
	EXPECT_EQ(-EINVAL, evbus_subscribe(NULL, "a", NULL));
	EXPECT_EQ(-EINVAL, evbus_unsubscribe(NULL, 1));
	EXPECT_EQ(-EINVAL, evbus_publish(NULL, "a", NULL, 0, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_read(NULL, &rec, 0));
	EXPECT_EQ(-EINVAL, evbus_set_ring(NULL, 0, 0));
	EXPECT_EQ(-EINVAL, evbus_get_ring(NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, evbus_get_stats(NULL, &st));
}

TEST(open_missing_device_is_enoent)
{
	EVBUS_OPTS(evbus_opts, o, .path = "/nonexistent/evbus");
	struct evbus *bus = (void *)1;

	EXPECT_EQ(-ENOENT, evbus_open(&bus, &o));
	EXPECT_EQ(NULL, bus);
}

_Static_assert(sizeof(struct evbus_opts) == 32, "evbus_opts has no hidden padding");
_Static_assert(sizeof(struct evbus_pub_opts) == 32, "evbus_pub_opts has no hidden padding");

TEST(open_rejects_bad_options)
{
	struct {
		struct evbus_opts o;
		char newer[16];
	} big;
	EVBUS_OPTS(evbus_opts, o);
	struct evbus *bus = (void *)1;

	o.sz = 0;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));
	EXPECT_EQ(NULL, bus);
	o.sz = 4;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));
	o.sz = sizeof(o);
	o.flags = 1U << 7;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));
	o.flags = EVBUS_OPEN_RDONLY | EVBUS_OPEN_WRONLY;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));
	o.flags = 0;
	o.reserved0 = 1;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));
	o.reserved0 = 0;
	o.read_buf = 64U << 20;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &o));

	/* A newer caller's larger struct: fine if the unknown tail is zero. */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.path = "/nonexistent/evbus";
	EXPECT_EQ(-ENOENT, evbus_open(&bus, &big.o));
	big.newer[3] = 1;
	EXPECT_EQ(-EINVAL, evbus_open(&bus, &big.o));
}

TEST(older_smaller_options_use_defaults)
{
	EVBUS_OPTS(evbus_opts, o, .path = "/nonexistent/evbus", .flags = 1U << 7);
	struct evbus *bus;

	/* A caller built when the struct ended after path: flags unseen. */
	o.sz = offsetof(struct evbus_opts, flags);
	EXPECT_EQ(-ENOENT, evbus_open(&bus, &o));
}

TEST(errno_is_never_touched)
{
	EVBUS_OPTS(evbus_opts, o, .path = "/nonexistent/evbus");
	const struct evbus_record *rec;
	struct evbus *bus;
	char topic[64];
	uint32_t id;

	errno = 4242;
	EXPECT_EQ(-ENOENT, evbus_open(&bus, &o));
	EXPECT_EQ(4242, errno);
	LT_OPEN(bus, 0);
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-EINVAL, evbus_subscribe(bus, "a..b", NULL));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-ENOENT, evbus_unsubscribe(bus, 999));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(0, evbus_subscribe(bus, lt_topic(topic, sizeof(topic), "x"), &id));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-EAGAIN, evbus_read(bus, &rec, 0));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-ETIMEDOUT, evbus_read(bus, &rec, 10));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(0, evbus_publish(bus, topic, "x", 1, NULL, NULL));
	EXPECT_EQ(0, evbus_read(bus, &rec, 0));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-EINVAL, evbus_set_ring(bus, 0, 77));
	EXPECT_EQ(4242, errno);
	EXPECT_EQ(-EINVAL, evbus_check_topic("a.*", NULL));
	EXPECT_EQ(4242, errno);
	evbus_close(bus);
	EXPECT_EQ(4242, errno);
}

TEST(query_reports_abi_features_and_limits)
{
	struct evbus_version v;
	struct evbus *bus;

	LT_OPEN(bus, EVBUS_OPEN_RDONLY);
	memset(&v, 0xcc, sizeof(v));
	ASSERT_EQ(0, evbus_query(bus, &v));
	EXPECT_EQ(EVBUS_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.flags);
	EXPECT_TRUE(v.features & EVBUS_FEAT_PUBLISH);
	EXPECT_TRUE(v.features & EVBUS_FEAT_BATCH);
	EXPECT_TRUE(v.features & EVBUS_FEAT_WILDCARD);
	EXPECT_LT(0, v.max_payload);
	EXPECT_LT(0, v.max_subs);
	EXPECT_LE(v.ring_default, v.ring_max);
	EXPECT_EQ(0, v.reserved[0]);
	EXPECT_EQ(0, v.reserved[3]);
	EXPECT_EQ(-EINVAL, evbus_query(bus, NULL));
	evbus_close(bus);
}

TEST(library_version_matches_header)
{
	char buf[32];

	EXPECT_STREQ(EVBUS_LIB_VERSION, evbus_lib_version());
	EXPECT_EQ(EVBUS_LIB_VERSION_MAJOR, evbus_lib_version_major());
	EXPECT_EQ(EVBUS_LIB_VERSION_MINOR, evbus_lib_version_minor());
	snprintf(buf, sizeof(buf), "%d.%d.%d", EVBUS_LIB_VERSION_MAJOR,
		 EVBUS_LIB_VERSION_MINOR, EVBUS_LIB_VERSION_PATCH);
	EXPECT_STREQ(buf, EVBUS_LIB_VERSION);
}

TEST(access_modes_are_enforced)
{
	const struct evbus_record *rec;
	struct evbus *ro, *wo;
	int fl;

	LT_OPEN(ro, EVBUS_OPEN_RDONLY);
	LT_OPEN(wo, EVBUS_OPEN_WRONLY);
	fl = fcntl(evbus_fd(ro), F_GETFL);
	EXPECT_EQ(O_RDONLY, fl & O_ACCMODE);
	fl = fcntl(evbus_fd(wo), F_GETFL);
	EXPECT_EQ(O_WRONLY, fl & O_ACCMODE);

	EXPECT_EQ(-EBADF, evbus_publish(ro, "lt.ro", "x", 1, NULL, NULL));
	EXPECT_EQ(-EBADF, evbus_subscribe(wo, "lt.wo", NULL));
	EXPECT_EQ(-EBADF, evbus_read(wo, &rec, 0));
	EXPECT_EQ(0, evbus_subscribe(ro, "lt.ro", NULL));
	EXPECT_EQ(0, evbus_publish(wo, "lt.wo", "x", 1, NULL, NULL));
	evbus_close(ro);
	evbus_close(wo);
}

TEST_HARNESS_MAIN
