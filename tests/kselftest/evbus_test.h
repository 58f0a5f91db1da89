/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the evbus kselftests: raw ioctl wrappers (the tests
 * exercise the ABI directly, not through libevbus) and record walking.
 */
#ifndef EVBUS_TEST_H
#define EVBUS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/evbus.h>

#define EVBUS_DEV	"/dev/evbus"

_Static_assert(sizeof(struct evbus_version) == 64, "evbus_version");
_Static_assert(sizeof(struct evbus_sub) == 24, "evbus_sub");
_Static_assert(sizeof(struct evbus_pub) == 72, "evbus_pub");
_Static_assert(sizeof(struct evbus_pub_batch) == 56, "evbus_pub_batch");
_Static_assert(sizeof(struct evbus_ring_cfg) == 32, "evbus_ring_cfg");
_Static_assert(sizeof(struct evbus_stats) == 96, "evbus_stats");
_Static_assert(sizeof(struct evbus_event) == 80, "evbus_event");
_Static_assert(sizeof(struct evbus_lagged) == 40, "evbus_lagged");

static inline int evt_open(void)
{
	return open(EVBUS_DEV, O_RDWR | O_CLOEXEC);
}

static inline int evt_open_nb(void)
{
	return open(EVBUS_DEV, O_RDWR | O_CLOEXEC | O_NONBLOCK);
}

/* Subscribe; returns the id (> 0) or -errno. */
static inline int evt_sub(int fd, const char *pattern)
{
	struct evbus_sub s;

	memset(&s, 0, sizeof(s));
	s.pattern = (uintptr_t)pattern;
	s.pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE, &s))
		return -errno;
	return (int)s.sub_id;
}

static inline int evt_unsub(int fd, uint32_t id)
{
	return ioctl(fd, EVBUS_IOC_UNSUBSCRIBE, &id) ? -errno : 0;
}

/* Publish; returns the sequence number (> 0) or -errno. */
static inline int64_t evt_pub_full(int fd, const char *topic, const void *data,
				   size_t len, uint32_t type, uint64_t corr,
				   uint64_t parent)
{
	struct evbus_pub p;

	memset(&p, 0, sizeof(p));
	p.topic = (uintptr_t)topic;
	p.topic_len = strlen(topic);
	p.payload = (uintptr_t)data;
	p.payload_len = len;
	p.type = type;
	p.corr = corr;
	p.parent = parent;
	if (ioctl(fd, EVBUS_IOC_PUBLISH, &p))
		return -errno;
	return (int64_t)p.seq;
}

static inline int64_t evt_pub(int fd, const char *topic, const char *text)
{
	return evt_pub_full(fd, topic, text, text ? strlen(text) : 0, 0, 0, 0);
}

static inline int evt_set_ring(int fd, uint32_t size, uint32_t policy)
{
	struct evbus_ring_cfg c;

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.policy = policy;
	return ioctl(fd, EVBUS_IOC_SET_RING, &c) ? -errno : 0;
}

static inline int evt_stats(int fd, struct evbus_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, EVBUS_IOC_STATS, st) ? -errno : 0;
}

/* Write text to path (a sysfs or proc file): 0, or -errno (-EIO if short). */
static inline int evt_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return n;
}

/* The number in a sysfs file (a counter or a parameter), or -1. */
static inline long long evt_read_num(const char *path)
{
	char buf[64] = {};
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 0);
	fclose(f);
	return v;
}

/* Module parameters (root may change them at run time). */
#define EVT_PARAM_DIR	"/sys/module/evbus/parameters/"

/* Read parameter name as a number: 0, or -errno (-ENOENT: no such param). */
static inline int evt_param_get(const char *name, unsigned long long *val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EVT_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	*val = strtoull(buf, NULL, 0);
	return 0;
}

