// SPDX-License-Identifier: GPL-2.0
/*
 * evbus last wills: events a file arms now for the kernel to publish when
 * the file is released without having disarmed them.
 *
 * A will is kept as a history record (struct evbus_hist_rec): the event
 * as it will go out, with the kernel ids and referenced pids of the
 * process that armed it, so it is published as that process whoever
 * drops the file's last reference, and however (close(), exit, a fatal
 * signal).  A file's wills are a list in arming order under evbus_file.lock;
 * each counts as a subscription against max_subs and max_user_subs, and
 * its memory is charged to whoever armed it.  At release (dev.c) nothing
 * else can reach the file: the list is walked newest first, each will
 * published through the ordinary path (numbered, kept, filtered, never
 * asking for approval), then freed.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/seq_file.h>

#include "evbus.h"

#define EVBUS_WILL_VALID	EVBUS_WILL_CLEAR

struct evbus_will_ent {
	struct list_head link;		/* evbus_file.wills */
	u64 scope;
	struct evbus_hist_rec *rec;	/* the event, and who armed it */
};

static void evbus_will_free(struct evbus_will_ent *w)
{
	evbus_hist_put(w->rec);
	kvfree(w->rec);
	kfree(w);
}

/* ef->lock held */
static struct evbus_will_ent *evbus_will_find(struct evbus_file *ef, u64 scope)
{
	struct evbus_will_ent *w;

	list_for_each_entry(w, &ef->wills, link)
		if (w->scope == scope)
			return w;
	return NULL;
}

/* May ef publish its will on topic?  0 or -EACCES (reported). */
static int evbus_will_may(struct evbus_file *ef, const char *topic, u32 len,
			  const struct evbus_segs *segs)
{
	struct evbus_pol_verdict v = { .cause = EVBUS_DENY_ASK };
	bool ask;
	int ret;

	ret = evbus_may_publish_on(ef, topic, len, segs, &ask, false);
	/* A will is published as its file goes: there is nobody to wait. */
	if (!ret && ask)
		ret = evbus_deny(ef, EVBUS_RIGHT_PUBLISH, &v, topic, len, false);
	return ret;
}

/* The will w describes, as the current process arms it.  NULL with *err. */
static struct evbus_hist_rec *evbus_will_rec(struct evbus_file *ef,
					     const struct evbus_will *w, int *err)
{
	struct evbus_sender from = {
		.uid = current_euid(),
		.gid = current_egid(),
		.tgid = task_tgid(current),
		.tid = task_pid(current),
	};
	struct evbus_hist_rec *rec;
	struct evbus_segs segs;
	struct evbus_msg m = {};
	char *buf;

	*err = -EINVAL;
	if (!w->topic_len || w->topic_len > EVBUS_TOPIC_MAX)
		return NULL;
	*err = -EMSGSIZE;
	if (w->payload_len > READ_ONCE(ef->bus->limits->max_payload))
		return NULL;
	*err = -ENOMEM;
	buf = kvmalloc(w->topic_len + w->payload_len, EVBUS_GFP);
	rec = kvmalloc(struct_size(rec, data, w->topic_len + w->payload_len),
		       EVBUS_GFP);
	if (!buf || !rec)
		goto err;
	*err = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(w->topic), w->topic_len) ||
	    copy_from_user(buf + w->topic_len, u64_to_user_ptr(w->payload),
			   w->payload_len))
		goto err;
	*err = -EINVAL;
	if (evbus_topic_parse(buf, w->topic_len, &segs))
		goto err;
	*err = evbus_will_may(ef, buf, w->topic_len, &segs);
	if (*err)
		goto err;
	m.topic = buf;
	m.topic_len = w->topic_len;
	m.payload = buf + w->topic_len;
	m.payload_len = w->payload_len;
	m.type = w->type;
	m.corr = w->corr;
	m.parent = w->parent;
	evbus_hist_fill(rec, &m, &from);
	kvfree(buf);
	return rec;
err:
	kvfree(buf);
	kvfree(rec);
	return NULL;
}

