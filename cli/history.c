// SPDX-License-Identifier: GPL-2.0
/*
 * evbus history: the state of this bus's history of events and of its
 * retained values (EVBUS_IOC_HISTORY), as "name: value" lines or one JSON
 * object; --set-capacity BYTES first sets the history's size (the bus's
 * owner only; it empties the history).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"

static const char history_usage[] =
"usage: evbus history [--json] [--set-capacity BYTES]\n"
"\n"
"Show the history of this IPC namespace's bus, which 'evbus sub --since' and\n"
"'--last' replay, and its retained values: capacity and bytes held, events\n"
"held and the oldest and newest seq among them (0: none), the seq the next\n"
"event will get, events evicted to make room, events skipped (larger than\n"
"the history), events replayed from it, retained values and their bytes.\n"
"\n"
"      --json        one JSON object\n"
"      --set-capacity BYTES\n"
"                    first set the history's size (K and M suffixes; rounded\n"
"                    up; 0 turns it off) and empty it; needs the bus's owner\n"
"                    (CAP_SYS_ADMIN in the user namespace owning the IPC\n"
"                    namespace) and at most the module's history_max\n"
"  -h, --help        this text\n";

/* The fields of struct evbus_history, by name, in the order shown. */
#define HIST_FIELD(f)	{ #f, offsetof(struct evbus_history, f) }
static const struct {
	const char *name;
	size_t off;
} hist_fields[] = {
	HIST_FIELD(capacity), HIST_FIELD(bytes), HIST_FIELD(events),
	HIST_FIELD(oldest_seq), HIST_FIELD(newest_seq), HIST_FIELD(next_seq),
	HIST_FIELD(evicted), HIST_FIELD(skipped), HIST_FIELD(replayed),
	HIST_FIELD(retained), HIST_FIELD(retained_bytes),
};
#define NFIELDS	(sizeof(hist_fields) / sizeof(hist_fields[0]))

static uint64_t hist_get(const struct evbus_history *h, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)h + hist_fields[i].off, sizeof(v));
	return v;
}

static void history_print(const struct evbus_history *h, bool json)
{
	size_t i;

	if (json)
		putchar('{');
	for (i = 0; i < NFIELDS; i++) {
		if (json)
			printf("%s\"%s\":%" PRIu64, i ? "," : "",
			       hist_fields[i].name, hist_get(h, i));
		else
			printf("%s:%*s%" PRIu64 "\n", hist_fields[i].name,
			       (int)(16 - strlen(hist_fields[i].name)), "",
			       hist_get(h, i));
	}
	if (json)
		puts("}");
}

static int history_set(struct evbus *bus, uint64_t bytes)
{
	int ret = evbus_set_history_capacity(bus, bytes);

	switch (-ret) {
	case 0:
		return 0;
	case EINVAL:
		cli_err("the module refused a history of %" PRIu64 " bytes: it is above its history_max (see /sys/module/evbus/parameters/)",
			bytes);
		return EXIT_RUNTIME;
	case EDQUOT:
		cli_err("cannot set the history to %" PRIu64 " bytes: %s (EDQUOT: more than this user's max_user_history_bytes over its buses)",
			bytes, strerror(-ret));
		return EXIT_RUNTIME;
	case EOPNOTSUPP:
		cli_err("the loaded evbus module keeps no history (no 'history' feature)");
		return EXIT_RUNTIME;
	default:
		return cli_errno_exit("cannot set the history's capacity", ret);
	}
}

int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "set-capacity", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct evbus_history h;
	struct evbus *bus;
	uint64_t capacity = 0;
	bool json = false, set = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			if (!parse_bytes(optarg, &capacity))
				return cli_usage_err("history", "--set-capacity wants a size in bytes (e.g. 1048576 or 1M; 0: none), not '%s'", optarg);
			set = true;
			break;
		case 'h':
			fputs(history_usage, stdout);
			return 0;
		default:
			return cli_bad_opt("history", opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_err("history", "history takes no arguments ('%s')", argv[optind]);

	ret = cli_open(&bus, set ? 0 : EVBUS_OPEN_RDONLY);
	if (ret)
		return ret;
	ret = set ? history_set(bus, capacity) : 0;
	if (!ret) {
		ret = evbus_get_history(bus, &h);
		if (ret == -EOPNOTSUPP) {
			cli_err("the loaded evbus module keeps no history (no 'history' feature)");
			ret = EXIT_RUNTIME;
		} else if (ret) {
			ret = cli_errno_exit("cannot read the history", ret);
		}
	}
	evbus_close(bus);
	if (ret)
		return ret;
	history_print(&h, json);
	return fflush(stdout) ? cli_errno_exit("writing stdout", -errno) : 0;
}
