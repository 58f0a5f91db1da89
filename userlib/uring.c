// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * io_uring helpers (LIBEVBUS_1.1): SQE preparation for publishing with
 * IORING_OP_URING_CMD and for reading, and a probe.  The buffers reads
 * complete with are walked by records.c.
 *
 * libevbus does not link liburing, so that programs which never use
 * io_uring do not load it: <liburing.h> only provides the types (struct
 * io_uring_sqe, struct io_uring) and static inline helpers, and the probe
 * makes its two syscalls itself (sys.c).  Built against liburing 2.3, which
 * predates IORING_OP_READ_MULTISHOT; the opcode number comes from the
 * kernel's enum io_uring_op (6.7+).
 *
 * Like the rest of the library: 0 or -errno, errno left alone.
 */
#include <stddef.h>
#include <string.h>
#include <liburing.h>

#include "internal.h"

#ifndef IORING_OP_READ_MULTISHOT
/* include/uapi/linux/io_uring.h: ..., SENDMSG_ZC = 48, READ_MULTISHOT = 49 */
#define IORING_OP_READ_MULTISHOT	49
#endif

/*
 * The command area of a 64-byte SQE starts at offset 48 (it overlays addr3
 * and __pad2) and holds 16 bytes: exactly struct evbus_uring_cmd.
 */
_Static_assert(offsetof(struct io_uring_sqe, cmd) == 48, "SQE command area");
_Static_assert(sizeof(struct io_uring_sqe) == 64, "SQE size");
_Static_assert(sizeof(struct evbus_uring_cmd) == 16, "evbus_uring_cmd size");
_Static_assert(offsetof(struct io_uring_sqe, cmd) + sizeof(struct evbus_uring_cmd) <=
	       sizeof(struct io_uring_sqe), "evbus_uring_cmd fits a 64-byte SQE");

/* ------------------------------------------------------------- publishing */

static int evbus_prep_cmd(struct io_uring_sqe *sqe, int fd, uint32_t op,
			  void *arg, const struct evbus_uring_cmd *tmpl)
{
	struct evbus_uring_cmd c;

	if (!sqe || fd < 0 || !arg)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	if (tmpl) {
		/* The caller's flags and reserved go out as given (the kernel
		 * checks them); arg is ours to fill. */
		if (tmpl->arg && tmpl->arg != (uintptr_t)arg)
			return -EINVAL;
		c.flags = tmpl->flags;
		c.reserved = tmpl->reserved;
	}
	c.arg = (uintptr_t)arg;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	/* Through a char pointer: cmd[] is a zero-length array to fortify. */
	memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd), &c,
	       sizeof(c));
	return 0;
}

EVBUS_API int evbus_prep_publish(struct io_uring_sqe *sqe, int fd,
				 struct evbus_pub *pub,
				 const struct evbus_uring_cmd *cmd)
{
	return evbus_prep_cmd(sqe, fd, EVBUS_URING_PUBLISH, pub, cmd);
}

EVBUS_API int evbus_prep_publish_batch(struct io_uring_sqe *sqe, int fd,
				       struct evbus_pub_batch *b,
				       const struct evbus_uring_cmd *cmd)
{
	return evbus_prep_cmd(sqe, fd, EVBUS_URING_PUBLISH_BATCH, b, cmd);
}

/* ---------------------------------------------------------------- reading */

/*
 * The file is not seekable and read() ignores the position; offset 0
 * (rather than -1, "the file position") keeps io_uring away from f_pos.
 */
EVBUS_API int evbus_prep_read(struct io_uring_sqe *sqe, int fd, void *buf,
			      unsigned int len)
{
	if (!sqe || fd < 0 || !buf || !len)
		return -EINVAL;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	return 0;
}

/* Multishot reads take their buffer from the group: addr and len are 0. */
EVBUS_API int evbus_prep_read_multishot(struct io_uring_sqe *sqe, int fd,
					unsigned int buf_group)
{
	if (!sqe || fd < 0 || buf_group > UINT16_MAX)
		return -EINVAL;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_MULTISHOT;
	sqe->fd = fd;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)buf_group;
	return 0;
}

