// SPDX-License-Identifier: GPL-2.0
/*
 * evbus subscription filters: sender, type range, classic BPF.
 *
 * A filter belongs to one subscription and is fixed when it is attached
 * (EVBUS_IOC_SUBSCRIBE2).  Publishers run it while collecting targets,
 * under RCU and with no lock held, so an event it refuses is never
 * reserved, copied or woken for: it costs the reader nothing.
 *
 * Sender filters are kept as kernel ids (kuid_t, kgid_t, struct pid), fixed
 * from the subscriber's namespaces when attached, and compared with the
 * publisher's own: no translation per event.
 *
 * The BPF filter is a classic program loaded by the kernel's own loader
 * and checker, bpf_prog_create_from_user(), with a check in the manner of
 * seccomp's: only 32-bit absolute loads, at aligned offsets within
 * EVBUS_FILTER_WINDOW, are allowed, and each becomes a direct load from
 * the window (the record, as read() returns it, zero-padded).  Classic BPF
 * has no backward jumps, so a run is at most EVBUS_FILTER_MAX_INSNS steps.
 */
#include <linux/filter.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <linux/sched.h>

#include "evbus.h"

#define EVBUS_SUB_FILTERS	(EVBUS_SUB_FROM_UID | EVBUS_SUB_FROM_GID | \
				 EVBUS_SUB_FROM_PID | EVBUS_SUB_TYPE | \
				 EVBUS_SUB_FILTER)