/* Write parameter name: 0, or -errno (the module's validation, -ENOENT). */
static inline int evt_param_set(const char *name, unsigned long long val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EVT_PARAM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%llu", val);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, strlen(buf));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline int evt_version(int fd, struct evbus_version *v)
{
	memset(v, 0, sizeof(*v));
	return ioctl(fd, EVBUS_IOC_VERSION, v) ? -errno : 0;
}

/* Walk the records in buf[0..len); returns the number of records. */
#define evt_for_each_rec(h, buf, len, left)				\
	for (left = (len), h = (struct evbus_rec_hdr *)(buf);		\
	     EVBUS_REC_OK(h, (size_t)left);				\
	     h = EVBUS_REC_NEXT(h, left))

/*
 * ================ policy, ipc namespaces, $sys (#13) ================
 * Helpers for ipcns.c, policy.c and systopics.c, kept in one block so
 * that parallel additions to this header merge.
 */
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

_Static_assert(sizeof(struct evbus_subscribe) == EVBUS_SUBSCRIBE_SIZE_VER1,
	       "evbus_subscribe");
_Static_assert(EVBUS_SUBSCRIBE_SIZE_VER1 == 72, "EVBUS_SUBSCRIBE_SIZE_VER1");
_Static_assert(sizeof(struct evbus_history) == EVBUS_HISTORY_SIZE_VER0,
	       "evbus_history");
_Static_assert(sizeof(struct evbus_bus_stats) == EVBUS_BUS_STATS_SIZE_VER2,
	       "evbus_bus_stats");
_Static_assert(sizeof(struct evbus_rule) == 40, "evbus_rule");
_Static_assert(sizeof(struct evbus_pub) == 72, "evbus_pub");
_Static_assert(sizeof(struct evbus_approver) == 32, "evbus_approver");
_Static_assert(sizeof(struct evbus_verdict) == EVBUS_VERDICT_SIZE_VER0,
	       "evbus_verdict");
_Static_assert(sizeof(struct evbus_request) == 40, "evbus_request");
_Static_assert(sizeof(struct evbus_cancelled) == 24, "evbus_cancelled");
_Static_assert(sizeof(struct evbus_will) == EVBUS_WILL_SIZE_VER0, "evbus_will");
_Static_assert(sizeof(struct evbus_sys_approval) == 24, "evbus_sys_approval");
_Static_assert(sizeof(struct evbus_policy_set) == 24, "evbus_policy_set");
_Static_assert(sizeof(struct evbus_rule_info) == 280, "evbus_rule_info");
_Static_assert(sizeof(struct evbus_policy_list) == 32, "evbus_policy_list");
_Static_assert(sizeof(struct evbus_revoked) == 24, "evbus_revoked");
_Static_assert(sizeof(struct evbus_sys_file) == 8, "evbus_sys_file");
_Static_assert(sizeof(struct evbus_sys_denied) == 24, "evbus_sys_denied");

#define EVT_STATS_DIR	"/sys/kernel/evbus/stats/"

/* A global (sysfs) counter by name, or -1. */
static inline long long evt_sysfs_stat(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), EVT_STATS_DIR "%s", name);
	return evt_read_num(path);
}

/* EVBUS_IOC_BUS_STATS at this header's size: 0 or -errno. */
static inline int evt_bus_stats(int fd, struct evbus_bus_stats *bs)
{
	memset(bs, 0, sizeof(*bs));
	bs->size = sizeof(*bs);
	return ioctl(fd, EVBUS_IOC_BUS_STATS, bs) ? -errno : 0;
}

/* EVBUS_IOC_POLICY_ADD: the new rule's id (> 0), or -errno. */
static inline int evt_policy_add(int fd, uint32_t verdict, uint32_t rights,
				 uint32_t who, uint32_t id_value,
				 const char *pattern, uint32_t flags)
{
	struct evbus_rule r;

	memset(&r, 0, sizeof(r));
	r.pattern = (uintptr_t)pattern;
	r.pattern_len = strlen(pattern);
	r.verdict = verdict;
	r.rights = rights;
	r.who = who;
	r.id_value = id_value;
	r.flags = flags;
	if (ioctl(fd, EVBUS_IOC_POLICY_ADD, &r))
		return -errno;
	return (int)r.id;
}

