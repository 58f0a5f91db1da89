"""The handle: class Bus over struct evbus *."""
from __future__ import annotations

import ctypes
import errno as _errno
import os
from ctypes import byref, c_uint32, c_uint64, c_void_p, c_char_p
from dataclasses import dataclass, fields
from typing import Iterable, Optional, Sequence, Union

from . import _lib as L
from .records import (Event, Lagged, LaggedRecord, Record, RecordView,
                      decode_record)

lib = L.lib
_evbus_read = lib.evbus_read
StrOrBytes = Union[str, bytes]

__all__ = ["Bus", "Scope", "MmapConsumer", "Version", "Stats", "BusStats",
           "History", "RateLimit", "Rate", "Rule", "check", "to_bytes",
           "check_topic", "check_pattern", "matches", "filter_parse"]


def check(ret: int) -> int:
    """A libevbus return: a negative errno raises OSError, else it is
    returned."""
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    return ret


def to_bytes(s: StrOrBytes, what: str = "topic") -> bytes:
    """A topic or pattern for C: UTF-8, and no NUL inside (which C would
    silently truncate at): EINVAL before calling C."""
    if isinstance(s, str):
        b = s.encode("utf-8", "surrogateescape")
    elif isinstance(s, (bytes, bytearray, memoryview)):
        b = bytes(s)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")
    if b"\0" in b:
        raise OSError(_errno.EINVAL,
                      f"{os.strerror(_errno.EINVAL)}: NUL byte in {what}")
    return b


def _payload(p) -> bytes:
    if p is None:
        return b""
    if isinstance(p, str):
        return p.encode()
    return bytes(p)


def _check_syntax(fn, s, what):
    b = to_bytes(s, what)
    why = c_char_p()
    ret = fn(b, byref(why))
    if ret < 0:
        reason = why.value.decode(errors="replace") if why.value else ""
        msg = os.strerror(-ret) + (f": {reason}" if reason else "")
        raise OSError(-ret, msg)


def check_topic(topic: StrOrBytes) -> None:
    """Raise OSError(EINVAL, "...: why") unless topic is a valid topic."""
    _check_syntax(lib.evbus_check_topic, topic, "topic")


def check_pattern(pattern: StrOrBytes) -> None:
    """Raise OSError(EINVAL, "...: why") unless pattern is a valid pattern."""
    _check_syntax(lib.evbus_check_pattern, pattern, "pattern")


def matches(pattern: StrOrBytes, topic: StrOrBytes) -> bool:
    """Does pattern match topic (the kernel's matcher, evbus_match)?
    OSError(EINVAL) if either is invalid."""
    return bool(check(lib.evbus_match(to_bytes(pattern, "pattern"),
                                      to_bytes(topic, "topic"))))


def filter_parse(text: StrOrBytes):
    """Parse `tcpdump -ddd` text into a ctypes sock_filter array."""
    b = to_bytes(text, "filter")
    prog = (L.sock_filter * L.FILTER_MAX_INSNS)()
    bad = ctypes.c_uint(0)
    ret = lib.evbus_filter_parse(b, prog, L.FILTER_MAX_INSNS, byref(bad))
    if ret < 0:
        msg = os.strerror(-ret)
        if ret == -_errno.EINVAL and bad.value:
            msg += f": filter line {bad.value}"
        raise OSError(-ret, msg)
    return prog, ret


