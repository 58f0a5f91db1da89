// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The handle: open and close, the file descriptor, the version and feature
 * query, subscriptions, ring configuration and per-file counters.  Each
 * call is one ioctl on the handle's file.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"

#define EVBUS_OPEN_VALID	(EVBUS_OPEN_RDONLY | EVBUS_OPEN_WRONLY | \
				 EVBUS_OPEN_NO_ENV)

static int evbus_open_mode(unsigned int flags)
{
	switch (flags & (EVBUS_OPEN_RDONLY | EVBUS_OPEN_WRONLY)) {
	case EVBUS_OPEN_RDONLY:
		return O_RDONLY;
	case EVBUS_OPEN_WRONLY:
		return O_WRONLY;
	case 0:
		return O_RDWR;
	default:
		return -EINVAL;
	}
}

/*
 * The handle's descriptor when it is inherited: $EVBUS_FD names an open
 * file of the device (a scoped handle from `evbus exec`).  Returns -ENOENT
 * when the variable is unset, so the caller opens the device instead;
 * -EBADF for a value that is not an open descriptor number, -ENOTTY for
 * one that is not /dev/evbus.
 */
static int evbus_open_inherited(void)
{
	const char *env = sys_secure_getenv(EVBUS_FD_ENV);
	struct evbus_version v;
	unsigned long n = 0;
	const char *p;
	int fd, ret;

	if (!env || !*env)
		return -ENOENT;
	for (p = env; *p; p++) {
		if (*p < '0' || *p > '9' || n > INT32_MAX / 10)
			return -EBADF;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n > INT32_MAX)
		return -EBADF;
	fd = sys_dup_inherited((int)n);
	if (fd < 0)
		return fd;
	memset(&v, 0, sizeof(v));
	ret = sys_ioctl(fd, EVBUS_IOC_VERSION, &v);
	if (ret == -EINVAL)
		ret = -ENOTTY;
	/* Only now that it is ours: the reader never blocks in read(). */
	if (!ret)
		ret = sys_set_nonblock(fd);
	if (ret) {
		sys_close(fd);
		return ret;
	}
	return fd;
}

EVBUS_API int evbus_open(struct evbus **busp, const struct evbus_opts *opts)
{
	const char *path = OPTS_GET(opts, path, NULL);
	unsigned int flags = OPTS_GET(opts, flags, 0);
	size_t read_buf = OPTS_GET(opts, read_buf, 0);
	struct evbus *bus;
	int mode, fd;

	if (!busp)
		return -EINVAL;
	*busp = NULL;
	if (!OPTS_VALID(opts, evbus_opts) || (flags & ~EVBUS_OPEN_VALID) ||
	    OPTS_GET(opts, reserved0, 0))
		return -EINVAL;
	mode = evbus_open_mode(flags);
	if (mode < 0)
		return mode;
	if (read_buf > EVBUS_READ_BUF_MAX)
		return -EINVAL;

	bus = sys_calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->flags = flags;
	bus->buf_size = read_buf ? read_buf : EVBUS_READ_BUF_DEFAULT;
	/* Adaptive wake-ups (the default): the kernel says when a batch is due. */
	bus->wake = true;

	fd = -ENOENT;
	if (!path && !(flags & EVBUS_OPEN_NO_ENV))
		fd = evbus_open_inherited();
	if (fd == -ENOENT)
		fd = sys_open(path ? path : EVBUS_DEVICE_PATH,
			      mode | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		sys_free(bus);
		return fd;
	}
	bus->fd = fd;
	*busp = bus;
	return 0;
}

EVBUS_API void evbus_close(struct evbus *bus)
{
	if (!bus)
		return;
	evbus_mmap_close(bus->mm);
	evbus_scopes_free(bus);
	sys_close(bus->fd);
	sys_free(bus->buf);
	sys_free(bus);
}

EVBUS_API int evbus_fd(const struct evbus *bus)
{
	return bus ? bus->fd : -EINVAL;
}

EVBUS_API int evbus_query(struct evbus *bus, struct evbus_version *ver)
{
	if (!bus || !ver)
		return -EINVAL;
	memset(ver, 0, sizeof(*ver));
	return sys_ioctl(bus->fd, EVBUS_IOC_VERSION, ver);
}

EVBUS_API int evbus_subscribe(struct evbus *bus, const char *pattern,
			      uint32_t *sub_id)
{
	struct evbus_sub s;
	uint32_t len;
	int ret;

	ret = evbus_pattern_arg(bus, pattern, &len);
	if (ret)
		return ret;
	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = len;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_SUBSCRIBE, &s);
	if (ret)
		return ret;
	if (sub_id)
		*sub_id = s.sub_id;
	return 0;
}

