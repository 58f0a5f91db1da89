// SPDX-License-Identifier: GPL-2.0
/*
 * A bus per IPC namespace (#13).  Events, sequence numbers and per-bus
 * counters (EVBUS_IOC_BUS_STATS) never cross between namespaces, while the
 * sysfs counters stay totals over every bus; processes that share a
 * namespace (fork, setns) share its bus; a file stays on the bus it was
 * opened on whatever its holder does later; an unprivileged user who
 * creates a user and an IPC namespace owns the new bus only; the buses a
 * user causes are capped (max_user_buses, EMFILE); and a bus, with its
 * policy, lives while its namespace or any file opened on it does.
 *
 * The harness forks each test; the fixture moves that process to a new
 * IPC namespace, so every test starts on a bus of its own ("A" below)
 * and the VM's initial bus is never touched.
 */
#include "evbus_test.h"
#include "kselftest_harness.h"

#define BUF_SIZE	(256 * 1024)
#define BUSES_UID	4243	/* only the max_user_buses test uses it */
#define OTHER_UID	4244
#define NOBODY		65534
#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

/* ------------------------------------------------- saved system state */

static struct {
	pid_t runner;
	int have_max_buses;
	unsigned long long max_buses;
	char userns_clone[8];	/* "" if the sysctl does not exist */
} saved;

static void read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, cap - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
}

static void __attribute__((constructor)) save_state(void)
{
	saved.runner = getpid();
	saved.have_max_buses = !evt_param_get("max_user_buses", &saved.max_buses);
	read_text(USERNS_CLONE, saved.userns_clone, sizeof(saved.userns_clone));
	evt_dev_save_mode();
}

static void restore_state(void)
{
	if (saved.have_max_buses)
		evt_param_set("max_user_buses", saved.max_buses);
	if (saved.userns_clone[0])
		evt_write_text(USERNS_CLONE, saved.userns_clone);
	evt_dev_restore_mode();
}

static void __attribute__((destructor)) restore_at_exit(void)
{
	if (getpid() == saved.runner)
		restore_state();
}

/* Let unprivileged users create user namespaces (Debian's switch). */
static int allow_userns(void)
{
	if (access("/proc/self/ns/user", F_OK))
		return -EOPNOTSUPP;
	if (saved.userns_clone[0] == '0')
		return evt_write_text(USERNS_CLONE, "1");
	return 0;
}

/* ------------------------------------------------------------ helpers */

FIXTURE(ipcns) {
	int own;		/* root's file on the test's bus A */
	uint64_t ino;		/* A's namespace */
	struct evbus_bus_stats bs;
};

FIXTURE_SETUP(ipcns)
{
	self->own = -1;
	restore_state();	/* a test that timed out may have left a cap */
	ASSERT_EQ(0, evt_new_ipc_ns());
	ASSERT_EQ(0, evt_dev_open_to_all());
	self->own = evt_open_bus();
	ASSERT_LE(0, self->own) TH_LOG("open: %s", strerror(-self->own));
	self->ino = evt_ipc_ns_ino();
	ASSERT_NE(0, self->ino);
	ASSERT_EQ(0, evt_bus_stats(self->own, &self->bs));
	ASSERT_EQ(self->ino, self->bs.ipc_ns);
	ASSERT_EQ(0, self->bs.seq);
	ASSERT_EQ(1, self->bs.open_files);
}

FIXTURE_TEARDOWN(ipcns)
{
	if (self->own >= 0) {
		EXPECT_EQ(0, evt_policy_clear(self->own));
		close(self->own);
	}
	restore_state();
}

static int64_t pub_payload(int fd, const char *topic, const char *text)
{
	return evt_pub(fd, topic, text);
}

/* The events queued on fd: topics and payloads as "topic=payload|...". */
static int events_of(int fd, char *out, size_t cap, uint64_t *seqs, int max)
{
	static char buf[BUF_SIZE];
	const struct evbus_rec_hdr *rec[64];
	ssize_t len = evt_drain(fd, buf, sizeof(buf));
	int n = evt_records(buf, len, rec, 64), k = 0;

	out[0] = 0;
	for (int i = 0; i < n && i < 64; i++) {
		const struct evbus_event *e = evt_as_event(rec[i]);
		size_t l = strlen(out);

		if (!e) {
			snprintf(out + l, cap - l, "!KIND%d|", rec[i]->kind);
			continue;
		}
		snprintf(out + l, cap - l, "%s=%.*s|", EVBUS_EVENT_TOPIC(e),
			 (int)e->payload_len, (const char *)EVBUS_EVENT_PAYLOAD(e));
		if (k < max)
			seqs[k] = e->seq;
		k++;
	}
	return k;
}

/* ---------------------------------------- events, seqs, counters */

