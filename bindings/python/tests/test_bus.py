"""Device tests: publish, subscribe, receive, lag, filters, replay."""
import errno
import os
import subprocess
import sys
import time

import pytest

import evbus
from conftest import PKG_ROOT


def rec_size(topic: str, payload_len: int) -> int:
    a = lambda n: (n + 7) & ~7
    return 80 + a(len(topic.encode()) + 1) + a(payload_len)


def drain(bus, timeout=0.2):
    out = []
    while True:
        r = bus.recv_record(timeout=timeout)
        if r is None:
            return out
        out.append(r)


def test_open_query_close(mkbus):
    b = mkbus()
    v = b.query()
    assert v.abi_version == 1
    assert {"publish", "batch", "wildcard", "mmap"} <= v.feature_names
    assert v.has("history") and v.max_payload > 0
    fd = b.fileno()
    assert fd >= 0 and os.get_blocking(fd) is False
    b.close()
    assert b.closed
    with pytest.raises(ValueError):
        b.publish("x.y")
    b.close()                               # twice is fine


def test_context_manager_closes(mkbus, topic):
    mkbus()                                 # device check
    with evbus.Bus() as b:
        fd = b.fileno()
        b.subscribe(topic)
    assert b.closed
    with pytest.raises(OSError):
        os.fstat(fd)


def test_roundtrip_every_field(mkbus, topic):
    sub, pub = mkbus(), mkbus()
    sid = sub.subscribe(f"{topic}.>")
    assert sid > 0
    t0 = time.time_ns()
    m0 = time.monotonic_ns()
    seq = pub.publish(f"{topic}.a.b", b"\x00payload\xff", type=7, corr=99,
                      parent=12345)
    ev = sub.recv(timeout=2)
    assert isinstance(ev, evbus.Event)
    assert ev.seq == seq and ev.topic == f"{topic}.a.b"
    assert ev.payload == b"\x00payload\xff"
    assert (ev.type, ev.corr, ev.parent) == (7, 99, 12345)
    assert ev.pid == os.getpid()
    assert ev.tid == __import__("threading").get_native_id()
    assert (ev.uid, ev.gid) == (os.geteuid(), os.getegid())
    assert ev.flags == 0 and not (ev.replayed or ev.retained or ev.will)
    assert t0 - 10**9 <= ev.time_ns <= time.time_ns()
    assert m0 <= ev.mono_ns <= time.monotonic_ns()
    with pytest.raises(AttributeError):
        ev.seq = 1                          # frozen


def test_seq_monotonic_and_wildcards(mkbus, topic):
    sub = mkbus()
    sub.subscribe(f"{topic}.*.x")
    seqs = [sub.publish(f"{topic}.{i}.x", str(i)) for i in range(20)]
    sub.publish(f"{topic}.1.y")             # not matched
    sub.publish(f"{topic}.1.x.z")           # not matched
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    got = [sub.recv(timeout=2) for _ in range(20)]
    assert [e.seq for e in got] == seqs
    assert [e.payload for e in got] == [str(i).encode() for i in range(20)]
    assert sub.try_recv() is None


def test_unsubscribe(mkbus, topic):
    b = mkbus()
    sid = b.subscribe(topic)
    b.unsubscribe(sid)
    b.publish(topic)
    assert b.try_recv() is None
    with pytest.raises(FileNotFoundError):
        b.unsubscribe(sid)


def test_batch(mkbus, topic):
    b = mkbus()
    b.subscribe(f"{topic}.>")
    first = b.publish_batch([
        (f"{topic}.a", b"1"),
        (f"{topic}.b", b"2", 5, 6, 7),
        {"topic": f"{topic}.c", "payload": "3", "type": 8},
    ])
    evs = [b.recv(timeout=2) for _ in range(3)]
    assert [e.seq for e in evs] == [first, first + 1, first + 2]
    assert [e.payload for e in evs] == [b"1", b"2", b"3"]
    assert (evs[1].type, evs[1].corr, evs[1].parent) == (5, 6, 7)
    assert evs[2].type == 8