/* ---------------------------------------------------------------- probing */

#ifndef IORING_REGISTER_USE_REGISTERED_RING
/* include/uapi/linux/io_uring.h (6.3+), newer than liburing 2.3 */
#define IORING_REGISTER_USE_REGISTERED_RING	(1U << 31)
#endif

/* Room for every opcode a probe can report (the kernel caps it at its last). */
#define EVBUS_PROBE_OPS		256

union evbus_probe {
	struct io_uring_probe p;
	unsigned char room[sizeof(struct io_uring_probe) +
			   EVBUS_PROBE_OPS * sizeof(struct io_uring_probe_op)];
};

/*
 * IORING_REGISTER_PROBE on an io_uring fd (or registered ring index, with
 * IORING_REGISTER_USE_REGISTERED_RING in op): 0, or -ENOSYS when the
 * kernel cannot probe (before 5.6: no IORING_REGISTER_PROBE, no OP_READ).
 */
static int evbus_register_probe(int ring_fd, unsigned int op,
				union evbus_probe *probe)
{
	memset(probe, 0, sizeof(*probe));
	if (sys_io_uring_register(ring_fd, op, probe, EVBUS_PROBE_OPS) < 0)
		return -ENOSYS;
	return 0;
}

/*
 * The caller's ring is asked through its fd, or through its registered
 * index once liburing has closed the fd (io_uring_close_ring_fd(),
 * liburing 2.4 and later).
 */
static int evbus_ring_probe(struct io_uring *ring, union evbus_probe *probe)
{
	if (ring->ring_fd >= 0)
		return evbus_register_probe(ring->ring_fd, IORING_REGISTER_PROBE,
					    probe);
	return evbus_register_probe(ring->enter_ring_fd,
				    IORING_REGISTER_PROBE |
				    IORING_REGISTER_USE_REGISTERED_RING, probe);
}

/*
 * A ring of our own: set up with io_uring_setup(2), never mapped, closed
 * again.  Setting it up is what fails when io_uring is missing (-ENOSYS)
 * or not allowed (-EPERM).
 */
static int evbus_own_probe(union evbus_probe *probe)
{
	struct io_uring_params params;
	int fd, ret;

	memset(&params, 0, sizeof(params));
	fd = sys_io_uring_setup(2, &params);
	if (fd < 0)
		return fd;
	ret = evbus_register_probe(fd, IORING_REGISTER_PROBE, probe);
	sys_close(fd);
	return ret;
}

/*
 * What works on fd through io_uring: the kernel's opcodes (from ring, or a
 * throw-away ring when ring is NULL) and, when fd >= 0, the module's
 * EVBUS_FEAT_URING_CMD and EVBUS_FEAT_NOWAIT_READ.  Creating the ring is
 * what fails with -ENOSYS (no io_uring) or -EPERM (io_uring_disabled, or
 * not allowed to this process).
 */
EVBUS_API int evbus_uring_probe(struct io_uring *ring, int fd)
{
	uint64_t features = EVBUS_FEAT_URING_CMD | EVBUS_FEAT_NOWAIT_READ;
	union evbus_probe probe;
	int bits = 0, ret;

	if (fd >= 0) {
		struct evbus_version v;

		memset(&v, 0, sizeof(v));
		ret = sys_ioctl(fd, EVBUS_IOC_VERSION, &v);
		if (ret)
			return ret;
		features = v.features;
	}
	ret = ring ? evbus_ring_probe(ring, &probe) : evbus_own_probe(&probe);
	if (ret)
		return ret;

	if ((features & EVBUS_FEAT_URING_CMD) &&
	    io_uring_opcode_supported(&probe.p, IORING_OP_URING_CMD))
		bits |= EVBUS_URING_CAN_PUBLISH;
	if ((features & EVBUS_FEAT_NOWAIT_READ) &&
	    io_uring_opcode_supported(&probe.p, IORING_OP_READ)) {
		bits |= EVBUS_URING_CAN_READ;
		if (io_uring_opcode_supported(&probe.p, IORING_OP_READ_MULTISHOT))
			bits |= EVBUS_URING_CAN_READ_MULTISHOT;
	}
	return bits;
}
