// SPDX-License-Identifier: GPL-2.0
/*
 * evbus policy: read and change the topic policy of the caller's bus.
 *
 *   evbus policy list [--json]
 *   evbus policy default allow|deny [--revoke]
 *   evbus policy add allow|deny RIGHT[,RIGHT] (--uid U | --gid G | --all)
 *                    [--revoke] PATTERN
 *   evbus policy remove [--revoke] ID
 *   evbus policy clear [--revoke]
 *
 * Anyone on the bus may list it; every change needs the bus's owner, and
 * the kernel says EPERM otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char policy_usage[] =
"usage: evbus policy list [--json]\n"
"       evbus policy default allow|deny [--revoke]\n"
"       evbus policy add allow|deny|ask RIGHT[,RIGHT] (--uid U | --gid G | --all)\n"
"                        [--revoke] PATTERN\n"
"       evbus policy remove [--revoke] ID\n"
"       evbus policy clear [--revoke]\n"
"\n"
"Read or change the topic policy of this IPC namespace's bus.  A publish\n"
"needs a rule allowing 'publish' on a pattern matching its topic, a\n"
"subscription one allowing 'subscribe' on a pattern containing it, or a\n"
"default of allow; a deny rule that applies always wins.  RIGHT is\n"
"publish, subscribe, replay, approve or wait: a subscription that reaches\n"
"into the past (sub --since, --last, --retained) needs 'replay' on its\n"
"pattern besides 'subscribe'; 'evbus approve' needs 'approve' on its\n"
"pattern; an allow rule with 'wait' lets publishes on its pattern wait for\n"
"other users' lossless subscribers ('evbus sub --lossless'), which only\n"
"publishers of the subscriber's euid do otherwise.  An\n"
"'ask' rule (right publish only) sends every publish it matches through\n"
"the approvers ('evbus approve'), which the publisher cannot skip; with no\n"
"approver such a publish fails.  Changes need the bus's owner (CAP_SYS_ADMIN in\n"
"the user namespace owning the IPC namespace); clear also restores the\n"
"default of allow.  'add' prints the new rule's id.\n"
"\n"
"      --json        list: one JSON object\n"
"      --uid U       the rule applies to files opened with euid U (number or name)\n"
"      --gid G       ... with egid or a supplementary group G\n"
"      --all         ... to everyone\n"
"      --revoke      also remove existing subscriptions the new policy refuses\n"
"                    (their readers get a 'revoked' record)\n"
"  -h, --help        this text\n";

#define LIST_PAGE	64

struct policy_args {
	bool json;
	bool revoke;
	uint32_t who;		/* EVBUS_WHO_*, UINT32_MAX: not given */
	uint32_t id;
	char **pos;		/* positional arguments after the verb */
	int npos;
	/* what the positional arguments say, checked before the device opens */
	uint32_t verdict;
	uint32_t rights;
	uint32_t rule;		/* remove */
};

static const char *verdict_name(uint32_t v)
{
	return v == EVBUS_ALLOW ? "allow" : v == EVBUS_DENY ? "deny" :
	       v == EVBUS_ASK ? "ask" : "?";
}

/* allow, deny, and (rules only: ask_ok) ask. */
static bool parse_verdict(const char *s, uint32_t *v, bool ask_ok)
{
	if (!strcmp(s, "allow"))
		*v = EVBUS_ALLOW;
	else if (!strcmp(s, "deny"))
		*v = EVBUS_DENY;
	else if (ask_ok && !strcmp(s, "ask"))
		*v = EVBUS_ASK;
	else
		return false;
	return true;
}

/* "publish", "subscribe", "replay", "approve", "wait", comma-separated. */
static bool parse_rights(const char *s, uint32_t *rights)
{
	char buf[64], *tok, *save;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	*rights = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "publish"))
			*rights |= EVBUS_RIGHT_PUBLISH;
		else if (!strcmp(tok, "subscribe"))
			*rights |= EVBUS_RIGHT_SUBSCRIBE;
		else if (!strcmp(tok, "replay"))
			*rights |= EVBUS_RIGHT_REPLAY;
		else if (!strcmp(tok, "approve"))
			*rights |= EVBUS_RIGHT_APPROVE;
		else if (!strcmp(tok, "wait"))
			*rights |= EVBUS_RIGHT_WAIT;
		else
			return false;
	}
	return *rights != 0;
}

static bool parse_user(const char *s, uint32_t *uid)
{
	struct passwd *pw;

	if (parse_u32(s, uid))
		return true;
	pw = getpwnam(s);
	if (pw)
		*uid = pw->pw_uid;
	return pw != NULL;
}

static bool parse_group(const char *s, uint32_t *gid)
{
	struct group *gr;

	if (parse_u32(s, gid))
		return true;
	gr = getgrnam(s);
	if (gr)
		*gid = gr->gr_gid;
	return gr != NULL;
}

