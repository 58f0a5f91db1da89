// SPDX-License-Identifier: GPL-2.0
/*
 * evbus: a cross-process event bus on /dev/evbus.
 *
 * Theory of operation
 * -------------------
 * Objects.  There is one bus per module.  Every open file of /dev/evbus is
 * a struct evbus_file (file->private_data): a subscriber with its own ring
 * (ring.c) and a list of subscriptions, and a publisher.  A subscription
 * (struct evbus_sub_entry) belongs to exactly one file and sits in the
 * subscription index (index.c), a trie of topic segments.  Nothing is
 * reference counted per event: an event is copied into each matching ring
 * at publish time, with the sender's identity already translated into that
 * reader's namespaces, and the publisher's buffers are freed on return.
 *
 * Publish.  The payload and topic are copied from userspace into a staging
 * buffer first, with no lock held.  Then, under evbus_bus_lock, the event
 * gets the next global sequence number and its timestamps, the index is
 * walked for matching files, and the record is written into each ring under
 * that ring's lock.  Holding evbus_bus_lock across numbering and fan-out is
 * what makes every reader see sequence numbers in increasing order.  A full
 * ring never makes the publisher wait: depending on the file's policy the
 * oldest records are evicted or the new event is dropped, and either way the
 * loss is counted in the ring's lag runs and later read as a LAGGED record.
 *
 * Wake-ups.  A ring wakes its readers only when it goes from nothing to
 * read to readable, and a batch publish wakes each file at most once, after
 * the whole batch (per staging chunk) is queued.  A reader that is behind
 * costs the publisher no wake-ups at all.  With EVBUS_RING_WAKE a file
 * becomes readable only at a watermark of queued events, after a delay
 * (an hrtimer armed by the first record, firing in softirq context and
 * touching nothing but a flag and the wait queue), or on a loss: under a
 * steady stream a reader then wakes once per batch instead of per event.
 *
 * Read.  read() and io_uring reads copy whole records from the head of the
 * ring (ring.c): first a pending LAGGED record, then events in order.
 * io_uring publishes through ->uring_cmd with the ioctls' structs.
 *
 * Limits.  Ring size and subscriptions per file, and files and ring memory
 * per user (user.c), are module parameters; everything a caller makes the
 * kernel allocate is charged to its memory cgroup.  Counters: stats.c.
 *
 * Locks, in the order they nest:
 *   evbus_file.lock    control ioctls of one file (subscriptions, ring setup)
 *   evbus_bus_lock     the index, the sequence counter, every file's
 *                      match_seq/wake_link, ring data/size replacement
 *   evbus_ring.lock    one ring's contents and counters (a spinlock; readers
 *                      take only this one)
 *   evbus_users_lock   per-user counts (user.c; innermost, nothing nests in it)
 * The bus lock is a mutex because subscribe allocates index nodes under
 * it; publishers hold it only to number events and copy them into rings,
 * never across a user copy or an allocation.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/timekeeping.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <linux/cred.h>
#include <linux/seq_file.h>
#include <linux/log2.h>
#include <linux/sizes.h>
#include <linux/sched.h>

#include "evbus.h"
#include "compat.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Hard ceilings: module parameters can be lowered, never raised past them. */
#define EVBUS_PAYLOAD_CEILING	SZ_1M
#define EVBUS_RING_CEILING	SZ_256M
#define EVBUS_RING_FLOOR	SZ_4K
#define EVBUS_SUBS_CEILING	4096
/* Publishers stage up to this many bytes of a batch per bus-lock hold. */
#define EVBUS_STAGE_CHUNK	SZ_64K
/*
 * Rings are charged to the opener's memory cgroup; past its limit the
 * allocation fails (ENOMEM) instead of invoking the OOM killer.
 */
#define EVBUS_RING_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
/* Flags this module understands (kept here, not in uapi). */
#define EVBUS_BATCH_VALID	EVBUS_BATCH_SEQ
/* A single small event is staged on the stack. */
#define EVBUS_STAGE_SMALL	512

static unsigned int max_payload = SZ_64K;
static unsigned int ring_default = SZ_128K;
static unsigned int ring_min = SZ_4K;
static unsigned int ring_max = SZ_16M;
static unsigned int max_subs = 64;
static unsigned int max_user_files = 1024;
static unsigned int max_user_ring_bytes = SZ_256M;
static unsigned short dev_mode = 0660;

static int evbus_param_set_payload(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, EVBUS_PAYLOAD_CEILING);
}