#define NCHILD	3

/* What a child on a bus of its own reports. */
struct child_res {
	int step;		/* 0, or the setup step that failed */
	int err;
	uint64_t ino;
	int nev;
	uint64_t seq[16];
	char events[1024];
	struct evbus_bus_stats bs;
};

/*
 * Child i: a new IPC namespace, a reader on '>' and a publisher; at the
 * first barrier it publishes 3 + i events, at the second it reads.  The
 * barriers are pipes whose write end the test closes.
 */
static void ns_child(int i, struct child_res *r, int ready_w, int go1, int go2,
		     int done_w)
{
	char c, text[16];
	int rd, pub;

	alarm(60);
	if (evt_new_ipc_ns()) {
		r->step = 1;
		r->err = errno;
		_exit(1);
	}
	r->ino = evt_ipc_ns_ino();
	rd = evt_open_bus();
	pub = evt_open();
	if (rd < 0 || pub < 0 || evt_sub(rd, ">") <= 0) {
		r->step = 2;
		r->err = errno;
		_exit(1);
	}
	if (write(ready_w, "r", 1) != 1 || read(go1, &c, 1) != 0)
		_exit(2);
	snprintf(text, sizeof(text), "child%d", i);
	for (int k = 0; k < 3 + i; k++)
		if (pub_payload(pub, "ipcns.cross", text) <= 0) {
			r->step = 3;
			_exit(1);
		}
	if (write(done_w, "d", 1) != 1 || read(go2, &c, 1) != 0)
		_exit(2);
	r->nev = events_of(rd, r->events, sizeof(r->events), r->seq, 16);
	if (evt_bus_stats(rd, &r->bs))
		r->step = 4;
	_exit(0);
}

TEST_F_TIMEOUT(ipcns, events_and_seqs_never_cross_between_namespaces, 120)
{
	struct child_res *res = evt_shared(NCHILD * sizeof(*res));
	int ready[2], go1[2], go2[2], done[2], rd = evt_open(), n;
	long long pub0 = evt_sysfs_stat("published");
	long long del0 = evt_sysfs_stat("deliveries");
	uint64_t seqs[16];
	char got[1024], want[1024], c;
	pid_t pid[NCHILD];

	ASSERT_NE(NULL, res);
	ASSERT_LE(0, rd);
	ASSERT_LE(0, pub0);
	ASSERT_LT(0, evt_sub(rd, ">"));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go1, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go2, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
	for (int i = 0; i < NCHILD; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			close(go1[1]);
			close(go2[1]);
			ns_child(i, &res[i], ready[1], go1[0], go2[0], done[1]);
		}
	}
	close(ready[1]);
	close(done[1]);
	for (int i = 0; i < NCHILD; i++) {
		ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("a child failed to set up");
	}
	/* Everyone publishes at once, the test on bus A too. */
	close(go1[1]);
	ASSERT_EQ(1, pub_payload(self->own, "ipcns.cross", "parent"));
	ASSERT_EQ(2, pub_payload(self->own, "ipcns.cross", "parent"));
	for (int i = 0; i < NCHILD; i++) {
		ASSERT_EQ(1, read(done[0], &c, 1));
	}
	close(go2[1]);
	for (int i = 0; i < NCHILD; i++) {
		EXPECT_EQ(0, evt_wait(pid[i])) TH_LOG("child %d", i);
	}

	for (int i = 0; i < NCHILD; i++) {
		struct child_res *r = &res[i];

		EXPECT_EQ(0, r->step) TH_LOG("child %d: step %d: %s", i, r->step,
					     strerror(r->err));
		want[0] = 0;
		for (int k = 0; k < 3 + i; k++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 "ipcns.cross=child%d|", i);
		EXPECT_STREQ(want, r->events) TH_LOG("child %d's bus", i);
		EXPECT_EQ(3 + i, r->nev);
		for (int k = 0; k < r->nev && k < 16; k++) {
			EXPECT_EQ(k + 1, r->seq[k]) TH_LOG("child %d, event %d", i, k);
		}
		/* Per-bus counters: this bus's own, nothing of the others. */
		EXPECT_EQ(r->ino, r->bs.ipc_ns);
		EXPECT_NE(self->ino, r->ino);
		EXPECT_EQ(3 + i, r->bs.seq);
		EXPECT_EQ(3 + i, r->bs.published);
		EXPECT_EQ(3 + i, r->bs.deliveries);
		EXPECT_EQ(3 + i, r->bs.read_events);
		EXPECT_EQ(2, r->bs.open_files);
		EXPECT_EQ(1, r->bs.subscriptions);
		EXPECT_NE(self->bs.bus_id, r->bs.bus_id);
		for (int j = 0; j < i; j++) {
			EXPECT_NE(res[j].bs.bus_id, r->bs.bus_id);
			EXPECT_NE(res[j].ino, r->ino);
		}
	}
	/* Bus A got its own two events, numbered 1 and 2, and nothing else. */
	n = events_of(rd, got, sizeof(got), seqs, 16);
	EXPECT_STREQ("ipcns.cross=parent|ipcns.cross=parent|", got);
	ASSERT_EQ(2, n);
	EXPECT_EQ(1, seqs[0]);
	EXPECT_EQ(2, seqs[1]);
	ASSERT_EQ(0, evt_bus_stats(self->own, &self->bs));
	EXPECT_EQ(2, self->bs.published);
	EXPECT_EQ(2, self->bs.seq);
	EXPECT_EQ(2, self->bs.read_events);
	EXPECT_EQ(2, self->bs.open_files);
	/* sysfs: the total over every bus, gone ones included. */
	EXPECT_EQ(pub0 + 2 + 3 + 4 + 5, evt_sysfs_stat("published"));
	EXPECT_EQ(del0 + 2 + 3 + 4 + 5, evt_sysfs_stat("deliveries"));
	close(rd);
}