/* Rewrite and check a classic program (bpf_aux_classic_check_t). */
static int evbus_filter_check(struct sock_filter *filter, unsigned int flen)
{
	unsigned int pc;

	for (pc = 0; pc < flen; pc++) {
		struct sock_filter *f = &filter[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (f->k >= EVBUS_FILTER_WINDOW || (f->k & 3))
				return -EINVAL;
			/* A direct load from the window, as seccomp's. */
			f->code = BPF_LDX | BPF_W | BPF_ABS;
			continue;
		case BPF_LD | BPF_W | BPF_LEN:
			f->code = BPF_LD | BPF_IMM;
			f->k = EVBUS_FILTER_WINDOW;
			continue;
		case BPF_LDX | BPF_W | BPF_LEN:
			f->code = BPF_LDX | BPF_IMM;
			f->k = EVBUS_FILTER_WINDOW;
			continue;
		case BPF_RET | BPF_K:
		case BPF_RET | BPF_A:
		case BPF_ALU | BPF_ADD | BPF_K:
		case BPF_ALU | BPF_ADD | BPF_X:
		case BPF_ALU | BPF_SUB | BPF_K:
		case BPF_ALU | BPF_SUB | BPF_X:
		case BPF_ALU | BPF_MUL | BPF_K:
		case BPF_ALU | BPF_MUL | BPF_X:
		case BPF_ALU | BPF_DIV | BPF_K:
		case BPF_ALU | BPF_DIV | BPF_X:
		case BPF_ALU | BPF_MOD | BPF_K:
		case BPF_ALU | BPF_MOD | BPF_X:
		case BPF_ALU | BPF_AND | BPF_K:
		case BPF_ALU | BPF_AND | BPF_X:
		case BPF_ALU | BPF_OR | BPF_K:
		case BPF_ALU | BPF_OR | BPF_X:
		case BPF_ALU | BPF_XOR | BPF_K:
		case BPF_ALU | BPF_XOR | BPF_X:
		case BPF_ALU | BPF_LSH | BPF_K:
		case BPF_ALU | BPF_LSH | BPF_X:
		case BPF_ALU | BPF_RSH | BPF_K:
		case BPF_ALU | BPF_RSH | BPF_X:
		case BPF_ALU | BPF_NEG:
		case BPF_LD | BPF_IMM:
		case BPF_LDX | BPF_IMM:
		case BPF_MISC | BPF_TAX:
		case BPF_MISC | BPF_TXA:
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
		case BPF_ST:
		case BPF_STX:
		case BPF_JMP | BPF_JA:
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_X:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_X:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_X:
		case BPF_JMP | BPF_JSET | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_X:
			continue;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

static int evbus_filter_load(struct evbus_filter *f, const struct evbus_subscribe *s)
{
	struct sock_fprog fprog = {
		.len = s->filter_len,
		.filter = u64_to_user_ptr(s->filter),
	};

	if (!s->filter_len || s->filter_len > EVBUS_FILTER_MAX_INSNS)
		return -EINVAL;
	/* Checked by bpf_check_classic() first, then by evbus_filter_check(). */
	return bpf_prog_create_from_user(&f->prog, &fprog, evbus_filter_check,
					 false);
}

/* The sender filters, as kernel ids from the subscriber's namespaces. */
static int evbus_filter_ids(struct evbus_filter *f, struct evbus_file *ef,
			    const struct evbus_subscribe *s)
{
	if (s->flags & EVBUS_SUB_FROM_UID) {
		f->uid = make_kuid(ef->user_ns, s->from_uid);
		if (!uid_valid(f->uid))
			return -EINVAL;
	}
	if (s->flags & EVBUS_SUB_FROM_GID) {
		f->gid = make_kgid(ef->user_ns, s->from_gid);
		if (!gid_valid(f->gid))
			return -EINVAL;
	}
	if (s->flags & EVBUS_SUB_FROM_PID) {
		if (!s->from_pid || s->from_pid > PID_MAX_LIMIT)
			return -EINVAL;
		rcu_read_lock();
		f->pid = get_pid(find_pid_ns(s->from_pid, ef->pid_ns));
		rcu_read_unlock();
		if (!f->pid)
			return -ESRCH;
	}
	return 0;
}

/*
 * The filter a SUBSCRIBE2 request asks for, in *out (NULL if none): 0 or
 * -errno.  Fields of filters not asked for must be zero.
 */
int evbus_filter_attach(struct evbus_file *ef, const struct evbus_subscribe *s,
			struct evbus_filter **out)
{
	struct evbus_filter *f;
	int ret;

	*out = NULL;
	if (s->flags & ~(EVBUS_SUB_FILTERS | EVBUS_SUB_SINCE | EVBUS_SUB_LAST |
			 EVBUS_SUB_RETAINED))
		return -EINVAL;
	if ((!(s->flags & EVBUS_SUB_FROM_UID) && s->from_uid) ||
	    (!(s->flags & EVBUS_SUB_FROM_GID) && s->from_gid) ||
	    (!(s->flags & EVBUS_SUB_FROM_PID) && s->from_pid) ||
	    (!(s->flags & EVBUS_SUB_TYPE) && (s->type_min || s->type_max)) ||
	    (!(s->flags & EVBUS_SUB_FILTER) && (s->filter_len || s->filter)) ||
	    ((s->flags & EVBUS_SUB_TYPE) && s->type_min > s->type_max))
		return -EINVAL;
	if (!(s->flags & EVBUS_SUB_FILTERS))
		return 0;

	f = kzalloc(sizeof(*f), EVBUS_GFP);
	if (!f)
		return -ENOMEM;
	f->flags = s->flags & EVBUS_SUB_FILTERS;
	f->type_min = s->type_min;
	f->type_max = s->type_max;
	ret = evbus_filter_ids(f, ef, s);
	if (!ret && (s->flags & EVBUS_SUB_FILTER))
		ret = evbus_filter_load(f, s);
	if (ret) {
		evbus_filter_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

/* Any context: also from an RCU callback. */
void evbus_filter_free(struct evbus_filter *f)
{
	if (!f)
		return;
	put_pid(f->pid);
	if (f->prog)
		bpf_prog_destroy(f->prog);
	kfree(f);
}

/*
 * The window a BPF filter sees: m's record as read() would return it,
 * truncated to EVBUS_FILTER_WINDOW and zero-padded, with seq and the
 * clocks 0 and the sender fields left for evbus_filter_ident().
 */
void evbus_filter_image(void *image, const struct evbus_msg *m)
{
	struct evbus_event *ev = image;
	u32 toff = sizeof(*ev), poff = toff + EVBUS_ALIGN(m->topic_len + 1);

	memset(image, 0, EVBUS_FILTER_WINDOW);
	ev->hdr.len = m->rec_len;
	ev->hdr.kind = EVBUS_REC_EVENT;
	ev->hdr.hdr_len = sizeof(*ev);
	ev->topic_len = m->topic_len;
	ev->payload_len = m->payload_len;
	ev->type = m->type;
	ev->corr = m->corr;
	ev->parent = m->parent;
	/* toff + topic (at most 255) always fits in the window. */
	memcpy((char *)image + toff, m->topic, m->topic_len);
	if (poff < EVBUS_FILTER_WINDOW)
		memcpy((char *)image + poff, m->payload,
		       min_t(u32, m->payload_len, EVBUS_FILTER_WINDOW - poff));
}

void evbus_filter_ident(void *image, const struct evbus_ident *id)
{
	struct evbus_event *ev = image;

	ev->pid = id->pid;
	ev->tid = id->tid;
	ev->uid = id->uid;
	ev->gid = id->gid;
}

/*
 * Does f let m, sent by from, through?  image is the window
 * (evbus_filter_image() and _ident() for this reader) when f has a program.
 */
bool evbus_filter_pass(const struct evbus_filter *f, const struct evbus_msg *m,
		       const struct evbus_sender *from, const void *image)
{
	if ((f->flags & EVBUS_SUB_FROM_UID) && !uid_eq(from->uid, f->uid))
		return false;
	if ((f->flags & EVBUS_SUB_FROM_GID) && !gid_eq(from->gid, f->gid))
		return false;
	if ((f->flags & EVBUS_SUB_FROM_PID) && from->tgid != f->pid)
		return false;
	if ((f->flags & EVBUS_SUB_TYPE) &&
	    (m->type < f->type_min || m->type > f->type_max))
		return false;
	if (f->prog)
		return bpf_prog_run_pin_on_cpu(f->prog, image) != 0;
	return true;
}

/*
 * Does sub take m, sent by from (seen by its reader as id)?  For events
 * taken from the bus's keeping (replay, retained values), not the index:
 * the pattern, then the filter, with image a window to use if the filter
 * has a program.
 */
bool evbus_sub_matches(const struct evbus_sub_entry *sub,
		       const struct evbus_msg *m,
		       const struct evbus_sender *from,
		       const struct evbus_ident *id, void *image)
{
	const struct evbus_filter *f = sub->filter;

	if (!evbus_pattern_match(sub->pattern, sub->pattern_len, m->topic,
				 m->topic_len))
		return false;
	if (!f)
		return true;
	if (f->prog) {
		evbus_filter_image(image, m);
		evbus_filter_ident(image, id);
	}
	return evbus_filter_pass(f, m, from, image);
}
