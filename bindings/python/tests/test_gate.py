"""Device tests: approval gate, wills, scopes, rate limits, lossless rings,
policy, asyncio, and an unprivileged user."""
import asyncio
import errno
import os
import stat
import threading
import time

import pytest

import evbus


class Approver(threading.Thread):
    """Answers one request with action(bus, request) in a thread."""

    def __init__(self, bus, pattern, action, default=evbus.DENY):
        super().__init__(daemon=True)
        self.bus, self.action = bus, action
        self.id = bus.approver_add(pattern, 5, default=default)
        self.request = None
        self.error = None

    def run(self):
        try:
            r = self.bus.recv_record(timeout=10)
            assert isinstance(r, evbus.Request), r
            self.request = r
            self.action(self.bus, r)
        except BaseException as e:          # reported by finish()
            self.error = e

    def finish(self):
        self.join(15)
        assert not self.is_alive()
        if self.error:
            raise self.error
        return self.request


def test_approval_allow(mkbus, topic):
    ap, pub, sub = mkbus(), mkbus(), mkbus()
    sub.subscribe(f"{topic}.>")
    a = Approver(ap, f"{topic}.>", lambda b, r: b.verdict_allow(r.id))
    a.start()
    seq = pub.publish_ask(f"{topic}.run", b"ls", type=4, corr=8,
                          deadline_ms=5000)
    rq = a.finish()
    assert rq.approver_id == a.id and rq.id > 0 and not rq.mandatory
    assert rq.deadline_ns > time.monotonic_ns() - 10**10
    assert (rq.event.topic, rq.event.payload, rq.event.type, rq.event.corr,
            rq.event.seq, rq.event.pid) == (f"{topic}.run", b"ls", 4, 8, 0,
                                             os.getpid())
    ev = sub.recv(timeout=2)
    assert ev.seq == seq and ev.approved and not ev.modified
    with pytest.raises(FileNotFoundError):
        ap.verdict_allow(rq.id)             # answered already: ENOENT


def test_approval_deny_errno(mkbus, topic):
    ap, pub, sub = mkbus(), mkbus(), mkbus()
    sub.subscribe(f"{topic}.>")
    a = Approver(ap, f"{topic}.>",
                 lambda b, r: b.verdict_deny(r.id, errno.EDOM))
    a.start()
    with pytest.raises(OSError) as e:
        pub.publish_ask(f"{topic}.rm", b"-rf /", deadline_ms=5000)
    a.finish()
    assert e.value.errno == errno.EDOM
    assert sub.try_recv() is None
    ap.approver_del(a.id)
    b = Approver(ap, f"{topic}.>", lambda b, r: b.verdict_deny(r.id))
    b.start()
    with pytest.raises(PermissionError) as e:
        pub.publish_ask(f"{topic}.rm", b"again", deadline_ms=5000)
    b.finish()
    assert e.value.errno == errno.EACCES


def test_approval_modify(mkbus, topic):
    ap, pub, sub = mkbus(), mkbus(), mkbus()
    sub.subscribe(f"{topic}.>")
    a = Approver(ap, f"{topic}.in", lambda b, r: b.verdict_modify(
        r.id, f"{topic}.out", b"sanitised", type=9))
    a.start()
    seq = pub.publish_ask(f"{topic}.in", b"raw", deadline_ms=5000)
    a.finish()
    ev = sub.recv(timeout=2)
    assert (ev.seq, ev.topic, ev.payload, ev.type) == \
        (seq, f"{topic}.out", b"sanitised", 9)
    assert ev.modified and ev.modifier == a.id


def test_approval_expires_cancelled(mkbus, topic):
    ap, pub = mkbus(), mkbus()
    aid = ap.approver_add(f"{topic}.>", 0, default=evbus.DENY)
    with pytest.raises(TimeoutError):
        pub.publish_ask(f"{topic}.slow", deadline_ms=50)
    rq = ap.recv_record(timeout=2)
    assert isinstance(rq, evbus.Request)
    c = ap.recv_record(timeout=2)
    assert c == evbus.Cancelled(rq.id, aid, evbus.CANCEL_EXPIRED)
    ap.approver_del(aid)
    with pytest.raises(FileNotFoundError):
        ap.approver_del(aid)
    # No approver: an ask goes out at once.
    assert pub.publish_ask(f"{topic}.free") > 0