TEST_F(ipcns, seqs_and_counters_are_per_bus_sysfs_sums_them)
{
	long long pub0 = evt_sysfs_stat("published");
	long long files0 = evt_sysfs_stat("open_files");
	long long subs0 = evt_sysfs_stat("subscriptions");
	struct evbus_bus_stats sa, sb, sc;
	int ra, fb, rb, fc, rc, n;
	uint64_t ino_b, ino_c, seqs[16];
	char got[1024];

	ASSERT_LE(0, pub0);
	ra = evt_open();
	ASSERT_LE(0, ra);
	ASSERT_LT(0, evt_sub(ra, ">"));
	ASSERT_EQ(0, evt_new_ipc_ns());
	ino_b = evt_ipc_ns_ino();
	fb = evt_open_bus();
	rb = evt_open();
	ASSERT_LE(0, fb);
	ASSERT_LE(0, rb);
	ASSERT_LT(0, evt_sub(rb, ">"));
	ASSERT_EQ(0, evt_new_ipc_ns());
	ino_c = evt_ipc_ns_ino();
	fc = evt_open_bus();
	rc = evt_open();
	ASSERT_LE(0, fc);
	ASSERT_LE(0, rc);
	ASSERT_LT(0, evt_sub(rc, ">"));
	ASSERT_EQ(5, evt_sysfs_stat("open_files") - files0);
	ASSERT_EQ(3, evt_sysfs_stat("subscriptions") - subs0);

	/* Each bus numbers its own events from 1. */
	for (int i = 1; i <= 5; i++) {
		ASSERT_EQ(i, pub_payload(self->own, "seq.a", "a"));
	}
	for (int i = 1; i <= 3; i++) {
		ASSERT_EQ(i, pub_payload(fb, "seq.b", "b"));
	}
	ASSERT_EQ(1, pub_payload(fc, "seq.c", "c"));
	ASSERT_EQ(6, pub_payload(self->own, "seq.a", "a"));

	n = events_of(ra, got, sizeof(got), seqs, 16);
	EXPECT_EQ(6, n);
	EXPECT_STREQ("seq.a=a|seq.a=a|seq.a=a|seq.a=a|seq.a=a|seq.a=a|", got);
	n = events_of(rb, got, sizeof(got), seqs, 16);
	EXPECT_EQ(3, n);
	EXPECT_STREQ("seq.b=b|seq.b=b|seq.b=b|", got);
	EXPECT_EQ(3, seqs[2]);
	n = events_of(rc, got, sizeof(got), seqs, 16);
	EXPECT_EQ(1, n);
	EXPECT_STREQ("seq.c=c|", got);

	ASSERT_EQ(0, evt_bus_stats(ra, &sa));
	ASSERT_EQ(0, evt_bus_stats(rb, &sb));
	ASSERT_EQ(0, evt_bus_stats(rc, &sc));
	EXPECT_EQ(self->ino, sa.ipc_ns);
	EXPECT_EQ(ino_b, sb.ipc_ns);
	EXPECT_EQ(ino_c, sc.ipc_ns);
	EXPECT_EQ(self->bs.bus_id, sa.bus_id);
	EXPECT_NE(sa.bus_id, sb.bus_id);
	EXPECT_NE(sb.bus_id, sc.bus_id);
	EXPECT_NE(sa.bus_id, sc.bus_id);
	EXPECT_EQ(6, sa.seq);
	EXPECT_EQ(3, sb.seq);
	EXPECT_EQ(1, sc.seq);
	EXPECT_EQ(6, sa.published);
	EXPECT_EQ(3, sb.published);
	EXPECT_EQ(1, sc.published);
	EXPECT_EQ(6, sa.read_events);
	EXPECT_EQ(3, sb.read_events);
	EXPECT_EQ(1, sc.read_events);
	EXPECT_EQ(2, sa.open_files);
	EXPECT_EQ(2, sb.open_files);
	EXPECT_EQ(2, sc.open_files);
	EXPECT_EQ(1, sa.subscriptions);
	EXPECT_EQ(1, sb.subscriptions);
	EXPECT_EQ(1, sc.subscriptions);
	EXPECT_EQ(pub0 + 10, evt_sysfs_stat("published"));

	close(fb);
	close(rb);
	close(fc);
	close(rc);
	close(ra);
}