EVBUS_API int evbus_unsubscribe(struct evbus *bus, uint32_t sub_id)
{
	if (!bus)
		return -EINVAL;
	return sys_ioctl(bus->fd, EVBUS_IOC_UNSUBSCRIBE, &sub_id);
}

/*
 * EVBUS_IOC_SET_RING sets size, policy and wake-up coalescing at once: the
 * setters read the current configuration first and change only their part.
 */
static int ring_get(struct evbus *bus, struct evbus_ring_cfg *cfg)
{
	if (!bus)
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	return sys_ioctl(bus->fd, EVBUS_IOC_GET_RING, cfg);
}

EVBUS_API int evbus_set_ring(struct evbus *bus, uint32_t size, uint32_t policy)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	/*
	 * A lossless ring keeps its wait (a new size, say); any other policy
	 * has none.  A ring that was not lossless has no wait to keep: the
	 * kernel refuses EVBUS_POLICY_LOSSLESS without one (EINVAL), see
	 * evbus_set_ring_lossless().
	 */
	if (policy != EVBUS_POLICY_LOSSLESS || cfg.policy != EVBUS_POLICY_LOSSLESS)
		cfg.wait_ns = 0;
	cfg.size = size;
	cfg.policy = policy;
	return sys_ioctl(bus->fd, EVBUS_IOC_SET_RING, &cfg);
}

EVBUS_API int evbus_get_ring(struct evbus *bus, uint32_t *size,
			     uint32_t *policy)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	if (size)
		*size = cfg.size;
	if (policy)
		*policy = cfg.policy;
	return 0;
}

/*
 * For error paths: is the refusal the module's age?  False when it cannot
 * even say (the caller's error stands).
 */
int evbus_pattern_arg(const struct evbus *bus, const char *pattern,
		      uint32_t *len)
{
	size_t n;

	if (!bus || !pattern)
		return -EINVAL;
	n = strlen(pattern);
	if (!n || n > EVBUS_TOPIC_MAX)
		return -EINVAL;
	*len = (uint32_t)n;
	return 0;
}

bool evbus_lacks_feature(struct evbus *bus, uint64_t feature)
{
	struct evbus_version v;

	memset(&v, 0, sizeof(v));
	return !sys_ioctl(bus->fd, EVBUS_IOC_VERSION, &v) &&
	       !(v.features & feature);
}

/* Does the module know wake-up modes (adaptive, immediate)? */
static bool wake_modes(struct evbus *bus)
{
	struct evbus_version v;

	memset(&v, 0, sizeof(v));
	return !sys_ioctl(bus->fd, EVBUS_IOC_VERSION, &v) &&
	       (v.features & EVBUS_FEAT_ADAPTIVE_WAKE);
}

EVBUS_API int evbus_set_wake(struct evbus *bus, uint32_t events,
			     uint64_t delay_ns)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	cfg.size = 0;		/* keep */
	/* Off is immediate; an older module had it as flags 0. */
	cfg.flags = events ? EVBUS_RING_WAKE :
		    wake_modes(bus) ? EVBUS_RING_IMMEDIATE : 0;
	cfg.wake_events = events;
	cfg.wake_delay_ns = delay_ns;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_SET_RING, &cfg);
	if (!ret)
		bus->wake = events > 1;
	return ret;
}

EVBUS_API int evbus_set_wake_adaptive(struct evbus *bus)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	if (!wake_modes(bus))
		return -EOPNOTSUPP;
	cfg.size = 0;
	cfg.flags = EVBUS_RING_ADAPTIVE;
	cfg.wake_events = 0;
	cfg.wake_delay_ns = 0;
	ret = sys_ioctl(bus->fd, EVBUS_IOC_SET_RING, &cfg);
	if (!ret)
		bus->wake = true;
	return ret;
}

EVBUS_API int evbus_get_wake_mode(struct evbus *bus, uint32_t *mode)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	if (mode)	/* an older module: 0 was wake on the first record */
		*mode = cfg.flags ? cfg.flags : EVBUS_RING_IMMEDIATE;
	return 0;
}

EVBUS_API int evbus_get_wake(struct evbus *bus, uint32_t *events,
			     uint64_t *delay_ns)
{
	struct evbus_ring_cfg cfg;
	int ret = ring_get(bus, &cfg);

	if (ret)
		return ret;
	if (events)
		*events = cfg.wake_events;
	if (delay_ns)
		*delay_ns = cfg.wake_delay_ns;
	return 0;
}

EVBUS_API int evbus_get_stats(struct evbus *bus, struct evbus_stats *stats)
{
	if (!bus || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	return sys_ioctl(bus->fd, EVBUS_IOC_STATS, stats);
}
