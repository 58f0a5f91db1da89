// SPDX-License-Identifier: GPL-2.0
/*
 * Commands that hold a will while another command runs:
 *
 *   evbus pub --will [--scope N] [--clear-on-success] [--type N] [--corr ID]
 *             [--parent SEQ] TOPIC [DATA] -- CMD [ARGS]
 *   evbus run-scope [-v] [--parent SEQ] TOPIC -- CMD [ARGS]
 *
 * Both open the bus (their own file, close-on-exec: CMD does not hold it),
 * arm a will on it, run CMD as a child, wait for it and exit with its
 * status (128 + the signal if a signal ended it).  The will fires when
 * this process's file is released: when evbus exits, or is killed, even
 * by SIGKILL.  SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to evbus are
 * passed on to CMD, whose end decides as usual.
 *
 * pub --will: the will is TOPIC [DATA] and fires when evbus ends, however
 * CMD ended, unless --clear-on-success and CMD exited with status 0 (then
 * it is disarmed and nothing is published): "tell them when CMD is done",
 * or with --clear-on-success, "tell them if CMD or this wrapper failed".
 *
 * run-scope: evbus_scope_begin() on TOPIC (TOPIC.started, with CMD's
 * command line as payload; its seq is the scope id, in EVBUS_SCOPE for
 * CMD), then evbus_scope_end() by CMD's exit status (TOPIC.success or
 * TOPIC.failed, with "exit N" or "signal N" as payload).  If evbus dies
 * before that, the will publishes an empty TOPIC.failed flagged will.
 * --parent defaults to $EVBUS_SCOPE, so run-scopes nest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"

#define ENV_SCOPE	"EVBUS_SCOPE"

/*
 * Run cmd as a child and wait for it, passing on the signals a wrapper
 * should.  Returns 0 with its wait status in *st, or an exit code after a
 * message.  scope_env, if not NULL, goes into CMD's EVBUS_SCOPE.
 */
