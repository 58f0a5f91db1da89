// SPDX-License-Identifier: GPL-2.0
/*
 * evbus: publish, subscribe and inspect the evbus event bus from a shell.
 *
 *   evbus pub [-v] [--retain] [--ask [--deadline MS]] [--wait MS] [--type N]
 *             [--corr ID] [--parent SEQ] TOPIC [DATA]
 *   evbus pub --will [--scope N] [--clear-on-success] [--type N] [--corr ID]
 *             [--parent SEQ] TOPIC [DATA] -- CMD [ARGS]
 *   evbus run-scope [-v] [--parent SEQ] TOPIC -- CMD [ARGS]
 *   evbus sub [--json] [--ready] [--count N] [--timeout SECS] [--ring BYTES]
 *             [--policy drop-oldest|drop-newest | --lossless MS]
 *             [--from-uid U] [--from-gid G]
 *             [--from-pid P] [--type N[-M]] [--filter FILE] [--no-mmap]
 *             [--since SEQ | --last K | --retained] PATTERN...
 *   evbus stat [--json] [--watch SECS]
 *   evbus stat --prometheus [--output FILE [--watch SECS]]
 *   evbus history [--json] [--set-capacity BYTES]
 *   evbus policy list|default|add|remove|clear ...
 *   evbus rate [--json] | (--user U | --all) [--json | --events RATE[/s][:BURST]
 *             [--bytes RATE[/s][:BURST]] | --clear]
 *   evbus exec [--publish PATTERN]... [--subscribe PATTERN]... -- CMD [ARGS]
 *   evbus approve [-v] [--ready] [--deny-by-default] [--priority N] PATTERN -- CMD [ARGS]
 *   evbus version
 *
 * Each subcommand lives in its own file; this one dispatches and
 * implements `version`.  Exit status: 0 ok, 1 runtime error, 2 usage error.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char main_usage[] =
"usage: evbus COMMAND [OPTIONS] [ARGS]\n"
"\n"
"  pub [-v] [--retain] [--ask [--deadline MS]] [--wait MS] [--type N]\n"
"      [--corr ID] [--parent SEQ] TOPIC [DATA]\n"
"        publish DATA, or each line of stdin, on TOPIC (--retain: also as\n"
"        TOPIC's retained value; an empty DATA clears it; --ask: only if the\n"
"        bus's approvers allow it; --wait: over the rate limit, wait for it)\n"
"  pub --will [--scope N] [--clear-on-success] [--type N] [--corr ID]\n"
"      [--parent SEQ] TOPIC [DATA] -- CMD [ARGS]\n"
"        run CMD holding a last will: DATA on TOPIC, published by the kernel\n"
"        when evbus ends, however it ends\n"
"  run-scope [-v] [--parent SEQ] TOPIC -- CMD [ARGS]\n"
"        publish TOPIC.started, run CMD, then TOPIC.success or TOPIC.failed\n"
"        by its exit status (TOPIC.failed by a will if evbus is killed)\n"
"  sub [--json] [--ready] [--count N] [--timeout SECS] [--ring BYTES]\n"
"      [--policy drop-oldest|drop-newest | --lossless MS] [--from-uid U]\n"
"      [--from-gid G] [--from-pid P] [--type N[-M]] [--filter FILE] [--no-mmap]\n"
"      [--since SEQ | --last K | --retained] PATTERN...\n"
"        print events matching the patterns as they arrive (--since, --last,\n"
"        --retained: first from the bus's history or its retained values;\n"
"        --lossless: a full ring makes publishers wait up to MS ms)\n"
"  stat [--json] [--watch SECS]\n"
"  stat --prometheus [--output FILE [--watch SECS]]\n"
"        show this bus's counters, the module's totals and parameters\n"
"        (--prometheus: for node_exporter's textfile collector)\n"
"  history [--json] [--set-capacity BYTES]\n"
"        show this bus's history and retained values (the bus's owner may\n"
"        size the history)\n"
"  policy list [--json]\n"
"  policy default allow|deny [--revoke]\n"
"  policy add allow|deny|ask RIGHT[,RIGHT] (--uid U | --gid G | --all) [--revoke] PATTERN\n"
"  policy remove [--revoke] ID\n"
"  policy clear [--revoke]\n"
"        read or change the topic policy of this bus\n"
"  rate [--json]\n"
"  rate (--user U | --all) [--json]\n"
"  rate (--user U | --all) [--events RATE[/s][:BURST]] [--bytes RATE[/s][:BURST]]\n"
"  rate (--user U | --all) --clear\n"
"        show the rate limits that apply to this command, or show, set or\n"
"        remove a user's limit on this bus (the bus's owner sets them)\n"
"  record (--sqlite FILE | --postgres CONNINFO) [--progress] PATTERN...\n"
"  record (--sqlite FILE | --postgres CONNINFO) --query [--json]\n"
"        record events into a database, resuming after a restart\n"
"  exec [--publish PATTERN]... [--subscribe PATTERN]... -- CMD [ARGS]\n"
"        run CMD with a handle narrowed to the patterns, in EVBUS_FD\n"
"  approve [-v] [--ready] [--deny-by-default] [--priority N] PATTERN -- CMD [ARGS]\n"
"        approve, deny or modify asking publishes on PATTERN: CMD gets each\n"
"        request as a JSON line and answers allow, deny [ERRNO] or a JSON\n"
"        object with the new payload\n"
"  bridge [--server URL]... [--export PATTERN]... [--import SUBJECT]...\n"
"      [--jetstream STREAM --state FILE] ...\n"
"        carry events between this bus and NATS (see evbus bridge --help)\n"
"  version\n"
"        show the library version and the kernel ABI and features\n"
"\n"
"'evbus COMMAND --help' describes a command; see also evbus(1).\n";

int cmd_version(int argc, char **argv)
{
	struct evbus_version v;
	struct evbus *bus;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("usage: evbus version\n\nShow the library version and the kernel ABI version, features and limits.");
		return 0;
	}
	if (argc > 1)
		return cli_usage_err("version", "version takes no arguments ('%s')", argv[1]);

	printf("libevbus:     %s (built for kernel ABI %d)\n", evbus_lib_version(),
	       EVBUS_ABI_VERSION);
	fflush(stdout);
	ret = cli_open(&bus, EVBUS_OPEN_RDONLY);
	if (ret)
		return ret;
	ret = evbus_query(bus, &v);
	evbus_close(bus);
	if (ret)
		return cli_errno_exit("EVBUS_IOC_VERSION", ret);
	printf("kernel ABI:   %u%s\n", v.abi_version,
	       v.abi_version == EVBUS_ABI_VERSION ? "" : " (differs from the library's)");
	fputs("features:     ", stdout);
	put_features(stdout, v.features);
	putchar('\n');
	printf("max_payload:  %u bytes\n", v.max_payload);
	printf("max_subs:     %u per file\n", v.max_subs);
	printf("ring_default: %u bytes\n", v.ring_default);
	printf("ring_max:     %u bytes\n", v.ring_max);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "pub", cmd_pub },
		{ "sub", cmd_sub },
		{ "stat", cmd_stat },
		{ "history", cmd_history },
		{ "policy", cmd_policy },
		{ "rate", cmd_rate },
		{ "record", cmd_record },
		{ "exec", cmd_exec },
		{ "approve", cmd_approve },
		{ "run-scope", cmd_run_scope },
		{ "bridge", cmd_bridge },
		{ "version", cmd_version },
	};
	const char *cmd = argc > 1 ? argv[1] : NULL;
	size_t i;

	opterr = 0;	/* every command reports its own option errors */
	if (!cmd) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
		cmd = "version";
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return cli_usage_err(NULL, "unknown command '%s' (pub, sub, stat, history, policy, rate, exec, approve, run-scope, bridge or version)", cmd);
}
