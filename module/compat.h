/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels evbus builds for (Debian's 6.1 and
 * 6.12 LTS, and their PREEMPT_RT flavours) lives here, each with what
 * changed in which version.  Headers are chosen by version number because
 * sparse (make C=2) does not understand __has_include.
 */
#ifndef _EVBUS_COMPAT_H
#define _EVBUS_COMPAT_H

#include <linux/version.h>

/*
 * v6.7: the io_uring command API moved from <linux/io_uring.h> to
 * <linux/io_uring/cmd.h>.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

/*
 * v6.4: struct io_uring_cmd carries the whole SQE (->sqe) instead of a
 * pointer to its command area (->cmd); v6.7 added io_uring_sqe_cmd() next
 * to the header move above.  Either way the bytes live in memory that
 * userspace can still write: callers read each field once.
 */
static inline const void *evbus_uring_cmd_area(const struct io_uring_cmd *ioucmd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return io_uring_sqe_cmd(ioucmd->sqe);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	return ioucmd->sqe->cmd;
#else
	return ioucmd->cmd;
#endif
}

/*
 * v6.3: vma->vm_flags became read-only outside mm; vm_flags_clear() is the
 * way to change it.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#include <linux/mm.h>

static inline void vm_flags_clear(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#endif /* _EVBUS_COMPAT_H */