def test_batch_partial_failure(mkbus, topic):
    b = mkbus()
    b.subscribe(f"{topic}.>")
    with pytest.raises(OSError) as e:
        b.publish_batch([(f"{topic}.ok", b""), (f"{topic}..bad", b""),
                         (f"{topic}.never", b"")])
    assert e.value.errno == errno.EINVAL
    assert e.value.published == 1
    ev = b.recv(timeout=2)
    assert ev.topic == f"{topic}.ok" and ev.seq == e.value.first_seq
    assert b.try_recv() is None


def test_lagged_drop_newest_exact(mkbus, topic):
    b = mkbus()
    b.set_ring(4096, evbus.POLICY_DROP_NEWEST)
    assert b.get_ring() == (4096, evbus.POLICY_DROP_NEWEST)
    t = f"{topic}.lag"
    b.subscribe(t)
    fit = 4096 // rec_size(t, 8)
    k = fit + 17
    seqs = [b.publish(t, b"%08d" % i) for i in range(k)]
    got = []
    with pytest.raises(evbus.Lagged) as lag:
        while True:
            got.append(b.recv(timeout=1))
    assert [e.seq for e in got] == seqs[:fit]
    lg = lag.value
    assert (lg.lost, lg.first_seq, lg.last_seq, lg.history) == \
        (k - fit, seqs[fit], seqs[-1], False)
    assert b.try_recv() is None             # nothing after the gap
    s = b.stats()
    assert s.lost == k - fit and s.lag_records == 1 and s.capacity == 4096


def test_lagged_drop_oldest_exact(mkbus, topic):
    b = mkbus()
    b.set_ring(4096, evbus.POLICY_DROP_OLDEST)
    t = f"{topic}.old"
    b.subscribe(t)
    k = 200
    seqs = [b.publish(t, b"%08d" % i) for i in range(k)]
    recs = drain(b)
    assert isinstance(recs[0], evbus.LaggedRecord), recs[:2]
    lg, evs = recs[0], recs[1:]
    assert all(isinstance(e, evbus.Event) for e in evs)
    kept = len(evs)
    size = rec_size(t, 8)
    # What is kept is what fits beside the LAGGED record (40 bytes).
    assert kept == (4096 - 40) // size, (kept, size)
    assert [e.seq for e in evs] == seqs[k - kept:]
    assert (lg.lost, lg.first_seq, lg.last_seq) == \
        (k - kept, seqs[0], seqs[k - kept - 1])


def test_recv_continues_after_lag(mkbus, topic):
    b = mkbus()
    b.set_ring(4096, evbus.POLICY_DROP_NEWEST)
    b.subscribe(topic)
    for i in range(300):
        b.publish(topic, b"x" * 16)
    n = 0
    with pytest.raises(evbus.Lagged):
        while True:
            b.recv(timeout=1)
            n += 1
    seq = b.publish(topic, b"after")
    ev = b.recv(timeout=1)
    assert n > 0 and ev.seq == seq and ev.payload == b"after"


def test_nonblock_and_timeouts(mkbus, topic):
    nb = mkbus(nonblock=True)
    nb.subscribe(topic)
    with pytest.raises(BlockingIOError):
        nb.recv()
    assert nb.try_recv() is None
    assert nb.recv_record() is None
    b = mkbus()
    b.subscribe(topic)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        b.recv(timeout=0.1)
    assert time.monotonic() - t0 >= 0.09
    nb.publish(topic, b"z")
    assert nb.recv().payload == b"z"


def test_filter_types_pid_uid(mkbus, topic):
    b = mkbus()
    b.subscribe(f"{topic}.ty", types=(10, 20))
    b.subscribe(f"{topic}.pid", from_pid=os.getpid())
    b.subscribe(f"{topic}.uid", from_uid=os.geteuid() + 1)
    for ty in (9, 10, 20, 21):
        b.publish(f"{topic}.ty", type=ty)
    b.publish(f"{topic}.pid", b"me")
    b.publish(f"{topic}.uid", b"nobody sends this")
    got = drain(b)
    assert [(e.topic.rsplit(".", 1)[1], e.type) for e in got] == \
        [("ty", 10), ("ty", 20), ("pid", 0)]
    pid = os.fork()                         # a pid that no longer exists
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    with pytest.raises(ProcessLookupError):
        b.subscribe(f"{topic}.x", from_pid=pid)
    with pytest.raises(OSError) as e:
        b.subscribe(f"{topic}.x", from_pid=0)
    assert e.value.errno in (errno.EINVAL, errno.ESRCH)


