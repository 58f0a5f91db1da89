// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Subscribing with filters and starts in the past (EVBUS_IOC_SUBSCRIBE2,
 * always with the whole struct evbus_subscribe: a module from before
 * since and last takes the zeros it does not know), and reading classic BPF
 * programs in the text form `tcpdump -ddd` prints:
 *
 *	4
 *	32 0 0 4
 *	21 0 1 7
 *	6 0 0 1
 *	6 0 0 0
 *
 * The first number is the instruction count; each further line is one
 * struct sock_filter: code, jt, jf, k in decimal.  The kernel checks the
 * program itself when it is attached.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>

#include "internal.h"

#define EVBUS_SUB_PAST	(EVBUS_SUB_SINCE | EVBUS_SUB_LAST | EVBUS_SUB_RETAINED)
#define EVBUS_SUB_VALID	(EVBUS_SUB_FROM_UID | EVBUS_SUB_FROM_GID | \
			 EVBUS_SUB_FROM_PID | EVBUS_SUB_TYPE | EVBUS_SUB_FILTER | \
			 EVBUS_SUB_PAST)

/*
 * A module from before history refuses a start in the past as an unknown
 * flag (EINVAL) or a field it does not know (E2BIG): say -EOPNOTSUPP
 * instead when it lacks the feature.  Only on that error path.
 */
static int evbus_sub_past_err(struct evbus *bus, uint32_t flags, int err)
{
	if (!(flags & EVBUS_SUB_PAST) || (err != -EINVAL && err != -E2BIG))
		return err;
	if (evbus_lacks_feature(bus, flags & EVBUS_SUB_RETAINED ?
				EVBUS_FEAT_RETAINED : EVBUS_FEAT_HISTORY))
		return -EOPNOTSUPP;
	return err;
}

EVBUS_API int evbus_subscribe_opts(struct evbus *bus, const char *pattern,
				   const struct evbus_sub_opts *opts,
				   uint32_t *sub_id)
{
	uint32_t flags = OPTS_GET(opts, flags, 0);
	struct evbus_subscribe s;
	size_t len;
	int ret;

	if (!bus || !pattern || !OPTS_VALID(opts, evbus_sub_opts) ||
	    OPTS_GET(opts, reserved0, 0) || OPTS_GET(opts, reserved1, 0) ||
	    (flags & ~EVBUS_SUB_VALID))
		return -EINVAL;
	len = strlen(pattern);
	if (!len || len > EVBUS_TOPIC_MAX)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = flags;
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = (uint32_t)len;
	s.from_uid = OPTS_GET(opts, from_uid, 0);
	s.from_gid = OPTS_GET(opts, from_gid, 0);
	s.from_pid = OPTS_GET(opts, from_pid, 0);
	s.type_min = OPTS_GET(opts, type_min, 0);
	s.type_max = OPTS_GET(opts, type_max, 0);
	s.filter = (uintptr_t)OPTS_GET(opts, filter, NULL);
	s.filter_len = OPTS_GET(opts, filter_len, 0);
	s.since = OPTS_GET(opts, since, 0);
	s.last = OPTS_GET(opts, last, 0);
	ret = sys_ioctl(bus->fd, EVBUS_IOC_SUBSCRIBE2, &s);
	if (ret)
		return evbus_sub_past_err(bus, flags, ret);
	if (sub_id)
		*sub_id = s.sub_id;
	return 0;
}

/* Skip blanks (not newlines); then "#..." up to the newline. */
static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p == '#')
		while (*p && *p != '\n')
			p++;
	return p;
}

/* A decimal number no greater than max; NULL if there is none. */
static const char *parse_num(const char *p, unsigned long max,
			     unsigned long *out)
{
	unsigned long v = 0;

	p = skip_blanks(p);
	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return NULL;
	}
	/* A number ends at a blank or the end of its line. */
	if (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '#')
		return NULL;
	*out = v;
	return p;
}

/* Parse the numbers of one line into v[n]; NULL if the line is not that. */
static const char *parse_line(const char *p, const unsigned long *max,
			      unsigned long *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && p; i++)
		p = parse_num(p, max[i], &v[i]);
	if (!p)
		return NULL;
	p = skip_blanks(p);
	if (*p && *p != '\n')
		return NULL;
	return *p ? p + 1 : p;
}

/* The next line with something on it; *line counts the lines passed. */
static const char *next_line(const char *p, unsigned int *line)
{
	for (;;) {
		const char *q = skip_blanks(p);

		if (*q == '\n') {
			p = q + 1;
			(*line)++;
			continue;
		}
		(*line)++;
		return *q ? p : NULL;
	}
}

EVBUS_API int evbus_filter_parse(const char *text, struct sock_filter *prog,
				 unsigned int max, unsigned int *bad_line)
{
	static const unsigned long count_max[] = { 65535 };
	static const unsigned long insn_max[] = { 0xffff, 0xff, 0xff, 0xffffffffUL };
	unsigned long count, v[4];
	unsigned int line = 0, i;
	const char *p;

	if (bad_line)
		*bad_line = 0;
	if (!text || (max && !prog))
		return -EINVAL;
	p = next_line(text, &line);
	if (!p || !(p = parse_line(p, count_max, &count, 1)) || !count)
		goto bad;
	if (count > max)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		p = next_line(p, &line);
		if (!p || !(p = parse_line(p, insn_max, v, 4)))
			goto bad;
		prog[i].code = (uint16_t)v[0];
		prog[i].jt = (uint8_t)v[1];
		prog[i].jf = (uint8_t)v[2];
		prog[i].k = (uint32_t)v[3];
	}
	if (next_line(p, &line))
		goto bad;	/* more instructions than the count says */
	return (int)count;
bad:
	if (bad_line)
		*bad_line = line;
	return -EINVAL;
}
