/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evbus tracepoints (system "evbus"): publish, deliver, drop, subscribe,
 * unsubscribe, denied (a refusal), policy (a policy change) and approval
 * (a step of the approval gate).  Files are named by the id shown in their
 * fdinfo.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM evbus

#if !defined(_EVBUS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _EVBUS_TRACE_H

#include <linux/tracepoint.h>
#include <linux/cred.h>
#include <linux/evbus.h>

/* Topics are not NUL-terminated where they are traced: copy with a NUL. */
#define evbus_trace_copy_topic(dst, src, len)				\
	do {								\
		char *__d = (char *)(dst);				\
									\
		memcpy(__d, src, len);					\
		__d[len] = '\0';					\
	} while (0)

TRACE_EVENT(evbus_publish,
	TP_PROTO(u64 file_id, u64 seq, const char *topic, u32 topic_len,
		 u32 payload_len, u32 type),
	TP_ARGS(file_id, seq, topic, topic_len, payload_len, type),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u64, seq)
		__field(u32, payload_len)
		__field(u32, type)
		__field(pid_t, pid)
		__dynamic_array(char, topic, topic_len + 1)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->seq = seq;
		__entry->payload_len = payload_len;
		__entry->type = type;
		__entry->pid = current->tgid;
		evbus_trace_copy_topic(__get_dynamic_array(topic), topic, topic_len);
	),
	TP_printk("file=%llu seq=%llu pid=%d topic=%s len=%u type=%u",
		  __entry->file_id, __entry->seq, __entry->pid,
		  __get_str(topic), __entry->payload_len, __entry->type)
);

TRACE_EVENT(evbus_deliver,
	TP_PROTO(u64 file_id, u64 seq, u64 queued),
	TP_ARGS(file_id, seq, queued),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u64, seq)
		__field(u64, queued)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->seq = seq;
		__entry->queued = queued;
	),
	TP_printk("file=%llu seq=%llu queued=%llu",
		  __entry->file_id, __entry->seq, __entry->queued)
);

TRACE_EVENT(evbus_drop,
	TP_PROTO(u64 file_id, u64 seq, bool evicted, u64 lost),
	TP_ARGS(file_id, seq, evicted, lost),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u64, seq)
		__field(u64, lost)
		__field(bool, evicted)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->seq = seq;
		__entry->lost = lost;
		__entry->evicted = evicted;
	),
	TP_printk("file=%llu seq=%llu %s lost=%llu", __entry->file_id,
		  __entry->seq, __entry->evicted ? "evicted" : "dropped",
		  __entry->lost)
);

TRACE_EVENT(evbus_subscribe,
	TP_PROTO(u64 file_id, u32 sub_id, const char *pattern, u32 len),
	TP_ARGS(file_id, sub_id, pattern, len),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u32, sub_id)
		__dynamic_array(char, pattern, len + 1)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->sub_id = sub_id;
		evbus_trace_copy_topic(__get_dynamic_array(pattern), pattern, len);
	),
	TP_printk("file=%llu sub=%u pattern=%s", __entry->file_id,
		  __entry->sub_id, __get_str(pattern))
);

TRACE_EVENT(evbus_unsubscribe,
	TP_PROTO(u64 file_id, u32 sub_id),
	TP_ARGS(file_id, sub_id),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u32, sub_id)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->sub_id = sub_id;
	),
	TP_printk("file=%llu sub=%u", __entry->file_id, __entry->sub_id)
);

/*
 * A step of the approval gate (gate.c): outcome is what ended a request
 * (EVBUS_APPROVAL_*, or 0 for allowed, -1 for modified, -2 for queued,
 * -3 for withdrawn), for the publisher's file and an approver.
 */
TRACE_EVENT(evbus_approval,
	TP_PROTO(u64 file_id, u32 approver_id, u32 req_id, int outcome, int error),
	TP_ARGS(file_id, approver_id, req_id, outcome, error),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u32, approver_id)
		__field(u32, req_id)
		__field(int, outcome)
		__field(int, error)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->approver_id = approver_id;
		__entry->req_id = req_id;
		__entry->outcome = outcome;
		__entry->error = error;
	),
	TP_printk("file=%llu approver=%u req=%u outcome=%s error=%d",
		  __entry->file_id, __entry->approver_id, __entry->req_id,
		  __print_symbolic(__entry->outcome,
				   { 0, "allowed" },
				   { -1, "modified" },
				   { -2, "queued" },
				   { -3, "withdrawn" },
				   { EVBUS_APPROVAL_DENIED, "denied" },
				   { EVBUS_APPROVAL_EXPIRED, "expired" },
				   { EVBUS_APPROVAL_GONE, "gone" },
				   { EVBUS_APPROVAL_FULL, "full" },
				   { EVBUS_APPROVAL_NOBODY, "nobody" }),
		  __entry->error)
);