/* EVBUS_IOC_POLICY_SET: 0 or -errno. */
static inline int evt_policy_set(int fd, uint32_t op, uint32_t verdict,
				 uint32_t id, uint32_t flags)
{
	struct evbus_policy_set ps;

	memset(&ps, 0, sizeof(ps));
	ps.op = op;
	ps.verdict = verdict;
	ps.id = id;
	ps.flags = flags;
	return ioctl(fd, EVBUS_IOC_POLICY_SET, &ps) ? -errno : 0;
}

static inline int evt_policy_default(int fd, uint32_t verdict)
{
	return evt_policy_set(fd, EVBUS_POLICY_OP_DEFAULT, verdict, 0, 0);
}

static inline int evt_policy_remove(int fd, uint32_t id)
{
	return evt_policy_set(fd, EVBUS_POLICY_OP_REMOVE, 0, id, 0);
}

static inline int evt_policy_clear(int fd)
{
	return evt_policy_set(fd, EVBUS_POLICY_OP_CLEAR, 0, 0, 0);
}

/*
 * EVBUS_IOC_POLICY_LIST into ri[0..room) from start_id; *pl gets what the
 * kernel wrote back.  0 or -errno.
 */
static inline int evt_policy_list(int fd, struct evbus_rule_info *ri,
				  uint32_t room, uint32_t start_id,
				  struct evbus_policy_list *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->rules = (uintptr_t)ri;
	pl->count = room;
	pl->start_id = start_id;
	return ioctl(fd, EVBUS_IOC_POLICY_LIST, pl) ? -errno : 0;
}

/* The number on fd's fdinfo line "KEY:\t<number>", or -1 without one. */
static inline long long evt_fdinfo_num(int fd, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':' &&
		    line[klen + 1] == '\t')
			v = strtoll(line + klen + 2, NULL, 10);
	fclose(f);
	return v;
}

/* The evbus-id of an open evbus file (its fdinfo), or -1. */
static inline long long evt_file_id(int fd)
{
	return evt_fdinfo_num(fd, "evbus-id");
}

/* Is fd still catching up from the history (fdinfo)?  1, 0, or -1. */
static inline int evt_replaying(int fd)
{
	return (int)evt_fdinfo_num(fd, "evbus-replaying");
}

/* The inode number of the calling process's IPC namespace, or 0. */
static inline uint64_t evt_ipc_ns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/ipc", &st) ? 0 : (uint64_t)st.st_ino;
}

/*
 * Open the device where a new bus may have to be created.  A user at
 * max_user_buses gets the buses of its dead namespaces freed at once, so
 * tests that make many namespaces one after another never see EMFILE for
 * namespaces that are gone.  An fd, or -errno.
 */
static inline int evt_open_bus(void)
{
	int fd = evt_open();

	return fd >= 0 ? fd : -errno;
}

/* Move the calling process to a new IPC namespace, so a new, empty bus. */
static inline int evt_new_ipc_ns(void)
{
	return unshare(CLONE_NEWIPC) ? -errno : 0;
}

/* A user to become: uid, gid and supplementary groups. */
struct evt_ids {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

/* Drop every privilege and become ids (all of real, effective, saved). */
static inline int evt_become(const struct evt_ids *ids)
{
	if (setgroups(ids->ngroups, ids->groups) ||
	    setresgid(ids->gid, ids->gid, ids->gid) ||
	    setresuid(ids->uid, ids->uid, ids->uid))
		return -errno;
	return 0;
}

/* Exit status of pid (128 + signal if killed), or -1. */
static inline int evt_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Zeroed memory shared with forked children (for their results). */
static inline void *evt_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Send fd (and an int) over a Unix socket: 0 or -errno. */
static inline int evt_send_fd(int sock, int fd, int val)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &val, .iov_len = sizeof(val) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, 0) == sizeof(val) ? 0 : -errno;
}

