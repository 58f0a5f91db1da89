// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/evbus device itself: node, open/close, the version handshake,
 * unknown ioctls, and module unload with and without open files.
 */
#include <sys/sysmacros.h>
#include "evbus_test.h"
#include "kselftest_harness.h"

#define MISC_MAJOR 10

static int evt_delete_module(void)
{
	return syscall(__NR_delete_module, "evbus", O_NONBLOCK) ? -errno : 0;
}

static int evt_insert_module(void)
{
	const char *ko = getenv("EVBUS_KO");
	int fd, ret;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

TEST(device_is_misc_char_0660)
{
	struct stat st;
	char path[64];

	ASSERT_EQ(0, stat(EVBUS_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(MISC_MAJOR, major(st.st_rdev));
	/* Secure default: not world-readable or -writable. */
	EXPECT_EQ(0660, st.st_mode & 07777);
	snprintf(path, sizeof(path), "/sys/class/misc/evbus/dev");
	EXPECT_EQ(0, access(path, R_OK));
}

TEST(open_close)
{
	int fd1 = evt_open(), fd2 = evt_open();

	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	EXPECT_NE(fd1, fd2);
	EXPECT_EQ(0, close(fd1));
	EXPECT_EQ(0, close(fd2));
}

TEST(not_seekable)
{
	int fd = evt_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(unknown_ioctl_is_enotty)
{
	int fd = evt_open();
	char buf[256] = {};

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, _IO(EVBUS_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOWR(EVBUS_IOC_MAGIC, 0x00, char[32]), buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOWR('T', 0x00, struct evbus_version), buf));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(version_reports_abi_and_features)
{
	struct evbus_version v;
	int fd = evt_open();

	ASSERT_LE(0, fd);
	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_EQ(EVBUS_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.flags);
	EXPECT_TRUE(v.features & EVBUS_FEAT_PUBLISH);
	EXPECT_TRUE(v.features & EVBUS_FEAT_BATCH);
	EXPECT_TRUE(v.features & EVBUS_FEAT_WILDCARD);
	EXPECT_EQ(65536, v.max_payload);
	EXPECT_EQ(64, v.max_subs);
	EXPECT_LE(4096, v.ring_default);
	EXPECT_LE(v.ring_default, v.ring_max);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, v.reserved[i]);
	close(fd);
}

TEST(version_rejects_flags_and_reserved)
{
	struct evbus_version v, orig;
	int fd = evt_open();

	ASSERT_LE(0, fd);
	memset(&v, 0, sizeof(v));
	v.flags = 1;
	orig = v;
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, memcmp(&v, &orig, sizeof(v)));

	for (int i = 0; i < 4; i++) {
		memset(&v, 0, sizeof(v));
		v.reserved[i] = 1ULL << (i * 16);
		orig = v;
		EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_VERSION, &v));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, memcmp(&v, &orig, sizeof(v)));
	}
	/* The file still answers a good query. */
	memset(&v, 0, sizeof(v));
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_EQ(EVBUS_ABI_VERSION, v.abi_version);
	close(fd);
}

TEST(version_bad_pointer_is_efault)
{
	int fd = evt_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, EVBUS_IOC_VERSION, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(rmmod_refused_while_open_and_file_keeps_working)
{
	struct evbus_version v;
	char buf[512];
	int fd = evt_open_nb();
	int ret;

	ASSERT_LE(0, fd);
	ret = evt_delete_module();
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY) {
		TH_LOG("delete_module returned %d", ret);
	}
	memset(&v, 0, sizeof(v));
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	ASSERT_LT(0, evt_sub(fd, "device.rmmod.busy"));
	ASSERT_LT(0, evt_pub(fd, "device.rmmod.busy", "still here"));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EVBUS_REC_EVENT, ((struct evbus_rec_hdr *)buf)->kind);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, access(EVBUS_DEV, F_OK));
}

TEST(rmmod_succeeds_with_no_open_files)
{
	struct evbus_version v;
	struct stat st;
	int fd;

	if (!getenv("EVBUS_KO"))
		SKIP(return, "EVBUS_KO not set: cannot reload the module");
	ASSERT_EQ(0, evt_delete_module());
	EXPECT_EQ(-1, stat(EVBUS_DEV, &st));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, evt_insert_module());
	fd = evt_open();
	ASSERT_LE(0, fd);
	memset(&v, 0, sizeof(v));
	EXPECT_EQ(0, ioctl(fd, EVBUS_IOC_VERSION, &v));
	EXPECT_EQ(EVBUS_ABI_VERSION, v.abi_version);
	close(fd);
}

TEST_HARNESS_MAIN