static int evbus_param_set_ring(const char *val, const struct kernel_param *kp)
{
	unsigned int v, *p = kp->arg;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v < EVBUS_RING_FLOOR || v > EVBUS_RING_CEILING)
		return -EINVAL;
	/* Writes are serialised by the module's parameter lock. */
	if ((p == &ring_min && v > ring_max) ||
	    (p == &ring_max && v < ring_min))
		return -EINVAL;
	*p = v;
	return 0;
}

static int evbus_param_set_subs(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, EVBUS_SUBS_CEILING);
}

static int evbus_param_set_user_files(const char *val,
				      const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 1U << 20);
}

static int evbus_param_set_user_ring(const char *val,
				     const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, EVBUS_RING_FLOOR, UINT_MAX);
}

static const struct kernel_param_ops evbus_user_files_ops = {
	.set = evbus_param_set_user_files,
	.get = param_get_uint,
};

static const struct kernel_param_ops evbus_user_ring_ops = {
	.set = evbus_param_set_user_ring,
	.get = param_get_uint,
};

static const struct kernel_param_ops evbus_payload_ops = {
	.set = evbus_param_set_payload,
	.get = param_get_uint,
};

static const struct kernel_param_ops evbus_ring_ops = {
	.set = evbus_param_set_ring,
	.get = param_get_uint,
};

static const struct kernel_param_ops evbus_subs_ops = {
	.set = evbus_param_set_subs,
	.get = param_get_uint,
};

module_param_cb(max_payload, &evbus_payload_ops, &max_payload, 0644);
MODULE_PARM_DESC(max_payload, "Largest event payload in bytes (default 65536, at most 1 MiB)");
module_param_cb(ring_default, &evbus_ring_ops, &ring_default, 0644);
MODULE_PARM_DESC(ring_default, "Ring size of a new subscriber in bytes (default 131072)");
module_param_cb(ring_min, &evbus_ring_ops, &ring_min, 0644);
MODULE_PARM_DESC(ring_min, "Smallest ring EVBUS_IOC_SET_RING accepts (default 4096)");
module_param_cb(ring_max, &evbus_ring_ops, &ring_max, 0644);
MODULE_PARM_DESC(ring_max, "Largest ring EVBUS_IOC_SET_RING accepts (default 16 MiB, at most 256 MiB)");
module_param_cb(max_subs, &evbus_subs_ops, &max_subs, 0644);
module_param_cb(max_user_files, &evbus_user_files_ops, &max_user_files, 0644);
MODULE_PARM_DESC(max_user_files, "Open evbus files per user (default 1024; EMFILE past it)");
module_param_cb(max_user_ring_bytes, &evbus_user_ring_ops, &max_user_ring_bytes, 0644);
MODULE_PARM_DESC(max_user_ring_bytes, "Ring memory per user in bytes (default 256 MiB; EDQUOT past it)");
MODULE_PARM_DESC(max_subs, "Subscriptions per open file (default 64, at most 4096)");
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

static u64 evbus_seq;		/* evbus_bus_lock: last sequence number */
static atomic64_t evbus_file_ids = ATOMIC64_INIT(0);

static u32 evbus_ring_size(u32 want)
{
	return roundup_pow_of_two(clamp(want, READ_ONCE(ring_min),
					READ_ONCE(ring_max)));
}

/* ---------------------------------------------------------------- open */

static int evbus_open(struct inode *inode, struct file *file)
{
	struct evbus_file *ef;
	int ret;

	ef = kzalloc(sizeof(*ef), GFP_KERNEL_ACCOUNT);
	if (!ef)
		return -ENOMEM;
	ret = evbus_user_get(ef, READ_ONCE(max_user_files));
	if (ret) {
		kfree(ef);
		return ret;
	}
	mutex_init(&ef->lock);
	INIT_LIST_HEAD(&ef->subs);
	INIT_LIST_HEAD(&ef->wake_link);
	evbus_ring_init(&ef->ring);
	ef->ring.file_id = atomic64_inc_return(&evbus_file_ids);
	ef->next_sub_id = 1;
	ef->pid_ns = get_pid_ns(task_active_pid_ns(current));
	ef->user_ns = get_user_ns(file->f_cred->user_ns);
	file->private_data = ef;
	/* Reads honour IOCB_NOWAIT: io_uring can poll instead of blocking. */
	file->f_mode |= FMODE_NOWAIT;
	evbus_count(open_files, 1);
	return nonseekable_open(inode, file);
}

