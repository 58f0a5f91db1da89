// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a randomized hostile-input fuzzer for /dev/evbus, meant to run
 * as root inside the test VM (tests/vm/run -- build/fuzz/ioctl_fuzz).
 *
 *   ioctl_fuzz [--calls N] [--seed S] [--threads T] [--no-race] [--no-uring]
 *              [--no-uring-async-link] [--no-unpriv] [--hang SECS]
 *              [--replay wT:I | --replay uR:I]
 *
 * T worker threads share a budget of N operations (default 200000, 4
 * workers), and an unprivileged child makes N/8 more (below).  Each worker
 * draws everything from its own generator, seeded from (S, worker index),
 * and nothing it generates depends on what the kernel returned, so call I
 * of worker T is the same call on every run with the same seed: "--seed S
 * --replay wT:I" regenerates it and prints it decoded (then issues it once,
 * single-threaded, and prints the result); "--replay uR:I" does the same
 * for call I of the child's round R, set up as that round was.
 *
 * What the workers issue, on eight /dev/evbus files kept at fixed, high
 * descriptor numbers ("slots": O_RDWR, O_RDONLY, O_WRONLY, O_PATH, with and
 * without O_NONBLOCK, reopened all the time by another thread) and on two
 * private files of their own just below them (one never narrowed, one that
 * EVBUS_IOC_NARROW works on, reopened now and then so narrowing starts over):
 *  - ioctls: the twenty exact commands and random command numbers around
 *    them (magic 0xEB and its neighbours, nr 0..0x20, all four directions,
 *    random sizes); struct contents valid-ish and garbage (flags with
 *    unknown bits, reserved fields, lengths 0 / 255 / 256 / huge, payloads
 *    up to 2 MiB, batch counts 0..1025 and beyond with good and bad
 *    descriptors mixed), topics and patterns around the limits, on "$sys"
 *    and its near misses ("$SYS", "$sysx", "a.$sys", "$");
 *  - the #13 ioctls: SUBSCRIBE2 with every filter flag and unknown ones,
 *    fields set without their flag, uid/gid -1, pids 0, self, init, past
 *    PID_MAX_LIMIT and of no process, type ranges upside down, and size
 *    below, at and above the first version with zero and nonzero tails, a
 *    page and past it; classic BPF programs good (all, none, by type,
 *    random straight-line code with forward jumps and scratch memory, up to
 *    exactly 256 instructions, division by a zero X) and hostile (257
 *    instructions, length 0 or huge, loads past the 1 KiB window or
 *    misaligned, byte/half/indirect/MSH loads, division by a constant 0,
 *    jumps past the end, no RET, unset or out-of-range M[], shifts by 32,
 *    random opcodes), at good and bad addresses; NARROW with both sets
 *    from a family of nesting patterns ("a.>", "a.*", "$sys.>", ">", ...),
 *    kept sets, up to and past EVBUS_SCOPE_MAX, wider than what the file
 *    has, bad entries; BUS_STATS of every size; POLICY_ADD of every verdict,
 *    right and subject (everyone, uid, gid, -1) with and without
 *    EVBUS_POLICY_REVOKE, some removed again at once; POLICY_SET default
 *    allow/deny, remove, clear and mismatched fields; POLICY_LIST with any
 *    count, start id and buffer;
 *  - the #15 additions: SUBSCRIBE2 with EVBUS_SUB_SINCE (since 0, 1, small,
 *    huge, and the bus's next seq -6..+2, read when the call is issued),
 *    EVBUS_SUB_LAST (0, 1, small, huge), EVBUS_SUB_RETAINED, two of them at
 *    once, since or last without its flag, reserved set, at sizes 56, 60, 64,
 *    68, 72 and more (the fields past the first version cut short, judged
 *    as the kernel reads them), on files with and without records queued;
 *    PUBLISH, PUBLISH_BATCH and the io_uring publishes with EVBUS_PUB_RETAIN
 *    now and then (an empty payload clears) and with bits beyond it;
 *    EVBUS_IOC_HISTORY of every size, with unknown flags, out fields,
 *    reserved and tails set, and EVBUS_HISTORY_SET (capacities 0, around a
 *    page, 64 KiB, 1 MiB, rarely history_max, past it or rounding past it,
 *    a capacity without the flag) from the owner and from the unprivileged
 *    child; POLICY_ADD with EVBUS_RIGHT_REPLAY alone and with the others;
 *    and whole replays on a file of their own (op_replay()): SINCE, LAST or
 *    RETAINED on a fresh file with a small ring, a second subscription,
 *    reads and polls until the file is live, or a close while it catches
 *    up, the stream checked for order and flags as it comes;
 *  - pointers that are good, misaligned, NULL, in page zero, PROT_NONE,
 *    read-only (a second, read-only mapping of the same memfd), code, at the
 *    end of a page followed by a PROT_NONE guard page (straddling it or
 *    ending exactly on it), past TASK_SIZE, non-canonical and kernel
 *    addresses (0xffff888000000000, ...);
 *  - read()/readv()/preadv2(RWF_NOWAIT) with random sizes and bad buffers
 *    (and iovec arrays), write(), poll(), epoll_ctl/epoll_wait;
 *  - io_uring (when io_uring_queue_init works): IORING_OP_URING_CMD with
 *    cmd_op EVBUS_URING_PUBLISH / _BATCH / random and a random 16-byte
 *    struct evbus_uring_cmd, sometimes IOSQE_ASYNC or with a NOP linked
 *    behind it (neither with --no-uring-async-link), and
 *    IORING_OP_READ linked to a 1-3 ms timeout.
 * Meanwhile (unless --no-race) other threads: reopen the slots with dup2()
 * of a fresh file onto the number, close them, toggle O_NONBLOCK, read
 * their /proc fdinfo; subscribe and unsubscribe random ids; and sit in
 * blocking read()/poll() that publishes (and SIGUSR1, for EINTR) wake;
 * and now and then lower or restore the per-user subscription cap
 * (max_user_subs), the per-bus rule cap (max_rules) and the per-user cap on
 * retained values (max_user_retained), so subscribes, POLICY_ADD and
 * retained publishes race with their ENOSPC.
 *
 * The unprivileged child (root only; not with --no-unpriv) runs rounds of
 * 600 operations, each in a fresh process: as root it may unshare
 * CLONE_NEWIPC (a bus of its own), makes a node of the device that uid
 * 65534 may open (on a tmpfs in a mount namespace of its own: /dev/evbus
 * keeps its mode) and opens half the slots; it then drops to uid/gid 65534
 * with no groups (setgroups, setresgid, setresuid), opens the other half,
 * or first unshares CLONE_NEWUSER | CLONE_NEWIPC to own a new bus, and
 * issues the same operations (no io_uring, no racers); EVBUS_HISTORY_SET
 * must give it EPERM but on a bus of its own.
 *
 * Pass criteria: every call returns success or an errno its command can
 * return (evcmd[]: the README's "Errors" as the module implements them,
 * EBADF for a slot that was just closed; EPERM only for policy changes,
 * EVBUS_HISTORY_SET and rate limits), with cross-checks:
 *  - an unknown command gives ENOTTY and a known one never does; a call
 *    the generator made invalid on purpose (unknown flag, reserved field,
 *    bad size or tail, hostile BPF, ...) never succeeds;
 *  - a batch returns 1..count and writes back consistent published/error/
 *    error_index/seq fields; read() returns whole, well-formed records
 *    (REVOKED notices included; an event flagged REPLAYED or RETAINED or
 *    neither, a LAGGED record HISTORY or nothing);
 *  - whatever is published is a valid topic by the reference model
 *    (topic_ref.h), never on "$sys"; whatever is subscribed, a valid pattern;
 *  - the narrowed file's scope is modelled: NARROW never widens it, gives
 *    EACCES exactly when asked to and EBUSY only for a narrower scope,
 *    fdinfo shows the model's scope after every NARROW (the old one after
 *    a failure) and subscriptions within it; a publish or subscribe that
 *    gets through lies within it, and right after a NARROW topics and
 *    patterns outside it give EACCES;
 *  - every policy change is made under one lock (shared with the child)
 *    with POLICY_LIST just before and after: a failed change leaves the
 *    list and default as they were, ADD adds exactly its rule under a new,
 *    never reused id, REMOVE/DEFAULT/CLEAR do exactly that, ENOENT only for
 *    an id not listed; the bus's owner never gets EPERM, anyone else (the
 *    child's uid 65534, a narrowed file) never succeeds, nor gets past the
 *    owner check (ENOSPC, ENOENT); EVBUS_HISTORY_SET the same (EDQUOT,
 *    ENOMEM after the owner check);
 *  - a failed SUBSCRIBE/SUBSCRIBE2 on a private file leaves its
 *    subscriptions and ring as they were; BUS_STATS reports the file's own
 *    bus and IPC namespace and zeroes the tail of a larger struct;
 *    POLICY_LIST returns whole rules in id order from start_id; files the
 *    child opens in a new IPC namespace are on a new bus; EVBUS_IOC_HISTORY
 *    reports a history that holds up (oldest_seq <= newest_seq <= next_seq
 *    - 1 when it holds events, both 0 when not, bytes <= capacity, a
 *    capacity of 0 or a power of two within history_max, retained bytes
 *    with retained values) and zeroes the tail of a larger struct;
 *  - the process never faults; once every file is closed
 *    /sys/kernel/evbus/stats/{open_files, subscriptions, queued_events,
 *    queued_bytes, ring_bytes} are back at their starting values.
 * A hang (no progress for --hang seconds, default 120) ends the run through
 * alarm() with every thread's current call (and the child's) printed.  At
 * the end the policy is cleared (and what was found put back), every
 * retained value left on the bus is cleared (an EVBUS_SUB_RETAINED
 * subscription finds them), the bus's history is set back to the module's
 * history_bytes (a new bus's, 1 MiB by default), and the caps are restored.
 *
 * The approval gate (#16): APPROVER_ADD (patterns of every kind and the
 * gate's, priorities, defaults valid and not, flags, reserved; a third
 * removed again at once: exactly once on the worker's own files), DEL
 * (ids mostly unknown: ENOENT), VERDICT (sizes below the first version,
 * tails, unknown verdicts, errors out of 0..EVBUS_VERDICT_ERRNO_MAX,
 * MODIFY's fields on other verdicts, MODIFY payloads and topics good and
 * bad, ids small enough to hit requests pending at slots); EVBUS_PUB_ASK
 * on a few events of PUBLISH, PUBLISH_BATCH and the io_uring publishes,
 * with deadlines of 0 .. 50 ms, a few ns or anything (the fuzzer sets
 * approval_timeout_ms to 30 and approval_max_ms to 500 while it runs);
 * EVBUS_ASK rules (removed again at once) and EVBUS_RIGHT_APPROVE in
 * rules.  The gate's errnos (ETIMEDOUT, ECONNRESET, ENOBUFS, ECONNREFUSED,
 * EAGAIN, the deny errnos) only for a publish that asked or ran while an
 * ask rule may have been on a bus.  op_gate(): one ask from end to end
 * through io_uring with the worker as its approver, every outcome and
 * every hostile verdict checked exactly (see there).  Racers: two
 * approvers answering at random (allow, deny, modify, never, twice) and
 * closing their files with requests pending, two askers whose publishes
 * must end within their deadlines with an errno the gate can give, some
 * interrupted (EINTR, a withdrawal); max_user_approvers squeezed.  read()
 * checks REQUEST records (the event inside a well-formed event record,
 * seq 0) and CANCELLED ones, and APPROVED/MODIFIED flags (a modifier id
 * exactly when MODIFIED).  At the end no approver is left on the bus and
 * nothing pending.
 *
 * Last wills (#17): EVBUS_IOC_WILL arming, replacing and clearing wills
 * of a few scopes per file (scope numbers small, so replacements and
 * clears find them), topics of every kind ($sys and the ask rules' too:
 * EACCES), payloads up to past max_payload (EMSGSIZE), CLEAR with other
 * fields set, unknown flags, reserved, sizes below, at and past the first
 * version with zero and nonzero tails and past a page; made bad on purpose,
 * a call never succeeds.  ENOENT only for a CLEAR; a will armed is on a
 * valid topic, never $sys, within a narrowed file's publish scope.  The
 * wills fire as the files are closed and reopened all the time, so the
 * readers see EVBUS_EVENT_WILL events (never with APPROVED, MODIFIED or
 * RETAINED, never inside a request); at the end sysfs's wills is back at
 * its start (every file closed, every will fired or cleared).
 *
 * Rate limits and lossless rings (#17): EVBUS_IOC_RATE with every op
 * (GET, FILE, USER, USER_GET and unknown ones), sizes below, at and past
 * the first version with zero and nonzero tails and past a page, out
 * fields and who/id where they do not belong, limits past EVBUS_RATE_MAX
 * or EVBUS_RATE_BURST_MAX, a rate without its burst and the reverse, from
 * the owner and the unprivileged child.  The limits the fuzzer sets on
 * shared files, and on the users that publish (root, 65534, everyone),
 * are generous (a million events and a GiB a second, bursts as large), so
 * they never refuse: a GET on a slot or a private file shows no limit or
 * a generous one and nothing refused or waited, and no publish that did
 * not ask gets EAGAIN; tight limits go only to uids nobody runs as.  On a
 * worker's own files the file limit is modelled (a success only when it
 * tightens, then GET shows it; EPERM only when it loosens); a user limit
 * is changed under the policy lock with USER_GET and the bus's rate_users
 * before and after (ENOENT only for removing what is not there, ENOSPC
 * only with 256 rules, the owner never EPERM, anyone else never past it).
 * EVBUS_PUB_WAIT on a few events of every publish, deadlines of a few ms,
 * a few ns, 0 (EINVAL) or anything (rate_wait_max_ms is lowered to
 * RATE_WAIT_MS while the fuzzer runs).  SET_RING with EVBUS_POLICY_LOSSLESS
 * and wait_ns of 1 ns .. lossless_max_ms (lowered to LOSSLESS_MS), 0, past
 * it, or set with another policy (EINVAL); lossless slots from the
 * reopener, so every publisher meets them; EVBUS_RIGHT_WAIT in rules.
 * op_rate(): exact token arithmetic on fresh files, on a bus of the
 * worker's own (a private IPC namespace, so the bus's counters move by
 * exactly what it did): a burst lets exactly its events through, then
 * EAGAIN (refused counted by bucket), EMSGSIZE past the byte burst,
 * EVBUS_PUB_WAIT's deadline cut to rate_wait_max_ms and refused at once
 * when it cannot cover the wait, waits that succeed, loosening EPERM,
 * user limits and the ALL rule, 256 rules then ENOSPC.  op_lossless(): a
 * lossless reader of its own, filled by a batch of a publisher of its
 * uid (one wait, then the rest lost with an exact LAGGED), a reader
 * keeping up loses nothing, a publisher waiting in io_uring's worker woken
 * by a read, a publisher of another uid (a file opened as 65534) never
 * waiting (lossless_foreign) unless a rule gives it EVBUS_RIGHT_WAIT;
 * every event delivered or inside a LAGGED record that counts it.  At the
 * end no user limit is left on the bus (sysfs rate_users back at its
 * start).
 *
 * Found by this fuzzer and fixed: Linux 6.1's io_uring_cmd() treats a
 * positive return from ->uring_cmd as an error code, so a URING_CMD
 * PUBLISH_BATCH that completed with its count never completed from io-wq
 * (the request and its file leaked, rmmod failed) and failed its link
 * inline.  The module now completes a batch with 0 or -errno.  And (#17)
 * a retained publish that waited for a lossless reader kept its user
 * charged for a value it never installed (the retained check charged
 * before the lossless check sent it to wait, and charged again on the
 * retry): root's retained count never came back and rmmod warned in
 * evbus_user_put(); the lossless check now comes first.
 *
 * Last line: "ioctl-fuzz: N passed, N failed" (N = results checked: syscalls
 * and io_uring completions).  Exit 0 on success, 1 on failures, 3 on a hang,
 * 4 (skip) without /dev/evbus.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <liburing.h>

#include "evbus_test.h"
#include "topic_ref.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define NSLOTS		8	/* 0..3 always O_NONBLOCK, 4..7 blocking */
#define MAX_WORKERS	64
#define NRACERS		8	/* reopen, unsub, reader0, reader1, appr0, appr1, ask0, ask1 */
#define ERRNO_MAX	134
#define FAIL_PRINT_MAX	40

/* Per-worker memory: a 4 MiB arena, then four edge windows, each followed
 * by a PROT_NONE guard page. */
#define PG		4096u
#define ARENA_SZ	(4u << 20)
#define W_ARG_SZ	(8u << 10)
#define W_DESC_SZ	(128u << 10)
#define W_TOPIC_SZ	(8u << 10)
#define W_PAY_SZ	(8u << 10)
#define RO_SZ		(512u << 10)
#define NOACC_SZ	(64u << 10)

/* Regions of the arena (good pointers) and of the read-only memfd. */
enum reg { R_ARG, R_DESC, R_TOPIC, R_PAY, R_N };
static const size_t good_off[R_N] = { 0, 64u << 10, 256u << 10, 1u << 20 };
static const size_t good_len[R_N] = { 64u << 10, 192u << 10, 256u << 10, 3u << 20 };
static const size_t ro_off[R_N] = { 0, 64u << 10, 4u << 10, 256u << 10 };
static const size_t ro_len[R_N] = { 4u << 10, 192u << 10, 60u << 10, 256u << 10 };
static const char *const reg_name[R_N] = { "arg", "desc", "topic", "pay" };

/* Pointer kinds. */
enum kind {
	K_GOOD, K_MISALIGN, K_EDGE, K_RO, K_CODE, K_NULL, K_LOW, K_NOACC,
	K_KERNEL, K_NONCANON, K_TASKEND, K_N
};
static const char *const kind_name[K_N] = {
	"good", "misaligned", "edge", "read-only", "code", "NULL", "page0",
	"PROT_NONE", "kernel", "non-canonical", "past-TASK_SIZE",
};

static const uint64_t kernel_addrs[] = {
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0xffffc90000000000ULL,
	0xffffea0000000000ULL, 0xffffffffff600000ULL, 0xffff888000000ff8ULL,
	~0ULL, ~0ULL - 7, ~0ULL - 4095,
};

enum { C_VERSION, C_SUB, C_UNSUB, C_PUB, C_BATCH, C_SETRING, C_GETRING,
       C_STATS, C_SUB2, C_NARROW, C_BSTATS, C_PADD, C_PSET, C_PLIST, C_HIST,
       C_AADD, C_ADEL, C_VERDICT, C_WILL, C_RATE, C_N };

/*
 * The errnos each command can return, besides EBADF (a closed slot, -1,
 * O_PATH, a file opened without the mode the command needs), read off
 * the module's sources.  EINTR only where a killable lock is taken; EPERM only for
 * policy changes, EVBUS_HISTORY_SET and EVBUS_RATE_USER, and then never from
 * the bus's owner (check_owner()), or a looser EVBUS_RATE_FILE.  ENOSPC from
 * a publish: a retained value past its caps.  EAGAIN from a publish only for
 * the gate: the fuzzer's rate limits on shared files never refuse.
 * Row C_N is an io_uring publish command (cmd_op checked, then as the
 * ioctls; -EAGAIN from the inline attempt is retried by io_uring itself).
 */
#define ERRS(...)	((const int[]){ __VA_ARGS__, 0 })
#define PUB_ERRS	EFAULT, EINVAL, EMSGSIZE, EACCES, ENOSPC, ENOMEM, EINTR, GATE_ERRS
/*
 * What an asking publish (#16: EVBUS_PUB_ASK, or an EVBUS_ASK rule) may
 * get besides: a deadline with a default of deny, an approver gone, no
 * room, a mandatory ask nobody watches, max_user_asks, and the errnos the
 * fuzzer's approvers deny with (DENY_ERRS; 0 is EACCES).  Only a call
 * that asked, or ran while an EVBUS_ASK rule may have been on a bus, may
 * see them (gate_errno_ok()).
 */
#define GATE_ERRS	ETIMEDOUT, ECONNRESET, ENOBUFS, ECONNREFUSED, EAGAIN, EKEYREJECTED, EHWPOISON
static const int deny_errs[] = { 0, EKEYREJECTED, EHWPOISON };
static const struct {
	unsigned int cmd;
	const char *name;
	size_t size;
	unsigned int weight;
	const int *errs;
} evcmd[C_N + 1] = {
	{ EVBUS_IOC_VERSION, "VERSION", sizeof(struct evbus_version), 6,
	  ERRS(EFAULT, EINVAL) },
	{ EVBUS_IOC_SUBSCRIBE, "SUBSCRIBE", sizeof(struct evbus_sub), 15,
	  ERRS(EFAULT, EINVAL, EACCES, ENOSPC, EDQUOT, ENOMEM, EINTR) },
	{ EVBUS_IOC_UNSUBSCRIBE, "UNSUBSCRIBE", sizeof(__u32), 8,
	  ERRS(EFAULT, ENOENT, EINTR) },
	{ EVBUS_IOC_PUBLISH, "PUBLISH", sizeof(struct evbus_pub), 30,
	  ERRS(PUB_ERRS) },
	{ EVBUS_IOC_PUBLISH_BATCH, "PUBLISH_BATCH", sizeof(struct evbus_pub_batch), 20,
	  ERRS(PUB_ERRS) },
	{ EVBUS_IOC_SET_RING, "SET_RING", sizeof(struct evbus_ring_cfg), 9,
	  ERRS(EFAULT, EINVAL, EBUSY, EDQUOT, ENOMEM, EINTR) },
	{ EVBUS_IOC_GET_RING, "GET_RING", sizeof(struct evbus_ring_cfg), 5,
	  ERRS(EFAULT) },
	{ EVBUS_IOC_STATS, "STATS", sizeof(struct evbus_stats), 7,
	  ERRS(EFAULT, EINVAL) },
	{ EVBUS_IOC_SUBSCRIBE2, "SUBSCRIBE2", EVBUS_SUBSCRIBE_SIZE_VER0, 14,
	  ERRS(EFAULT, EINVAL, E2BIG, ESRCH, EACCES, ENOSPC, EDQUOT, ENOMEM, EINTR,
	       EBUSY, ERANGE) },
	{ EVBUS_IOC_NARROW, "NARROW", sizeof(struct evbus_scope), 6,
	  ERRS(EFAULT, EINVAL, EACCES, EBUSY, ENOMEM, EINTR) },
	{ EVBUS_IOC_BUS_STATS, "BUS_STATS", EVBUS_BUS_STATS_SIZE_VER0, 4,
	  ERRS(EFAULT, EINVAL, E2BIG) },
	{ EVBUS_IOC_POLICY_ADD, "POLICY_ADD", sizeof(struct evbus_rule), 7,
	  ERRS(EFAULT, EINVAL, EPERM, ENOSPC, ENOMEM, EINTR) },
	{ EVBUS_IOC_POLICY_SET, "POLICY_SET", sizeof(struct evbus_policy_set), 6,
	  ERRS(EFAULT, EINVAL, EPERM, ENOENT, EINTR) },
	{ EVBUS_IOC_POLICY_LIST, "POLICY_LIST", sizeof(struct evbus_policy_list), 4,
	  ERRS(EFAULT, EINVAL, ENOMEM, EINTR) },
	{ EVBUS_IOC_HISTORY, "HISTORY", EVBUS_HISTORY_SIZE_VER0, 5,
	  ERRS(EFAULT, EINVAL, E2BIG, EPERM, EDQUOT, ENOMEM) },
	/* #16: EDQUOT from the ring an approver's requests come through */
	{ EVBUS_IOC_APPROVER_ADD, "APPROVER_ADD", sizeof(struct evbus_approver), 5,
	  ERRS(EFAULT, EINVAL, EACCES, ENOSPC, EDQUOT, ENOMEM, EINTR) },
	{ EVBUS_IOC_APPROVER_DEL, "APPROVER_DEL", sizeof(__u32), 3,
	  ERRS(EFAULT, ENOENT) },
	{ EVBUS_IOC_VERDICT, "VERDICT", EVBUS_VERDICT_SIZE_VER0, 5,
	  ERRS(EFAULT, EINVAL, E2BIG, ENOENT, EMSGSIZE, EACCES, ENOMEM) },
	/* #17: ENOENT only for a CLEAR (check_will()) */
	{ EVBUS_IOC_WILL, "WILL", EVBUS_WILL_SIZE_VER0, 6,
	  ERRS(EFAULT, EINVAL, E2BIG, EMSGSIZE, EACCES, ENOSPC, ENOENT, ENOMEM) },
	/* #17: EPERM only for a looser file limit or a user limit set by
	 * anyone but the owner, ENOENT/ENOSPC only for user limits (check_rate()) */
	{ EVBUS_IOC_RATE, "RATE", EVBUS_RATE_SIZE_VER0, 6,
	  ERRS(EFAULT, EINVAL, E2BIG, EPERM, ENOENT, ENOSPC, ENOMEM, EINTR) },
	{ 0, "URING_CMD", 0, 0, ERRS(PUB_ERRS, EOPNOTSUPP, EAGAIN) },
};
static unsigned char g_errok[C_N + 1][ERRNO_MAX + 1];

static bool is_policy_change(int which)
{
	return which == C_PADD || which == C_PSET;
}

/* Extra errnos a call may return besides the ioctl set (see allowed()). */
#define X_READ		(1u << 0)	/* read-like: EINVAL EFAULT EAGAIN EINTR EBADF EOPNOTSUPP ENOMEM only */
#define X_EEXIST	(1u << 1)	/* epoll_ctl ADD of a file already in the set */
#define X_CANCEL	(1u << 2)	/* io_uring: ECANCELED (read cut by its linked timeout) */
#define X_TIMEOUT	(1u << 3)	/* io_uring link timeout: ETIME ECANCELED EALREADY ENOENT only */
#define X_OPEN		(1u << 4)	/* open(): EMFILE ENOMEM EINTR */
#define X_ENOENT_ONLY	(1u << 5)	/* /proc fdinfo of a closed slot */
#define X_MMAP		(1u << 6)	/* mmap(): EINVAL EPERM EACCES ENODATA ENOMEM EBADF ENODEV EOVERFLOW only */

/* What the #15 feature got through, counted for the summary. */
enum { F_SINCE, F_LAST, F_RETAINED_SUB, F_RETAIN_PUB, F_HIST_SET, F_REPLAYED, F_RETAINED_EV,
       F_HIST_LAG, F_REPLAY_OPS, F_REPLAY_LIVE,
       /* the approval gate (#16) */
       F_GATE0, F_ASK_PUB = F_GATE0, F_APPR_ADD, F_VERDICT_OK, F_REQ_READ, F_CANCEL_READ,
       F_APPROVED_EV, F_MODIFIED_EV, F_GATE_OPS, F_GATE_EXACT, F_GATE_EVENT, F_ASKER_OK,
       F_ASKER_REFUSED, F_ASKER_INTR, F_ASKER_NOBODY, F_APPR_CLOSED,
       /* last wills (#17) */
       F_WILL_ARM, F_WILL_CLEAR, F_WILL_EV,
       /* rate limits and lossless rings (#17) */
       F_RATE0, F_RATE_GET = F_RATE0, F_RATE_FILE, F_RATE_USER, F_RATE_USER_GET, F_WAIT_PUB,
       F_WAIT_RULE, F_LOSSLESS_SET, F_RATE_OPS, F_RATE_REFUSED, F_RATE_WAITED, F_RATE_FULL,
       F_LL_OPS, F_LL_LOST, F_LL_KEPT_UP, F_LL_WOKEN, F_LL_FOREIGN, F_LL_RIGHT, F_N };
static const char *const feat_name[F_N] = {
	"SINCE subscriptions", "LAST subscriptions", "RETAINED subscriptions",
	"retained publishes", "history capacity set", "replayed events read",
	"retained events read", "history lags read", "replays on a file of their own",
	"of them read to live",
	"asking publishes published", "approvers added", "verdicts taken",
	"requests read", "cancellations read", "approved events read",
	"modified events read", "single asks through io_uring (op_gate)",
	"of them with an exact outcome", "of them read back as delivered",
	"askers' publishes published", "refused", "withdrawn (EINTR)",
	"with nobody to ask", "approver files closed with requests pending",
	"wills armed", "wills cleared", "will events read",
	"rate GETs", "file limits set", "user limits set or removed", "user limits read",
	"publishes with EVBUS_PUB_WAIT published", "EVBUS_RIGHT_WAIT rules added",
	"lossless rings set", "token runs on fresh files (op_rate)", "of them refused exactly",
	"publishes that waited for tokens", "rule tables filled to ENOSPC",
	"lossless runs (op_lossless)", "events lost there, each counted in a LAGGED record",
	"batches delivered whole to a reader keeping up", "waiting publishers woken by a read",
	"foreign publishes dropped without a wait", "foreign publishes waiting by EVBUS_RIGHT_WAIT",
};

/* Size-versioned structs are placed with up to a page of tail. */
#define BIG_MAX		(PG + 64)
#define GARBAGE_MAX	256

union argbuf {
	struct evbus_version v;
	struct evbus_sub s;
	__u32 id;
	struct evbus_pub p;
	struct evbus_pub_batch b;
	struct evbus_ring_cfg r;
	struct evbus_stats st;
	struct evbus_subscribe s2;
	struct evbus_scope sc;
	struct evbus_bus_stats bs;
	struct evbus_rule ru;
	struct evbus_policy_set ps;
	struct evbus_policy_list pl;
	struct evbus_history h;
	struct evbus_approver ap;
	struct evbus_verdict vd;
	struct evbus_will wl;
	struct evbus_rate rt;
	unsigned char raw[BIG_MAX];
};

/*
 * What the fuzzer believes the scope of a worker's narrowed file is
 * (module/scope.c): unscoped until a NARROW succeeds, then n_pub publish
 * patterns and n_sub subscribe patterns, or "all" for a set kept from an
 * unscoped file.  Checked against fdinfo's evbus-scope lines after every
 * NARROW, and against every publish and subscribe that file gets through.
 */
struct scope_model {
	bool scoped;
	bool all_pub, all_sub;
	uint32_t n_pub, n_sub;
	uint16_t len[2 * EVBUS_SCOPE_MAX];
	char pat[2 * EVBUS_SCOPE_MAX][EVBUS_TOPIC_MAX + 1];	/* publish, then subscribe */
};

/* The bus's policy as POLICY_LIST shows it: before and after a change. */
#define PSNAP_MAX	64
struct psnap {
	uint64_t bus_id;
	uint32_t total, deflt, count;
	struct evbus_rule_info r[PSNAP_MAX];
};

/* Which file an ioctl went to, and what the caller may do with it. */
enum { FD_NONE, FD_SLOT, FD_PRIV, FD_SCOPED };
struct fdctx {
	int kind;
	bool owner;		/* may change the bus's policy (bus.c) */
	uint64_t bus_id;	/* 0: not known */
	uint64_t ipc_ino;	/* its bus's IPC namespace, 0: not known */
};

struct th {
	char name[12];
	int idx;
	bool worker;
	uint64_t rng;
	uint64_t rng_at_call;	/* state when the current op started */
	unsigned long ops;	/* operations generated (the call index) */
	unsigned long budget;
	unsigned long results;	/* results checked */
	unsigned long fails;
	const char *volatile op;
	volatile pid_t ktid;	/* its kernel task, for its stack on a hang */
	bool dry;		/* generate only, issue nothing */
	bool describe;		/* build the decoded text in desc */
	char desc[6144];
	size_t dlen;
	char failmsg[4][256];
	int nfailmsg;
	unsigned long hist[ERRNO_MAX + 1];	/* [0] success, [ERRNO_MAX] other */
	unsigned long cmd_ok[C_N + 1], cmd_err[C_N + 1];	/* per command */
	unsigned long feat[F_N];
	/* memory */
	char *mem;
	size_t mem_len;
	char *arena;
	char *win[R_N];		/* edge window starts */
	size_t win_len[R_N];
	char *ro_w, *ro_r;	/* the same memfd, writable and read-only */
	size_t bump[R_N], ro_bump[R_N];
	struct evbus_pub descs[EVBUS_BATCH_MAX + 1];
	/* live mappings of evbus rings (op_mmap) */
	struct { void *p; size_t len; long pgoff; int prot; } maps[8];
	/* io_uring and epoll */
	struct io_uring ring;
	bool uring_gen;		/* io_uring was there at start: generate its ops */
	bool uring;		/* and the ring is still usable */
	int epfd;
	pthread_t tid;
	/* racers */
	int priv_fd;
	char *rbuf;
	/* private files (fixed numbers below the slots): pfd is never
	 * narrowed, sfd is the file NARROW works on, sm its scope */
	int pfd, sfd;
	bool priv_owner;	/* owner of the private files' bus (if unscoped) */
	uint64_t priv_bus, priv_ino;
	struct scope_model sm;
	bool unpriv;		/* a worker of the unprivileged child */
	unsigned long padd_gen;	/* POLICY_ADDs generated: REMOVE ids near them */
	uint32_t ask_budget;	/* gen_pub(): EVBUS_PUB_ASKs it may still set */
	struct psnap snap[2];
	/*
	 * A bus of the worker's own (#17: op_rate(), op_lossless()): the IPC
	 * namespace it is in (ns_quiet; ns_home the process's), a file that
	 * keeps it (qctl), and a file of it opened as 65534 (qnobody).  Only
	 * this worker uses it, so its counters move by exactly what it did.
	 * -1 without one (the unprivileged child, or no namespace).
	 */
	int ns_home, ns_quiet, qctl, qnobody;
	struct sock_filter prog[EVBUS_FILTER_MAX_INSNS + 8];
	struct evbus_pattern pats[2][EVBUS_SCOPE_MAX + 2];
};

/*
 * Shared with the unprivileged child (MAP_SHARED, set up before any fork):
 * the lock every policy change is made under, so that POLICY_LIST before
 * and after it shows exactly its effect; the highest rule id seen per bus
 * (ids are never reused); and the child's results.
 */
struct shared {
	pthread_mutex_t policy_lock;	/* robust, process-shared */
	struct { uint64_t bus_id; uint32_t max_id; } ids[8];
	unsigned int ids_next;
	unsigned long progress;		/* the child's results so far */
	unsigned long ops, results, fails, rounds, rounds_ipc, rounds_userns;
	unsigned long rounds_node, owner_ok, eperm;
	unsigned long hist[ERRNO_MAX + 1];
	unsigned long cmd_ok[C_N + 1], cmd_err[C_N + 1];
	unsigned long feat[F_N];
	char op[64];			/* what the child is doing, for a hang */
	volatile pid_t child_pid;	/* the round's process */
	/* EVBUS_ASK rules that may be on a bus now (#16): sticky if a rule
	 * could not be removed again */
	int ask_rules;
};
static struct shared *g_shm;

/* --------------------------------------------------------------- globals */

static unsigned long long g_seed = 1;
static unsigned long g_calls = 200000;
static int g_nworkers = 4;
/* IOSQE_ASYNC and linked NOPs on URING_CMD (--no-uring-async-link: neither) */
static bool g_race = true, g_use_uring = true, g_uring_async = true;
static unsigned int g_hang = 120;
static int g_slot_base;
static char *g_noacc;
static uint32_t g_max_payload = 65536, g_ring_max = 16u << 20, g_max_subs = 64;
static volatile int g_stop;
static volatile int g_workers_left;
static int g_fail_printed;
static pthread_mutex_t g_print_lock = PTHREAD_MUTEX_INITIALIZER;
static struct th *g_th[MAX_WORKERS + NRACERS + 1];
static int g_nth;
static struct timespec g_t0;
/* The device node this process opens (the unprivileged child's own node
 * when it has one), and what the slots are: per process. */
static const char *g_dev = EVBUS_DEV;
static bool g_slot_owner[NSLOTS];
static uint64_t g_slot_bus[NSLOTS], g_slot_ino[NSLOTS];
static uint64_t g_bus_id, g_ipc_ino;
static pid_t g_pid;
static bool g_unpriv = true;
static char g_max_rules0[32];
/* History (#15): the module's history_max and history_bytes (the capacity
 * of a new bus, put back on the bus at the end), read at start. */
static uint64_t g_hist_max = 64u << 20, g_hist_default = 1u << 20;
/*
 * Rate limits and lossless rings (#17): rate_wait_max_ms and
 * lossless_max_ms are lowered while the fuzzer runs (put back at the end),
 * so that no publish waits long; g_lossless_max_ns is what the module has.
 */
#define RATE_WAIT_MS	20
#define LOSSLESS_MS	10
static uint64_t g_lossless_max_ns = 10000ULL * 1000000;
#define UNPRIV_ID	65534	/* the unprivileged child's uid and gid */

static void worker_op(struct th *t);
static long quick_ioctl(struct th *t, int fd, int which, void *arg);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - g_t0.tv_sec) + (ts.tv_nsec - g_t0.tv_nsec) / 1e9;
}

static int slot_fd(int i)
{
	return g_slot_base + i;
}

static bool slot_nonblock(int i)
{
	return i < NSLOTS / 2;
}

/* ------------------------------------------------------------------ rng */

static uint64_t rnd64(struct th *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct th *t, uint32_t n)
{
	return n ? (uint32_t)(((rnd64(t) >> 32) * (uint64_t)n) >> 32) : 0;
}

static uint32_t rnd32(struct th *t)
{
	return (uint32_t)(rnd64(t) >> 32);
}

static bool chance(struct th *t, uint32_t pct)
{
	return rnd(t, 100) < pct;
}

/* ----------------------------------------------------------- describing */

__attribute__((format(printf, 2, 3)))
static void D(struct th *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->describe || t->dlen >= sizeof(t->desc) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->desc + t->dlen, sizeof(t->desc) - t->dlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->dlen = t->dlen + (size_t)n < sizeof(t->desc) ? t->dlen + n : sizeof(t->desc) - 1;
}

static void D_text(struct th *t, const char *s, size_t len)
{
	size_t i;

	if (!t->describe)
		return;
	D(t, "'");
	for (i = 0; i < len && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			D(t, "%c", c);
		else
			D(t, "\\x%02x", c);
	}
	D(t, "'");
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOSPC: return "ENOSPC";
	case ENOENT: return "ENOENT";
	case ENOTTY: return "ENOTTY";
	case EBUSY: return "EBUSY";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ENOMEM: return "ENOMEM";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EDQUOT: return "EDQUOT";
	case EMFILE: return "EMFILE";
	case EEXIST: return "EEXIST";
	case ECANCELED: return "ECANCELED";
	case ETIME: return "ETIME";
	case EALREADY: return "EALREADY";
	case EPERM: return "EPERM";
	case ESPIPE: return "ESPIPE";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case ERANGE: return "ERANGE";
	case EOVERFLOW: return "EOVERFLOW";
	case EACCES: return "EACCES";
	case E2BIG: return "E2BIG";
	case ESRCH: return "ESRCH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNRESET: return "ECONNRESET";
	case ENOBUFS: return "ENOBUFS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EKEYREJECTED: return "EKEYREJECTED";
	case EHWPOISON: return "EHWPOISON";
	default: return "E?";
	}
}

/* ------------------------------------------------------------- checking */

static bool allowed(int e, unsigned int x)
{
	if (x & X_TIMEOUT)	/* ENOENT: the linked request was not cancelable */
		return e == ETIME || e == ECANCELED || e == EALREADY || e == ENOENT;
	if (x & X_ENOENT_ONLY)
		return e == ENOENT;
	if (x & X_OPEN)
		return e == EMFILE || e == ENOMEM || e == EINTR;
	if (x & X_MMAP)
		return e == EINVAL || e == EPERM || e == EACCES || e == ENODATA ||
		       e == ENOMEM || e == EBADF || e == ENODEV || e == EOVERFLOW;
	if ((x & X_CANCEL) && (e == ECANCELED || e == EINTR))
		return true;
	if ((x & X_EEXIST) && e == EEXIST)
		return true;
	if (x & X_READ)
		return e == EINVAL || e == EFAULT || e == EAGAIN || e == EINTR ||
		       e == EBADF || e == EOPNOTSUPP || e == ENOMEM;
	switch (e) {
	case EINVAL: case EFAULT: case EMSGSIZE: case ENOSPC: case ENOENT:
	case ENOTTY: case EBUSY: case EBADF: case EAGAIN: case EINTR:
	case ENOMEM: case EOPNOTSUPP: case EDQUOT:
		return true;
	}
	return false;
}

__attribute__((format(printf, 2, 3)))
static void fail(struct th *t, const char *fmt, ...)
{
	va_list ap;

	t->fails++;
	if (t->nfailmsg >= 4)
		return;
	va_start(ap, fmt);
	vsnprintf(t->failmsg[t->nfailmsg++], sizeof(t->failmsg[0]), fmt, ap);
	va_end(ap);
}

static void errok_init(void)
{
	const int *e;
	int w;

	for (w = 0; w <= C_N; w++) {
		g_errok[w][EBADF] = 1;
		for (e = evcmd[w].errs; *e; e++)
			g_errok[w][*e] = 1;
	}
}

/* May command 'which' (C_N: an io_uring publish) fail with e? */
static bool cmd_allowed(int which, int e)
{
	return e > 0 && e <= ERRNO_MAX && g_errok[which][e];
}

/* Account one result: ret >= 0 is success, else err is the errno. */
static bool result_as(struct th *t, const char *what, long ret, int err,
		      unsigned int x, int which)
{
	t->results++;
	if (which >= 0) {
		if (ret >= 0)
			t->cmd_ok[which]++;
		else
			t->cmd_err[which]++;
	}
	if (g_shm && t->unpriv)
		__atomic_add_fetch(&g_shm->progress, 1, __ATOMIC_RELAXED);
	if (ret >= 0) {
		t->hist[0]++;
		return true;
	}
	t->hist[err > 0 && err < ERRNO_MAX ? err : ERRNO_MAX]++;
	if (which >= 0 ? !cmd_allowed(which, err) : !allowed(err, x)) {
		fail(t, "%s: unexpected errno %d (%s)", what, err, errname(err));
		return false;
	}
	return true;
}

static bool result(struct th *t, const char *what, long ret, int err, unsigned int x)
{
	return result_as(t, what, ret, err, x, -1);
}

/* A result of evbus command 'which', against its own errno set. */
static bool result_cmd(struct th *t, const char *what, long ret, int err, int which)
{
	return result_as(t, what, ret, err, 0, which);
}

/* Event flags the module may set (#15, #16), with the modifier's id above. */
#define EV_GATE_FLAGS	(EVBUS_EVENT_APPROVED | EVBUS_EVENT_MODIFIED)
#define EV_KNOWN_FLAGS	(EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED | EV_GATE_FLAGS | \
			 EVBUS_EVENT_WILL)

/*
 * Is the event record at buf (len bytes, exactly its record) well formed?
 * NULL if so.  In a request (#16) it is the event as it would be
 * delivered: seq 0, never replayed or retained.
 */
static const char *check_event(const char *buf, size_t len, bool in_request,
			       unsigned long *feat)
{
	struct evbus_event ev;
	uint32_t lo, mod;

	if (len < sizeof(ev))
		return "event shorter than its header";
	memcpy(&ev, buf, sizeof(ev));
	if (ev.hdr.kind != EVBUS_REC_EVENT || ev.hdr.hdr_len != sizeof(ev) || ev.hdr.len != len)
		return "bad event header length";
	if (!ev.topic_len || ev.topic_len > EVBUS_TOPIC_MAX)
		return "bad event topic_len";
	if (len != sizeof(ev) + EVBUS_ALIGN(ev.topic_len + 1) + EVBUS_ALIGN(ev.payload_len))
		return "event length does not match topic/payload";
	if (buf[sizeof(ev) + ev.topic_len] != '\0')
		return "event topic not NUL-terminated";
	if (in_request ? ev.seq != 0 : !ev.seq)
		return in_request ? "event of a request with a seq" : "event seq 0";
	lo = ev.flags & 0xffff;
	mod = EVBUS_EVENT_MODIFIER(ev.flags);
	/* Replayed (SINCE, LAST) or retained, never both. */
	if ((lo & ~EV_KNOWN_FLAGS) ||
	    (lo & (EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED)) ==
		    (EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED))
		return "event flags other than REPLAYED or RETAINED, APPROVED or MODIFIED";
	/* Modified: approved too, by an approver whose id it carries; else no id. */
	if ((lo & EVBUS_EVENT_MODIFIED) ? !(lo & EVBUS_EVENT_APPROVED) || !mod ||
					  mod > EVBUS_APPROVER_ID_MAX : mod != 0)
		return "MODIFIED without APPROVED or the modifier's id, or an id without MODIFIED";
	if (in_request && (lo & (EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED)))
		return "the event of a request replayed or retained";
	/* A will (#17) never asks and is never a retained value. */
	if ((lo & EVBUS_EVENT_WILL) &&
	    (in_request || (lo & (EV_GATE_FLAGS | EVBUS_EVENT_RETAINED))))
		return "a will in a request, or approved, modified or retained";
	if (in_request)
		return NULL;
	feat[F_REPLAYED] += !!(lo & EVBUS_EVENT_REPLAYED);
	feat[F_RETAINED_EV] += !!(lo & EVBUS_EVENT_RETAINED);
	feat[F_APPROVED_EV] += !!(lo & EVBUS_EVENT_APPROVED);
	feat[F_MODIFIED_EV] += !!(lo & EVBUS_EVENT_MODIFIED);
	feat[F_WILL_EV] += !!(lo & EVBUS_EVENT_WILL);
	return NULL;
}

/*
 * Is every record in buf[0..n) well formed?  NULL if so, else what is not.
 * Counts replayed and retained events, history lags, approved and
 * modified events, requests and cancellations into feat.
 */
static const char *check_records(const char *buf, size_t n, unsigned long *feat)
{
	size_t off = 0;

	if (n & 7)
		return "length not a multiple of 8";
	while (off < n) {
		struct evbus_rec_hdr h;
		const char *why;

		if (n - off < sizeof(h))
			return "truncated header";
		memcpy(&h, buf + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > n - off || (h.len & 7))
			return "bad record length";
		if (h.kind == EVBUS_REC_EVENT) {
			why = check_event(buf + off, h.len, false, feat);
			if (why)
				return why;
		} else if (h.kind == EVBUS_REC_REVOKED) {
			struct evbus_revoked rv;

			if (h.hdr_len != sizeof(rv) || h.len != sizeof(rv))
				return "bad REVOKED length";
			memcpy(&rv, buf + off, sizeof(rv));
			if (!rv.sub_id || (rv.reason != EVBUS_DENY_RULE &&
					   rv.reason != EVBUS_DENY_DEFAULT))
				return "bad REVOKED record";
		} else if (h.kind == EVBUS_REC_LAGGED) {
			struct evbus_lagged lg;

			if (h.hdr_len != sizeof(lg) || h.len != sizeof(lg))
				return "bad LAGGED length";
			memcpy(&lg, buf + off, sizeof(lg));
			if (!lg.lost || lg.first_seq > lg.last_seq ||
			    lg.lost > lg.last_seq - lg.first_seq + 1)
				return "inconsistent LAGGED record";
			if ((lg.flags & ~EVBUS_LAGGED_HISTORY) || lg.reserved)
				return "LAGGED flags other than HISTORY, or reserved";
			feat[F_HIST_LAG] += !!(lg.flags & EVBUS_LAGGED_HISTORY);
		} else if (h.kind == EVBUS_REC_REQUEST) {
			struct evbus_request rq;

			/* The fixed part, then a whole event record filling the rest. */
			if (h.hdr_len != sizeof(rq) || h.len < sizeof(rq) + sizeof(struct evbus_event))
				return "bad REQUEST length";
			memcpy(&rq, buf + off, sizeof(rq));
			if (!rq.approver_id || rq.approver_id > EVBUS_APPROVER_ID_MAX || !rq.id ||
			    rq.id > UINT32_MAX || (rq.flags & ~EVBUS_REQ_MANDATORY) || rq.reserved ||
			    !rq.deadline_ns)
				return "bad REQUEST record (approver, id, flags, reserved or deadline)";
			why = check_event(buf + off + h.hdr_len, h.len - h.hdr_len, true, feat);
			if (why)
				return why;
			feat[F_REQ_READ]++;
		} else if (h.kind == EVBUS_REC_CANCELLED) {
			struct evbus_cancelled cn;

			if (h.hdr_len != sizeof(cn) || h.len != sizeof(cn))
				return "bad CANCELLED length";
			memcpy(&cn, buf + off, sizeof(cn));
			if (!cn.approver_id || cn.approver_id > EVBUS_APPROVER_ID_MAX || !cn.id ||
			    cn.id > UINT32_MAX ||
			    (cn.reason != EVBUS_CANCEL_WITHDRAWN && cn.reason != EVBUS_CANCEL_EXPIRED))
				return "bad CANCELLED record";
			feat[F_CANCEL_READ]++;
		} else {
			return "unexpected record kind";
		}
		off += h.len;
	}
	return NULL;
}

/* --------------------------------------------------------------- memory */

static void *xmmap(void *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		perror("ioctl-fuzz: mmap");
		exit(2);
	}
	return p;
}

static void th_mem_init(struct th *t)
{
	size_t wl[R_N] = { W_ARG_SZ, W_DESC_SZ, W_TOPIC_SZ, W_PAY_SZ };
	size_t off, i;
	char *res;
	int fd;

	t->mem_len = ARENA_SZ + PG;
	for (i = 0; i < R_N; i++)
		t->mem_len += wl[i] + PG;
	t->mem = xmmap(NULL, t->mem_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t->arena = t->mem;
	off = ARENA_SZ;
	mprotect(t->mem + off, PG, PROT_NONE);
	off += PG;
	for (i = 0; i < R_N; i++) {
		t->win[i] = t->mem + off;
		t->win_len[i] = wl[i];
		off += wl[i];
		mprotect(t->mem + off, PG, PROT_NONE);
		off += PG;
	}
	/* Payload bytes: anything, but not all zero. */
	for (i = 0; i < ARENA_SZ; i += 8)
		memcpy(t->arena + i, &i, 8);

	fd = memfd_create("ioctl-fuzz-ro", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, RO_SZ)) {
		perror("ioctl-fuzz: memfd");
		exit(2);
	}
	t->ro_w = xmmap(NULL, RO_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	res = xmmap(NULL, RO_SZ + PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	t->ro_r = xmmap(res, RO_SZ, PROT_READ, MAP_SHARED | MAP_FIXED, fd);
	close(fd);
	for (i = 0; i < RO_SZ; i++)
		t->ro_w[i] = (char)('a' + i % 26);
}

static void reset_bumps(struct th *t)
{
	memset(t->bump, 0, sizeof(t->bump));
	memset(t->ro_bump, 0, sizeof(t->ro_bump));
}

static size_t bump(size_t *b, size_t len, size_t cap)
{
	size_t off = *b;

	if (len > cap)
		len = cap;
	if (off + len > cap)
		off = 0;
	*b = (off + len + 15) & ~(size_t)7;
	return off;
}

static enum kind pick_kind(struct th *t, unsigned int good_pct)
{
	uint32_t r;

	if (chance(t, good_pct))
		return K_GOOD;
	r = rnd(t, 100);
	if (r < 14) return K_MISALIGN;
	if (r < 40) return K_EDGE;
	if (r < 52) return K_RO;
	if (r < 55) return K_CODE;
	if (r < 63) return K_NULL;
	if (r < 68) return K_LOW;
	if (r < 76) return K_NOACC;
	if (r < 87) return K_KERNEL;
	if (r < 94) return K_NONCANON;
	return K_TASKEND;
}

static void code_anchor(void)
{
}

/* An address of a kind that holds none of our data. */
static uint64_t bad_addr(struct th *t, enum kind k)
{
	switch (k) {
	case K_NULL:
		return 0;
	case K_LOW:
		return 1 + rnd(t, PG - 1);
	case K_NOACC:
		return (uintptr_t)g_noacc + rnd(t, NOACC_SZ);
	case K_KERNEL:
		return kernel_addrs[rnd(t, sizeof(kernel_addrs) / sizeof(kernel_addrs[0]))];
	case K_NONCANON:
		switch (rnd(t, 4)) {
		case 0: return 0x0000800000000000ULL;
		case 1: return 0x8000000000000000ULL;
		case 2: return 0x00ff000000000000ULL + (rnd64(t) & 0xffffffffffULL);
		default: return (rnd64(t) | (1ULL << 62)) & ~(1ULL << 63);
		}
	case K_TASKEND:
		return 0x00007ffffffff000ULL + rnd(t, 2 * PG);
	case K_CODE:
		return (uintptr_t)&code_anchor;
	default:
		return 0;
	}
}

/*
 * Put len bytes of src somewhere of kind k for region r and return the user
 * address to pass.  *rw (if given) says whether the bytes we placed can be
 * read back and written by the kernel; *fits whether all len bytes are there.
 */
static uint64_t place(struct th *t, enum reg r, enum kind k, const void *src,
		      size_t len, bool *rw)
{
	char *p;
	size_t off, kk;

	if (rw)
		*rw = false;
	switch (k) {
	case K_GOOD:
	case K_MISALIGN:
		off = bump(&t->bump[r], len + 8, good_len[r]);
		p = t->arena + good_off[r] + off;
		if (k == K_MISALIGN)
			p += 1 + rnd(t, 7);
		if (len > good_len[r] - (size_t)(p - t->arena - good_off[r]))
			len = good_len[r] - (size_t)(p - t->arena - good_off[r]);
		memcpy(p, src, len);
		if (rw)
			*rw = true;
		D(t, "%s(%s+%#zx)", kind_name[k], reg_name[r], (size_t)(p - t->arena - good_off[r]));
		return (uintptr_t)p;
	case K_EDGE:
		/* k bytes before the guard: all of it, some of it, none. */
		switch (rnd(t, 4)) {
		case 0: case 1: kk = len; break;
		case 2: kk = len ? rnd(t, (uint32_t)len) : 0; break;
		default: kk = len > 8 ? len - 1 - rnd(t, 8) : 0; break;
		}
		if (kk > t->win_len[r])
			kk = t->win_len[r];
		p = t->win[r] + t->win_len[r] - kk;
		memcpy(p, src, kk < len ? kk : len);
		if (rw)
			*rw = kk >= len;
		D(t, "edge(%s guard-%zu)", reg_name[r], kk);
		return (uintptr_t)p;
	case K_RO:
		off = bump(&t->ro_bump[r], len + 8, ro_len[r]) + ro_off[r];
		kk = len < RO_SZ - off ? len : RO_SZ - off;
		memcpy(t->ro_w + off, src, kk);
		D(t, "read-only(%s+%#zx)", reg_name[r], off - ro_off[r]);
		return (uintptr_t)(t->ro_r + off);
	default: {
		uint64_t a = bad_addr(t, k);

		D(t, "%s(%#llx)", kind_name[k], (unsigned long long)a);
		return a;
	}
	}
}

/* A pointer to len bytes we read from (payloads, read buffers): no copy. */
static uint64_t place_buf(struct th *t, enum kind k, uint64_t len, bool *rw)
{
	size_t span = len < good_len[R_PAY] ? (size_t)len : good_len[R_PAY];
	size_t kk, w = t->win_len[R_PAY];
	char *p;

	if (rw)
		*rw = false;
	switch (k) {
	case K_GOOD:
	case K_MISALIGN:
		p = t->arena + good_off[R_PAY] +
		    (rnd(t, (uint32_t)(good_len[R_PAY] - span) + 1) & ~7u);
		if (k == K_MISALIGN)
			p += 1 + rnd(t, 7);
		if (rw)
			*rw = true;
		D(t, "%s+%#zx", kind_name[k], (size_t)(p - t->arena - good_off[R_PAY]));
		return (uintptr_t)p;
	case K_EDGE:
		kk = chance(t, 50) && len <= w ? (size_t)len : rnd(t, (uint32_t)(span < w ? span : w) + 1);
		p = t->win[R_PAY] + w - kk;
		if (rw)
			*rw = true;
		D(t, "edge(guard-%zu)", kk);
		return (uintptr_t)p;
	case K_RO:
		kk = rnd(t, ro_len[R_PAY]) & ~7u;
		D(t, "read-only+%#zx", kk);
		return (uintptr_t)(t->ro_r + ro_off[R_PAY] + kk);
	default: {
		uint64_t a = bad_addr(t, k);

		D(t, "%s(%#llx)", kind_name[k], (unsigned long long)a);
		return a;
	}
	}
}

/* ------------------------------------------------------------- topics */

static const char *const words[] = {
	"fuzz", "a", "b", "c", "x", "evt", "t1", "Z_9", "host-1:eth0", "ab",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static size_t put_word(char *s, size_t n, const char *w)
{
	size_t l = strlen(w);

	memcpy(s + n, w, l);
	return n + l;
}

/* A topic or pattern into s (room for 320 bytes); returns its length. */
static size_t gen_text(struct th *t, char *s, bool pattern)
{
	static const char bad[] = " /#+\t\x7f\x80\xc3\xff*>.,$";
	/* The kernel's own topics, patterns reaching them, near misses. */
	static const char *const sys[] = {
		"$sys.file.open", "$sys.file.close", "$sys.policy.denied", "$sys.x",
		"$sys.>", "$sys.*", "$sys.file.*", "$sys.*.open", "$sys",
		"$SYS.file.open", "$sysx.a", "$.a", "$", "a.$sys", "$sys$.a", "$*.a",
	};
	uint32_t r = rnd(t, 100), i, nseg;
	size_t n = 0, target;

	if (r >= 66 && r < 72) {
		const char *w = sys[rnd(t, sizeof(sys) / sizeof(sys[0]))];

		if (!pattern && strchr(w, '>'))
			w = sys[0];
		return put_word(s, 0, w);
	}
	if (r < 66 || r >= 84) {
		nseg = 1 + rnd(t, 4);
		for (i = 0; i < nseg; i++) {
			if (i)
				s[n++] = '.';
			if (pattern && chance(t, 18))
				s[n++] = '*';
			else if (pattern && i == nseg - 1 && chance(t, 25))
				s[n++] = '>';
			else
				n = put_word(s, n, words[rnd(t, NWORDS)]);
		}
		if (pattern && chance(t, 6)) {
			s[0] = '>';
			n = 1;
		}
		if (r < 72)
			return n;
		/* 84..99: break it. */
		switch (rnd(t, 8)) {
		case 0: memmove(s + 1, s, n++); s[0] = '.'; break;
		case 1: s[n++] = '.'; break;
		case 2: i = rnd(t, (uint32_t)n); memmove(s + i + 1, s + i, n - i); s[i] = '.'; n++;
			if (i + 1 < n && s[i + 1] != '.') { memmove(s + i + 1, s + i, n - i); s[i] = '.'; n++; }
			break;
		case 3: s[rnd(t, (uint32_t)n)] = bad[rnd(t, sizeof(bad) - 1)]; break;
		case 4: s[rnd(t, (uint32_t)n)] = '\0'; break;
		case 5: n = put_word(s, n, rnd(t, 2) ? "*" : ">"); break;
		case 6: s[n++] = '.'; s[n++] = '>'; s[n++] = '.'; s[n++] = 'a'; break;
		default: s[n++] = '*'; s[n++] = '*'; break;
		}
		return n;
	}
	if (r < 78) {
		/* Around the segment limit: 19, 20 or 21 segments. */
		nseg = 19 + rnd(t, 3);
		for (i = 0; i < nseg; i++) {
			if (i)
				s[n++] = '.';
			s[n++] = pattern && chance(t, 10) ? '*' : 'a' + rnd(t, 3);
		}
		return n;
	}
	/* Around the length limit: 254, 255 or 256 bytes. */
	target = 254 + rnd(t, 3);
	for (n = 0; n < target; n++)
		s[n] = (n % 12 == 11 && n + 1 < target) ? '.' : 'x';
	return n;
}

/* A length field for text of length len: mostly right. */
static uint32_t gen_len(struct th *t, size_t len)
{
	static const uint32_t odd[] = {
		0, 1, 254, 255, 256, 257, 0xffffffff, 0x80000000, 0x10000,
	};

	if (chance(t, 86))
		return (uint32_t)len;
	switch (rnd(t, 4)) {
	case 0: return (uint32_t)len + 1;
	case 1: return len ? (uint32_t)len - 1 : 0;
	case 2: return rnd32(t);
	default: return odd[rnd(t, sizeof(odd) / sizeof(odd[0]))];
	}
}

/* Generate a topic or pattern, place it, fill *addr and *len. */
static void gen_text_placed(struct th *t, bool pattern, __u64 *addr,
			    uint32_t *len, unsigned int good_pct)
{
	char s[320];
	size_t n = gen_text(t, s, pattern);
	enum kind k = pick_kind(t, good_pct);

	*len = gen_len(t, n);
	D(t, "%s=", pattern ? "pattern" : "topic");
	*addr = place(t, R_TOPIC, k, s, n, NULL);
	D(t, " ");
	D_text(t, s, n);
	D(t, " %s_len=%u", pattern ? "pattern" : "topic", *len);
}

static uint32_t gen_paylen(struct th *t, bool small)
{
	uint32_t r = rnd(t, 100);

	if (small) {
		if (r < 55) return rnd(t, 33);
		if (r < 90) return 0;
		if (r < 98) return 33 + rnd(t, 1024);
		return g_max_payload + rnd(t, 2);
	}
	if (r < 28) return 0;
	if (r < 58) return 1 + rnd(t, 64);
	if (r < 76) return 65 + rnd(t, 4032);
	if (r < 82) return 4097 + rnd(t, g_max_payload > 4097 ? g_max_payload - 4096 : 1);
	if (r < 89) return g_max_payload - 1 + rnd(t, 3);
	if (r < 93) return rnd(t, 2u << 20);
	if (r < 95) return 2u << 20;
	if (r < 98) return 0xffffffff;
	return rnd32(t);
}

/* --------------------------------------------------------- struct makers */

static void gen_version(struct th *t, struct evbus_version *v)
{
	memset(v, 0, sizeof(*v));
	if (chance(t, 10))
		v->flags = rnd32(t) | 1;
	if (chance(t, 8))
		v->reserved[rnd(t, 4)] = rnd64(t) | 1;
	if (chance(t, 10))	/* out fields: ignored on input */
		v->abi_version = rnd32(t), v->features = rnd64(t);
	D(t, "{flags=%#x reserved=[%#llx,%#llx,%#llx,%#llx]}", v->flags,
	  (unsigned long long)v->reserved[0], (unsigned long long)v->reserved[1],
	  (unsigned long long)v->reserved[2], (unsigned long long)v->reserved[3]);
}

static void gen_sub(struct th *t, struct evbus_sub *s)
{
	memset(s, 0, sizeof(*s));
	D(t, "{");
	gen_text_placed(t, true, &s->pattern, &s->pattern_len, 88);
	if (chance(t, 5))
		s->flags = rnd32(t) | 1;
	if (chance(t, 5))
		s->reserved = rnd32(t) | 1;
	if (chance(t, 20))
		s->sub_id = rnd32(t);
	D(t, " flags=%#x reserved=%#x}", s->flags, s->reserved);
}

static uint32_t gen_sub_id(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 80) return rnd(t, 48);
	if (r < 88) return 0;
	if (r < 94) return 0xffffffff;
	return rnd32(t);
}

/*
 * A deadline for an asking publish (#16): 0 (the module's
 * approval_timeout_ms, which the fuzzer lowers), up to 50 ms, a few ns, or
 * anything (cut to approval_max_ms, lowered too), so no ask waits long.
 */
static uint64_t gen_deadline(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 30) return 0;
	if (r < 80) return rnd(t, 50 * 1000 * 1000);
	if (r < 90) return 1 + rnd(t, 1000);
	return rnd64(t);
}

/*
 * A deadline for EVBUS_PUB_WAIT (#17): mostly a few ms (the fuzzer's
 * limits on shared files never make anyone wait, and rate_wait_max_ms is
 * lowered), a few ns, 0 (EINVAL with the flag) or anything.
 */
static uint64_t gen_wait_deadline(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 70) return 1000000 + rnd(t, 4000000);
	if (r < 82) return 1 + rnd(t, 1000);
	if (r < 92) return 0;
	return rnd64(t);
}

struct pool {
	int n;
	__u64 addr[8];
	uint32_t len[8];
};

static void gen_pub(struct th *t, struct evbus_pub *p, bool small,
		    unsigned int bad_pct, const struct pool *pool)
{
	memset(p, 0, sizeof(*p));
	D(t, "{");
	if (pool) {
		int i = (int)rnd(t, (uint32_t)pool->n);

		p->topic = pool->addr[i];
		p->topic_len = pool->len[i];
		D(t, "topic=pool[%d]", i);
	} else {
		gen_text_placed(t, false, &p->topic, &p->topic_len, 88);
	}
	p->payload_len = gen_paylen(t, small);
	D(t, " payload=");
	if (!p->payload_len && chance(t, 50)) {
		p->payload = 0;
		D(t, "0");
	} else {
		p->payload = place_buf(t, pick_kind(t, 88), p->payload_len, NULL);
	}
	if (chance(t, 30))
		p->type = rnd32(t), p->corr = rnd64(t), p->parent = rnd64(t);
	if (chance(t, 10))
		p->seq = rnd64(t);	/* out field: ignored */
	/* A retained value (#15): set, replaced, or cleared by an empty payload. */
	if (chance(t, 12))
		p->flags = EVBUS_PUB_RETAIN;
	/* Asking for approval (#16), a few per call; a deadline set alone is ignored. */
	if (t->ask_budget && chance(t, 5)) {
		t->ask_budget--;
		p->flags |= EVBUS_PUB_ASK;
		p->deadline_ns = gen_deadline(t);
	} else if (chance(t, 3)) {
		p->deadline_ns = gen_deadline(t);
	}
	/* Waiting for rate tokens (#17); with EVBUS_PUB_ASK its deadline is the ask's. */
	if (chance(t, 6)) {
		p->flags |= EVBUS_PUB_WAIT;
		if (!(p->flags & EVBUS_PUB_ASK))
			p->deadline_ns = gen_wait_deadline(t);
	}
	if (chance(t, (uint32_t)bad_pct)) {
		switch (rnd(t, 8)) {
		case 0:	/* a bit beyond EVBUS_PUB_RETAIN, _ASK and _WAIT, with or without them */
			p->flags = (rnd32(t) & ~7u) | 1u << (3 + rnd(t, 29)) | rnd(t, 2);
			break;
		case 1: p->reserved = rnd64(t) | 1; break;
		case 2: p->reserved = 1; break;
		case 3: p->topic_len = rnd(t, 2) ? 0 : 256; break;
		case 4: p->payload_len = g_max_payload + 1 + rnd(t, 1u << 21); break;
		case 5: p->topic = bad_addr(t, (enum kind)(K_NULL + rnd(t, K_N - K_NULL))); break;
		case 6: p->payload = bad_addr(t, (enum kind)(K_NULL + rnd(t, K_N - K_NULL)));
			if (!p->payload_len) p->payload_len = 1 + rnd(t, 64);
			break;
		default: p->topic_len = rnd32(t); break;
		}
		D(t, " [made bad]");
	}
	D(t, " payload_len=%u type=%#x flags=%#x deadline_ns=%llu reserved=%#llx}",
	  p->payload_len, p->type, p->flags, (unsigned long long)p->deadline_ns,
	  (unsigned long long)p->reserved);
}

/* Batch descriptors and header.  Returns the number of descriptors placed. */
static uint32_t gen_batch(struct th *t, struct evbus_pub_batch *b, bool limit,
			  bool *descs_rw, uint64_t *descs_addr, uint32_t *ngen_out)
{
	struct pool pool;
	uint32_t count, ngen, i, r = rnd(t, 100), bad_pct, bad_one = ~0u;
	bool small;
	enum kind k;
	int j;

	if (r < 20) count = 1;
	else if (r < 60) count = 2 + rnd(t, 7);
	else if (r < 80) count = 9 + rnd(t, 56);
	else if (r < 88) count = 65 + rnd(t, EVBUS_BATCH_MAX - 65);
	else if (r < 92) count = EVBUS_BATCH_MAX;
	else if (r < 95) count = 0;
	else if (r < 97) count = EVBUS_BATCH_MAX + 1;
	else count = rnd32(t);
	if (limit && count > 64 && count <= EVBUS_BATCH_MAX + 1)
		count = 1 + count % 64;
	ngen = count <= EVBUS_BATCH_MAX + 1 ? count : 16;
	small = count > 16 || chance(t, 50);

	memset(b, 0, sizeof(*b));
	D(t, "{count=%u pool:", count);
	pool.n = 1 + (int)rnd(t, 8);
	for (j = 0; j < pool.n; j++) {
		D(t, " [%d]", j);
		gen_text_placed(t, false, &pool.addr[j], &pool.len[j], 92);
	}
	r = rnd(t, 100);
	bad_pct = r < 40 ? 0 : r < 70 ? 5 : r < 85 ? 0 : 50;
	if (r >= 70 && r < 85 && ngen)
		bad_one = rnd(t, ngen);
	D(t, " descs(bad%%=%u bad_one=%d):", bad_pct, (int)bad_one);
	/* Each asking event may wait its whole deadline: two at most. */
	t->ask_budget = 2;
	for (i = 0; i < ngen; i++) {
		bool show = t->describe && (i < 4 || i == bad_one || i + 1 == ngen);
		bool was = t->describe;

		t->describe = show;
		D(t, " [%u]", i);
		gen_pub(t, &t->descs[i], small, i == bad_one ? 100 : bad_pct, &pool);
		t->describe = was;
	}
	b->count = count;
	r = rnd(t, 100);
	b->flags = r < 45 ? 0 : r < 92 ? EVBUS_BATCH_SEQ : rnd32(t);
	if (chance(t, 4))
		b->reserved32 = rnd32(t) | 1;
	if (chance(t, 4))
		b->reserved[rnd(t, 2)] = rnd64(t) | 1;
	if (chance(t, 15))
		b->first_seq = rnd64(t), b->published = rnd32(t),
		b->error = (int32_t)rnd32(t), b->error_index = rnd32(t);
	k = pick_kind(t, 82);
	D(t, " events=");
	b->events = place(t, R_DESC, k, t->descs, (size_t)ngen * sizeof(t->descs[0]),
			  descs_rw);
	*descs_addr = b->events;
	*ngen_out = ngen;
	D(t, " flags=%#x reserved32=%#x reserved=[%#llx,%#llx]}", b->flags,
	  b->reserved32, (unsigned long long)b->reserved[0],
	  (unsigned long long)b->reserved[1]);
	return count;
}

static uint32_t gen_ring_size(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 20) return 0;
	if (r < 30) return 4095 + rnd(t, 3);
	if (r < 60) return 1u << (12 + rnd(t, 7));
	if (r < 70) return 4096 + rnd(t, 258048);
	if (r < 74) return 1u << (12 + rnd(t, 13));
	if (r < 77) return g_ring_max;
	if (r < 80) return g_ring_max + 1;
	if (r < 84) return 0xffffffff;
	if (r < 87) return 0x80000000;
	if (r < 92) return 1 + rnd(t, 4095);
	return rnd32(t);
}

static void gen_ring(struct th *t, struct evbus_ring_cfg *c)
{
	uint32_t r = rnd(t, 100);

	memset(c, 0, sizeof(*c));
	c->size = gen_ring_size(t);
	c->policy = r < 40 ? EVBUS_POLICY_DROP_OLDEST : r < 80 ? EVBUS_POLICY_DROP_NEWEST :
		    r < 95 ? EVBUS_POLICY_LOSSLESS : rnd(t, 2) ? 3 : rnd32(t);
	r = rnd(t, 100);
	if (r < 20) {
		/* Wake-up coalescing, mostly valid, delays of at most 2 ms. */
		c->flags = EVBUS_RING_WAKE;
		c->wake_events = r < 16 ? 1 + rnd(t, 64) : rnd32(t);
		c->wake_delay_ns = r < 12 ? rnd(t, 2000000) :
				   r < 14 ? 0 : rnd64(t);
	} else if (r < 40) {
		c->flags = rnd32(t) | 1;
	}
	if (chance(t, 6))
		c->wake_events = rnd32(t) | 1;
	if (chance(t, 6))
		c->wake_delay_ns = rnd64(t) | 1;
	/*
	 * Lossless (#17): a wait of 1 ns up to lossless_max_ms (lowered while
	 * the fuzzer runs), mostly a few ms; 0 or past it EINVAL, and so is a
	 * wait with another policy.
	 */
	if (c->policy == EVBUS_POLICY_LOSSLESS) {
		r = rnd(t, 100);
		c->wait_ns = r < 60 ? 1000000 + rnd(t, 4000000) : r < 70 ? 1 + rnd(t, 1000) :
			     r < 78 ? (uint64_t)LOSSLESS_MS * 1000000 : r < 86 ? 0 :
			     r < 93 ? (uint64_t)LOSSLESS_MS * 1000000 + 1 : rnd64(t);
	} else if (chance(t, 6)) {
		c->wait_ns = rnd64(t) | 1;
	}
	D(t, "{size=%u policy=%u flags=%#x wake_events=%u wake_delay_ns=%llu wait_ns=%#llx}",
	  c->size, c->policy, c->flags, c->wake_events,
	  (unsigned long long)c->wake_delay_ns, (unsigned long long)c->wait_ns);
}

static void gen_stats(struct th *t, struct evbus_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (chance(t, 8))
		st->flags = rnd32(t) | 1;
	if (chance(t, 8))
		st->reserved[rnd(t, 4)] = rnd64(t) | 1;
	if (chance(t, 20))
		st->queued_events = rnd64(t), st->capacity = rnd32(t);
	D(t, "{flags=%#x reserved=[%#llx,%#llx,%#llx,%#llx]}", st->flags,
	  (unsigned long long)st->reserved[0], (unsigned long long)st->reserved[1],
	  (unsigned long long)st->reserved[2], (unsigned long long)st->reserved[3]);
}

/* ------------------------------------------------------------ fd choice */

static const char *slot_class(int i)
{
	return slot_nonblock(i) ? "O_NONBLOCK" : "blocking";
}

/* A slot's fd, or now and then -1 or a number that is never open. */
static int pick_fd(struct th *t, bool nonblock_only)
{
	uint32_t r = rnd(t, 100);
	int i;

	if (r < 2) {
		D(t, "fd=-1");
		return -1;
	}
	if (r < 4) {
		D(t, "fd=%d(never open)", slot_fd(NSLOTS + 4));
		return slot_fd(NSLOTS + 4);
	}
	/* The worker's private files (O_NONBLOCK): their rings get read too. */
	if (r < 9) {
		D(t, "%s(fd %d)", r < 7 ? "private" : "scoped", r < 7 ? t->pfd : t->sfd);
		return r < 7 ? t->pfd : t->sfd;
	}
	i = nonblock_only ? (int)rnd(t, NSLOTS / 2) : (int)rnd(t, NSLOTS);
	D(t, "slot%d(fd %d, %s)", i, slot_fd(i), slot_class(i));
	return slot_fd(i);
}

/* ----------------------------------------------------------- operations */

struct argdesc {
	int which;		/* index in evcmd[], -1 if not an evbus command */
	union argbuf a;
	size_t len;
	uint64_t addr;
	bool rw;		/* all of it placed where the kernel can write */
	char *local;		/* where to read it back from if rw */
	uint32_t count;		/* batch: count; POLICY_LIST: count asked */
	uint32_t ngen;
	bool descs_rw;
	uint64_t descs;
	const char *bad;	/* something the kernel must refuse, or NULL */
	uint32_t size;		/* size-versioned structs: the size field */
	uint64_t buf;		/* POLICY_LIST: the rules buffer */
	uint32_t buf_n;		/* entries of it placed */
	bool buf_rw;
	bool then_remove;	/* POLICY_ADD: remove the rule again at once */
	bool asks;		/* PUBLISH(_BATCH): some event asks for approval (#16) */
	bool ask_rule;		/* POLICY_ADD: an EVBUS_ASK rule */
	bool since_rel;		/* SUBSCRIBE2: since is the next seq + since_d */
	int32_t since_d;
};

#define N_OF(a)		(sizeof(a) / sizeof((a)[0]))

static void mark_bad(struct argdesc *ad, const char *why)
{
	if (!ad->bad)
		ad->bad = why;
}

/* Patterns of scopes and rules: a small family, so that they nest and
 * overlap often (and a topic of gen_text() falls inside some of them). */
static const char *const fam[] = {
	">", "a.>", "a.b.>", "a.*", "a.b", "a.b.c", "*.b", "*.>", "a.*.c",
	"fuzz.>", "b.>", "x", "$sys.>", "$sys.file.*", "*", "c.*.>", "a", "b.c",
	"$sys.policy.denied", "fuzz.stop",
};

static size_t gen_fam(struct th *t, char *s)
{
	if (chance(t, 78))
		return put_word(s, 0, fam[rnd(t, N_OF(fam))]);
	return gen_text(t, s, true);
}

/* A uid or gid: root, nobody (the unprivileged child), others, -1. */
static uint32_t gen_idval(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 30) return 0;
	if (r < 60) return 65534;
	if (r < 70) return 1000;
	if (r < 78) return 0xffffffff;	/* never a valid id */
	if (r < 85) return 1;
	return rnd(t, 2) ? rnd(t, 70000) : rnd32(t);
}

/* ----------------------------------------------------- classic BPF */

static struct sock_filter bpf_ins(uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	struct sock_filter f = { code, jt, jf, k };

	return f;
}

static const uint16_t alu_ops[] = {
	BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR,
	BPF_LSH, BPF_RSH,
};
static const uint16_t jmp_ops[] = { BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET };
/* Offsets in the record (struct evbus_event): len, kind, topic_len,
 * payload_len, seq, pid, tid, uid, gid, type, flags, corr, topic, payload. */
static const uint32_t rec_offs[] = {
	0, 4, 8, 12, 16, 40, 44, 48, 52, 56, 60, 64, 80, 84, 88, 96, 1020,
};

/* An instruction both checkers accept at pc (not the last) of n. */
static struct sock_filter good_insn(struct th *t, uint32_t pc, uint32_t n,
				    uint16_t *stored)
{
	uint32_t left = n - pc - 1, i, k;	/* >= 1: the RET at n - 1 */
	uint16_t op;

	switch (rnd(t, 20)) {
	case 0: case 1:
		return bpf_ins(BPF_LD | BPF_W | BPF_ABS, 0, 0,
			       4 * rnd(t, EVBUS_FILTER_WINDOW / 4));
	case 2: case 3:
		return bpf_ins(BPF_LD | BPF_W | BPF_ABS, 0, 0, rec_offs[rnd(t, N_OF(rec_offs))]);
	case 4:
		return bpf_ins(BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
	case 5:
		return bpf_ins(BPF_LDX | BPF_W | BPF_LEN, 0, 0, 0);
	case 6:
		return bpf_ins(BPF_LD | BPF_IMM, 0, 0, rnd32(t));
	case 7:		/* X = 0 now and then: division by X gives 0 at run time */
		return bpf_ins(BPF_LDX | BPF_IMM, 0, 0, chance(t, 50) ? 0 : rnd32(t));
	case 8: case 9:
		op = alu_ops[rnd(t, N_OF(alu_ops))];
		k = op == BPF_LSH || op == BPF_RSH ? rnd(t, 32) :
		    op == BPF_DIV || op == BPF_MOD ? rnd32(t) | 1 : rnd32(t);
		return bpf_ins(BPF_ALU | op | BPF_K, 0, 0, k);
	case 10:
		return bpf_ins(BPF_ALU | alu_ops[rnd(t, N_OF(alu_ops))] | BPF_X, 0, 0, 0);
	case 11:
		return bpf_ins(BPF_ALU | BPF_NEG, 0, 0, 0);
	case 12:
		return bpf_ins(BPF_MISC | (rnd(t, 2) ? BPF_TAX : BPF_TXA), 0, 0, 0);
	case 13:
		i = rnd(t, BPF_MEMWORDS);
		*stored |= (uint16_t)(1u << i);
		return bpf_ins(rnd(t, 2) ? BPF_ST : BPF_STX, 0, 0, i);
	case 14:
		if (!*stored)
			return bpf_ins(BPF_LD | BPF_IMM, 0, 0, 7);
		do
			i = rnd(t, BPF_MEMWORDS);
		while (!(*stored & (1u << i)));
		return bpf_ins(rnd(t, 2) ? BPF_LD | BPF_MEM : BPF_LDX | BPF_MEM, 0, 0, i);
	case 15: case 16: case 17:
		return bpf_ins(BPF_JMP | jmp_ops[rnd(t, N_OF(jmp_ops))] |
			       (rnd(t, 2) ? BPF_K : BPF_X),
			       (uint8_t)rnd(t, left < 256 ? left : 256),
			       (uint8_t)rnd(t, left < 256 ? left : 256),
			       rnd(t, 2) ? rnd(t, 8) : rnd32(t));
	case 18:
		return bpf_ins(BPF_JMP | BPF_JA, 0, 0, rnd(t, left));
	default:	/* an early return: what follows is unreachable, still fine */
		return bpf_ins(BPF_RET | (rnd(t, 2) ? BPF_K : BPF_A), 0, 0, rnd(t, 2));
	}
}

/* A program that should load, of n instructions (n >= 1), ending in RET. */
static void good_prog(struct th *t, struct sock_filter *f, uint32_t n)
{
	uint16_t stored = 0;
	uint32_t pc;

	for (pc = 0; pc + 1 < n; pc++)
		f[pc] = good_insn(t, pc, n, &stored);
	f[n - 1] = bpf_ins(BPF_RET | (rnd(t, 3) ? BPF_K : BPF_A), 0, 0,
			   chance(t, 70) ? 1 : rnd(t, 2) ? 0 : rnd32(t));
}

/*
 * A classic BPF program for EVBUS_SUB_FILTER into f: good ones (that deliver
 * all, none, by type, or compute at random, up to exactly 256 instructions,
 * with division by a zero X) and hostile ones (257 instructions, length 0
 * or huge, loads outside the window, misaligned, byte/half/indirect loads,
 * division by a constant 0, jumps past the end, no RET, unset or
 * out-of-range scratch memory, shifts by 32, random opcodes).  Returns the
 * instructions placed; *len is filter_len.
 */
static uint32_t gen_prog(struct th *t, struct sock_filter *f, __u32 *len,
			 struct argdesc *ad, bool good_only)
{
	static const uint32_t bad_k[] = {
		EVBUS_FILTER_WINDOW, EVBUS_FILTER_WINDOW + 4, 1021, 2, 0xfffffffc,
		(uint32_t)SKF_AD_OFF, (uint32_t)SKF_AD_OFF + 4, 0x7ffffffc, 4096,
	};
	uint32_t r = good_only ? rnd(t, 54) : rnd(t, 100), n, i;

	if (good_only && r >= 50)
		r += 20;	/* division by X = 0 */
	const char *what;

	if (r < 14) {
		what = "ret";
		n = 1;
		f[0] = bpf_ins(BPF_RET | (rnd(t, 4) ? BPF_K : BPF_A), 0, 0,
			       rnd(t, 3) == 0 ? 0 : rnd(t, 2) ? 1 : rnd32(t));
	} else if (r < 26) {
		what = "type";
		n = 4;
		f[0] = bpf_ins(BPF_LD | BPF_W | BPF_ABS, 0, 0, 56);
		f[1] = bpf_ins(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, rnd(t, 2) ? 0 : rnd(t, 8));
		f[2] = bpf_ins(BPF_RET | BPF_K, 0, 0, 1);
		f[3] = bpf_ins(BPF_RET | BPF_K, 0, 0, 0);
	} else if (r < 46) {
		what = "random";
		n = 2 + rnd(t, 40);
		good_prog(t, f, n);
	} else if (r < 50) {
		what = "256 insns";
		n = EVBUS_FILTER_MAX_INSNS;
		good_prog(t, f, n);
	} else if (r < 54) {
		what = "257 insns";
		n = EVBUS_FILTER_MAX_INSNS + 1;
		good_prog(t, f, n);
		mark_bad(ad, "a filter of 257 instructions");
	} else if (r < 57) {
		what = "length 0";
		n = 1 + rnd(t, 4);
		good_prog(t, f, n);
		*len = 0;
		mark_bad(ad, "filter_len 0");
		goto placed;
	} else if (r < 59) {
		what = "huge length";
		n = 1 + rnd(t, 8);
		good_prog(t, f, n);
		*len = rnd(t, 2) ? 0xffffffff : 4096 + rnd(t, 1u << 20);
		mark_bad(ad, "a huge filter_len");
		goto placed;
	} else if (r < 66) {
		static const uint16_t bad_ld[] = {
			BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_ABS,
			BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_H | BPF_ABS,
			BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_B | BPF_IND,
			BPF_LDX | BPF_B | BPF_MSH,
		};
		uint16_t code = bad_ld[rnd(t, N_OF(bad_ld))];

		what = "bad load";
		n = 2 + rnd(t, 12);
		good_prog(t, f, n);
		f[rnd(t, n - 1)] = bpf_ins(code, 0, 0, code == (BPF_LD | BPF_W | BPF_ABS) ?
					   bad_k[rnd(t, N_OF(bad_k))] : 4 * rnd(t, 8));
		mark_bad(ad, "a load outside the window, misaligned, or not a word");
	} else if (r < 70) {
		what = "division by constant 0";
		n = 2 + rnd(t, 12);
		good_prog(t, f, n);
		f[rnd(t, n - 1)] = bpf_ins(BPF_ALU | (rnd(t, 2) ? BPF_DIV : BPF_MOD) | BPF_K,
					   0, 0, 0);
		mark_bad(ad, "division by a constant 0");
	} else if (r < 74) {
		what = "division by X = 0";
		n = 4;
		f[0] = bpf_ins(BPF_LDX | BPF_IMM, 0, 0, 0);
		f[1] = bpf_ins(BPF_LD | BPF_W | BPF_ABS, 0, 0, 56);
		f[2] = bpf_ins(BPF_ALU | (rnd(t, 2) ? BPF_DIV : BPF_MOD) | BPF_X, 0, 0, 0);
		f[3] = bpf_ins(BPF_RET | BPF_A, 0, 0, 0);
	} else if (r < 78) {
		what = "jump past the end";
		n = 2 + rnd(t, 12);
		good_prog(t, f, n);
		i = rnd(t, n - 1);
		f[i] = rnd(t, 2) ? bpf_ins(BPF_JMP | BPF_JA, 0, 0, n - i - 1 + rnd(t, 1000)) :
		       bpf_ins(BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)(n - i - 1 + rnd(t, 200)), 0, 0);
		mark_bad(ad, "a jump past the end");
	} else if (r < 81) {
		what = "no RET";
		n = 1 + rnd(t, 12);
		good_prog(t, f, n);
		f[n - 1] = bpf_ins(BPF_LD | BPF_IMM, 0, 0, 1);
		mark_bad(ad, "a filter that does not end in RET");
	} else if (r < 84) {
		what = "unset M[]";
		n = 2;
		f[0] = bpf_ins(rnd(t, 2) ? BPF_LD | BPF_MEM : BPF_LDX | BPF_MEM, 0, 0,
			       rnd(t, BPF_MEMWORDS));
		f[1] = bpf_ins(BPF_RET | BPF_A, 0, 0, 0);
		mark_bad(ad, "a load of scratch memory never stored");
	} else if (r < 86) {
		what = "M[16]";
		n = 2;
		f[0] = bpf_ins(rnd(t, 2) ? BPF_ST : BPF_STX, 0, 0,
			       BPF_MEMWORDS + rnd(t, 2) * rnd32(t));
		f[1] = bpf_ins(BPF_RET | BPF_K, 0, 0, 1);
		mark_bad(ad, "scratch memory out of range");
	} else if (r < 90) {
		what = "shift by 32";
		n = 2;
		f[0] = bpf_ins(BPF_ALU | (rnd(t, 2) ? BPF_LSH : BPF_RSH) | BPF_K, 0, 0,
			       32 + rnd(t, 100));
		f[1] = bpf_ins(BPF_RET | BPF_A, 0, 0, 0);
		mark_bad(ad, "a shift by 32 or more");
	} else if (r < 95) {
		what = "random opcode";
		n = 1 + rnd(t, 12);
		good_prog(t, f, n);
		i = rnd(t, n);
		f[i].code = (uint16_t)rnd32(t);
		f[i].k = rnd(t, 2) ? rnd32(t) : rnd(t, 64);
	} else {
		what = "garbage";
		n = 1 + rnd(t, 16);
		for (i = 0; i < n; i++)
			f[i] = bpf_ins((uint16_t)rnd32(t), (uint8_t)rnd(t, 4), (uint8_t)rnd(t, 4),
				       rnd(t, 2) ? rnd32(t) : rnd(t, 1100));
	}
	*len = n;
placed:
	D(t, " prog(%s, %u insns)", what, n);
	return n;
}

static void gen_filter(struct th *t, struct argdesc *ad, __u64 *ptr, __u32 *len, bool clean)
{
	uint32_t n = gen_prog(t, t->prog, len, ad, clean);

	D(t, " filter=");
	*ptr = place(t, R_DESC, clean ? K_GOOD : pick_kind(t, 88), t->prog,
		     (size_t)n * sizeof(t->prog[0]), NULL);
	D(t, " filter_len=%u", *len);
}

/* ------------------------------------------------ the #13 structs */

#define SUB_PAST	(EVBUS_SUB_SINCE | EVBUS_SUB_LAST | EVBUS_SUB_RETAINED)
#define SUB_KNOWN	(0x1fu | SUB_PAST)

/*
 * SUBSCRIBE2's start in the past (#15): SINCE (0, 1, small, huge, or the
 * next seq plus a small offset, filled in when the call is issued, see
 * op_ioctl()), LAST (0, 1, small, huge), RETAINED, now and then two of
 * them, and since/last set without their flag.
 */
static void gen_sub2_past(struct th *t, struct argdesc *ad, bool clean)
{
	struct evbus_subscribe *s = &ad->a.s2;
	uint32_t r = rnd(t, 100), past = 0;

	if (r < 12)
		past = EVBUS_SUB_SINCE;
	else if (r < 20)
		past = EVBUS_SUB_LAST;
	else if (r < 26)
		past = EVBUS_SUB_RETAINED;
	if (past && !clean && chance(t, 8))
		past |= 1u << (5 + rnd(t, 3));
	s->flags |= past;
	if (s->flags & EVBUS_SUB_SINCE) {
		r = clean ? rnd(t, 60) : rnd(t, 100);
		if (r < 35) {
			/* Around the next seq: -6..+2 of it (past it: ERANGE). */
			ad->since_rel = true;
			ad->since_d = clean ? -(int32_t)rnd(t, 300) : (int32_t)rnd(t, 9) - 6;
			s->since = 1;	/* if it cannot be filled in */
		} else if (r < 45) {
			s->since = 1;
		} else if (r < 60) {
			s->since = 1 + rnd(t, 1000);
		} else if (r < 70) {
			s->since = 0;
		} else if (r < 85) {
			static const uint64_t huge[] = {
				~0ULL, 1ULL << 63, 1ULL << 62, 0x7fffffffffffffffULL,
			};
			s->since = huge[rnd(t, N_OF(huge))];
		} else {
			s->since = rnd64(t);
		}
	}
	if (s->flags & EVBUS_SUB_LAST) {
		r = clean ? rnd(t, 55) : rnd(t, 100);
		s->last = r < 40 ? 1 + rnd(t, 16) : r < 55 ? 1 : r < 65 ? 0 :
			  r < 75 ? 0xffffffff : r < 88 ? 1 + rnd(t, 100000) : rnd32(t);
	}
	if (!clean && chance(t, 6)) {	/* a field without its flag */
		if (rnd(t, 2)) {
			if (!(s->flags & EVBUS_SUB_SINCE))
				s->since = rnd(t, 2) ? 1 : rnd64(t) | 1;
		} else if (!(s->flags & EVBUS_SUB_LAST)) {
			s->last = 1 + rnd(t, 8);
		}
	}
	if (!clean && chance(t, 3))
		s->reserved = rnd32(t) | 1;
}

/*
 * Is the SUBSCRIBE2 at ad invalid by what the kernel reads of it, the
 * first size bytes (the rest is zero to it)?  Marks it bad if so.
 */
static void sub2_judge_past(struct argdesc *ad, uint32_t size)
{
	struct evbus_subscribe eff = ad->a.s2;
	uint32_t past;

	if (size < EVBUS_SUBSCRIBE_SIZE_VER0 || size > PG)
		return;		/* bad already */
	if (size < sizeof(eff))
		memset((char *)&eff + size, 0, sizeof(eff) - size);
	past = eff.flags & SUB_PAST;
	if (eff.flags & ~SUB_KNOWN)
		mark_bad(ad, "unknown flags");
	if (past & (past - 1))
		mark_bad(ad, "more than one of SINCE, LAST and RETAINED");
	if (!(eff.flags & EVBUS_SUB_SINCE) != !eff.since)
		mark_bad(ad, "since without SINCE, or SINCE with since 0");
	if (!(eff.flags & EVBUS_SUB_LAST) != !eff.last)
		mark_bad(ad, "last without LAST, or LAST with last 0");
	if (eff.reserved)
		mark_bad(ad, "reserved");
	/* Far past any seq a bus will reach: ERANGE. */
	if ((eff.flags & EVBUS_SUB_SINCE) && eff.since >= 1ULL << 62)
		mark_bad(ad, "since beyond the next seq");
}

static void gen_sub2(struct th *t, struct argdesc *ad)
{
	static const uint32_t mid[] = { 60, 64, 68, 72, 80, 128, 256, 1024 };
	static const uint32_t small[] = { 0, 1, 4, 8, 48, 55 };
	struct evbus_subscribe *s = &ad->a.s2;
	uint32_t r, size, tail_at = 0;
	size_t v0 = EVBUS_SUBSCRIBE_SIZE_VER0, v1 = EVBUS_SUBSCRIBE_SIZE_VER1;
	/* A third are meant to attach, so filters run on what is published. */
	bool clean = chance(t, 33);

	D(t, "{%s", clean ? "clean " : "");
	if (clean) {
		char pat[320];
		size_t n = gen_fam(t, pat);

		s->pattern_len = (uint32_t)n;
		D(t, "pattern=");
		s->pattern = place(t, R_TOPIC, K_GOOD, pat, n, NULL);
		D(t, " ");
		D_text(t, pat, n);
	} else {
		gen_text_placed(t, true, &s->pattern, &s->pattern_len, 88);
	}
	/* Filter flags (bits 0..4), a single bit of the eight known ones,
	 * unknown bits (8..31), anything. */
	r = clean ? rnd(t, 75) : rnd(t, 100);
	s->flags = r < 30 ? 0 : r < 75 ? rnd(t, 32) : r < 87 ? 1u << rnd(t, 8) :
		   r < 94 ? rnd(t, 32) | 1u << (8 + rnd(t, 24)) : rnd32(t);
	if (s->flags & EVBUS_SUB_FROM_UID) {
		s->from_uid = clean ? rnd(t, 2) * 65534 : gen_idval(t);
		if (s->from_uid == 0xffffffff)
			mark_bad(ad, "from_uid -1");
	}
	if (s->flags & EVBUS_SUB_FROM_GID) {
		s->from_gid = clean ? rnd(t, 2) * 65534 : gen_idval(t);
		if (s->from_gid == 0xffffffff)
			mark_bad(ad, "from_gid -1");
	}
	if (s->flags & EVBUS_SUB_FROM_PID) {
		r = clean ? rnd(t, 40) : rnd(t, 100);
		s->from_pid = r < 25 ? (uint32_t)g_pid : r < 40 ? 1 : r < 50 ? 0 :
			      r < 58 ? 4194305 : r < 63 ? 0xffffffff : r < 78 ? 4194304 :
			      rnd(t, 40000);
		if (!s->from_pid || s->from_pid > 4194304)	/* PID_MAX_LIMIT */
			mark_bad(ad, "from_pid 0 or past PID_MAX_LIMIT");
	}
	if (s->flags & EVBUS_SUB_TYPE) {
		r = clean ? rnd(t, 80) : rnd(t, 100);
		if (r < 40) {
			s->type_min = 0, s->type_max = 0;
		} else if (r < 60) {
			s->type_min = 0, s->type_max = 0xffffffff;
		} else if (r < 80) {
			s->type_min = rnd32(t);
			s->type_max = s->type_min + rnd(t, ~s->type_min);
		} else if (r < 90) {
			s->type_min = 1 + rnd(t, 0xfffffffe), s->type_max = s->type_min - 1;
			mark_bad(ad, "type_min > type_max");
		} else {
			s->type_min = s->type_max = rnd(t, 8);
		}
	}
	if (s->flags & EVBUS_SUB_FILTER)
		gen_filter(t, ad, &s->filter, &s->filter_len, clean);
	if (!clean && chance(t, 6)) {	/* a field set without its flag */
		switch (rnd(t, 6)) {
		case 0: if (!(s->flags & EVBUS_SUB_FROM_UID)) s->from_uid = rnd32(t) | 1; break;
		case 1: if (!(s->flags & EVBUS_SUB_FROM_GID)) s->from_gid = 1; break;
		case 2: if (!(s->flags & EVBUS_SUB_FROM_PID)) s->from_pid = (uint32_t)g_pid; break;
		case 3: if (!(s->flags & EVBUS_SUB_TYPE)) s->type_max = 1 + rnd(t, 9); break;
		case 4: if (!(s->flags & EVBUS_SUB_FILTER)) s->filter_len = 1; break;
		default: if (!(s->flags & EVBUS_SUB_FILTER)) s->filter = (uintptr_t)t->prog; break;
		}
		if ((!(s->flags & EVBUS_SUB_FROM_UID) && s->from_uid) ||
		    (!(s->flags & EVBUS_SUB_FROM_GID) && s->from_gid) ||
		    (!(s->flags & EVBUS_SUB_FROM_PID) && s->from_pid) ||
		    (!(s->flags & EVBUS_SUB_TYPE) && s->type_max) ||
		    (!(s->flags & EVBUS_SUB_FILTER) && (s->filter_len || s->filter)))
			mark_bad(ad, "a filter field without its flag");
	}
	gen_sub2_past(t, ad, clean);
	if (chance(t, 15))
		s->sub_id = rnd32(t);	/* out */
	/* The size: either version (the second whenever a start in the past
	 * is asked for, mostly), bigger with a zero or nonzero tail (E2BIG),
	 * in between (the past's fields cut short), a page, more than a page,
	 * smaller than the first version. */
	r = clean ? rnd(t, 80) : rnd(t, 100);
	if (clean && r >= 70)
		r -= 70;	/* no nonzero tail */
	if (r < 62) {
		bool past = (s->flags & SUB_PAST) || s->since || s->last || s->reserved;

		size = (uint32_t)(past ? (chance(t, 90) ? v1 : v0) : chance(t, 40) ? v1 : v0);
	} else if (r < 77) {
		size = mid[rnd(t, N_OF(mid))];
		if (r >= 70 && size > v1) {
			tail_at = (uint32_t)v1 + rnd(t, size - (uint32_t)v1);
			ad->a.raw[tail_at] = (unsigned char)(1 + rnd(t, 255));
			mark_bad(ad, "a nonzero byte past the known struct");
		}
	} else if (r < 80) {
		size = PG;
	} else if (r < 82) {
		size = PG + 1;
		mark_bad(ad, "size past PAGE_SIZE");
	} else if (r < 88) {
		size = small[rnd(t, N_OF(small))];
		mark_bad(ad, "size below EVBUS_SUBSCRIBE_SIZE_VER0");
	} else if (r < 92) {
		size = rnd(t, 2) ? 0xffffffff : 65536;
		mark_bad(ad, "size past PAGE_SIZE");
	} else {
		size = rnd(t, PG + 64);
		if (size < v0)
			mark_bad(ad, "size below EVBUS_SUBSCRIBE_SIZE_VER0");
		else if (size > PG)
			mark_bad(ad, "size past PAGE_SIZE");
	}
	s->size = size;
	ad->size = size;
	sub2_judge_past(ad, size);
	/* Filled in at the call only where the kernel reads all of it. */
	if (size < offsetof(struct evbus_subscribe, since) + sizeof(s->since))
		ad->since_rel = false;
	ad->len = size < v0 ? v0 : size > BIG_MAX ? v0 + rnd(t, 64) : size;
	D(t, " flags=%#x uid=%u gid=%u pid=%u type=%u..%u", s->flags, s->from_uid,
	  s->from_gid, s->from_pid, s->type_min, s->type_max);
	if (ad->since_rel)
		D(t, " since=next_seq%+d", ad->since_d);
	else
		D(t, " since=%llu", (unsigned long long)s->since);
	D(t, " last=%u reserved=%#x size=%u%s}", s->last, s->reserved, size,
	  tail_at ? " (nonzero tail)" : "");
}

static void gen_pattern_entry(struct th *t, struct argdesc *ad, struct evbus_pattern *p)
{
	char s[320];
	size_t n = gen_fam(t, s);

	memset(p, 0, sizeof(*p));
	p->len = gen_len(t, n);
	D(t, "{");
	p->ptr = place(t, R_TOPIC, pick_kind(t, 92), s, n, NULL);
	D(t, " ");
	D_text(t, s, n);
	if (chance(t, 3))
		p->reserved = rnd32(t) | 1, mark_bad(ad, "a pattern's reserved field");
	if (!p->len || p->len > EVBUS_TOPIC_MAX)
		mark_bad(ad, "a pattern length of 0 or past 255");
	D(t, " len=%u reserved=%#x}", p->len, p->reserved);
}

static uint32_t gen_scope_n(struct th *t, struct argdesc *ad)
{
	uint32_t r = rnd(t, 100);

	if (r < 15) return 0;
	if (r < 50) return 1;
	if (r < 80) return 2 + rnd(t, 3);
	if (r < 88) return EVBUS_SCOPE_MAX;
	if (r < 93) {
		mark_bad(ad, "more than EVBUS_SCOPE_MAX patterns");
		return EVBUS_SCOPE_MAX + 1;
	}
	if (r < 96) {
		mark_bad(ad, "more than EVBUS_SCOPE_MAX patterns");
		return rnd32(t) | 0x100;
	}
	return rnd(t, EVBUS_SCOPE_MAX + 1);
}

/* NARROW: two sets of patterns from the family, kept or not. */
static void gen_narrow(struct th *t, struct argdesc *ad)
{
	struct evbus_scope *sc = &ad->a.sc;
	uint32_t r = rnd(t, 100), set, i, n, m;
	__u64 *ptr[2] = { &sc->publish, &sc->subscribe };
	__u32 *cnt[2] = { &sc->n_publish, &sc->n_subscribe };

	sc->flags = r < 60 ? 0 : r < 75 ? EVBUS_SCOPE_KEEP_PUBLISH :
		    r < 90 ? EVBUS_SCOPE_KEEP_SUBSCRIBE :
		    r < 93 ? EVBUS_SCOPE_KEEP_PUBLISH | EVBUS_SCOPE_KEEP_SUBSCRIBE :
		    rnd32(t) | 4;
	if (sc->flags & ~3u)
		mark_bad(ad, "unknown flags");
	D(t, "{");
	for (set = 0; set < 2; set++) {
		bool keep = sc->flags & (set ? EVBUS_SCOPE_KEEP_SUBSCRIBE : EVBUS_SCOPE_KEEP_PUBLISH);

		if (keep) {
			n = chance(t, 92) ? 0 : 1 + rnd(t, 3);
			if (n)
				mark_bad(ad, "a kept set with patterns");
		} else {
			n = gen_scope_n(t, ad);
		}
		*cnt[set] = n;
		m = n < EVBUS_SCOPE_MAX + 2 ? n : EVBUS_SCOPE_MAX + 2;
		D(t, " %s[%u]=", set ? "subscribe" : "publish", n);
		for (i = 0; i < m; i++)
			gen_pattern_entry(t, ad, &t->pats[set][i]);
		D(t, " at ");
		if (!m && chance(t, 50)) {
			*ptr[set] = 0;
			D(t, "NULL");
		} else {
			*ptr[set] = place(t, R_DESC, pick_kind(t, 90), t->pats[set],
					  m * sizeof(t->pats[set][0]), NULL);
		}
	}
	if (chance(t, 4))
		sc->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	D(t, " flags=%#x reserved=%#x}", sc->flags, sc->reserved);
}

static void gen_bstats(struct th *t, struct argdesc *ad)
{
	static const uint32_t odd[] = { 0, 8, 184, 191 };
	static const uint32_t big[] = { 200, 256, 296, 1024, 4000 };
	struct evbus_bus_stats *bs = &ad->a.bs;
	const size_t v0 = EVBUS_BUS_STATS_SIZE_VER0;
	uint32_t r = rnd(t, 100), size;
	size_t i;

	/* The first version, or the one with the approval gate's counters (#16). */
	if (r < 60) {
		size = rnd(t, 2) ? (uint32_t)v0 : EVBUS_BUS_STATS_SIZE_VER1;
	} else if (r < 68) {
		size = odd[rnd(t, N_OF(odd))];
		mark_bad(ad, "size below EVBUS_BUS_STATS_SIZE_VER0");
	} else if (r < 80) {
		size = big[rnd(t, N_OF(big))];
	} else if (r < 85) {
		size = PG;
	} else if (r < 90) {
		size = PG + 1 + rnd(t, 2) * rnd32(t) / 2;
		mark_bad(ad, "size past PAGE_SIZE");
	} else {
		size = rnd(t, PG + 64);
		if (size < v0)
			mark_bad(ad, "size below EVBUS_BUS_STATS_SIZE_VER0");
		else if (size > PG)
			mark_bad(ad, "size past PAGE_SIZE");
	}
	ad->len = size < v0 || size > BIG_MAX ? v0 : size;
	if (chance(t, 20))	/* out fields: anything on input */
		for (i = 8; i < v0; i++)
			ad->a.raw[i] = (unsigned char)rnd(t, 256);
	/* A tail the kernel does not know: it must come back zeroed. */
	memset(ad->a.raw + v0, 0xa5, ad->len - v0);
	bs->size = size;
	bs->flags = 0;
	if (chance(t, 7))
		bs->flags = rnd32(t) | 1, mark_bad(ad, "flags");
	ad->size = size;
	D(t, "{size=%u flags=%#x}", bs->size, bs->flags);
}

/* A history size as the module makes it: 0, or a power of two of at least a page. */
static uint64_t hist_size_of(uint64_t want)
{
	uint64_t v = PG;

	if (!want)
		return 0;
	while (v < want && v < 1ULL << 62)
		v <<= 1;
	return v;
}

/*
 * EVBUS_IOC_HISTORY (#15): size-versioned like BUS_STATS, but a tail the
 * kernel does not know must be zero (E2BIG) and every out field too
 * (EINVAL).  EVBUS_HISTORY_SET with capacities 0, a page, 64 KiB, 1 MiB
 * and around the page, past history_max or rounding past it (EINVAL);
 * rarely history_max itself.  A capacity without SET is EINVAL.
 */
static void gen_hist(struct th *t, struct argdesc *ad)
{
	static const uint32_t odd[] = { 0, 4, 8, 64, 120, 127 };
	static const uint32_t big[] = { 136, 192, 256, 1024, 4000 };
	struct evbus_history *h = &ad->a.h;
	const size_t v0 = EVBUS_HISTORY_SIZE_VER0;
	uint32_t r = rnd(t, 100), size, tail_at = 0;

	if (r < 62) {
		size = (uint32_t)v0;
	} else if (r < 68) {
		size = odd[rnd(t, N_OF(odd))];
		mark_bad(ad, "size below EVBUS_HISTORY_SIZE_VER0");
	} else if (r < 80) {
		size = big[rnd(t, N_OF(big))];
		if (r >= 76) {
			tail_at = (uint32_t)v0 + rnd(t, size - (uint32_t)v0);
			mark_bad(ad, "a nonzero byte past the known struct");
		}
	} else if (r < 84) {
		size = PG;
	} else if (r < 88) {
		size = PG + 1 + rnd(t, 2) * rnd32(t) / 2;
		mark_bad(ad, "size past PAGE_SIZE");
	} else {
		size = rnd(t, PG + 64);
		if (size < v0)
			mark_bad(ad, "size below EVBUS_HISTORY_SIZE_VER0");
		else if (size > PG)
			mark_bad(ad, "size past PAGE_SIZE");
	}
	ad->len = size < v0 || size > BIG_MAX ? v0 : size;
	if (tail_at)
		ad->a.raw[tail_at] = (unsigned char)(1 + rnd(t, 255));
	h->size = size;
	r = rnd(t, 100);
	h->flags = r < 70 ? 0 : r < 94 ? EVBUS_HISTORY_SET : rnd32(t) | 2;
	if (h->flags & ~(uint32_t)EVBUS_HISTORY_SET)
		mark_bad(ad, "unknown flags");
	if (h->flags & EVBUS_HISTORY_SET) {
		static const uint64_t caps[] = {
			0, 4096, 65536, 1u << 20, 1, 4095, 4097, 65535, 100000,
		};

		r = rnd(t, 100);
		if (r < 80) {
			h->capacity = caps[rnd(t, N_OF(caps))];
		} else if (r < 88) {
			h->capacity = g_hist_max + 1 + rnd(t, 2) * rnd(t, 1u << 20);
		} else if (r < 92) {
			h->capacity = rnd(t, 2) ? ~0ULL : 1ULL << (33 + rnd(t, 30));
		} else if (r < 96) {
			/* Rounds up to a power of two: past history_max if it is not one. */
			h->capacity = g_hist_max / 2 + 1 + rnd(t, (uint32_t)(g_hist_max / 2));
		} else if (r < 98) {
			h->capacity = g_hist_max;	/* the most a bus may have */
		} else {
			h->capacity = rnd32(t);
		}
		/* Mostly small ones: big ones are memory the VM must find. */
		if (r >= 92 && r < 98 && h->capacity > (8u << 20) && chance(t, 70))
			h->capacity = 1 + rnd(t, 1u << 20);
		if (h->capacity > g_hist_max || hist_size_of(h->capacity) > g_hist_max)
			mark_bad(ad, "a capacity past history_max");
	} else if (chance(t, 6)) {
		h->capacity = rnd64(t) | 1;
		mark_bad(ad, "a capacity without EVBUS_HISTORY_SET");
	}
	if (chance(t, 8)) {	/* out fields: must be 0 on input */
		__u64 *out[] = { &h->bytes, &h->events, &h->oldest_seq, &h->newest_seq,
				&h->next_seq, &h->evicted, &h->skipped, &h->replayed,
				&h->retained, &h->retained_bytes };

		*out[rnd(t, N_OF(out))] = rnd64(t) | 1;
		mark_bad(ad, "an out field set");
	}
	if (chance(t, 4)) {
		h->reserved[rnd(t, 4)] = rnd64(t) | 1;
		mark_bad(ad, "reserved");
	}
	ad->size = size;
	D(t, "{size=%u flags=%#x capacity=%llu%s}", h->size, h->flags,
	  (unsigned long long)h->capacity, tail_at ? " (nonzero tail)" : "");
}

#define RIGHTS_KNOWN	(EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE | EVBUS_RIGHT_REPLAY | \
			 EVBUS_RIGHT_APPROVE | EVBUS_RIGHT_WAIT)

static void gen_rule(struct th *t, struct argdesc *ad)
{
	struct evbus_rule *ru = &ad->a.ru;
	uint32_t r;
	char s[320];
	size_t n = gen_fam(t, s);

	t->padd_gen++;
	ru->pattern_len = gen_len(t, n);
	D(t, "{pattern=");
	ru->pattern = place(t, R_TOPIC, pick_kind(t, 90), s, n, NULL);
	D(t, " ");
	D_text(t, s, n);
	if (!ru->pattern_len || ru->pattern_len > EVBUS_TOPIC_MAX)
		mark_bad(ad, "pattern_len 0 or past 255");
	r = rnd(t, 100);
	/* EVBUS_ASK (#16): for EVBUS_RIGHT_PUBLISH alone. */
	ru->verdict = r < 42 ? EVBUS_ALLOW : r < 84 ? EVBUS_DENY : r < 91 ? EVBUS_ASK :
		      r < 95 ? 0 : rnd(t, 2) ? 4 : rnd32(t);
	if (ru->verdict != EVBUS_ALLOW && ru->verdict != EVBUS_DENY && ru->verdict != EVBUS_ASK)
		mark_bad(ad, "verdict");
	r = rnd(t, 100);
	ru->rights = r < 30 ? EVBUS_RIGHT_PUBLISH : r < 50 ? EVBUS_RIGHT_SUBSCRIBE :
		     r < 64 ? EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE :
		     r < 72 ? EVBUS_RIGHT_REPLAY :
		     r < 78 ? EVBUS_RIGHT_SUBSCRIBE | EVBUS_RIGHT_REPLAY :
		     r < 81 ? EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_SUBSCRIBE | EVBUS_RIGHT_REPLAY :
		     r < 84 ? EVBUS_RIGHT_APPROVE :
		     r < 86 ? EVBUS_RIGHT_SUBSCRIBE | EVBUS_RIGHT_APPROVE :
		     /* #17: publishers that may wait for other users' lossless readers */
		     r < 88 ? EVBUS_RIGHT_WAIT :
		     r < 90 ? EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_WAIT :
		     r < 93 ? 0 : rnd32(t) | 32;
	if (ru->verdict == EVBUS_ASK && chance(t, 75))
		ru->rights = EVBUS_RIGHT_PUBLISH;
	if (!ru->rights || (ru->rights & ~RIGHTS_KNOWN))
		mark_bad(ad, "rights");
	if (ru->verdict == EVBUS_ASK && ru->rights != EVBUS_RIGHT_PUBLISH)
		mark_bad(ad, "EVBUS_ASK for rights other than EVBUS_RIGHT_PUBLISH alone");
	r = rnd(t, 100);
	if (r < 50) {
		ru->who = EVBUS_WHO_ALL;
	} else if (r < 54) {
		ru->who = EVBUS_WHO_ALL, ru->id_value = rnd32(t) | 1;
		mark_bad(ad, "WHO_ALL with an id");
	} else if (r < 96) {
		ru->who = r < 77 ? EVBUS_WHO_UID : EVBUS_WHO_GID;
		ru->id_value = gen_idval(t);
		if (ru->id_value == 0xffffffff)
			mark_bad(ad, "id -1");
	} else {
		ru->who = rnd(t, 2) ? 3 : rnd32(t) | 3;
		mark_bad(ad, "who");
	}
	r = rnd(t, 100);
	ru->flags = r < 82 ? 0 : r < 96 ? EVBUS_POLICY_REVOKE : rnd32(t) | 2;
	if (ru->flags & ~(uint32_t)EVBUS_POLICY_REVOKE)
		mark_bad(ad, "unknown flags");
	if (chance(t, 3))
		ru->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	if (chance(t, 15))
		ru->id = rnd32(t);	/* out */
	ad->then_remove = chance(t, 20);
	/*
	 * An ask rule makes publishes on its pattern wait for approval (or
	 * fail ECONNREFUSED): it goes again at once, and while it may be on a
	 * bus every publish may get the gate's errnos (g_shm->ask_rules).
	 */
	if (ru->verdict == EVBUS_ASK) {
		ad->then_remove = true;
		ad->ask_rule = true;
	}
	D(t, " pattern_len=%u verdict=%u rights=%#x who=%u id_value=%u flags=%#x reserved=%#x%s}",
	  ru->pattern_len, ru->verdict, ru->rights, ru->who, ru->id_value, ru->flags,
	  ru->reserved, ad->then_remove ? ", then remove it" : "");
}

static void gen_pset(struct th *t, struct argdesc *ad)
{
	struct evbus_policy_set *ps = &ad->a.ps;
	uint32_t r = rnd(t, 100), guess = (uint32_t)(t->padd_gen * (unsigned long)g_nworkers) + 8;

	if (r < 12) {
		ps->op = EVBUS_POLICY_OP_DEFAULT, ps->verdict = EVBUS_DENY;
	} else if (r < 30) {
		ps->op = EVBUS_POLICY_OP_DEFAULT, ps->verdict = EVBUS_ALLOW;
	} else if (r < 58) {
		ps->op = EVBUS_POLICY_OP_REMOVE;
		r = rnd(t, 100);
		ps->id = r < 60 ? 1 + rnd(t, guess) : r < 75 ? 0 : r < 88 ? 0xffffffff : rnd32(t);
		if (!ps->id)
			mark_bad(ad, "REMOVE of id 0");
	} else if (r < 83) {
		ps->op = EVBUS_POLICY_OP_CLEAR;
	} else {
		switch (rnd(t, 6)) {
		case 0: ps->op = rnd(t, 2) ? 0 : 4 + rnd32(t) % 100; break;
		case 1: ps->op = EVBUS_POLICY_OP_DEFAULT, ps->verdict = rnd(t, 2) ? 0 : 3; break;
		case 2: ps->op = EVBUS_POLICY_OP_DEFAULT, ps->verdict = EVBUS_ALLOW, ps->id = 1 + rnd(t, 9); break;
		case 3: ps->op = EVBUS_POLICY_OP_REMOVE, ps->id = 1 + rnd(t, 9), ps->verdict = EVBUS_DENY; break;
		case 4: ps->op = EVBUS_POLICY_OP_CLEAR, ps->id = 1 + rnd(t, 9); break;
		default: ps->op = EVBUS_POLICY_OP_CLEAR, ps->verdict = EVBUS_ALLOW; break;
		}
		mark_bad(ad, "an op, verdict or id that does not go together");
	}
	r = rnd(t, 100);
	ps->flags = r < 80 ? 0 : r < 95 ? EVBUS_POLICY_REVOKE : rnd32(t) | 2;
	if (ps->flags & ~(uint32_t)EVBUS_POLICY_REVOKE)
		mark_bad(ad, "unknown flags");
	if (chance(t, 3))
		ps->reserved = rnd64(t) | 1, mark_bad(ad, "reserved");
	D(t, "{op=%u flags=%#x verdict=%u id=%u reserved=%#llx}", ps->op, ps->flags,
	  ps->verdict, ps->id, (unsigned long long)ps->reserved);
}

static void gen_plist(struct th *t, struct argdesc *ad)
{
	struct evbus_policy_list *pl = &ad->a.pl;
	uint32_t r = rnd(t, 100);

	pl->count = r < 25 ? 0 : r < 55 ? 1 + rnd(t, 4) : r < 75 ? 5 + rnd(t, 60) :
		    r < 85 ? 256 : r < 90 ? 0xffffffff : rnd(t, 1000);
	r = rnd(t, 100);
	pl->start_id = r < 50 ? 0 : r < 70 ? 1 : r < 90 ? rnd(t, 200) : rnd(t, 2) ? 0xffffffff : rnd32(t);
	ad->count = pl->count;
	ad->buf_n = pl->count < PSNAP_MAX ? pl->count : PSNAP_MAX;
	D(t, "{rules=");
	if (!pl->count && chance(t, 50)) {
		pl->rules = 0;
		D(t, "NULL");
	} else {
		/* Garbage in: every entry written must be whole. */
		pl->rules = place(t, R_DESC, pick_kind(t, 80), t->descs,
				  ad->buf_n * sizeof(struct evbus_rule_info), &ad->buf_rw);
	}
	ad->buf = pl->rules;
	if (chance(t, 5))
		pl->flags = rnd32(t) | 1, mark_bad(ad, "flags");
	if (chance(t, 4))
		pl->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	if (chance(t, 15))
		pl->total = rnd32(t), pl->policy_default = rnd32(t);	/* out */
	D(t, " count=%u start_id=%u flags=%#x reserved=%#x}", pl->count, pl->start_id,
	  pl->flags, pl->reserved);
}

/* ------------------------------------------------- the approval gate (#16) */

/*
 * Patterns the racing approvers register and topics the racing askers
 * publish on: they overlap each other and the pattern family, but never
 * reach op_gate()'s "fzg.<worker>.*" topics but through ">" (whose
 * approvers are asked after op_gate()'s, which has the top priority).
 */
static const char *const gate_pats[] = {
	"gate.>", "gate.*", "gate.a", "gate.*.b", "*.b", "a.>", "fuzz.>", ">", "gate.a.>",
};
static const char *const gate_topics[] = {
	"gate.a", "gate.x", "gate.a.b", "gate.q.b", "a.b", "fuzz.gate", "a", "gate.m",
};

/* EVBUS_IOC_APPROVER_ADD: patterns of the fuzzer's and the gate's, priorities
 * and defaults valid and not; never priority INT32_MAX (op_gate's). */
static void gen_approver(struct th *t, struct argdesc *ad)
{
	struct evbus_approver *ap = &ad->a.ap;
	uint32_t r;
	char s[320];
	size_t n;

	D(t, "{pattern=");
	if (chance(t, 30)) {
		const char *g = gate_pats[rnd(t, N_OF(gate_pats))];

		n = strlen(g);
		memcpy(s, g, n);
	} else {
		n = gen_text(t, s, true);
	}
	ap->pattern_len = gen_len(t, n);
	ap->pattern = place(t, R_TOPIC, pick_kind(t, 88), s, n, NULL);
	D(t, " ");
	D_text(t, s, n);
	if (!ap->pattern_len || ap->pattern_len > EVBUS_TOPIC_MAX)
		mark_bad(ad, "pattern_len 0 or past 255");
	r = rnd(t, 100);
	ap->priority = r < 50 ? (int32_t)rnd(t, 200) - 100 : r < 60 ? 0 : r < 70 ? INT32_MIN :
		       r < 78 ? INT32_MAX - 1 : (int32_t)rnd32(t);
	if (ap->priority == INT32_MAX)
		ap->priority--;
	r = rnd(t, 100);
	ap->deflt = r < 46 ? EVBUS_ALLOW : r < 92 ? EVBUS_DENY : r < 95 ? 0 :
		    rnd(t, 2) ? EVBUS_ASK : rnd32(t);
	if (ap->deflt != EVBUS_ALLOW && ap->deflt != EVBUS_DENY)
		mark_bad(ad, "default verdict");
	if (chance(t, 5))
		ap->flags = rnd32(t) | 1, mark_bad(ad, "flags");
	if (chance(t, 4))
		ap->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	if (chance(t, 15))
		ap->id = rnd32(t);	/* out */
	ad->then_remove = chance(t, 35);
	D(t, " pattern_len=%u priority=%d deflt=%u flags=%#x reserved=%#x%s}", ap->pattern_len,
	  ap->priority, ap->deflt, ap->flags, ap->reserved,
	  ad->then_remove ? ", then remove it" : "");
}

static uint32_t gen_approver_id(struct th *t)
{
	uint32_t r = rnd(t, 100);

	if (r < 60) return 1 + rnd(t, 4096);
	if (r < 70) return 0;
	if (r < 80) return EVBUS_APPROVER_ID_MAX + rnd(t, 2);
	return rnd32(t);
}

/*
 * EVBUS_IOC_VERDICT: size-versioned (below the first version: EINVAL; a
 * nonzero byte past it: E2BIG), every verdict, ids mostly small (a gate's
 * request ids start at 1, so some are pending at a slot that an asker's
 * publish reached), errors in and out of 0..EVBUS_VERDICT_ERRNO_MAX,
 * MODIFY with payloads and topics good and bad, MODIFY's fields on
 * another verdict, flags and reserved.
 */
static void gen_verdict(struct th *t, struct argdesc *ad)
{
	static const uint32_t small[] = { 0, 4, 8, 48, 52, 55 };
	static const uint32_t big[] = { 60, 64, 72, 128, 4096 };
	struct evbus_verdict *v = &ad->a.vd;
	const size_t v0 = EVBUS_VERDICT_SIZE_VER0;
	uint32_t r = rnd(t, 100), size, tail_at = 0;

	if (r < 70) {
		size = (uint32_t)v0;
	} else if (r < 78) {
		size = small[rnd(t, N_OF(small))];
		mark_bad(ad, "size below EVBUS_VERDICT_SIZE_VER0");
	} else if (r < 92) {
		size = big[rnd(t, N_OF(big))];
		if (r >= 86) {
			tail_at = (uint32_t)v0 + rnd(t, size - (uint32_t)v0);
			mark_bad(ad, "a nonzero byte past the known struct");
		}
	} else if (r < 97) {
		size = PG + 1 + rnd(t, PG);	/* a tail past what was placed */
	} else {
		size = rnd32(t);
	}
	ad->len = size < v0 || size > BIG_MAX ? v0 : size;
	if (tail_at)
		ad->a.raw[tail_at] = (unsigned char)(1 + rnd(t, 255));
	v->size = size;
	r = rnd(t, 100);
	v->verdict = r < 30 ? EVBUS_VERDICT_ALLOW : r < 55 ? EVBUS_VERDICT_DENY :
		     r < 90 ? EVBUS_VERDICT_MODIFY : r < 95 ? 0 : rnd(t, 2) ? 4 : rnd32(t);
	if (v->verdict < EVBUS_VERDICT_ALLOW || v->verdict > EVBUS_VERDICT_MODIFY)
		mark_bad(ad, "verdict");
	r = rnd(t, 100);
	v->id = r < 60 ? 1 + rnd(t, 64) : r < 70 ? 0 : r < 80 ? (1ULL << 32) + rnd(t, 3) : rnd64(t);
	D(t, "{size=%u verdict=%u id=%llu", v->size, v->verdict, (unsigned long long)v->id);
	if (v->verdict == EVBUS_VERDICT_DENY) {
		if (chance(t, 85)) {
			v->error = deny_errs[rnd(t, N_OF(deny_errs))];
		} else {
			v->error = rnd(t, 2) ? -(int32_t)(1 + rnd(t, 100)) :
					       EVBUS_VERDICT_ERRNO_MAX + 1 + (int32_t)rnd(t, 1000);
			mark_bad(ad, "error outside 0..EVBUS_VERDICT_ERRNO_MAX");
		}
	} else if (chance(t, 6)) {
		v->error = 1 + (int32_t)rnd(t, 100);
		mark_bad(ad, "an error without DENY");
	}
	if (v->verdict == EVBUS_VERDICT_MODIFY) {
		v->type = rnd32(t);
		v->payload_len = gen_paylen(t, true);
		D(t, " payload=");
		v->payload = !v->payload_len && chance(t, 50) ? 0 :
			     place_buf(t, pick_kind(t, 85), v->payload_len, NULL);
		if (chance(t, 40)) {
			D(t, " ");
			gen_text_placed(t, false, &v->topic, &v->topic_len, 85);
			if (v->topic_len > EVBUS_TOPIC_MAX)
				mark_bad(ad, "topic_len past 255");
		} else if (chance(t, 5)) {
			v->topic = (uintptr_t)t->arena;
			mark_bad(ad, "a topic without topic_len");
		}
	} else if (chance(t, 8)) {
		switch (rnd(t, 5)) {
		case 0: v->type = rnd32(t) | 1; break;
		case 1: v->payload = (uintptr_t)t->arena; break;
		case 2: v->payload_len = 1 + rnd(t, 64); break;
		case 3: v->topic = (uintptr_t)t->arena; break;
		default: v->topic_len = 1 + rnd(t, 16); break;
		}
		mark_bad(ad, "MODIFY's fields on another verdict");
	}
	if (chance(t, 5))
		v->flags = rnd32(t) | 1, mark_bad(ad, "flags");
	if (chance(t, 4))
		v->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	D(t, " error=%d type=%#x payload_len=%u topic_len=%u flags=%#x reserved=%#x%s}", v->error,
	  v->type, v->payload_len, v->topic_len, v->flags, v->reserved,
	  tail_at ? " (nonzero tail)" : "");
	ad->size = size;
}

/* ------------------------------------------------------ last wills (#17) */

/*
 * EVBUS_IOC_WILL: size-versioned (below the first version: EINVAL; a
 * nonzero byte past it: E2BIG; past a page: E2BIG), arming on topics of
 * every kind with payloads up to past max_payload, CLEAR (alone, or with
 * another field set: EINVAL), unknown flags and reserved.  Scopes are
 * mostly 0..3, so replacements and clears find a will armed before.
 */
static void gen_will(struct th *t, struct argdesc *ad)
{
	static const uint32_t small[] = { 0, 4, 8, 32, 56, 63 };
	static const uint32_t big[] = { 68, 72, 128, 4096 };
	struct evbus_will *w = &ad->a.wl;
	const size_t v0 = EVBUS_WILL_SIZE_VER0;
	uint32_t r = rnd(t, 100), size, tail_at = 0;
	bool clear;

	if (r < 72) {
		size = (uint32_t)v0;
	} else if (r < 78) {
		size = small[rnd(t, N_OF(small))];
		mark_bad(ad, "size below EVBUS_WILL_SIZE_VER0");
	} else if (r < 90) {
		size = big[rnd(t, N_OF(big))];
		if (r >= 85) {
			tail_at = (uint32_t)v0 + rnd(t, size - (uint32_t)v0);
			mark_bad(ad, "a nonzero byte past the known struct");
		}
	} else if (r < 95) {
		size = PG + 1 + rnd(t, 2) * rnd32(t) / 2;
		mark_bad(ad, "size past PAGE_SIZE");
	} else {
		size = rnd32(t);
		if (size < v0)
			mark_bad(ad, "size below EVBUS_WILL_SIZE_VER0");
		else if (size > PG)
			mark_bad(ad, "size past PAGE_SIZE");
	}
	ad->len = size < v0 || size > BIG_MAX ? v0 : size;
	if (tail_at)
		ad->a.raw[tail_at] = (unsigned char)(1 + rnd(t, 255));
	w->size = size;
	r = rnd(t, 100);
	w->scope = r < 85 ? rnd(t, 4) : r < 92 ? ~0ULL - rnd(t, 2) : rnd64(t);
	clear = chance(t, 20);
	D(t, "{size=%u scope=%llu", w->size, (unsigned long long)w->scope);
	if (clear) {
		w->flags = EVBUS_WILL_CLEAR;
		if (chance(t, 10)) {
			switch (rnd(t, 7)) {
			case 0: w->topic = (uintptr_t)t->arena; break;
			case 1: w->topic_len = 1 + rnd(t, 16); break;
			case 2: w->payload = (uintptr_t)t->arena; break;
			case 3: w->payload_len = 1 + rnd(t, 64); break;
			case 4: w->type = rnd32(t) | 1; break;
			case 5: w->corr = rnd64(t) | 1; break;
			default: w->parent = rnd64(t) | 1; break;
			}
			mark_bad(ad, "CLEAR with another field set");
		}
		D(t, " CLEAR");
	} else {
		D(t, " ");
		gen_text_placed(t, false, &w->topic, &w->topic_len, 85);
		if (!w->topic_len || w->topic_len > EVBUS_TOPIC_MAX)
			mark_bad(ad, "topic_len 0 or past 255");
		w->payload_len = gen_paylen(t, true);
		D(t, " payload=");
		w->payload = !w->payload_len && chance(t, 50) ? 0 :
			     place_buf(t, pick_kind(t, 85), w->payload_len, NULL);
		w->type = chance(t, 50) ? rnd32(t) : 0;
		w->corr = chance(t, 50) ? rnd64(t) : 0;
		w->parent = chance(t, 30) ? rnd64(t) : 0;
	}
	if (chance(t, 5))
		w->flags |= (rnd32(t) | 2) & ~(uint32_t)EVBUS_WILL_CLEAR, mark_bad(ad, "flags");
	if (chance(t, 4))
		w->reserved = rnd32(t) | 1, mark_bad(ad, "reserved");
	D(t, " payload_len=%u type=%#x flags=%#x reserved=%#x%s}", w->payload_len, w->type,
	  w->flags, w->reserved, tail_at ? " (nonzero tail)" : "");
	ad->size = size;
}

/* -------------------------------------- rate limits and lossless rings (#17) */

/*
 * Limits the fuzzer sets on files and users that publish are generous:
 * no worker, racer or child comes near a million events or a GiB a
 * second, nor empties a burst as large, so they never refuse nor make
 * anyone wait.  Tight limits only for uids nobody here runs as.
 */
#define GEN_EV_MIN	(1ULL << 20)
#define GEN_BY_MIN	(1ULL << 30)
static const uint32_t rate_uids[] = { 0, UNPRIV_ID, 1, 1000, 4242 };
#define RATE_UID_TIGHT(id)	((id) == 1 || (id) == 1000 || (id) == 4242)

static bool lim_none(const struct evbus_rate_limit *l)
{
	return !l->events_per_sec && !l->bytes_per_sec;
}

/* As the module checks a limit (rate.c): bounds, a rate with its burst. */
static bool lim_valid(const struct evbus_rate_limit *l)
{
	return l->events_per_sec <= EVBUS_RATE_MAX && l->bytes_per_sec <= EVBUS_RATE_MAX &&
	       l->events_burst <= EVBUS_RATE_BURST_MAX && l->bytes_burst <= EVBUS_RATE_BURST_MAX &&
	       !l->events_per_sec == !l->events_burst && !l->bytes_per_sec == !l->bytes_burst;
}

static bool lim_generous(const struct evbus_rate_limit *l)
{
	return (!l->events_per_sec || (l->events_per_sec >= GEN_EV_MIN &&
				       l->events_burst >= GEN_EV_MIN)) &&
	       (!l->bytes_per_sec || (l->bytes_per_sec >= GEN_BY_MIN &&
				      l->bytes_burst >= GEN_BY_MIN));
}

/* Is n no looser than o in any dimension (EVBUS_RATE_FILE may set it)? */
static bool lim_tighter(const struct evbus_rate_limit *n, const struct evbus_rate_limit *o)
{
	if (o->events_per_sec && (!n->events_per_sec || n->events_per_sec > o->events_per_sec ||
				  n->events_burst > o->events_burst))
		return false;
	if (o->bytes_per_sec && (!n->bytes_per_sec || n->bytes_per_sec > o->bytes_per_sec ||
				 n->bytes_burst > o->bytes_burst))
		return false;
	return true;
}

static uint64_t rnd_range(struct th *t, uint64_t lo, uint64_t hi)
{
	return lo + rnd64(t) % (hi - lo + 1);
}

/* A valid limit: generous, or (tight) anything within the bounds. */
static void gen_limit(struct th *t, struct evbus_rate_limit *l, bool tight)
{
	memset(l, 0, sizeof(*l));
	if (chance(t, 75)) {
		l->events_per_sec = tight ? rnd_range(t, 1, EVBUS_RATE_MAX) :
				    chance(t, 10) ? EVBUS_RATE_MAX :
				    rnd_range(t, GEN_EV_MIN, EVBUS_RATE_MAX);
		l->events_burst = tight ? rnd_range(t, 1, EVBUS_RATE_BURST_MAX) :
				  chance(t, 10) ? EVBUS_RATE_BURST_MAX :
				  rnd_range(t, GEN_EV_MIN, EVBUS_RATE_BURST_MAX);
	}
	if (chance(t, 60)) {
		l->bytes_per_sec = tight ? rnd_range(t, 1, EVBUS_RATE_MAX) :
				   rnd_range(t, GEN_BY_MIN, EVBUS_RATE_MAX);
		l->bytes_burst = tight ? rnd_range(t, 1, EVBUS_RATE_BURST_MAX) :
				 rnd_range(t, GEN_BY_MIN, EVBUS_RATE_BURST_MAX);
	}
}

/* A limit the module refuses (EINVAL). */
static void gen_limit_bad(struct th *t, struct evbus_rate_limit *l)
{
	gen_limit(t, l, false);
	switch (rnd(t, 6)) {
	case 0: l->events_per_sec = EVBUS_RATE_MAX + 1 + rnd(t, 2) * rnd64(t) % (1ULL << 62);
		l->events_burst |= 1;
		break;
	case 1: l->bytes_per_sec = EVBUS_RATE_MAX + 1 + rnd(t, 1000);
		l->bytes_burst |= 1;
		break;
	case 2: l->events_burst = EVBUS_RATE_BURST_MAX + 1 + rnd(t, 2) * rnd32(t);
		l->events_per_sec |= 1;
		break;
	case 3: l->bytes_burst = rnd(t, 2) ? ~0ULL : EVBUS_RATE_BURST_MAX + 1;
		l->bytes_per_sec |= 1;
		break;
	case 4:	/* a rate without its burst */
		if (rnd(t, 2))
			l->events_per_sec = 1 + rnd(t, 1000), l->events_burst = 0;
		else
			l->bytes_per_sec = 1 + rnd(t, 1000), l->bytes_burst = 0;
		break;
	default:	/* a burst without its rate */
		if (rnd(t, 2))
			l->events_burst = 1 + rnd(t, 1000), l->events_per_sec = 0;
		else
			l->bytes_burst = 1 + rnd(t, 1000), l->bytes_per_sec = 0;
		break;
	}
}

static void D_limit(struct th *t, const char *name, const struct evbus_rate_limit *l)
{
	D(t, " %s=%llu/%llu ev %llu/%llu B", name, (unsigned long long)l->events_per_sec,
	  (unsigned long long)l->events_burst, (unsigned long long)l->bytes_per_sec,
	  (unsigned long long)l->bytes_burst);
}

/*
 * EVBUS_IOC_RATE: size-versioned (below the first version: EINVAL; a
 * nonzero byte past it or a size past a page: E2BIG), every op and
 * unknown ones, who and id_value where they belong and where they do not
 * (GET, FILE: EINVAL), ids the fuzzer keeps to rate_uids[] (so that all
 * it sets can be removed at the end), limits valid, none (FILE: a no-op
 * or EPERM; USER: a removal) and invalid, out fields set on input.
 */
static void gen_rate(struct th *t, struct argdesc *ad)
{
	static const uint32_t small[] = { 0, 4, 8, 64, 120, 127 };
	static const uint32_t big[] = { 136, 192, 256, 1024, PG };
	struct evbus_rate *rt = &ad->a.rt;
	const size_t v0 = EVBUS_RATE_SIZE_VER0;
	uint32_t r = rnd(t, 100), size, tail_at = 0;
	bool tight = false;

	if (r < 72) {
		size = (uint32_t)v0;
	} else if (r < 78) {
		size = small[rnd(t, N_OF(small))];
		mark_bad(ad, "size below EVBUS_RATE_SIZE_VER0");
	} else if (r < 90) {
		size = big[rnd(t, N_OF(big))];
		if (r >= 85) {
			tail_at = (uint32_t)v0 + rnd(t, (size < BIG_MAX ? size : BIG_MAX) - (uint32_t)v0);
			mark_bad(ad, "a nonzero byte past the known struct");
		}
	} else if (r < 95) {
		size = PG + 1 + rnd(t, 2) * rnd32(t) / 2;
		mark_bad(ad, "size past PAGE_SIZE");
	} else {
		size = rnd32(t);
		if (size < v0)
			mark_bad(ad, "size below EVBUS_RATE_SIZE_VER0");
		else if (size > PG)
			mark_bad(ad, "size past PAGE_SIZE");
	}
	ad->len = size < v0 || size > BIG_MAX ? v0 : size;
	if (tail_at)
		ad->a.raw[tail_at] = (unsigned char)(1 + rnd(t, 255));
	rt->size = size;
	r = rnd(t, 100);
	rt->op = r < 30 ? EVBUS_RATE_GET : r < 45 ? EVBUS_RATE_USER_GET :
		 r < 70 ? EVBUS_RATE_FILE : r < 92 ? EVBUS_RATE_USER :
		 rnd(t, 2) ? 4 + rnd(t, 4) : rnd32(t) | 4;
	if (rt->op > EVBUS_RATE_USER_GET)
		mark_bad(ad, "op");
	D(t, "{size=%u op=%u", rt->size, rt->op);
	if (rt->op == EVBUS_RATE_USER || rt->op == EVBUS_RATE_USER_GET) {
		r = rnd(t, 100);
		if (r < 50) {
			rt->who = EVBUS_WHO_UID;
			rt->id_value = rate_uids[rnd(t, N_OF(rate_uids))];
			tight = RATE_UID_TIGHT(rt->id_value);
		} else if (r < 85) {
			rt->who = EVBUS_WHO_ALL;
		} else if (r < 92) {
			rt->who = EVBUS_WHO_ALL, rt->id_value = rnd32(t) | 1;
			mark_bad(ad, "WHO_ALL with an id");
		} else if (r < 96) {
			rt->who = EVBUS_WHO_UID, rt->id_value = 0xffffffff;
			mark_bad(ad, "uid -1");
		} else {
			rt->who = rnd(t, 2) ? EVBUS_WHO_GID : rnd32(t) | 2;
			mark_bad(ad, "who");
		}
	} else if (chance(t, 5)) {
		if (rnd(t, 2))
			rt->who = 1 + rnd(t, 3);
		else
			rt->id_value = rnd32(t) | 1;
		mark_bad(ad, "who or id_value without a user op");
	}
	if (rt->op == EVBUS_RATE_FILE || rt->op == EVBUS_RATE_USER) {
		r = rnd(t, 100);
		if (r < 28)
			memset(&rt->limit, 0, sizeof(rt->limit));	/* none: no-op/EPERM, or a removal */
		else if (r < 78)
			gen_limit(t, &rt->limit, tight);
		else
			gen_limit_bad(t, &rt->limit), mark_bad(ad, "an invalid limit");
	} else if (chance(t, 5)) {
		gen_limit(t, &rt->limit, false);
		if (lim_none(&rt->limit))
			rt->limit.events_per_sec = rt->limit.events_burst = 1;
		mark_bad(ad, "a limit on a GET");
	}
	if (chance(t, 5)) {	/* out fields: must be 0 on input */
		switch (rnd(t, 5)) {
		case 0: rt->user.events_per_sec = rnd64(t) | 1; break;
		case 1: rt->events_tokens = (int64_t)(rnd64(t) | 1); break;
		case 2: rt->user_bytes_tokens = -1; break;
		case 3: rt->refused = rnd64(t) | 1; break;
		default: rt->waited = 1; break;
		}
		mark_bad(ad, "an out field set");
	}
	D(t, " who=%u id_value=%u", rt->who, rt->id_value);
	D_limit(t, "limit", &rt->limit);
	D(t, "%s}", tail_at ? " (nonzero tail)" : "");
	ad->size = size;
}

/* Build and place the argument struct for command 'which' (or garbage). */
static void gen_arg(struct th *t, struct argdesc *ad, bool limit_batch)
{
	enum kind k;

	memset(&ad->a, 0, sizeof(ad->a));
	ad->count = 0;
	ad->descs_rw = false;
	ad->bad = NULL;
	ad->size = 0;
	ad->buf = 0;
	ad->buf_n = 0;
	ad->buf_rw = false;
	ad->then_remove = false;
	ad->since_rel = false;
	ad->since_d = 0;
	ad->asks = false;
	ad->ask_rule = false;
	t->ask_budget = 0;
	switch (ad->which) {
	case C_VERSION: gen_version(t, &ad->a.v); ad->len = sizeof(ad->a.v); break;
	case C_SUB: gen_sub(t, &ad->a.s); ad->len = sizeof(ad->a.s); break;
	case C_UNSUB:
		ad->a.id = gen_sub_id(t);
		ad->len = sizeof(ad->a.id);
		D(t, "{id=%u}", ad->a.id);
		break;
	case C_PUB:
		t->ask_budget = 1;
		gen_pub(t, &ad->a.p, false, 8, NULL);
		ad->len = sizeof(ad->a.p);
		ad->asks = ad->a.p.flags & EVBUS_PUB_ASK;
		if ((ad->a.p.flags & EVBUS_PUB_WAIT) && !ad->a.p.deadline_ns)
			mark_bad(ad, "EVBUS_PUB_WAIT with deadline_ns 0");
		break;
	case C_BATCH: {
		uint32_t i;

		ad->count = gen_batch(t, &ad->a.b, limit_batch, &ad->descs_rw, &ad->descs, &ad->ngen);
		ad->len = sizeof(ad->a.b);
		for (i = 0; i < ad->ngen; i++)
			ad->asks |= !!(t->descs[i].flags & EVBUS_PUB_ASK);
		break;
	}
	case C_AADD: gen_approver(t, ad); ad->len = sizeof(ad->a.ap); break;
	case C_ADEL:
		ad->a.id = gen_approver_id(t);
		ad->len = sizeof(ad->a.id);
		D(t, "{id=%u}", ad->a.id);
		break;
	case C_VERDICT: gen_verdict(t, ad); break;	/* sets len */
	case C_WILL: gen_will(t, ad); break;	/* sets len */
	case C_RATE: gen_rate(t, ad); break;	/* sets len */
	case C_SETRING:
		gen_ring(t, &ad->a.r);
		ad->len = sizeof(ad->a.r);
		if (ad->a.r.policy > EVBUS_POLICY_LOSSLESS)
			mark_bad(ad, "policy");
		else if (ad->a.r.policy == EVBUS_POLICY_LOSSLESS ?
			 !ad->a.r.wait_ns || ad->a.r.wait_ns > g_lossless_max_ns : ad->a.r.wait_ns)
			mark_bad(ad, "wait_ns 0 or past lossless_max_ms, or without EVBUS_POLICY_LOSSLESS");
		break;
	case C_GETRING:
		if (chance(t, 30))
			gen_ring(t, &ad->a.r);
		ad->len = sizeof(ad->a.r);
		break;
	case C_STATS: gen_stats(t, &ad->a.st); ad->len = sizeof(ad->a.st); break;
	case C_SUB2: gen_sub2(t, ad); break;	/* sets len */
	case C_NARROW: gen_narrow(t, ad); ad->len = sizeof(ad->a.sc); break;
	case C_BSTATS: gen_bstats(t, ad); break;
	case C_PADD: gen_rule(t, ad); ad->len = sizeof(ad->a.ru); break;
	case C_PSET: gen_pset(t, ad); ad->len = sizeof(ad->a.ps); break;
	case C_PLIST: gen_plist(t, ad); ad->len = sizeof(ad->a.pl); break;
	case C_HIST: gen_hist(t, ad); break;	/* sets len */
	default: {
		size_t i;

		ad->len = rnd(t, GARBAGE_MAX + 1);
		for (i = 0; i < ad->len; i++)
			ad->a.raw[i] = (unsigned char)rnd64(t);
		D(t, "{%zu random bytes}", ad->len);
		break;
	}
	}
	k = pick_kind(t, 72);
	D(t, " at ");
	ad->addr = place(t, R_ARG, k, &ad->a, ad->len, &ad->rw);
	ad->local = (char *)(uintptr_t)ad->addr;
}

static void decode_cmd(struct th *t, unsigned int cmd, int which)
{
	static const char *const dirs[] = { "_IO", "_IOW", "_IOR", "_IOWR" };

	if (which >= 0)
		D(t, "EVBUS_IOC_%s", evcmd[which].name);
	else
		D(t, "%s(%#x, %#x, size %u)=%#x", dirs[_IOC_DIR(cmd) & 3], _IOC_TYPE(cmd),
		  _IOC_NR(cmd), _IOC_SIZE(cmd), cmd);
}

static int which_cmd(unsigned int cmd)
{
	int i;

	for (i = 0; i < C_N; i++)
		if (evcmd[i].cmd == cmd)
			return i;
	return -1;
}

static int pick_which(struct th *t)
{
	uint32_t tot = 0, r;
	int i;

	for (i = 0; i < C_N; i++)
		tot += evcmd[i].weight;
	r = rnd(t, tot);
	for (i = 0; i < C_N; i++) {
		if (r < evcmd[i].weight)
			return i;
		r -= evcmd[i].weight;
	}
	return C_PUB;
}

/* ------------------------------------------------------------- models */

/* With the reference model (topic_ref.h), on text we own. */
static bool ref_pat_ok(const char *s, size_t len)
{
	struct ref_split sp;

	return ref_pattern_valid(s, len, &sp);
}

static bool ref_is_within(const char *p, size_t pl, const char *a, size_t al)
{
	struct ref_split ps, as;

	if (!ref_pattern_valid(p, pl, &ps) || !ref_pattern_valid(a, al, &as))
		return false;
	return ref_within(ps.seg, ps.n, as.seg, as.n);
}

static bool ref_matches(const char *pat, size_t pl, const char *topic, size_t tl)
{
	struct ref_split ps, ts;

	if (!ref_pattern_valid(pat, pl, &ps) || !ref_topic_valid(topic, tl, &ts))
		return false;
	return ref_match(ps.seg, ps.n, ts.seg, ts.n);
}

/* May a file with scope m publish on topic / subscribe to pattern? */
static bool model_may_publish(const struct scope_model *m, const char *topic, size_t len)
{
	uint32_t i;

	if (!m->scoped || m->all_pub)
		return true;
	for (i = 0; i < m->n_pub; i++)
		if (ref_matches(m->pat[i], m->len[i], topic, len))
			return true;
	return false;
}

static bool model_may_subscribe(const struct scope_model *m, const char *pat, size_t len)
{
	uint32_t i;

	if (!m->scoped || m->all_sub)
		return true;
	for (i = m->n_pub; i < m->n_pub + m->n_sub; i++)
		if (ref_is_within(pat, len, m->pat[i], m->len[i]))
			return true;
	return false;
}

/* fdinfo's evbus-scope lines for scope m, as scope.c prints them. */
static size_t scope_render(const struct scope_model *m, char *b, size_t cap)
{
	size_t n = 0;
	uint32_t i;

	b[0] = 0;
	if (!m->scoped)
		return 0;
#define R_(...) (n += (size_t)snprintf(b + n, n < cap ? cap - n : 0, __VA_ARGS__), n = n < cap ? n : cap - 1)
	if (m->all_pub)
		R_("evbus-scope:\tpublish (unscoped)\n");
	if (m->all_sub)
		R_("evbus-scope:\tsubscribe (unscoped)\n");
	for (i = 0; i < m->n_pub + m->n_sub; i++)
		R_("evbus-scope:\t%s %.*s\n", i < m->n_pub ? "publish" : "subscribe",
		   (int)m->len[i], m->pat[i]);
	if (!m->n_pub && !m->all_pub)
		R_("evbus-scope:\tpublish (none)\n");
	if (!m->n_sub && !m->all_sub)
		R_("evbus-scope:\tsubscribe (none)\n");
#undef R_
	return n;
}

/* fdinfo of fd into buf (NUL-terminated): its length, or -1. */
static ssize_t fdinfo_read(int fd, char *buf, size_t cap)
{
	char path[64];
	size_t n = 0;
	ssize_t r;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	while (n + 1 < cap && (r = read(f, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(f);
	buf[n] = 0;
	return (ssize_t)n;
}

/* The lines of text that start with prefix, concatenated into out. */
static void lines_with(const char *text, const char *prefix, char *out, size_t cap)
{
	size_t pl = strlen(prefix), n = 0;
	const char *l = text;

	out[0] = 0;
	while (*l) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) + 1 : strlen(l);

		if (!strncmp(l, prefix, pl) && n + len < cap) {
			memcpy(out + n, l, len);
			n += len;
			out[n] = 0;
		}
		l += len;
	}
}

/*
 * The scope a NARROW request makes from old, as the kernel read it (it got
 * past copying every pattern: success, EACCES or EBUSY), into nm; *narrower
 * says whether every new pattern lies within the old set for its right.
 * NULL, or what is wrong with the request by the reference model.
 */
static const char *scope_build(const struct evbus_scope *us, const struct scope_model *old,
			       struct scope_model *nm, bool *narrower)
{
	uint64_t arr[2] = { us->publish, us->subscribe };
	uint32_t want[2] = { us->n_publish, us->n_subscribe }, set, i, at = 0, j;

	memset(nm, 0, sizeof(*nm));
	nm->scoped = true;
	*narrower = true;
	for (set = 0; set < 2; set++) {
		bool keep = us->flags & (set ? EVBUS_SCOPE_KEEP_SUBSCRIBE : EVBUS_SCOPE_KEEP_PUBLISH);
		bool old_all = !old->scoped || (set ? old->all_sub : old->all_pub);
		uint32_t ob = set ? old->n_pub : 0, on = set ? old->n_sub : old->n_pub, n = 0;

		if (keep && old_all) {
			if (set)
				nm->all_sub = true;
			else
				nm->all_pub = true;
		} else if (keep) {
			for (i = 0; i < on; i++, n++, at++) {
				nm->len[at] = old->len[ob + i];
				memcpy(nm->pat[at], old->pat[ob + i], old->len[ob + i]);
			}
		} else {
			const struct evbus_pattern *ua = (const void *)(uintptr_t)arr[set];

			if (want[set] > EVBUS_SCOPE_MAX)
				return "more than EVBUS_SCOPE_MAX patterns accepted";
			for (i = 0; i < want[set]; i++, n++, at++) {
				struct evbus_pattern p;

				memcpy(&p, &ua[i], sizeof(p));
				if (!p.len || p.len > EVBUS_TOPIC_MAX || p.reserved)
					return "a bad pattern entry accepted";
				memcpy(nm->pat[at], (const void *)(uintptr_t)p.ptr, p.len);
				nm->len[at] = (uint16_t)p.len;
				if (!ref_pat_ok(nm->pat[at], p.len))
					return "a pattern accepted that the reference calls invalid";
				if (old_all)
					continue;
				for (j = 0; j < on; j++)
					if (ref_is_within(nm->pat[at], p.len, old->pat[ob + j],
							  old->len[ob + j]))
						break;
				if (j == on)
					*narrower = false;
			}
		}
		if (set)
			nm->n_sub = n;
		else
			nm->n_pub = n;
	}
	return NULL;
}

/*
 * After a NARROW on the worker's scoped file: the outcome must agree with
 * the model (a success never widens, EACCES only for a wider request,
 * EBUSY only for a narrower one), fdinfo must show exactly the model's
 * scope (after a failure: the old one, unchanged), and after a success
 * every subscription the file holds lies within the new subscribe set.
 */
static void check_narrow(struct th *t, struct argdesc *ad, int fd, long ret, int err)
{
	static __thread char info[65536], lines[16384], want[16384];
	struct scope_model nm;
	bool narrower = true;
	const char *why = NULL, *l;

	if (ret == 0 || err == EACCES || err == EBUSY) {
		why = scope_build(&ad->a.sc, &t->sm, &nm, &narrower);
		if (why)
			fail(t, "NARROW: %s (%s)", why, ret == 0 ? "success" : errname(err));
		else if (ret == 0 && !narrower)
			fail(t, "NARROW: succeeded with a pattern outside the file's scope (widened it)");
		else if (ret < 0 && err == EACCES && narrower)
			fail(t, "NARROW: EACCES for a scope within the file's");
		else if (ret < 0 && err == EBUSY && !narrower)
			fail(t, "NARROW: EBUSY for a wider scope (EACCES is checked first)");
		if (ret == 0 && !why)
			t->sm = nm;
	}
	if (fdinfo_read(fd, info, sizeof(info)) < 0)
		return;
	lines_with(info, "evbus-scope:", lines, sizeof(lines));
	scope_render(&t->sm, want, sizeof(want));
	if (strcmp(lines, want)) {
		fail(t, "NARROW (%s): fdinfo scope '%.100s' is not the expected '%.100s'",
		     ret == 0 ? "success" : errname(err), lines, want);
		return;
	}
	if (ret != 0)
		return;
	for (l = strstr(info, "evbus-sub:\t"); l; l = strstr(l + 1, "evbus-sub:\t")) {
		const char *p = strchr(l, ' ');
		size_t n;

		if (!p)
			break;
		p++;
		n = strcspn(p, " \n");
		if (!model_may_subscribe(&t->sm, p, n))
			fail(t, "NARROW: succeeded, but subscription '%.*s' is outside the new scope",
			     (int)n, p);
	}
}

/* A publish on topic (len bytes at ptr) got through on a file like fc. */
static void check_published(struct th *t, const char *what, uint64_t ptr, uint32_t len,
			    const struct fdctx *fc)
{
	struct ref_split sp;
	char topic[EVBUS_TOPIC_MAX + 1];

	if (!len || len > EVBUS_TOPIC_MAX) {
		fail(t, "%s: succeeded with topic_len %u", what, len);
		return;
	}
	memcpy(topic, (const void *)(uintptr_t)ptr, len);
	topic[len] = 0;
	if (!ref_topic_valid(topic, len, &sp))
		fail(t, "%s: published on '%.80s', not a valid topic", what, topic);
	else if (ref_seg_is(&sp.seg[0], "$sys"))
		fail(t, "%s: published on the kernel's topic '%.80s'", what, topic);
	else if (fc->kind == FD_SCOPED && !model_may_publish(&t->sm, topic, len))
		fail(t, "%s: published on '%.80s', outside the file's scope", what, topic);
}

static void check_subscribed(struct th *t, const char *what, uint64_t ptr, uint32_t len,
			     const struct fdctx *fc)
{
	char pat[EVBUS_TOPIC_MAX + 1];

	if (!len || len > EVBUS_TOPIC_MAX) {
		fail(t, "%s: succeeded with pattern_len %u", what, len);
		return;
	}
	memcpy(pat, (const void *)(uintptr_t)ptr, len);
	pat[len] = 0;
	if (!ref_pat_ok(pat, len))
		fail(t, "%s: subscribed to '%.80s', not a valid pattern", what, pat);
	else if (fc->kind == FD_SCOPED && !model_may_subscribe(&t->sm, pat, len))
		fail(t, "%s: subscribed to '%.80s', outside the file's scope", what, pat);
}

/* ------------------------------------------------------------- policy */

static void policy_lock(void)
{
	int e = pthread_mutex_lock(&g_shm->policy_lock);

	if (e == EOWNERDEAD)
		pthread_mutex_consistent(&g_shm->policy_lock);
}

static void policy_unlock(void)
{
	pthread_mutex_unlock(&g_shm->policy_lock);
}

static bool policy_snap(int fd, struct psnap *s)
{
	struct evbus_policy_list pl;
	struct evbus_bus_stats bs;

	memset(&bs, 0, sizeof(bs));
	bs.size = sizeof(bs);
	if (ioctl(fd, EVBUS_IOC_BUS_STATS, &bs))
		return false;
	memset(&pl, 0, sizeof(pl));
	pl.rules = (uintptr_t)s->r;
	pl.count = PSNAP_MAX;
	if (ioctl(fd, EVBUS_IOC_POLICY_LIST, &pl))
		return false;
	s->bus_id = bs.bus_id;
	s->total = pl.total;
	s->deflt = pl.policy_default;
	s->count = pl.count;
	return true;
}

static bool snap_same(const struct psnap *a, const struct psnap *b)
{
	return a->bus_id == b->bus_id && a->total == b->total && a->deflt == b->deflt &&
	       a->count == b->count && !memcmp(a->r, b->r, a->count * sizeof(a->r[0]));
}

static int snap_find(const struct psnap *s, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < s->count; i++)
		if (s->r[i].id == id)
			return (int)i;
	return -1;
}

/* Is b a with entry 'skip' of it taken out (a has one rule more)? */
static bool snap_same_but(const struct psnap *a, int skip, const struct psnap *b)
{
	uint32_t i, j = 0;

	if (a->total != b->total + 1 || a->total > PSNAP_MAX)
		return a->total == b->total + 1;	/* too many to compare */
	for (i = 0; i < a->count; i++) {
		if ((int)i == skip)
			continue;
		if (j >= b->count || memcmp(&a->r[i], &b->r[j], sizeof(a->r[i])))
			return false;
		j++;
	}
	return j == b->count;
}

/* Highest rule id seen on a bus: ids are never reused.  Policy lock held. */
static uint32_t *max_id_of(uint64_t bus_id)
{
	unsigned int i;

	for (i = 0; i < N_OF(g_shm->ids); i++)
		if (g_shm->ids[i].bus_id == bus_id)
			return &g_shm->ids[i].max_id;
	i = g_shm->ids_next++ % N_OF(g_shm->ids);
	g_shm->ids[i].bus_id = bus_id;
	g_shm->ids[i].max_id = 0;
	return &g_shm->ids[i].max_id;
}

/*
 * A policy change and POLICY_LIST just before (b) and after (a) it, under
 * the policy lock: a failed call changed nothing; an ADD added exactly its
 * rule, under a new id above every id the bus gave before; a DEFAULT
 * changed the default only; a REMOVE took out exactly an existing rule (and
 * ENOENT means there was none); a CLEAR left no rule and a default of allow.
 */
static void check_policy_change(struct th *t, struct argdesc *ad, const struct psnap *b,
				const struct psnap *a, long ret, int err, uint32_t new_id)
{
	const char *what = evcmd[ad->which].name;
	uint32_t *max = max_id_of(b->bus_id);
	int i;

	if (a->bus_id != b->bus_id)
		return;		/* a slot reopened in between: another file */
	if (ret < 0) {
		if (!snap_same(b, a))
			fail(t, "%s: failed with %s but the policy changed (rules %u -> %u, default %u -> %u)",
			     what, errname(err), b->total, a->total, b->deflt, a->deflt);
		else if (ad->which == C_PSET && err == ENOENT && ad->a.ps.op == EVBUS_POLICY_OP_REMOVE &&
			 snap_find(b, ad->a.ps.id) >= 0)
			fail(t, "POLICY_SET: REMOVE of rule %u gave ENOENT, but it is listed", ad->a.ps.id);
		return;
	}
	if (ad->which == C_PADD) {
		const struct evbus_rule *ru = &ad->a.ru;

		if (a->total != b->total + 1 || a->deflt != b->deflt) {
			fail(t, "POLICY_ADD: rules %u -> %u, default %u -> %u", b->total, a->total,
			     b->deflt, a->deflt);
			return;
		}
		if (new_id && new_id <= *max)
			fail(t, "POLICY_ADD: rule id %u, but the bus gave %u before", new_id, *max);
		if (new_id > *max)
			*max = new_id;
		if (b->total >= PSNAP_MAX || !new_id)
			return;
		i = snap_find(a, new_id);
		if (i < 0 || (uint32_t)i != a->count - 1) {
			fail(t, "POLICY_ADD: rule %u is not listed last", new_id);
			return;
		}
		if (a->r[i].verdict != ru->verdict || a->r[i].rights != ru->rights ||
		    a->r[i].who != ru->who ||
		    a->r[i].id_value != (ru->who == EVBUS_WHO_ALL ? 0 : ru->id_value) ||
		    a->r[i].pattern_len != ru->pattern_len ||
		    memcmp(a->r[i].pattern, (const void *)(uintptr_t)ru->pattern, ru->pattern_len) ||
		    a->r[i].pattern[ru->pattern_len])
			fail(t, "POLICY_ADD: rule %u listed as verdict %u rights %#x who %u id %u '%.40s'",
			     new_id, a->r[i].verdict, a->r[i].rights, a->r[i].who,
			     a->r[i].id_value, a->r[i].pattern);
		else if (!snap_same_but(a, i, b))
			fail(t, "POLICY_ADD: other rules changed");
		return;
	}
	switch (ad->a.ps.op) {
	case EVBUS_POLICY_OP_DEFAULT:
		if (a->deflt != ad->a.ps.verdict || a->total != b->total || a->count != b->count ||
		    memcmp(a->r, b->r, a->count * sizeof(a->r[0])))
			fail(t, "POLICY_SET: DEFAULT %u gave default %u, rules %u -> %u",
			     ad->a.ps.verdict, a->deflt, b->total, a->total);
		break;
	case EVBUS_POLICY_OP_REMOVE:
		i = snap_find(b, ad->a.ps.id);
		if (snap_find(a, ad->a.ps.id) >= 0 || a->deflt != b->deflt ||
		    a->total + 1 != b->total ||
		    (b->total < PSNAP_MAX && (i < 0 || !snap_same_but(b, i, a))))
			fail(t, "POLICY_SET: REMOVE of rule %u: rules %u -> %u, %s before",
			     ad->a.ps.id, b->total, a->total, i < 0 ? "not listed" : "listed");
		break;
	case EVBUS_POLICY_OP_CLEAR:
		if (a->total || a->count || a->deflt != EVBUS_ALLOW)
			fail(t, "POLICY_SET: CLEAR left %u rules, default %u", a->total, a->deflt);
		break;
	default:
		fail(t, "POLICY_SET: op %u succeeded", ad->a.ps.op);
	}
}

/*
 * Who may change the policy or set the history's capacity: the bus's owner
 * (root on its own bus, a process in the user namespace that owns a bus it
 * made) on an unscoped file.  Never EPERM for it; for anyone else never
 * success, and never an errno of a step after the owner check (ENOSPC,
 * ENOENT; for EVBUS_HISTORY_SET EDQUOT, ENOMEM).
 */
static void check_owner(struct th *t, struct argdesc *ad, const struct fdctx *fc,
			long ret, int err)
{
	bool owner = fc->owner && !(fc->kind == FD_SCOPED && t->sm.scoped);
	const char *what = evcmd[ad->which].name;

	if (fc->kind == FD_NONE || (ret < 0 && err == EBADF))
		return;
	if (owner) {
		if (ret < 0 && err == EPERM)
			fail(t, "%s: EPERM for the bus's owner", what);
		return;
	}
	if (ret >= 0)
		fail(t, "%s: succeeded %s", what, fc->kind == FD_SCOPED && t->sm.scoped ?
		     "on a scoped file" : "for a process that does not own the bus");
	else if (ad->which == C_HIST ? err == EDQUOT || err == ENOMEM :
		 err == ENOSPC || err == ENOENT)
		fail(t, "%s: %s for a process that does not own the bus (EPERM first)",
		     what, errname(err));
	if (ret < 0 && err == EPERM && g_shm && t->unpriv)
		__atomic_add_fetch(&g_shm->eperm, 1, __ATOMIC_RELAXED);
}

/* POLICY_LIST wrote back: consistent counts, and whole, ordered rules. */
static void check_list(struct th *t, struct argdesc *ad, const struct evbus_policy_list *pl)
{
	const struct evbus_rule_info *ri = (const void *)(uintptr_t)ad->buf;
	uint32_t i, n, prev = 0;

	if (pl->count > ad->count || pl->count > pl->total ||
	    (pl->policy_default != EVBUS_ALLOW && pl->policy_default != EVBUS_DENY) ||
	    pl->flags || pl->reserved || pl->start_id != ad->a.pl.start_id) {
		fail(t, "POLICY_LIST: count %u of %u asked, total %u, default %u", pl->count,
		     ad->count, pl->total, pl->policy_default);
		return;
	}
	if (!ad->buf_rw)
		return;
	n = pl->count < ad->buf_n ? pl->count : ad->buf_n;
	for (i = 0; i < n; i++) {
		struct evbus_rule_info r;

		memcpy(&r, &ri[i], sizeof(r));
		if (r.id < pl->start_id || r.id <= prev ||
		    (r.verdict != EVBUS_ALLOW && r.verdict != EVBUS_DENY && r.verdict != EVBUS_ASK) ||
		    (r.verdict == EVBUS_ASK && r.rights != EVBUS_RIGHT_PUBLISH) ||
		    !r.rights || (r.rights & ~RIGHTS_KNOWN) || r.who > EVBUS_WHO_GID ||
		    (r.who == EVBUS_WHO_ALL && r.id_value) ||
		    !r.pattern_len || r.pattern_len > EVBUS_TOPIC_MAX ||
		    r.pattern[r.pattern_len] || !ref_pat_ok(r.pattern, r.pattern_len)) {
			fail(t, "POLICY_LIST: entry %u: id %u (after %u, from %u) verdict %u rights %#x who %u len %u",
			     i, r.id, prev, pl->start_id, r.verdict, r.rights, r.who, r.pattern_len);
			return;
		}
		prev = r.id;
	}
}

/* Whole tokens of a dimension GET reports: 0 if unlimited, at most one burst of debt. */
static bool tokens_ok(uint64_t rate, uint64_t burst, int64_t tok)
{
	if (!rate)
		return tok == 0;
	return tok <= (int64_t)burst && tok >= -(int64_t)burst;
}

static bool lim_tokens_ok(const struct evbus_rate_limit *l, int64_t ev, int64_t by)
{
	return tokens_ok(l->events_per_sec, l->events_burst, ev) &&
	       tokens_ok(l->bytes_per_sec, l->bytes_burst, by);
}

/*
 * What EVBUS_IOC_RATE wrote back (#17) on a slot or a worker's private
 * file: the in fields as they were, a larger struct's tail zeroed; GET's
 * limits valid and the fuzzer's own (none, or generous: nothing refused,
 * nothing waited), tokens within a burst; USER_GET's a limit in force,
 * generous for the users that publish.
 */
static void check_rate_reply(struct th *t, const char *what, const struct argdesc *ad,
			     const struct evbus_rate *o)
{
	const struct evbus_rate *in = &ad->a.rt;
	size_t i, end = ad->len < ad->size ? ad->len : ad->size;

	if (o->size != in->size || o->op != in->op || o->who != in->who ||
	    o->id_value != in->id_value) {
		fail(t, "%s: size %u op %u who %u id %u came back as %u %u %u %u", what, in->size,
		     in->op, in->who, in->id_value, o->size, o->op, o->who, o->id_value);
		return;
	}
	for (i = sizeof(*o); i < end; i++)
		if (ad->local[i]) {
			fail(t, "%s: byte %zu of the %u-byte struct not zeroed", what, i, ad->size);
			return;
		}
	switch (o->op) {
	case EVBUS_RATE_GET:
		if (!lim_valid(&o->limit) || !lim_valid(&o->user) ||
		    !lim_tokens_ok(&o->limit, o->events_tokens, o->bytes_tokens) ||
		    !lim_tokens_ok(&o->user, o->user_events_tokens, o->user_bytes_tokens))
			fail(t, "%s: GET: file %llu/%llu ev %llu/%llu B tokens %lld %lld, user %llu/%llu ev %llu/%llu B tokens %lld %lld",
			     what, (unsigned long long)o->limit.events_per_sec,
			     (unsigned long long)o->limit.events_burst,
			     (unsigned long long)o->limit.bytes_per_sec,
			     (unsigned long long)o->limit.bytes_burst, (long long)o->events_tokens,
			     (long long)o->bytes_tokens, (unsigned long long)o->user.events_per_sec,
			     (unsigned long long)o->user.events_burst,
			     (unsigned long long)o->user.bytes_per_sec,
			     (unsigned long long)o->user.bytes_burst, (long long)o->user_events_tokens,
			     (long long)o->user_bytes_tokens);
		else if (!lim_generous(&o->limit) || !lim_generous(&o->user) || o->refused ||
			 o->waited)
			fail(t, "%s: GET: a limit the fuzzer never set here (file %llu/%llu ev %llu/%llu B, user %llu/%llu ev %llu/%llu B), or %llu refused, %llu waited",
			     what, (unsigned long long)o->limit.events_per_sec,
			     (unsigned long long)o->limit.events_burst,
			     (unsigned long long)o->limit.bytes_per_sec,
			     (unsigned long long)o->limit.bytes_burst,
			     (unsigned long long)o->user.events_per_sec,
			     (unsigned long long)o->user.events_burst,
			     (unsigned long long)o->user.bytes_per_sec,
			     (unsigned long long)o->user.bytes_burst,
			     (unsigned long long)o->refused, (unsigned long long)o->waited);
		break;
	case EVBUS_RATE_USER_GET:
		if (!lim_valid(&o->limit) || lim_none(&o->limit) ||
		    ((o->who == EVBUS_WHO_ALL || !RATE_UID_TIGHT(o->id_value)) &&
		     !lim_generous(&o->limit)))
			fail(t, "%s: USER_GET of who %u id %u: %llu/%llu ev %llu/%llu B", what, o->who,
			     o->id_value, (unsigned long long)o->limit.events_per_sec,
			     (unsigned long long)o->limit.events_burst,
			     (unsigned long long)o->limit.bytes_per_sec,
			     (unsigned long long)o->limit.bytes_burst);
		else if (memcmp(&o->user, &in->user, sizeof(*o) - offsetof(struct evbus_rate, user)))
			fail(t, "%s: USER_GET wrote past the limit", what);
		break;
	}
}

/* A user's limit as EVBUS_RATE_USER_GET shows it, and the bus's rules. */
struct rsnap {
	uint64_t bus_id;
	uint64_t users;
	bool have;
	struct evbus_rate_limit lim;
};

static int rate_call(int fd, struct evbus_rate *r, uint32_t op)
{
	r->size = sizeof(*r);
	r->op = op;
	return ioctl(fd, EVBUS_IOC_RATE, r) ? errno : 0;
}

/* EVBUS_RATE_GET of fd into r: 0 or the errno. */
static int rate_get(int fd, struct evbus_rate *r)
{
	memset(r, 0, sizeof(*r));
	return rate_call(fd, r, EVBUS_RATE_GET);
}

/* EVBUS_RATE_FILE (0 or the errno). */
static int rate_file(int fd, uint64_t eps, uint64_t eb, uint64_t bps, uint64_t bb)
{
	struct evbus_rate r;

	memset(&r, 0, sizeof(r));
	r.limit.events_per_sec = eps, r.limit.events_burst = eb;
	r.limit.bytes_per_sec = bps, r.limit.bytes_burst = bb;
	return rate_call(fd, &r, EVBUS_RATE_FILE);
}

/* EVBUS_RATE_USER for uid (or everyone, who ALL): 0 or the errno. */
static int rate_user(int fd, uint32_t who, uint32_t uid, const struct evbus_rate_limit *l)
{
	struct evbus_rate r;

	memset(&r, 0, sizeof(r));
	r.who = who;
	r.id_value = who == EVBUS_WHO_UID ? uid : 0;
	if (l)
		r.limit = *l;
	return rate_call(fd, &r, EVBUS_RATE_USER);
}

/* EVBUS_RATE_USER_GET: 0 (the limit in *l) or the errno. */
static int rate_user_get(int fd, uint32_t who, uint32_t uid, struct evbus_rate_limit *l)
{
	struct evbus_rate r;
	int e;

	memset(&r, 0, sizeof(r));
	r.who = who;
	r.id_value = who == EVBUS_WHO_UID ? uid : 0;
	e = rate_call(fd, &r, EVBUS_RATE_USER_GET);
	memcpy(l, e ? &(struct evbus_rate_limit){ 0 } : &r.limit, sizeof(*l));
	return e;
}

static bool rate_snap(int fd, const struct evbus_rate *in, struct rsnap *s)
{
	struct evbus_bus_stats bs;
	int e;

	if (evt_bus_stats(fd, &bs))
		return false;
	e = rate_user_get(fd, in->who, in->id_value, &s->lim);
	if (e && e != ENOENT)
		return false;
	s->have = !e;
	s->bus_id = bs.bus_id;
	s->users = bs.rate_users;
	return true;
}

/*
 * A user limit (EVBUS_RATE_USER) made under the policy lock: a failure
 * changes nothing, ENOENT only for removing a limit that is not there,
 * ENOSPC only for a new one with 256 on the bus; a success sets exactly
 * the limit (USER_GET shows it, rate_users one more if it is new) or
 * removes it (one less).
 */
static void check_rate_user(struct th *t, const struct argdesc *ad, const struct rsnap *b,
			    const struct rsnap *a, long ret, int err)
{
	const struct evbus_rate_limit *n = &ad->a.rt.limit;

	if (a->bus_id != b->bus_id)
		return;		/* a slot reopened onto another bus */
	if (ret < 0) {
		if (a->have != b->have || memcmp(&a->lim, &b->lim, sizeof(a->lim)) ||
		    a->users != b->users)
			fail(t, "RATE: USER failed with %s but the limit or the rules changed (%s -> %s, rules %llu -> %llu)",
			     errname(err), b->have ? "set" : "none", a->have ? "set" : "none",
			     (unsigned long long)b->users, (unsigned long long)a->users);
		else if (err == ENOENT && (b->have || !lim_none(n)))
			fail(t, "RATE: USER gave ENOENT %s", b->have ? "with a limit in force" :
			     "setting a limit");
		else if (err == ENOSPC && (b->have || lim_none(n) || b->users < 256))
			fail(t, "RATE: USER gave ENOSPC with %llu rules on the bus (%s)",
			     (unsigned long long)b->users, b->have ? "replacing one" : "a new one");
		return;
	}
	if (lim_none(n)) {
		if (!b->have || a->have || a->users + 1 != b->users)
			fail(t, "RATE: USER removed a limit (%s before): %s after, rules %llu -> %llu",
			     b->have ? "set" : "none", a->have ? "set" : "none",
			     (unsigned long long)b->users, (unsigned long long)a->users);
	} else if (!a->have || memcmp(&a->lim, n, sizeof(*n)) ||
		   a->users != b->users + !b->have) {
		fail(t, "RATE: USER set %llu/%llu ev %llu/%llu B: USER_GET %s %llu/%llu ev %llu/%llu B, rules %llu -> %llu",
		     (unsigned long long)n->events_per_sec, (unsigned long long)n->events_burst,
		     (unsigned long long)n->bytes_per_sec, (unsigned long long)n->bytes_burst,
		     a->have ? "shows" : "has none", (unsigned long long)a->lim.events_per_sec,
		     (unsigned long long)a->lim.events_burst, (unsigned long long)a->lim.bytes_per_sec,
		     (unsigned long long)a->lim.bytes_burst, (unsigned long long)b->users,
		     (unsigned long long)a->users);
	}
}

/*
 * A file limit (EVBUS_RATE_FILE) on a worker's own file, GET before and
 * after: a success only for a limit no looser than the file's (then GET
 * shows it), EPERM only for a looser one, a failure changes nothing.
 */
static void check_rate_file(struct th *t, const struct argdesc *ad, const struct evbus_rate *b,
			    const struct evbus_rate *a, long ret, int err)
{
	const struct evbus_rate_limit *n = &ad->a.rt.limit;

	if (ret == 0) {
		if (!lim_tighter(n, &b->limit))
			fail(t, "RATE: FILE set %llu/%llu ev %llu/%llu B, looser than %llu/%llu ev %llu/%llu B",
			     (unsigned long long)n->events_per_sec, (unsigned long long)n->events_burst,
			     (unsigned long long)n->bytes_per_sec, (unsigned long long)n->bytes_burst,
			     (unsigned long long)b->limit.events_per_sec,
			     (unsigned long long)b->limit.events_burst,
			     (unsigned long long)b->limit.bytes_per_sec,
			     (unsigned long long)b->limit.bytes_burst);
		else if (memcmp(&a->limit, n, sizeof(*n)))
			fail(t, "RATE: FILE set a limit, GET shows %llu/%llu ev %llu/%llu B",
			     (unsigned long long)a->limit.events_per_sec,
			     (unsigned long long)a->limit.events_burst,
			     (unsigned long long)a->limit.bytes_per_sec,
			     (unsigned long long)a->limit.bytes_burst);
		return;
	}
	if (memcmp(&a->limit, &b->limit, sizeof(a->limit)))
		fail(t, "RATE: FILE failed with %s but the file's limit changed", errname(err));
	else if (err == EPERM && lim_valid(n) && lim_tighter(n, &b->limit))
		fail(t, "RATE: FILE gave EPERM for a limit no looser than the file's");
}

/* Errnos of EVBUS_IOC_RATE by op: EPERM for FILE and USER, ENOENT for the user ops, ENOSPC for USER. */
static void check_rate_errno(struct th *t, const struct argdesc *ad, int err)
{
	uint32_t op = ad->a.rt.op;

	if ((err == EPERM && op != EVBUS_RATE_FILE && op != EVBUS_RATE_USER) ||
	    (err == ENOENT && op != EVBUS_RATE_USER && op != EVBUS_RATE_USER_GET) ||
	    (err == ENOSPC && op != EVBUS_RATE_USER))
		fail(t, "RATE: op %u gave %s", op, errname(err));
}

/* Check what the kernel wrote back after a successful evbus command. */
static void check_success(struct th *t, const char *what, struct argdesc *ad, long ret,
			  const struct fdctx *fc)
{
	union argbuf o;

	if (ad->which == C_BATCH) {
		if (ret < 1 || (uint32_t)ret > ad->count)
			fail(t, "%s: returned %ld for count %u", what, ret, ad->count);
	} else if (ret != 0) {
		fail(t, "%s: returned %ld, not 0", what, ret);
	}
	if (!ad->rw)
		return;
	memcpy(&o, ad->local, ad->len);
	switch (ad->which) {
	case C_VERSION:
		if (o.v.abi_version != EVBUS_ABI_VERSION || !(o.v.features & EVBUS_FEAT_PUBLISH) ||
		    o.v.flags || o.v.reserved[0] || o.v.reserved[3])
			fail(t, "%s: bad version reply abi %u features %#llx", what,
			     o.v.abi_version, (unsigned long long)o.v.features);
		break;
	case C_SUB:
		if (!o.s.sub_id)
			fail(t, "%s: sub_id 0", what);
		break;
	case C_PUB:
		if (!o.p.seq)
			fail(t, "%s: seq 0 written back", what);
		break;
	case C_GETRING:
	case C_SETRING:
		if (ad->which == C_GETRING &&
		    (o.r.size < 4096 || (o.r.size & (o.r.size - 1)) ||
		     o.r.policy > EVBUS_POLICY_LOSSLESS ||
		     (o.r.policy == EVBUS_POLICY_LOSSLESS) != !!o.r.wait_ns ||
		     o.r.wait_ns > g_lossless_max_ns ||
		     (o.r.flags & ~EVBUS_RING_VALID) ||
		     /* GET_RING reports exactly one wake-up mode */
		     __builtin_popcount(o.r.flags) != 1 ||
		     (o.r.flags == EVBUS_RING_WAKE ?
				  !o.r.wake_events || o.r.wake_events > EVBUS_WAKE_EVENTS_MAX ||
				  o.r.wake_delay_ns > EVBUS_WAKE_DELAY_MAX :
				  o.r.wake_events || o.r.wake_delay_ns)))
			fail(t, "%s: bad ring reply size %u policy %u flags %#x wake %u/%llu wait_ns %llu",
			     what, o.r.size, o.r.policy, o.r.flags, o.r.wake_events,
			     (unsigned long long)o.r.wake_delay_ns, (unsigned long long)o.r.wait_ns);
		break;
	case C_STATS:
		if (o.st.policy > EVBUS_POLICY_LOSSLESS || (o.st.capacity & (o.st.capacity - 1)) || o.st.flags ||
		    o.st.reserved[0] || o.st.subscriptions > 4096 ||
		    o.st.queued_bytes < o.st.queued_events * 8)
			fail(t, "%s: bad stats reply policy %u capacity %u subs %u", what,
			     o.st.policy, o.st.capacity, o.st.subscriptions);
		break;
	case C_BATCH: {
		uint32_t i;

		if (o.b.published != (uint32_t)ret)
			fail(t, "%s: returned %ld but published=%u", what, ret, o.b.published);
		else if ((uint32_t)ret < ad->count &&
			 (o.b.error >= 0 || o.b.error_index != (uint32_t)ret ||
			  !cmd_allowed(C_BATCH, -o.b.error)))
			fail(t, "%s: partial batch %ld/%u with error %d error_index %u", what,
			     ret, ad->count, o.b.error, o.b.error_index);
		/* All published: error 0 (an unwritable seq slot stops a batch before its event). */
		else if ((uint32_t)ret == ad->count &&
			 (o.b.error || o.b.error_index != ad->count))
			fail(t, "%s: full batch with error %d error_index %u", what,
			     o.b.error, o.b.error_index);
		if (!o.b.first_seq)
			fail(t, "%s: first_seq 0", what);
		if ((o.b.flags & EVBUS_BATCH_SEQ) && ad->descs_rw) {
			const struct evbus_pub *d = (const void *)(uintptr_t)ad->descs;
			uint64_t prev = 0, s;

			for (i = 0; i < (uint32_t)ret; i++) {
				memcpy(&s, (const char *)&d[i] + offsetof(struct evbus_pub, seq), 8);
				if (s <= prev || (i == 0 && s != o.b.first_seq)) {
					fail(t, "%s: desc[%u].seq %llu after %llu (first_seq %llu)",
					     what, i, (unsigned long long)s, (unsigned long long)prev,
					     (unsigned long long)o.b.first_seq);
					break;
				}
				prev = s;
			}
		}
		break;
	}
	case C_SUB2:
		if (!o.s2.sub_id)
			fail(t, "%s: sub_id 0", what);
		break;
	case C_BSTATS: {
		size_t i, end = ad->len < ad->size ? ad->len : ad->size;

		/* The kernel says how much it filled in: what it knows, up to size. */
		if (o.bs.size != (ad->size < sizeof(o.bs) ? ad->size : sizeof(o.bs)) ||
		    o.bs.flags || o.bs.reserved || !o.bs.bus_id ||
		    (o.bs.policy_default != EVBUS_ALLOW && o.bs.policy_default != EVBUS_DENY) ||
		    !o.bs.open_files || o.bs.policy_rules > 65536)
			fail(t, "%s: bad reply size %u flags %#x reserved %#x bus %llu default %u open_files %llu rules %llu",
			     what, o.bs.size, o.bs.flags, o.bs.reserved, (unsigned long long)o.bs.bus_id,
			     o.bs.policy_default, (unsigned long long)o.bs.open_files,
			     (unsigned long long)o.bs.policy_rules);
		else if (fc->bus_id && o.bs.bus_id != fc->bus_id)
			fail(t, "%s: bus %llu, but the file is on bus %llu", what,
			     (unsigned long long)o.bs.bus_id, (unsigned long long)fc->bus_id);
		else if (fc->ipc_ino && o.bs.ipc_ns != fc->ipc_ino)
			fail(t, "%s: IPC namespace %llu, but the file's is %llu", what,
			     (unsigned long long)o.bs.ipc_ns, (unsigned long long)fc->ipc_ino);
		for (i = sizeof(o.bs); i < end; i++)
			if (ad->local[i]) {
				fail(t, "%s: byte %zu of the %u-byte struct not zeroed", what, i, ad->size);
				break;
			}
		break;
	}
	case C_PADD:
		if (!o.ru.id)
			fail(t, "%s: rule id 0", what);
		break;
	case C_AADD:
		if (!o.ap.id || o.ap.id > EVBUS_APPROVER_ID_MAX)
			fail(t, "%s: approver id %u", what, o.ap.id);
		break;
	case C_PLIST:
		check_list(t, ad, &o.pl);
		break;
	case C_RATE:
		check_rate_reply(t, what, ad, &o.rt);
		break;
	case C_HIST: {
		size_t i, end = ad->len < ad->size ? ad->len : ad->size;
		const struct evbus_history *h = &o.h;

		if (h->size != sizeof(*h) || h->flags || h->reserved[0] || h->reserved[1] ||
		    h->reserved[2] || h->reserved[3] ||
		    (h->capacity && (h->capacity < PG || (h->capacity & (h->capacity - 1)))) ||
		    h->capacity > g_hist_max || h->bytes > h->capacity || !h->next_seq ||
		    !h->events != !h->bytes || h->events > h->next_seq - 1 ||
		    (h->events ? h->oldest_seq > h->newest_seq || h->newest_seq > h->next_seq - 1 ||
				 !h->oldest_seq :
				 h->oldest_seq || h->newest_seq) ||
		    !h->retained != !h->retained_bytes)
			fail(t, "%s: bad reply size %u flags %#x capacity %llu bytes %llu events %llu seqs %llu..%llu next %llu retained %llu/%llu bytes",
			     what, h->size, h->flags, (unsigned long long)h->capacity,
			     (unsigned long long)h->bytes, (unsigned long long)h->events,
			     (unsigned long long)h->oldest_seq, (unsigned long long)h->newest_seq,
			     (unsigned long long)h->next_seq, (unsigned long long)h->retained,
			     (unsigned long long)h->retained_bytes);
		for (i = sizeof(*h); i < end; i++)
			if (ad->local[i]) {
				fail(t, "%s: byte %zu of the %u-byte struct not zeroed", what, i, ad->size);
				break;
			}
		break;
	}
	}
}

/* What got through must be valid, not $sys, and within a scoped file's scope. */
static void check_content(struct th *t, struct argdesc *ad, long ret, const struct fdctx *fc)
{
	uint32_t i;

	switch (ad->which) {
	case C_PUB:
		check_published(t, "PUBLISH", ad->a.p.topic, ad->a.p.topic_len, fc);
		break;
	case C_BATCH:
		for (i = 0; i < (uint32_t)ret && i < ad->ngen && !t->nfailmsg; i++)
			check_published(t, "PUBLISH_BATCH", t->descs[i].topic, t->descs[i].topic_len, fc);
		break;
	case C_SUB:
		check_subscribed(t, "SUBSCRIBE", ad->a.s.pattern, ad->a.s.pattern_len, fc);
		break;
	case C_SUB2:
		check_subscribed(t, "SUBSCRIBE2", ad->a.s2.pattern, ad->a.s2.pattern_len, fc);
		break;
	case C_AADD:	/* an approver's pattern is a subscription's (#16) */
		check_subscribed(t, "APPROVER_ADD", ad->a.ap.pattern, ad->a.ap.pattern_len, fc);
		break;
	case C_WILL:	/* a will armed is a publish to come (#17) */
		if (!(ad->a.wl.flags & EVBUS_WILL_CLEAR))
			check_published(t, "WILL", ad->a.wl.topic, ad->a.wl.topic_len, fc);
		break;
	}
}

static void count_feat_sub2(struct th *t, uint32_t flags)
{
	t->feat[F_SINCE] += !!(flags & EVBUS_SUB_SINCE);
	t->feat[F_LAST] += !!(flags & EVBUS_SUB_LAST);
	t->feat[F_RETAINED_SUB] += !!(flags & EVBUS_SUB_RETAINED);
}

/* A call that succeeded: what of #15 it got through. */
static void count_feat(struct th *t, const struct argdesc *ad, long ret)
{
	uint32_t i;

	switch (ad->which) {
	case C_SUB2:
		count_feat_sub2(t, ad->a.s2.flags);
		break;
	case C_PUB:
		t->feat[F_RETAIN_PUB] += !!(ad->a.p.flags & EVBUS_PUB_RETAIN);
		t->feat[F_ASK_PUB] += ad->asks;
		t->feat[F_WAIT_PUB] += !!(ad->a.p.flags & EVBUS_PUB_WAIT);
		break;
	case C_RATE:
		t->feat[ad->a.rt.op == EVBUS_RATE_GET ? F_RATE_GET :
			ad->a.rt.op == EVBUS_RATE_FILE ? F_RATE_FILE :
			ad->a.rt.op == EVBUS_RATE_USER ? F_RATE_USER : F_RATE_USER_GET]++;
		break;
	case C_SETRING:
		t->feat[F_LOSSLESS_SET] += ad->a.r.policy == EVBUS_POLICY_LOSSLESS;
		break;
	case C_PADD:
		t->feat[F_WAIT_RULE] += !!(ad->a.ru.rights & EVBUS_RIGHT_WAIT);
		break;
	case C_AADD:
		t->feat[F_APPR_ADD]++;
		break;
	case C_VERDICT:
		t->feat[F_VERDICT_OK]++;
		break;
	case C_WILL:
		if (ad->a.wl.flags & EVBUS_WILL_CLEAR)
			t->feat[F_WILL_CLEAR]++;
		else
			t->feat[F_WILL_ARM]++;
		break;
	case C_BATCH:
		for (i = 0; i < (uint32_t)ret && i < ad->ngen; i++) {
			t->feat[F_RETAIN_PUB] += !!(t->descs[i].flags & EVBUS_PUB_RETAIN);
			t->feat[F_WAIT_PUB] += !!(t->descs[i].flags & EVBUS_PUB_WAIT);
		}
		break;
	case C_HIST:
		t->feat[F_HIST_SET] += !!(ad->a.h.flags & EVBUS_HISTORY_SET);
		break;
	}
}

/* The file an ioctl goes to: mostly a slot, else one of the worker's
 * private files; NARROW only ever to the one it may narrow. */
static int pick_ioctl_fd(struct th *t, int which, struct fdctx *fc)
{
	uint32_t r = rnd(t, 100);
	int i;

	memset(fc, 0, sizeof(*fc));
	if (r < 2 || (which == C_NARROW && r < 4)) {
		D(t, "fd=-1");
		return -1;
	}
	if (r < 4) {
		D(t, "fd=%d(never open)", slot_fd(NSLOTS + 4));
		return slot_fd(NSLOTS + 4);
	}
	if (which == C_NARROW || r >= 68) {
		fc->kind = which == C_NARROW || r >= 84 ? FD_SCOPED : FD_PRIV;
		fc->owner = t->priv_owner;
		fc->bus_id = t->priv_bus;
		fc->ipc_ino = t->priv_ino;
		if (fc->kind == FD_PRIV) {
			D(t, "private(fd %d)", t->pfd);
			return t->pfd;
		}
		D(t, "scoped(fd %d)", t->sfd);
		return t->sfd;
	}
	i = (int)rnd(t, NSLOTS);
	fc->kind = FD_SLOT;
	fc->owner = g_slot_owner[i];
	fc->bus_id = g_slot_bus[i];
	fc->ipc_ino = g_slot_ino[i];
	D(t, "slot%d(fd %d, %s)", i, slot_fd(i), slot_class(i));
	return slot_fd(i);
}

/* POLICY_ADD's "then remove it": the rule it just added goes again (true). */
static bool remove_again(struct th *t, int fd, uint32_t id)
{
	static __thread struct argdesc ad;
	long ret;
	int err;
	bool have;

	memset(&ad, 0, sizeof(ad));
	ad.which = C_PSET;
	ad.a.ps.op = EVBUS_POLICY_OP_REMOVE;
	ad.a.ps.id = id;
	have = policy_snap(fd, &t->snap[0]);
	errno = 0;
	ret = ioctl(fd, EVBUS_IOC_POLICY_SET, &ad.a.ps);
	err = errno;
	result_cmd(t, "POLICY_SET (remove the rule just added)", ret, err, C_PSET);
	if (ret < 0 && err != EBADF)
		fail(t, "POLICY_SET: REMOVE of rule %u, just added, gave %s", id, errname(err));
	if (have && policy_snap(fd, &t->snap[1]))
		check_policy_change(t, &ad, &t->snap[0], &t->snap[1], ret, err, 0);
	return ret == 0;
}

/* May an errno of the gate's alone (#16) come from this call? */
static bool gate_only_errno(int e)
{
	return e == ETIMEDOUT || e == ECONNRESET || e == ENOBUFS || e == ECONNREFUSED ||
	       e == EAGAIN || e == EKEYREJECTED || e == EHWPOISON;
}

static int ask_rules_now(void)
{
	return g_shm ? __atomic_load_n(&g_shm->ask_rules, __ATOMIC_SEQ_CST) : 0;
}

/*
 * A publish that did not ask, made while no EVBUS_ASK rule could be on a
 * bus (before the call nor after), never gets the gate's errnos.
 */
static void check_gate_errno(struct th *t, const char *what, bool asked, int rules0, int err)
{
	if (!gate_only_errno(err) || asked || rules0 || ask_rules_now())
		return;
	fail(t, "%s: %s, but nothing asked for approval (and no ask rule was on)", what,
	     errname(err));
}

/*
 * APPROVER_ADD's "then remove it": the approver goes again, and a second
 * removal finds nothing.  On a worker's own files exactly so; on a slot
 * the reopener may have put another file there meanwhile.
 */
static void approver_remove_again(struct th *t, int fd, const struct fdctx *fc, uint32_t id)
{
	bool own = fc->kind == FD_PRIV || fc->kind == FD_SCOPED;
	long ret;
	int err, i;

	for (i = 0; i < 2; i++) {
		errno = 0;
		ret = ioctl(fd, EVBUS_IOC_APPROVER_DEL, &id);
		err = errno;
		result_cmd(t, "APPROVER_DEL (the approver just added)", ret, err, C_ADEL);
		if (own && (i == 0 ? ret != 0 : ret != -1 || err != ENOENT))
			fail(t, "APPROVER_DEL: %s removal of approver %u, just added, gave %s",
			     i ? "a second" : "the", id, ret ? errname(err) : "success");
	}
}

/*
 * Right after a NARROW succeeded: a topic outside the new publish set is
 * refused with EACCES, and so is a pattern outside the new subscribe set.
 */
static void probe_scope(struct th *t, int fd)
{
	static const char *const topics[] = { "fuzz.scope.probe", "a.b.c", "zz", "a.b", "b.c.d" };
	static const char *const pats[] = { ">", "a.>", "*", "zz.>", "a.b.c", "$sys.>" };
	size_t i;

	for (i = 0; i < N_OF(topics); i++) {
		int64_t ret;

		if (model_may_publish(&t->sm, topics[i], strlen(topics[i])))
			continue;
		ret = evt_pub(fd, topics[i], "probe");
		if (ret >= 0)
			fail(t, "NARROW: then published on '%s', outside the new scope", topics[i]);
		else if (ret != -EACCES)
			fail(t, "NARROW: then a publish on '%s', outside the new scope, gave %s, not EACCES",
			     topics[i], errname((int)-ret));
	}
	for (i = 0; i < N_OF(pats); i++) {
		int ret;

		if (model_may_subscribe(&t->sm, pats[i], strlen(pats[i])))
			continue;
		ret = evt_sub(fd, pats[i]);
		if (ret > 0) {
			fail(t, "NARROW: then subscribed to '%s', outside the new scope", pats[i]);
			evt_unsub(fd, (uint32_t)ret);
		} else if (ret != -EACCES) {
			fail(t, "NARROW: then a subscription to '%s', outside the new scope, gave %s, not EACCES",
			     pats[i], errname(-ret));
		}
	}
}

static void op_ioctl(struct th *t)
{
	struct argdesc ad;
	struct fdctx fc;
	struct evbus_stats st0, st1;
	struct evbus_rate rf[2];
	struct rsnap rs[2];
	unsigned int cmd;
	uint32_t r = rnd(t, 100), new_id = 0;
	bool pol, have_b = false, have_st = false, ask_rule = false, rate_u, rate_f, have_r = false;
	const char *name;
	int fd, rules0;
	long ret = 0;
	int err = 0;

	t->op = "ioctl";
	D(t, "ioctl(");
	if (r < 72) {
		ad.which = pick_which(t);
		cmd = evcmd[ad.which].cmd;
	} else if (r < 80) {
		/* A known nr with another direction or size. */
		int w = (int)rnd(t, C_N);

		cmd = _IOC(rnd(t, 4), EVBUS_IOC_MAGIC, _IOC_NR(evcmd[w].cmd),
			   rnd(t, 2) ? evcmd[rnd(t, C_N)].size : rnd(t, 1u << 14));
	} else if (r < 97) {
		static const unsigned int sizes[] = { 0, 4, 8, 24, 32, 40, 56, 64, 72, 96, 192, 0x3fff };

		cmd = _IOC(rnd(t, 4), EVBUS_IOC_MAGIC, rnd(t, 0x21),
			   rnd(t, 2) ? sizes[rnd(t, N_OF(sizes))] : rnd(t, 1u << 14));
	} else {
		cmd = _IOC(rnd(t, 4), rnd(t, 2) ? 0xEA : 0xEC, rnd(t, 0x21), rnd(t, 1u << 14));
	}
	if (r >= 72)
		ad.which = which_cmd(cmd);
	decode_cmd(t, cmd, ad.which);
	D(t, " on ");
	fd = pick_ioctl_fd(t, ad.which, &fc);
	D(t, ", ");
	/* Give unknown commands a real struct now and then. */
	if (ad.which < 0 && chance(t, 50)) {
		int w = (int)rnd(t, C_N);

		D(t, "%s-like ", evcmd[w].name);
		ad.which = w;
		gen_arg(t, &ad, false);
		ad.which = -1;
	} else {
		gen_arg(t, &ad, false);
	}
	D(t, ")");
	if (t->dry)
		return;
	name = ad.which >= 0 ? evcmd[ad.which].name : "ioctl";

	/* A policy change: under the policy lock, with the list before and after. */
	pol = ad.which >= 0 && is_policy_change(ad.which) && fc.kind != FD_NONE;
	if (pol) {
		policy_lock();
		have_b = policy_snap(fd, &t->snap[0]);
		/* An ask rule counts from before it can be on the bus (#16). */
		ask_rule = ad.which == C_PADD && ad.ask_rule;
		if (ask_rule)
			__atomic_add_fetch(&g_shm->ask_rules, 1, __ATOMIC_SEQ_CST);
	}
	rules0 = ask_rules_now();
	/* SINCE near the next seq: the offset was generated, the seq is the bus's now. */
	if (ad.which == C_SUB2 && ad.since_rel && ad.rw) {
		struct evbus_history h;
		uint64_t since;

		memset(&h, 0, sizeof(h));
		h.size = sizeof(h);
		since = ioctl(fd, EVBUS_IOC_HISTORY, &h) ? 1 : h.next_seq;
		since = (int64_t)since + ad.since_d < 1 ? 1 : since + (int64_t)ad.since_d;
		memcpy(ad.local + offsetof(struct evbus_subscribe, since), &since, sizeof(since));
	}
	/* A subscribe on a private file: a failure changes nothing. */
	if ((ad.which == C_SUB || ad.which == C_SUB2) && (fc.kind == FD_PRIV || fc.kind == FD_SCOPED))
		have_st = !evt_stats(fd, &st0);
	/*
	 * Rate limits (#17): a user's limit changes under the policy lock,
	 * with USER_GET and the bus's rules before and after; a private
	 * file's limit is modelled from GET before and after.
	 */
	rate_u = ad.which == C_RATE && ad.a.rt.op == EVBUS_RATE_USER && fc.kind != FD_NONE;
	rate_f = ad.which == C_RATE && ad.a.rt.op == EVBUS_RATE_FILE &&
		 (fc.kind == FD_PRIV || fc.kind == FD_SCOPED);
	if (rate_u) {
		policy_lock();
		have_r = rate_snap(fd, &ad.a.rt, &rs[0]);
	} else if (rate_f) {
		have_r = !rate_get(fd, &rf[0]);
	}
	errno = 0;
	ret = ioctl(fd, cmd, (unsigned long)ad.addr);
	err = errno;
	if (rate_u) {
		if (have_r && rate_snap(fd, &ad.a.rt, &rs[1]))
			check_rate_user(t, &ad, &rs[0], &rs[1], ret, err);
		policy_unlock();
	} else if (rate_f && have_r && !rate_get(fd, &rf[1])) {
		check_rate_file(t, &ad, &rf[0], &rf[1], ret, err);
	}
	if (pol) {
		if (ret >= 0 && ad.which == C_PADD && ad.rw)
			memcpy(&new_id, ad.local + offsetof(struct evbus_rule, id), sizeof(new_id));
		if (have_b && policy_snap(fd, &t->snap[1]))
			check_policy_change(t, &ad, &t->snap[0], &t->snap[1], ret, err, new_id);
		if (ret >= 0 && ad.which == C_PADD && ad.then_remove && new_id) {
			if (remove_again(t, fd, new_id) && ask_rule)
				__atomic_sub_fetch(&g_shm->ask_rules, 1, __ATOMIC_SEQ_CST);
		} else if (ret < 0 && ask_rule) {
			__atomic_sub_fetch(&g_shm->ask_rules, 1, __ATOMIC_SEQ_CST);
		}
		policy_unlock();
	}
	if (have_st && !evt_stats(fd, &st1)) {
		if (ret < 0 && (st1.subscriptions > st0.subscriptions || st1.capacity != st0.capacity))
			fail(t, "%s: failed with %s but the file changed: subscriptions %u -> %u, ring %u -> %u",
			     name, errname(err), st0.subscriptions, st1.subscriptions, st0.capacity,
			     st1.capacity);
		else if (ret >= 0 && (!st1.capacity || st1.subscriptions > st0.subscriptions + 1))
			fail(t, "%s: succeeded: subscriptions %u -> %u, ring %u -> %u", name,
			     st0.subscriptions, st1.subscriptions, st0.capacity, st1.capacity);
	}
	if (ad.which < 0) {
		if (!result(t, "ioctl", ret, err, 0))
			return;
		if (ret >= 0)
			fail(t, "ioctl: unknown command %#x succeeded (%ld)", cmd, ret);
		else if (err != ENOTTY && err != EBADF)
			fail(t, "ioctl: unknown command %#x gave %s, not ENOTTY", cmd, errname(err));
		return;
	}
	result_cmd(t, name, ret, err, ad.which);
	if (ret < 0 && err == ENOTTY)
		fail(t, "ioctl: %s gave ENOTTY", name);
	if (ret < 0 && (ad.which == C_PUB || ad.which == C_BATCH))
		check_gate_errno(t, name, ad.asks, rules0, err);
	/* ENOENT: a CLEAR that found no will (#17); an arm never. */
	if (ret < 0 && err == ENOENT && ad.which == C_WILL && ad.rw &&
	    !(ad.a.wl.flags & EVBUS_WILL_CLEAR))
		fail(t, "WILL: ENOENT when arming (flags %#x)", ad.a.wl.flags);
	if (ret > 0 && ad.which == C_BATCH && ad.rw && (uint32_t)ret < ad.count) {
		int32_t e;

		memcpy(&e, ad.local + offsetof(struct evbus_pub_batch, error), sizeof(e));
		check_gate_errno(t, name, ad.asks, rules0, -e);
	}
	if (ret < 0 && ad.which == C_RATE)
		check_rate_errno(t, &ad, err);
	if (is_policy_change(ad.which) ||
	    (ad.which == C_HIST && (ad.a.h.flags & EVBUS_HISTORY_SET)) ||
	    (ad.which == C_RATE && ad.a.rt.op == EVBUS_RATE_USER))
		check_owner(t, &ad, &fc, ret, err);
	if (ad.which == C_NARROW && fc.kind == FD_SCOPED)
		check_narrow(t, &ad, fd, ret, err);
	if (ret < 0)
		return;
	if (ad.bad)
		fail(t, "%s: succeeded with %s", name, ad.bad);
	count_feat(t, &ad, ret);
	check_success(t, name, &ad, ret, &fc);
	check_content(t, &ad, ret, &fc);
	if (ad.which == C_NARROW && fc.kind == FD_SCOPED)
		probe_scope(t, fd);
	if (ad.which == C_AADD && ad.then_remove && ad.rw) {
		uint32_t id;

		memcpy(&id, ad.local + offsetof(struct evbus_approver, id), sizeof(id));
		approver_remove_again(t, fd, &fc, id);
	}
}

static uint64_t gen_rsize(struct th *t)
{
	static const uint64_t sz[] = {
		0, 1, 7, 8, 39, 40, 41, 79, 80, 87, 88, 96, 120, 128, 4096, 65536,
		1u << 20, 0x7ffff000, 0x80000000ULL, 1ULL << 40, SSIZE_MAX, SIZE_MAX,
	};
	uint32_t r = rnd(t, 100);

	if (r < 35) return sz[rnd(t, sizeof(sz) / sizeof(sz[0]))];
	if (r < 65) return rnd(t, 400);
	if (r < 90) return rnd(t, 1u << 17);
	return rnd(t, 3u << 20);
}

static void gen_iov(struct th *t, struct iovec *iov, bool *rw)
{
	uint64_t len = gen_rsize(t);
	enum kind k = pick_kind(t, 70);

	if (rnd(t, 4) == 0 && len > (1u << 17))
		len = rnd(t, 4096);
	iov->iov_len = len;
	iov->iov_base = (void *)(uintptr_t)place_buf(t, k, len, rw);
	D(t, "/%llu ", (unsigned long long)len);
}

static void op_read(struct th *t)
{
	uint32_t how = rnd(t, 100), cnt = 1, i;
	struct iovec iov[16], *iovp = iov;
	uint64_t iov_addr = 0, size;
	bool rw = false, rw1;
	long ret = 0;
	int fd, err = 0;
	enum kind k;

	t->op = "read";
	if (how < 50) {
		/* Plain read() only where it cannot block. */
		D(t, "read(");
		fd = pick_fd(t, true);
		size = gen_rsize(t);
		k = pick_kind(t, 65);
		D(t, ", buf=");
		iov[0].iov_base = (void *)(uintptr_t)place_buf(t, k, size, &rw);
		iov[0].iov_len = size;
		D(t, ", %llu)", (unsigned long long)size);
	} else {
		uint32_t r = rnd(t, 100);

		D(t, how < 75 ? "readv(" : "preadv2(RWF_NOWAIT, ");
		fd = pick_fd(t, how < 75);
		cnt = r < 50 ? 1 : r < 80 ? 2 + rnd(t, 4) : r < 85 ? 0 : r < 90 ? 16 :
		      r < 94 ? 1024 : r < 97 ? 1025 : rnd32(t);
		D(t, ", iovcnt=%u [", cnt);
		for (i = 0; i < cnt && i < 16; i++) {
			gen_iov(t, &iov[i], &rw1);
			if (!i)
				rw = rw1;
		}
		/* Where the iovec array itself is. */
		k = pick_kind(t, 85);
		D(t, "] iov at ");
		iov_addr = place(t, R_ARG, k, iov, sizeof(iov[0]) * (cnt < 16 ? cnt : 16), NULL);
		iovp = (struct iovec *)(uintptr_t)iov_addr;
		D(t, ")");
		if (cnt != 1)
			rw = false;
	}
	if (t->dry)
		return;
	errno = 0;
	if (how < 50)
		ret = read(fd, iov[0].iov_base, iov[0].iov_len);
	else if (how < 75)
		ret = readv(fd, iovp, (int)cnt);
	else
		ret = preadv2(fd, iovp, (int)cnt, -1, RWF_NOWAIT);
	err = errno;
	if (!result(t, "read", ret, err, X_READ) || ret < 0)
		return;
	if (ret & 7)
		fail(t, "read: returned %ld, not a multiple of 8", ret);
	else if (cnt == 1 && (uint64_t)ret > iov[0].iov_len)
		fail(t, "read: returned %ld for %zu bytes", ret, iov[0].iov_len);
	else if (rw && ret > 0) {
		const char *why = check_records(iov[0].iov_base, (size_t)ret, t->feat);

		if (why)
			fail(t, "read: %s in %ld bytes returned", why, ret);
	}
}

/*
 * mmap() of an evbus file with random offsets, lengths, protections and
 * flags; mappings stay for later ops (resizes must see EBUSY, publishers
 * must cope with a scribbling reader).  A live writable control page gets
 * random consumer positions, plausible and not; live read-only pages are
 * read.  Anything may be unmapped again.
 */
static void op_mmap(struct th *t)
{
	const size_t pg = PG;
	uint32_t r = rnd(t, 100), i = rnd(t, 8);
	int fd, prot, flags, err;
	size_t len;
	long pgoff;
	void *p;

	t->op = "mmap";
	if (t->maps[i].p && r < 40) {
		D(t, "munmap(map%u)", i);
		if (t->dry)
			return;
		if (munmap(t->maps[i].p, t->maps[i].len))
			fail(t, "munmap: %s", strerror(errno));
		t->maps[i].p = NULL;
		return;
	}
	if (t->maps[i].p) {
		volatile uint64_t *w = t->maps[i].p;

		if (t->maps[i].pgoff == EVBUS_MMAP_CTL_PGOFF &&
		    (t->maps[i].prot & PROT_WRITE)) {
			uint64_t v = chance(t, 30) ? rnd64(t) : chance(t, 50) ?
				     (uint64_t)rnd(t, 1 << 20) :
				     EVBUS_MMAP_BUSY | rnd(t, 4096);

			D(t, "map%u consumer_pos = %#llx", i, (unsigned long long)v);
			if (!t->dry)
				__atomic_store_n(w, v, __ATOMIC_RELEASE);
		} else if (t->maps[i].prot & PROT_READ) {
			D(t, "map%u read", i);
			if (!t->dry)
				(void)w[rnd(t, t->maps[i].len / 8)];
		}
		return;
	}
	D(t, "mmap(");
	fd = pick_fd(t, false);
	pgoff = chance(t, 85) ? (long)rnd(t, 3) : chance(t, 50) ? (long)rnd(t, 1 << 12) : -1;
	len = chance(t, 60) ? pg : chance(t, 50) ? pg * (1 + rnd(t, 64)) : rnd(t, 1 << 22);
	prot = chance(t, 70) ? PROT_READ : chance(t, 50) ? PROT_READ | PROT_WRITE :
	       (int)rnd(t, 8);
	flags = chance(t, 90) ? MAP_SHARED : MAP_PRIVATE;
	D(t, ", pgoff %ld, len %zu, prot %#x, flags %#x)", pgoff, len, prot, flags);
	if (t->dry)
		return;
	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, pgoff * (long)pg);
	err = errno;
	if (p == MAP_FAILED) {
		result(t, "mmap", -1, err, X_MMAP);
		return;
	}
	result(t, "mmap", 0, 0, X_MMAP);
	if (fd >= g_slot_base && flags == MAP_SHARED &&
	    ((prot & PROT_EXEC) ||
	     ((prot & PROT_WRITE) && !(pgoff == 0 && len <= pg))))
		fail(t, "mmap: prot %#x at page %ld, %zu bytes, was allowed", prot, pgoff, len);
	if (fd >= g_slot_base && flags != MAP_SHARED)
		fail(t, "mmap: a private mapping was allowed");
	t->maps[i].p = p;
	t->maps[i].len = len;
	t->maps[i].pgoff = pgoff;
	t->maps[i].prot = prot;
}

static void op_write(struct th *t)
{
	uint64_t size;
	long ret = 0;
	int fd, err;
	uint64_t buf;

	t->op = "write";
	D(t, "write(");
	fd = pick_fd(t, false);
	size = gen_rsize(t);
	D(t, ", buf=");
	buf = place_buf(t, pick_kind(t, 60), size, NULL);
	D(t, ", %llu)", (unsigned long long)size);
	if (t->dry)
		return;
	errno = 0;
	ret = write(fd, (const void *)(uintptr_t)buf, size);
	err = errno;
	if (result(t, "write", ret, err, X_READ) && ret >= 0)
		fail(t, "write: succeeded (%ld) on a device without write", ret);
}

static void op_poll(struct th *t)
{
	struct pollfd pf[8];
	uint32_t n = 1 + rnd(t, 8), nfds = n, i;
	int timeout = chance(t, 90) ? 0 : 1 + (int)rnd(t, 3);
	uint64_t addr;
	bool rw;
	long ret = 0;
	int err;

	t->op = "poll";
	D(t, "poll([");
	for (i = 0; i < n; i++) {
		pf[i].fd = pick_fd(t, false);
		pf[i].events = (short)(chance(t, 80) ? POLLIN | POLLRDNORM : rnd32(t));
		pf[i].revents = (short)rnd32(t);
		D(t, " ev %#x, ", (unsigned short)pf[i].events);
	}
	if (chance(t, 3))
		nfds = chance(t, 50) ? 0 : 1u << 20;
	D(t, "] at ");
	addr = place(t, R_ARG, pick_kind(t, 88), pf, sizeof(pf[0]) * n, &rw);
	D(t, ", nfds=%u, %d ms)", nfds, timeout);
	if (t->dry)
		return;
	errno = 0;
	ret = poll((struct pollfd *)(uintptr_t)addr, nfds, timeout);
	err = errno;
	if (!result(t, "poll", ret, err, 0) || ret < 0)
		return;
	if ((uint32_t)ret > nfds)
		fail(t, "poll: returned %ld for %u fds", ret, nfds);
	if (rw && nfds == n) {
		memcpy(pf, (void *)(uintptr_t)addr, sizeof(pf[0]) * n);
		for (i = 0; i < n; i++)
			if (pf[i].fd >= g_slot_base &&
			    (pf[i].revents & ~(POLLIN | POLLRDNORM | POLLNVAL)))
				fail(t, "poll: revents %#x on an evbus fd", (unsigned short)pf[i].revents);
	}
}

static void op_epoll(struct th *t)
{
	struct epoll_event ev;
	uint32_t r = rnd(t, 100);
	long ret = 0;
	int fd, op, err;

	t->op = "epoll";
	if (t->epfd < 0)
		return;
	if (r < 70) {
		op = r < 35 ? EPOLL_CTL_ADD : r < 50 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
		D(t, "epoll_ctl(%s, ", op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_MOD ? "MOD" : "DEL");
		fd = pick_fd(t, false);
		memset(&ev, 0, sizeof(ev));
		r = rnd(t, 100);
		ev.events = r < 40 ? EPOLLIN : r < 70 ? EPOLLIN | EPOLLET :
			    r < 80 ? EPOLLIN | EPOLLONESHOT : r < 90 ? EPOLLIN | EPOLLEXCLUSIVE :
			    rnd32(t) & ~(EPOLLWAKEUP);
		ev.data.u64 = (uint64_t)fd;
		D(t, ", events %#x)", ev.events);
		if (t->dry)
			return;
		errno = 0;
		ret = epoll_ctl(t->epfd, op, fd, &ev);
		err = errno;
		result(t, "epoll_ctl", ret, err, X_EEXIST);
		return;
	} else {
		struct epoll_event evs[16];
		int max = chance(t, 95) ? 1 + (int)rnd(t, 16) : (chance(t, 50) ? 0 : -1);
		int i;

		D(t, "epoll_wait(max %d, 0 ms)", max);
		if (t->dry)
			return;
		errno = 0;
		ret = epoll_wait(t->epfd, evs, max, 0);
		err = errno;
		if (!result(t, "epoll_wait", ret, err, 0) || ret < 0)
			return;
		for (i = 0; i < ret; i++)
			if (evs[i].events & ~(EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP))
				fail(t, "epoll_wait: events %#x", evs[i].events);
	}
}

/* ------------------------------------------------------------- io_uring */

enum { U_CMD, U_READ, U_TIMEOUT, U_NOP, U_CANCEL };
static const char *const u_name[] = { "URING_CMD", "READ", "LINK_TIMEOUT", "NOP", "ASYNC_CANCEL" };

struct usqe {
	int type;
	int which;		/* U_CMD: C_PUB / C_BATCH / -1 */
	bool asks;		/* U_CMD: some event asks for approval (#16) */
	bool async;
	bool done;
	int res;
	uint32_t count;
	uint32_t len;
	bool rw;
	char *buf;
};

/* user_data: the op's index in the upper bits, so that a stale request
 * (and cancel-by-user_data) can never be mistaken for one of this op's. */
static uint64_t u_data(struct th *t, uint32_t i)
{
	return ((uint64_t)(t->ops + 1) << 8) | i;
}

static void uring_cancel(struct th *t, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, ((uint64_t)(t->ops + 1) << 8) | 0xff);
	io_uring_submit(&t->ring);
}

static void op_uring(struct th *t)
{
	struct argdesc ad[8];
	struct usqe u[24];
	struct __kernel_timespec ts[8];
	uint32_t nops = chance(t, 60) ? 1 : 2 + rnd(t, 4), i, nsqe = 0, nreads = 0;
	bool dry = t->dry || !t->uring;	/* a ring given up on: generate only */
	int ret, got, submitted, cancels = 0, rules0;
	double t0;

	t->op = "io_uring";
	D(t, "io_uring[");
	memset(u, 0, sizeof(u));
	for (i = 0; i < nops; i++) {
		struct io_uring_sqe *sqe = NULL;
		struct evbus_uring_cmd c;
		uint32_t r = rnd(t, 100);
		int fd;

		D(t, " #%u ", nsqe);
		if (r < 78) {
			uint32_t cmd_op, g, r2 = rnd(t, 100);
			bool async = chance(t, 15), link;
			enum kind k;

			if (!g_uring_async)
				async = false;
			D(t, "URING_CMD(");
			fd = pick_fd(t, false);
			if (r2 < 50) {
				cmd_op = EVBUS_URING_PUBLISH, ad[i].which = C_PUB;
			} else if (r2 < 88) {
				cmd_op = EVBUS_URING_PUBLISH_BATCH, ad[i].which = C_BATCH;
			} else {
				static const uint32_t odd[] = { 0, 3, 4, 0xff, 0xffffffff,
							       EVBUS_IOC_PUBLISH };
				cmd_op = rnd(t, 2) ? odd[rnd(t, 6)] : rnd32(t);
				ad[i].which = -1;
				if (cmd_op == EVBUS_URING_PUBLISH || cmd_op == EVBUS_URING_PUBLISH_BATCH)
					cmd_op = 0;
			}
			D(t, ", cmd_op=%#x%s, arg=", cmd_op, async ? ", IOSQE_ASYNC" : "");
			if (ad[i].which < 0) {
				ad[i].which = rnd(t, 2) ? C_PUB : C_BATCH;
				gen_arg(t, &ad[i], nops > 1);
				ad[i].which = -1;
			} else {
				gen_arg(t, &ad[i], nops > 1);
			}
			memset(&c, 0, sizeof(c));
			c.arg = ad[i].addr;
			k = pick_kind(t, 90);
			if (k != K_GOOD)	/* a bad pointer in the command area itself */
				c.arg = bad_addr(t, k == K_MISALIGN || k == K_EDGE || k == K_RO ? K_NULL : k);
			if (chance(t, 4))
				c.flags = rnd32(t) | 1;
			if (chance(t, 4))
				c.reserved = rnd32(t) | 1;
			D(t, " cmd={arg=%#llx flags=%#x reserved=%#x}", (unsigned long long)c.arg,
			  c.flags, c.reserved);
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
				sqe->cmd_op = cmd_op;
				memcpy(&sqe->addr3, &c, sizeof(c));
				if (async)
					sqe->flags |= IOSQE_ASYNC;
			}
			r2 = rnd(t, 100);
			g = rnd32(t) | 1;
			if (r2 < 3) {
				D(t, " rw_flags=%#x", g);
				if (sqe)
					sqe->rw_flags = g;
			} else if (r2 < 5) {
				D(t, " __pad1=%#x", g);
				if (sqe)
					sqe->__pad1 = g;
			}
			D(t, ")");
			/* Now and then a NOP linked behind it: it must run iff the command succeeded. */
			link = chance(t, 12) && g_uring_async;
			u[nsqe].type = U_CMD;
			u[nsqe].which = ad[i].which;
			u[nsqe].asks = ad[i].asks;
			u[nsqe].count = ad[i].count;
			u[nsqe].async = async;
			if (sqe) {
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
				if (link)
					sqe->flags |= IOSQE_IO_LINK;
			}
			nsqe++;
			if (link) {
				D(t, " linked to NOP");
				if (!dry) {
					sqe = io_uring_get_sqe(&t->ring);
					io_uring_prep_nop(sqe);
					io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
				}
				u[nsqe++].type = U_NOP;
			}
		} else {
			uint64_t len = gen_rsize(t), off = chance(t, 90) ? (uint64_t)-1 : rnd64(t);
			uint64_t buf;
			bool rw;

			if (len > 0xffffffffULL)
				len = rnd(t, 2) ? 0xffffffff : rnd(t, 1u << 16);
			D(t, "READ(");
			fd = pick_fd(t, false);
			D(t, ", buf=");
			buf = place_buf(t, pick_kind(t, 70), len, &rw);
			D(t, ", len=%llu, off=%lld) linked to TIMEOUT(", (unsigned long long)len,
			  (long long)off);
			ts[i].tv_sec = 0;
			ts[i].tv_nsec = 1000000 * (1 + rnd(t, 3));
			D(t, "%lld ms)", (long long)ts[i].tv_nsec / 1000000);
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_read(sqe, fd, (void *)(uintptr_t)buf, (unsigned)len, off);
				sqe->flags |= IOSQE_IO_LINK;
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
			}
			u[nsqe].type = U_READ;
			u[nsqe].len = (uint32_t)len;
			u[nsqe].rw = rw;
			u[nsqe].buf = (char *)(uintptr_t)buf;
			nsqe++;
			nreads++;
			if (!dry) {
				sqe = io_uring_get_sqe(&t->ring);
				io_uring_prep_link_timeout(sqe, &ts[i], 0);
				io_uring_sqe_set_data64(sqe, u_data(t, nsqe));
			}
			u[nsqe].type = U_TIMEOUT;
			nsqe++;
		}
	}
	D(t, " ]");
	if (dry)
		return;

	rules0 = ask_rules_now();
	/* Without IORING_SETUP_SUBMIT_ALL a failing SQE stops the submission. */
	for (submitted = 0; submitted < (int)nsqe;) {
		ret = io_uring_submit(&t->ring);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret <= 0) {
			fail(t, "io_uring_submit: %d (%s) with %d of %u SQEs in", ret,
			     errname(-ret), submitted, nsqe);
			t->uring = false;	/* leave the ring alone from now on */
			return;
		}
		submitted += ret;
	}
	t0 = now_s();
	for (got = 0; got < (int)nsqe;) {
		struct __kernel_timespec wait = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
		struct io_uring_cqe *cqe;
		uint64_t ud;

		ret = io_uring_wait_cqe_timeout(&t->ring, &cqe, &wait);
		if (ret == -ETIME) {
			double waited = now_s() - t0;

			/*
			 * A read whose linked timeout could not cancel it
			 * (ENOENT: caught between poll wake-up and retry) waits
			 * for data that may never come: cancel it by hand.
			 */
			if (waited > 2 && cancels < 20) {
				for (i = 0; i < nsqe; i++)
					if (!u[i].done && u[i].type == U_READ) {
						uring_cancel(t, u_data(t, i));
						cancels++;
					}
			}
			if (waited < 30)
				continue;
			for (i = 0; i < nsqe; i++)
				if (!u[i].done)
					fail(t, "io_uring: #%u %s%s%s never completed (%.0f s)", i,
					     u_name[u[i].type],
					     u[i].type == U_CMD && u[i].which >= 0 ?
					     (u[i].which == C_BATCH ? " PUBLISH_BATCH" : " PUBLISH") : "",
					     u[i].async ? " IOSQE_ASYNC" : "", waited);
			t->uring = false;	/* leave the ring alone from now on */
			return;
		}
		if (ret == -EINTR)
			continue;
		if (ret) {
			fail(t, "io_uring_wait_cqe: %d (%s)", ret, errname(-ret));
			t->uring = false;
			return;
		}
		ud = io_uring_cqe_get_data64(cqe);
		i = (uint32_t)(ud & 0xff);
		if ((ud >> 8) != t->ops + 1 || (i >= nsqe && i != 0xff)) {
			fail(t, "io_uring: completion with unexpected user_data %#llx (res %d)",
			     (unsigned long long)ud, cqe->res);
		} else if (i == 0xff) {
			/* our ASYNC_CANCEL: 0, ENOENT or EALREADY */
			if (cqe->res && cqe->res != -ENOENT && cqe->res != -EALREADY)
				fail(t, "io_uring: ASYNC_CANCEL gave %d", cqe->res);
		} else if (u[i].done) {
			fail(t, "io_uring: #%u %s completed twice (res %d, then %d)", i,
			     u_name[u[i].type], u[i].res, cqe->res);
		} else {
			u[i].done = true;
			u[i].res = cqe->res;
			got++;
		}
		io_uring_cqe_seen(&t->ring, cqe);
	}

	for (i = 0; i < nsqe; i++) {
		int res = u[i].res;

		switch (u[i].type) {
		case U_CMD:
			if (!result_cmd(t, "URING_CMD", res, -res, C_N))
				break;
			/* EAGAIN: also an inline attempt's, for io_uring to retry. */
			if (res < 0 && res != -EAGAIN && u[i].which >= 0)
				check_gate_errno(t, "URING_CMD", u[i].asks, rules0, -res);
			if (u[i].which < 0) {
				if (res >= 0)
					fail(t, "URING_CMD: unknown cmd_op succeeded (%d)", res);
			} else if (res >= 0) {
				if (u[i].which == C_PUB && res != 0)
					fail(t, "URING_CMD PUBLISH: res %d, not 0", res);
				/* A whole batch completes with 0, never a count. */
				if (u[i].which == C_BATCH && res != 0)
					fail(t, "URING_CMD PUBLISH_BATCH: res %d for count %u",
					     res, u[i].count);
			}
			break;
		case U_NOP:
			/* Linked behind u[i - 1], a URING_CMD. */
			if (u[i - 1].res >= 0 ? res != 0 : res != -ECANCELED)
				fail(t, "io_uring: NOP linked behind URING_CMD #%u (res %d) completed with %d (%s)",
				     i - 1, u[i - 1].res, res, errname(res < 0 ? -res : 0));
			result(t, "NOP", res, -res, X_CANCEL);
			break;
		case U_READ:
			if (!result(t, "READ", res, -res, X_READ | X_CANCEL) || res < 0)
				break;
			if ((res & 7) || (uint32_t)res > u[i].len)
				fail(t, "READ: res %d for len %u", res, u[i].len);
			else if (u[i].rw && nreads == 1 && res > 0) {
				const char *why = check_records(u[i].buf, (size_t)res, t->feat);

				if (why)
					fail(t, "READ: %s in %d bytes", why, res);
			}
			break;
		case U_TIMEOUT:
			result(t, "LINK_TIMEOUT", res, -res, X_TIMEOUT);
			break;
		}
	}
}

/* ------------------------------------------- one ask from end to end (#16) */

/* The gate's module parameters as the fuzzer sets them (restored at the end). */
#define GATE_TIMEOUT_MS	30	/* approval_timeout_ms: deadline_ns 0 */
#define GATE_MAX_MS	500	/* approval_max_ms: every longer deadline */
#define GATE_SLACK_NS	(5ULL * 1000 * 1000 * 1000)	/* TCG, debug kernels */
static char g_appr_timeout0[32], g_appr_max0[32], g_user_approvers0[32];
static char g_rate_wait0[32], g_lossless0[32];
#define APPR_TIMEOUT_PARAM	"/sys/module/evbus/parameters/approval_timeout_ms"
#define RATE_WAIT_PARAM		"/sys/module/evbus/parameters/rate_wait_max_ms"
#define LOSSLESS_PARAM		"/sys/module/evbus/parameters/lossless_max_ms"
#define APPR_MAX_PARAM		"/sys/module/evbus/parameters/approval_max_ms"
#define USER_APPROVERS_PARAM	"/sys/module/evbus/parameters/max_user_approvers"
static void param_set(const char *path, const char *val);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* How long an ask with deadline_ns d may wait, as the module cuts it. */
static uint64_t eff_deadline(uint64_t d)
{
	uint64_t max = (uint64_t)GATE_MAX_MS * 1000000;

	if (!d)
		d = (uint64_t)GATE_TIMEOUT_MS * 1000000;
	return d < max ? d : max;
}

/* A verdict: 0 or the errno. */
static int verdict_call(int fd, const void *v)
{
	return ioctl(fd, EVBUS_IOC_VERDICT, v) ? errno : 0;
}

/*
 * Event seq as the bus's history keeps it (a replay from seq on a file of
 * its own): 1 with its topic and flags, 0 if the history does not have it
 * (evicted, a capacity of 0) or the policy refuses the replay.
 */
static int event_from_history(uint64_t seq, char *topic, uint32_t *flags)
{
	static __thread char hb[1u << 16];
	struct evbus_subscribe sb;
	uint64_t t0 = mono_ns();
	int fd = open(g_dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC), found = 0;

	if (fd < 0)
		return 0;
	memset(&sb, 0, sizeof(sb));
	sb.size = sizeof(sb);
	sb.pattern = (uintptr_t)">";
	sb.pattern_len = 1;
	sb.flags = EVBUS_SUB_SINCE;
	sb.since = seq;
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &sb)) {
		close(fd);
		return 0;
	}
	while (!found && mono_ns() - t0 < 1000000000ULL) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;
		size_t off;

		poll(&pf, 1, 10);
		n = read(fd, hb, sizeof(hb));
		for (off = 0; n > 0 && off < (size_t)n; off += ((struct evbus_rec_hdr *)(hb + off))->len) {
			const struct evbus_event *ev = (const void *)(hb + off);

			if (ev->hdr.kind == EVBUS_REC_EVENT && ev->seq == seq) {
				snprintf(topic, EVBUS_TOPIC_MAX + 1, "%s", EVBUS_EVENT_TOPIC(ev));
				*flags = ev->flags;
				found = 1;
			}
			if ((ev->hdr.kind == EVBUS_REC_EVENT && ev->seq > seq) ||
			    ev->hdr.kind == EVBUS_REC_LAGGED)
				n = 0;		/* not there */
		}
		if (n == 0 && !found)
			break;
	}
	close(fd);
	return found;
}

enum { G_ALLOW, G_DENY, G_MODIFY, G_NEVER, G_CLOSE, G_DEL };
static const char *const g_final_name[] = { "allow", "deny", "modify", "never answer",
					    "close the approver", "remove the approver" };
#define G_HOSTILE	13

/*
 * One asking publish from start to end, with the worker as publisher and
 * approver at once: the publish goes through io_uring (EVBUS_URING_PUBLISH
 * completes when the chain is done, with nothing waiting), from the
 * worker's private file, on "fzg.<worker>.t", which only the approver made
 * here watches at the top priority (racing approvers on ">" come after
 * it).  The approver (a fresh file, sometimes with a one-page ring, often
 * subscribed to "fzg.<worker>.>" too) must get exactly one request for it:
 * the event as published (seq 0, no flags, payload, type, corr, parent,
 * the pid) with its deadline (the publish call's clock plus the deadline
 * as the module cuts it).  Then hostile verdicts, each with its exact
 * errno and none changing anything: sizes below the first version
 * (EINVAL), a nonzero tail (E2BIG), unknown verdicts, flags, reserved
 * (EINVAL), a deny errno out of range, MODIFY's fields on ALLOW (EINVAL),
 * ids not pending and the right id from another file (ENOENT), MODIFY
 * with a bad payload or topic pointer (EFAULT), a payload past
 * max_payload (EMSGSIZE), a topic on $sys (EACCES) or not a topic
 * (EINVAL).  Then the final step: allow, deny with an errno, modify
 * (payload, type, sometimes the topic), never answer (the deadline: a
 * CANCELLED record, EVBUS_CANCEL_EXPIRED), close the file or remove the
 * approver; a second verdict then gives ENOENT.  The completion comes
 * within the deadline and slack: a deny gives its errno exactly, a
 * default of deny ETIMEDOUT or ECONNRESET exactly, the rest 0 or what
 * later approvers may do; a published event is read back from the
 * approver's own subscription, APPROVED, and MODIFIED by this approver
 * with the new content exactly when it modified it (unless a later
 * approver modified it again).  A deadline that passes while the worker
 * is slow (ENOENT where the request should be pending) turns the
 * expectation into an expired one.
 */
static void op_gate(struct th *t)
{
	static __thread struct evbus_pub gp;
	static __thread char gbuf[1u << 16], gpay[160], mpay[160];
	static __thread char topic[32], mtopic[32], pat[32];
	struct evbus_approver ap;
	struct evbus_uring_cmd c;
	struct evbus_verdict v;
	uint32_t final = rnd(t, 100), nh = rnd(t, 5), h[8], i, plen = rnd(t, 96);
	uint32_t mlen = rnd(t, 128), mtype = rnd32(t), deny_e = deny_errs[rnd(t, N_OF(deny_errs))];
	uint32_t deflt = rnd(t, 2) ? EVBUS_ALLOW : EVBUS_DENY, want_e = 0, gid = 0;
	bool small_ring = chance(t, 20), sub = chance(t, 75), mtop = chance(t, 40);
	bool big_size = chance(t, 20), got_rq = false, got_cqe = false, expired = false;
	bool closed = false, exact = false, early_cancel = false;
	uint64_t early_seq = 0;
	uint64_t deadline, d_eff, t0, t_cqe = 0, rq_id = 0, seq = 0;
	int A = -1, B, ret, res = 0, e, rules0;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	double waited;

	final = final < 28 ? G_ALLOW : final < 48 ? G_DENY : final < 70 ? G_MODIFY :
		final < 80 ? G_NEVER : final < 90 ? G_CLOSE : G_DEL;
	for (i = 0; i < nh; i++)
		h[i] = rnd(t, G_HOSTILE);
	/* Never answered: a short deadline; else long enough for a slow VM. */
	deadline = final == G_NEVER ? (rnd(t, 4) ? 5000000 + rnd(t, 40000000) : 0) :
		   (uint64_t)GATE_MAX_MS * 1000000 - rnd(t, 2) * rnd(t, 100000000);
	snprintf(topic, sizeof(topic), "fzg.%d.t", t->idx);
	snprintf(mtopic, sizeof(mtopic), "fzg.%d.m", t->idx);
	snprintf(pat, sizeof(pat), "fzg.%d.>", t->idx);
	for (i = 0; i < sizeof(gpay); i++)
		gpay[i] = (char)rnd(t, 256), mpay[i] = (char)(gpay[i] ^ 0x5a);
	t->op = "gate";
	D(t, "gate: ask on '%s' (payload %u, deadline_ns %llu) through io_uring, approver "
	  "(default %s%s%s) hostile [", topic, plen, (unsigned long long)deadline,
	  deflt == EVBUS_ALLOW ? "allow" : "deny", small_ring ? ", 4 KiB ring" : "",
	  sub ? ", subscribed" : "");
	for (i = 0; i < nh; i++)
		D(t, " %u", h[i]);
	D(t, " ] then %s", g_final_name[final]);
	if (final == G_DENY)
		D(t, " %s", errname(deny_e ? (int)deny_e : EACCES));
	if (final == G_MODIFY)
		D(t, " (payload %u, type %#x%s)", mlen, mtype, mtop ? ", topic" : "");
	if (t->dry || !t->uring)
		return;

	d_eff = eff_deadline(deadline);
	A = open(g_dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!result(t, "open (approver)", A, errno, X_OPEN) || A < 0)
		return;
	if (small_ring)
		evt_set_ring(A, 4096, EVBUS_POLICY_DROP_OLDEST);
	if (sub && evt_sub(A, pat) <= 0)
		sub = false;		/* a cap squeezed, a policy: no read-back */
	memset(&ap, 0, sizeof(ap));
	ap.pattern = (uintptr_t)pat;
	ap.pattern_len = (uint32_t)strlen(pat);
	ap.priority = INT32_MAX;
	ap.deflt = deflt;
	errno = 0;
	ret = ioctl(A, EVBUS_IOC_APPROVER_ADD, &ap);
	if (!result_cmd(t, "APPROVER_ADD (gate)", ret, errno, C_AADD) || ret) {
		close(A);
		return;
	}
	gid = ap.id;
	if (!gid || gid > EVBUS_APPROVER_ID_MAX)
		fail(t, "gate: approver id %u", gid);
	t->feat[F_GATE_OPS]++;

	memset(&gp, 0, sizeof(gp));
	gp.topic = (uintptr_t)topic;
	gp.topic_len = (uint32_t)strlen(topic);
	gp.payload = (uintptr_t)gpay;
	gp.payload_len = plen;
	gp.type = 0x6a7e0000 | (uint32_t)t->idx;
	gp.corr = t->ops;
	gp.parent = 7;
	gp.flags = EVBUS_PUB_ASK;
	gp.deadline_ns = deadline;
	memset(&c, 0, sizeof(c));
	c.arg = (uintptr_t)&gp;
	rules0 = ask_rules_now();
	sqe = io_uring_get_sqe(&t->ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, t->pfd, NULL, 0, 0);
	sqe->cmd_op = EVBUS_URING_PUBLISH;
	memcpy(&sqe->addr3, &c, sizeof(c));
	io_uring_sqe_set_data64(sqe, u_data(t, 0));
	t0 = mono_ns();
	do
		ret = io_uring_submit(&t->ring);
	while (ret == -EINTR || ret == -EAGAIN);
	if (ret != 1) {
		fail(t, "gate: io_uring_submit: %d (%s)", ret, errname(-ret));
		t->uring = false;
		close(A);
		return;
	}

	/* The request, or the completion if the ask never reached us. */
	while (!got_rq && !got_cqe && mono_ns() - t0 < d_eff + GATE_SLACK_NS) {
		struct pollfd pf = { .fd = A, .events = POLLIN };
		ssize_t n;
		size_t off;

		if (!io_uring_peek_cqe(&t->ring, &cqe)) {
			/* Late completions of op_uring()'s cancels are not ours. */
			got_cqe = io_uring_cqe_get_data64(cqe) == u_data(t, 0);
			res = cqe->res;
			t_cqe = mono_ns();
			io_uring_cqe_seen(&t->ring, cqe);
			/*
			 * Ours: the request may still be unread in A (a
			 * deadline that passed before we looked), so look
			 * once more before deciding it never came.
			 */
			if (!got_cqe)
				continue;
		}
		if (!got_cqe)
			poll(&pf, 1, 5);
		n = read(A, gbuf, sizeof(gbuf));
		if (n <= 0)
			continue;
		if (check_records(gbuf, (size_t)n, t->feat)) {
			fail(t, "gate: approver read: %s", check_records(gbuf, (size_t)n, t->feat));
			break;
		}
		for (off = 0; off < (size_t)n; off += ((struct evbus_rec_hdr *)(gbuf + off))->len) {
			const struct evbus_request *rq = (const void *)(gbuf + off);
			const struct evbus_cancelled *cn = (const void *)(gbuf + off);
			const struct evbus_event *ev;

			/* A slow worker: the deadline passed before it read. */
			if (rq->hdr.kind == EVBUS_REC_CANCELLED && got_rq && cn->id == rq_id &&
			    cn->approver_id == gid && cn->reason == EVBUS_CANCEL_EXPIRED)
				early_cancel = true;
			if (rq->hdr.kind == EVBUS_REC_EVENT)
				early_seq = ((const struct evbus_event *)rq)->seq;
			if (rq->hdr.kind != EVBUS_REC_REQUEST)
				continue;
			ev = EVBUS_REQUEST_EVENT(rq);
			if (got_rq || rq->approver_id != gid) {
				fail(t, "gate: a second request (approver %u, id %llu), or for another approver",
				     rq->approver_id, (unsigned long long)rq->id);
				continue;
			}
			got_rq = true;
			rq_id = rq->id;
			/* MANDATORY only if an ask rule may have made it so. */
			if ((rq->flags && !rules0 && !ask_rules_now()) || ev->flags || ev->seq ||
			    ev->topic_len != gp.topic_len ||
			    memcmp(EVBUS_EVENT_TOPIC(ev), topic, gp.topic_len) ||
			    ev->payload_len != plen || memcmp(EVBUS_EVENT_PAYLOAD(ev), gpay, plen) ||
			    ev->type != gp.type || ev->corr != gp.corr || ev->parent != gp.parent ||
			    ev->pid != (uint32_t)getpid())
				fail(t, "gate: request %llu: flags %#x, event flags %#x seq %llu topic '%.40s' payload %u type %#x corr %llu pid %u",
				     (unsigned long long)rq->id, rq->flags, ev->flags,
				     (unsigned long long)ev->seq, EVBUS_EVENT_TOPIC(ev), ev->payload_len,
				     ev->type, (unsigned long long)ev->corr, ev->pid);
			if (rq->deadline_ns - ev->mono_ns != d_eff)
				fail(t, "gate: request %llu: deadline %llu ns after the publish, not %llu",
				     (unsigned long long)rq->id,
				     (unsigned long long)(rq->deadline_ns - ev->mono_ns),
				     (unsigned long long)d_eff);
		}
	}
	if (!got_rq && !got_cqe) {
		fail(t, "gate: no request nor completion %.1f s after an ask with deadline %llu ns",
		     (mono_ns() - t0) / 1e9, (unsigned long long)d_eff);
		t->uring = false;	/* the completion may still come: leave the ring */
		close(A);
		return;
	}
	if (got_cqe && !got_rq) {
		/*
		 * Refused before asking (the policy, memory), or a cap; or the
		 * deadline passed before the chain came to our approver (a
		 * slow kernel): its default then, without a request.
		 */
		bool too_late = t_cqe - t0 >= d_eff &&
				res == (deflt == EVBUS_ALLOW ? 0 : -ETIMEDOUT);

		if (!too_late && (res >= 0 || (-res != EACCES && -res != ENOMEM && -res != EAGAIN &&
					       -res != ECONNREFUSED)))
			fail(t, "gate: the ask completed with %d (%s) before its request came", res,
			     errname(-res));
		result_cmd(t, "URING_CMD (gate)", res, -res, C_N);
		close(A);
		return;
	}

	/* Hostile verdicts: each its own errno, and the request stays pending. */
	/* Completed before any verdict: only the deadline can have done it. */
	expired = early_cancel || got_cqe;
	B = open(g_dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	for (i = 0; i < nh && !expired; i++) {
		unsigned char raw[80];
		struct evbus_verdict *hv = (struct evbus_verdict *)raw;
		int want, fd = A;

		memset(raw, 0, sizeof(raw));
		hv->size = sizeof(*hv);
		hv->verdict = EVBUS_VERDICT_ALLOW;
		hv->id = rq_id;
		switch (h[i]) {
		case 0: hv->size = (uint32_t)(rq_id % 56); want = EINVAL; break;
		case 1: hv->size = 72; raw[56 + rq_id % 16] = 1; want = E2BIG; break;
		case 2: hv->verdict = rq_id & 1 ? 0 : 4; want = EINVAL; break;
		case 3: hv->flags = 1; want = EINVAL; break;
		case 4: hv->reserved = 1; want = EINVAL; break;
		case 5: hv->verdict = EVBUS_VERDICT_DENY;
			hv->error = rq_id & 1 ? -1 : EVBUS_VERDICT_ERRNO_MAX + 1; want = EINVAL; break;
		case 6: hv->payload_len = 4; want = EINVAL; break;
		case 7: hv->id = rq_id + 1000; want = ENOENT; break;
		case 8: hv->id = 0; want = ENOENT; break;
		case 9: fd = B; want = ENOENT; break;
		case 10: hv->verdict = EVBUS_VERDICT_MODIFY; hv->payload_len = 8;
			hv->payload = (uintptr_t)g_noacc; want = EFAULT; break;
		case 11: hv->verdict = EVBUS_VERDICT_MODIFY; hv->payload_len = g_max_payload + 1;
			hv->payload = (uintptr_t)t->arena; want = EMSGSIZE; break;
		default:	/* a topic on $sys, or not a topic */
			hv->verdict = EVBUS_VERDICT_MODIFY;
			hv->topic = (uintptr_t)(rq_id & 1 ? "$sys.x" : "a..b");
			hv->topic_len = rq_id & 1 ? 6 : 4;
			want = rq_id & 1 ? EACCES : EINVAL;
			break;
		}
		e = verdict_call(fd, raw);
		t->results++;
		if (e == ENOENT && want != ENOENT && mono_ns() >= t0 + d_eff) {
			expired = true;	/* too slow: the deadline came first */
			break;
		}
		if (e != want)
			fail(t, "gate: hostile verdict %u on request %llu gave %s, not %s", h[i],
			     (unsigned long long)rq_id, e ? errname(e) : "success", errname(want));
	}
	if (B >= 0)
		close(B);

	/* The final step. */
	if (!expired && final <= G_MODIFY) {
		memset(&v, 0, sizeof(v));
		v.size = big_size ? 64 : sizeof(v);
		v.id = rq_id;
		v.verdict = final == G_ALLOW ? EVBUS_VERDICT_ALLOW :
			    final == G_DENY ? EVBUS_VERDICT_DENY : EVBUS_VERDICT_MODIFY;
		if (final == G_DENY)
			v.error = (int32_t)deny_e;
		if (final == G_MODIFY) {
			v.type = mtype;
			v.payload = (uintptr_t)mpay;
			v.payload_len = mlen;
			if (mtop) {
				v.topic = (uintptr_t)mtopic;
				v.topic_len = (uint32_t)strlen(mtopic);
			}
		}
		{
			unsigned char raw[64];

			memset(raw, 0, sizeof(raw));
			memcpy(raw, &v, sizeof(v));
			e = verdict_call(A, raw);
		}
		t->results++;
		if (e == EACCES && final == G_MODIFY && mtop) {
			/* The policy refused the approver the new topic: it allows instead. */
			memset(&v, 0, sizeof(v));
			v.size = sizeof(v);
			v.id = rq_id;
			v.verdict = EVBUS_VERDICT_ALLOW;
			e = verdict_call(A, &v);
			t->results++;
			final = G_ALLOW;
		}
		if (e == ENOENT && mono_ns() >= t0 + d_eff)
			expired = true;
		else if (e)
			fail(t, "gate: the %s verdict on request %llu gave %s", g_final_name[final],
			     (unsigned long long)rq_id, errname(e));
		else
			t->feat[F_VERDICT_OK]++;
		/* A second verdict finds nothing. */
		v.verdict = EVBUS_VERDICT_ALLOW;
		v.error = 0;
		v.type = 0;
		v.payload = v.topic = 0;
		v.payload_len = v.topic_len = 0;
		v.size = sizeof(v);
		e = verdict_call(A, &v);
		t->results++;
		if (e != ENOENT)
			fail(t, "gate: a second verdict on request %llu gave %s, not ENOENT",
			     (unsigned long long)rq_id, e ? errname(e) : "success");
	} else if (!expired && final == G_CLOSE) {
		close(A);
		A = -1;
		closed = true;
	} else if (!expired && final == G_DEL) {
		e = ioctl(A, EVBUS_IOC_APPROVER_DEL, &gid) ? errno : 0;
		t->results++;
		if (e)
			fail(t, "gate: removing approver %u gave %s", gid, errname(e));
		memset(&v, 0, sizeof(v));
		v.size = sizeof(v);
		v.verdict = EVBUS_VERDICT_ALLOW;
		v.id = rq_id;
		e = verdict_call(A, &v);
		t->results++;
		if (e != ENOENT)
			fail(t, "gate: a verdict after the approver went gave %s, not ENOENT",
			     e ? errname(e) : "success");
	}

	/* The completion, within the deadline and slack. */
	while (!got_cqe) {
		struct __kernel_timespec wt = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

		ret = io_uring_wait_cqe_timeout(&t->ring, &cqe, &wt);
		if (!ret) {
			got_cqe = io_uring_cqe_get_data64(cqe) == u_data(t, 0);
			res = cqe->res;
			io_uring_cqe_seen(&t->ring, cqe);
		} else if (mono_ns() - t0 > d_eff + GATE_SLACK_NS) {
			fail(t, "gate: the ask (deadline %llu ns, then %s) never completed (%.1f s)",
			     (unsigned long long)d_eff, g_final_name[final], (mono_ns() - t0) / 1e9);
			t->uring = false;
			if (A >= 0)
				close(A);
			return;
		}
	}
	waited = (mono_ns() - t0) / 1e9;
	result_cmd(t, "URING_CMD (gate)", res, -res, C_N);
	if (mono_ns() - t0 > d_eff + GATE_SLACK_NS)
		fail(t, "gate: the ask took %.2f s, past its deadline of %llu ns", waited,
		     (unsigned long long)d_eff);
	if (expired || final == G_NEVER) {
		exact = deflt == EVBUS_DENY;
		want_e = ETIMEDOUT;
	} else if (final == G_DENY) {
		exact = true;
		want_e = deny_e ? deny_e : EACCES;
	} else if (final == G_CLOSE || final == G_DEL) {
		exact = deflt == EVBUS_DENY;
		want_e = ECONNRESET;
	}
	if (exact && res != -(int)want_e)
		fail(t, "gate: the ask (%s%s, default %s) completed with %d (%s), not %s",
		     g_final_name[final], expired ? ", expired" : "",
		     deflt == EVBUS_ALLOW ? "allow" : "deny", res, errname(-res), errname((int)want_e));
	else if (!exact && res < 0 && !gate_only_errno(-res) && -res != EACCES)
		fail(t, "gate: the ask (%s) completed with %d (%s)", g_final_name[final], res,
		     errname(-res));
	t->feat[F_GATE_EXACT] += exact;
	if (res == 0) {
		memcpy(&seq, (char *)&gp + offsetof(struct evbus_pub, seq), sizeof(seq));
		if (!seq)
			fail(t, "gate: published, but seq 0 written back");
	}

	/* The approver hears of an expired request (its file still open). */
	if (early_seq && early_seq == seq)
		sub = false;	/* read with the request already */
	if (A >= 0 && (expired || final == G_NEVER)) {
		bool cancelled = early_cancel;
		uint64_t t1 = mono_ns();

		while (!cancelled && mono_ns() - t1 < GATE_SLACK_NS) {
			struct pollfd pf = { .fd = A, .events = POLLIN };
			ssize_t n;
			size_t off;

			poll(&pf, 1, 10);
			n = read(A, gbuf, sizeof(gbuf));
			if (n <= 0)
				continue;
			if (check_records(gbuf, (size_t)n, t->feat)) {
				fail(t, "gate: approver read: %s", check_records(gbuf, (size_t)n, t->feat));
				sub = false;
				break;
			}
			for (off = 0; off < (size_t)n; off += ((struct evbus_rec_hdr *)(gbuf + off))->len) {
				const struct evbus_cancelled *cn = (const void *)(gbuf + off);

				if (cn->hdr.kind == EVBUS_REC_EVENT && sub && seq &&
				    ((const struct evbus_event *)cn)->seq == seq)
					sub = false;	/* read below otherwise */
				if (cn->hdr.kind != EVBUS_REC_CANCELLED)
					continue;
				if (cn->id != rq_id || cn->approver_id != gid ||
				    cn->reason != EVBUS_CANCEL_EXPIRED)
					fail(t, "gate: CANCELLED id %llu approver %u reason %u, for request %llu of approver %u expired",
					     (unsigned long long)cn->id, cn->approver_id, cn->reason,
					     (unsigned long long)rq_id, gid);
				cancelled = true;
			}
		}
		if (!cancelled)
			fail(t, "gate: request %llu expired, but no CANCELLED record came", (unsigned long long)rq_id);
	}

	/* The event as delivered, from the approver's own subscription. */
	if (A >= 0 && sub && seq) {
		uint64_t t1 = mono_ns();
		bool seen = false;

		while (!seen && mono_ns() - t1 < GATE_SLACK_NS) {
			struct pollfd pf = { .fd = A, .events = POLLIN };
			ssize_t n;
			size_t off;

			poll(&pf, 1, 10);
			n = read(A, gbuf, sizeof(gbuf));
			if (n <= 0)
				continue;
			if (check_records(gbuf, (size_t)n, t->feat)) {
				fail(t, "gate: approver read: %s", check_records(gbuf, (size_t)n, t->feat));
				seen = true;
				break;
			}
			for (off = 0; off < (size_t)n; off += ((struct evbus_rec_hdr *)(gbuf + off))->len) {
				const struct evbus_event *ev = (const void *)(gbuf + off);
				const struct evbus_lagged *lg = (const void *)(gbuf + off);
				uint32_t mod = EVBUS_EVENT_MODIFIER(ev->flags);
				bool mine = (ev->flags & EVBUS_EVENT_MODIFIED) && mod == gid;

				if (ev->hdr.kind == EVBUS_REC_LAGGED && lg->first_seq <= seq &&
				    seq <= lg->last_seq)
					seen = true;	/* lost in a small ring */
				if (ev->hdr.kind == EVBUS_REC_REVOKED)
					seen = true;	/* a policy change took the subscription */
				if (ev->hdr.kind != EVBUS_REC_EVENT || ev->seq != seq)
					continue;
				seen = true;
				t->feat[F_GATE_EVENT]++;
				if ((final == G_ALLOW || final == G_MODIFY) && !expired &&
				    !(ev->flags & EVBUS_EVENT_APPROVED))
					fail(t, "gate: event %llu allowed by its approver, but not flagged APPROVED (%#x)",
					     (unsigned long long)seq, ev->flags);
				if (mine != (final == G_MODIFY && !expired) &&
				    !(final == G_MODIFY && (ev->flags & EVBUS_EVENT_MODIFIED)))
					fail(t, "gate: event %llu flags %#x (modifier %u), the approver %u said %s",
					     (unsigned long long)seq, ev->flags, mod, gid, g_final_name[final]);
				if (mine && (ev->payload_len != mlen || ev->type != mtype ||
					     memcmp(EVBUS_EVENT_PAYLOAD(ev), mpay, mlen) ||
					     strcmp(EVBUS_EVENT_TOPIC(ev), mtop ? mtopic : topic)))
					fail(t, "gate: event %llu modified by approver %u: topic '%.40s' payload %u type %#x, not as modified",
					     (unsigned long long)seq, gid, EVBUS_EVENT_TOPIC(ev),
					     ev->payload_len, ev->type);
				if (!(ev->flags & EVBUS_EVENT_MODIFIED) &&
				    (ev->payload_len != plen || ev->type != gp.type ||
				     memcmp(EVBUS_EVENT_PAYLOAD(ev), gpay, plen) ||
				     strcmp(EVBUS_EVENT_TOPIC(ev), topic)))
					fail(t, "gate: event %llu, not modified, is not as published",
					     (unsigned long long)seq);
			}
		}
		if (!seen) {
			/*
			 * An approver later in the chain (a racer on ">", or any
			 * worker's VERDICT on a slot's pending request) may have
			 * moved it to another topic: the history says.
			 */
			char tp[EVBUS_TOPIC_MAX + 1];
			uint32_t fl = 0;

			if (event_from_history(seq, tp, &fl) &&
			    (!(fl & EVBUS_EVENT_MODIFIED) || EVBUS_EVENT_MODIFIER(fl) == gid ||
			     !strncmp(tp, pat, strlen(pat) - 1)))
				fail(t, "gate: event %llu ('%.40s', flags %#x) was published, but never came to the approver's subscription",
				     (unsigned long long)seq, tp, fl);
		}
	}
	if (closed)
		t->feat[F_APPR_CLOSED]++;
	if (A >= 0)
		close(A);
}

/* --------------------------------------------------------------- workers */

static void print_failures(struct th *t)
{
	uint64_t saved = t->rng;
	int i;

	/* Regenerate the call from its starting state, this time decoded. */
	t->rng = t->rng_at_call;
	t->dry = true;
	t->describe = true;
	t->dlen = 0;
	t->desc[0] = 0;
	if (t->worker)
		worker_op(t);
	t->dry = false;
	t->describe = false;
	t->rng = saved;

	pthread_mutex_lock(&g_print_lock);
	for (i = 0; i < t->nfailmsg && g_fail_printed < FAIL_PRINT_MAX; i++, g_fail_printed++) {
		if (t->worker)
			fprintf(stderr, "ioctl-fuzz: FAIL seed=%llu %s call=%lu: %s\n"
				"  call: %s\n  replay: ioctl_fuzz --seed %llu --threads %d --replay %s:%lu\n",
				g_seed, t->name, t->ops, t->failmsg[i], t->desc, g_seed,
				g_nworkers, t->name, t->ops);
		else
			fprintf(stderr, "ioctl-fuzz: FAIL seed=%llu %s (racer) iteration %lu: %s\n",
				g_seed, t->name, t->ops, t->failmsg[i]);
	}
	if (g_fail_printed == FAIL_PRINT_MAX) {
		fprintf(stderr, "ioctl-fuzz: (further failures not printed)\n");
		g_fail_printed++;
	}
	pthread_mutex_unlock(&g_print_lock);
	t->nfailmsg = 0;
}

/* The private files' numbers: below the slots, two per worker. */
static int priv_num(int idx, int which)
{
	return g_slot_base - 2 - 2 * idx - which;
}

/* Open a fresh private file onto num: 0, or -errno. */
static int open_private(int num)
{
	int fd = open(g_dev, O_RDWR | O_NONBLOCK | O_CLOEXEC), e;

	if (fd < 0)
		return -errno;
	e = dup2(fd, num) < 0 ? -errno : 0;
	close(fd);
	return e;
}

/*
 * Replace a private file with a fresh one, perhaps with a few subscriptions
 * from the pattern family and a small ring first: the scoped one starts
 * unscoped again, so narrowing starts over.
 */
static void op_private(struct th *t)
{
	uint32_t r = rnd(t, 100), n = rnd(t, 4), i, ring = chance(t, 30) ? 1u << (12 + rnd(t, 3)) : 0;
	bool scoped = r < 65;
	int num = scoped ? t->sfd : t->pfd, fd;
	const char *pats[4];

	t->op = "reopen private";
	D(t, "reopen the %s file (fd %d) with ring %u and %u subscriptions [", scoped ? "scoped" : "private",
	  num, ring, n);
	for (i = 0; i < n; i++) {
		pats[i] = fam[rnd(t, N_OF(fam))];
		D(t, " %s", pats[i]);
	}
	D(t, " ]");
	if (t->dry)
		return;
	/* Without a device node of its own the unprivileged child cannot. */
	if (t->unpriv && !strcmp(g_dev, EVBUS_DEV))
		return;
	fd = open(g_dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!result(t, "open", fd, errno, X_OPEN) || fd < 0)
		return;
	if (ring) {
		struct evbus_ring_cfg c = { .size = ring };

		quick_ioctl(t, fd, C_SETRING, &c);
	}
	for (i = 0; i < n; i++) {
		struct evbus_sub sb = { .pattern = (uintptr_t)pats[i],
					.pattern_len = (uint32_t)strlen(pats[i]) };

		quick_ioctl(t, fd, C_SUB, &sb);
	}
	if (dup2(fd, num) < 0)
		fail(t, "dup2 onto a private file: %s", strerror(errno));
	close(fd);
	if (scoped)
		memset(&t->sm, 0, sizeof(t->sm));
}

/*
 * A replay from start to end on a file of its own (#15): a fresh file
 * with a small ring, a subscription reaching into the past (SINCE from
 * the next seq minus up to 3000, or from 1; LAST; RETAINED), sometimes a
 * second one (SINCE again: never EBUSY before anything is read; a plain
 * one, joining; RETAINED: EBUSY if the file is catching up), then reads
 * of random sizes and polls, and mostly reads until the file is live and
 * empty (else it is closed while catching up).  The first subscription
 * never fails with EINVAL, ERANGE or EBUSY, nor a failed second one
 * changes the file; the stream holds up: seqs strictly increase, nothing
 * before since, replayed or retained events and LAGGED records with
 * EVBUS_LAGGED_HISTORY before any live event (a second RETAINED queues
 * its values after what is queued already: then the retained values are
 * two runs in seq order, one per subscription, and the live events in
 * order between and after them); while fdinfo says the file is catching
 * up, poll() says it is readable.
 */
static void op_replay(struct th *t)
{
	static const char *const pats[] = { ">", ">", "a.>", "fuzz.>", "*.b", "a", "b.>", "x" };
	static const uint32_t sizes[] = { 128, 4096, 65536, 1u << 17 };
	uint32_t kind = rnd(t, 3), second = rnd(t, 100), ring = 1u << (12 + rnd(t, 6));
	uint32_t policy = rnd(t, 2), last = rnd(t, 2) ? 1 + rnd(t, 64) : 1 + rnd(t, 100000);
	uint32_t nsteps = 1 + rnd(t, 6), step[6], i;
	int32_t d = chance(t, 15) ? INT32_MIN : -(int32_t)rnd(t, 3000);
	const char *pat = pats[rnd(t, N_OF(pats))], *pat2 = pats[rnd(t, N_OF(pats))];
	bool drain = chance(t, 75), live = false, may_replay = kind < 2, ordered = true;
	char *buf = t->arena + good_off[R_PAY];
	uint64_t since = 1, since2 = 1, min_since, prev = 0, lag_end = 0, prev_ret = 0;
	unsigned int descents = 0;
	struct evbus_subscribe sb;
	struct evbus_history h;
	struct evbus_stats st0, st1;
	long ret;
	int fd, err, nread;

	for (i = 0; i < nsteps; i++)
		step[i] = chance(t, 20) ? 0 : sizes[rnd(t, N_OF(sizes))];	/* 0: poll */
	t->op = "replay";
	D(t, "replay on a file of its own: ring %u %s, %s '%s'", ring,
	  policy ? "drop-newest" : "drop-oldest",
	  kind == 0 ? "SINCE" : kind == 1 ? "LAST" : "RETAINED", pat);
	if (kind == 0 && d == INT32_MIN)
		D(t, " since 1");
	else if (kind == 0)
		D(t, " since next_seq%+d", d);
	else if (kind == 1)
		D(t, " last %u", last);
	if (second < 30)
		D(t, ", then %s '%s'", second < 12 ? "SINCE (next_seq-10)" : second < 22 ?
		  "SUBSCRIBE" : "RETAINED", pat2);
	D(t, ", %u steps [", nsteps);
	for (i = 0; i < nsteps; i++)
		D(t, " %s%u", step[i] ? "read " : "poll", step[i]);
	D(t, " ]%s", drain ? ", then drain" : ", then close");
	if (t->dry)
		return;
	/* Without a device node of its own the unprivileged child cannot open. */
	if (t->unpriv && !strcmp(g_dev, EVBUS_DEV))
		return;
	fd = open(g_dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!result(t, "open", fd, errno, X_OPEN) || fd < 0)
		return;
	t->feat[F_REPLAY_OPS]++;
	{
		struct evbus_ring_cfg c = { .size = ring, .policy = policy };

		quick_ioctl(t, fd, C_SETRING, &c);
	}
	memset(&h, 0, sizeof(h));
	h.size = sizeof(h);
	if (quick_ioctl(t, fd, C_HIST, &h)) {
		close(fd);
		return;
	}
	if (kind == 0 && d != INT32_MIN)
		since = (int64_t)h.next_seq + d < 1 ? 1 : h.next_seq + d;
	memset(&sb, 0, sizeof(sb));
	sb.size = sizeof(sb);
	sb.pattern = (uintptr_t)pat;
	sb.pattern_len = (uint32_t)strlen(pat);
	sb.flags = kind == 0 ? EVBUS_SUB_SINCE : kind == 1 ? EVBUS_SUB_LAST : EVBUS_SUB_RETAINED;
	sb.since = kind == 0 ? since : 0;
	sb.last = kind == 1 ? last : 0;
	errno = 0;
	ret = ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &sb);
	err = errno;
	result_cmd(t, "SUBSCRIBE2 (replay)", ret, err, C_SUB2);
	if (ret < 0) {
		if (err == EINVAL || err == ERANGE || err == EBUSY)
			fail(t, "replay: SUBSCRIBE2 %s on a fresh file gave %s",
			     kind == 0 ? "SINCE" : kind == 1 ? "LAST" : "RETAINED", errname(err));
		close(fd);
		return;
	}
	count_feat_sub2(t, sb.flags);
	min_since = kind == 0 ? since : 0;
	if (second < 30) {
		bool have = !evt_stats(fd, &st0);

		memset(&sb, 0, sizeof(sb));
		sb.size = sizeof(sb);
		sb.pattern = (uintptr_t)pat2;
		sb.pattern_len = (uint32_t)strlen(pat2);
		if (second < 12) {
			since2 = h.next_seq > 10 ? h.next_seq - 10 : 1;
			sb.flags = EVBUS_SUB_SINCE;
			sb.since = since2;
		} else if (second >= 22) {
			sb.flags = EVBUS_SUB_RETAINED;
		}
		errno = 0;
		ret = ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &sb);
		err = errno;
		result_cmd(t, "SUBSCRIBE2 (replay, second)", ret, err, C_SUB2);
		if (ret >= 0) {
			count_feat_sub2(t, sb.flags);
			if (second < 12 && since2 < min_since)
				min_since = since2;
			/* After RETAINED found nothing to queue, a replay may start. */
			may_replay |= second < 12;
			/* A second RETAINED queues its values (older seqs) after
			 * the live events of the first: each run in order. */
			ordered = second < 22;
		}
		/* Nothing read yet: a replaying file takes another replay, never a retained one. */
		if (kind < 2 && second < 12 && ret < 0 && (err == EBUSY || err == ERANGE || err == EINVAL))
			fail(t, "replay: a second SINCE before anything was read gave %s", errname(err));
		if (kind < 2 && second >= 22 && (ret >= 0 || (err != EBUSY && err != EACCES &&
							   err != ENOMEM && err != EINTR)))
			fail(t, "replay: RETAINED on a file catching up gave %s, not EBUSY",
			     ret >= 0 ? "success" : errname(err));
		/* (Fewer subscriptions: a policy with EVBUS_POLICY_REVOKE meanwhile.) */
		if (ret < 0 && have && !evt_stats(fd, &st1) &&
		    (st1.subscriptions > st0.subscriptions || st1.capacity != st0.capacity))
			fail(t, "replay: a failed second SUBSCRIBE2 (%s) changed the file: subscriptions %u -> %u, ring %u -> %u",
			     errname(err), st0.subscriptions, st1.subscriptions, st0.capacity,
			     st1.capacity);
	}
	/* The steps, then (drain) up to 256 more reads until live and empty. */
	for (nread = 0; nread < (int)nsteps + (drain ? 256 : 0); nread++) {
		uint32_t size = nread < (int)nsteps ? step[nread] : 1u << 17;
		int rep = nread < (int)nsteps ? -2 : evt_replaying(fd);
		const char *why;
		size_t off;

		if (!size || rep == 1) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			if (rep == -2)
				rep = evt_replaying(fd);
			errno = 0;
			ret = poll(&pf, 1, 0);
			result(t, "poll (replay)", ret, errno, 0);
			if (rep == 1 && (ret != 1 || !(pf.revents & POLLIN)))
				fail(t, "replay: poll() gave %ld revents %#x while fdinfo says catching up",
				     ret, (unsigned short)pf.revents);
			if (!size)
				continue;
		}
		errno = 0;
		ret = read(fd, buf, size);
		err = errno;
		if (!result(t, "read (replay)", ret, err, X_READ))
			break;
		if (ret < 0) {
			if (err == EAGAIN && nread >= (int)nsteps && evt_replaying(fd) == 0) {
				t->feat[F_REPLAY_LIVE]++;
				break;
			}
			continue;
		}
		why = check_records(buf, (size_t)ret, t->feat);
		if (why) {
			fail(t, "replay: read: %s in %ld bytes", why, ret);
			break;
		}
		for (off = 0; off < (size_t)ret;) {
			const struct evbus_rec_hdr *rh = (const void *)(buf + off);

			if (rh->kind == EVBUS_REC_EVENT) {
				const struct evbus_event *ev = (const void *)rh;
				/* From the past or live (approved, modified: live, #16). */
				uint32_t pf = ev->flags & (EVBUS_EVENT_REPLAYED | EVBUS_EVENT_RETAINED);

				/* Two runs of retained values, one per subscription. */
				if (!ordered && (ev->flags & EVBUS_EVENT_RETAINED)) {
					if (ev->seq <= prev_ret && ++descents > 1)
						fail(t, "replay: retained value seq %llu after retained value seq %llu, in a third run",
						     (unsigned long long)ev->seq,
						     (unsigned long long)prev_ret);
					prev_ret = ev->seq;
					off += rh->len;
					continue;
				}
				if (ev->seq <= prev || (ordered && ev->seq <= lag_end) ||
				    ev->seq < min_since)
					fail(t, "replay: event seq %llu after seq %llu / lag ending %llu (since %llu)",
					     (unsigned long long)ev->seq, (unsigned long long)prev,
					     (unsigned long long)lag_end, (unsigned long long)min_since);
				if (pf && live && ordered)
					fail(t, "replay: an event flagged %#x (seq %llu) after live ones",
					     ev->flags, (unsigned long long)ev->seq);
				if ((ev->flags & EVBUS_EVENT_REPLAYED) && !may_replay)
					fail(t, "replay: a replayed event on a RETAINED subscription");
				if ((ev->flags & EVBUS_EVENT_RETAINED) && kind != 2)
					fail(t, "replay: a retained event on a %s subscription",
					     kind ? "LAST" : "SINCE");
				live |= !pf;
				prev = ev->seq;
			} else if (rh->kind == EVBUS_REC_LAGGED) {
				const struct evbus_lagged *lg = (const void *)rh;

				if (ordered && (lg->first_seq <= prev || lg->first_seq <= lag_end ||
						lg->first_seq < min_since))
					fail(t, "replay: LAGGED [%llu,%llu] after seq %llu / lag ending %llu (since %llu)",
					     (unsigned long long)lg->first_seq,
					     (unsigned long long)lg->last_seq, (unsigned long long)prev,
					     (unsigned long long)lag_end, (unsigned long long)min_since);
				if ((lg->flags & EVBUS_LAGGED_HISTORY) && (live || !may_replay))
					fail(t, "replay: a LAGGED record with EVBUS_LAGGED_HISTORY %s",
					     live ? "after live events" : "on a RETAINED subscription");
				lag_end = lg->last_seq;
			}
			off += rh->len;
		}
		if (t->nfailmsg)
			break;
	}
	close(fd);
}

/* ---------------------------- rate limits and lossless rings, end to end (#17) */

static bool own_node(void);

/*
 * A file of the bus of the calling thread's IPC namespace, opened as
 * 65534 (a publisher of another uid): a forked child makes a node of the
 * device it may open (own_node()), drops to 65534 and passes the file
 * back.  -1 if it cannot.
 */
static int open_nobody(void)
{
	int sv[2], fd, val = -1;
	pid_t pid;

	if (geteuid() || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (!pid) {
		close(sv[0]);
		if (!own_node() || setgroups(0, NULL) || setresgid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID) ||
		    setresuid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID))
			_exit(evt_send_fd(sv[1], -1, -1) ? 3 : 2);
		fd = open(g_dev, O_RDWR | O_CLOEXEC);
		_exit(evt_send_fd(sv[1], fd, fd < 0 ? -errno : 0) ? 3 : 0);
	}
	close(sv[1]);
	fd = evt_recv_fd(sv[0], &val);
	close(sv[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (fd >= 0 && val) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * A worker's bus of its own: unshare(CLONE_NEWIPC) (a thread's IPC
 * namespace is its own), open a file there (the bus is made), and one as
 * 65534, then setns() back.  Files it opens there later (quiet_open())
 * stay on that bus.  Without it op_rate() and op_lossless() use the
 * process's bus and check the bus's counters only from below.
 */
static void quiet_init(struct th *t)
{
	t->ns_home = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (t->ns_home < 0 || unshare(CLONE_NEWIPC))
		return;
	t->ns_quiet = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	t->qctl = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
	if (t->qctl >= 0)
		t->qnobody = open_nobody();
	if (setns(t->ns_home, CLONE_NEWIPC)) {
		perror("ioctl-fuzz: setns back to the process's IPC namespace");
		exit(2);
	}
	if (t->ns_quiet < 0 || t->qctl < 0) {
		if (t->qctl >= 0)
			close(t->qctl);
		if (t->ns_quiet >= 0)
			close(t->ns_quiet);
		t->qctl = t->ns_quiet = -1;
	}
}

static void quiet_fini(struct th *t)
{
	int *fds[] = { &t->qnobody, &t->qctl, &t->ns_quiet, &t->ns_home };
	size_t i;

	for (i = 0; i < N_OF(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* open() on the worker's own bus (else on the process's): an fd or -1 (errno). */
static int quiet_open(struct th *t, int flags)
{
	int fd, e;

	if (t->ns_quiet < 0)
		return open(g_dev, flags);
	if (setns(t->ns_quiet, CLONE_NEWIPC))
		return -1;
	fd = open(EVBUS_DEV, flags);
	e = errno;
	if (setns(t->ns_home, CLONE_NEWIPC)) {
		perror("ioctl-fuzz: setns back to the process's IPC namespace");
		exit(2);
	}
	errno = e;
	return fd;
}

/* One publish of plen bytes on topic: 0 or the errno, counted as a PUBLISH. */
static int pub_one(struct th *t, int fd, const char *topic, uint32_t plen, uint32_t flags,
		   uint64_t deadline, uint64_t *seq)
{
	struct evbus_pub p;
	long ret;
	int err;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = (uint32_t)strlen(topic);
	p.payload = (uintptr_t)t->arena;
	p.payload_len = plen;
	p.flags = flags;
	p.deadline_ns = deadline;
	errno = 0;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH, &p);
	err = errno;
	result_cmd(t, "PUBLISH (#17)", ret, err, C_PUB);
	if (ret)
		return err;
	if (seq)
		*seq = p.seq;
	return 0;
}

/*
 * A batch of n events of plen bytes on topic (seqs in t->descs[i].seq):
 * how many went out, *err the errno that stopped it (0 if none).
 */
static uint32_t pub_batch(struct th *t, int fd, const char *topic, uint32_t n, uint32_t plen,
			  uint32_t flags, uint64_t deadline, int *err)
{
	struct evbus_pub_batch b;
	uint32_t i;
	long ret;

	memset(t->descs, 0, n * sizeof(t->descs[0]));
	for (i = 0; i < n; i++) {
		t->descs[i].topic = (uintptr_t)topic;
		t->descs[i].topic_len = (uint32_t)strlen(topic);
		t->descs[i].payload = (uintptr_t)t->arena + 8 * i;
		t->descs[i].payload_len = plen;
		t->descs[i].type = i;
		t->descs[i].flags = flags;
		t->descs[i].deadline_ns = deadline;
	}
	memset(&b, 0, sizeof(b));
	b.events = (uintptr_t)t->descs;
	b.count = n;
	b.flags = EVBUS_BATCH_SEQ;
	errno = 0;
	ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
	*err = ret < 0 ? errno : (uint32_t)ret < n ? -b.error : 0;
	result_cmd(t, "PUBLISH_BATCH (#17)", ret < 0 ? -1 : 0, *err, C_BATCH);
	return ret < 0 ? 0 : (uint32_t)ret;
}

/* The bus's counters as fd sees them (zeros if BUS_STATS fails). */
static void bstats(int fd, struct evbus_bus_stats *bs)
{
	if (evt_bus_stats(fd, bs))
		memset(bs, 0, sizeof(*bs));
}

/* A counter's move, d = after - before: exactly want on the worker's own bus, else at least. */
#define CNT_MOVED(quiet, d, want)	((quiet) ? (d) == (want) : (d) >= (want))

static bool lim_eq(const struct evbus_rate_limit *l, uint64_t eps, uint64_t eb, uint64_t bps,
		   uint64_t bb)
{
	return l->events_per_sec == eps && l->events_burst == eb && l->bytes_per_sec == bps &&
	       l->bytes_burst == bb;
}

#define RATE_EXACT_NS	950000000ULL	/* a 1/s bucket cannot have refilled a token */
/*
 * The module waits for a lossless reader in jiffies (HZ 250 on every
 * kernel the tests boot): a wait may end up to one jiffy before wait_ns.
 */
#define JIFFY_NS	4000000ULL

/*
 * Rate limits end to end on fresh files (the worker's own bus when it has
 * one, so the bus's counters move by exactly what this does):
 *  - a file limited to 1 event/s with a burst of b and a byte burst of B:
 *    GET shows the limit and full buckets; a payload past B is EMSGSIZE
 *    (nothing spent); b publishes pass, the next is EAGAIN, and so is one
 *    with EVBUS_PUB_WAIT whose deadline (a few ms) cannot cover the wait,
 *    at once; the flag with deadline 0 is EINVAL; GET then shows no event
 *    token and two refusals, rate_refused_file two more; every looser
 *    limit is EPERM and leaves it, a tighter one is taken;
 *  - a file at 2000 events/s, burst 1: EVBUS_PUB_WAIT with a few ms
 *    passes, and so does a batch waiting for its tokens in turn within
 *    rate_wait_max_ms (unless its sleeps overran half of it: TCG); GET's
 *    waited is rate_waited's move;
 *  - a file at 10/s, burst 1: a second publish waiting with a deadline of
 *    seconds is cut to rate_wait_max_ms, too short: EAGAIN;
 *  - (own bus) a user limit of root's, for uid 0 or for everyone, which
 *    GET shows and which refuses exactly past its burst (rate_refused_user),
 *    a uid's own rule before the ALL rule, removal, ENOENT;
 *  - (own bus, now and then) 256 user limits, then ENOSPC, then all gone.
 * The exact checks that depend on time hold only when the calls came
 * within RATE_EXACT_NS of the limit being set.
 */
static void op_rate(struct th *t)
{
	uint32_t b = 1 + rnd(t, 4), B = 128 + rnd(t, 4000), plen = rnd(t, 32);
	uint32_t over = B + 1 + rnd(t, 100), nwait = 2 + rnd(t, 3), bu = 1 + rnd(t, 3), i;
	uint64_t dl = 1000000 + rnd(t, 4000000), big = chance(t, 50) ? 10000000000ULL : rnd64(t) | (1ULL << 40);
	bool user = chance(t, 40), fill = chance(t, 4), all = chance(t, 50);
	bool quiet = t->ns_quiet >= 0, exact;
	struct evbus_bus_stats bs0, bs1;
	struct evbus_rate r, r2;
	struct evbus_rate_limit L, L2, got;
	char topic[32];
	uint64_t t0, t1;
	int P = -1, Q = -1, e, n;
	uint32_t refused = 0, set_users = 0;

	snprintf(topic, sizeof(topic), "fzr.%s", t->name);
	t->op = "rate";
	D(t, "rate on files of its own: 1/s burst %u, bytes 1 MiB/s burst %u, payload %u (%u past), wait %llu ns, batch %u waiting; 10/s and a deadline of %llu ns",
	  b, B, plen, over, (unsigned long long)dl, nwait, (unsigned long long)big);
	if (user)
		D(t, "; user limit burst %u %s", bu, all ? "for everyone, then uid 0's" : "for uid 0, then everyone's");
	if (fill)
		D(t, "; 256 user limits, then ENOSPC");
	if (t->dry)
		return;
	if (t->unpriv && !strcmp(g_dev, EVBUS_DEV))
		return;
	/* On a bus others change: no exact checks while an ask rule may be on. */
	if (!quiet && ask_rules_now())
		return;
	t->feat[F_RATE_OPS]++;

	/* A file limit: a burst, then EAGAIN. */
	P = quiet_open(t, O_RDWR | O_CLOEXEC);
	if (!result(t, "open (rate)", P, errno, X_OPEN) || P < 0)
		return;
	bstats(P, &bs0);
	e = rate_get(P, &r);
	if (e || !lim_none(&r.limit) || r.events_tokens || r.bytes_tokens || r.refused ||
	    r.waited || (quiet && !lim_none(&r.user)))
		fail(t, "rate: GET of a fresh file: %s, limit %llu/%llu, tokens %lld/%lld, refused %llu, waited %llu, user %llu/s",
		     errname(e), (unsigned long long)r.limit.events_per_sec,
		     (unsigned long long)r.limit.events_burst, (long long)r.events_tokens,
		     (long long)r.bytes_tokens, (unsigned long long)r.refused,
		     (unsigned long long)r.waited, (unsigned long long)r.user.events_per_sec);
	t0 = mono_ns();
	e = rate_file(P, 1, b, 1u << 20, B);
	result_cmd(t, "RATE (FILE)", e ? -1 : 0, e, C_RATE);
	if (e) {
		fail(t, "rate: FILE 1/s burst %u on a fresh file: %s", b, errname(e));
		goto out;
	}
	e = rate_get(P, &r);
	if (e || !lim_eq(&r.limit, 1, b, 1u << 20, B) || r.events_tokens != b ||
	    r.bytes_tokens != B)
		fail(t, "rate: GET after FILE 1/s burst %u, %u bytes: %s, %llu/%llu ev %llu/%llu B, tokens %lld %lld",
		     b, B, errname(e), (unsigned long long)r.limit.events_per_sec,
		     (unsigned long long)r.limit.events_burst,
		     (unsigned long long)r.limit.bytes_per_sec,
		     (unsigned long long)r.limit.bytes_burst, (long long)r.events_tokens,
		     (long long)r.bytes_tokens);
	e = pub_one(t, P, topic, over, 0, 0, NULL);
	if (e == EACCES && !quiet)
		goto out;	/* the policy refuses it here */
	if (e != EMSGSIZE)
		fail(t, "rate: a payload of %u bytes past a byte burst of %u gave %s, not EMSGSIZE",
		     over, B, errname(e));
	for (i = 0; i < b; i++) {
		e = pub_one(t, P, topic, plen, 0, 0, NULL);
		if (e == EACCES && !quiet)
			goto out;
		if (e) {
			fail(t, "rate: publish %u of a burst of %u gave %s", i + 1, b, errname(e));
			goto out;
		}
	}
	e = pub_one(t, P, topic, plen, 0, 0, NULL);
	t1 = mono_ns();
	exact = t1 - t0 < RATE_EXACT_NS;
	if (exact && e != EAGAIN)
		fail(t, "rate: publish %u past a burst of %u within %.3f s gave %s, not EAGAIN", b + 1, b,
		     (t1 - t0) / 1e9, errname(e));
	refused += e == EAGAIN;
	t1 = mono_ns();
	e = pub_one(t, P, topic, plen, EVBUS_PUB_WAIT, dl, NULL);
	if (mono_ns() - t0 < RATE_EXACT_NS) {
		if (e != EAGAIN)
			fail(t, "rate: EVBUS_PUB_WAIT with %llu ns, a token ~1 s away, gave %s, not EAGAIN",
			     (unsigned long long)dl, errname(e));
		else if (mono_ns() - t1 > 500000000ULL)
			fail(t, "rate: EVBUS_PUB_WAIT with %llu ns, a token ~1 s away: EAGAIN after %.3f s, not at once",
			     (unsigned long long)dl, (mono_ns() - t1) / 1e9);
	} else {
		exact = false;
	}
	refused += e == EAGAIN;
	e = pub_one(t, P, topic, plen, EVBUS_PUB_WAIT, 0, NULL);
	if (e != EINVAL)
		fail(t, "rate: EVBUS_PUB_WAIT with deadline_ns 0 gave %s, not EINVAL", errname(e));
	e = rate_get(P, &r);
	if (mono_ns() - t0 >= RATE_EXACT_NS)
		exact = false;
	if (e || (exact && r.events_tokens) || r.refused != refused || r.waited ||
	    r.bytes_tokens > B || r.bytes_tokens < (int64_t)B - (int64_t)(b * plen))
		fail(t, "rate: GET after a burst of %u and %u refusals: %s, tokens %lld %lld (of %u), refused %llu, waited %llu",
		     b, refused, errname(e), (long long)r.events_tokens, (long long)r.bytes_tokens, B,
		     (unsigned long long)r.refused, (unsigned long long)r.waited);
	bstats(P, &bs1);
	if (!CNT_MOVED(quiet, bs1.rate_refused_file - bs0.rate_refused_file, refused) ||
	    (quiet && bs1.rate_refused_user != bs0.rate_refused_user))
		fail(t, "rate: %u refusals by a file's bucket, rate_refused_file %llu -> %llu, rate_refused_user %llu -> %llu",
		     refused, (unsigned long long)bs0.rate_refused_file,
		     (unsigned long long)bs1.rate_refused_file,
		     (unsigned long long)bs0.rate_refused_user,
		     (unsigned long long)bs1.rate_refused_user);
	if (exact && refused == 2)
		t->feat[F_RATE_REFUSED]++;
	/* Looser in any dimension: EPERM, nothing changes; tighter: taken. */
	{
		static const uint64_t loose[][4] = {
			{ 2, 0, 1u << 20, 0 }, { 0, 0, 1u << 20, 0 }, { 1, 1, 1u << 20, 0 },
			{ 1, 0, 1u << 21, 0 }, { 1, 0, 0, 0 },
		};

		for (i = 0; i < N_OF(loose); i++) {
			uint64_t eb = loose[i][0] ? b + loose[i][1] : 0;
			uint64_t bb = loose[i][3] + (loose[i][2] ? B : 0);

			e = rate_file(P, loose[i][0], eb, loose[i][2], bb);
			result_cmd(t, "RATE (FILE, looser)", e ? -1 : 0, e, C_RATE);
			if (e != EPERM)
				fail(t, "rate: FILE %llu/%llu ev %llu/%llu B over 1/%u ev 1048576/%u B gave %s, not EPERM",
				     (unsigned long long)loose[i][0], (unsigned long long)eb,
				     (unsigned long long)loose[i][2], (unsigned long long)bb, b, B,
				     errname(e));
		}
		e = rate_get(P, &r);
		if (e || !lim_eq(&r.limit, 1, b, 1u << 20, B))
			fail(t, "rate: a looser FILE changed the limit to %llu/%llu ev %llu/%llu B",
			     (unsigned long long)r.limit.events_per_sec,
			     (unsigned long long)r.limit.events_burst,
			     (unsigned long long)r.limit.bytes_per_sec,
			     (unsigned long long)r.limit.bytes_burst);
		e = rate_file(P, 1, b, 1u << 19, B / 2);
		result_cmd(t, "RATE (FILE, tighter)", e ? -1 : 0, e, C_RATE);
		if (!e)
			e = rate_get(P, &r);
		if (e || !lim_eq(&r.limit, 1, b, 1u << 19, B / 2) || r.bytes_tokens > B / 2)
			fail(t, "rate: a tighter FILE (bytes 512 KiB/s burst %u): %s, %llu/%llu B, tokens %lld",
			     B / 2, errname(e), (unsigned long long)r.limit.bytes_per_sec,
			     (unsigned long long)r.limit.bytes_burst, (long long)r.bytes_tokens);
	}
	close(P);
	P = -1;

	/* Waits that pass: a few ms for one token, a batch in turn. */
	Q = quiet_open(t, O_RDWR | O_CLOEXEC);
	if (!result(t, "open (rate)", Q, errno, X_OPEN) || Q < 0)
		goto out;
	bstats(Q, &bs0);
	e = rate_file(Q, 2000, 1, 0, 0);
	result_cmd(t, "RATE (FILE)", e ? -1 : 0, e, C_RATE);
	if (!e)
		e = pub_one(t, Q, topic, plen, 0, 0, NULL);
	if (!e)
		e = pub_one(t, Q, topic, plen, EVBUS_PUB_WAIT, dl, NULL);
	if (e == EACCES && !quiet)
		goto out;
	if (e)
		fail(t, "rate: 2000/s burst 1, a second publish waiting up to %llu ns: %s",
		     (unsigned long long)dl, errname(e));
	/* One deadline for the whole call; a sleep may overrun under TCG. */
	t1 = mono_ns();
	n = (int)pub_batch(t, Q, topic, nwait, plen, EVBUS_PUB_WAIT,
			   (uint64_t)RATE_WAIT_MS * 1000000, &e);
	refused = n < (int)nwait && e == EAGAIN;
	if (n != (int)nwait && !(e == EACCES && !quiet) &&
	    !(refused && mono_ns() - t1 >= (uint64_t)RATE_WAIT_MS * 1000000 / 2))
		fail(t, "rate: a batch of %u waiting for 2000/s tokens up to %d ms: %d published in %.3f ms, %s",
		     nwait, RATE_WAIT_MS, n, (mono_ns() - t1) / 1e6, errname(e));
	e = rate_get(Q, &r);
	bstats(Q, &bs1);
	if (e || r.refused != refused || r.waited > 1 + nwait || r.events_tokens < -1 ||
	    !CNT_MOVED(quiet, bs1.rate_waited - bs0.rate_waited, r.waited) ||
	    !CNT_MOVED(quiet, bs1.rate_refused_file - bs0.rate_refused_file, refused))
		fail(t, "rate: after waits for 2000/s tokens: %s, refused %llu (%u seen), waited %llu (rate_waited %llu -> %llu), tokens %lld",
		     errname(e), (unsigned long long)r.refused, refused, (unsigned long long)r.waited,
		     (unsigned long long)bs0.rate_waited, (unsigned long long)bs1.rate_waited,
		     (long long)r.events_tokens);
	t->feat[F_RATE_WAITED] += r.waited;
	close(Q);
	Q = -1;

	/* A deadline past rate_wait_max_ms is cut to it: too short for a 10/s token. */
	Q = quiet_open(t, O_RDWR | O_CLOEXEC);
	if (!result(t, "open (rate)", Q, errno, X_OPEN) || Q < 0)
		goto out;
	e = rate_file(Q, 10, 1, 0, 0);
	result_cmd(t, "RATE (FILE)", e ? -1 : 0, e, C_RATE);
	t0 = mono_ns();
	if (!e)
		e = pub_one(t, Q, topic, plen, 0, 0, NULL);
	if (!e) {
		e = pub_one(t, Q, topic, plen, EVBUS_PUB_WAIT, big, NULL);
		if (mono_ns() - t0 < 75000000 && e != EAGAIN)
			fail(t, "rate: EVBUS_PUB_WAIT with %llu ns, cut to rate_wait_max_ms (%d), for a token ~100 ms away gave %s, not EAGAIN",
			     (unsigned long long)big, RATE_WAIT_MS, errname(e));
	} else if (!(e == EACCES && !quiet)) {
		fail(t, "rate: 10/s burst 1 on a fresh file: %s", errname(e));
	}
	close(Q);
	Q = -1;

	/* A user's limit: root's, on the worker's own bus. */
	if (quiet && user) {
		uint32_t who = all ? EVBUS_WHO_ALL : EVBUS_WHO_UID;

		L = (struct evbus_rate_limit){ .events_per_sec = 1, .events_burst = bu };
		L2 = (struct evbus_rate_limit){ .events_per_sec = 2, .events_burst = bu + 1 };
		bstats(t->qctl, &bs0);
		e = rate_user(t->qctl, who, 0, &L);
		result_cmd(t, "RATE (USER)", e ? -1 : 0, e, C_RATE);
		if (e) {
			fail(t, "rate: USER %s 1/s burst %u on the worker's own bus: %s",
			     all ? "everyone" : "uid 0", bu, errname(e));
			goto out;
		}
		set_users |= all ? 2 : 1;
		e = rate_user_get(t->qctl, who, 0, &got);
		bstats(t->qctl, &bs1);
		if (e || memcmp(&got, &L, sizeof(L)) || bs1.rate_users != bs0.rate_users + 1)
			fail(t, "rate: USER_GET after USER: %s, %llu/%llu, rules %llu -> %llu", errname(e),
			     (unsigned long long)got.events_per_sec, (unsigned long long)got.events_burst,
			     (unsigned long long)bs0.rate_users, (unsigned long long)bs1.rate_users);
		P = quiet_open(t, O_RDWR | O_CLOEXEC);
		if (!result(t, "open (rate)", P, errno, X_OPEN) || P < 0)
			goto out;
		e = rate_get(P, &r);
		if (e || memcmp(&r.user, &L, sizeof(L)) || r.user_events_tokens != bu ||
		    r.user_bytes_tokens)
			fail(t, "rate: GET of a file under a user limit 1/s burst %u: %s, %llu/%llu, tokens %lld %lld",
			     bu, errname(e), (unsigned long long)r.user.events_per_sec,
			     (unsigned long long)r.user.events_burst, (long long)r.user_events_tokens,
			     (long long)r.user_bytes_tokens);
		bstats(P, &bs0);
		t0 = mono_ns();
		for (i = 0, e = 0; i < bu && !e; i++)
			e = pub_one(t, P, topic, plen, 0, 0, NULL);
		if (e)
			fail(t, "rate: publish %u of a user burst of %u: %s", i, bu, errname(e));
		e = pub_one(t, P, topic, plen, 0, 0, NULL);
		exact = mono_ns() - t0 < RATE_EXACT_NS;
		bstats(P, &bs1);
		if (exact && (e != EAGAIN || bs1.rate_refused_user != bs0.rate_refused_user + 1 ||
			      bs1.rate_refused_file != bs0.rate_refused_file))
			fail(t, "rate: publish past a user burst of %u: %s, rate_refused_user %llu -> %llu, rate_refused_file %llu -> %llu",
			     bu, errname(e), (unsigned long long)bs0.rate_refused_user,
			     (unsigned long long)bs1.rate_refused_user,
			     (unsigned long long)bs0.rate_refused_file,
			     (unsigned long long)bs1.rate_refused_file);
		/* A uid's own rule comes before the ALL rule. */
		e = rate_user(t->qctl, all ? EVBUS_WHO_UID : EVBUS_WHO_ALL, 0, &L2);
		result_cmd(t, "RATE (USER)", e ? -1 : 0, e, C_RATE);
		if (!e)
			set_users |= all ? 1 : 2;
		e = e ? e : rate_get(P, &r2);
		if (e || memcmp(&r2.user, all ? &L2 : &L, sizeof(L)))
			fail(t, "rate: GET with uid 0's rule %s and everyone's %s: %s, user %llu/%llu",
			     all ? "2/s" : "1/s", all ? "1/s" : "2/s", errname(e),
			     (unsigned long long)r2.user.events_per_sec,
			     (unsigned long long)r2.user.events_burst);
		for (i = 0; i < 2; i++) {
			e = rate_user(t->qctl, i ? EVBUS_WHO_ALL : EVBUS_WHO_UID, 0, NULL);
			result_cmd(t, "RATE (USER, remove)", e ? -1 : 0, e, C_RATE);
			if (e != ((set_users & (1u << i)) ? 0 : ENOENT))
				fail(t, "rate: removing %s's user limit gave %s", i ? "everyone" : "uid 0",
				     errname(e));
			if (!e)
				set_users &= ~(1u << i);
			e = rate_user(t->qctl, i ? EVBUS_WHO_ALL : EVBUS_WHO_UID, 0, NULL);
			if (e != ENOENT)
				fail(t, "rate: removing %s's user limit again gave %s, not ENOENT",
				     i ? "everyone" : "uid 0", errname(e));
			e = rate_user_get(t->qctl, i ? EVBUS_WHO_ALL : EVBUS_WHO_UID, 0, &got);
			if (e != ENOENT)
				fail(t, "rate: USER_GET of a removed limit gave %s", errname(e));
		}
		/* GET looks at the user's bucket: it knows the limit is gone. */
		e = rate_get(P, &r);
		if (e || !lim_none(&r.user))
			fail(t, "rate: GET after the user limits went: %s, user %llu/%llu", errname(e),
			     (unsigned long long)r.user.events_per_sec,
			     (unsigned long long)r.user.events_burst);
		if (exact)
			t->feat[F_RATE_REFUSED]++;
	}

	/* 256 user limits on the worker's own bus, then ENOSPC, then none. */
	if (quiet && fill) {
		struct evbus_rate_limit lf = { .events_per_sec = 1000, .events_burst = 10 };
		uint32_t k, set = 0;

		bstats(t->qctl, &bs0);
		for (k = 0; k < 300; k++) {
			e = rate_user(t->qctl, EVBUS_WHO_UID, 3000 + k, &lf);
			if (e)
				break;
			set++;
		}
		result_cmd(t, "RATE (USER, to ENOSPC)", e ? -1 : 0, e, C_RATE);
		bstats(t->qctl, &bs1);
		if (e != ENOSPC || bs0.rate_users + set != 256 || bs1.rate_users != 256)
			fail(t, "rate: user limits from %llu: %u set, then %s, %llu on the bus",
			     (unsigned long long)bs0.rate_users, set, errname(e),
			     (unsigned long long)bs1.rate_users);
		e = rate_user_get(t->qctl, EVBUS_WHO_UID, 3000, &got);
		if (set && (e || memcmp(&got, &lf, sizeof(lf))))
			fail(t, "rate: USER_GET of uid 3000 among 256: %s", errname(e));
		for (k = 0; k < set; k++) {
			e = rate_user(t->qctl, EVBUS_WHO_UID, 3000 + k, NULL);
			if (e)
				fail(t, "rate: removing uid %u's user limit: %s", 3000 + k, errname(e));
		}
		e = rate_user(t->qctl, EVBUS_WHO_UID, 3000, NULL);
		bstats(t->qctl, &bs1);
		if (e != ENOENT || bs1.rate_users != bs0.rate_users)
			fail(t, "rate: after removing them all: uid 3000 again %s, %llu user limits (%llu before)",
			     errname(e), (unsigned long long)bs1.rate_users,
			     (unsigned long long)bs0.rate_users);
		t->feat[F_RATE_FULL] += e == ENOENT && set;
	}
out:
	/* Nothing of this op stays on the bus. */
	for (i = 0; i < 2; i++)
		if (set_users & (1u << i))
			rate_user(t->qctl, i ? EVBUS_WHO_ALL : EVBUS_WHO_UID, 0, NULL);
	if (P >= 0) {
		if (set_users)
			rate_get(P, &r);	/* the bucket learns the limit went */
		close(P);
	}
	if (Q >= 0)
		close(Q);
}

/* What a lossless reader got of the events published to it: the run. */
#define LL_MAX	1024
struct ll_run {
	uint64_t seq[LL_MAX];	/* published to it, in order */
	uint32_t n;
	uint32_t next;		/* the first not delivered nor reported lost */
	uint32_t delivered;
	uint64_t lost;		/* per LAGGED records */
	bool broken;		/* a revocation (a bus others change): no exact check */
	/* An event whose seq is not known yet (an io_uring publish in flight) */
	bool pend;
	int pend_got;		/* 0: not seen, 1: delivered, 2: reported lost */
	uint64_t pend_seq;
};

static void ll_add(struct ll_run *run, uint64_t seq)
{
	if (run->n < LL_MAX)
		run->seq[run->n++] = seq;
	else
		run->broken = true;
}

/*
 * Read everything queued on the lossless reader R (O_NONBLOCK): each event
 * must be the run's next one, each LAGGED record must report exactly the
 * run's next events up to its last_seq (lost = how many of them, first_seq
 * the first), and afterwards every event of the run is one or the other.
 * With run->pend, one more event after the run's may come (or be reported
 * lost after them): its seq is noted.  false on a failure.
 */
static bool ll_drain(struct th *t, int R, struct ll_run *run, const char *what)
{
	char *buf = t->arena + good_off[R_PAY];
	size_t cap = good_len[R_PAY];
	int rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(R, buf, cap);
		size_t off = 0;
		const char *why;

		if (n < 0 && errno == EAGAIN) {
			if (run->next == run->n || run->broken)
				return true;
			if (rounds > 8) {
				fail(t, "lossless %s: %u of %u events neither delivered nor reported lost",
				     what, run->n - run->next, run->n);
				return false;
			}
			continue;
		}
		if (!result(t, "read (lossless)", n, errno, X_READ) || n <= 0)
			return false;
		why = check_records(buf, (size_t)n, t->feat);
		if (why) {
			fail(t, "lossless %s: read: %s", what, why);
			return false;
		}
		while (off < (size_t)n) {
			struct evbus_rec_hdr h;

			memcpy(&h, buf + off, sizeof(h));
			if (h.kind == EVBUS_REC_REVOKED) {
				run->broken = true;
			} else if (h.kind == EVBUS_REC_EVENT) {
				struct evbus_event ev;

				memcpy(&ev, buf + off, sizeof(ev));
				if (run->pend && !run->pend_got && run->next == run->n) {
					run->pend_got = 1;
					run->pend_seq = ev.seq;
					run->delivered++;
					off += h.len;
					continue;
				}
				if (!run->broken && (run->next >= run->n || ev.seq != run->seq[run->next])) {
					fail(t, "lossless %s: event %llu delivered, the run's next is %llu (%u of %u)",
					     what, (unsigned long long)ev.seq,
					     (unsigned long long)(run->next < run->n ? run->seq[run->next] : 0),
					     run->next, run->n);
					return false;
				}
				run->next++;
				run->delivered++;
			} else if (h.kind == EVBUS_REC_LAGGED) {
				struct evbus_lagged lg;
				uint32_t m = 0;

				memcpy(&lg, buf + off, sizeof(lg));
				while (run->next + m < run->n && run->seq[run->next + m] <= lg.last_seq)
					m++;
				/* The event in flight, lost after the run's (in the same record or its own). */
				if (run->pend && !run->pend_got && run->next + m == run->n &&
				    lg.lost == m + 1 && lg.last_seq > (run->n ? run->seq[run->n - 1] : 0) &&
				    lg.first_seq == (m ? run->seq[run->next] : lg.last_seq)) {
					run->pend_got = 2;
					run->pend_seq = lg.last_seq;
					run->next += m;
					run->lost += lg.lost;
					off += h.len;
					continue;
				}
				if (!run->broken && (!m || lg.lost != m || lg.first_seq != run->seq[run->next] ||
						     lg.last_seq != run->seq[run->next + m - 1])) {
					fail(t, "lossless %s: LAGGED lost %llu seqs %llu..%llu, the run's next %u are %llu..%llu",
					     what, (unsigned long long)lg.lost,
					     (unsigned long long)lg.first_seq, (unsigned long long)lg.last_seq, m,
					     (unsigned long long)(run->next < run->n ? run->seq[run->next] : 0),
					     (unsigned long long)(m ? run->seq[run->next + m - 1] : 0));
					return false;
				}
				run->next += m;
				run->lost += lg.lost;
			} else {
				fail(t, "lossless %s: a record of kind %u on a subscriber", what, h.kind);
				return false;
			}
			off += h.len;
		}
	}
	fail(t, "lossless %s: the reader never ran dry", what);
	return false;
}

/*
 * A batch of n events from fd to the reader: every one published (a
 * lossless ring never refuses its publisher), their seqs into the run.
 * false if the batch did not go out whole (a policy of a bus others
 * change: *skip; else a failure).
 */
static bool ll_batch(struct th *t, int fd, const char *topic, uint32_t n, uint32_t plen,
		     struct ll_run *run, bool quiet, bool *skip, const char *what)
{
	uint32_t got, i;
	int e;

	got = pub_batch(t, fd, topic, n, plen, 0, 0, &e);
	for (i = 0; i < got; i++)
		ll_add(run, t->descs[i].seq);
	if (got == n)
		return true;
	if (!quiet && (e == EACCES || gate_only_errno(e))) {
		*skip = true;
		return false;
	}
	fail(t, "lossless: %s: a batch of %u published %u: %s", what, n, got, errname(e));
	return false;
}

/*
 * A lossless reader of its own (on the worker's own bus when it has one,
 * where every counter moves by exactly what this does): SET_RING's
 * lossless wait (0, past lossless_max_ms or with another policy: EINVAL,
 * nothing changes; GET_RING shows the one set); then a publisher of its
 * uid sends a batch larger than the ring: what fits is delivered, the
 * call waits at most once (lossless_waits: none if the deadline passed
 * before it could sleep, a preempted publisher), then the rest is lost
 * with an exact LAGGED record (lossless_expired); a batch into an emptied
 * ring arrives whole without a wait; a publish through io_uring into a
 * full ring waits in a worker and is delivered once a read makes room
 * before its wait runs out; a file opened as 65534 never waits for it
 * (lossless_foreign) unless a rule gives 65534 EVBUS_RIGHT_WAIT on the
 * topic (then at most one wait, and the losses are lossless_expired).
 * STATS of the reader: delivered and lost as read.
 */
static void op_lossless(struct th *t)
{
	static __thread struct evbus_pub lp;
	uint32_t wk = rnd(t, 100), ring = chance(t, 75) ? 4096 : 8192, plen = rnd(t, 200);
	uint32_t extra = 1 + rnd(t, 3), badk = rnd(t, 5), nf = 1 + rnd(t, 4), i;
	uint64_t W = wk < 12 ? 1 + rnd(t, 1000) : wk < 88 ? 1000000 + rnd(t, 4000000) :
		     (uint64_t)LOSSLESS_MS * 1000000;
	bool room = chance(t, 60), foreign = chance(t, 60), right = chance(t, 40);
	bool async = chance(t, 30) && g_uring_async, quiet = t->ns_quiet >= 0, skip = false;
	static __thread struct ll_run run;
	struct evbus_bus_stats bs0, bs1;
	struct evbus_ring_cfg c;
	struct evbus_stats st;
	char topic[32], pat[32];
	uint32_t rec, N, d, rule = 0;
	int R = -1, P = -1, e;
	long ret;

	snprintf(topic, sizeof(topic), "fzl.%s.e", t->name);
	snprintf(pat, sizeof(pat), "fzl.%s.>", t->name);
	t->op = "lossless";
	D(t, "lossless reader of its own: ring %u, wait_ns %llu%s, payload %u, %u past full",
	  ring, (unsigned long long)W, badk < 3 ? " (after a bad SET_RING)" : "", plen, extra);
	if (room)
		D(t, ", an io_uring%s publish woken by a read", async ? " (IOSQE_ASYNC)" : "");
	if (foreign)
		D(t, ", %u from 65534%s", nf, right ? " with and without EVBUS_RIGHT_WAIT" : "");
	if (t->dry)
		return;
	if (t->unpriv && !strcmp(g_dev, EVBUS_DEV))
		return;
	memset(&run, 0, sizeof(run));
	R = quiet_open(t, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!result(t, "open (lossless)", R, errno, X_OPEN) || R < 0)
		return;
	P = quiet_open(t, O_RDWR | O_CLOEXEC);
	if (!result(t, "open (lossless)", P, errno, X_OPEN) || P < 0)
		goto out;
	t->feat[F_LL_OPS]++;
	/* A wait the module refuses: EINVAL, and the ring keeps its policy. */
	if (badk < 3) {
		memset(&c, 0, sizeof(c));
		c.size = ring;
		c.policy = badk == 2 ? EVBUS_POLICY_DROP_NEWEST : EVBUS_POLICY_LOSSLESS;
		c.wait_ns = badk == 0 ? 0 : badk == 1 ? g_lossless_max_ns + 1 : W;
		errno = 0;
		ret = ioctl(R, EVBUS_IOC_SET_RING, &c);
		e = errno;
		result_cmd(t, "SET_RING (lossless, bad)", ret, e, C_SETRING);
		if (ret != -1 || e != EINVAL)
			fail(t, "lossless: SET_RING policy %u wait_ns %llu gave %s, not EINVAL", c.policy,
			     (unsigned long long)c.wait_ns, ret ? errname(e) : "success");
		memset(&c, 0, sizeof(c));
		if (!quick_ioctl(t, R, C_GETRING, &c) &&
		    (c.policy == EVBUS_POLICY_LOSSLESS || c.wait_ns))
			fail(t, "lossless: a refused SET_RING left policy %u wait_ns %llu", c.policy,
			     (unsigned long long)c.wait_ns);
	}
	memset(&c, 0, sizeof(c));
	c.size = ring;
	c.policy = EVBUS_POLICY_LOSSLESS;
	c.wait_ns = W;
	if (quick_ioctl(t, R, C_SETRING, &c))
		goto out;	/* EDQUOT, ENOMEM */
	memset(&c, 0, sizeof(c));
	if (quick_ioctl(t, R, C_GETRING, &c) || c.policy != EVBUS_POLICY_LOSSLESS ||
	    c.wait_ns != W || c.size < ring) {
		fail(t, "lossless: GET_RING after SET_RING %u lossless %llu ns: size %u policy %u wait_ns %llu",
		     ring, (unsigned long long)W, c.size, c.policy, (unsigned long long)c.wait_ns);
		goto out;
	}
	if (evt_sub(R, pat) <= 0)
		goto out;	/* max_user_subs squeezed, a policy */
	rec = (uint32_t)sizeof(struct evbus_event) + EVBUS_ALIGN((uint32_t)strlen(topic) + 1) +
	      EVBUS_ALIGN(plen);
	N = c.size / rec + extra;

	/* Past full from a publisher of its uid: one wait, then the rest lost. */
	bstats(R, &bs0);
	if (!ll_batch(t, P, topic, N, plen, &run, quiet, &skip, "past full"))
		goto out;
	bstats(R, &bs1);
	if (!ll_drain(t, R, &run, "past full"))
		goto out;
	d = run.delivered;
	if (!run.broken &&
	    (!run.lost || !CNT_MOVED(quiet, bs1.lossless_expired - bs0.lossless_expired, run.lost) ||
	     (quiet && (bs1.lossless_foreign != bs0.lossless_foreign ||
			bs1.lossless_waits - bs0.lossless_waits > 1))))
		fail(t, "lossless: a batch of %u into %u bytes (%u-byte records): %u delivered, %llu lost; lossless_waits +%llu, expired +%llu, foreign +%llu",
		     N, c.size, rec, d, (unsigned long long)run.lost,
		     (unsigned long long)(bs1.lossless_waits - bs0.lossless_waits),
		     (unsigned long long)(bs1.lossless_expired - bs0.lossless_expired),
		     (unsigned long long)(bs1.lossless_foreign - bs0.lossless_foreign));
	t->feat[F_LL_LOST] += run.lost;

	/* A reader that keeps up loses nothing, and nobody waits. */
	{
		uint64_t lost0 = run.lost;
		uint32_t m = d / 2 ? d / 2 : 1;

		bstats(R, &bs0);
		if (!ll_batch(t, P, topic, m, plen, &run, quiet, &skip, "into an empty ring"))
			goto out;
		bstats(R, &bs1);
		if (!ll_drain(t, R, &run, "into an empty ring"))
			goto out;
		if (!run.broken && (run.lost != lost0 ||
				    (quiet && bs1.lossless_waits != bs0.lossless_waits)))
			fail(t, "lossless: %u events into an emptied ring of %u: %llu lost, lossless_waits +%llu",
			     m, c.size, (unsigned long long)(run.lost - lost0),
			     (unsigned long long)(bs1.lossless_waits - bs0.lossless_waits));
		else
			t->feat[F_LL_KEPT_UP]++;
	}

	/* Through io_uring into a full ring: its worker waits, a read makes room. */
	if (room && t->uring) {
		struct evbus_uring_cmd uc;
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;
		uint64_t ts, tr, tc = 0, lost0;
		int res = 0;
		bool got = false, under;

		if (!ll_batch(t, P, topic, N, plen, &run, quiet, &skip, "full before io_uring"))
			goto out;
		memset(&lp, 0, sizeof(lp));
		lp.topic = (uintptr_t)topic;
		lp.topic_len = (uint32_t)strlen(topic);
		lp.payload = (uintptr_t)t->arena;
		lp.payload_len = plen;
		memset(&uc, 0, sizeof(uc));
		uc.arg = (uintptr_t)&lp;
		sqe = io_uring_get_sqe(&t->ring);
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, P, NULL, 0, 0);
		sqe->cmd_op = EVBUS_URING_PUBLISH;
		memcpy(&sqe->addr3, &uc, sizeof(uc));
		if (async)
			sqe->flags |= IOSQE_ASYNC;
		io_uring_sqe_set_data64(sqe, u_data(t, 0));
		bstats(R, &bs0);
		ts = mono_ns();
		do
			ret = io_uring_submit(&t->ring);
		while (ret == -EINTR || ret == -EAGAIN);
		if (ret != 1) {
			fail(t, "lossless: io_uring_submit: %ld (%s)", ret, errname((int)-ret));
			t->uring = false;
			goto out;
		}
		/* Let its worker find the ring full and wait, then make room. */
		if (W >= 2000000) {
			struct timespec nap = { 0, (long)(W / 2) };

			nanosleep(&nap, NULL);
		}
		/* What the batch lost is read here; the publish may come in between. */
		run.pend = true;
		under = ll_drain(t, R, &run, "under a waiting io_uring publish");
		tr = mono_ns();
		lost0 = run.lost - (run.pend_got == 2);
		while (!got && mono_ns() - ts < GATE_SLACK_NS) {
			struct __kernel_timespec kt = { 0, 100000000 };

			if (io_uring_wait_cqe_timeout(&t->ring, &cqe, &kt))
				continue;
			/* Late completions of op_uring()'s cancels are not ours. */
			got = io_uring_cqe_get_data64(cqe) == u_data(t, 0);
			res = cqe->res;
			io_uring_cqe_seen(&t->ring, cqe);
			tc = mono_ns();
		}
		run.pend = false;
		bstats(R, &bs1);
		if (!got) {
			fail(t, "lossless: an io_uring publish into a full ring of %llu ns never completed",
			     (unsigned long long)W);
			t->uring = false;
			goto out;
		}
		result_cmd(t, "URING_CMD (lossless)", res < 0 ? -1 : 0, -res, C_N);
		if (!under)
			goto out;
		if (res) {
			if (!quiet && (-res == EACCES || gate_only_errno(-res)))
				goto out;
			fail(t, "lossless: an io_uring publish into a full ring completed with %s",
			     errname(-res));
			goto out;
		}
		if (run.pend_got) {
			if (lp.seq != run.pend_seq) {
				fail(t, "lossless: the io_uring publish got seq %llu, the reader %s %llu",
				     (unsigned long long)lp.seq,
				     run.pend_got == 1 ? "read" : "was told it lost",
				     (unsigned long long)run.pend_seq);
				goto out;
			}
			ll_add(&run, lp.seq);
			run.next++;
		} else {
			ll_add(&run, lp.seq);
			if (!ll_drain(t, R, &run, "after the io_uring publish"))
				goto out;
		}
		/*
		 * Room was made before its one wait could have run out (the
		 * wait started after the submission; the module waits in
		 * jiffies, so it may end a jiffy early): it is delivered.
		 */
		if (quiet && !run.broken && tr - ts + JIFFY_NS < W && run.lost != lost0)
			fail(t, "lossless: an io_uring publish lost although a read made room %.3f ms after it was submitted (wait %.3f ms)",
			     (tr - ts) / 1e6, W / 1e6);
		if (quiet && run.lost == lost0 && bs1.lossless_waits > bs0.lossless_waits &&
		    tc - ts < W)
			t->feat[F_LL_WOKEN]++;
	}

	/* A publisher of another uid: never a wait, unless a rule lets it. */
	if (foreign && quiet && t->qnobody >= 0) {
		for (i = 0; i < 1u + right; i++) {
			uint64_t lost0;

			if (i) {
				struct evbus_rule ru = {
					.pattern = (uintptr_t)pat, .pattern_len = (uint32_t)strlen(pat),
					.verdict = EVBUS_ALLOW,
					.rights = EVBUS_RIGHT_PUBLISH | EVBUS_RIGHT_WAIT,
					.who = EVBUS_WHO_UID, .id_value = UNPRIV_ID,
				};

				errno = 0;
				ret = ioctl(t->qctl, EVBUS_IOC_POLICY_ADD, &ru);
				result_cmd(t, "POLICY_ADD (EVBUS_RIGHT_WAIT)", ret, errno, C_PADD);
				if (ret)
					break;	/* max_rules squeezed */
				rule = ru.id;
			}
			if (!ll_batch(t, P, topic, N, plen, &run, quiet, &skip, "full before a foreign batch"))
				goto out;
			lost0 = run.lost;
			bstats(R, &bs0);
			if (!ll_batch(t, t->qnobody, topic, nf, plen, &run, quiet, &skip, "from 65534"))
				goto out;
			bstats(R, &bs1);
			if (!ll_drain(t, R, &run, i ? "from 65534 with EVBUS_RIGHT_WAIT" : "from 65534"))
				goto out;
			/* Lost: what the publisher's batch did not fit, and all of 65534's. */
			if (run.lost - lost0 < nf ||
			    (i ? bs1.lossless_expired - bs0.lossless_expired != nf ||
				 bs1.lossless_foreign != bs0.lossless_foreign ||
				 bs1.lossless_waits - bs0.lossless_waits > 1 :
				 bs1.lossless_foreign - bs0.lossless_foreign != nf ||
				 bs1.lossless_expired != bs0.lossless_expired ||
				 bs1.lossless_waits != bs0.lossless_waits))
				fail(t, "lossless: %u events of 65534%s into a full ring: %llu lost; lossless_waits +%llu, expired +%llu, foreign +%llu",
				     nf, i ? " with EVBUS_RIGHT_WAIT" : "",
				     (unsigned long long)(run.lost - lost0),
				     (unsigned long long)(bs1.lossless_waits - bs0.lossless_waits),
				     (unsigned long long)(bs1.lossless_expired - bs0.lossless_expired),
				     (unsigned long long)(bs1.lossless_foreign - bs0.lossless_foreign));
			t->feat[i ? F_LL_RIGHT : F_LL_FOREIGN] += nf;
		}
	}
	/* The reader's own counters: what it read. */
	if (!run.broken && !evt_stats(R, &st) &&
	    (st.lost != run.lost || st.delivered != run.delivered))
		fail(t, "lossless: STATS of the reader: delivered %llu lost %llu, read %u and %llu",
		     (unsigned long long)st.delivered, (unsigned long long)st.lost, run.delivered,
		     (unsigned long long)run.lost);
out:
	if (rule) {
		struct evbus_policy_set ps = { .op = EVBUS_POLICY_OP_REMOVE, .id = rule };

		if (ioctl(t->qctl, EVBUS_IOC_POLICY_SET, &ps))
			fail(t, "lossless: removing the EVBUS_RIGHT_WAIT rule %u: %s", rule,
			     strerror(errno));
	}
	if (P >= 0)
		close(P);
	close(R);
	(void)skip;
}

static void worker_op(struct th *t)
{
	uint32_t r = rnd(t, 100);

	reset_bumps(t);
	if (r < 51 || (r < 53 && rnd(t, 2)))
		op_ioctl(t);
	else if (r < 53)
		op_replay(t);
	else if (r < 55)
		rnd(t, 2) ? op_rate(t) : op_lossless(t);	/* #17 */
	else if (r < 67)
		op_read(t);
	else if (r < 70)
		op_write(t);
	else if (r < 75)
		op_poll(t);
	else if (r < 79)
		op_epoll(t);
	else if (r < 80)
		op_private(t);
	else if (r < 84)
		op_mmap(t);
	else if (r < 86 && t->uring_gen)
		op_gate(t);
	else if (t->uring_gen)
		op_uring(t);
	else
		op_ioctl(t);
	if (t->unpriv && g_shm)
		snprintf(g_shm->op, sizeof(g_shm->op), "%s call %lu: %s", t->name, t->ops,
			 t->op ? t->op : "-");
}

static void th_init_worker(struct th *t)
{
	struct io_uring_params p;

	th_mem_init(t);
	/* Private files, on the bus of the process's IPC namespace. */
	t->pfd = priv_num(t->idx, 0);
	t->sfd = priv_num(t->idx, 1);
	open_private(t->pfd);
	open_private(t->sfd);
	memset(&t->sm, 0, sizeof(t->sm));
	t->priv_owner = g_slot_owner[0];
	t->priv_bus = g_bus_id;
	t->priv_ino = g_ipc_ino;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->uring = false;
	if (g_use_uring) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SUBMIT_ALL;
		if (!io_uring_queue_init_params(32, &t->ring, &p))
			t->uring = true;
		else if (!io_uring_queue_init(32, &t->ring, 0))
			t->uring = true;
	}
	t->uring_gen = t->uring;
	/* #17: a bus of its own for op_rate() and op_lossless() (root's workers) */
	if (!t->unpriv && !geteuid())
		quiet_init(t);
}

static void th_fini_worker(struct th *t)
{
	/* Mappings hold their files open: they go first. */
	for (unsigned int i = 0; i < sizeof(t->maps) / sizeof(t->maps[0]); i++)
		if (t->maps[i].p)
			munmap(t->maps[i].p, t->maps[i].len);
	if (t->uring)
		io_uring_queue_exit(&t->ring);
	if (t->epfd >= 0)
		close(t->epfd);
	close(t->pfd);
	close(t->sfd);
	quiet_fini(t);
}

static void *worker_main(void *arg)
{
	struct th *t = arg;

	t->ktid = (pid_t)syscall(SYS_gettid);
	th_init_worker(t);
	for (t->ops = 0; t->ops < t->budget; t->ops++) {
		t->rng_at_call = t->rng;
		worker_op(t);
		if (t->nfailmsg)
			print_failures(t);
	}
	t->op = "done";
	th_fini_worker(t);
	__atomic_sub_fetch(&g_workers_left, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* ---------------------------------------------------------------- racers */

static bool running(void)
{
	return !__atomic_load_n(&g_stop, __ATOMIC_RELAXED);
}

static void racer_nap(struct th *t, uint32_t max_us)
{
	struct timespec ts = { 0, (long)rnd(t, max_us) * 1000 };

	if (ts.tv_nsec)
		nanosleep(&ts, NULL);
	else
		sched_yield();
}

static long quick_ioctl(struct th *t, int fd, int which, void *arg)
{
	long ret;
	int err;

	errno = 0;
	ret = ioctl(fd, evcmd[which].cmd, arg);
	err = errno;
	result_cmd(t, evcmd[which].name, ret, err, which);
	return ret;
}

static void sub_valid(struct th *t, int fd)
{
	struct evbus_sub s;
	char pat[320];

	memset(&s, 0, sizeof(s));
	s.pattern_len = (uint32_t)gen_text(t, pat, true);
	s.pattern = (uintptr_t)pat;
	quick_ioctl(t, fd, C_SUB, &s);
}

/*
 * The per-user subscription cap, squeezed and relaxed while everything
 * else runs: subscribes then race with ENOSPC from max_user_subs (the
 * fuzzer is one user).  The value found at start is put back at the end.
 */
#define USER_SUBS_PARAM	"/sys/module/evbus/parameters/max_user_subs"
#define MAX_RULES_PARAM	"/sys/module/evbus/parameters/max_rules"
#define USER_RETAINED_PARAM "/sys/module/evbus/parameters/max_user_retained"
#define HIST_MAX_PARAM	"/sys/module/evbus/parameters/history_max"
#define HIST_BYTES_PARAM "/sys/module/evbus/parameters/history_bytes"
static char g_user_subs0[32], g_user_retained0[32];

static void param_set(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		perror(path);
	close(fd);
}

static void param_get(const char *path, char *val, size_t len)
{
	FILE *f = fopen(path, "r");

	val[0] = 0;
	if (f && !fgets(val, (int)len, f))
		val[0] = 0;
	if (f)
		fclose(f);
	val[strcspn(val, "\n")] = 0;
}

static void user_subs_set(const char *val)
{
	param_set(USER_SUBS_PARAM, val);
}

static void user_subs_squeeze(struct th *t)
{
	static const char *const vals[] = { "1", "8", "64", "512" };

	if (!g_user_subs0[0])
		return;
	user_subs_set(chance(t, 50) ? vals[rnd(t, 4)] : g_user_subs0);
}

/* The bus's rule cap too: POLICY_ADD races with its ENOSPC. */
static void max_rules_squeeze(struct th *t)
{
	static const char *const vals[] = { "0", "1", "4", "16" };

	if (!g_max_rules0[0])
		return;
	param_set(MAX_RULES_PARAM, chance(t, 40) ? vals[rnd(t, 4)] : g_max_rules0);
}

/* The per-user cap on retained values too: retained publishes race with
 * their ENOSPC. */
static void user_retained_squeeze(struct th *t)
{
	static const char *const vals[] = { "0", "1", "8", "64" };

	if (!g_user_retained0[0])
		return;
	param_set(USER_RETAINED_PARAM, chance(t, 40) ? vals[rnd(t, 4)] : g_user_retained0);
}

/* The per-user cap on approvers (#16): APPROVER_ADD races with its ENOSPC. */
static void user_approvers_squeeze(struct th *t)
{
	static const char *const vals[] = { "0", "1", "16" };

	if (!g_user_approvers0[0])
		return;
	param_set(USER_APPROVERS_PARAM, chance(t, 30) ? vals[rnd(t, 3)] : g_user_approvers0);
}

/* Reopen, close, toggle O_NONBLOCK, read fdinfo, squeeze max_user_subs. */
static void *reopen_main(void *arg)
{
	struct th *t = arg;
	char path[64], buf[2048];

	t->ktid = (pid_t)syscall(SYS_gettid);

	while (running()) {
		int i = (int)rnd(t, NSLOTS), fd, flags, n;
		uint32_t r = rnd(t, 100);
		long ret;

		t->ops++;
		if (r < 14) {
			t->op = "close";
			ret = close(slot_fd(i));
			result(t, "close", ret, errno, 0);
		} else if (r < 84) {
			uint32_t m = rnd(t, 100);

			t->op = "reopen";
			flags = m < 45 ? O_RDWR : m < 65 ? O_RDONLY : m < 85 ? O_WRONLY :
				m < 92 ? O_PATH : O_RDWR | O_APPEND | O_TRUNC;
			if (slot_nonblock(i) || chance(t, 15))
				flags |= O_NONBLOCK;
			fd = open(EVBUS_DEV, flags | O_CLOEXEC);
			if (!result(t, "open", fd, errno, X_OPEN) || fd < 0)
				continue;
			if (!(flags & O_PATH)) {
				n = (int)rnd(t, 4);
				while (n-- > 0)
					sub_valid(t, fd);
				/* Now and then up to and past max_subs (ENOSPC). */
				if (chance(t, 4)) {
					char pat[32];
					struct evbus_sub sb = { .pattern = (uintptr_t)pat };

					for (n = 0; n < (int)g_max_subs + 2; n++) {
						sb.pattern_len = (uint32_t)snprintf(pat, sizeof(pat),
								"fuzz.%s.n%d", words[rnd(t, NWORDS)], n);
						quick_ioctl(t, fd, C_SUB, &sb);
					}
				}
				if (chance(t, 40)) {
					struct evbus_ring_cfg c = {
						.size = 1u << (12 + rnd(t, 6)),
						.policy = rnd(t, 3),
					};

					/* #17: lossless slots, so every publisher meets them */
					if (c.policy == EVBUS_POLICY_LOSSLESS)
						c.wait_ns = 1000000ULL * (1 + rnd(t, 3));
					quick_ioctl(t, fd, C_SETRING, &c);
				}
			}
			ret = dup2(fd, slot_fd(i));
			result(t, "dup2", ret, errno, 0);
			close(fd);
			if (chance(t, 3))
				user_subs_squeeze(t);
			if (chance(t, 3))
				max_rules_squeeze(t);
			if (chance(t, 3))
				user_retained_squeeze(t);
			if (chance(t, 3))
				user_approvers_squeeze(t);
		} else if (r < 92) {
			t->op = "fcntl";
			if (slot_nonblock(i))
				i += NSLOTS / 2;
			flags = fcntl(slot_fd(i), F_GETFL);
			if (result(t, "fcntl", flags, errno, 0) && flags >= 0) {
				ret = fcntl(slot_fd(i), F_SETFL, flags ^ O_NONBLOCK);
				result(t, "fcntl", ret, errno, 0);
			}
		} else {
			t->op = "fdinfo";
			snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", slot_fd(i));
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (!result(t, "fdinfo open", fd, errno, X_ENOENT_ONLY) || fd < 0)
				continue;
			while ((ret = read(fd, buf, sizeof(buf))) > 0)
				;
			result(t, "fdinfo read", ret, errno, X_READ);
			close(fd);
		}
		if (t->nfailmsg)
			print_failures(t);
		racer_nap(t, 300);
	}
	return NULL;
}

/* Subscribe and unsubscribe random ids on the slots, read stats. */
static void *unsub_main(void *arg)
{
	struct th *t = arg;

	t->ktid = (pid_t)syscall(SYS_gettid);
	while (running()) {
		int fd = slot_fd((int)rnd(t, NSLOTS));
		uint32_t r = rnd(t, 100), id = rnd(t, 40);

		t->ops++;
		if (r < 55) {
			t->op = "unsubscribe";
			quick_ioctl(t, fd, C_UNSUB, r < 52 ? &id : NULL);
		} else if (r < 85) {
			t->op = "subscribe";
			sub_valid(t, fd);
		} else if (r < 92) {
			struct evbus_stats st;

			t->op = "stats";
			memset(&st, 0, sizeof(st));
			quick_ioctl(t, fd, C_STATS, &st);
		} else {
			struct evbus_ring_cfg c;

			t->op = "get_ring";
			quick_ioctl(t, fd, C_GETRING, &c);
		}
		if (t->nfailmsg)
			print_failures(t);
		racer_nap(t, 200);
	}
	return NULL;
}

/*
 * Blocking read()/poll(): reader0 on its own file subscribed to ">" (every
 * valid publish wakes it), reader1 on the blocking slots.  SIGUSR1 from the
 * main thread (no SA_RESTART) bounds every wait.
 */
static void *reader_main(void *arg)
{
	struct th *t = arg;
	static const size_t sizes[] = { 40, 80, 96, 128, 4096, 65536, 1u << 20 };

	t->ktid = (pid_t)syscall(SYS_gettid);

	while (running()) {
		int fd = t->idx == 0 ? t->priv_fd : slot_fd(NSLOTS / 2 + (int)rnd(t, NSLOTS / 2));
		size_t size = chance(t, 80) ? sizes[rnd(t, 7)] : rnd(t, 1u << 20);
		uint32_t r = rnd(t, 100);
		long ret;
		int err;

		t->ops++;
		if (r < 75) {
			t->op = "blocking read";
			errno = 0;
			ret = read(fd, t->rbuf, size);
			err = errno;
			if (result(t, "blocking read", ret, err, X_READ) && ret > 0) {
				const char *why = (size_t)ret > size ? "more than asked" :
						  check_records(t->rbuf, (size_t)ret, t->feat);

				if (why)
					fail(t, "blocking read: %s (%ld bytes)", why, ret);
			}
		} else if (r < 90) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			t->op = "blocking poll";
			errno = 0;
			ret = poll(&pf, 1, 1000);
			result(t, "blocking poll", ret, errno, 0);
		} else if (t->idx == 0) {
			struct evbus_ring_cfg c = {
				.size = chance(t, 50) ? 0 : 1u << (12 + rnd(t, 4)),
				.policy = rnd(t, 2),
			};

			t->op = "reader set_ring";
			quick_ioctl(t, fd, C_SETRING, &c);
		}
		if (t->nfailmsg)
			print_failures(t);
	}
	return NULL;
}

/*
 * The approval gate's racers (#16).  Approvers (appr0, appr1): a file of
 * their own (sometimes a one-page ring, sometimes subscribed to "gate.>"
 * too) with one to three approvers on the gate patterns, random
 * priorities and defaults; they poll and read, check every record, and
 * answer each request at random: allow, deny with one of deny_errs,
 * modify (payload, type, sometimes the topic to "gate.m", sometimes to
 * "$sys.x": EACCES), never, or twice (the second ENOENT); a verdict gives
 * 0 or ENOENT (the request expired or was withdrawn meanwhile), nothing
 * else.  A CANCELLED record is for a request this file was sent.  Now and
 * then an approver is removed, or the file is closed with requests
 * pending; now and then an approver goes onto a slot, where the reopener
 * and the readers meet it.  Askers (ask0, ask1): blocking publishes and
 * small batches on the gate topics from a file of their own, mostly with
 * EVBUS_PUB_ASK and short deadlines, SIGUSR1 (no SA_RESTART) let through
 * half the time: every call ends with 0 and a seq, or an errno the gate
 * can give (the deny errnos, EACCES, ETIMEDOUT, ECONNRESET, ENOBUFS,
 * ECONNREFUSED, EINTR, EAGAIN), and within its deadlines (as the module
 * cuts them) and GATE_SLACK_NS.
 */
static void *appr_main(void *arg)
{
	static __thread char buf[1u << 17], pay[64];
	struct th *t = arg;

	t->ktid = (pid_t)syscall(SYS_gettid);
	while (running()) {
		uint32_t ids[3], nids = 0, all[3], nall = 0, n = 1 + rnd(t, 3), k, it, iters;
		uint64_t max_rq = 0;
		bool on_slot = chance(t, 15);
		int fd;

		t->ops++;
		t->op = "approver: open";
		if (on_slot) {
			fd = slot_fd((int)rnd(t, NSLOTS));
		} else {
			fd = open(EVBUS_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (!result(t, "open (approver)", fd, errno, X_OPEN) || fd < 0)
				continue;
			if (chance(t, 30))
				evt_set_ring(fd, chance(t, 50) ? 4096 : 16384, rnd(t, 2));
			if (chance(t, 30))
				evt_sub(fd, "gate.>");
		}
		for (k = 0; k < n; k++) {
			struct evbus_approver ap;
			const char *p = gate_pats[rnd(t, N_OF(gate_pats))];

			memset(&ap, 0, sizeof(ap));
			ap.pattern = (uintptr_t)p;
			ap.pattern_len = (uint32_t)strlen(p);
			ap.priority = (int32_t)rnd(t, 200) - 100;
			ap.deflt = rnd(t, 2) ? EVBUS_ALLOW : EVBUS_DENY;
			t->op = "approver: add";
			if (!quick_ioctl(t, fd, C_AADD, &ap) && !on_slot) {
				ids[nids++] = ap.id;
				all[nall++] = ap.id;
			}
		}
		if (on_slot) {
			racer_nap(t, 2000);
			continue;
		}
		iters = 1 + rnd(t, 300);
		for (it = 0; it < iters && running(); it++) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			const char *why;
			ssize_t got;
			size_t off;

			t->op = "approver: poll";
			poll(&pf, 1, (int)rnd(t, 20));
			t->op = "approver: read";
			got = read(fd, buf, sizeof(buf));
			if (got < 0) {
				result(t, "read (approver)", got, errno, X_READ);
				continue;
			}
			why = check_records(buf, (size_t)got, t->feat);
			if (why) {
				fail(t, "approver: read: %s in %zd bytes", why, got);
				break;
			}
			for (off = 0; off < (size_t)got; off += ((struct evbus_rec_hdr *)(buf + off))->len) {
				const struct evbus_request *rq = (const void *)(buf + off);
				const struct evbus_cancelled *cn = (const void *)(buf + off);
				struct evbus_verdict v;
				uint32_t r = rnd(t, 100), j;
				bool ours = false;
				int e, e2;

				if (rq->hdr.kind == EVBUS_REC_CANCELLED) {
					for (j = 0; j < nall; j++)
						ours |= cn->approver_id == all[j];
					if (!ours || cn->id > max_rq)
						fail(t, "approver: CANCELLED for approver %u request %llu, not one of this file's (max id %llu)",
						     cn->approver_id, (unsigned long long)cn->id,
						     (unsigned long long)max_rq);
					continue;
				}
				if (rq->hdr.kind != EVBUS_REC_REQUEST)
					continue;
				for (j = 0; j < nall; j++)
					ours |= rq->approver_id == all[j];
				if (!ours)
					fail(t, "approver: a request for approver %u, not one of this file's",
					     rq->approver_id);
				if (rq->id > max_rq)
					max_rq = rq->id;
				memset(&v, 0, sizeof(v));
				v.size = sizeof(v);
				v.id = rq->id;
				if (r < 35) {
					v.verdict = EVBUS_VERDICT_ALLOW;
				} else if (r < 50) {
					v.verdict = EVBUS_VERDICT_DENY;
					v.error = deny_errs[rnd(t, N_OF(deny_errs))];
				} else if (r < 72) {
					uint32_t tr = rnd(t, 100);

					v.verdict = EVBUS_VERDICT_MODIFY;
					v.type = rnd32(t);
					v.payload_len = rnd(t, sizeof(pay));
					v.payload = (uintptr_t)pay;
					pay[0] = (char)r;
					/* New topics only for the gate's own: op_gate() reads its events back. */
					if (strncmp(EVBUS_EVENT_TOPIC(EVBUS_REQUEST_EVENT(rq)), "gate.", 5)) {
						/* the topic stays */
					} else if (tr < 20) {
						v.topic = (uintptr_t)"gate.m";
						v.topic_len = 6;
					} else if (tr < 24) {
						v.topic = (uintptr_t)"$sys.x";
						v.topic_len = 6;
					}
				} else if (r < 88) {
					continue;	/* never: its deadline, or the file goes */
				} else {
					v.verdict = EVBUS_VERDICT_ALLOW;
					v.reserved = 1;	/* refused, and nothing changes */
				}
				t->op = "approver: verdict";
				e = verdict_call(fd, &v);
				t->results++;
				/* A new topic: the policy may refuse it to the approver (EACCES). */
				if (v.reserved ? e != EINVAL :
				    v.topic_len ? e && e != EACCES && e != ENOENT : e && e != ENOENT) {
					fail(t, "approver: verdict %u on request %llu gave %s", v.verdict,
					     (unsigned long long)v.id, e ? errname(e) : "success");
					continue;
				}
				if (!e)
					t->feat[F_VERDICT_OK]++;
				if (!e && chance(t, 10)) {
					e2 = verdict_call(fd, &v);
					t->results++;
					if (e2 != ENOENT)
						fail(t, "approver: a second verdict on request %llu gave %s, not ENOENT",
						     (unsigned long long)v.id, e2 ? errname(e2) : "success");
				}
			}
			if (t->nfailmsg)
				print_failures(t);
			if (nids && chance(t, 2)) {
				k = rnd(t, nids);
				t->op = "approver: remove";
				if (quick_ioctl(t, fd, C_ADEL, &ids[k]))
					fail(t, "approver: removing approver %u of its own file: %s", ids[k],
					     errname(errno));
				ids[k] = ids[--nids];
			}
			if (chance(t, 1))
				break;		/* closed with requests pending, maybe */
		}
		t->op = "approver: close";
		close(fd);
		if (t->nfailmsg)
			print_failures(t);
	}
	return NULL;
}

static void *asker_main(void *arg)
{
	static __thread char pay[64];
	struct th *t = arg;
	sigset_t usr1;
	int fd = -1;

	t->ktid = (pid_t)syscall(SYS_gettid);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	while (running()) {
		struct evbus_pub p[3];
		struct evbus_pub_batch b;
		uint32_t n = chance(t, 20) ? 1 + rnd(t, 3) : 1, i;
		uint64_t t0, el, limit = GATE_SLACK_NS;
		bool block = chance(t, 50);
		long ret;
		int err;

		t->ops++;
		if (fd < 0 || chance(t, 2)) {
			if (fd >= 0)
				close(fd);
			fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
			if (!result(t, "open (asker)", fd, errno, X_OPEN) || fd < 0) {
				fd = -1;
				continue;
			}
		}
		memset(p, 0, sizeof(p));
		for (i = 0; i < n; i++) {
			const char *tp = gate_topics[rnd(t, N_OF(gate_topics))];

			p[i].topic = (uintptr_t)tp;
			p[i].topic_len = (uint32_t)strlen(tp);
			p[i].payload = (uintptr_t)pay;
			p[i].payload_len = rnd(t, sizeof(pay));
			p[i].type = rnd32(t);
			p[i].flags = chance(t, 90) ? EVBUS_PUB_ASK : 0;
			p[i].deadline_ns = gen_deadline(t);
			limit += eff_deadline(p[i].deadline_ns);
		}
		if (block)
			pthread_sigmask(SIG_BLOCK, &usr1, NULL);
		t->op = n > 1 ? "asker: batch" : "asker: publish";
		t0 = mono_ns();
		errno = 0;
		if (n == 1) {
			ret = ioctl(fd, EVBUS_IOC_PUBLISH, &p[0]);
		} else {
			memset(&b, 0, sizeof(b));
			b.events = (uintptr_t)p;
			b.count = n;
			b.flags = EVBUS_BATCH_SEQ;
			ret = ioctl(fd, EVBUS_IOC_PUBLISH_BATCH, &b);
			if (ret > 0 && (uint32_t)ret < n)
				errno = -b.error;
		}
		err = errno;
		el = mono_ns() - t0;
		if (block)
			pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
		t->op = "asker: check";
		if (el > limit)
			fail(t, "asker: %u event(s) asking with deadlines adding up to %llu ns waited %.2f s",
			     n, (unsigned long long)(limit - GATE_SLACK_NS), el / 1e9);
		if (n == 1 ? ret == 0 : ret == (long)n) {
			result_cmd(t, "PUBLISH (asker)", 0, 0, n == 1 ? C_PUB : C_BATCH);
			if (!p[n - 1].seq)
				fail(t, "asker: published, but seq 0");
			t->feat[F_ASKER_OK]++;
		} else {
			/* Whole or partial: the errno that stopped it. */
			result_cmd(t, "PUBLISH (asker)", -1, err, n == 1 ? C_PUB : C_BATCH);
			if (err != EACCES && err != EKEYREJECTED && err != EHWPOISON &&
			    err != ETIMEDOUT && err != ECONNRESET && err != ENOBUFS &&
			    err != ECONNREFUSED && err != EINTR && err != EAGAIN && err != ENOMEM)
				fail(t, "asker: %s %s", n > 1 ? "a batch stopped with" : "publish gave",
				     errname(err));
			t->feat[err == EINTR ? F_ASKER_INTR : err == ECONNREFUSED ? F_ASKER_NOBODY :
				F_ASKER_REFUSED]++;
		}
		if (t->nfailmsg)
			print_failures(t);
		racer_nap(t, 500);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* -------------------------------------------------------------- the run */

static const char *const stat_names[] = {
	"open_files", "subscriptions", "queued_events", "queued_bytes", "ring_bytes",
	"wills",	/* #17: every will fired or cleared */
	"rate_users",	/* #17: every user limit removed, or gone with its bus */
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

static bool read_stats(long long *v)
{
	char path[128], buf[64];
	size_t i;

	for (i = 0; i < NSTATS; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", stat_names[i]);
		f = fopen(path, "r");
		if (!f)
			return false;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			return false;
		}
		fclose(f);
		v[i] = strtoll(buf, NULL, 10);
	}
	return true;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* The kernel stack of task tid, indented, into buf (async-signal-safe). */
static size_t kstack(pid_t tid, char *buf, size_t cap)
{
	char path[64];
	size_t n = 0;
	ssize_t r;
	int fd, lines = 0;

	if (tid <= 0 || cap < 2)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stack", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, cap - 1);
	close(fd);
	if (r <= 0)
		return 0;
	/* Only the top frames. */
	for (n = 0; n < (size_t)r; n++)
		if (buf[n] == '\n' && ++lines >= 8)
			break;
	return n < (size_t)r ? n + 1 : (size_t)r;
}

static void on_alarm(int sig)
{
	static char buf[32768];
	size_t n = 0;
	int i;

	(void)sig;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "\nioctl-fuzz: HANG: no progress for %u s (seed %llu); where each thread is:\n",
			      g_hang, g_seed);
	for (i = 0; i < g_nth && n < sizeof(buf) - 2000; i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "  %-8s call %lu: %s\n",
				      g_th[i]->name, g_th[i]->ops,
				      g_th[i]->op ? g_th[i]->op : "-");
		n += kstack(g_th[i]->ktid, buf + n, 1500);
	}
	if (g_unpriv && g_shm && n < sizeof(buf) - 2000) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "  unprivileged child: %.64s\n",
				      g_shm->op);
		n += kstack(g_shm->child_pid, buf + n, 1500);
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "ioctl-fuzz: 0 passed, 1 failed\n");
	if (write(2, buf, n) < 0)
		_exit(3);
	_exit(3);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	int n;

	(void)uc;
	n = snprintf(buf, sizeof(buf),
		     "ioctl-fuzz: signal %d at %p: the fuzzer itself faulted (seed %llu)\n"
		     "ioctl-fuzz: 0 passed, 1 failed\n", sig, si->si_addr, g_seed);
	if (write(2, buf, (size_t)n) < 0)
		_exit(2);
	_exit(2);
}

static int open_slot(int i, int flags)
{
	int fd = open(EVBUS_DEV, flags | O_CLOEXEC | (slot_nonblock(i) ? O_NONBLOCK : 0));

	if (fd < 0 || dup2(fd, slot_fd(i)) < 0) {
		perror("ioctl-fuzz: open " EVBUS_DEV);
		exit(2);
	}
	close(fd);
	return slot_fd(i);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ioctl_fuzz [--calls N] [--seed S] [--threads T] [--no-race]\n"
		"                  [--no-uring] [--no-uring-async-link] [--no-unpriv]\n"
		"                  [--hang SECS] [--replay wT:I | --replay uR:I]\n");
	exit(2);
}

static struct th *new_th(const char *name, int idx, bool worker, uint64_t salt)
{
	struct th *t = calloc(1, sizeof(*t));

	if (!t) {
		perror("ioctl-fuzz: calloc");
		exit(2);
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->idx = idx;
	t->worker = worker;
	t->rng = g_seed * 0x9e3779b97f4a7c15ULL ^ (salt + 1) * 0xd1b54a32d192ed03ULL;
	t->epfd = -1;
	t->priv_fd = -1;
	t->ns_home = t->ns_quiet = t->qctl = t->qnobody = -1;
	g_th[g_nth++] = t;
	return t;
}

/* Regenerate call idx of t (set up), print it decoded, issue it once. */
static int replay_th(struct th *t, unsigned long idx)
{
	for (t->ops = 0; t->ops < idx; t->ops++) {
		t->dry = true;
		reset_bumps(t);
		worker_op(t);
	}
	t->dry = true;
	t->describe = true;
	t->rng_at_call = t->rng;
	worker_op(t);
	printf("ioctl-fuzz: seed %llu %s call %lu:\n  %s\n", g_seed, t->name, idx, t->desc);
	t->dry = false;
	t->describe = false;
	t->rng = t->rng_at_call;
	worker_op(t);
	if (t->nfailmsg) {
		int i;

		for (i = 0; i < t->nfailmsg; i++)
			printf("  FAIL: %s\n", t->failmsg[i]);
	} else {
		int e;

		for (e = 0; e <= ERRNO_MAX; e++)
			if (t->hist[e])
				printf("  result: %s x%lu\n", e ? errname(e) : "success", t->hist[e]);
	}
	return t->nfailmsg ? 1 : 0;
}

static int replay(int w, unsigned long idx)
{
	th_init_worker(g_th[w]);
	return replay_th(g_th[w], idx);
}

/* ------------------------------------------------ the unprivileged child */

/*
 * The same ioctls from uid/gid 65534 with no supplementary groups, in
 * rounds of ROUND_OPS operations, each in a fresh process forked from a
 * single-threaded supervisor (itself forked before any thread exists):
 *  - as root, maybe unshare(CLONE_NEWIPC) (a bus of its own, owned by the
 *    initial user namespace), and mknod a node of /dev/evbus that 65534
 *    may open, on a tmpfs in a mount namespace of its own (the device
 *    stays 0660 root);
 *  - open slots 0..3 as root, drop privileges (setgroups, setresgid,
 *    setresuid), open slots 4..7 and the private files as 65534;
 *  - or, now and then, after dropping: unshare(CLONE_NEWUSER |
 *    CLONE_NEWIPC) with 65534 mapped to 0, so the child owns the new bus
 *    its files 4..7 are on (a rootless container's case).
 * Policy changes and EVBUS_HISTORY_SET must give EPERM on every file but
 * those it owns (a SET on the first and last slot is tried at the start of
 * each round); files made after an unshare must be on another bus, of
 * that namespace.
 */
#define ROUND_OPS	600

enum { M_SAMEBUS, M_NEWIPC, M_USERNS };
static const char *const mode_name[] = {
	"the host's bus", "a new IPC namespace", "its own bus in new user and IPC namespaces",
};

static uint64_t ipc_ino_now(void)
{
	struct stat st;

	return stat("/proc/self/ns/ipc", &st) ? 0 : st.st_ino;
}

static uint64_t bus_of(int fd)
{
	struct evbus_bus_stats bs;

	memset(&bs, 0, sizeof(bs));
	bs.size = sizeof(bs);
	return ioctl(fd, EVBUS_IOC_BUS_STATS, &bs) ? 0 : bs.bus_id;
}

/* A node of the device that uid 65534 may open, seen by this process only. */
static bool own_node(void)
{
	struct stat st;

	if (stat(EVBUS_DEV, &st) || !S_ISCHR(st.st_mode))
		return false;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("ioctl-fuzz", "/tmp", "tmpfs", 0, "mode=0755,size=64k") ||
	    mknod("/tmp/evbus", S_IFCHR | 0666, st.st_rdev) || chmod("/tmp/evbus", 0666))
		return false;
	g_dev = "/tmp/evbus";
	return true;
}

static int slot_mode(int i)
{
	return (i % 4 == 1 ? O_RDONLY : i % 4 == 2 ? O_WRONLY : O_RDWR) |
	       (slot_nonblock(i) ? O_NONBLOCK : 0) | O_CLOEXEC;
}

static bool open_slot_as(int i, const char *dev)
{
	int fd = open(dev, slot_mode(i));

	if (fd < 0)
		return false;
	dup2(fd, slot_fd(i));
	close(fd);
	return true;
}

static void slot_ctx(int i, bool owner)
{
	g_slot_owner[i] = owner;
	g_slot_bus[i] = bus_of(slot_fd(i));
	g_slot_ino[i] = ipc_ino_now();
}

static int unpriv_round(unsigned int round, unsigned long n, long replay_i)
{
	uint64_t mr = g_seed * 0x9e3779b97f4a7c15ULL ^ (7000 + (uint64_t)round) * 0xd1b54a32d192ed03ULL;
	uint64_t host_bus = g_bus_id, host_ino = g_ipc_ino;
	char name[12], map[32];
	struct th *t;
	int mode, i, e;
	bool node, own = false;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mr = (mr ^ (mr >> 31)) * 0xbf58476d1ce4e5b9ULL;
	mode = (mr >> 40) % 100 < 40 ? M_SAMEBUS : (mr >> 40) % 100 < 75 ? M_NEWIPC : M_USERNS;
	for (i = 0; i < NSLOTS; i++)
		close(slot_fd(i));
	if (mode == M_NEWIPC && unshare(CLONE_NEWIPC))
		mode = M_SAMEBUS;
	node = own_node();
	g_pid = getpid();
	/* Root's files, on the bus of the namespace it is in now. */
	for (i = 0; i < NSLOTS / 2; i++) {
		if (!open_slot_as(i, EVBUS_DEV)) {
			/*
			 * A new bus's history is charged to root, who may have
			 * given the main bus all of max_user_history_bytes
			 * (EVBUS_HISTORY_SET up to history_max): the documented
			 * EDQUOT, and this round has no bus to work on.
			 */
			if (errno == EDQUOT && mode == M_NEWIPC && !i) {
				fprintf(stderr, "ioctl-fuzz: u%u: note: no room in root's history quota for a new bus (EDQUOT): round skipped\n",
					round);
				return 0;
			}
			fprintf(stderr, "ioctl-fuzz: u%u: open %s: %s\n", round, EVBUS_DEV, strerror(errno));
			return 2;
		}
		slot_ctx(i, false);
	}
	g_bus_id = g_slot_bus[0];
	g_ipc_ino = g_slot_ino[0];
	if (setgroups(0, NULL) || setresgid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID) ||
	    setresuid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID)) {
		fprintf(stderr, "ioctl-fuzz: u%u: cannot drop privileges: %s\n", round, strerror(errno));
		return 2;
	}
	prctl(PR_SET_DUMPABLE, 1);	/* so it may write its own uid_map */
	if (mode == M_USERNS) {
		if (!node || unshare(CLONE_NEWUSER | CLONE_NEWIPC)) {
			mode = M_SAMEBUS;
		} else {
			snprintf(map, sizeof(map), "0 %d 1", UNPRIV_ID);
			if (evt_write_text("/proc/self/setgroups", "deny") ||
			    evt_write_text("/proc/self/uid_map", map) ||
			    evt_write_text("/proc/self/gid_map", map)) {
				fprintf(stderr, "ioctl-fuzz: u%u: uid_map: %s\n", round, strerror(errno));
				return 2;
			}
		}
	}
	/* 65534's own files (root's, duplicated, without a node). */
	for (i = NSLOTS / 2; i < NSLOTS; i++) {
		if (open_slot_as(i, g_dev)) {
			slot_ctx(i, mode == M_USERNS);
			own = true;
		} else {
			dup2(slot_fd(i - NSLOTS / 2), slot_fd(i));
			slot_ctx(i, false);
		}
	}
	g_bus_id = g_slot_bus[NSLOTS - 1];
	g_ipc_ino = g_slot_ino[NSLOTS - 1];

	snprintf(name, sizeof(name), "u%u", round);
	t = new_th(name, 0, true, 5000 + (uint64_t)round);
	t->unpriv = true;
	t->budget = n;
	g_use_uring = false;
	t->ktid = getpid();
	g_shm->child_pid = t->ktid;
	th_init_worker(t);
	t->priv_owner = mode == M_USERNS;
	for (i = 0; i < 2; i++) {
		int num = i ? t->sfd : t->pfd;

		if (fcntl(num, F_GETFD) < 0) {	/* no node: root's file */
			dup2(slot_fd(0), num);
			t->priv_owner = false;
			t->priv_bus = g_slot_bus[0];
			t->priv_ino = g_slot_ino[0];
		}
	}
	if (replay_i >= 0) {
		printf("ioctl-fuzz: u%u: %s%s, as uid %d\n", round, mode_name[mode],
		       node ? "" : " (no node of its own)", UNPRIV_ID);
		return replay_th(t, (unsigned long)replay_i);
	}

	/* Buses: a new IPC namespace has its own, not the host's. */
	e = mode == M_NEWIPC ? 0 : mode == M_USERNS && own ? NSLOTS - 1 : -1;
	if (e >= 0 && (g_slot_bus[e] == host_bus || g_slot_ino[e] == host_ino ||
		       (e && g_slot_bus[e] == g_slot_bus[0])))
		fail(t, "a file opened in %s is on bus %llu (namespace %llu), the host's is %llu (%llu)",
		     mode_name[mode], (unsigned long long)g_slot_bus[e],
		     (unsigned long long)g_slot_ino[e], (unsigned long long)host_bus,
		     (unsigned long long)host_ino);
	if (mode == M_SAMEBUS && (g_slot_bus[0] != host_bus || g_slot_bus[NSLOTS - 1] != host_bus))
		fail(t, "a file opened in the host's IPC namespace is on bus %llu, not %llu",
		     (unsigned long long)g_slot_bus[NSLOTS - 1], (unsigned long long)host_bus);
	/* #15: EVBUS_HISTORY_SET is the owner's: EPERM on root's file, and on
	 * 65534's own unless the bus is its own. */
	for (i = 0; i < NSLOTS; i += NSLOTS - 1) {
		struct evbus_history h;
		long r;

		memset(&h, 0, sizeof(h));
		h.size = sizeof(h);
		h.flags = EVBUS_HISTORY_SET;
		h.capacity = 65536;
		errno = 0;
		r = ioctl(slot_fd(i), EVBUS_IOC_HISTORY, &h);
		e = errno;
		result_cmd(t, "HISTORY (SET, unprivileged)", r, e, C_HIST);
		if (r < 0 && e == EPERM)
			__atomic_add_fetch(&g_shm->eperm, 1, __ATOMIC_RELAXED);
		if (g_slot_owner[i] ? r < 0 && e != EDQUOT && e != ENOMEM : !(r < 0 && e == EPERM))
			fail(t, "EVBUS_HISTORY_SET as uid %d on %s gave %s", UNPRIV_ID,
			     g_slot_owner[i] ? "a bus of its own" : "a bus it does not own",
			     r < 0 ? errname(e) : "success");
	}
	if (t->nfailmsg)
		print_failures(t);

	for (t->ops = 0; t->ops < t->budget; t->ops++) {
		t->rng_at_call = t->rng;
		worker_op(t);
		if (t->nfailmsg)
			print_failures(t);
	}
	__atomic_add_fetch(&g_shm->ops, t->ops, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&g_shm->results, t->results, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&g_shm->fails, t->fails, __ATOMIC_SEQ_CST);
	for (i = 0; i <= ERRNO_MAX; i++)
		__atomic_add_fetch(&g_shm->hist[i], t->hist[i], __ATOMIC_SEQ_CST);
	for (i = 0; i <= C_N; i++) {
		__atomic_add_fetch(&g_shm->cmd_ok[i], t->cmd_ok[i], __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&g_shm->cmd_err[i], t->cmd_err[i], __ATOMIC_SEQ_CST);
	}
	for (i = 0; i < F_N; i++)
		__atomic_add_fetch(&g_shm->feat[i], t->feat[i], __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&g_shm->rounds, 1, __ATOMIC_SEQ_CST);
	if (mode == M_NEWIPC)
		__atomic_add_fetch(&g_shm->rounds_ipc, 1, __ATOMIC_SEQ_CST);
	if (mode == M_USERNS)
		__atomic_add_fetch(&g_shm->rounds_userns, 1, __ATOMIC_SEQ_CST);
	if (node)
		__atomic_add_fetch(&g_shm->rounds_node, 1, __ATOMIC_SEQ_CST);
	return t->fails ? 1 : 0;
}

/* The supervisor: rounds one after the other, budget operations in all. */
static void unpriv_main(unsigned long budget)
{
	unsigned long done = 0;
	unsigned int round = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Not the parent's files: one kept open here would outlive its slot. */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	while (done < budget) {
		unsigned long n = budget - done < ROUND_OPS ? budget - done : ROUND_OPS;
		pid_t pid = fork();
		int st = 0;

		if (pid == 0)
			_exit(unpriv_round(round, n, -1));
		if (pid < 0) {
			perror("ioctl-fuzz: fork");
			break;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) {
			fprintf(stderr, "ioctl-fuzz: FAIL seed=%llu u%u: the unprivileged child %s %d\n",
				g_seed, round, WIFEXITED(st) ? "exited with" : "was killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			__atomic_add_fetch(&g_shm->fails, 1, __ATOMIC_SEQ_CST);
		}
		done += n;
		round++;
	}
	_exit(0);
}

static int replay_unpriv(unsigned int round, unsigned long idx)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		fflush(stdout);
		_exit(unpriv_round(round, idx + 1, (long)idx));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

/*
 * Retained values outlive the files that published them: clear every one
 * left on ctl's bus (an empty retained publish on its topic), found by a
 * EVBUS_SUB_RETAINED subscription to ">".  Returns how many are left (or
 * -1), *cleared how many were cleared.
 */
static long clear_retained(int ctl, unsigned long *cleared)
{
	static const char all[] = ">";
	static char buf[1u << 20];
	struct evbus_history h;
	int pass;

	for (pass = 0; pass < 8; pass++) {
		struct evbus_subscribe s;
		ssize_t n;
		int fd;

		memset(&h, 0, sizeof(h));
		h.size = sizeof(h);
		if (ioctl(ctl, EVBUS_IOC_HISTORY, &h))
			return -1;
		if (!h.retained)
			return 0;
		fd = open(EVBUS_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		evt_set_ring(fd, g_ring_max < (8u << 20) ? g_ring_max : 8u << 20,
			     EVBUS_POLICY_DROP_NEWEST);
		memset(&s, 0, sizeof(s));
		s.size = sizeof(s);
		s.pattern = (uintptr_t)all;
		s.pattern_len = 1;
		s.flags = EVBUS_SUB_RETAINED;
		if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, &s)) {
			close(fd);
			return -1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			const struct evbus_rec_hdr *rh;
			ssize_t off;

			for (off = 0; off + (ssize_t)sizeof(*rh) <= n; off += rh->len) {
				const struct evbus_event *ev;
				struct evbus_pub p;

				rh = (const void *)(buf + off);
				if (rh->len < sizeof(*rh))
					break;
				if (rh->kind != EVBUS_REC_EVENT)
					continue;
				ev = (const void *)rh;
				if (!(ev->flags & EVBUS_EVENT_RETAINED))
					continue;
				memset(&p, 0, sizeof(p));
				p.topic = (uintptr_t)EVBUS_EVENT_TOPIC(ev);
				p.topic_len = ev->topic_len;
				p.flags = EVBUS_PUB_RETAIN;
				if (!ioctl(ctl, EVBUS_IOC_PUBLISH, &p))
					(*cleared)++;
			}
		}
		close(fd);
	}
	return (long)h.retained;
}

/* The gate's waits as found (#16); passes ret through. */
static int gate_params_back(int ret)
{
	if (g_appr_max0[0])
		param_set(APPR_MAX_PARAM, g_appr_max0);
	if (g_appr_timeout0[0])
		param_set(APPR_TIMEOUT_PARAM, g_appr_timeout0);
	if (g_rate_wait0[0])
		param_set(RATE_WAIT_PARAM, g_rate_wait0);
	if (g_lossless0[0])
		param_set(LOSSLESS_PARAM, g_lossless0);
	return ret;
}

int main(int argc, char **argv)
{
	struct th *workers[MAX_WORKERS], *racers[NRACERS] = { 0 };
	long long before[NSTATS], after[NSTATS], buses0, buses1 = -1;
	unsigned long total_ops = 0, results = 0, fails = 0, last = ~0ul;
	unsigned long hist[ERRNO_MAX + 1] = { 0 }, cmd_ok[C_N + 1] = { 0 }, cmd_err[C_N + 1] = { 0 };
	unsigned long feat[F_N] = { 0 };
	struct evbus_version v;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t block;
	int i, e, ctl, replay_w = -1, nuring = 0, nabandoned = 0, replay_u = -1;
	unsigned long replay_i = 0, child_fails = 0;
	double t_end, t_usr1 = 0;
	unsigned long usr1_ticks = 0;
	struct evbus_bus_stats gate_bs;
	static struct psnap found;
	struct evbus_policy_set ps;
	pthread_mutexattr_t ma;
	pid_t child = 0;
	size_t s;
	bool ok, owner, have_found;
	unsigned long retained_cleared = 0, rate_removed = 0;
	uint64_t hist_capacity1 = 0;
	long long rate_users0 = -1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--calls") && i + 1 < argc)
			g_calls = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--seed") && i + 1 < argc)
			g_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(a, "--threads") && i + 1 < argc)
			g_nworkers = atoi(argv[++i]);
		else if (!strcmp(a, "--hang") && i + 1 < argc)
			g_hang = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(a, "--no-race"))
			g_race = false;
		else if (!strcmp(a, "--no-uring"))
			g_use_uring = false;
		else if (!strcmp(a, "--no-uring-async-link"))
			g_uring_async = false;
		else if (!strcmp(a, "--no-unpriv"))
			g_unpriv = false;
		else if (!strcmp(a, "--replay") && i + 1 < argc &&
			 (sscanf(argv[i + 1], "w%d:%lu", &replay_w, &replay_i) == 2 ||
			  sscanf(argv[i + 1], "u%d:%lu", &replay_u, &replay_i) == 2))
			i++;
		else
			usage();
	}
	if (g_nworkers < 1 || g_nworkers > MAX_WORKERS || !g_hang ||
	    (replay_w >= 0 && replay_w >= g_nworkers))
		usage();
	clock_gettime(CLOCK_MONOTONIC, &g_t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	errok_init();
	g_pid = getpid();
	g_shm = xmmap(NULL, sizeof(*g_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&g_shm->policy_lock, &ma);

	if (access(EVBUS_DEV, F_OK)) {
		printf("ioctl-fuzz: SKIP: no %s (run it in the VM: tests/vm/run -- %s)\n",
		       EVBUS_DEV, argv[0]);
		return 4;
	}
	if (!read_stats(before)) {
		fprintf(stderr, "ioctl-fuzz: cannot read /sys/kernel/evbus/stats\n");
		return 2;
	}

	/* Limits for the generators. */
	ctl = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
	memset(&v, 0, sizeof(v));
	if (ctl < 0 || ioctl(ctl, EVBUS_IOC_VERSION, &v)) {
		perror("ioctl-fuzz: EVBUS_IOC_VERSION");
		return 2;
	}
	g_max_payload = v.max_payload;
	g_ring_max = v.ring_max;
	g_max_subs = v.max_subs;
	param_get(USER_SUBS_PARAM, g_user_subs0, sizeof(g_user_subs0));
	param_get(MAX_RULES_PARAM, g_max_rules0, sizeof(g_max_rules0));
	param_get(USER_RETAINED_PARAM, g_user_retained0, sizeof(g_user_retained0));
	/* The gate (#16): short waits while the fuzzer runs, put back at the end. */
	param_get(APPR_TIMEOUT_PARAM, g_appr_timeout0, sizeof(g_appr_timeout0));
	param_get(APPR_MAX_PARAM, g_appr_max0, sizeof(g_appr_max0));
	param_get(USER_APPROVERS_PARAM, g_user_approvers0, sizeof(g_user_approvers0));
	{
		char val[16];

		snprintf(val, sizeof(val), "%d", GATE_TIMEOUT_MS);
		param_set(APPR_TIMEOUT_PARAM, val);
		snprintf(val, sizeof(val), "%d", GATE_MAX_MS);
		param_set(APPR_MAX_PARAM, val);
		/* #17: short waits for tokens and for lossless readers too */
		param_get(RATE_WAIT_PARAM, g_rate_wait0, sizeof(g_rate_wait0));
		param_get(LOSSLESS_PARAM, g_lossless0, sizeof(g_lossless0));
		snprintf(val, sizeof(val), "%d", RATE_WAIT_MS);
		param_set(RATE_WAIT_PARAM, val);
		snprintf(val, sizeof(val), "%d", LOSSLESS_MS);
		param_set(LOSSLESS_PARAM, val);
		param_get(LOSSLESS_PARAM, val, sizeof(val));
		if (val[0])
			g_lossless_max_ns = strtoull(val, NULL, 0) * 1000000;
	}
	{
		char val[32];

		param_get(HIST_MAX_PARAM, val, sizeof(val));
		if (val[0])
			g_hist_max = strtoull(val, NULL, 0);
		param_get(HIST_BYTES_PARAM, val, sizeof(val));
		if (val[0])
			g_hist_default = strtoull(val, NULL, 0);
	}
	g_bus_id = bus_of(ctl);
	g_ipc_ino = ipc_ino_now();
	/* With ctl open this namespace's bus exists (and stays: the table's). */
	buses0 = evt_read_num("/sys/kernel/evbus/stats/buses");
	/* The policy as found, put back at the end; and are we its owner? */
	have_found = policy_snap(ctl, &found);
	memset(&ps, 0, sizeof(ps));
	ps.op = EVBUS_POLICY_OP_DEFAULT;
	ps.verdict = have_found ? found.deflt : EVBUS_ALLOW;
	owner = have_found && !ioctl(ctl, EVBUS_IOC_POLICY_SET, &ps);
	if (have_found && (found.total || found.deflt != EVBUS_ALLOW))
		printf("ioctl-fuzz: note: the bus has a policy (%u rules, default %s): put back at the end\n",
		       found.total, found.deflt == EVBUS_DENY ? "deny" : "allow");
	/* #17: the user limits the bus has; those the fuzzer may set go at the end. */
	{
		struct evbus_bus_stats bs;

		if (!evt_bus_stats(ctl, &bs))
			rate_users0 = (long long)bs.rate_users;
		if (rate_users0 > 0)
			printf("ioctl-fuzz: note: the bus has %lld user rate limit(s)\n", rate_users0);
	}

	/* Slots live at high, fixed numbers nothing else gets. */
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 256) {
		fprintf(stderr, "ioctl-fuzz: RLIMIT_NOFILE too low\n");
		return 2;
	}
	g_slot_base = rl.rlim_cur > 1024 ? 900 : (int)rl.rlim_cur - 2 * NSLOTS - 8;
	g_noacc = xmmap(NULL, NOACC_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	/* A replay has no reopener to vary the modes: O_RDWR everywhere. */
	for (i = 0; i < NSLOTS; i++) {
		open_slot(i, replay_w >= 0 || i % 4 == 0 || i % 4 == 3 ? O_RDWR :
			     i % 4 == 1 ? O_RDONLY : O_WRONLY);
		g_slot_owner[i] = owner;
		g_slot_bus[i] = g_bus_id;
		g_slot_ino[i] = g_ipc_ino;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < g_nworkers; i++) {
		char name[12];

		snprintf(name, sizeof(name), "w%d", i);
		workers[i] = new_th(name, i, true, (uint64_t)i);
		workers[i]->budget = g_calls / (unsigned long)g_nworkers +
				     ((unsigned long)i < g_calls % (unsigned long)g_nworkers);
	}
	if (replay_w >= 0)
		return gate_params_back(replay(replay_w, replay_i));
	if (replay_u >= 0)
		return gate_params_back(replay_unpriv((unsigned int)replay_u, replay_i));
	if (g_unpriv && geteuid())
		g_unpriv = false;	/* it needs root to set itself up */

	printf("ioctl-fuzz: seed %llu, %lu calls over %d workers%s%s, max_payload %u ring_max %u max_subs %u\n",
	       g_seed, g_calls, g_nworkers, g_race ? " + 8 racers" : "",
	       g_unpriv ? " + an unprivileged child" : "", g_max_payload, g_ring_max, g_max_subs);

	/* The unprivileged child, forked while this process has one thread. */
	if (g_unpriv) {
		child = fork();
		if (child == 0)
			unpriv_main(g_calls / 8 ? g_calls / 8 : 1);
		if (child < 0) {
			perror("ioctl-fuzz: fork");
			return 2;
		}
	}

	if (g_race) {
		static const char *const rn[NRACERS] = { "reopen", "unsub", "reader0", "reader1",
							 "appr0", "appr1", "ask0", "ask1" };

		for (i = 0; i < NRACERS; i++)
			racers[i] = new_th(rn[i], i < 2 ? 0 : i % 2, false, 1000 + (uint64_t)i);
		racers[2]->priv_fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
		if (racers[2]->priv_fd < 0 || evt_sub(racers[2]->priv_fd, ">") < 0) {
			perror("ioctl-fuzz: reader file");
			return 2;
		}
		for (i = 2; i < NRACERS; i++)
			racers[i]->rbuf = xmmap(NULL, 1u << 20, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1);
	}

	/* Only the main thread takes SIGALRM. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	g_workers_left = g_nworkers;
	for (i = 0; i < g_nworkers; i++)
		if (pthread_create(&workers[i]->tid, NULL, worker_main, workers[i])) {
			perror("ioctl-fuzz: pthread_create");
			return 2;
		}
	static void *(*const racer_fn[NRACERS])(void *) = {
		reopen_main, unsub_main, reader_main, reader_main,
		appr_main, appr_main, asker_main, asker_main,
	};
	for (i = 0; g_race && i < NRACERS; i++)
		if (pthread_create(&racers[i]->tid, NULL, racer_fn[i], racers[i])) {
			perror("ioctl-fuzz: pthread_create");
			return 2;
		}
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);

	/* Watch progress; poke the blocked readers; stop the racers at the end. */
	alarm(g_hang);
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		unsigned long prog = 0;
		int left = __atomic_load_n(&g_workers_left, __ATOMIC_SEQ_CST);

		/* Workers and the child: readers woken by SIGUSR1 are no progress. */
		for (i = 0; i < g_nth; i++)
			if (g_th[i]->worker)
				prog += __atomic_load_n(&g_th[i]->results, __ATOMIC_RELAXED);
		prog += __atomic_load_n(&g_shm->progress, __ATOMIC_RELAXED);
		if (prog != last) {
			last = prog;
			alarm(g_hang);
		}
		if (child > 0) {
			int st = 0;

			if (waitpid(child, &st, WNOHANG) == child) {
				child = 0;
				if (!WIFEXITED(st) || WEXITSTATUS(st)) {
					fprintf(stderr, "ioctl-fuzz: FAIL: the unprivileged child %s %d\n",
						WIFEXITED(st) ? "exited with" : "was killed by signal",
						WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
					child_fails++;
				}
			}
		}
		if (!left && child <= 0)
			break;
		if (g_race && now_s() - t_usr1 > 0.02) {
			t_usr1 = now_s();
			pthread_kill(racers[2]->tid, SIGUSR1);
			pthread_kill(racers[3]->tid, SIGUSR1);
			/* The askers less often: some asks wait their whole deadline. */
			if (++usr1_ticks % 3 == 0)
				pthread_kill(racers[6 + usr1_ticks / 3 % 2]->tid, SIGUSR1);
		}
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < g_nworkers; i++)
		pthread_join(workers[i]->tid, NULL);
	__atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
	if (g_race) {
		evt_pub(ctl, "fuzz.stop", "bye");
		for (i = 0; i < NRACERS; i++) {
			while (pthread_tryjoin_np(racers[i]->tid, NULL) == EBUSY) {
				struct timespec ts = { 0, 2 * 1000 * 1000 };

				pthread_kill(racers[i]->tid, SIGUSR1);
				nanosleep(&ts, NULL);
			}
			alarm(g_hang);
		}
		close(racers[2]->priv_fd);
	}
	alarm(0);
	t_end = now_s();

	for (i = 0; i < g_nworkers; i++) {
		nuring += workers[i]->uring_gen;
		nabandoned += workers[i]->uring_gen && !workers[i]->uring;
	}
	for (i = 0; i < NSLOTS; i++)
		close(slot_fd(i));
	if (g_user_subs0[0])
		user_subs_set(g_user_subs0);
	if (g_max_rules0[0])
		param_set(MAX_RULES_PARAM, g_max_rules0);
	if (g_user_retained0[0])
		param_set(USER_RETAINED_PARAM, g_user_retained0);
	if (g_user_approvers0[0])
		param_set(USER_APPROVERS_PARAM, g_user_approvers0);
	/* Leave the bus as found: no rules, default allow (or what it had). */
	memset(&ps, 0, sizeof(ps));
	ps.op = EVBUS_POLICY_OP_CLEAR;
	if (owner && ioctl(ctl, EVBUS_IOC_POLICY_SET, &ps)) {
		fprintf(stderr, "ioctl-fuzz: FAIL: clearing the policy at the end: %s\n", strerror(errno));
		child_fails++;
	}
	/* No user limit of the fuzzer's left behind (#17). */
	if (owner) {
		struct evbus_bus_stats bs;
		size_t k;

		for (k = 0; k <= N_OF(rate_uids); k++) {
			bool all = k == N_OF(rate_uids);
			int re = rate_user(ctl, all ? EVBUS_WHO_ALL : EVBUS_WHO_UID,
					   all ? 0 : rate_uids[k], NULL);

			if (!re) {
				rate_removed++;
			} else if (re != ENOENT) {
				fprintf(stderr, "ioctl-fuzz: FAIL: removing the rate limit of %s at the end: %s\n",
					all ? "everyone" : "a uid", strerror(re));
				child_fails++;
			}
		}
		if (rate_users0 >= 0 && (evt_bus_stats(ctl, &bs) ||
					 (long long)bs.rate_users != rate_users0)) {
			fprintf(stderr, "ioctl-fuzz: FAIL: the bus has %lld user rate limit(s) at the end, %lld at the start\n",
				(long long)bs.rate_users, rate_users0);
			child_fails++;
		}
	}
	/* No retained value left behind, and the history of a new bus (#15). */
	if (owner) {
		long left = clear_retained(ctl, &retained_cleared);
		struct evbus_history h;

		if (left)
			fprintf(stderr, "ioctl-fuzz: note: %ld retained value(s) could not be cleared\n",
				left);
		memset(&h, 0, sizeof(h));
		h.size = sizeof(h);
		h.flags = EVBUS_HISTORY_SET;
		h.capacity = g_hist_default;
		if (ioctl(ctl, EVBUS_IOC_HISTORY, &h)) {
			fprintf(stderr, "ioctl-fuzz: FAIL: setting the history back to %llu bytes: %s\n",
				(unsigned long long)g_hist_default, strerror(errno));
			child_fails++;
		} else if (h.capacity != hist_size_of(g_hist_default) || h.events) {
			fprintf(stderr, "ioctl-fuzz: FAIL: the history set back to %llu bytes reports capacity %llu with %llu events\n",
				(unsigned long long)g_hist_default, (unsigned long long)h.capacity,
				(unsigned long long)h.events);
			child_fails++;
		}
		hist_capacity1 = h.capacity;
	}
	for (i = 0; owner && have_found && i < (int)found.count; i++) {
		struct evbus_rule ru = {
			.pattern = (uintptr_t)found.r[i].pattern, .pattern_len = found.r[i].pattern_len,
			.verdict = found.r[i].verdict, .rights = found.r[i].rights,
			.who = found.r[i].who, .id_value = found.r[i].id_value,
		};

		if (ioctl(ctl, EVBUS_IOC_POLICY_ADD, &ru))
			perror("ioctl-fuzz: putting back a rule");
	}
	if (owner && have_found && found.deflt == EVBUS_DENY) {
		ps.op = EVBUS_POLICY_OP_DEFAULT;
		ps.verdict = EVBUS_DENY;
		if (ioctl(ctl, EVBUS_IOC_POLICY_SET, &ps))
			perror("ioctl-fuzz: putting back the default");
	}
	/*
	 * The gate (#16): every approver went with its file, and no request is
	 * left pending (io_uring lets go of its files from a work item, and an
	 * abandoned ring's asks end at their deadlines: allow a moment).
	 */
	for (i = 0; i < 200; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (evt_bus_stats(ctl, &gate_bs)) {
			gate_bs.approvers = gate_bs.approval_pending = ~0ULL;
			break;
		}
		if (!gate_bs.approvers && !gate_bs.approval_pending)
			break;
		nanosleep(&ts, NULL);
	}
	if (gate_bs.approvers || gate_bs.approval_pending) {
		fprintf(stderr, "ioctl-fuzz: FAIL: the bus has %lld approver(s) and %lld request(s) pending after every file closed\n",
			(long long)gate_bs.approvers, (long long)gate_bs.approval_pending);
		child_fails++;
	}
	gate_params_back(0);
	close(ctl);

	/* Every file is closed: the global gauges must come back (io_uring
	 * drops its file references from a work item, so allow a moment). */
	for (i = 0; i < 200; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (!read_stats(after))
			break;
		if (!memcmp(before, after, sizeof(before)))
			break;
		nanosleep(&ts, NULL);
	}
	/* The child's IPC namespaces are gone: their buses go too, once the
	 * collector (every 5 s) sees it. */
	for (i = 0; buses0 >= 0 && i < 300; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		buses1 = evt_read_num("/sys/kernel/evbus/stats/buses");
		if (buses1 <= buses0)
			break;
		nanosleep(&ts, NULL);
	}
	if (buses0 >= 0 && buses1 > buses0) {
		fprintf(stderr, "ioctl-fuzz: FAIL: /sys/kernel/evbus/stats/buses is %lld 30 s after the run, %lld before\n",
			buses1, buses0);
		child_fails++;
	}
	for (i = 0; i < g_nth; i++) {
		total_ops += g_th[i]->worker ? g_th[i]->ops : 0;
		results += g_th[i]->results;
		fails += g_th[i]->fails;
		for (e = 0; e <= ERRNO_MAX; e++)
			hist[e] += g_th[i]->hist[e];
		for (e = 0; e <= C_N; e++) {
			cmd_ok[e] += g_th[i]->cmd_ok[e];
			cmd_err[e] += g_th[i]->cmd_err[e];
		}
		for (e = 0; e < F_N; e++)
			feat[e] += g_th[i]->feat[e];
	}
	for (e = 0; e < F_N; e++)
		feat[e] += g_shm->feat[e];
	for (e = 0; e <= C_N; e++) {
		cmd_ok[e] += g_shm->cmd_ok[e];
		cmd_err[e] += g_shm->cmd_err[e];
	}
	results += g_shm->results;
	fails += g_shm->fails + child_fails;
	for (e = 0; e <= ERRNO_MAX; e++)
		hist[e] += g_shm->hist[e];
	ok = read_stats(after);
	printf("ioctl-fuzz: %lu operations in %.1f s (%.0f/s), io_uring %s",
	       total_ops, t_end, total_ops / (t_end > 0 ? t_end : 1),
	       nuring ? "used" : "unavailable");
	if (nabandoned)
		printf(" (%d of %d rings given up after a failure)", nabandoned, nuring);
	printf("; racers:");
	for (i = 0; g_race && i < NRACERS; i++)
		printf(" %s %lu", racers[i]->name, racers[i]->ops);
	if (g_unpriv)
		printf("\nioctl-fuzz: unprivileged child (uid %d): %lu operations in %lu rounds, %lu in a new IPC namespace, %lu owning a bus of its own, %lu with a device node of its own; %lu EPERM",
		       UNPRIV_ID, g_shm->ops, g_shm->rounds, g_shm->rounds_ipc, g_shm->rounds_userns,
		       g_shm->rounds_node, g_shm->eperm);
	printf("\nioctl-fuzz: results:");
	for (e = 0; e <= ERRNO_MAX; e++)
		if (hist[e])
			printf(" %s %lu", e == ERRNO_MAX ? "other" : e ? errname(e) : "ok", hist[e]);
	printf("\nioctl-fuzz: per command, succeeded/failed:");
	for (e = 0; e <= C_N; e++)
		printf(" %s %lu/%lu", evcmd[e].name, cmd_ok[e], cmd_err[e]);
	printf("\nioctl-fuzz: history and retained values (#15):");
	for (e = 0; e < F_GATE0; e++)
		printf("%s %s %lu", e ? "," : "", feat_name[e], feat[e]);
	printf("\nioctl-fuzz: approval gate (#16):");
	for (e = F_GATE0; e < F_WILL_ARM; e++)
		printf("%s %s %lu", e > F_GATE0 ? "," : "", feat_name[e], feat[e]);
	printf("\nioctl-fuzz: last wills (#17):");
	for (e = F_WILL_ARM; e < F_RATE0; e++)
		printf("%s %s %lu", e > F_WILL_ARM ? "," : "", feat_name[e], feat[e]);
	printf("\nioctl-fuzz: rate limits and lossless rings (#17):");
	for (e = F_RATE0; e < F_N; e++)
		printf("%s %s %lu", e > F_RATE0 ? "," : "", feat_name[e], feat[e]);
	printf("\nioctl-fuzz: rate and lossless counters (sysfs):");
	{
		static const char *const rl[] = {
			"rate_refused_file", "rate_refused_user", "rate_waited", "rate_interrupted",
			"rate_users", "lossless_waits", "lossless_expired", "lossless_foreign",
		};
		char path[96];

		for (s = 0; s < N_OF(rl); s++) {
			snprintf(path, sizeof(path), "/sys/kernel/evbus/stats/%s", rl[s]);
			printf("%s %s %lld", s ? "," : "", rl[s], evt_read_num(path));
		}
	}
	printf("\nioctl-fuzz: gate at the end: %llu approvers, %llu pending, asked %llu, requests %llu, allowed %llu (modified %llu), denied %llu, expired %llu, gone %llu, full %llu, withdrawn %llu, nobody %llu",
	       (unsigned long long)gate_bs.approvers, (unsigned long long)gate_bs.approval_pending,
	       (unsigned long long)gate_bs.approval_asked, (unsigned long long)gate_bs.approval_requests,
	       (unsigned long long)gate_bs.approval_allowed, (unsigned long long)gate_bs.approval_modified,
	       (unsigned long long)gate_bs.approval_denied, (unsigned long long)gate_bs.approval_expired,
	       (unsigned long long)gate_bs.approval_gone, (unsigned long long)gate_bs.approval_full,
	       (unsigned long long)gate_bs.approval_withdrawn, (unsigned long long)gate_bs.approval_nobody);
	printf("\nioctl-fuzz: stats before -> after:");
	for (s = 0; s < NSTATS; s++) {
		printf(" %s %lld->%lld", stat_names[s], before[s], ok ? after[s] : -1);
		if (!ok || before[s] != after[s]) {
			fprintf(stderr, "ioctl-fuzz: FAIL: /sys/kernel/evbus/stats/%s is %lld after the run, %lld before\n",
				stat_names[s], ok ? after[s] : -1, before[s]);
			fails++;
		}
	}
	if (buses0 >= 0)
		printf(" buses %lld->%lld", buses0, buses1);
	if (owner)
		printf("\nioctl-fuzz: history: %lu retained value(s) cleared, capacity set back to %llu; %lu user rate limit(s) removed",
		       retained_cleared, (unsigned long long)hist_capacity1, rate_removed);
	printf("\n");
	printf("ioctl-fuzz: %lu passed, %lu failed\n", results - (fails < results ? fails : results), fails);
	return fails ? 1 : 0;
}