static int policy_set_who(struct policy_args *a, uint32_t who)
{
	if (a->who != UINT32_MAX)
		return cli_usage_err("policy", "give one of --uid, --gid and --all");
	a->who = who;
	return 0;
}

static int policy_parse(int argc, char **argv, struct policy_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "revoke", no_argument, NULL, 'r' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, ret = 0;

	a->who = UINT32_MAX;
	while (!ret && (opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'r':
			a->revoke = true;
			break;
		case 'u':
			if (!parse_user(optarg, &a->id))
				return cli_usage_err("policy", "--uid wants a uid or a user name, not '%s'", optarg);
			ret = policy_set_who(a, EVBUS_WHO_UID);
			break;
		case 'g':
			if (!parse_group(optarg, &a->id))
				return cli_usage_err("policy", "--gid wants a gid or a group name, not '%s'", optarg);
			ret = policy_set_who(a, EVBUS_WHO_GID);
			break;
		case 'a':
			a->id = 0;
			ret = policy_set_who(a, EVBUS_WHO_ALL);
			break;
		case 'h':
			fputs(policy_usage, stdout);
			exit(0);
		default:
			return cli_bad_opt("policy", opt, argv);
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return ret;
}

/* The rights as "publish,subscribe,replay,approve,wait" (JSON: quoted); its length. */
static int put_rights(FILE *f, uint32_t rights, bool json)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ EVBUS_RIGHT_PUBLISH, "publish" },
		{ EVBUS_RIGHT_SUBSCRIBE, "subscribe" },
		{ EVBUS_RIGHT_REPLAY, "replay" },
		{ EVBUS_RIGHT_APPROVE, "approve" },
		{ EVBUS_RIGHT_WAIT, "wait" },
	};
	const char *sep = "";
	int len = 0;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(rights & names[i].bit))
			continue;
		len += fprintf(f, json ? "%s\"%s\"" : "%s%s", sep, names[i].name);
		sep = ",";
	}
	return len;
}

static void put_rule_human(const struct evbus_rule_info *r)
{
	char who[32];
	int len;

	if (r->who == EVBUS_WHO_UID)
		snprintf(who, sizeof(who), "uid %u", r->id_value);
	else if (r->who == EVBUS_WHO_GID)
		snprintf(who, sizeof(who), "gid %u", r->id_value);
	else
		snprintf(who, sizeof(who), "all");
	printf("%-6u %-7s ", r->id, verdict_name(r->verdict));
	len = put_rights(stdout, r->rights, false);
	/* The RIGHTS column is 18 wide; publish,subscribe,replay overflows it. */
	printf("%*s %-12s %s\n", len < 18 ? 18 - len : 0, "", who, r->pattern);
}

static void put_rule_json(const struct evbus_rule_info *r, bool first)
{
	printf("%s{\"id\":%u,\"verdict\":\"%s\",\"rights\":[", first ? "" : ",",
	       r->id, verdict_name(r->verdict));
	put_rights(stdout, r->rights, true);
	if (r->who == EVBUS_WHO_UID)
		printf("],\"who\":\"uid\",\"uid\":%u,\"pattern\":", r->id_value);
	else if (r->who == EVBUS_WHO_GID)
		printf("],\"who\":\"gid\",\"gid\":%u,\"pattern\":", r->id_value);
	else
		printf("],\"who\":\"all\",\"pattern\":");
	put_json_str(stdout, r->pattern, strnlen(r->pattern, sizeof(r->pattern)));
	putchar('}');
}

/* Every rule, a page at a time, in id order. */
static int policy_list(struct evbus *bus, bool json)
{
	static struct evbus_rule_info page[LIST_PAGE];
	uint32_t start = 0, total, def;
	bool first = true;
	int n, i;

	for (;;) {
		n = evbus_policy_list(bus, start, page, LIST_PAGE, &total, &def);
		if (n < 0)
			return cli_errno_exit("cannot read the policy", n);
		if (first && json)
			printf("{\"default\":\"%s\",\"total\":%u,\"rules\":[",
			       verdict_name(def), total);
		else if (first)
			printf("default: %s\n%u rule%s\n%s", verdict_name(def),
			       total, total == 1 ? "" : "s",
			       total ? "ID     VERDICT RIGHTS              WHO          PATTERN\n" : "");
		for (i = 0; i < n; i++) {
			if (json)
				put_rule_json(&page[i], first && !i);
			else
				put_rule_human(&page[i]);
		}
		first = false;
		/* Ids only grow: the next page starts after this one's last. */
		if (n < LIST_PAGE || page[n - 1].id == UINT32_MAX)
			break;
		start = page[n - 1].id + 1;
	}
	if (json)
		puts("]}");
	return fflush(stdout) ? cli_errno_exit("writing stdout", -errno) : 0;
}