static int evbus_release(struct inode *inode, struct file *file)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_sub_entry *sub, *tmp;

	mutex_lock(&evbus_bus_lock);
	list_for_each_entry(sub, &ef->subs, file_link)
		evbus_index_del(sub);
	mutex_unlock(&evbus_bus_lock);
	/* As eventfd does: in-kernel waiters learn the file is going away. */
	wake_up_poll(&ef->ring.wq, EPOLLHUP);

	list_for_each_entry_safe(sub, tmp, &ef->subs, file_link)
		kfree(sub);
	evbus_count(subscriptions, -(s64)ef->nr_subs);
	evbus_count(open_files, -1);
	if (ef->ring.data)
		evbus_user_uncharge(ef, ef->ring.size);
	evbus_ring_free(&ef->ring);
	evbus_user_put(ef);
	put_user_ns(ef->user_ns);
	put_pid_ns(ef->pid_ns);
	mutex_destroy(&ef->lock);
	kfree(ef);
	return 0;
}

/* -------------------------------------------------------------- publish */

struct evbus_pub_ctx {
	const struct evbus_msg *msg;	/* msg[0..nmsg): one topic, seq order */
	u32 nmsg;
	struct list_head wake;		/* files to wake after the chunk */
	/* Identity cache: most readers share the sender's namespaces. */
	struct pid_namespace *pid_ns;
	struct user_namespace *user_ns;
	struct evbus_ident ident;
};

static void evbus_ident_for(struct evbus_pub_ctx *ctx, struct evbus_file *ef)
{
	if (ctx->pid_ns != ef->pid_ns) {
		ctx->pid_ns = ef->pid_ns;
		ctx->ident.pid = task_tgid_nr_ns(current, ef->pid_ns);
		ctx->ident.tid = task_pid_nr_ns(current, ef->pid_ns);
	}
	if (ctx->user_ns != ef->user_ns) {
		ctx->user_ns = ef->user_ns;
		ctx->ident.uid = from_kuid_munged(ef->user_ns, current_euid());
		ctx->ident.gid = from_kgid_munged(ef->user_ns, current_egid());
	}
}

static void evbus_deliver(struct evbus_file *ef, void *arg)
{
	struct evbus_pub_ctx *ctx = arg;

	evbus_ident_for(ctx, ef);
	evbus_count(deliveries, ctx->nmsg);
	if (evbus_ring_push(&ef->ring, ctx->msg, ctx->nmsg, &ctx->ident) &&
	    list_empty(&ef->wake_link))
		list_add_tail(&ef->wake_link, &ctx->wake);
}

/* Wake every file the chunk made readable; still under evbus_bus_lock. */
static void evbus_wake_all(struct evbus_pub_ctx *ctx)
{
	struct evbus_file *ef, *tmp;

	list_for_each_entry_safe(ef, tmp, &ctx->wake, wake_link) {
		list_del_init(&ef->wake_link);
		wake_up_interruptible_poll(&ef->ring.wq, EPOLLIN | EPOLLRDNORM);
	}
}

/* How many of m[0..n) (n >= 1) share m[0]'s topic. */
static u32 evbus_same_topic_run(const struct evbus_msg *m, u32 n)
{
	u32 i;

	for (i = 1; i < n; i++)
		if (m[i].topic_len != m[0].topic_len ||
		    memcmp(m[i].topic, m[0].topic, m[0].topic_len))
			break;
	return i;
}