BPF_TYPE_7 = """# ld [56] (type); jeq #7; ret #1; ret #0
4
32 0 0 56
21 0 1 7
6 0 0 1
6 0 0 0
"""


def test_bpf_filter(mkbus, topic):
    b = mkbus()
    b.subscribe(topic, filter=BPF_TYPE_7)
    for ty in (1, 7, 8, 7):
        b.publish(topic, type=ty)
    got = drain(b)
    assert [e.type for e in got] == [7, 7]
    assert b.bus_stats().filtered >= 2


def test_bpf_filter_parse_errors():
    prog, n = evbus.filter_parse(BPF_TYPE_7)
    assert n == 4 and prog[0].code == 32 and prog[0].k == 56
    with pytest.raises(OSError) as e:
        evbus.filter_parse("2\n6 0 0 1\nnot a line\n")
    assert e.value.errno == errno.EINVAL and "line 3" in str(e.value)


def test_replay_since_and_last(mkbus, topic):
    pub = mkbus()
    t = f"{topic}.h"
    seqs = [pub.publish(t, str(i)) for i in range(3)]
    r = mkbus()
    r.subscribe(t, since=seqs[0])
    evs = [r.recv(timeout=2) for _ in range(3)]
    assert [e.seq for e in evs] == seqs and all(e.replayed for e in evs)
    live = pub.publish(t, b"live")
    ev = r.recv(timeout=2)
    assert ev.seq == live and not ev.replayed
    r2 = mkbus()
    r2.subscribe(t, last=2)
    evs = [r2.recv(timeout=2) for _ in range(2)]
    assert [e.seq for e in evs] == [seqs[2], live]
    assert all(e.replayed for e in evs)


def test_retained(mkbus, topic):
    pub = mkbus()
    t = f"{topic}.state"
    pub.publish(t, b"old", retain=True)
    seq = pub.publish(t, b"current", retain=True)
    r = mkbus()
    r.subscribe(f"{topic}.*", retained=True)
    ev = r.recv(timeout=2)
    assert (ev.seq, ev.payload, ev.retained) == (seq, b"current", True)
    assert r.try_recv() is None
    pub.publish_retained(t, b"")            # clears it
    r3 = mkbus()
    r3.subscribe(f"{topic}.*", retained=True)
    assert r3.try_recv() is None
    assert pub.history().next_seq > seq


def test_since_out_of_range_is_erange(mkbus, topic):
    b = mkbus()
    nxt = b.history().next_seq
    with pytest.raises(OSError) as e:
        b.subscribe(topic, since=nxt + 1000)
    assert e.value.errno == errno.ERANGE
    with pytest.raises(OSError) as e:
        b.subscribe(topic, since=1, last=2)
    assert e.value.errno == errno.EINVAL


def test_error_mapping(mkbus, topic):
    b = mkbus()
    with pytest.raises(OSError) as e:
        b.publish(f"{topic}..x")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        b.publish(f"{topic}.a\0b")          # NUL: refused before C
    assert e.value.errno == errno.EINVAL and "NUL" in str(e.value)
    with pytest.raises(OSError) as e:
        b.subscribe(b"a.\0")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(PermissionError):
        b.publish("$sys.fake")
    with pytest.raises(OSError) as e:
        b.publish(topic, b"x" * (b.query().max_payload + 1))
    assert e.value.errno == errno.EMSGSIZE
    with pytest.raises(OSError) as e:
        b.set_ring(3000, 77)
    assert e.value.errno == errno.EINVAL