def test_will_fires_on_close(mkbus, topic):
    sub, w = mkbus(), mkbus()
    sub.subscribe(f"{topic}.>")
    w.will_set(1, f"{topic}.gone", b"bye", type=3, corr=77)
    w.will_set(2, f"{topic}.never", b"")
    w.will_clear(2)
    with pytest.raises(FileNotFoundError):
        w.will_clear(2)
    w.close()
    ev = sub.recv(timeout=2)
    assert (ev.topic, ev.payload, ev.type, ev.corr) == \
        (f"{topic}.gone", b"bye", 3, 77)
    assert ev.will and ev.pid == os.getpid()
    assert sub.try_recv() is None


def test_scope_success_and_failure(mkbus, topic):
    sub, b = mkbus(), mkbus()
    sub.subscribe(f"{topic}.>")
    with b.scope(f"{topic}.job", b"begin") as s:
        s.update(b"50%")
    started, progress, success = (sub.recv(timeout=2) for _ in range(3))
    assert started.topic == f"{topic}.job.started" and started.seq == s.id
    assert started.payload == b"begin"
    assert progress.topic == f"{topic}.job.progress"
    assert success.topic == f"{topic}.job.success"
    assert progress.corr == progress.parent == s.id == success.corr
    with pytest.raises(RuntimeError):
        with b.scope(f"{topic}.job2", parent=s.id) as s2:
            raise RuntimeError("boom")
    st, failed = sub.recv(timeout=2), sub.recv(timeout=2)
    assert st.parent == s.id
    assert failed.topic == f"{topic}.job2.failed" and failed.corr == s2.id
    assert b"boom" in failed.payload
    with pytest.raises(FileNotFoundError):
        s2.update(b"late")


def test_scope_will_on_crash(mkbus, topic):
    sub = mkbus()
    sub.subscribe(f"{topic}.>")
    pid = os.fork()
    if pid == 0:
        try:
            b = evbus.Bus()
            b.scope(f"{topic}.work")
            os.kill(os.getpid(), 9)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)
    st, failed = sub.recv(timeout=2), sub.recv(timeout=2)
    assert st.topic.endswith(".started") and failed.topic.endswith(".failed")
    assert failed.will and failed.corr == st.seq and failed.pid == pid


def test_rate_limit_eagain(mkbus, topic):
    b = mkbus()
    b.rate_limit(events_per_sec=1, events_burst=2)
    b.publish(topic)
    b.publish(topic)
    with pytest.raises(BlockingIOError) as e:
        b.publish(topic)
    assert e.value.errno == errno.EAGAIN
    r = b.rate_get()
    assert r.limit == evbus.RateLimit(1, 2, 0, 0)
    assert r.refused == 1 and r.events_tokens == 0
    with pytest.raises(PermissionError):
        b.rate_limit(evbus.RateLimit(100, 100))   # looser: EPERM
    with pytest.raises(OSError) as e:
        b.rate_limit(events_per_sec=1, events_burst=0)   # burst 0 with a rate
    assert e.value.errno in (errno.EINVAL, errno.EPERM)


def test_publish_wait_for_tokens(mkbus, topic):
    b = mkbus()
    b.subscribe(topic)
    b.rate_limit(events_per_sec=20, events_burst=1)
    b.publish(topic)
    t0 = time.monotonic()
    seq = b.publish_wait(topic, b"waited", deadline_ms=2000)
    assert time.monotonic() - t0 >= 0.02
    assert b.rate_get().waited == 1
    assert [e.seq for e in (b.recv(timeout=1), b.recv(timeout=1))][1] == seq
    with pytest.raises(OSError) as e:
        b.publish_wait(topic, deadline_ns=0)
    assert e.value.errno == errno.EINVAL


def test_rate_limit_user(mkbus, topic):
    b = mkbus()
    uid = 54321
    with pytest.raises(FileNotFoundError):
        b.rate_user_get(evbus.WHO_UID, uid)
    lim = evbus.RateLimit(events_per_sec=10, events_burst=10,
                          bytes_per_sec=1000, bytes_burst=1000)
    b.rate_limit_user(evbus.WHO_UID, uid, lim)
    try:
        assert b.rate_user_get(evbus.WHO_UID, uid) == lim
    finally:
        b.rate_limit_user(evbus.WHO_UID, uid, None)
    with pytest.raises(FileNotFoundError):
        b.rate_limit_user(evbus.WHO_UID, uid, None)