/* Check one descriptor and copy its topic and payload to dst. */
static int evbus_stage_one(const struct evbus_pub *p, u32 limit, char *dst,
			   struct evbus_msg *m)
{
	if (p->flags || p->reserved[0] || p->reserved[1])
		return -EINVAL;
	if (!p->topic_len || p->topic_len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (p->payload_len > limit)
		return -EMSGSIZE;
	if (copy_from_user(dst, u64_to_user_ptr(p->topic), p->topic_len))
		return -EFAULT;
	if (evbus_topic_parse(dst, p->topic_len, &m->segs))
		return -EINVAL;
	if (p->payload_len &&
	    copy_from_user(dst + p->topic_len, u64_to_user_ptr(p->payload),
			   p->payload_len))
		return -EFAULT;
	m->topic = dst;
	m->payload = dst + p->topic_len;
	m->topic_len = p->topic_len;
	m->payload_len = p->payload_len;
	m->type = p->type;
	m->corr = p->corr;
	m->parent = p->parent;
	m->rec_len = evbus_event_rec_len(p->topic_len, p->payload_len);
	return 0;
}

/*
 * Publish descs[0..n) in order.  Returns the number published; *err gets
 * 0 or the errno of the first failing event (nothing after it goes out).
 */
static u32 evbus_publish(struct evbus_file *ef, const struct evbus_pub *descs,
			 struct evbus_pub __user *udescs, u32 n, u64 *first_seq,
			 int *err)
{
	u32 limit = READ_ONCE(max_payload);	/* one value for the whole call */
	struct evbus_msg st1, *st = &st1;	/* staged, validated events */
	char small[EVBUS_STAGE_SMALL];
	struct evbus_pub_ctx ctx;
	size_t stage_size = 0;
	u32 done = 0, i, k, chunk = 1;
	char *stage = small;

	*err = 0;
	*first_seq = 0;
	/* Invalid sizes are rejected while staging; only bound them here. */
	for (i = 0; i < n; i++)
		stage_size = max_t(size_t, stage_size,
				   min_t(u32, descs[i].topic_len, EVBUS_TOPIC_MAX) +
				   min(descs[i].payload_len, limit));
	if (n > 1) {
		stage_size = max_t(size_t, stage_size,
				   min_t(size_t, EVBUS_STAGE_CHUNK,
					 n * (EVBUS_TOPIC_MAX + 64)));
		chunk = min_t(u32, n, EVBUS_STAGE_CHUNK / sizeof(*st));
		st = kvmalloc_array(chunk, sizeof(*st), GFP_KERNEL);
	}
	if (n > 1 || stage_size > sizeof(small))
		stage = kvmalloc(stage_size, GFP_KERNEL);
	if (!stage || !st) {
		*err = -ENOMEM;
		goto out_free;
	}

	while (done < n) {
		size_t used = 0;

		/* Stage as many events as fit, stopping at the first bad one. */
		for (k = 0; k < chunk && done + k < n; k++) {
			const struct evbus_pub *p = &descs[done + k];
			size_t len = (size_t)p->topic_len + p->payload_len;

			if (k && used + len > stage_size)
				break;
			*err = evbus_stage_one(p, limit, stage + used, &st[k]);
			if (*err)
				break;
			used += len;
		}

		/*
		 * With EVBUS_BATCH_SEQ, an event whose seq cannot be reported
		 * is not published: probe each slot by writing back what the
		 * caller had there, before the event goes out.
		 */
		for (i = 0; udescs && i < k; i++) {
			if (put_user(descs[done + i].seq, &udescs[done + i].seq)) {
				*err = -EFAULT;
				k = i;
				break;
			}
		}

		if (k) {
			u64 bytes = 0;

			INIT_LIST_HEAD(&ctx.wake);
			ctx.pid_ns = NULL;
			ctx.user_ns = NULL;
			mutex_lock(&evbus_bus_lock);
			for (i = 0; i < k; i += ctx.nmsg) {
				u32 j;

				/*
				 * Events in a row with the same topic match the
				 * same files: walk the index once for the run
				 * and queue it into each ring under one lock.
				 */
				ctx.msg = &st[i];
				ctx.nmsg = evbus_same_topic_run(st + i, k - i);
				for (j = i; j < i + ctx.nmsg; j++) {
					struct evbus_msg *m = &st[j];

					m->seq = ++evbus_seq;
					m->time_ns = ktime_get_real_ns();
					m->mono_ns = ktime_get_ns();
					trace_evbus_publish(ef->ring.file_id, m->seq,
							    m->topic, m->topic_len,
							    m->payload_len, m->type);
					bytes += m->payload_len;
				}
				evbus_index_match(ctx.msg, evbus_deliver, &ctx);
			}
			if (!done)
				*first_seq = st[0].seq;
			evbus_wake_all(&ctx);
			mutex_unlock(&evbus_bus_lock);
			atomic64_add(k, &ef->published);
			evbus_count(published, k);
			evbus_count(published_bytes, bytes);
			/*
			 * Report each seq in its descriptor.  The slots were
			 * probed above, so this fails only if the caller unmaps
			 * them meanwhile; the events stay published regardless.
			 */
			for (i = 0; udescs && i < k; i++)
				if (put_user(st[i].seq, &udescs[done + i].seq))
					break;
			done += k;
		}
		if (*err)
			break;
		cond_resched();
	}
out_free:
	if (*err)
		evbus_stats_publish_error(*err);
	if (st != &st1)
		kvfree(st);
	if (stage != small)
		kvfree(stage);
	return done;
}

static long evbus_ioctl_publish(struct evbus_file *ef, void __user *argp)
{
	struct evbus_pub p;
	u64 seq;
	int err;

	u64 __user *useq = argp + offsetof(struct evbus_pub, seq);

	/* The seq slot must be writable before the event goes out. */
	if (copy_from_user(&p, argp, sizeof(p)) || put_user(p.seq, useq)) {
		evbus_stats_publish_error(-EFAULT);
		return -EFAULT;
	}
	if (!evbus_publish(ef, &p, NULL, 1, &seq, &err))
		return err;
	/* Fails only if the caller unmapped the struct meanwhile. */
	return put_user(seq, useq) ? -EFAULT : 0;
}

/*
 * Returns the number published, or -errno if none was; *fail gets the
 * errno of the event that stopped the batch (0 if all went out).
 */
static long evbus_ioctl_publish_batch(struct evbus_file *ef, void __user *argp,
				      int *fail)
{
	struct evbus_pub_batch b;
	struct evbus_pub *descs;
	u32 done;
	int err;

	*fail = -EFAULT;
	if (copy_from_user(&b, argp, sizeof(b))) {
		evbus_stats_publish_error(-EFAULT);
		return -EFAULT;
	}
	err = -EINVAL;
	if ((b.flags & ~EVBUS_BATCH_VALID) || b.reserved32 || b.reserved[0] ||
	    b.reserved[1])
		goto err_count;
	if (!b.count || b.count > EVBUS_BATCH_MAX)
		goto err_count;
	descs = vmemdup_user(u64_to_user_ptr(b.events),
			     array_size(b.count, sizeof(*descs)));
	if (IS_ERR(descs)) {
		err = PTR_ERR(descs);
		goto err_count;
	}

	done = evbus_publish(ef, descs,
			     (b.flags & EVBUS_BATCH_SEQ) ? u64_to_user_ptr(b.events) : NULL,
			     b.count, &b.first_seq, &err);
	kvfree(descs);
	b.published = done;
	b.error = err;
	b.error_index = err ? done : b.count;
	*fail = err;
	/* Once events went out, their count beats a failed write-back. */
	if (copy_to_user(argp, &b, sizeof(b)) && !done)
		return -EFAULT;
	return done ? (long)done : err;

err_count:
	/* Nothing was published: say so in the struct too. */
	*fail = err;
	evbus_stats_publish_error(err);
	b.first_seq = 0;
	b.published = 0;
	b.error = err;
	b.error_index = 0;
	return copy_to_user(argp, &b, sizeof(b)) ? -EFAULT : err;
}

/* ------------------------------------------------------- subscriptions */

/* Allocate the ring on first need; ef->lock held. */
static int evbus_ring_ensure(struct evbus_file *ef)
{
	u32 size;
	void *data;

	lockdep_assert_held(&ef->lock);
	if (ef->ring.data)
		return 0;
	size = evbus_ring_size(READ_ONCE(ring_default));
	if (evbus_user_charge(ef, size, READ_ONCE(max_user_ring_bytes)))
		return -EDQUOT;
	data = kvmalloc(size, EVBUS_RING_GFP);
	if (!data) {
		evbus_user_uncharge(ef, size);
		return -ENOMEM;
	}
	mutex_lock(&evbus_bus_lock);
	spin_lock(&ef->ring.lock);
	ef->ring.data = data;
	ef->ring.size = size;
	spin_unlock(&ef->ring.lock);
	mutex_unlock(&evbus_bus_lock);
	evbus_stats_ring_alloc(size);
	return 0;
}

static long evbus_ioctl_subscribe(struct evbus_file *ef, void __user *argp)
{
	char buf[EVBUS_TOPIC_MAX];
	struct evbus_sub_entry *sub;
	struct evbus_segs segs;
	struct evbus_sub s;
	int ret;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.flags || s.reserved)
		return -EINVAL;
	if (!s.pattern_len || s.pattern_len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	if (copy_from_user(buf, u64_to_user_ptr(s.pattern), s.pattern_len))
		return -EFAULT;
	if (evbus_pattern_parse(buf, s.pattern_len, &segs))
		return -EINVAL;

	sub = kmalloc(struct_size(sub, pattern, s.pattern_len), GFP_KERNEL_ACCOUNT);
	if (!sub)
		return -ENOMEM;
	memcpy(sub->pattern, buf, s.pattern_len);
	sub->pattern_len = s.pattern_len;
	sub->owner = ef;

	mutex_lock(&ef->lock);
	ret = -ENOSPC;
	if (ef->nr_subs >= READ_ONCE(max_subs))
		goto err_unlock;
	ret = evbus_ring_ensure(ef);
	if (ret)
		goto err_unlock;
	sub->id = ef->next_sub_id;
	s.sub_id = sub->id;
	/* Report the id before the subscription can be seen. */
	ret = -EFAULT;
	if (put_user(s.sub_id, (u32 __user *)(argp + offsetof(struct evbus_sub, sub_id))))
		goto err_unlock;

	mutex_lock(&evbus_bus_lock);
	ret = evbus_index_add(sub, &segs);
	if (!ret)
		list_add_tail(&sub->file_link, &ef->subs);
	mutex_unlock(&evbus_bus_lock);
	if (ret)
		goto err_unlock;
	ef->next_sub_id++;
	ef->nr_subs++;
	trace_evbus_subscribe(ef->ring.file_id, sub->id, sub->pattern,
			      sub->pattern_len);
	mutex_unlock(&ef->lock);
	evbus_count(subscriptions, 1);
	return 0;

err_unlock:
	mutex_unlock(&ef->lock);
	kfree(sub);
	return ret;
}

static long evbus_ioctl_unsubscribe(struct evbus_file *ef, u32 __user *argp)
{
	struct evbus_sub_entry *sub;
	u32 id;

	if (get_user(id, argp))
		return -EFAULT;
	mutex_lock(&ef->lock);
	list_for_each_entry(sub, &ef->subs, file_link) {
		if (sub->id != id)
			continue;
		mutex_lock(&evbus_bus_lock);
		evbus_index_del(sub);
		list_del(&sub->file_link);
		mutex_unlock(&evbus_bus_lock);
		ef->nr_subs--;
		trace_evbus_unsubscribe(ef->ring.file_id, id);
		mutex_unlock(&ef->lock);
		kfree(sub);
		evbus_count(subscriptions, -1);
		return 0;
	}
	mutex_unlock(&ef->lock);
	return -ENOENT;
}

/* ------------------------------------------------------------- the ring */

static long evbus_ioctl_set_ring(struct evbus_file *ef, void __user *argp)
{
	struct evbus_ring *r = &ef->ring;
	struct evbus_ring_cfg cfg;
	void *data = NULL, *old = NULL;
	u32 size = 0, old_size = 0;
	bool swapped = false, readable = false;
	int ret = 0;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	if ((cfg.flags & ~EVBUS_RING_VALID) || cfg.reserved)
		return -EINVAL;
	if (cfg.flags & EVBUS_RING_WAKE) {
		if (!cfg.wake_events || cfg.wake_events > EVBUS_WAKE_EVENTS_MAX ||
		    cfg.wake_delay_ns > EVBUS_WAKE_DELAY_MAX)
			return -EINVAL;
	} else if (cfg.wake_events || cfg.wake_delay_ns) {
		return -EINVAL;
	}
	if (cfg.policy != EVBUS_POLICY_DROP_OLDEST &&
	    cfg.policy != EVBUS_POLICY_DROP_NEWEST)
		return -EINVAL;
	if (cfg.size) {
		if (cfg.size < READ_ONCE(ring_min) || cfg.size > READ_ONCE(ring_max))
			return -EINVAL;
		size = evbus_ring_size(cfg.size);
	}

	mutex_lock(&ef->lock);
	if (size && size != r->size) {
		/*
		 * The old ring is given back right after the swap: judge the
		 * cap as if it already were (ef->lock keeps r->size stable).
		 */
		ret = evbus_user_charge(ef, size,
					(u64)READ_ONCE(max_user_ring_bytes) + r->size);
		if (ret)
			goto out_unlock;
		data = kvmalloc(size, EVBUS_RING_GFP);
		if (!data) {
			evbus_user_uncharge(ef, size);
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	mutex_lock(&evbus_bus_lock);
	spin_lock(&r->lock);
	if (data && (r->head != r->tail || r->head_lag.count)) {
		ret = -EBUSY;
	} else {
		if (data) {
			old = r->data;
			old_size = r->size;
			swapped = true;
			r->data = data;
			r->size = size;
			r->head = 0;
			r->tail = 0;
			data = NULL;
		}
		r->policy = cfg.policy;
		evbus_ring_set_wake(r, cfg.wake_events, cfg.wake_delay_ns);
		readable = evbus_ring_readable(r);
	}
	spin_unlock(&r->lock);
	mutex_unlock(&evbus_bus_lock);
	/* A lower watermark (or none) may have made queued records due. */
	if (readable)
		wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
	if (swapped) {
		evbus_stats_ring_alloc(size);
		if (old) {
			evbus_stats_ring_free(old_size);
			evbus_user_uncharge(ef, old_size);
		}
	} else if (data) {
		evbus_user_uncharge(ef, size);	/* EBUSY: the new ring goes */
	}
out_unlock:
	mutex_unlock(&ef->lock);
	kvfree(data);
	kvfree(old);
	return ret;
}

static long evbus_ioctl_get_ring(struct evbus_file *ef, void __user *argp)
{
	struct evbus_ring_cfg cfg = {};

	spin_lock(&ef->ring.lock);
	cfg.size = ef->ring.size;
	cfg.policy = ef->ring.policy;
	if (ef->ring.wake_events) {
		cfg.flags = EVBUS_RING_WAKE;
		cfg.wake_events = ef->ring.wake_events;
		cfg.wake_delay_ns = ef->ring.wake_delay_ns;
	}
	spin_unlock(&ef->ring.lock);
	if (!cfg.size)
		cfg.size = evbus_ring_size(READ_ONCE(ring_default));
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

static void evbus_fill_stats(struct evbus_file *ef, struct evbus_stats *st)
{
	struct evbus_ring *r = &ef->ring;

	memset(st, 0, sizeof(*st));
	spin_lock(&r->lock);
	st->queued_events = r->queued;
	st->queued_bytes = r->queued_bytes;
	st->delivered = r->delivered;
	st->lost = r->lost;
	st->lag_records = r->lag_records;
	st->capacity = r->size;
	st->policy = r->policy;
	spin_unlock(&r->lock);
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

static long evbus_ioctl_version(void __user *argp)
{
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
		     EVBUS_FEAT_NOWAIT_READ | EVBUS_FEAT_RING_WAKE;
	v.max_payload = READ_ONCE(max_payload);
	v.max_subs = READ_ONCE(max_subs);
	v.ring_default = evbus_ring_size(READ_ONCE(ring_default));
	v.ring_max = READ_ONCE(ring_max);
	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}

static long evbus_ioctl_cmd(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct evbus_file *ef = file->private_data;
	void __user *argp = (void __user *)arg;
	int fail;

	/* Publishing needs a file open for writing, subscribing one for reading. */
	switch (cmd) {
	case EVBUS_IOC_PUBLISH:
	case EVBUS_IOC_PUBLISH_BATCH:
		if (!(file->f_mode & FMODE_WRITE)) {
			evbus_stats_publish_error(-EBADF);
			return -EBADF;
		}
		break;
	case EVBUS_IOC_SUBSCRIBE:
	case EVBUS_IOC_SET_RING:
		if (!(file->f_mode & FMODE_READ))
			return -EBADF;
		break;
	}

	switch (cmd) {
	case EVBUS_IOC_VERSION:
		return evbus_ioctl_version(argp);
	case EVBUS_IOC_SUBSCRIBE:
		return evbus_ioctl_subscribe(ef, argp);
	case EVBUS_IOC_UNSUBSCRIBE:
		return evbus_ioctl_unsubscribe(ef, argp);
	case EVBUS_IOC_PUBLISH:
		return evbus_ioctl_publish(ef, argp);
	case EVBUS_IOC_PUBLISH_BATCH:
		return evbus_ioctl_publish_batch(ef, argp, &fail);
	case EVBUS_IOC_SET_RING:
		return evbus_ioctl_set_ring(ef, argp);
	case EVBUS_IOC_GET_RING:
		return evbus_ioctl_get_ring(ef, argp);
	case EVBUS_IOC_STATS:
		return evbus_ioctl_stats(ef, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

static long evbus_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	long ret = evbus_ioctl_cmd(file, cmd, arg);

	if (ret < 0 && ret != -ENOIOCTLCMD)
		evbus_count(ioctl_errors, 1);
	return ret;
}

/*
 * io_uring: IORING_OP_URING_CMD publishes, completing inline.  The CQE's
 * res is 0 once every event went out, else the errno of the event that
 * failed; the structs are written back exactly as by the ioctls.  (Never a
 * positive res: 6.1's io_uring_cmd() takes one for an error code and, from
 * io-wq, never completes the request.)
 *
 * Publishing never waits for subscribers, so this runs in the issuing
 * context even with IO_URING_F_NONBLOCK.  The sender is the thread that
 * issues the command: the submitter, or for IOSQE_ASYNC and SQPOLL rings
 * one of io_uring's threads of the same process (same pid, its own tid).
 */
static int evbus_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	const struct evbus_uring_cmd *c = evbus_uring_cmd_area(ioucmd);
	struct evbus_file *ef = ioucmd->file->private_data;
	void __user *argp = u64_to_user_ptr(READ_ONCE(c->arg));
	long ret;
	int fail;

	if (READ_ONCE(c->flags) || READ_ONCE(c->reserved)) {
		ret = -EINVAL;
		goto out;
	}
	switch (ioucmd->cmd_op) {
	case EVBUS_URING_PUBLISH:
	case EVBUS_URING_PUBLISH_BATCH:
		break;
	default:
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (!(ioucmd->file->f_mode & FMODE_WRITE)) {
		evbus_stats_publish_error(-EBADF);
		ret = -EBADF;
		goto out;
	}
	if (ioucmd->cmd_op == EVBUS_URING_PUBLISH) {
		ret = evbus_ioctl_publish(ef, argp);
	} else {
		ret = evbus_ioctl_publish_batch(ef, argp, &fail);
		if (ret > 0)
			ret = fail;
	}
out:
	if (ret < 0)
		evbus_count(ioctl_errors, 1);
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
	ssize_t ret;

	for (;;) {
		/*
		 * A blocking read waits for readability, not just data: on a
		 * coalesced ring (EVBUS_RING_WAKE) that is the watermark, a
		 * loss or the delay.  A non-blocking one takes what is there.
		 */
		if (nowait || evbus_ring_readable(r)) {
			ret = evbus_ring_read(r, to);
			if (ret != -EAGAIN || nowait)
				return ret;
		}
		ret = wait_event_interruptible(r->wq, evbus_ring_readable(r));
		if (ret)
			return ret;
	}
}

static __poll_t evbus_poll(struct file *file, struct poll_table_struct *wait)
{
	struct evbus_file *ef = file->private_data;

	poll_wait(file, &ef->ring.wq, wait);
	/* See evbus_ring_readable() for why the racy check is enough. */
	return evbus_ring_readable(&ef->ring) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const char *const evbus_policy_names[] = {
	[EVBUS_POLICY_DROP_OLDEST] = "drop-oldest",
	[EVBUS_POLICY_DROP_NEWEST] = "drop-newest",
};

static void evbus_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_sub_entry *sub;
	struct evbus_stats st;

	evbus_fill_stats(ef, &st);
	seq_printf(m, "evbus-id:\t%llu\n", ef->ring.file_id);
	seq_printf(m, "evbus-ring:\t%u\n", st.capacity);
	seq_printf(m, "evbus-policy:\t%s\n", evbus_policy_names[st.policy]);
	seq_printf(m, "evbus-queued:\t%llu\n", st.queued_events);
	seq_printf(m, "evbus-queued-bytes:\t%llu\n", st.queued_bytes);
	seq_printf(m, "evbus-delivered:\t%llu\n", st.delivered);
	seq_printf(m, "evbus-lost:\t%llu\n", st.lost);
	seq_printf(m, "evbus-lag-records:\t%llu\n", st.lag_records);
	seq_printf(m, "evbus-published:\t%llu\n", st.published);
	seq_printf(m, "evbus-subscriptions:\t%u\n", st.subscriptions);
	seq_printf(m, "evbus-wake:\t%u %llu\n", READ_ONCE(ef->ring.wake_events),
		   READ_ONCE(ef->ring.wake_delay_ns));
	mutex_lock(&ef->lock);
	list_for_each_entry(sub, &ef->subs, file_link)
		seq_printf(m, "evbus-sub:\t%u %.*s\n", sub->id,
			   (int)sub->pattern_len, sub->pattern);
	mutex_unlock(&ef->lock);
}

static const struct file_operations evbus_fops = {
	.owner = THIS_MODULE,
	.open = evbus_open,
	.release = evbus_release,
	.read_iter = evbus_read_iter,
	.uring_cmd = evbus_uring_cmd,
	.poll = evbus_poll,
	.unlocked_ioctl = evbus_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = evbus_show_fdinfo,
};

static struct miscdevice evbus_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "evbus",
	.fops = &evbus_fops,
};

static int __init evbus_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct evbus_version) != 64);
	BUILD_BUG_ON(sizeof(struct evbus_sub) != 24);
	BUILD_BUG_ON(sizeof(struct evbus_pub) != 72);
	BUILD_BUG_ON(sizeof(struct evbus_pub_batch) != 56);
	BUILD_BUG_ON(sizeof(struct evbus_ring_cfg) != 32);
	BUILD_BUG_ON(sizeof(struct evbus_stats) != 96);
	BUILD_BUG_ON(sizeof(struct evbus_event) != 80);
	BUILD_BUG_ON(sizeof(struct evbus_lagged) != 40);

	if (dev_mode & ~0777) {
		pr_err("evbus: dev_mode %#o is not a permission mode\n", dev_mode);
		return -EINVAL;
	}
	evbus_misc.mode = dev_mode;
	ret = evbus_stats_init();
	if (ret)
		return ret;
	ret = misc_register(&evbus_misc);
	if (ret)
		goto err_stats;
	return 0;

err_stats:
	evbus_stats_exit();
	return ret;
}

static void __exit evbus_exit(void)
{
	misc_deregister(&evbus_misc);
	evbus_stats_exit();
	evbus_index_exit();
}

module_init(evbus_init);
module_exit(evbus_exit);

MODULE_DESCRIPTION("evbus: a cross-process event bus on /dev/evbus");
MODULE_AUTHOR("evbus developers");
MODULE_LICENSE("GPL");
