// SPDX-License-Identifier: GPL-2.0
/*
 * evbus kernel topics ("$sys", reserved to the kernel) and refusals.
 *
 * The kernel publishes, through the ordinary fan-out and with the sender
 * fields of the process concerned:
 *   $sys.file.open, $sys.file.close    a file of the bus opened or closed
 *   $sys.policy.denied                 a call was refused (who, what, why)
 *   $sys.approval.denied               an asking publish was not approved
 * These events take sequence numbers like any other, so readers see them
 * in order with application events.  A refusal is also counted by cause
 * and traced (evbus_denied).
 */
#include <linux/string.h>

#include "evbus.h"
#include "trace.h"

#define EVBUS_SYS_OPEN		"$sys.file.open"
#define EVBUS_SYS_CLOSE		"$sys.file.close"
#define EVBUS_SYS_DENIED	"$sys.policy.denied"
#define EVBUS_SYS_APPROVAL	"$sys.approval.denied"

void evbus_sys_file_event(struct evbus_file *ef, bool open)
{
	struct evbus_sys_file p = { .file_id = ef->ring.file_id };

	if (open)
		evbus_publish_kernel(ef, EVBUS_SYS_OPEN,
				     sizeof(EVBUS_SYS_OPEN) - 1, &p, sizeof(p));
	else
		evbus_publish_kernel(ef, EVBUS_SYS_CLOSE,
				     sizeof(EVBUS_SYS_CLOSE) - 1, &p, sizeof(p));
}

static void evbus_count_denial(struct evbus_bus *bus, int cause)
{
	switch (cause) {
	case EVBUS_DENY_RULE:
	case EVBUS_DENY_ASK:		/* an ask rule, for a will */
		evbus_count(bus->stats, denied_rule, 1);
		break;
	case EVBUS_DENY_DEFAULT:
		evbus_count(bus->stats, denied_default, 1);
		break;
	case EVBUS_DENY_SCOPE:
		evbus_count(bus->stats, denied_scope, 1);
		break;
	default:
		evbus_count(bus->stats, denied_reserved, 1);
		break;
	}
}

/*
 * Report a refusal of right on topic (or pattern) for ef and return
 * -EACCES.  A caller that must not sleep (io_uring's first, non-blocking
 * attempt) gets -EAGAIN instead and reports from the blocking retry, so
 * each refusal is reported once.
 */
int evbus_deny(struct evbus_file *ef, u32 right, const struct evbus_pol_verdict *v,
	       const char *topic, u32 len, bool nowait)
{
	struct {
		struct evbus_sys_denied d;
		char topic[EVBUS_TOPIC_MAX];
	} rep;

	if (nowait)
		return -EAGAIN;
	evbus_count_denial(ef->bus, v->cause);
	trace_evbus_denied(ef->ring.file_id, right, v->cause, v->rule_id,
			   topic, len);
	memset(&rep.d, 0, sizeof(rep.d));
	rep.d.file_id = ef->ring.file_id;
	rep.d.right = right;
	rep.d.cause = v->cause;
	rep.d.rule_id = v->rule_id;
	rep.d.topic_len = len;
	memcpy(rep.topic, topic, len);
	evbus_publish_kernel(ef, EVBUS_SYS_DENIED, sizeof(EVBUS_SYS_DENIED) - 1,
			     &rep, sizeof(rep.d) + len);
	return -EACCES;
}

/*
 * An event ef asked to publish on topic was not (gate.c): announce why.
 * The caller counted and traced it.
 */
void evbus_sys_approval_denied(struct evbus_file *ef, u32 approver_id,
			       u32 cause, int error, const char *topic, u32 len)
{
	struct {
		struct evbus_sys_approval a;
		char topic[EVBUS_TOPIC_MAX];
	} rep;

	memset(&rep.a, 0, sizeof(rep.a));
	rep.a.file_id = ef->ring.file_id;
	rep.a.approver_id = approver_id;
	rep.a.cause = cause;
	rep.a.error = error;
	rep.a.topic_len = len;
	memcpy(rep.topic, topic, len);
	evbus_publish_kernel(ef, EVBUS_SYS_APPROVAL,
			     sizeof(EVBUS_SYS_APPROVAL) - 1, &rep,
			     sizeof(rep.a) + len);
}