def test_open_errors(mkbus, monkeypatch):
    mkbus()
    with pytest.raises(FileNotFoundError):
        evbus.Bus("/dev/no-such-evbus")
    monkeypatch.setenv("EVBUS_FD", "12x")
    with pytest.raises(OSError) as e:
        evbus.Bus()
    assert e.value.errno == errno.EBADF
    with open("/dev/null") as f:
        monkeypatch.setenv("EVBUS_FD", str(f.fileno()))
        with pytest.raises(OSError) as e:
            evbus.Bus()
        assert e.value.errno == errno.ENOTTY
    evbus.Bus(flags=evbus.OPEN_NO_ENV).close()   # ignores EVBUS_FD


def test_inherited_evbus_fd(mkbus, topic):
    sub = mkbus()
    sub.subscribe(f"{topic}.>")
    h = mkbus()
    h.narrow(publish=[f"{topic}.child.>"])   # the child inherits the scope
    fd = h.fileno()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import evbus\n"
            "b = evbus.Bus()\n"
            "print(b.publish(sys.argv[2] + '.child.hi', b'from child'))\n"
            "try:\n    b.publish(sys.argv[2] + '.elsewhere')\n"
            "except PermissionError:\n    print('denied')\n")
    env = dict(os.environ, EVBUS_FD=str(fd), PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, "-c", code, PKG_ROOT, topic],
                       pass_fds=[fd], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    seq, denied = p.stdout.split()
    assert denied == "denied"
    ev = sub.recv(timeout=2)
    assert (ev.seq, ev.payload, ev.topic) == (int(seq), b"from child",
                                              f"{topic}.child.hi")
    assert ev.pid != os.getpid() and ev.pid > 0


def test_stats_and_bus_stats(mkbus, topic):
    b = mkbus()
    before = b.bus_stats()
    b.subscribe(topic)
    b.subscribe(f"{topic}.>")
    for _ in range(3):
        b.publish(topic, b"abc")
    s = b.stats()
    assert (s.published, s.subscriptions, s.queued_events) == (3, 2, 3)
    assert b.stats().delivered == 0
    b.recv()
    # One read() took all three records; evbus_read() hands them out.
    s = b.stats()
    assert (s.delivered, s.queued_events) == (3, 0)
    after = b.bus_stats()
    assert after.published >= before.published + 3
    assert after.seq >= before.seq + 3 and after.open_files >= 1
    assert isinstance(after, evbus.BusStats)


def test_wake_settings(mkbus, topic):
    b = mkbus()
    b.subscribe(topic)
    b.set_wake(16, 1_000_000)
    assert b.get_wake() == (16, 1_000_000)
    assert b.get_wake_mode() == evbus.RING_WAKE
    b.set_wake(0, 0)
    assert b.get_wake_mode() == evbus.RING_IMMEDIATE
    b.set_wake_adaptive()
    assert b.get_wake_mode() == evbus.RING_ADAPTIVE
    with pytest.raises(OSError) as e:
        b.set_wake(1, 10**10)
    assert e.value.errno == errno.EINVAL


def test_mmap_consumer(mkbus, topic):
    b = mkbus()
    b.subscribe(topic)
    with b.mmap() as m:
        seqs = [b.publish(topic, b"m%d" % i) for i in range(5)]
        got = []
        deadline = time.monotonic() + 3
        while len(got) < 5 and time.monotonic() < deadline:
            got += m.poll(0.5)
        assert [r.seq for r in got] == seqs
        assert [r.payload for r in got] == [b"m%d" % i for i in range(5)]
        assert m.consume() == []
        s = b.publish(topic, b"via read")
        assert b.recv(timeout=1).seq == s    # evbus_read() uses the mapping
        with pytest.raises(OSError) as e:
            b.set_ring(8192)
        assert e.value.errno == errno.EBUSY
    s = b.publish(topic, b"after unmap")
    assert b.recv(timeout=1).seq == s


def test_mmap_iterator_and_lag(mkbus, topic):
    b = mkbus()
    b.set_ring(4096, evbus.POLICY_DROP_NEWEST)
    b.subscribe(topic)
    m = b.mmap()
    for _ in range(100):
        b.publish(topic, b"x" * 32)
    kinds = []
    for r in m:
        kinds.append(type(r).__name__)
        if isinstance(r, evbus.LaggedRecord):
            break
    assert kinds[-1] == "LaggedRecord" and kinds.count("Event") > 10
    m.close()
