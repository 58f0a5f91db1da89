// SPDX-License-Identifier: GPL-2.0
/*
 * evbus approve: an approver whose verdicts come from a command.
 *
 *   evbus approve [-v] [--ready] [--deny-by-default] [--priority N] PATTERN -- CMD [ARGS]
 *
 * Registers this process's handle as an approver of PATTERN
 * (EVBUS_IOC_APPROVER_ADD), runs CMD once as a coprocess, and for every
 * request the bus sends writes one JSON line to CMD's stdin (the request's
 * id, approver_id, flags and deadline_ns, then the event's fields as
 * `evbus sub --json` prints them) and reads one line back from CMD's
 * stdout:
 *
 *	allow
 *	deny			(the publisher gets EACCES)
 *	deny ERRNO		(a number, or a name such as EPERM)
 *	{"payload": "...", "type": N, "topic": "..."}	(modify; each optional:
 *				 what is left out stays; "payload_b64" for bytes)
 *
 * Cancelled requests (the deadline passed, the publisher was interrupted)
 * are not sent to CMD, which answers every line it gets; -v reports them
 * on stderr, and a verdict that comes too late (ENOENT) is reported and
 * dropped.  When CMD exits or answers something else, the command closes
 * its handle, so the kernel gives every pending request the default
 * verdict at once, and exits 1.  SIGINT and SIGTERM end it the same way
 * with status 0.  The handle is close-on-exec: CMD never holds it, so a
 * crash of this process is an approver gone, too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"

/* Internal: SIGINT or SIGTERM came, stop with status 0. */
#define APPROVE_STOP	(-1)

/* A JSON line for a 1 MiB payload, escaped, fits with room to spare. */
#define APPROVE_LINE_MAX	(8U << 20)

static const char approve_usage[] =
"usage: evbus approve [-v] [--ready] [--deny-by-default] [--priority N]\n"
"                     PATTERN -- CMD [ARGS...]\n"
"\n"
"Approve, deny or modify events published with 'evbus pub --ask' (or under\n"
"a policy's ask rule) on topics matching PATTERN, by asking CMD.  CMD runs\n"
"once; it gets each request as one JSON line on stdin (id, approver_id,\n"
"flags, deadline_ns and the event's fields as 'evbus sub --json' prints\n"
"them) and answers each with one line on stdout:\n"
"  allow\n"
"  deny              the publisher gets EACCES\n"
"  deny ERRNO        ... that errno, a number or a name such as EPERM\n"
"  {\"payload\": \"...\", \"type\": N, \"topic\": \"...\"}\n"
"                    publish it changed (each key optional; \"payload_b64\"\n"
"                    for bytes; a new topic must be one this handle may\n"
"                    publish on)\n"
"When CMD exits or answers anything else, the approver goes away: its\n"
"pending requests get its default verdict, and the exit status is 1.\n"
"\n"
"  -v, --verbose         report requests, verdicts and cancellations on stderr\n"
"      --ready           write 'ready' to stderr once registered and CMD runs\n"
"      --deny-by-default deny when the deadline passes or this approver goes\n"
"                        away (default: allow)\n"
"      --priority N      approvers with a higher N are asked first (default 0)\n"
"  -h, --help            this text\n";

struct approve {
	struct evbus *bus;
	bool verbose;
	bool ready;
	uint32_t deflt;		/* EVBUS_ALLOW or EVBUS_DENY */
	int32_t priority;
	const char *pattern;
	char **cmd;
	uint32_t id;		/* the approver's */
	int sigfd;
	pid_t pid;		/* CMD */
	FILE *to;		/* CMD's stdin */
	int from;		/* CMD's stdout */
	char *buf;		/* what CMD wrote, not yet taken */
	size_t len, cap;
};

