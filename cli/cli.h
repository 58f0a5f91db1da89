/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The evbus command: shared declarations.
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.  Every message
 * goes to stderr as "evbus: ...".
 */
#ifndef EVBUS_CLI_H
#define EVBUS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>

#include "evbus.h"

#define EXIT_RUNTIME	1
#define EXIT_USAGE	2

/* Environment knobs (documented in evbus(1)). */
#define ENV_DEVICE	"EVBUS_DEVICE"	/* device node instead of /dev/evbus */
#define ENV_SYSFS	"EVBUS_SYSFS"	/* prefix for /sys paths, for tests */

int cmd_pub(int argc, char **argv);
int cmd_sub(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_run_scope(int argc, char **argv);
int cmd_rate(int argc, char **argv);
int cmd_bridge(int argc, char **argv);	/* bridge.c: NATS */
int cmd_record(int argc, char **argv);

/*
 * scope.c: pub --will TOPIC [DATA] -- CMD [ARGS] (argv from TOPIC on;
 * eaten: getopt took a "--" before it)
 */
int pub_will(int argc, char **argv, bool eaten,
	     const struct evbus_pub_opts *po, uint64_t scope,
	     bool clear_on_success);

/* util.c */
void __attribute__((format(printf, 1, 2))) cli_err(const char *fmt, ...);
int cli_usage_err(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_bad_opt(const char *cmd, int opt, char **argv);
int cli_open(struct evbus **bus, unsigned int flags);
int cli_check_name(const char *s, bool pattern);
int cli_errno_exit(const char *what, int err);
bool parse_u64(const char *s, uint64_t *out);
bool parse_u32(const char *s, uint32_t *out);
bool parse_size(const char *s, uint32_t *out);
bool parse_bytes(const char *s, uint64_t *out);
bool parse_secs(const char *s, long long *ms);
long long now_ms(void);
int signalfd_open(sigset_t *old, int extra);

/* format.c: printing records and values */
bool utf8_valid(const void *buf, size_t len);
void put_json_str(FILE *f, const void *buf, size_t len);
void put_base64(FILE *f, const void *buf, size_t len);
void put_text(FILE *f, const void *buf, size_t len);
void put_record_json(FILE *f, const struct evbus_record *rec);
void put_record_human(FILE *f, const struct evbus_record *rec);
const char *deny_cause_name(uint32_t cause);
const char *cancel_reason_name(uint32_t reason);
const char *feature_name(uint64_t bit);
void put_features(FILE *f, uint64_t features);

#endif /* EVBUS_CLI_H */
