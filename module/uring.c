// SPDX-License-Identifier: GPL-2.0
/*
 * evbus io_uring commands: IORING_OP_URING_CMD publishes.
 *
 * The CQE's res is 0 once every event went out, else the errno of the
 * event that failed; the structs are written back exactly as by the
 * ioctls.  (Never a positive res: 6.1's io_uring_cmd() takes one for an
 * error code and, from io-wq, never completes the request.)
 *
 * Issued with IO_URING_F_NONBLOCK (inline, from the submitter), a command
 * that would sleep before its first event is out (a fault on a user page,
 * an allocation that must wait) returns -EAGAIN and io_uring reissues it
 * from a worker without the flag.  The sender is the thread that issues
 * the command: the submitter, or for IOSQE_ASYNC, SQPOLL and reissued
 * commands one of io_uring's threads of the same process (same pid, its
 * own tid).
 *
 * A publish that asks for approval (gate.c) is retried from a worker
 * (it may sleep), which returns -EIOCBQUEUED at once: the chain goes on
 * as verdicts come, and the event is published and the CQE posted from
 * the submitter's task work, with no thread waiting in between.
 */
#include <linux/fs.h>

#include "evbus.h"
#include "compat.h"

int evbus_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	const struct evbus_uring_cmd *c = evbus_uring_cmd_area(ioucmd);
	bool nowait = issue_flags & IO_URING_F_NONBLOCK;
	struct evbus_file *ef = ioucmd->file->private_data;
	void __user *argp = u64_to_user_ptr(READ_ONCE(c->arg));
	int fail = 0;
	long ret;

	if (READ_ONCE(c->flags) || READ_ONCE(c->reserved)) {
		ret = -EINVAL;
		goto out;
	}
	if (ioucmd->cmd_op != EVBUS_URING_PUBLISH &&
	    ioucmd->cmd_op != EVBUS_URING_PUBLISH_BATCH) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (!(ioucmd->file->f_mode & FMODE_WRITE)) {
		ret = fail = -EBADF;
		goto out;
	}
	if (ioucmd->cmd_op == EVBUS_URING_PUBLISH) {
		ret = evbus_uring_publish(ef, argp, nowait, ioucmd, &fail);
		/* Asking for approval: the CQE comes with the verdict (gate.c). */
		if (ret == -EIOCBQUEUED)
			return ret;
	} else {
		ret = evbus_ioctl_publish_batch(ef, argp, nowait, &fail);
		if (ret > 0)
			ret = fail;
	}
	/* Nothing went out: io_uring retries from a worker. */
	if (nowait && ret == -EAGAIN)
		return ret;
out:
	evbus_stats_call_error(ef->bus, ret, fail);
	return ret;
}
