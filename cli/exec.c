// SPDX-License-Identifier: GPL-2.0
/*
 * evbus exec: run a command with a scoped handle.
 *
 *   evbus exec [--publish PATTERN]... [--subscribe PATTERN]... -- CMD [ARGS]
 *
 * Opens a new file of the device, narrows it (EVBUS_IOC_NARROW) to the
 * given patterns, leaves it open across exec with its number in EVBUS_FD,
 * and runs CMD in place of this process.  A right given no pattern is
 * taken away.  The scope belongs to the open file: CMD and whatever it
 * passes the descriptor to cannot widen it.  A new file is opened even
 * when EVBUS_FD is set, because narrowing an inherited file would narrow
 * it for every other holder too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char exec_usage[] =
"usage: evbus exec [--publish PATTERN]... [--subscribe PATTERN]... -- CMD [ARGS]\n"
"\n"
"Open the bus, narrow that open file irreversibly to publishing on topics\n"
"matching a --publish PATTERN and subscribing within a --subscribe PATTERN,\n"
"and run CMD with the file's descriptor number in EVBUS_FD.  libevbus and\n"
"every evbus command use that handle instead of opening the device.  A\n"
"right given no PATTERN is taken away (give '>' to keep all of it).\n"
"\n"
"      --publish P    CMD may publish on topics matching P (up to 16)\n"
"      --subscribe P  CMD may subscribe to patterns within P (up to 16)\n"
"  -h, --help         this text\n"
"\n"
"Exit status: CMD's, or 1 if the handle cannot be made, 2 for a usage\n"
"error, 126 if CMD cannot be run, 127 if it is not found.\n";

struct exec_args {
	const char *pub[EVBUS_SCOPE_MAX];
	const char *sub[EVBUS_SCOPE_MAX];
	unsigned int n_pub, n_sub;
	char **cmd;
};

static int exec_add(const char **set, unsigned int *n, const char *pattern,
		    const char *opt)
{
	int ret = cli_check_name(pattern, true);

	if (ret)
		return ret;
	if (*n == EVBUS_SCOPE_MAX)
		return cli_usage_err("exec", "at most %d %s patterns", EVBUS_SCOPE_MAX, opt);
	set[(*n)++] = pattern;
	return 0;
}

static int exec_parse(int argc, char **argv, struct exec_args *a)
{
	static const struct option opts[] = {
		{ "publish", required_argument, NULL, 'p' },
		{ "subscribe", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, ret;

	/* "+": stop at the first non-option, CMD's own options are its own. */
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			ret = exec_add(a->pub, &a->n_pub, optarg, "--publish");
			if (ret)
				return ret;
			break;
		case 's':
			ret = exec_add(a->sub, &a->n_sub, optarg, "--subscribe");
			if (ret)
				return ret;
			break;
		case 'h':
			fputs(exec_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("exec", opt, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_err("exec", "exec wants a command to run after '--'");
	if (!a->n_pub && !a->n_sub)
		return cli_usage_err("exec", "give --publish or --subscribe patterns: a handle that may do nothing is of no use");
	a->cmd = argv + optind;
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	EVBUS_OPTS(evbus_opts, opts, .flags = EVBUS_OPEN_NO_ENV);
	struct exec_args a = {};
	const char *dev = getenv(ENV_DEVICE);
	struct evbus *bus;
	char num[16];
	int ret, fd, err;

	ret = exec_parse(argc, argv, &a);
	if (ret)
		return ret;
	if (dev && *dev)
		opts.path = dev;
	ret = evbus_open(&bus, &opts);
	if (ret)
		return cli_errno_exit(opts.path ? opts.path : EVBUS_DEVICE_PATH, ret);
	ret = evbus_narrow(bus, a.pub, a.n_pub, a.sub, a.n_sub, 0);
	if (ret) {
		evbus_close(bus);
		return cli_errno_exit("cannot narrow the handle", ret);
	}
	/* Keep it open across exec; never as 0, 1 or 2. */
	fd = evbus_fd(bus);
	if (fd <= 2 || fcntl(fd, F_SETFD, 0)) {
		err = fd <= 2 ? EBADF : errno;
		evbus_close(bus);
		return cli_errno_exit("cannot pass the handle on", -err);
	}
	snprintf(num, sizeof(num), "%d", fd);
	if (setenv(EVBUS_FD_ENV, num, 1)) {
		err = errno;
		evbus_close(bus);
		return cli_errno_exit("setenv", -err);
	}
	execvp(a.cmd[0], a.cmd);
	err = errno;
	cli_err("cannot run %s: %s", a.cmd[0], strerror(err));
	evbus_close(bus);
	return err == ENOENT ? 127 : 126;
}