def test_lossless_ring(mkbus, topic):
    r, pub = mkbus(), mkbus()
    r.set_ring_lossless(4096, 5_000_000_000)
    assert r.get_ring() == (4096, evbus.POLICY_LOSSLESS)
    r.subscribe(topic)
    n = 300
    got, errors = [], []

    def reader():
        try:
            while len(got) < n:
                got.append(r.recv(timeout=10).seq)
                if len(got) % 50 == 0:
                    time.sleep(0.02)         # fall behind now and then
        except BaseException as e:
            errors.append(e)
    t = threading.Thread(target=reader)
    t.start()
    seqs = [pub.publish(topic, b"p" * 100) for _ in range(n)]
    t.join(30)
    assert not errors, errors
    assert got == seqs
    assert r.stats().lost == 0
    assert pub.bus_stats().lossless_waits > 0


def test_policy_deny_and_list(mkbus, topic):
    b = mkbus()
    rid = b.policy_add(f"{topic}.secret.>", evbus.DENY, evbus.RIGHT_PUBLISH)
    try:
        rules, default = b.policy_list()
        assert any(r.id == rid and r.pattern == f"{topic}.secret.>" and
                   r.verdict == evbus.DENY for r in rules)
        with pytest.raises(PermissionError) as e:
            b.publish(f"{topic}.secret.x")
        assert e.value.errno == errno.EACCES
        b.publish(f"{topic}.public")
    finally:
        b.policy_remove(rid)
    b.publish(f"{topic}.secret.x")
    with pytest.raises(FileNotFoundError):
        b.policy_remove(rid)


def test_narrow(mkbus, topic):
    b = mkbus()
    b.narrow(publish=[f"{topic}.ok.>"], subscribe=[f"{topic}.>"])
    b.publish(f"{topic}.ok.1")
    with pytest.raises(PermissionError):
        b.publish(f"{topic}.other")
    with pytest.raises(PermissionError):
        b.subscribe("elsewhere.>")
    with pytest.raises(PermissionError):
        b.policy_clear()                     # a scoped file: EPERM


def test_unprivileged_user(mkbus, topic):
    b = mkbus()
    mode = os.stat("/dev/evbus").st_mode
    world = bool(mode & stat.S_IROTH and mode & stat.S_IWOTH)
    rid = b.policy_add(f"{topic}.>", evbus.DENY, evbus.RIGHT_PUBLISH,
                       who=evbus.WHO_UID, id=65534)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                nb = evbus.Bus()
            except PermissionError:
                res = b"open:EACCES"
            else:
                try:
                    nb.publish(f"{topic}.x")
                    res = b"publish:ok"
                except PermissionError:
                    res = b"publish:EACCES"
            # The root-opened file keeps its opener's credentials.
            b.publish(f"{topic}.inherited")
            os.write(wfd, res)
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    _, status = os.waitpid(pid, 0)
    res = os.read(rfd, 100)
    os.close(rfd)
    b.policy_remove(rid)
    assert os.waitstatus_to_exitcode(status) == 0
    assert res == (b"publish:EACCES" if world else b"open:EACCES")


def test_asyncio_recv_and_async_for(mkbus, topic):
    b = mkbus()
    b.subscribe(f"{topic}.>")
    pub = mkbus()

    async def main():
        rx = b.aio()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, pub.publish, f"{topic}.one", b"1")
        ev = await asyncio.wait_for(rx.recv(), 5)
        assert ev.payload == b"1"
        for i in range(3):
            loop.call_later(0.01 * i, pub.publish, f"{topic}.many", b"%d" % i)
        got = []
        async for ev in rx:
            got.append(ev.payload)
            if len(got) == 3:
                break
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rx.recv(), 0.1)
        return got
    assert asyncio.run(main()) == [b"0", b"1", b"2"]


def test_asyncio_lagged(mkbus, topic):
    b = mkbus()
    b.set_ring(4096, evbus.POLICY_DROP_NEWEST)
    b.subscribe(topic)
    seqs = [b.publish(topic, b"y" * 64) for _ in range(100)]

    async def main():
        rx = evbus.aio.AsyncBus(b)
        n = 0
        try:
            async for _ in rx:
                n += 1
        except evbus.Lagged as lag:
            return n, lag
    n, lag = asyncio.run(main())
    assert lag.last_seq == seqs[-1] and lag.first_seq == seqs[n]
    assert lag.lost == 100 - n


def test_asyncio_records_requests(mkbus, topic):
    ap, pub = mkbus(), mkbus()
    aid = ap.approver_add(f"{topic}.>", 1, default=evbus.DENY)

    async def main():
        rx = ap.aio()
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, lambda: pub.publish_ask(
            f"{topic}.q", b"?", deadline_ms=5000))
        async for rec in rx.records():
            assert isinstance(rec, evbus.Request) and rec.approver_id == aid
            ap.verdict_allow(rec.id)
            break
        return await fut
    assert asyncio.run(main()) > 0