static int run_cmd(const char *who, char **cmd, const char *scope_env,
		   int *st)
{
	sigset_t mask, old;
	siginfo_t si;
	pid_t pid;
	int err, sig;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, &old))
		return cli_errno_exit("sigprocmask", -errno);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cli_errno_exit("fork", -err);
	}
	if (!pid) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (scope_env && setenv(ENV_SCOPE, scope_env, 1))
			_exit(126);
		execvp(cmd[0], cmd);
		err = errno;
		cli_err("%s: cannot run %s: %s", who, cmd[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	for (;;) {
		sig = sigwaitinfo(&mask, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			kill(pid, SIGKILL);
			waitpid(pid, st, 0);
			sigprocmask(SIG_SETMASK, &old, NULL);
			return cli_errno_exit("sigwaitinfo", -err);
		}
		if (sig != SIGCHLD) {
			kill(pid, sig);
			continue;
		}
		if (waitpid(pid, st, WNOHANG) == pid)
			break;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* The exit status of a wrapper of CMD: CMD's, or 128 + its signal. */
static int cmd_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_RUNTIME;
}

/*
 * Split "TOPIC [DATA] -- CMD [ARGS]": 0, or a usage error's 2.  eaten:
 * getopt took a "--" before TOPIC (then argv may be CMD alone).
 */
static int split_cmd(const char *name, int argc, char **argv, int max_args,
		     bool eaten, int *nargs, char ***cmd)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		;
	if (i == argc && eaten)
		return cli_usage_err(name, "%s needs a TOPIC before '--'", name);
	if (i == argc)
		return cli_usage_err(name, "%s wants '--' and a command after the TOPIC",
				     name);
	if (i == 0)
		return cli_usage_err(name, "%s needs a TOPIC", name);
	if (i > max_args)
		return cli_usage_err(name, "too many arguments before '--'%s",
				     max_args > 1 ? ": quote DATA if it has spaces" : "");
	if (i + 1 == argc)
		return cli_usage_err(name, "%s wants a command after '--'", name);
	*nargs = i;
	*cmd = argv + i + 1;
	return 0;
}

/* An error arming a will: what it means, exit 1. */
static int will_err(const char *what, const char *topic, int err)
{
	char buf[EVBUS_TOPIC_MAX + 64];

	if (err == -EOPNOTSUPP) {
		cli_err("%s: the loaded evbus module has no last wills (no 'will' feature)",
			what);
		return EXIT_RUNTIME;
	}
	if (err == -ENOSPC) {
		cli_err("%s on '%s': %s (ENOSPC: a will counts as a subscription: max_subs or max_user_subs)",
			what, topic, strerror(-err));
		return EXIT_RUNTIME;
	}
	snprintf(buf, sizeof(buf), "%s on '%s'", what, topic);
	return cli_errno_exit(buf, err);
}

int pub_will(int argc, char **argv, bool eaten,
	     const struct evbus_pub_opts *po, uint64_t scope,
	     bool clear_on_success)
{
	struct evbus *bus;
	const char *topic, *data;
	char **cmd;
	int ret, nargs, st;

	ret = split_cmd("pub", argc, argv, 2, eaten, &nargs, &cmd);
	if (ret)
		return ret;
	topic = argv[0];
	data = nargs == 2 ? argv[1] : "";
	ret = cli_check_name(topic, false);
	if (ret)
		return ret;
	ret = cli_open(&bus, EVBUS_OPEN_WRONLY);
	if (ret)
		return ret;
	ret = evbus_will_set(bus, scope, topic, data, strlen(data), po);
	if (ret) {
		evbus_close(bus);
		return will_err("pub: cannot arm the will", topic, ret);
	}
	ret = run_cmd("pub", cmd, NULL, &st);
	if (ret) {
		evbus_close(bus);	/* the will fires */
		return ret;
	}
	ret = cmd_status(st);
	if (clear_on_success && WIFEXITED(st) && !WEXITSTATUS(st)) {
		int err = evbus_will_clear(bus, scope);

		if (err)
			ret = will_err("pub: cannot clear the will", topic, err);
	}
	evbus_close(bus);
	return ret;
}

static const char run_scope_usage[] =
"usage: evbus run-scope [-v] [--parent SEQ] TOPIC -- CMD [ARGS]\n"
"\n"
"Publish TOPIC.started (payload: the command line), run CMD, and publish\n"
"TOPIC.success if it exits with status 0, else TOPIC.failed.  If evbus\n"
"itself dies first, even by SIGKILL, the kernel publishes TOPIC.failed\n"
"(flagged will).  Events after .started have corr and parent = the scope\n"
"id, the seq of .started; CMD gets it in EVBUS_SCOPE.\n"
"\n"
"  -v, --verbose     print the scope id on stdout before CMD runs\n"
"      --parent SEQ  the enclosing scope (default: $EVBUS_SCOPE, or none)\n"
"  -h, --help        this text\n"
"\n"
"Exit status: CMD's (128 + N if signal N ended it), 1 if the scope could\n"
"not be started or its end not published, 2 for a usage error.\n";

/* "ls -l /tmp": argv joined by spaces, or NULL. */
static char *join_args(char **argv)
{
	size_t len = 1;
	char **a, *s, *p;

	for (a = argv; *a; a++)
		len += strlen(*a) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = '\0';
	for (a = argv; *a; a++)
		p += sprintf(p, "%s%s", a == argv ? "" : " ", *a);
	return s;
}

int cmd_run_scope(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "parent", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *env = getenv(ENV_SCOPE), *topic;
	uint64_t parent = 0, scope;
	bool verbose = false, have_parent = false, eaten;
	char **cmd, *line, *why, num[24], end[48];
	struct evbus *bus;
	int opt, ret, nargs, st;

	while ((opt = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			verbose = true;
			break;
		case 'p':
			if (!parse_u64(optarg, &parent))
				return cli_usage_err("run-scope", "--parent wants a sequence number, not '%s'", optarg);
			have_parent = true;
			break;
		case 'h':
			fputs(run_scope_usage, stdout);
			return 0;
		default:
			return cli_bad_opt("run-scope", opt, argv);
		}
	}
	eaten = !strcmp(argv[optind - 1], "--");
	argc -= optind;
	argv += optind;
	ret = split_cmd("run-scope", argc, argv, 1, eaten, &nargs, &cmd);
	if (ret)
		return ret;
	topic = argv[0];
	ret = cli_check_name(topic, false);
	if (ret)
		return ret;
	if (strlen(topic) > EVBUS_SCOPE_PREFIX_MAX)
		return cli_usage_err("run-scope", "TOPIC is longer than %d bytes: no room for '.progress'",
				     EVBUS_SCOPE_PREFIX_MAX);
	if (!have_parent && env && *env && !parse_u64(env, &parent)) {
		cli_err("run-scope: ignoring %s='%s': not a sequence number", ENV_SCOPE, env);
		parent = 0;
	}
	line = join_args(cmd);
	if (!line)
		return cli_errno_exit("out of memory", -ENOMEM);
	ret = cli_open(&bus, EVBUS_OPEN_WRONLY);
	if (ret)
		goto out;
	ret = evbus_scope_begin(bus, topic, line, strlen(line), parent, &scope);
	if (ret) {
		ret = will_err("run-scope: cannot start the scope", topic, ret);
		goto close;
	}
	snprintf(num, sizeof(num), "%" PRIu64, scope);
	if (verbose && (printf("%s\n", num) < 0 || fflush(stdout))) {
		ret = cli_errno_exit("writing stdout", -errno);
		goto close;	/* the will ends the scope */
	}
	ret = run_cmd("run-scope", cmd, num, &st);
	if (ret)
		goto close;
	ret = cmd_status(st);
	if (WIFEXITED(st))
		snprintf(end, sizeof(end), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(end, sizeof(end), "signal %d", WTERMSIG(st));
	else
		snprintf(end, sizeof(end), "ended");
	st = evbus_scope_end(bus, scope, ret == 0, end, strlen(end));
	if (st) {
		why = ret == 0 ? "success" : "failed";
		cli_err("run-scope: cannot publish %s.%s for scope %s: %s%s", topic,
			why, num, strerror(-st),
			ret == 0 ? " (its will reports it failed)" : "");
		if (!ret)
			ret = EXIT_RUNTIME;
	}
close:
	evbus_close(bus);
out:
	free(line);
	return ret;
}