/* Receive what evt_send_fd() sent: the fd (or -1 if none), *val the int. */
static inline int evt_recv_fd(int sock, int *val)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = val, .iov_len = sizeof(*val) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd = -1;

	*val = -1;
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != sizeof(*val))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * /dev/evbus opened O_RDWR by a child process running as ids, in the
 * caller's namespaces, and passed back: the file carries ids' credentials
 * (every policy check uses them), whoever then uses it.  An fd, or -errno
 * (the child's open() error; -EPROTO if the child broke).
 */
static inline int evt_open_as(const struct evt_ids *ids)
{
	int sv[2], fd, val = 0, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(sv[0]);
		if (evt_become(ids))
			_exit(evt_send_fd(sv[1], -1, -EPROTO) ? 3 : 2);
		fd = evt_open();
		_exit(evt_send_fd(sv[1], fd, fd < 0 ? -errno : 0) ? 3 : 0);
	}
	close(sv[1]);
	fd = evt_recv_fd(sv[0], &val);
	close(sv[0]);
	st = evt_wait(pid);
	if (fd >= 0 && (val || st)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return val < 0 ? val : -EPROTO;
	return fd;
}

/*
 * Read every record queued on fd now (it is not left non-blocking):
 * returns the bytes read into buf, or -errno.
 */
static inline ssize_t evt_drain(int fd, void *buf, size_t cap)
{
	int fl = fcntl(fd, F_GETFL);
	ssize_t len = 0, n;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	while (cap - len >= 4096) {
		n = read(fd, (char *)buf + len, cap - len);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				len = -errno;
			break;
		}
		len += n;
	}
	fcntl(fd, F_SETFL, fl);
	return len;
}

/* Up to max records of buf[0..len) into rec[]; returns how many there are. */
static inline int evt_records(const void *buf, ssize_t len,
			      const struct evbus_rec_hdr **rec, int max)
{
	struct evbus_rec_hdr *h;
	ssize_t left;
	int n = 0;

	if (len <= 0)
		return 0;
	evt_for_each_rec(h, buf, len, left) {
		if (n < max)
			rec[n] = h;
		n++;
	}
	return n;
}

/* The event record rec as an event, or NULL if it is another kind. */
static inline const struct evbus_event *evt_as_event(const struct evbus_rec_hdr *rec)
{
	return rec && rec->kind == EVBUS_REC_EVENT ? (const void *)rec : NULL;
}

/*
 * The device is 0660 root:root; tests that open it as other users make it
 * 0666 and put the mode they found back (also at exit, see the callers).
 */
static mode_t evt_dev_mode_saved __attribute__((unused)) = (mode_t)-1;

/* Remember the device's mode (call it before changing it): 0 or -errno. */
static inline int evt_dev_save_mode(void)
{
	struct stat st;

	if (evt_dev_mode_saved != (mode_t)-1)
		return 0;
	if (stat(EVBUS_DEV, &st))
		return -errno;
	evt_dev_mode_saved = st.st_mode & 07777;
	return 0;
}

static inline int evt_dev_open_to_all(void)
{
	int ret = evt_dev_save_mode();

	return ret ?: (chmod(EVBUS_DEV, 0666) ? -errno : 0);
}

static inline void evt_dev_restore_mode(void)
{
	if (evt_dev_mode_saved != (mode_t)-1)
		chmod(EVBUS_DEV, evt_dev_mode_saved);
}
/* ================ end of policy, ipc namespaces, $sys ================ */

/* ================================ scoped handles and filters (scope.c, filter.c) */

#include <stddef.h>
#include <sched.h>
#include <time.h>
#include <linux/filter.h>

_Static_assert(sizeof(struct evbus_pattern) == 16, "evbus_pattern");
_Static_assert(sizeof(struct evbus_scope) == 32, "evbus_scope");
_Static_assert(sizeof(struct evbus_subscribe) == EVBUS_SUBSCRIBE_SIZE_VER1,
	       "evbus_subscribe");
_Static_assert(EVBUS_SUBSCRIBE_SIZE_VER1 == 72, "EVBUS_SUBSCRIBE_SIZE_VER1");
_Static_assert(sizeof(struct evbus_history) == EVBUS_HISTORY_SIZE_VER0,
	       "evbus_history");
_Static_assert(EVBUS_SUBSCRIBE_SIZE_VER0 == 56, "EVBUS_SUBSCRIBE_SIZE_VER0");
_Static_assert(sizeof(struct evbus_bus_stats) == EVBUS_BUS_STATS_SIZE_VER2,
	       "evbus_bus_stats");