/* Check what each verb was given, before anything is opened. */
static int policy_check_args(const char *verb, struct policy_args *a)
{
	bool add = !strcmp(verb, "add"), list = !strcmp(verb, "list");

	if (a->json && !list)
		return cli_usage_err("policy", "--json goes with 'policy list'");
	if (a->revoke && list)
		return cli_usage_err("policy", "--revoke goes with a change, not 'policy list'");
	if (a->who != UINT32_MAX && !add)
		return cli_usage_err("policy", "--uid, --gid and --all go with 'policy add'");
	if (list || !strcmp(verb, "clear")) {
		if (a->npos)
			return cli_usage_err("policy", "policy %s takes no arguments ('%s')",
					     verb, a->pos[0]);
		return 0;
	}
	if (!strcmp(verb, "default")) {
		if (a->npos != 1 || !parse_verdict(a->pos[0], &a->verdict, false))
			return cli_usage_err("policy", "policy default wants allow or deny");
		return 0;
	}
	if (!strcmp(verb, "remove")) {
		if (a->npos != 1 || !parse_u32(a->pos[0], &a->rule) || !a->rule)
			return cli_usage_err("policy", "policy remove wants a rule ID (see 'evbus policy list')");
		return 0;
	}
	if (a->npos != 3)
		return cli_usage_err("policy", "policy add wants allow|deny|ask RIGHT[,RIGHT] PATTERN");
	if (!parse_verdict(a->pos[0], &a->verdict, true))
		return cli_usage_err("policy", "the verdict is allow, deny or ask, not '%s'", a->pos[0]);
	if (!parse_rights(a->pos[1], &a->rights))
		return cli_usage_err("policy", "RIGHT is publish, subscribe, replay, approve or wait, or several comma-separated (e.g. subscribe,replay), not '%s'", a->pos[1]);
	if (a->verdict == EVBUS_ASK && a->rights != EVBUS_RIGHT_PUBLISH)
		return cli_usage_err("policy", "an ask rule is about publishing: its RIGHT is publish alone, not '%s'", a->pos[1]);
	if (a->who == UINT32_MAX)
		return cli_usage_err("policy", "policy add wants one of --uid U, --gid G and --all");
	return cli_check_name(a->pos[2], true);
}

static int policy_add(struct evbus *bus, const struct policy_args *a)
{
	uint32_t id;
	int ret;

	ret = evbus_policy_add(bus, a->pos[2], a->verdict, a->rights, a->who,
			       a->id, a->revoke ? EVBUS_POLICY_REVOKE : 0, &id);
	if (ret == -ENOSPC) {
		cli_err("cannot add the rule: the policy is full (module parameter max_rules)");
		return EXIT_RUNTIME;
	}
	if (ret)
		return cli_errno_exit("cannot add the rule", ret);
	printf("%u\n", id);
	return 0;
}

static int policy_change(struct evbus *bus, const char *verb,
			 const struct policy_args *a)
{
	uint32_t flags = a->revoke ? EVBUS_POLICY_REVOKE : 0;
	char what[64];
	int ret;

	if (!strcmp(verb, "default")) {
		ret = evbus_policy_default(bus, a->verdict, flags);
	} else if (!strcmp(verb, "remove")) {
		ret = evbus_policy_remove(bus, a->rule, flags);
		if (ret == -ENOENT) {
			cli_err("cannot remove rule %u: there is no such rule", a->rule);
			return EXIT_RUNTIME;
		}
	} else {
		ret = evbus_policy_clear(bus, flags);
	}
	if (!ret)
		return 0;
	snprintf(what, sizeof(what), "cannot change the policy (%s)", verb);
	return cli_errno_exit(what, ret);
}

int cmd_policy(int argc, char **argv)
{
	struct policy_args a = {};
	struct evbus *bus;
	const char *verb;
	int ret;

	if (argc < 2)
		return cli_usage_err("policy", "policy wants list, default, add, remove or clear");
	verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		fputs(policy_usage, stdout);
		return 0;
	}
	if (strcmp(verb, "list") && strcmp(verb, "default") && strcmp(verb, "add") &&
	    strcmp(verb, "remove") && strcmp(verb, "clear"))
		return cli_usage_err("policy", "unknown policy command '%s' (list, default, add, remove or clear)", verb);
	ret = policy_parse(argc - 1, argv + 1, &a);
	if (!ret)
		ret = policy_check_args(verb, &a);
	if (ret)
		return ret;
	ret = cli_open(&bus, 0);
	if (ret)
		return ret;
	if (!strcmp(verb, "list"))
		ret = policy_list(bus, a.json);
	else if (!strcmp(verb, "add"))
		ret = policy_add(bus, &a);
	else
		ret = policy_change(bus, verb, &a);
	evbus_close(bus);
	return ret;
}
