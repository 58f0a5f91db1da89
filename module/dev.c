// SPDX-License-Identifier: GPL-2.0
/*
 * evbus device: /dev/evbus, its file operations and the ioctl dispatch.
 * The theory of operation is in evbus.h.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <linux/cred.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "evbus.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static unsigned short dev_mode = 0660;
static atomic64_t evbus_file_ids = ATOMIC64_INIT(0);
static struct workqueue_struct *evbus_wq;	/* frees closed files */

static int evbus_param_get_mode(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%#o\n", *(unsigned short *)kp->arg);
}

static const struct kernel_param_ops evbus_mode_ops = {
	.set = param_set_ushort,
	.get = evbus_param_get_mode,
};

module_param_cb(dev_mode, &evbus_mode_ops, &dev_mode, 0444);
MODULE_PARM_DESC(dev_mode, "Mode of /dev/evbus at load time (default 0660)");

/* ------------------------------------------------------- open, release */

/* A grace period after release: no publisher can hold ef any more. */
static void evbus_file_free(struct work_struct *work)
{
	struct evbus_file *ef = container_of(to_rcu_work(work),
					     struct evbus_file, free_work);
	struct evbus_bus *bus = ef->bus;

	evbus_ring_free(&ef->ring);
	evbus_replay_free(ef);
	evbus_scope_free(ef);
	evbus_rate_file_free(ef);
	put_cred(ef->cred);
	evbus_user_put(ef->user);
	put_user_ns(ef->user_ns);
	put_pid_ns(ef->pid_ns);
	mutex_destroy(&ef->lock);
	kfree(ef);
	evbus_bus_put(bus);
}

static int evbus_open(struct inode *inode, struct file *file)
{
	struct evbus_file *ef;
	int ret = -ENOMEM;

	ef = kzalloc(sizeof(*ef), GFP_KERNEL_ACCOUNT);
	if (!ef)
		return -ENOMEM;
	ef->user = evbus_user_get(file->f_cred);
	if (!ef->user)
		goto err_free;
	ret = -EMFILE;
	if (evbus_user_charge(ef->user, EVBUS_UC_FILES, 1,
			      READ_ONCE(evbus_limits.max_user_files)))
		goto err_put_user;
	ef->bus = evbus_bus_get_current(ef->user);
	if (IS_ERR(ef->bus)) {
		ret = PTR_ERR(ef->bus);
		goto err_uncharge;
	}
	mutex_init(&ef->lock);
	xa_init_flags(&ef->subs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&ef->wills);
	evbus_bucket_init(&ef->rate);
	ef->next_sub_id = 1;
	evbus_ring_init(&ef->ring, ef->bus->stats);
	ef->ring.file_id = atomic64_inc_return(&evbus_file_ids);
	ef->pid_ns = get_pid_ns(task_active_pid_ns(current));
	ef->user_ns = get_user_ns(file->f_cred->user_ns);
	ef->cred = get_cred(file->f_cred);
	INIT_RCU_WORK(&ef->free_work, evbus_file_free);
	file->private_data = ef;
	/* Reads honour IOCB_NOWAIT: io_uring can poll instead of blocking. */
	file->f_mode |= FMODE_NOWAIT;
	evbus_count(ef->bus->stats, open_files, 1);
	evbus_bus_add_file(ef->bus, ef);
	evbus_sys_file_event(ef, true);
	return nonseekable_open(inode, file);

err_uncharge:
	evbus_user_uncharge(ef->user, EVBUS_UC_FILES, 1);
err_put_user:
	evbus_user_put(ef->user);
err_free:
	kfree(ef);
	return ret;
}

static int evbus_release(struct inode *inode, struct file *file)
{
	struct evbus_file *ef = file->private_data;

	/* First, while the file's own subscriptions may still take them. */
	evbus_will_fire(ef);
	evbus_bus_del_file(ef->bus, ef);
	evbus_gate_release(ef);
	evbus_subs_release(ef);
	evbus_sys_file_event(ef, false);
	/* As eventfd does: in-kernel waiters learn the file is going away. */
	wake_up_poll(&ef->ring.wq, EPOLLHUP);
	evbus_ring_close(&ef->ring, ef->user);
	evbus_user_uncharge(ef->user, EVBUS_UC_FILES, 1);
	evbus_count(ef->bus->stats, open_files, -1);
	/* Publishers that found it in the index may still be queueing. */
	queue_rcu_work(evbus_wq, &ef->free_work);
	return 0;
}