/* --------------------------------------------------- sharing a bus */

struct share_res {
	int step;
	uint64_t bus_id;
	pid_t pid;
	int nev;
	uint64_t seq[4];
	char events[512];
};

TEST_F(ipcns, sharing_a_namespace_shares_the_bus)
{
	struct share_res *r = evt_shared(3 * sizeof(*r));
	int rd = evt_open(), ready[2], go[2], nsfd, fd, n;
	struct evbus_bus_stats bs;
	uint64_t seqs[4];
	char path[64], got[512], c;
	pid_t p0, p1, p2;

	ASSERT_NE(NULL, r);
	ASSERT_LE(0, rd);
	ASSERT_LT(0, evt_sub(rd, ">"));

	/* fork, no unshare: the same bus. */
	p0 = fork();
	ASSERT_LE(0, p0);
	if (!p0) {
		alarm(20);
		fd = evt_open();
		if (fd < 0 || evt_bus_stats(fd, &bs))
			_exit(1);
		r[0].bus_id = bs.bus_id;
		_exit(pub_payload(fd, "share.fork", "forked") == 1 ? 0 : 2);
	}
	ASSERT_EQ(0, evt_wait(p0));
	EXPECT_EQ(self->bs.bus_id, r[0].bus_id);
	n = events_of(rd, got, sizeof(got), seqs, 4);
	EXPECT_EQ(1, n);
	EXPECT_STREQ("share.fork=forked|", got);

	/* p1 makes namespace X; p2 joins it with setns(). */
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	p1 = fork();
	ASSERT_LE(0, p1);
	if (!p1) {
		alarm(30);
		close(go[1]);
		if (evt_new_ipc_ns())
			_exit(1);
		fd = evt_open_bus();
		if (fd < 0 || evt_sub(fd, ">") <= 0 || evt_bus_stats(fd, &bs))
			_exit(2);
		r[1].bus_id = bs.bus_id;
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 0)
			_exit(3);
		r[1].nev = events_of(fd, r[1].events, sizeof(r[1].events),
				     r[1].seq, 4);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", p1);
	p2 = fork();
	ASSERT_LE(0, p2);
	if (!p2) {
		alarm(20);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWIPC))
			_exit(1);
		fd = evt_open();
		if (fd < 0 || evt_bus_stats(fd, &bs))
			_exit(2);
		r[2].bus_id = bs.bus_id;
		r[2].pid = getpid();
		_exit(pub_payload(fd, "share.setns", "joined") == 1 ? 0 : 3);
	}
	EXPECT_EQ(0, evt_wait(p2));
	/* The test process joins X too, and sees the same bus. */
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nsfd);
	ASSERT_EQ(0, setns(nsfd, CLONE_NEWIPC));
	close(nsfd);
	fd = evt_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evt_bus_stats(fd, &bs));
	close(go[1]);
	EXPECT_EQ(0, evt_wait(p1));

	EXPECT_NE(self->bs.bus_id, r[1].bus_id);
	EXPECT_EQ(r[1].bus_id, r[2].bus_id);
	EXPECT_EQ(r[1].bus_id, bs.bus_id);
	EXPECT_EQ(2, bs.open_files) TH_LOG("p1's and the test's files");
	EXPECT_EQ(1, bs.published);
	EXPECT_EQ(1, r[1].nev);
	EXPECT_STREQ("share.setns=joined|", r[1].events);
	EXPECT_EQ(1, r[1].seq[0]);
	/* Bus A did not see it. */
	n = events_of(rd, got, sizeof(got), seqs, 4);
	EXPECT_EQ(0, n);
	EXPECT_STREQ("", got);
	close(fd);
	close(rd);
}

