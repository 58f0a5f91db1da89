// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The only libc calls libevbus makes, each returning -errno on failure and
 * leaving errno exactly as the caller had it.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"

bool evbus_opts_valid(const void *opts, size_t user_sz, size_t known_sz)
{
	const unsigned char *p = opts;
	size_t i;

	if (user_sz < sizeof(size_t))
		return false;
	for (i = known_sz; i < user_sz; i++)
		if (p[i])
			return false;
	return true;
}

int sys_open(const char *path, int flags)
{
	int saved = errno, fd;

	fd = open(path, flags);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

int sys_close(int fd)
{
	int saved = errno, ret;

	ret = close(fd) ? -errno : 0;
	errno = saved;
	return ret;
}

int sys_ioctl(int fd, unsigned long req, void *arg)
{
	int saved = errno, ret;

	ret = ioctl(fd, req, arg);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/*
 * A descriptor of our own for the open file behind the inherited fd: a
 * close-on-exec duplicate, so that closing the handle leaves fd to whoever
 * else holds it.  -ENOTTY if fd is not a character device at all.
 */
int sys_dup_inherited(int fd)
{
	int saved = errno, nfd;
	struct stat st;

	if (fstat(fd, &st))
		nfd = -errno;
	else if (!S_ISCHR(st.st_mode))
		nfd = -ENOTTY;
	else if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		nfd = -errno;
	errno = saved;
	return nfd;
}

/* Make the open file behind fd non-blocking (for every holder of it). */
int sys_set_nonblock(int fd)
{
	int saved = errno, fl, ret = 0;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK)))
		ret = -errno;
	errno = saved;
	return ret;
}

/* The value of name, ignored in set-user-ID and like programs. */
const char *sys_secure_getenv(const char *name)
{
	int saved = errno;
	const char *v = secure_getenv(name);

	errno = saved;
	return v;
}

ssize_t sys_read(int fd, void *buf, size_t len)
{
	int saved = errno;
	ssize_t ret;

	ret = read(fd, buf, len);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/* 1 if fd is readable, 0 on timeout, -errno (-EINTR on a signal). */
int sys_poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int saved = errno, ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		ret = -errno;
	else if (ret > 0 && (pfd.revents & POLLNVAL))
		ret = -EBADF;
	else if (ret > 0 && (pfd.revents & POLLERR))
		ret = -EIO;
	else if (ret > 0 && !(pfd.revents & POLLIN))
		ret = -EPIPE;	/* POLLHUP: the device is going away */
	errno = saved;
	return ret;
}

/*
 * io_uring_setup(2) and io_uring_register(2), made directly: libevbus does
 * not link liburing.  params is a struct io_uring_params.
 */
int sys_io_uring_setup(unsigned int entries, void *params)
{
	int saved = errno;
	long ret = syscall(__NR_io_uring_setup, entries, params);

	if (ret < 0)
		ret = -errno;
	errno = saved;
	return (int)ret;
}

int sys_io_uring_register(int fd, unsigned int opcode, void *arg,
			  unsigned int nr_args)
{
	int saved = errno;
	long ret = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);

	if (ret < 0)
		ret = -errno;
	errno = saved;
	return (int)ret;
}

void *sys_calloc(size_t n, size_t size)
{
	int saved = errno;
	void *p = calloc(n, size);

	errno = saved;
	return p;
}

void *sys_realloc(void *p, size_t size)
{
	int saved = errno;
	void *q = realloc(p, size);

	errno = saved;
	return q;
}

void sys_free(void *p)
{
	int saved = errno;

	free(p);
	errno = saved;
}

long long sys_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *sys_mmap(size_t len, int prot, int fd, long long off, int *err)
{
	int saved = errno;
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);

	*err = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

void sys_munmap(const void *p, size_t len)
{
	int saved = errno;

	munmap((void *)p, len);
	errno = saved;
}

long sys_page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}