_Static_assert(sizeof(struct sock_filter) == 8, "sock_filter");
/* The offsets a BPF filter loads from (README, "Filters on a subscription"). */
_Static_assert(offsetof(struct evbus_event, topic_len) == 8, "topic_len");
_Static_assert(offsetof(struct evbus_event, seq) == 16, "seq");
_Static_assert(offsetof(struct evbus_event, pid) == 40, "pid");
_Static_assert(offsetof(struct evbus_event, uid) == 48, "uid");
_Static_assert(offsetof(struct evbus_event, gid) == 52, "gid");
_Static_assert(offsetof(struct evbus_event, type) == 56, "type");
_Static_assert(offsetof(struct evbus_event, corr) == 64, "corr");

/*
 * EVBUS_IOC_SUBSCRIBE2 with *s as given (s->size 0 means sizeof(*s));
 * pattern and pattern_len are filled in.  Returns the id (> 0) or -errno.
 */
static inline int evt_sub2(int fd, const char *pattern, struct evbus_subscribe *s)
{
	if (!s->size)
		s->size = sizeof(*s);
	s->pattern = (uintptr_t)pattern;
	s->pattern_len = strlen(pattern);
	if (ioctl(fd, EVBUS_IOC_SUBSCRIBE2, s))
		return -errno;
	return (int)s->sub_id;
}

/* Subscribe with only a classic BPF program: the id or -errno. */
static inline int evt_sub_bpf(int fd, const char *pattern,
			      const struct sock_filter *prog, uint32_t n)
{
	struct evbus_subscribe s;

	memset(&s, 0, sizeof(s));
	s.flags = EVBUS_SUB_FILTER;
	s.filter = (uintptr_t)prog;
	s.filter_len = n;
	return evt_sub2(fd, pattern, &s);
}

#define EVT_NARROW_ARR	32	/* room for more than EVBUS_SCOPE_MAX */

/*
 * EVBUS_IOC_NARROW to the given publish and subscribe sets (at most
 * EVT_NARROW_ARR each): 0 or -errno.
 */
static inline int evt_narrow(int fd, const char *const *pub, unsigned int npub,
			     const char *const *sub, unsigned int nsub,
			     uint32_t flags)
{
	struct evbus_pattern pp[EVT_NARROW_ARR], sp[EVT_NARROW_ARR];
	struct evbus_scope sc;
	unsigned int i;

	if (npub > EVT_NARROW_ARR || nsub > EVT_NARROW_ARR)
		return -E2BIG;
	memset(pp, 0, sizeof(pp));
	memset(sp, 0, sizeof(sp));
	for (i = 0; i < npub; i++) {
		pp[i].ptr = (uintptr_t)pub[i];
		pp[i].len = strlen(pub[i]);
	}
	for (i = 0; i < nsub; i++) {
		sp[i].ptr = (uintptr_t)sub[i];
		sp[i].len = strlen(sub[i]);
	}
	memset(&sc, 0, sizeof(sc));
	sc.publish = (uintptr_t)pp;
	sc.subscribe = (uintptr_t)sp;
	sc.n_publish = npub;
	sc.n_subscribe = nsub;
	sc.flags = flags;
	return ioctl(fd, EVBUS_IOC_NARROW, &sc) ? -errno : 0;
}

/* Narrow both sets to one pattern each. */
static inline int evt_narrow1(int fd, const char *pub, const char *sub)
{
	return evt_narrow(fd, &pub, 1, &sub, 1, 0);
}

/* The counters of the caller's bus (EVBUS_IOC_BUS_STATS): 0 or -errno. */
static inline int evt_sf_bus_stats(int fd, struct evbus_bus_stats *bs)
{
	memset(bs, 0, sizeof(*bs));
	bs->size = sizeof(*bs);
	return ioctl(fd, EVBUS_IOC_BUS_STATS, bs) ? -errno : 0;
}