TEST_F(ipcns, a_file_keeps_the_bus_it_was_opened_on)
{
	struct evbus_bus_stats bs;
	int ra = evt_open(), fa = evt_open(), fb, rb, nsa, sv[2], val, n;
	uint64_t ino_b, seqs[8];
	char got[512];
	pid_t pid;

	ASSERT_LE(0, ra);
	ASSERT_LE(0, fa);
	ASSERT_LT(0, evt_sub(ra, ">"));
	nsa = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nsa);

	/* The opener moves to namespace B: fa still publishes on A. */
	ASSERT_EQ(0, evt_new_ipc_ns());
	ino_b = evt_ipc_ns_ino();
	ASSERT_NE(self->ino, ino_b);
	fb = evt_open_bus();
	rb = evt_open();
	ASSERT_LE(0, fb);
	ASSERT_LE(0, rb);
	ASSERT_LT(0, evt_sub(rb, ">"));
	ASSERT_EQ(0, evt_bus_stats(fa, &bs));
	EXPECT_EQ(self->ino, bs.ipc_ns);
	EXPECT_EQ(self->bs.bus_id, bs.bus_id);
	ASSERT_EQ(1, pub_payload(fa, "keep.a", "after-unshare"));

	/* Back in A with setns(): fb still publishes on B. */
	ASSERT_EQ(0, setns(nsa, CLONE_NEWIPC));
	ASSERT_EQ(0, evt_bus_stats(fb, &bs));
	EXPECT_EQ(ino_b, bs.ipc_ns);
	ASSERT_EQ(1, pub_payload(fb, "keep.b", "after-setns"));

	/* Inherited by a process that unshares: still A. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(20);
		if (evt_new_ipc_ns())
			_exit(1);
		_exit(pub_payload(fa, "keep.a", "inherited") == 2 ? 0 : 2);
	}
	EXPECT_EQ(0, evt_wait(pid));

	/* Passed over SCM_RIGHTS to a process in another namespace: still B. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		alarm(20);
		close(sv[0]);
		if (evt_new_ipc_ns())
			_exit(1);
		fd = evt_recv_fd(sv[1], &val);
		if (fd < 0)
			_exit(2);
		_exit(pub_payload(fd, "keep.b", "passed") == 2 ? 0 : 3);
	}
	close(sv[1]);
	ASSERT_EQ(0, evt_send_fd(sv[0], fb, 0));
	EXPECT_EQ(0, evt_wait(pid));
	close(sv[0]);

	n = events_of(ra, got, sizeof(got), seqs, 8);
	EXPECT_EQ(2, n);
	EXPECT_STREQ("keep.a=after-unshare|keep.a=inherited|", got);
	n = events_of(rb, got, sizeof(got), seqs, 8);
	EXPECT_EQ(2, n);
	EXPECT_STREQ("keep.b=after-setns|keep.b=passed|", got);
	close(nsa);
	close(fb);
	close(rb);
	close(fa);
	close(ra);
}

/* ------------------------------------------------------- ownership */

struct owner_res {
	int step, err;
	int add_a, default_a, clear_a;		/* before unshare -U */
	int add_a2, default_a2, list_a_total;	/* after, on the old file */
	int open_b;
	int add_b, uid_rule_b, default_b, list_b_total;
	int pub_b_denied, pub_a_other;
	uint64_t ino_b, bus_b, bus_a;
	struct evbus_bus_stats bs_b;
};

TEST_F(ipcns, unprivileged_user_namespace_owns_only_its_new_bus)
{
	struct owner_res *r = evt_shared(sizeof(*r));
	struct evbus_rule_info ri[4];
	struct evbus_policy_list pl;
	struct evbus_bus_stats bs;
	int ready[2], go[2], fa, fb, nsfd, fd, ret;
	const struct evt_ids nobody = { NOBODY, NOBODY, 0, { 0 } };
	char path[64], c;
	pid_t pid;

	ASSERT_NE(NULL, r);
	ret = allow_userns();
	if (ret == -EOPNOTSUPP)
		SKIP(return, "no user namespaces in this kernel");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, evt_policy_add(self->own, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "a.only", 0));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(30);
		close(go[1]);
		if (evt_become(&nobody)) {
			r->step = 1;
			goto report;
		}
		fa = evt_open();
		if (fa < 0) {
			r->step = 2;
			r->err = errno;
			goto report;
		}
		r->add_a = evt_policy_add(fa, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					  EVBUS_WHO_ALL, 0, "x.>", 0);
		r->default_a = evt_policy_default(fa, EVBUS_DENY);
		r->clear_a = evt_policy_clear(fa);
		if (unshare(CLONE_NEWUSER | CLONE_NEWIPC)) {
			r->step = 3;
			r->err = errno;
			goto report;
		}
		r->ino_b = evt_ipc_ns_ino();
		fb = evt_open();
		r->open_b = fb < 0 ? -errno : 0;
		if (fb < 0)
			goto report;
		/* Full capabilities in its new user namespace: not on A. */
		r->add_a2 = evt_policy_add(fa, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					   EVBUS_WHO_ALL, 0, "x.>", 0);
		r->default_a2 = evt_policy_default(fa, EVBUS_DENY);
		r->list_a_total = evt_policy_list(fa, NULL, 0, 0, &pl) ?: (int)pl.total;
		/* On B, the bus it caused, it is the owner. */
		r->add_b = evt_policy_add(fb, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					  EVBUS_WHO_ALL, 0, "b.only", 0);
		/* uid 0 is not mapped in its (map-less) user namespace. */
		r->uid_rule_b = evt_policy_add(fb, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
					       EVBUS_WHO_UID, 0, "b.uid", 0);
		r->default_b = evt_policy_default(fb, EVBUS_DENY) ?:
			       evt_policy_default(fb, EVBUS_ALLOW);
		r->list_b_total = evt_policy_list(fb, NULL, 0, 0, &pl) ?: (int)pl.total;
		r->pub_b_denied = (int)evt_pub(fb, "b.only", NULL);
		r->pub_a_other = (int)evt_pub(fa, "b.only", NULL);
		if (evt_bus_stats(fb, &r->bs_b) || evt_bus_stats(fa, &bs))
			r->step = 4;
		r->bus_b = r->bs_b.bus_id;
		r->bus_a = bs.bus_id;