/* Charge one will to ef and its user, as a subscription (ef->lock held). */
static int evbus_will_charge(struct evbus_file *ef)
{
	if (!evbus_sub_room(ef))
		return -ENOSPC;
	if (evbus_user_charge(ef->user, EVBUS_UC_SUBS, 1,
			      READ_ONCE(ef->bus->limits->max_user_subs)))
		return -ENOSPC;
	ef->nr_wills++;
	evbus_count(ef->bus->stats, wills, 1);
	return 0;
}

static void evbus_will_uncharge(struct evbus_file *ef)
{
	ef->nr_wills--;
	evbus_user_uncharge(ef->user, EVBUS_UC_SUBS, 1);
	evbus_count(ef->bus->stats, wills, -1);
}

/*
 * Arm (or replace) the will of w->scope, paying its rate tokens now (a
 * will is published at release whatever the buckets hold then).  0 or
 * -errno, nothing changed.
 */
static int evbus_will_arm(struct evbus_file *ef, const struct evbus_will *w)
{
	struct evbus_will_ent *old, *ent;
	struct evbus_hist_rec *rec;
	bool rated;
	int ret;

	ent = kzalloc(sizeof(*ent), EVBUS_GFP);
	if (!ent)
		return -ENOMEM;
	rec = evbus_will_rec(ef, w, &ret);
	if (!rec) {
		kfree(ent);
		return ret;
	}
	ret = evbus_rate_take(ef, w->payload_len, 0, false, &rated);
	if (ret) {
		ent->rec = rec;
		evbus_will_free(ent);
		return ret;
	}
	ent->scope = w->scope;
	ent->rec = rec;
	mutex_lock(&ef->lock);
	old = evbus_will_find(ef, w->scope);
	if (old) {
		/* The same scope's will: it takes the old one's place. */
		swap(old->rec, ent->rec);
		ret = 0;
	} else {
		ret = evbus_will_charge(ef);
		if (!ret) {
			list_add(&ent->link, &ef->wills);
			ent = NULL;
		}
	}
	mutex_unlock(&ef->lock);
	if (ret && rated)
		evbus_rate_refund(ef, w->payload_len);
	if (ent)
		evbus_will_free(ent);
	return ret;
}

static int evbus_will_clear(struct evbus_file *ef, const struct evbus_will *w)
{
	struct evbus_will_ent *ent;

	if (w->topic || w->payload || w->topic_len || w->payload_len ||
	    w->type || w->corr || w->parent)
		return -EINVAL;
	mutex_lock(&ef->lock);
	ent = evbus_will_find(ef, w->scope);
	if (ent) {
		list_del(&ent->link);
		evbus_will_uncharge(ef);
	}
	mutex_unlock(&ef->lock);
	if (!ent)
		return -ENOENT;
	evbus_will_free(ent);
	return 0;
}

/* EVBUS_IOC_WILL */
long evbus_ioctl_will(struct evbus_file *ef, void __user *argp)
{
	struct evbus_will w;
	u32 usize;
	int ret;

	ret = evbus_copy_sized(&w, sizeof(w), argp, EVBUS_WILL_SIZE_VER0,
			       &usize);
	if (ret)
		return ret;
	if ((w.flags & ~EVBUS_WILL_VALID) || w.reserved)
		return -EINVAL;
	if (w.flags & EVBUS_WILL_CLEAR)
		return evbus_will_clear(ef, &w);
	return evbus_will_arm(ef, &w);
}

/*
 * The file is released: publish its wills, newest first, as whoever
 * armed them.  Nothing else can reach the file any more.
 */
void evbus_will_fire(struct evbus_file *ef)
{
	struct evbus_will_ent *w, *tmp;

	list_for_each_entry_safe(w, tmp, &ef->wills, link) {
		list_del(&w->link);
		if (!evbus_publish_will(ef, w->rec))
			evbus_count(ef->bus->stats, wills_fired, 1);
		evbus_will_uncharge(ef);
		evbus_will_free(w);
	}
}

/* fdinfo: one line per will (ef->lock held). */
void evbus_will_show(struct seq_file *m, struct evbus_file *ef)
{
	struct evbus_will_ent *w;

	lockdep_assert_held(&ef->lock);
	list_for_each_entry(w, &ef->wills, link)
		seq_printf(m, "evbus-will:\t%llu %.*s\n", w->scope,
			   (int)w->rec->topic_len, w->rec->data);
}