/* The lines of fd's fdinfo starting with prefix, concatenated: 0 or -errno. */
static inline int evt_fdinfo_lines(int fd, const char *prefix, char *out,
				   size_t cap)
{
	char path[64], line[512];
	size_t used = 0, plen = strlen(prefix);
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (strncmp(line, prefix, plen))
			continue;
		if (used + n + 1 > cap) {
			fclose(f);
			return -ENOSPC;
		}
		memcpy(out + used, line, n + 1);
		used += n;
	}
	fclose(f);
	return 0;
}

/*
 * The "evbus-scope:" lines of fd's fdinfo, concatenated (the scope as the
 * module shows it; "" for an unscoped file): 0 or -errno.
 */
static inline int evt_scope_text(int fd, char *out, size_t cap)
{
	return evt_fdinfo_lines(fd, "evbus-scope:", out, cap);
}

/*
 * A bus of its own for the calling test process: a new IPC namespace.
 * Call first (the harness runs each test in its own process).  0 or -errno.
 */
static inline int evt_sf_new_bus(void)
{
	return unshare(CLONE_NEWIPC) ? -errno : 0;
}

/*
 * Open a nonblocking file.  The first open in a new IPC namespace creates
 * its bus: EMFILE while root's earlier tests' buses, of namespaces already
 * gone, still count against max_user_buses until the module's collector
 * (which such a failure kicks) drops them; so retry for a while.
 */
static inline int evt_sf_open(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < 300; i++) {
		int fd = open(EVBUS_DEV, O_RDWR | O_CLOEXEC | O_NONBLOCK);

		if (fd >= 0 || errno != EMFILE)
			return fd;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* One event as a test looks at it. */
struct evt_got {
	uint64_t seq;
	uint32_t type, pid, uid, gid, payload_len;
	uint32_t word0;			/* first payload word, or 0 */
	uint64_t corr;
	char topic[EVBUS_TOPIC_MAX + 1];
};

/*
 * Read everything queued on a nonblocking fd.  Stores up to max events in
 * got[] (got may be NULL) and returns how many event records there were,
 * or -errno; *other (may be NULL) gets the number of non-event records.
 */
static inline int evt_sf_drain(int fd, struct evt_got *got, int max, int *other)
{
	static char buf[256 * 1024];
	struct evbus_rec_hdr *h;
	ssize_t n, left;
	int nev = 0;

	if (other)
		*other = 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? nev : -errno;
		if (n == 0)
			return nev;
		evt_for_each_rec(h, buf, n, left) {
			const struct evbus_event *ev = (const void *)h;

			if (h->kind != EVBUS_REC_EVENT) {
				if (other)
					(*other)++;
				continue;
			}
			if (got && nev < max) {
				struct evt_got *g = &got[nev];

				memset(g, 0, sizeof(*g));
				g->seq = ev->seq;
				g->type = ev->type;
				g->pid = ev->pid;
				g->uid = ev->uid;
				g->gid = ev->gid;
				g->payload_len = ev->payload_len;
				g->corr = ev->corr;
				if (ev->payload_len >= 4)
					memcpy(&g->word0, EVBUS_EVENT_PAYLOAD(ev), 4);
				memcpy(g->topic, EVBUS_EVENT_TOPIC(ev), ev->topic_len);
			}
			nev++;
		}
	}
}

/* ========================== end of scoped handles and filters (scope.c, filter.c) */


/* ========================== rate limits and lossless rings (rate.c, lossless.c) */

/* CLOCK_MONOTONIC now, in ns. */
static inline uint64_t evt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * $EVBUS_SLOW (make check-debug sets it): how many times slower the kernel
 * runs everything; liveness bounds are multiplied by it.  At least 1.
 */
static inline unsigned int evt_slow(void)
{
	const char *e = getenv("EVBUS_SLOW");
	int f = e ? atoi(e) : 1;

	return f > 0 ? (unsigned int)f : 1;
}

/* The scheduler state letter (R, S, D, ...) of task tid, or '?'. */
static inline char evt_task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* ========================== end of rate limits and lossless rings (rate.c, lossless.c) */


#endif /* EVBUS_TEST_H */