/* ------------------------------------------------------------- ioctls */

static long evbus_ioctl_set_ring(struct evbus_file *ef, void __user *argp)
{
	const struct evbus_limits *lim = ef->bus->limits;
	struct evbus_ring_cfg cfg;
	u32 size = 0;
	int ret;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	/* At most one mode; none is adaptive. */
	if ((cfg.flags & ~EVBUS_RING_VALID) || hweight32(cfg.flags) > 1)
		return -EINVAL;
	if (cfg.policy == EVBUS_POLICY_LOSSLESS ?
	    !evbus_lossless_wait_ok(cfg.wait_ns) : cfg.wait_ns)
		return -EINVAL;
	if (cfg.flags & EVBUS_RING_WAKE) {
		if (!cfg.wake_events || cfg.wake_events > EVBUS_WAKE_EVENTS_MAX ||
		    cfg.wake_delay_ns > EVBUS_WAKE_DELAY_MAX)
			return -EINVAL;
	} else if (cfg.wake_events || cfg.wake_delay_ns) {
		return -EINVAL;
	}
	if (cfg.policy != EVBUS_POLICY_DROP_OLDEST &&
	    cfg.policy != EVBUS_POLICY_DROP_NEWEST &&
	    cfg.policy != EVBUS_POLICY_LOSSLESS)
		return -EINVAL;
	if (cfg.size) {
		if (cfg.size < READ_ONCE(lim->ring_min) ||
		    cfg.size > READ_ONCE(lim->ring_max))
			return -EINVAL;
		size = evbus_ring_size(lim, cfg.size);
	}

	ret = mutex_lock_killable(&ef->lock);
	if (ret)
		return ret;
	if (cfg.policy == EVBUS_POLICY_LOSSLESS)
		ret = evbus_room_alloc(&ef->ring);
	if (!ret)
		ret = evbus_ring_configure(&ef->ring, ef->user, &cfg, size);
	mutex_unlock(&ef->lock);
	return ret;
}

