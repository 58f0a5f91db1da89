// SPDX-License-Identifier: GPL-2.0
/* Helpers for the evbus command: messages, opening the device, parsing. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("evbus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error in command cmd: the message, a pointer to help, exit 2. */
int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("evbus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'evbus %s%s--help'.\n", cmd ? cmd : "",
		cmd ? " " : "");
	return EXIT_USAGE;
}

/* getopt_long() said '?' or ':' (the optstring starts with "+:"). */
int cli_bad_opt(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return cli_usage_err(cmd, "option '%s' needs a value", arg);
	if (optopt && strncmp(arg, "--", 2))
		return cli_usage_err(cmd, "unknown option '-%c'", optopt);
	return cli_usage_err(cmd, "unknown option '%s'", arg);
}

/* What EACCES and EPERM mean from the bus, beyond strerror(). */
static const char *cli_errno_why(int err)
{
	switch (-err) {
	case EACCES:
		return "EACCES: refused by the bus's policy or this handle's scope";
	case EPERM:
		return "EPERM: only the bus's owner may do this";
	default:
		return NULL;
	}
}

int cli_errno_exit(const char *what, int err)
{
	const char *why = cli_errno_why(err);

	if (why)
		cli_err("%s: %s (%s)", what, strerror(-err), why);
	else
		cli_err("%s: %s", what, strerror(-err));
	return EXIT_RUNTIME;
}

static void cli_explain_open(const char *path, int err)
{
	struct stat st;

	switch (-err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		cli_err("cannot open %s: %s", path, strerror(-err));
		fprintf(stderr,
			"The evbus kernel module is not loaded.  Load it with\n"
			"  sudo modprobe evbus        (installed with 'make install')\n"
			"  sudo insmod evbus.ko       (from the build tree)\n");
		break;
	case EACCES:
	case EPERM:
		cli_err("cannot open %s: %s", path, strerror(-err));
		if (!stat(path, &st))
			fprintf(stderr,
				"%s is mode %04o, owner uid %u, group gid %u: run as root,\n"
				"join that group, or load the module with dev_mode=0666.\n",
				path, st.st_mode & 07777, st.st_uid, st.st_gid);
		break;
	default:
		cli_err("cannot open %s: %s", path, strerror(-err));
	}
}

/*
 * Open the bus: the handle inherited in EVBUS_FD if there is one (from
 * `evbus exec`), else EVBUS_DEVICE or /dev/evbus.  On failure explain and
 * say 1.
 */
int cli_open(struct evbus **bus, unsigned int flags)
{
	const char *path = getenv(ENV_DEVICE);
	const char *fd = getenv(EVBUS_FD_ENV);
	EVBUS_OPTS(evbus_opts, opts, .flags = flags);
	int ret;

	if (path && *path)
		opts.path = path;
	ret = evbus_open(bus, &opts);
	if (!ret)
		return 0;
	if (!opts.path && fd && *fd) {
		cli_err("cannot use the evbus handle EVBUS_FD=%s: %s", fd,
			ret == -ENOTTY ? "it is not an open /dev/evbus file" :
			strerror(-ret));
		return EXIT_RUNTIME;
	}
	cli_explain_open(opts.path ? opts.path : EVBUS_DEVICE_PATH, ret);
	return EXIT_RUNTIME;
}

/* Check a topic or pattern before the kernel sees it: 0, or 2 with a message. */
int cli_check_name(const char *s, bool pattern)
{
	const char *why;

	if (!(pattern ? evbus_check_pattern(s, &why) : evbus_check_topic(s, &why)))
		return 0;
	cli_err("invalid %s '%s': it %s", pattern ? "pattern" : "topic", s, why);
	fprintf(stderr,
		"Topics are 1-255 bytes of up to 20 dot-separated segments of [A-Za-z0-9_:-]%s\n",
		pattern ? ";\npatterns may use '*' for one whole segment and '>' as the whole last segment."
			: ".");
	return EXIT_USAGE;
}

/* Unsigned decimal (leading zeros are not octal) or 0x hex; no sign. */
bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	int saved = errno, base = 10;
	char *end;
	bool ok;

	if (!s)
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	/* strtoull() would accept blanks and a sign: insist on a digit. */
	if (base == 16 ? !isxdigit((unsigned char)*s) : !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	ok = !errno && !*end;
	errno = saved;
	if (ok)
		*out = v;
	return ok;
}

bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Bytes with an optional K or M suffix (binary), up to 64 bits. */
bool parse_bytes(const char *s, uint64_t *out)
{
	char buf[32];
	size_t len = s ? strlen(s) : 0;
	uint64_t v, mult = 1;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	switch (buf[len - 1]) {
	case 'k': case 'K': mult = 1024; buf[--len] = '\0'; break;
	case 'm': case 'M': mult = 1024 * 1024; buf[--len] = '\0'; break;
	}
	if (!parse_u64(buf, &v) || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

/* The same, up to 32 bits. */
bool parse_size(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!parse_bytes(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Seconds, possibly fractional ("2", "0.5"), to milliseconds. */
bool parse_secs(const char *s, long long *ms)
{
	char *end;
	double v;
	long long m;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	v = strtod(s, &end);
	if (*end || !(v >= 0 && v <= 1e9))	/* also rejects NaN */
		return false;
	v *= 1000;
	m = (long long)v;
	*ms = m < v ? m + 1 : m;		/* round up: never wait too little */
	return true;
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Block SIGINT and SIGTERM, and extra unless it is 0 (SIGUSR1 for a
 * progress line), and return a signalfd that reports them.
 */
int signalfd_open(sigset_t *old, int extra)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (extra)
		sigaddset(&mask, extra);
	if (sigprocmask(SIG_BLOCK, &mask, old))
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}