report:
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 0)
			_exit(2);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	if (r->step == 3 && (r->err == EPERM || r->err == EINVAL || r->err == ENOSPC)) {
		close(go[1]);
		evt_wait(pid);
		SKIP(return, "uid 65534 may not create user namespaces: %s",
		     strerror(r->err));
	}
	ASSERT_EQ(0, r->step) TH_LOG("child step %d: %s", r->step, strerror(r->err));
	ASSERT_EQ(0, r->open_b) TH_LOG("open in the new namespaces: %s",
				       strerror(-r->open_b));
	EXPECT_EQ(-EPERM, r->add_a);
	EXPECT_EQ(-EPERM, r->default_a);
	EXPECT_EQ(-EPERM, r->clear_a);
	EXPECT_EQ(-EPERM, r->add_a2) TH_LOG("unshare -U made uid 65534 owner of A");
	EXPECT_EQ(-EPERM, r->default_a2);
	EXPECT_EQ(1, r->list_a_total);
	EXPECT_EQ(1, r->add_b);
	EXPECT_EQ(-EINVAL, r->uid_rule_b);
	EXPECT_EQ(0, r->default_b);
	EXPECT_EQ(1, r->list_b_total);
	EXPECT_EQ(-EACCES, r->pub_b_denied);
	EXPECT_EQ(1, r->pub_a_other);
	EXPECT_EQ(self->bs.bus_id, r->bus_a);
	EXPECT_NE(r->bus_a, r->bus_b);
	EXPECT_EQ(r->ino_b, r->bs_b.ipc_ns);
	EXPECT_EQ(1, r->bs_b.policy_rules);
	EXPECT_EQ(EVBUS_ALLOW, r->bs_b.policy_default);

	/* Root (an ancestor's owner) joins the new namespace: it owns B too. */
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nsfd);
	ASSERT_EQ(0, setns(nsfd, CLONE_NEWIPC));
	close(nsfd);
	fd = evt_open();
	ASSERT_LE(0, fd);
	close(go[1]);
	EXPECT_EQ(0, evt_wait(pid));
	ASSERT_EQ(0, evt_bus_stats(fd, &bs));
	EXPECT_EQ(r->bus_b, bs.bus_id);
	ASSERT_EQ(0, evt_policy_list(fd, ri, 4, 0, &pl));
	ASSERT_EQ(1, pl.count);
	EXPECT_STREQ("b.only", ri[0].pattern);
	EXPECT_EQ(2, evt_policy_add(fd, EVBUS_DENY, EVBUS_RIGHT_PUBLISH,
				    EVBUS_WHO_ALL, 0, "b.root", 0));
	close(fd);

	/* A's policy is as the test left it. */
	ASSERT_EQ(0, evt_policy_list(self->own, ri, 4, 0, &pl));
	EXPECT_EQ(1, pl.total);
	EXPECT_EQ(EVBUS_ALLOW, pl.policy_default);
	EXPECT_STREQ("a.only", ri[0].pattern);
}

/* ----------------------------------------------------- max_user_buses */

/*
 * A process of uid that creates a user and an IPC namespace and opens the
 * device there, reports the result (0 or errno) on res_w, then obeys cmd:
 * 'o' opens one more file (on the same bus) and reports; EOF exits.
 */