/* One verdict, as parsed from CMD's line. */
struct answer {
	uint32_t verdict;	/* EVBUS_VERDICT_* */
	int error;		/* DENY */
	bool has_payload, has_type;
	char *payload;		/* MODIFY: malloc()ed, or NULL */
	size_t payload_len;
	uint32_t type;
	char *topic;		/* MODIFY: malloc()ed, or NULL */
};

static void answer_free(struct answer *an)
{
	free(an->payload);
	free(an->topic);
}

/* ------------------------------------------------------------ the answer */

/* "EPERM" or "1" (1..EVBUS_VERDICT_ERRNO_MAX): the errno, or 0. */
static int parse_errno(const char *s)
{
	uint32_t v;
	int i;

	if (parse_u32(s, &v))
		return v >= 1 && v <= EVBUS_VERDICT_ERRNO_MAX ? (int)v : 0;
	for (i = 1; i <= EVBUS_VERDICT_ERRNO_MAX; i++) {
		const char *name = strerrorname_np(i);

		if (name && !strcmp(name, s))
			return i;
	}
	return 0;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Append code point cp to out as UTF-8. */
static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static bool hex4(const char *p, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/*
 * A JSON string at *pp (at its opening quote) into a malloc()ed buffer
 * (NUL-terminated; *len without it); *pp moves past it.  NULL if it is
 * not a valid JSON string.
 */
static char *json_string(const char **pp, size_t *len)
{
	const char *p = *pp;
	char *out, *o;
	uint32_t cp, lo;

	if (*p++ != '"')
		return NULL;
	/* Never longer than the escaped text. */
	out = malloc(strlen(p) + 1);
	if (!out)
		return NULL;
	o = out;
	for (;;) {
		unsigned char c = (unsigned char)*p++;

		if (c == '"')
			break;
		if (c < 0x20)	/* the end of the line, or a raw control */
			goto bad;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		switch (*p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (!hex4(p, &cp))
				goto bad;
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	*pp = p;
	return out;
bad:
	free(out);
	return NULL;
}

/* Standard base64 (with padding) in place: the decoded length, or -1. */
static long base64_decode(char *s, size_t len)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	size_t i, out = 0, pad = 0;
	int bits = 0;

	if (len % 4)
		return -1;
	for (i = 0; i < len; i++) {
		const char *c;

		if (s[i] == '=') {
			if (i < len - 2 || (i == len - 2 && s[len - 1] != '='))
				return -1;
			pad++;
			continue;
		}
		c = strchr(tbl, s[i]);
		if (!c || !s[i])
			return -1;
		acc = acc << 6 | (uint32_t)(c - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[out++] = (char)(acc >> bits);
		}
	}
	(void)pad;
	return (long)out;
}

/*
 * {"payload": "...", "payload_b64": "...", "type": N, "topic": "..."}:
 * every key optional, none twice, nothing else.  false if malformed.
 */
static bool parse_modify(const char *p, struct answer *an)
{
	bool first = true;

	p = skip_ws(p + 1);	/* past '{' */
	for (;;) {
		char *key, *val;
		size_t klen, vlen;

		if (*p == '}' && first)
			break;
		key = json_string(&p, &klen);
		if (!key)
			return false;
		p = skip_ws(p);
		if (*p++ != ':') {
			free(key);
			return false;
		}
		p = skip_ws(p);
		if (!strcmp(key, "type")) {
			char num[24];
			size_t n = strspn(p, "0123456789");

			free(key);
			if (an->has_type || !n || n >= sizeof(num))
				return false;
			memcpy(num, p, n);
			num[n] = '\0';
			if (!parse_u32(num, &an->type))
				return false;
			an->has_type = true;
			p += n;
		} else if (!strcmp(key, "payload") || !strcmp(key, "payload_b64")) {
			bool b64 = key[7] == '_';
			long n;

			free(key);
			if (an->has_payload)
				return false;
			val = json_string(&p, &vlen);
			if (!val)
				return false;
			if (b64) {
				n = base64_decode(val, vlen);
				if (n < 0) {
					free(val);
					return false;
				}
				vlen = (size_t)n;
			}
			an->payload = val;
			an->payload_len = vlen;
			an->has_payload = true;
		} else if (!strcmp(key, "topic")) {
			free(key);
			if (an->topic)
				return false;
			an->topic = json_string(&p, &vlen);
			if (!an->topic || strlen(an->topic) != vlen)
				return false;
		} else {
			free(key);
			return false;
		}
		first = false;
		p = skip_ws(p);
		if (*p == ',') {
			p = skip_ws(p + 1);
			continue;
		}
		if (*p == '}')
			break;
		return false;
	}
	return !*skip_ws(p + 1);
}

/* CMD's line (NUL-terminated, no newline) as a verdict; false if malformed. */
static bool parse_answer(char *line, struct answer *an)
{
	const char *p = skip_ws(line);
	char *end = line + strlen(line);

	memset(an, 0, sizeof(*an));
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	if (!strcmp(p, "allow")) {
		an->verdict = EVBUS_VERDICT_ALLOW;
		return true;
	}
	if (!strcmp(p, "deny")) {
		an->verdict = EVBUS_VERDICT_DENY;
		return true;
	}
	if (!strncmp(p, "deny", 4) && (p[4] == ' ' || p[4] == '\t')) {
		an->verdict = EVBUS_VERDICT_DENY;
		an->error = parse_errno(skip_ws(p + 4));
		return an->error != 0;
	}
	if (*p == '{') {
		an->verdict = EVBUS_VERDICT_MODIFY;
		return parse_modify(p, an);
	}
	return false;
}

/* ------------------------------------------------------------ the coprocess */

static int approve_spawn(struct approve *a)
{
	int in[2], out[2], err;
	sigset_t none;

	if (pipe2(in, O_CLOEXEC))
		return cli_errno_exit("pipe", -errno);
	if (pipe2(out, O_CLOEXEC)) {
		err = errno;
		close(in[0]);
		close(in[1]);
		return cli_errno_exit("pipe", -err);
	}
	a->pid = fork();
	if (a->pid < 0) {
		err = errno;
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return cli_errno_exit("fork", -err);
	}
	if (!a->pid) {
		/* CMD gets the signals and dispositions a shell would give it. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(126);
		execvp(a->cmd[0], a->cmd);
		err = errno;
		cli_err("approve: cannot run %s: %s", a->cmd[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	close(in[0]);
	close(out[1]);
	a->from = out[0];
	a->to = fdopen(in[1], "w");
	if (!a->to) {
		err = errno;
		close(in[1]);
		return cli_errno_exit("fdopen", -err);
	}
	return 0;
}

/* Close CMD's stdin and reap it (SIGTERM after 2 s): its wait status. */
static int approve_reap(struct approve *a)
{
	int st = 0, i;

	if (a->to) {
		fclose(a->to);
		a->to = NULL;
	}
	if (a->from >= 0) {
		close(a->from);
		a->from = -1;
	}
	if (a->pid <= 0)
		return 0;
	for (i = 0; i < 200; i++) {
		if (waitpid(a->pid, &st, WNOHANG) == a->pid)
			goto done;
		usleep(10000);
	}
	kill(a->pid, SIGTERM);
	if (waitpid(a->pid, &st, 0) != a->pid)
		st = 0;
done:
	a->pid = 0;
	return st;
}

/* "exited with status 3", "was killed by signal 9" */
static void describe_status(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, size, "ended");
}

/* CMD is gone (or closed its stdout): stop, every pending request defaulted. */
static int approve_cmd_gone(struct approve *a)
{
	char how[80];
	int st;

	evbus_close(a->bus);	/* the defaults apply at once */
	a->bus = NULL;
	st = approve_reap(a);
	describe_status(st, how, sizeof(how));
	cli_err("approve: %s %s: approver %u is gone, its pending requests get its default verdict (%s)",
		a->cmd[0], how, a->id, a->deflt == EVBUS_DENY ? "deny" : "allow");
	return EXIT_RUNTIME;
}

/*
 * The next line CMD wrote, NUL-terminated in place of its newline: 0 with
 * *line set (valid until the next call), APPROVE_STOP on SIGINT/SIGTERM,
 * -EPIPE when CMD closed its stdout, -EMSGSIZE for an endless line, or
 * another -errno.
 */
static int approve_line(struct approve *a, char **line, size_t *used)
{
	struct pollfd pfd[2] = {
		{ .fd = a->from, .events = POLLIN },
		{ .fd = a->sigfd, .events = POLLIN },
	};
	char *nl, *nbuf;
	ssize_t n;

	/* Drop the line handed out last time. */
	if (*used) {
		memmove(a->buf, a->buf + *used, a->len - *used);
		a->len -= *used;
		*used = 0;
	}
	for (;;) {
		nl = a->len ? memchr(a->buf, '\n', a->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = a->buf;
			*used = (size_t)(nl - a->buf) + 1;
			return 0;
		}
		if (a->len >= APPROVE_LINE_MAX)
			return -EMSGSIZE;
		if (a->cap - a->len < 4096) {
			size_t cap = a->cap ? a->cap * 2 : 65536;

			nbuf = realloc(a->buf, cap + 1);
			if (!nbuf)
				return -ENOMEM;
			a->buf = nbuf;
			a->cap = cap;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			return APPROVE_STOP;
		if (!pfd[0].revents)
			continue;
		n = read(a->from, a->buf + a->len, a->cap - a->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPIPE;
		a->len += (size_t)n;
	}
}

/* ------------------------------------------------------------ requests */

static const char *verdict_word(const struct answer *an)
{
	return an->verdict == EVBUS_VERDICT_ALLOW ? "allow" :
	       an->verdict == EVBUS_VERDICT_DENY ? "deny" : "modify";
}

/* Send CMD's verdict on request rq; a refusal is reported, not fatal. */
static void approve_verdict(struct approve *a, const struct evbus_record *rec,
			    const struct answer *an)
{
	const struct evbus_request *rq = evbus_record_request(rec);
	uint64_t id = rq->id;
	int ret;

	switch (an->verdict) {
	case EVBUS_VERDICT_ALLOW:
		ret = evbus_verdict_allow(a->bus, id);
		break;
	case EVBUS_VERDICT_DENY:
		ret = evbus_verdict_deny(a->bus, id, an->error);
		break;
	default:
		ret = evbus_verdict_modify(a->bus, id, an->topic,
					   an->has_payload ? an->payload : rec->payload,
					   an->has_payload ? an->payload_len : rec->payload_len,
					   an->has_type ? an->type :
					   EVBUS_REQUEST_EVENT(rq)->type);
	}
	if (ret == -ENOENT) {
		cli_err("approve: request %" PRIu64 " is no longer pending (cancelled: its deadline passed or its publisher gave up): the %s is dropped",
			id, verdict_word(an));
		return;
	}
	if (ret == -EACCES && an->topic) {
		cli_err("approve: cannot modify request %" PRIu64 " to topic '%s': %s (EACCES: this approver may not publish there); it waits for its deadline",
			id, an->topic, strerror(-ret));
		return;
	}
	if (ret) {
		cli_err("approve: the %s of request %" PRIu64 " was refused: %s; it waits for its deadline",
			verdict_word(an), id, strerror(-ret));
		return;
	}
	if (a->verbose) {
		if (an->verdict == EVBUS_VERDICT_DENY)
			cli_err("approve: request %" PRIu64 " on %s: deny %s", id,
				rec->topic, an->error ? strerrorname_np(an->error) : "(EACCES)");
		else
			cli_err("approve: request %" PRIu64 " on %s: %s", id,
				rec->topic, verdict_word(an));
	}
}

/*
 * Ask CMD about one request: 0 to go on, APPROVE_STOP on SIGINT/SIGTERM,
 * else the exit status.  rec is the handle's and stays valid: nothing reads the bus
 * meanwhile.
 */
static int approve_request(struct approve *a, const struct evbus_record *rec,
			   size_t *used)
{
	const struct evbus_request *rq = evbus_record_request(rec);
	struct answer an;
	char *line;
	int ret;

	put_record_json(a->to, rec);
	if (fflush(a->to)) {
		if (errno == EPIPE)
			return approve_cmd_gone(a);
		return cli_errno_exit("approve: writing to CMD", -errno);
	}
	ret = approve_line(a, &line, used);
	if (ret == APPROVE_STOP)
		return APPROVE_STOP;
	if (ret == -EPIPE)
		return approve_cmd_gone(a);
	if (ret == -EMSGSIZE) {
		line = "(a line of more than 8 MiB)";
	} else if (ret) {
		return cli_errno_exit("approve: reading from CMD", ret);
	} else if (parse_answer(line, &an)) {
		approve_verdict(a, rec, &an);
		answer_free(&an);
		return 0;
	} else {
		answer_free(&an);
	}
	cli_err("approve: malformed answer from %s to request %" PRIu64 ": '%.200s' (want allow, deny, deny ERRNO, or a JSON object with payload, payload_b64, type, topic)",
		a->cmd[0], (uint64_t)rq->id, line);
	evbus_close(a->bus);	/* the defaults apply at once */
	a->bus = NULL;
	cli_err("approve: approver %u is gone, its pending requests get its default verdict (%s)",
		a->id, a->deflt == EVBUS_DENY ? "deny" : "allow");
	approve_reap(a);
	return EXIT_RUNTIME;
}

/* Every record available now: 0, APPROVE_STOP, or the exit status. */
static int approve_drain(struct approve *a, size_t *used)
{
	const struct evbus_record *rec;
	const struct evbus_cancelled *cn;
	int ret;

	while (!(ret = evbus_read(a->bus, &rec, 0))) {
		cn = evbus_record_cancelled(rec);
		if (cn) {
			if (a->verbose)
				cli_err("approve: request %" PRIu64 " was cancelled (%s)",
					(uint64_t)cn->id, cancel_reason_name(cn->reason));
			continue;
		}
		if (!evbus_record_request(rec))
			continue;	/* no subscriptions: nothing else comes */
		if (a->verbose)
			cli_err("approve: request %" PRIu64 " on %s from pid %u",
				(uint64_t)evbus_record_request(rec)->id, rec->topic,
				EVBUS_REQUEST_EVENT(evbus_record_request(rec))->pid);
		ret = approve_request(a, rec, used);
		if (ret)
			return ret;
	}
	if (ret == -EAGAIN)
		return 0;
	return cli_errno_exit("approve: reading requests", ret);
}

static int approve_loop(struct approve *a)
{
	size_t used = 0;
	struct pollfd pfd[3];
	char *line;
	int ret;

	for (;;) {
		ret = approve_drain(a, &used);
		if (ret)
			return ret == APPROVE_STOP ? 0 : ret;
		pfd[0] = (struct pollfd){ .fd = evbus_fd(a->bus), .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = a->sigfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = a->from, .events = POLLIN };
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			return cli_errno_exit("poll", -errno);
		if (pfd[1].revents)
			return 0;	/* SIGINT or SIGTERM */
		if (pfd[2].revents) {
			/* CMD said something unasked, or exited. */
			ret = approve_line(a, &line, &used);
			if (ret == -EPIPE)
				return approve_cmd_gone(a);
			if (ret == APPROVE_STOP)
				return 0;
			if (!ret)
				cli_err("approve: %s wrote a line without a request: '%.200s'",
					a->cmd[0], line);
			else
				cli_err("approve: reading from %s: %s", a->cmd[0],
					strerror(ret == -EMSGSIZE ? EMSGSIZE : -ret));
			evbus_close(a->bus);
			a->bus = NULL;
			approve_reap(a);
			return EXIT_RUNTIME;
		}
		if ((pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pfd[0].revents & POLLIN)) {
			cli_err("approve: the evbus device reported an error or hang-up");
			return EXIT_RUNTIME;
		}
	}
}

/* ------------------------------------------------------------ setup */

static int approve_parse(int argc, char **argv, struct approve *a)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "ready", no_argument, NULL, 'r' },
		{ "deny-by-default", no_argument, NULL, 'd' },
		{ "priority", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	long long prio;
	char *end;
	int opt;

	a->deflt = EVBUS_ALLOW;
	while ((opt = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			a->verbose = true;
			break;
		case 'r':
			a->ready = true;
			break;
		case 'd':
			a->deflt = EVBUS_DENY;
			break;
		case 'p':
			errno = 0;
			prio = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || prio < INT32_MIN ||
			    prio > INT32_MAX)
				return cli_usage_err("approve", "--priority wants a number from %d to %d, not '%s'",
						     INT32_MIN, INT32_MAX, optarg);
			a->priority = (int32_t)prio;
			break;
		case 'h':
			fputs(approve_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("approve", opt, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage_err("approve", "approve wants a PATTERN, then '--' and a command");
	a->pattern = argv[0];
	if (argc < 2 || strcmp(argv[1], "--"))
		return cli_usage_err("approve", "approve wants '--' and a command after the PATTERN");
	if (argc < 3)
		return cli_usage_err("approve", "approve wants a command after '--'");
	a->cmd = argv + 2;
	return cli_check_name(a->pattern, true);
}

static int approve_register(struct approve *a)
{
	int ret = evbus_approver_add(a->bus, a->pattern, a->priority, a->deflt,
				     &a->id);

	switch (-ret) {
	case 0:
		return 0;
	case EOPNOTSUPP:
		cli_err("cannot approve '%s': the loaded evbus module has no approval gate (no 'approval' feature)",
			a->pattern);
		return EXIT_RUNTIME;
	case EACCES:
		cli_err("cannot approve '%s': %s (EACCES: the bus's policy withholds the approve right on it, or this handle's scope refuses it)",
			a->pattern, strerror(-ret));
		return EXIT_RUNTIME;
	case ENOSPC:
		cli_err("cannot approve '%s': too many approvers (per file, per bus or per user: module parameters max_approvers, max_user_approvers)",
			a->pattern);
		return EXIT_RUNTIME;
	default: {
		char what[EVBUS_TOPIC_MAX + 32];

		snprintf(what, sizeof(what), "cannot approve '%s'", a->pattern);
		return cli_errno_exit(what, ret);
	}
	}
}

int cmd_approve(int argc, char **argv)
{
	struct approve a = { .from = -1, .sigfd = -1 };
	int ret;

	ret = approve_parse(argc, argv, &a);
	if (ret)
		return ret;
	/* A CMD that is gone makes writes fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	a.sigfd = signalfd_open(NULL, 0);
	if (a.sigfd < 0)
		return cli_errno_exit("signalfd", a.sigfd);
	ret = cli_open(&a.bus, 0);
	if (ret)
		goto out;
	ret = approve_register(&a);
	if (!ret)
		ret = approve_spawn(&a);
	if (!ret) {
		if (a.verbose)
			cli_err("approve: approver %u on '%s' (priority %d, default %s) asks %s",
				a.id, a.pattern, a.priority,
				a.deflt == EVBUS_DENY ? "deny" : "allow", a.cmd[0]);
		if (a.ready) {
			fputs("ready\n", stderr);
			fflush(stderr);
		}
		ret = approve_loop(&a);
	}
	/* The handle first: pending requests get the default before CMD ends. */
	evbus_close(a.bus);
	a.bus = NULL;
	approve_reap(&a);
out:
	close(a.sigfd);
	free(a.buf);
	return ret;
}