def _struct_to_dataclass(cls, s):
    return cls(**{f.name: getattr(s, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Version:
    abi_version: int
    features: int
    max_payload: int
    max_subs: int
    ring_default: int
    ring_max: int

    @property
    def feature_names(self):
        return {n for i, n in enumerate(L.FEATURES) if self.features >> i & 1}

    def has(self, name: str) -> bool:
        return name in self.feature_names


@dataclass(frozen=True)
class Stats:
    queued_events: int
    queued_bytes: int
    delivered: int
    lost: int
    lag_records: int
    published: int
    capacity: int
    policy: int
    subscriptions: int


BusStats = dataclass(frozen=True)(type("BusStats", (), {
    "__annotations__": {n: int for n in (L._BUS_STATS_U64_A +
                                         ["policy_default"] +
                                         L._BUS_STATS_U64_B)},
    "__doc__": "struct evbus_bus_stats: the counters of the handle's bus.",
    "__module__": __name__,
}))


@dataclass(frozen=True)
class History:
    capacity: int
    bytes: int
    events: int
    oldest_seq: int
    newest_seq: int
    next_seq: int
    evicted: int
    skipped: int
    replayed: int
    retained: int
    retained_bytes: int


@dataclass(frozen=True)
class RateLimit:
    events_per_sec: int = 0
    events_burst: int = 0
    bytes_per_sec: int = 0
    bytes_burst: int = 0

    def to_c(self):
        return L.evbus_rate_limit(self.events_per_sec, self.events_burst,
                                  self.bytes_per_sec, self.bytes_burst)


@dataclass(frozen=True)
class Rate:
    limit: RateLimit
    user: RateLimit
    events_tokens: int
    bytes_tokens: int
    user_events_tokens: int
    user_bytes_tokens: int
    refused: int
    waited: int


@dataclass(frozen=True)
class Rule:
    id: int
    verdict: int
    rights: int
    who: int
    id_value: int
    pattern: str


class Bus:
    """One open file of /dev/evbus: a subscriber with its own ring and a
    publisher.  Not thread-safe for receiving; publishing and the other
    calls may run concurrently with a receiver.  The descriptor is
    non-blocking and close-on-exec."""

    def __init__(self, path: Optional[str] = None, nonblock: bool = False, *,
                 flags: int = 0, read_buf: int = 0):
        self._h = None
        o = L.opts(L.evbus_opts, flags=flags, read_buf=read_buf)
        if path is not None:
            self._path = os.fsencode(path)
            o.path = self._path
        h = c_void_p()
        check(lib.evbus_open(byref(h), byref(o)))
        self._h = h.value
        self._nonblock = nonblock
        self._rec = c_void_p()
        self._recp = byref(self._rec)
        self._view = None
        self._mmap = None

    @classmethod
    def open(cls, path: Optional[str] = None, nonblock: bool = False,
             **kw) -> "Bus":
        """Open the device (path None: an inherited $EVBUS_FD if set, else
        /dev/evbus).  nonblock: recv() without a timeout does not wait."""
        return cls(path, nonblock, **kw)

    # ---------------------------------------------------------- lifetime
    @property
    def handle(self):
        if self._h is None:
            raise ValueError("I/O operation on closed evbus handle")
        return self._h

    @property
    def closed(self) -> bool:
        return self._h is None

    def fileno(self) -> int:
        return check(lib.evbus_fd(self.handle))

    def close(self) -> None:
        if self._h is not None:
            if self._mmap is not None:
                self._mmap._closed_by_bus()
                self._mmap = None
            h, self._h = self._h, None
            lib.evbus_close(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def query(self) -> Version:
        v = L.evbus_version()
        check(lib.evbus_query(self.handle, byref(v)))
        return _struct_to_dataclass(Version, v)

    # -------------------------------------------------------- publishing
    @staticmethod
    def _pub_opts(type, corr, parent, flags):
        return L.opts(L.evbus_pub_opts, type=type, corr=corr, parent=parent,
                      flags=flags)

    def publish(self, topic: StrOrBytes, payload=b"", *, type: int = 0,
                corr: int = 0, parent: int = 0, retain: bool = False) -> int:
        """Publish one event; returns its seq."""
        t = to_bytes(topic)
        p = _payload(payload)
        o = self._pub_opts(type, corr, parent, L.PUB_RETAIN if retain else 0)
        seq = c_uint64()
        check(lib.evbus_publish(self.handle, t, p, len(p), byref(o),
                                byref(seq)))
        return seq.value

    def publish_retained(self, topic: StrOrBytes, payload=b"") -> None:
        p = _payload(payload)
        check(lib.evbus_publish_retained(self.handle, to_bytes(topic), p,
                                         len(p)))

    def publish_batch(self, events: Iterable) -> int:
        """Publish events in order, each (topic, payload), or
        (topic, payload, type, corr, parent), or a dict with those keys.
        Returns the first event's seq.  If an event fails, the events
        before it stay published and OSError is raised with the attributes
        `published` (count) and `first_seq`."""
        items = []
        for e in events:
            if isinstance(e, dict):
                d = e
            else:
                d = dict(zip(("topic", "payload", "type", "corr", "parent"),
                             e))
            items.append((to_bytes(d["topic"]), _payload(d.get("payload")),
                          d.get("type", 0), d.get("corr", 0),
                          d.get("parent", 0),
                          L.PUB_RETAIN if d.get("retain") else 0))
        n = len(items)
        if not n:
            raise OSError(_errno.EINVAL, "empty batch")
        arr = (L.evbus_pub * n)()
        keep = []
        for i, (t, p, ty, corr, parent, flags) in enumerate(items):
            tb = ctypes.create_string_buffer(t, len(t))
            pb = ctypes.create_string_buffer(p, len(p)) if p else None
            keep.append((tb, pb))
            e = arr[i]
            e.topic = ctypes.addressof(tb)
            e.topic_len = len(t)
            e.payload = ctypes.addressof(pb) if pb is not None else 0
            e.payload_len = len(p)
            e.type, e.corr, e.parent, e.flags = ty, corr, parent, flags
        first = c_uint64()
        ret = check(lib.evbus_publish_batch(self.handle, arr, n, byref(first)))
        if ret < n:
            tail = (L.evbus_pub * (n - ret)).from_buffer(arr, ret * 72)
            err = lib.evbus_publish_batch(self.handle, tail, n - ret, None)
            code = -err if err < 0 else _errno.EIO
            exc = OSError(code, os.strerror(code) +
                          f": batch stopped after {ret} of {n} events")
            exc.published = ret
            exc.first_seq = first.value
            raise exc
        return first.value

    def _publish_deadline(self, fn, topic, payload, deadline_ns, type, corr,
                          parent, flags):
        t = to_bytes(topic)
        p = _payload(payload)
        o = self._pub_opts(type, corr, parent, flags)
        seq = c_uint64()
        check(fn(self.handle, t, p, len(p), byref(o), int(deadline_ns),
                 byref(seq)))
        return seq.value

    def publish_ask(self, topic: StrOrBytes, payload=b"", *,
                    deadline_ms: Optional[float] = None, deadline_ns: int = 0,
                    type: int = 0, corr: int = 0, parent: int = 0,
                    retain: bool = False) -> int:
        """Publish through the approval gate; waits for the verdict.  A
        denial raises OSError with the approver's errno."""
        if deadline_ms is not None:
            deadline_ns = int(deadline_ms * 1_000_000)
        return self._publish_deadline(lib.evbus_publish_ask, topic, payload,
                                      deadline_ns, type, corr, parent,
                                      L.PUB_RETAIN if retain else 0)

    def publish_wait(self, topic: StrOrBytes, payload=b"", *,
                     deadline_ms: Optional[float] = None, deadline_ns: int = 0,
                     type: int = 0, corr: int = 0, parent: int = 0,
                     retain: bool = False, ask: bool = False) -> int:
        """Publish, waiting up to the deadline for rate-limit tokens."""
        if deadline_ms is not None:
            deadline_ns = int(deadline_ms * 1_000_000)
        flags = (L.PUB_RETAIN if retain else 0) | (L.PUB_ASK if ask else 0)
        return self._publish_deadline(lib.evbus_publish_wait, topic, payload,
                                      deadline_ns, type, corr, parent, flags)

    # ------------------------------------------------------ subscribing
    def subscribe(self, pattern: StrOrBytes, *, from_uid: Optional[int] = None,
                  from_gid: Optional[int] = None,
                  from_pid: Optional[int] = None,
                  types: Optional[Sequence[int]] = None,
                  filter: Optional[StrOrBytes] = None,
                  since: Optional[int] = None, last: Optional[int] = None,
                  retained: bool = False) -> int:
        """Subscribe; returns the subscription id.  types=(min, max);
        filter: classic BPF as `tcpdump -ddd` prints it; since/last/
        retained start in the past (at most one)."""
        pat = to_bytes(pattern, "pattern")
        sid = c_uint32()
        if (from_uid is None and from_gid is None and from_pid is None and
                types is None and filter is None and since is None and
                last is None and not retained):
            check(lib.evbus_subscribe(self.handle, pat, byref(sid)))
            return sid.value
        o = L.opts(L.evbus_sub_opts)
        if from_uid is not None:
            o.flags |= L.SUB_FROM_UID
            o.from_uid = from_uid
        if from_gid is not None:
            o.flags |= L.SUB_FROM_GID
            o.from_gid = from_gid
        if from_pid is not None:
            o.flags |= L.SUB_FROM_PID
            o.from_pid = from_pid
        if types is not None:
            o.flags |= L.SUB_TYPE
            o.type_min, o.type_max = types
        prog = None
        if filter is not None:
            prog, n = filter_parse(filter)
            o.flags |= L.SUB_FILTER
            o.filter = ctypes.cast(prog, ctypes.POINTER(L.sock_filter))
            o.filter_len = n
        if since is not None:
            o.flags |= L.SUB_SINCE
            o.since = since
        if last is not None:
            o.flags |= L.SUB_LAST
            o.last = last
        if retained:
            o.flags |= L.SUB_RETAINED
        check(lib.evbus_subscribe_opts(self.handle, pat, byref(o), byref(sid)))
        return sid.value

    def unsubscribe(self, sub_id: int) -> None:
        check(lib.evbus_unsubscribe(self.handle, sub_id))

    # --------------------------------------------------- ring, counters
    def set_ring(self, size: int = 0,
                 policy: int = L.POLICY_DROP_OLDEST) -> None:
        check(lib.evbus_set_ring(self.handle, size, policy))

    def get_ring(self):
        """(size, policy)."""
        size, policy = c_uint32(), c_uint32()
        check(lib.evbus_get_ring(self.handle, byref(size), byref(policy)))
        return size.value, policy.value

    def set_ring_lossless(self, size: int = 0, wait_ns: int = 1_000_000_000):
        check(lib.evbus_set_ring_lossless(self.handle, size, wait_ns))

    def set_wake(self, events: int = 0, delay_ns: int = 0) -> None:
        """Fixed coalescing; set_wake(0, 0): immediate wake-ups."""
        check(lib.evbus_set_wake(self.handle, events, delay_ns))

    def get_wake(self):
        ev, d = c_uint32(), c_uint64()
        check(lib.evbus_get_wake(self.handle, byref(ev), byref(d)))
        return ev.value, d.value

    def set_wake_adaptive(self) -> None:
        check(lib.evbus_set_wake_adaptive(self.handle))

    def get_wake_mode(self) -> int:
        m = c_uint32()
        check(lib.evbus_get_wake_mode(self.handle, byref(m)))
        return m.value

    def stats(self) -> Stats:
        s = L.evbus_stats()
        check(lib.evbus_get_stats(self.handle, byref(s)))
        return _struct_to_dataclass(Stats, s)

    def bus_stats(self):
        s = L.evbus_bus_stats()
        s.size = ctypes.sizeof(s)
        check(lib.evbus_get_bus_stats(self.handle, byref(s)))
        return _struct_to_dataclass(BusStats, s)

    def history(self) -> History:
        h = L.evbus_history()
        check(lib.evbus_get_history(self.handle, byref(h)))
        return _struct_to_dataclass(History, h)

    def set_history_capacity(self, nbytes: int) -> None:
        check(lib.evbus_set_history_capacity(self.handle, nbytes))

    # --------------------------------------------------------- receiving
    def _read(self, timeout_ms: int):
        """One record (decoded) or None when none is there in time."""
        h = self.handle
        while True:
            ret = _evbus_read(h, self._recp, timeout_ms)
            if ret == 0:
                p = self._rec.value
                view = self._view
                if view is None or view.addr != p:
                    view = self._view = RecordView(p)
                return view.decode()
            if ret == -_errno.EAGAIN or ret == -_errno.ETIMEDOUT:
                return None
            if ret == -_errno.EINTR:
                continue            # a Python signal handler runs here
            raise OSError(-ret, os.strerror(-ret))

    @staticmethod
    def _timeout_ms(timeout):
        if timeout is None:
            return -1
        if timeout <= 0:
            return 0
        return max(1, int(timeout * 1000 + 0.999))

    def recv_record(self, timeout: Optional[float] = None) -> Optional[Record]:
        """The next record of any kind: Event, LaggedRecord, Revoked,
        Request, Cancelled or Unknown.  timeout in seconds (None: wait
        forever, or not at all on a nonblock handle); None if nothing came."""
        if timeout is None and self._nonblock:
            timeout = 0
        return self._read(self._timeout_ms(timeout))

    def recv(self, timeout: Optional[float] = None) -> Event:
        """The next event.  A loss raises Lagged (the next call continues
        after the gap); other record kinds (revocations, approval requests)
        are skipped: use recv_record() for them.  TimeoutError when timeout
        (seconds) passes, BlockingIOError on a nonblock handle with nothing
        queued."""
        ms = self._timeout_ms(0 if timeout is None and self._nonblock
                              else timeout)
        while True:
            r = self._read(ms)
            if r is None:
                if ms == 0:
                    raise BlockingIOError(_errno.EAGAIN,
                                          os.strerror(_errno.EAGAIN))
                raise TimeoutError(_errno.ETIMEDOUT,
                                   os.strerror(_errno.ETIMEDOUT))
            if type(r) is Event:
                return r
            if type(r) is LaggedRecord:
                raise Lagged.from_record(r)

    def try_recv(self) -> Optional[Event]:
        """The next event if one is queued, else None (Lagged as recv())."""
        while True:
            r = self._read(0)
            if r is None or type(r) is Event:
                return r
            if type(r) is LaggedRecord:
                raise Lagged.from_record(r)

    def __iter__(self):
        """Events forever; Lagged is raised out of the loop (start a new
        loop to go on after the gap)."""
        while True:
            yield self.recv()

    def aio(self):
        """An asyncio view of this handle (evbus.aio.AsyncBus)."""
        from .aio import AsyncBus
        return AsyncBus(self)

    def mmap(self) -> "MmapConsumer":
        """Map the ring (evbus_mmap_open); evbus_read() uses it too."""
        if self._mmap is None:
            self._mmap = MmapConsumer(self)
        return self._mmap

    # ---------------------------------------------------------- approval
    def approver_add(self, pattern: StrOrBytes, priority: int = 0, *,
                     default: int = L.DENY) -> int:
        """Register as approver of pattern; default is ALLOW or DENY, the
        verdict for the deadline and this approver's going away."""
        aid = c_uint32()
        check(lib.evbus_approver_add(self.handle, to_bytes(pattern, "pattern"),
                                     priority, default, byref(aid)))
        return aid.value

    def approver_del(self, approver_id: int) -> None:
        check(lib.evbus_approver_del(self.handle, approver_id))

    def verdict_allow(self, req_id: int) -> None:
        check(lib.evbus_verdict_allow(self.handle, req_id))

    def verdict_deny(self, req_id: int, error: int = 0) -> None:
        """Deny; the publisher gets OSError(error) (0: EACCES)."""
        check(lib.evbus_verdict_deny(self.handle, req_id, error))

    def verdict_modify(self, req_id: int, topic: Optional[StrOrBytes] = None,
                       payload=b"", type: int = 0) -> None:
        t = to_bytes(topic) if topic is not None else None
        p = _payload(payload)
        check(lib.evbus_verdict_modify(self.handle, req_id, t, p, len(p),
                                       type))

    # ---------------------------------------------------- wills, scopes
    def will_set(self, scope: int, topic: StrOrBytes, payload=b"", *,
                 type: int = 0, corr: int = 0, parent: int = 0) -> None:
        p = _payload(payload)
        o = self._pub_opts(type, corr, parent, 0)
        check(lib.evbus_will_set(self.handle, scope, to_bytes(topic), p,
                                 len(p), byref(o)))

    def will_clear(self, scope: int) -> None:
        check(lib.evbus_will_clear(self.handle, scope))

    def scope(self, prefix: StrOrBytes, payload=b"", *,
              parent: int = 0) -> "Scope":
        """Begin a lifecycle scope: publishes <prefix>.started now."""
        return Scope(self, prefix, payload, parent)

    # --------------------------------------------------------------- rate
    def rate_get(self) -> Rate:
        r = L.evbus_rate()
        check(lib.evbus_rate_get(self.handle, byref(r)))
        lim = lambda s: RateLimit(s.events_per_sec, s.events_burst,
                                  s.bytes_per_sec, s.bytes_burst)
        return Rate(lim(r.limit), lim(r.user), r.events_tokens,
                    r.bytes_tokens, r.user_events_tokens, r.user_bytes_tokens,
                    r.refused, r.waited)

    def rate_limit(self, limit: Optional[RateLimit] = None, **kw) -> None:
        """Tighten this file's limit: rate_limit(RateLimit(...)) or
        rate_limit(events_per_sec=.., events_burst=.., ...)."""
        lim = (limit or RateLimit(**kw)).to_c()
        check(lib.evbus_rate_limit(self.handle, byref(lim)))

    def rate_limit_user(self, who: int, uid: int,
                        limit: Optional[RateLimit] = None) -> None:
        """The owner sets (limit None or zero: removes) a user's limit."""
        p = byref(limit.to_c()) if limit is not None else None
        check(lib.evbus_rate_limit_user(self.handle, who, uid, p))

    def rate_user_get(self, who: int, uid: int) -> RateLimit:
        s = L.evbus_rate_limit()
        check(lib.evbus_rate_user_get(self.handle, who, uid, byref(s)))
        return RateLimit(s.events_per_sec, s.events_burst, s.bytes_per_sec,
                         s.bytes_burst)

    # ------------------------------------------------------------- policy
    def policy_add(self, pattern: StrOrBytes, verdict: int, rights: int, *,
                   who: int = L.WHO_ALL, id: int = 0, flags: int = 0) -> int:
        rid = c_uint32()
        check(lib.evbus_policy_add(self.handle, to_bytes(pattern, "pattern"),
                                   verdict, rights, who, id, flags,
                                   byref(rid)))
        return rid.value

    def policy_remove(self, rule_id: int, flags: int = 0) -> None:
        check(lib.evbus_policy_remove(self.handle, rule_id, flags))

    def policy_default(self, verdict: int, flags: int = 0) -> None:
        check(lib.evbus_policy_default(self.handle, verdict, flags))

    def policy_clear(self, flags: int = 0) -> None:
        check(lib.evbus_policy_clear(self.handle, flags))

    def policy_list(self):
        """(rules, default verdict)."""
        rules, start = [], 0
        total, deflt = c_uint32(), c_uint32()
        while True:
            buf = (L.evbus_rule_info * 64)()
            n = check(lib.evbus_policy_list(self.handle, start, buf, 64,
                                            byref(total), byref(deflt)))
            for r in buf[:n]:
                rules.append(Rule(r.id, r.verdict, r.rights, r.who,
                                  r.id_value,
                                  r.pattern.decode("utf-8",
                                                   "surrogateescape")))
            if n < 64:
                return rules, deflt.value
            start = rules[-1].id + 1

    def narrow(self, publish: Optional[Sequence[StrOrBytes]] = None,
               subscribe: Optional[Sequence[StrOrBytes]] = None) -> None:
        """Narrow the file irreversibly; None keeps that set as it is."""
        flags = 0
        if publish is None:
            flags |= L.SCOPE_KEEP_PUBLISH
        if subscribe is None:
            flags |= L.SCOPE_KEEP_SUBSCRIBE

        def arr(seq):
            seq = [to_bytes(s, "pattern") for s in (seq or [])]
            a = (c_char_p * max(1, len(seq)))(*seq)
            return a, len(seq)
        pa, pn = arr(publish)
        sa, sn = arr(subscribe)
        check(lib.evbus_narrow(self.handle, pa, pn, sa, sn, flags))


class Scope:
    """A lifecycle scope (evbus_scope_begin): `with bus.scope("job") as s:`
    publishes job.started now, s.update() job.progress, and on exit
    job.success, or job.failed if the block raised.  A will publishes
    job.failed if the process dies inside."""

    def __init__(self, bus: Bus, prefix, payload=b"", parent: int = 0):
        self.bus = bus
        p = _payload(payload)
        sid = c_uint64()
        check(lib.evbus_scope_begin(bus.handle, to_bytes(prefix, "prefix"), p,
                                    len(p), parent, byref(sid)))
        self.id = sid.value
        self.done = False

    def update(self, payload=b"") -> None:
        p = _payload(payload)
        check(lib.evbus_scope_update(self.bus.handle, self.id, p, len(p)))

    def end(self, ok: bool = True, payload=b"") -> None:
        p = _payload(payload)
        check(lib.evbus_scope_end(self.bus.handle, self.id, bool(ok), p,
                                  len(p)))
        self.done = True

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if not self.done:
            self.end(et is None, b"" if et is None else
                     f"{et.__name__}: {ev}".encode())
        return False


class MmapConsumer:
    """The mapped ring (evbus_mmap_open).  consume() and poll() return the
    records available (decoded by libevbus through the callback); iterating
    yields records forever."""

    def __init__(self, bus: Bus):
        self.bus = bus
        m = c_void_p()
        check(lib.evbus_mmap_open(bus.handle, byref(m)))
        self._m = m.value
        self._batch = []
        self._err = None

        def cb(ctx, rec):
            try:
                self._batch.append(decode_record(ctypes.addressof(
                    rec.contents)))
            except BaseException as e:      # never unwind through C
                self._err = e
                return -_errno.ECANCELED
            return 0
        self._cb = L.RECORD_FN(cb)          # keep a reference

    def _take(self, ret):
        out, self._batch = self._batch, []
        err, self._err = self._err, None
        if err is not None:
            raise err
        if ret < 0 and ret not in (-_errno.EAGAIN, -_errno.ETIMEDOUT,
                                   -_errno.EINTR):
            raise OSError(-ret, os.strerror(-ret))
        return out

    def consume(self):
        """Every record available now."""
        return self._take(lib.evbus_mmap_consume(self._handle(), self._cb,
                                                 None))

    def poll(self, timeout: Optional[float] = None):
        """Wait up to timeout seconds (None: forever) for records."""
        ms = Bus._timeout_ms(timeout)
        return self._take(lib.evbus_mmap_poll(self._handle(), self._cb, None,
                                              ms))

    def __iter__(self):
        while True:
            yield from self.poll(None)

    def _handle(self):
        if self._m is None:
            raise ValueError("mapping closed")
        return self._m

    def _closed_by_bus(self):
        # evbus_close() unmaps it itself.
        self._m = None

    def close(self):
        """Unmap (evbus_mmap_close); evbus_read() goes back to read()."""
        if self._m is not None:
            m, self._m = self._m, None
            lib.evbus_mmap_close(m)
            if self.bus._mmap is self:
                self.bus._mmap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