static pid_t bus_maker(uid_t uid, int res_w, int *cmd_w)
{
	int cmd[2], fd, e;
	const struct evt_ids ids = { uid, uid, 0, { 0 } };
	char c;
	pid_t pid;

	if (pipe2(cmd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid) {
		close(cmd[0]);
		*cmd_w = cmd[1];
		return pid;
	}
	alarm(60);
	close(cmd[1]);
	if (evt_become(&ids))
		e = 1000 + errno;
	else if (unshare(CLONE_NEWUSER | CLONE_NEWIPC))
		e = 2000 + errno;
	else
		e = evt_open() < 0 ? errno : 0;
	if (write(res_w, &e, sizeof(e)) != sizeof(e))
		_exit(1);
	while (read(cmd[0], &c, 1) == 1) {
		fd = evt_open();
		e = fd < 0 ? errno : 0;
		if (write(res_w, &e, sizeof(e)) != sizeof(e))
			_exit(1);
	}
	_exit(0);
}

static int read_result(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int e;

	if (poll(&p, 1, 30000) != 1 || read(fd, &e, sizeof(e)) != sizeof(e))
		return -1;
	return e;
}

#define BUSES_CAP	3

TEST_F_TIMEOUT(ipcns, max_user_buses_caps_an_unprivileged_users_namespaces, 120)
{
	int res[2], cmd[BUSES_CAP + 2], e, ret, c;
	pid_t pid[BUSES_CAP + 2], p;

	ret = allow_userns();
	if (ret == -EOPNOTSUPP)
		SKIP(return, "no user namespaces in this kernel");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	ASSERT_EQ(0, evt_param_set("max_user_buses", BUSES_CAP));

	for (int i = 0; i <= BUSES_CAP; i++) {
		pid[i] = bus_maker(BUSES_UID, res[1], &cmd[i]);
		ASSERT_LT(0, pid[i]);
		e = read_result(res[0]);
		if (i == 0 && e >= 2000)
			SKIP(goto out, "uid %d may not create user namespaces: %s",
			     BUSES_UID, strerror(e - 2000));
		if (i < BUSES_CAP) {
			EXPECT_EQ(0, e) TH_LOG("bus %d of %d: %s", i + 1, BUSES_CAP,
					       e > 0 ? strerror(e % 1000) : "?");
		} else {
			EXPECT_EQ(EMFILE, e) TH_LOG("bus %d past a cap of %d: %s",
						    i + 1, BUSES_CAP,
						    e > 0 ? strerror(e % 1000) : "no error");
		}
	}
	/* At the cap for buses, not for files: another file on a bus it has. */
	ASSERT_EQ(1, write(cmd[0], "o", 1));
	EXPECT_EQ(0, read_result(res[0]));
	/* Another user is not held back. */
	pid[BUSES_CAP + 1] = bus_maker(OTHER_UID, res[1], &cmd[BUSES_CAP + 1]);
	ASSERT_LT(0, pid[BUSES_CAP + 1]);
	EXPECT_EQ(0, read_result(res[0]));

	/*
	 * Let every process go: the namespaces and files die.  (Each holds
	 * the command pipes of those forked before it: close them all first.)
	 */
	for (int i = 0; i <= BUSES_CAP + 1; i++)
		close(cmd[i]);
	for (int i = 0; i <= BUSES_CAP + 1; i++) {
		EXPECT_EQ(0, evt_wait(pid[i]));
	}
	/*
	 * The buses were charged until freed.  A user at the cap gets the
	 * buses of its namespaces that are gone freed at once (README), so
	 * the next bus is there right away, not after the collector's pass.
	 */
	p = bus_maker(BUSES_UID, res[1], &c);
	ASSERT_LT(0, p);
	e = read_result(res[0]);
	close(c);
	EXPECT_EQ(0, evt_wait(p));
	EXPECT_EQ(0, e) TH_LOG("uid %d's next bus right after its namespaces died: %s",
			       BUSES_UID, e > 0 ? strerror(e % 1000) : "?");
out:
	close(res[0]);
	close(res[1]);
}

/* ------------------------------------------------------------ lifetime */

struct life_res {
	int step, err;
	uint64_t bus_id, bus_id2, ino;
	uint64_t seq_after;
	int rules_after, default_after, files_after;
};

TEST_F_TIMEOUT(ipcns, bus_and_policy_live_while_namespace_or_file_does, 90)
{
	struct life_res *r = evt_shared(sizeof(*r));
	struct evbus_rule_info ri[4];
	struct evbus_policy_list pl;
	struct evbus_bus_stats bs;
	int sv[2], g, val, f, rd, n;
	long long buses, pub_total;
	uint64_t seqs[4];
	char got[256];
	pid_t pid;

	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct evbus_bus_stats cbs;
		struct evbus_policy_list cpl;

		alarm(30);
		close(sv[0]);
		if (evt_new_ipc_ns())
			_exit(1);
		r->ino = evt_ipc_ns_ino();
		f = evt_open_bus();
		if (f < 0 || evt_bus_stats(f, &cbs))
			_exit(2);
		r->bus_id = cbs.bus_id;
		if (evt_policy_add(f, EVBUS_DENY, EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL,
				   0, "life.x", 0) != 1 ||
		    evt_policy_default(f, EVBUS_DENY) ||
		    evt_policy_add(f, EVBUS_ALLOW, EVBUS_RIGHT_PUBLISH, EVBUS_WHO_ALL,
				   0, "life.ok", 0) != 2 ||
		    evt_pub(f, "life.ok", "1") != 1 || evt_pub(f, "life.ok", "2") != 2)
			_exit(3);
		/* No file open, the namespace alive: the bus and policy stay. */
		close(f);
		g = evt_open();
		if (g < 0 || evt_bus_stats(g, &cbs) ||
		    evt_policy_list(g, NULL, 0, 0, &cpl))
			_exit(4);
		r->bus_id2 = cbs.bus_id;
		r->seq_after = cbs.seq;
		r->files_after = cbs.open_files;
		r->rules_after = cpl.total;
		r->default_after = cpl.policy_default;
		/* Hand g over and leave: nothing is in the namespace any more. */
		_exit(evt_send_fd(sv[1], g, 0) ? 5 : 0);
	}
	close(sv[1]);
	g = evt_recv_fd(sv[0], &val);
	close(sv[0]);
	ASSERT_EQ(0, evt_wait(pid));
	ASSERT_LE(0, g);
	EXPECT_EQ(r->bus_id, r->bus_id2) TH_LOG("closing the last file lost the bus");
	EXPECT_EQ(2, r->seq_after);
	EXPECT_EQ(1, r->files_after);
	EXPECT_EQ(2, r->rules_after);
	EXPECT_EQ(EVBUS_DENY, r->default_after);

	/* Past the collector's period: the namespace is gone, the file is not. */
	sleep(7);
	ASSERT_EQ(0, evt_bus_stats(g, &bs));
	EXPECT_EQ(r->bus_id, bs.bus_id);
	EXPECT_EQ(r->ino, bs.ipc_ns);
	EXPECT_EQ(2, bs.seq);
	EXPECT_EQ(2, bs.policy_rules);
	EXPECT_EQ(EVBUS_DENY, bs.policy_default);
	ASSERT_EQ(0, evt_policy_list(g, ri, 4, 0, &pl));
	ASSERT_EQ(2, pl.count);
	EXPECT_STREQ("life.x", ri[0].pattern);
	EXPECT_STREQ("life.ok", ri[1].pattern);
	/* The policy is still in force, and the owner can still change it. */
	EXPECT_EQ(-EACCES, evt_pub(g, "life.x", NULL));
	EXPECT_EQ(-EACCES, evt_pub(g, "life.y", NULL));
	EXPECT_EQ(-EACCES, evt_sub(g, ">"));
	EXPECT_EQ(0, evt_policy_default(g, EVBUS_ALLOW));
	ASSERT_LT(0, evt_sub(g, ">"));
	EXPECT_EQ(3, evt_pub(g, "life.ok", "3"));
	EXPECT_EQ(4, evt_pub(g, "life.y", "4"));
	EXPECT_EQ(-EACCES, evt_pub(g, "life.x", NULL));
	n = events_of(g, got, sizeof(got), seqs, 4);
	EXPECT_EQ(2, n);
	EXPECT_STREQ("life.ok=3|life.y=4|", got);

	/* A new namespace starts from nothing. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(30);
		if (evt_new_ipc_ns())
			_exit(1);
		rd = evt_open_bus();
		if (rd < 0 || evt_bus_stats(rd, &bs))
			_exit(2);
		_exit(bs.policy_rules == 0 && bs.policy_default == EVBUS_ALLOW &&
		      bs.seq == 0 && bs.bus_id != r->bus_id ? 0 : 3);
	}
	EXPECT_EQ(0, evt_wait(pid));
	sleep(7);	/* that namespace's bus goes too */

	/* Closing the last file frees the bus; sysfs keeps its counts. */
	buses = evt_sysfs_stat("buses");
	pub_total = evt_sysfs_stat("published");
	ASSERT_LT(0, buses);
	close(g);
	for (int i = 0; i < 50 && evt_sysfs_stat("buses") > buses - 1; i++)
		usleep(100000);
	EXPECT_EQ(buses - 1, evt_sysfs_stat("buses"));
	EXPECT_EQ(pub_total, evt_sysfs_stat("published"))
		TH_LOG("a freed bus's events left the sysfs totals");
}

TEST_HARNESS_MAIN