/* A publish met a rate limit (rate.c): refused, or waited wait_ns. */
TRACE_EVENT(evbus_rate,
	TP_PROTO(u64 file_id, u32 len, bool user, u64 wait_ns, int ret),
	TP_ARGS(file_id, len, user, wait_ns, ret),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u64, wait_ns)
		__field(u32, len)
		__field(int, ret)
		__field(bool, user)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->wait_ns = wait_ns;
		__entry->len = len;
		__entry->ret = ret;
		__entry->user = user;
	),
	TP_printk("file=%llu bucket=%s len=%u wait_ns=%llu ret=%d",
		  __entry->file_id, __entry->user ? "user" : "file",
		  __entry->len, __entry->wait_ns, __entry->ret)
);

/* A publisher waited for room in a lossless ring (ring.c). */
TRACE_EVENT(evbus_lossless_wait,
	TP_PROTO(u64 file_id, u64 reader_id, u64 wait_ns, bool room),
	TP_ARGS(file_id, reader_id, wait_ns, room),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u64, reader_id)
		__field(u64, wait_ns)
		__field(bool, room)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->reader_id = reader_id;
		__entry->wait_ns = wait_ns;
		__entry->room = room;
	),
	TP_printk("file=%llu reader=%llu wait_ns=%llu %s",
		  __entry->file_id, __entry->reader_id, __entry->wait_ns,
		  __entry->room ? "room" : "expired")
);

TRACE_EVENT(evbus_denied,
	TP_PROTO(u64 file_id, u32 right, int cause, u32 rule_id,
		 const char *topic, u32 len),
	TP_ARGS(file_id, right, cause, rule_id, topic, len),
	TP_STRUCT__entry(
		__field(u64, file_id)
		__field(u32, right)
		__field(int, cause)
		__field(u32, rule_id)
		__field(pid_t, pid)
		__field(uid_t, uid)
		__dynamic_array(char, topic, len + 1)
	),
	TP_fast_assign(
		__entry->file_id = file_id;
		__entry->right = right;
		__entry->cause = cause;
		__entry->rule_id = rule_id;
		__entry->pid = current->tgid;
		__entry->uid = from_kuid(&init_user_ns, current_euid());
		evbus_trace_copy_topic(__get_dynamic_array(topic), topic, len);
	),
	TP_printk("file=%llu pid=%d uid=%u right=%s cause=%s rule=%u topic=%s",
		  __entry->file_id, __entry->pid, __entry->uid,
		  __print_flags(__entry->right, "|",
				{ EVBUS_RIGHT_PUBLISH, "publish" },
				{ EVBUS_RIGHT_SUBSCRIBE, "subscribe" },
				{ EVBUS_RIGHT_REPLAY, "replay" },
				{ EVBUS_RIGHT_APPROVE, "approve" },
				{ EVBUS_RIGHT_WAIT, "wait" }),
		  __print_symbolic(__entry->cause,
				   { EVBUS_DENY_RULE, "rule" },
				   { EVBUS_DENY_DEFAULT, "default" },
				   { EVBUS_DENY_SCOPE, "scope" },
				   { EVBUS_DENY_ASK, "ask" },
				   { EVBUS_DENY_RESERVED, "reserved" }),
		  __entry->rule_id, __get_str(topic))
);

TRACE_EVENT(evbus_policy,
	TP_PROTO(u64 bus_id, u32 rule_id, u32 verdict, u32 rights,
		 const char *pattern, u32 len),
	TP_ARGS(bus_id, rule_id, verdict, rights, pattern, len),
	TP_STRUCT__entry(
		__field(u64, bus_id)
		__field(u32, rule_id)
		__field(u32, verdict)
		__field(u32, rights)
		__field(pid_t, pid)
		__dynamic_array(char, pattern, len + 1)
	),
	TP_fast_assign(
		__entry->bus_id = bus_id;
		__entry->rule_id = rule_id;
		__entry->verdict = verdict;
		__entry->rights = rights;
		__entry->pid = current->tgid;
		evbus_trace_copy_topic(__get_dynamic_array(pattern), pattern, len);
	),
	TP_printk("bus=%llu pid=%d rule=%u verdict=%u rights=%#x pattern=%s",
		  __entry->bus_id, __entry->pid, __entry->rule_id,
		  __entry->verdict, __entry->rights, __get_str(pattern))
);

#endif /* _EVBUS_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