static long evbus_ioctl_get_ring(struct evbus_file *ef, void __user *argp)
{
	const struct evbus_limits *lim = ef->bus->limits;
	struct evbus_ring_cfg cfg;

	evbus_ring_get_cfg(&ef->ring, &cfg);
	if (!cfg.size)
		cfg.size = evbus_ring_size(lim, READ_ONCE(lim->ring_default));
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

static void evbus_fill_stats(struct evbus_file *ef, struct evbus_stats *st)
{
	memset(st, 0, sizeof(*st));
	evbus_ring_fill_stats(&ef->ring, st);
	st->subscriptions = READ_ONCE(ef->nr_subs);
	st->published = atomic64_read(&ef->published);
}

static long evbus_ioctl_stats(struct evbus_file *ef, void __user *argp)
{
	struct evbus_stats st;

	if (copy_from_user(&st, argp, sizeof(st)))
		return -EFAULT;
	if (st.flags || memchr_inv(st.reserved, 0, sizeof(st.reserved)))
		return -EINVAL;
	evbus_fill_stats(ef, &st);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

static long evbus_ioctl_version(struct evbus_file *ef, void __user *argp)
{
	const struct evbus_limits *lim = ef->bus->limits;
	struct evbus_version v;

	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	if (v.flags || memchr_inv(v.reserved, 0, sizeof(v.reserved)))
		return -EINVAL;
	memset(&v, 0, sizeof(v));
	v.abi_version = EVBUS_ABI_VERSION;
	v.features = EVBUS_FEAT_PUBLISH | EVBUS_FEAT_BATCH |
		     EVBUS_FEAT_WILDCARD | EVBUS_FEAT_DROP_NEWEST |
		     EVBUS_FEAT_NS_XLATE | EVBUS_FEAT_URING_CMD |
		     EVBUS_FEAT_NOWAIT_READ | EVBUS_FEAT_RING_WAKE |
		     EVBUS_FEAT_IPC_NS | EVBUS_FEAT_POLICY |
		     EVBUS_FEAT_SYS_TOPICS | EVBUS_FEAT_SCOPE |
		     EVBUS_FEAT_SUB_FILTER | EVBUS_FEAT_SUB_BPF |
		     EVBUS_FEAT_BUS_STATS | EVBUS_FEAT_MMAP |
		     EVBUS_FEAT_ADAPTIVE_WAKE | EVBUS_FEAT_HISTORY |
		     EVBUS_FEAT_RETAINED | EVBUS_FEAT_APPROVAL |
		     EVBUS_FEAT_WILL | EVBUS_FEAT_RATE | EVBUS_FEAT_LOSSLESS;
	v.max_payload = READ_ONCE(lim->max_payload);
	v.max_subs = READ_ONCE(lim->max_subs);
	v.ring_default = evbus_ring_size(lim, READ_ONCE(lim->ring_default));
	v.ring_max = READ_ONCE(lim->ring_max);
	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}

/*
 * Copy in a size-versioned struct whose first field is its u32 size, as
 * openat2() does: at least ver0 bytes (EINVAL), at most a page (E2BIG), a
 * tail this module does not know all zero (E2BIG).  *usize gets the size.
 */
int evbus_copy_sized(void *dst, size_t ksize, void __user *argp, u32 ver0,
		     u32 *usize)
{
	if (get_user(*usize, (u32 __user *)argp))
		return -EFAULT;
	if (*usize < ver0)
		return -EINVAL;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(dst, ksize, argp, *usize);
}

/* Publishing needs a file open for writing, subscribing one for reading. */
static int evbus_need_mode(struct file *file, fmode_t mode, int *fail)
{
	if (file->f_mode & mode)
		return 0;
	if (mode == FMODE_WRITE)
		*fail = -EBADF;
	return -EBADF;
}

/* *fail gets the errno of a failed publish, which is counted by cause. */
static long evbus_ioctl_cmd(struct file *file, unsigned int cmd,
			    void __user *argp, int *fail)
{
	struct evbus_file *ef = file->private_data;

	switch (cmd) {
	case EVBUS_IOC_VERSION:
		return evbus_ioctl_version(ef, argp);
	case EVBUS_IOC_SUBSCRIBE:
		return evbus_need_mode(file, FMODE_READ, fail) ?:
		       evbus_ioctl_subscribe(ef, argp);
	case EVBUS_IOC_SUBSCRIBE2:
		return evbus_need_mode(file, FMODE_READ, fail) ?:
		       evbus_ioctl_subscribe2(ef, argp);
	case EVBUS_IOC_UNSUBSCRIBE:
		return evbus_ioctl_unsubscribe(ef, argp);
	case EVBUS_IOC_PUBLISH:
		return evbus_need_mode(file, FMODE_WRITE, fail) ?:
		       evbus_ioctl_publish(ef, argp, false, fail);
	case EVBUS_IOC_PUBLISH_BATCH:
		return evbus_need_mode(file, FMODE_WRITE, fail) ?:
		       evbus_ioctl_publish_batch(ef, argp, false, fail);
	case EVBUS_IOC_SET_RING:
		return evbus_need_mode(file, FMODE_READ, fail) ?:
		       evbus_ioctl_set_ring(ef, argp);
	case EVBUS_IOC_GET_RING:
		return evbus_ioctl_get_ring(ef, argp);
	case EVBUS_IOC_STATS:
		return evbus_ioctl_stats(ef, argp);
	case EVBUS_IOC_NARROW:
		return evbus_ioctl_narrow(ef, argp);
	case EVBUS_IOC_BUS_STATS:
		return evbus_ioctl_bus_stats(ef->bus, argp);
	case EVBUS_IOC_POLICY_ADD:
		return evbus_ioctl_policy_add(file, argp);
	case EVBUS_IOC_POLICY_SET:
		return evbus_ioctl_policy_set(file, argp);
	case EVBUS_IOC_POLICY_LIST:
		return evbus_ioctl_policy_list(ef, argp);
	case EVBUS_IOC_HISTORY:
		return evbus_ioctl_history(file, argp);
	case EVBUS_IOC_APPROVER_ADD:
		return evbus_need_mode(file, FMODE_READ, fail) ?:
		       evbus_ioctl_approver_add(ef, argp);
	case EVBUS_IOC_APPROVER_DEL:
		return evbus_ioctl_approver_del(ef, argp);
	case EVBUS_IOC_VERDICT:
		return evbus_ioctl_verdict(ef, argp);
	case EVBUS_IOC_WILL:
		return evbus_need_mode(file, FMODE_WRITE, fail) ?:
		       evbus_ioctl_will(ef, argp);
	case EVBUS_IOC_RATE:
		return evbus_ioctl_rate(file, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

static long evbus_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct evbus_file *ef = file->private_data;
	int fail = 0;
	long ret;

	ret = evbus_ioctl_cmd(file, cmd, (void __user *)arg, &fail);
	evbus_stats_call_error(ef->bus, ret, fail);
	return ret;
}

/* ------------------------------------------------------- read and poll */

/* read() and io_uring reads; IOCB_NOWAIT lets io_uring poll instead of block. */
static ssize_t evbus_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct evbus_file *ef = iocb->ki_filp->private_data;
	bool nowait = (iocb->ki_flags & IOCB_NOWAIT) ||
		      (iocb->ki_filp->f_flags & O_NONBLOCK);
	struct evbus_ring *r = &ef->ring;
	bool replaying;
	ssize_t ret;

	for (;;) {
		/* Catching up: move the replay on, and take what it queued. */
		replaying = READ_ONCE(ef->replaying);
		if (replaying)
			evbus_replay_pump(ef, nowait);
		/*
		 * A blocking read waits for readability, not just data: on a
		 * coalesced ring (EVBUS_RING_WAKE) that is the watermark, the
		 * fill level, a loss or the delay.  A non-blocking one takes
		 * what is there.
		 */
		if (nowait || replaying || evbus_ring_readable(r)) {
			ret = evbus_ring_read(r, to);
			if (ret != -EAGAIN || nowait)
				return ret;
		}
		if (replaying) {
			/* Nothing matched yet: go on walking the history. */
			if (signal_pending(current))
				return -ERESTARTSYS;
			cond_resched();
			continue;
		}
		ret = wait_event_interruptible(r->wq, evbus_ring_readable(r) ||
					       READ_ONCE(ef->replaying));
		if (ret)
			return ret;
	}
}

static __poll_t evbus_poll(struct file *file, struct poll_table_struct *wait)
{
	struct evbus_file *ef = file->private_data;

	poll_wait(file, &ef->ring.wq, wait);
	/* A file catching up is readable until it is live (replay.c). */
	if (READ_ONCE(ef->replaying)) {
		evbus_replay_pump(ef, true);
		return EPOLLIN | EPOLLRDNORM;
	}
	/* A mapped reader consumes without telling: catch up first. */
	if (READ_ONCE(ef->ring.mapped))
		return evbus_ring_poll(&ef->ring);
	/* See evbus_ring_readable() for why the racy check is enough. */
	return evbus_ring_readable(&ef->ring) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const char *const evbus_policy_names[] = {
	[EVBUS_POLICY_DROP_OLDEST] = "drop-oldest",
	[EVBUS_POLICY_DROP_NEWEST] = "drop-newest",
	[EVBUS_POLICY_LOSSLESS] = "lossless",
};

static void evbus_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_sub_entry *sub;
	struct evbus_stats st;
	unsigned long id;

	evbus_fill_stats(ef, &st);
	seq_printf(m, "evbus-id:\t%llu\n", ef->ring.file_id);
	seq_printf(m, "evbus-bus:\t%llu\n", ef->bus->id);
	seq_printf(m, "evbus-ring:\t%u\n", st.capacity);
	seq_printf(m, "evbus-policy:\t%s\n", evbus_policy_names[st.policy]);
	seq_printf(m, "evbus-queued:\t%llu\n", st.queued_events);
	seq_printf(m, "evbus-queued-bytes:\t%llu\n", st.queued_bytes);
	seq_printf(m, "evbus-delivered:\t%llu\n", st.delivered);
	seq_printf(m, "evbus-lost:\t%llu\n", st.lost);
	seq_printf(m, "evbus-lag-records:\t%llu\n", st.lag_records);
	seq_printf(m, "evbus-published:\t%llu\n", st.published);
	seq_printf(m, "evbus-subscriptions:\t%u\n", st.subscriptions);
	evbus_wake_show(m, &ef->ring);
	seq_printf(m, "evbus-mapped:\t%u\n", READ_ONCE(ef->ring.mapped));
	seq_printf(m, "evbus-replaying:\t%u\n", READ_ONCE(ef->replaying));
	mutex_lock(&ef->lock);
	xa_for_each(&ef->subs, id, sub)
		seq_printf(m, "evbus-sub:\t%u %.*s%s\n", sub->id,
			   (int)sub->pattern_len, sub->pattern,
			   sub->filter ? " (filtered)" : "");
	evbus_scope_show(m, ef);
	evbus_will_show(m, ef);
	mutex_unlock(&ef->lock);
	evbus_gate_show(m, ef);
	evbus_rate_show(m, ef);
}

static const struct file_operations evbus_fops = {
	.owner = THIS_MODULE,
	.open = evbus_open,
	.release = evbus_release,
	.read_iter = evbus_read_iter,
	.uring_cmd = evbus_uring_cmd,
	.poll = evbus_poll,
	.mmap = evbus_mmap,
	.unlocked_ioctl = evbus_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = evbus_show_fdinfo,
};

static struct miscdevice evbus_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "evbus",
	.fops = &evbus_fops,
};

/* ------------------------------------------------------------- module */

static void evbus_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct evbus_version) != 64);
	BUILD_BUG_ON(sizeof(struct evbus_sub) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_pub) != 72);
	BUILD_BUG_ON(sizeof(struct evbus_pub_batch) != 56);
	BUILD_BUG_ON(sizeof(struct evbus_ring_cfg) != 32);
	BUILD_BUG_ON(sizeof(struct evbus_stats) != 96);
	BUILD_BUG_ON(sizeof(struct evbus_event) != 80);
	BUILD_BUG_ON(sizeof(struct evbus_lagged) != 40);
	BUILD_BUG_ON(sizeof(struct evbus_subscribe) != EVBUS_SUBSCRIBE_SIZE_VER1);
	BUILD_BUG_ON(sizeof(struct evbus_history) != EVBUS_HISTORY_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct evbus_bus_stats) != EVBUS_BUS_STATS_SIZE_VER2);
	BUILD_BUG_ON(sizeof(struct evbus_rate) != EVBUS_RATE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct evbus_will) != EVBUS_WILL_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct evbus_verdict) != EVBUS_VERDICT_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct evbus_request) != 40);
	BUILD_BUG_ON(sizeof(struct evbus_cancelled) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_rule) != 40);
	BUILD_BUG_ON(sizeof(struct evbus_policy_set) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_rule_info) != 280);
	BUILD_BUG_ON(sizeof(struct evbus_policy_list) != 32);
	BUILD_BUG_ON(sizeof(struct evbus_pattern) != 16);
	BUILD_BUG_ON(sizeof(struct evbus_scope) != 32);
	BUILD_BUG_ON(sizeof(struct evbus_revoked) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_sys_file) != 8);
	BUILD_BUG_ON(sizeof(struct evbus_sys_denied) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_mmap_ctl) != 8);
	BUILD_BUG_ON(sizeof(struct evbus_mmap_hdr) != 64);
	BUILD_BUG_ON(EVBUS_LAG_REC_LEN > sizeof(struct evbus_event));
	BUILD_BUG_ON(sizeof(struct evbus_event) + EVBUS_TOPIC_MAX + 1 >
		     EVBUS_FILTER_WINDOW);
}

