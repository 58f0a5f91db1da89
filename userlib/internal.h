/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libevbus internals.  Nothing here is installed.
 *
 * Error convention: public functions return -errno and leave errno as the
 * caller had it.  The sys_*() helpers below are the only places that call
 * libc functions which may set errno; each restores it before returning.
 */
#ifndef _EVBUS_INTERNAL_H
#define _EVBUS_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "evbus.h"

#define EVBUS_API	__attribute__((visibility("default")))

#define EVBUS_READ_BUF_DEFAULT	(64U << 10)
/* The largest record: the fixed part, a topic, the payload ceiling (1 MiB). */
#define EVBUS_READ_BUF_MAX	(2U << 20)

/* The handle behind struct evbus. */
struct evbus {
	int fd;			/* O_NONBLOCK, O_CLOEXEC */
	unsigned int flags;	/* EVBUS_OPEN_* */
	char *buf;		/* read() buffer */
	size_t buf_size;
	struct evbus_rec_iter it; /* over what the last read() filled in */
	bool wake;		/* the kernel decides when a batch is due: poll first */
	struct evbus_mmap *mm;	/* the mapped ring, if evbus_mmap_open() */
	struct evbus_scope_ent *scopes; /* open lifecycle scopes (will.c) */
};

/* bus.c: the module answers EVBUS_IOC_VERSION without the feature bit. */
bool evbus_lacks_feature(struct evbus *bus, uint64_t feature);

/* bus.c: a pattern argument's length, 1..EVBUS_TOPIC_MAX, or -EINVAL. */
int evbus_pattern_arg(const struct evbus *bus, const char *pattern,
		      uint32_t *len);

/* publish.c: evbus_publish() with a deadline (EVBUS_PUB_ASK, _WAIT). */
int evbus_publish_deadline(struct evbus *bus, const char *topic,
			   const void *data, size_t len,
			   const struct evbus_pub_opts *opts,
			   uint64_t deadline_ns, uint64_t *seq);

/* will.c: forget the handle's open scopes (evbus_close()). */
void evbus_scopes_free(struct evbus *bus);

/* mmap.c: take the whole records available now into buf (evbus_read()). */
ssize_t evbus_mmap_take(struct evbus_mmap *m, void *buf, size_t cap);

/*
 * Option structs, as in libbpf: a NULL pointer means all defaults; sz must
 * cover at least the size field, and bytes past what this library knows
 * must be zero (a newer caller asking for something we cannot do).
 */
bool evbus_opts_valid(const void *opts, size_t user_sz, size_t known_sz);

#define OPTS_VALID(opts, type)						\
	(!(opts) || evbus_opts_valid((opts), (opts)->sz, sizeof(struct type)))
#define offsetofend(type, field)					\
	(offsetof(type, field) + sizeof(((type *)0)->field))
#define OPTS_HAS(opts, field)						\
	((opts) && (opts)->sz >= offsetofend(__typeof__(*(opts)), field))
#define OPTS_GET(opts, field, fallback)					\
	(OPTS_HAS(opts, field) ? (opts)->field : (fallback))

/* libc calls that return -errno and preserve errno (sys.c). */
int sys_open(const char *path, int flags);
int sys_close(int fd);
int sys_dup_inherited(int fd);
int sys_set_nonblock(int fd);
const char *sys_secure_getenv(const char *name);
int sys_ioctl(int fd, unsigned long req, void *arg);
ssize_t sys_read(int fd, void *buf, size_t len);
int sys_poll_in(int fd, int timeout_ms);
int sys_io_uring_setup(unsigned int entries, void *params);
int sys_io_uring_register(int fd, unsigned int opcode, void *arg,
			  unsigned int nr_args);
void *sys_calloc(size_t n, size_t size);
void *sys_realloc(void *p, size_t size);
void sys_free(void *p);
long long sys_now_ms(void);
void *sys_mmap(size_t len, int prot, int fd, long long off, int *err);
void sys_munmap(const void *p, size_t len);
long sys_page_size(void);

#endif /* _EVBUS_INTERNAL_H */