static int __init evbus_init(void)
{
	int ret;

	evbus_check_abi();
	if (dev_mode & ~0777) {
		pr_err("evbus: dev_mode %#o is not a permission mode\n", dev_mode);
		return -EINVAL;
	}
	evbus_misc.mode = dev_mode;
	evbus_wq = alloc_workqueue("evbus", 0, 0);
	if (!evbus_wq)
		return -ENOMEM;
	ret = evbus_stats_init();
	if (ret)
		goto err_wq;
	ret = evbus_gate_init();
	if (ret)
		goto err_stats;
	ret = evbus_buses_init(evbus_wq);
	if (ret)
		goto err_gate;
	ret = misc_register(&evbus_misc);
	if (ret)
		goto err_bus;
	return 0;

err_bus:
	evbus_buses_exit();
err_gate:
	evbus_gate_exit();
err_stats:
	evbus_stats_exit();
err_wq:
	destroy_workqueue(evbus_wq);
	return ret;
}

static void __exit evbus_exit(void)
{
	misc_deregister(&evbus_misc);
	/* Closed files still waiting for their grace period: free them. */
	rcu_barrier();
	flush_workqueue(evbus_wq);
	evbus_buses_exit();
	/* Subscriptions and rules the buses freed with call_rcu(). */
	rcu_barrier();
	destroy_workqueue(evbus_wq);
	evbus_gate_exit();
	evbus_stats_exit();
}

module_init(evbus_init);
module_exit(evbus_exit);

MODULE_DESCRIPTION("evbus: a cross-process event bus on /dev/evbus");
MODULE_AUTHOR("evbus developers");
MODULE_LICENSE("GPL");
