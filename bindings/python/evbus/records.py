"""Records as Python values.

Records are decoded only by libevbus's walker (evbus_read(),
evbus_records_next(), evbus_mmap_*); this module turns the struct
evbus_record the walker hands out (with the topic and payload it located
and checked) into frozen dataclasses.  It never steps through record bytes
itself: it only reads the fixed, already-validated struct the walker
points to."""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct
from dataclasses import dataclass
from typing import Optional, Union

from . import _lib as L

__all__ = ["Event", "LaggedRecord", "Revoked", "Request", "Cancelled",
           "Unknown", "Lagged", "Record", "parse_records", "decode_record"]

_REC = struct.Struct("=IIQQQQQQQ")          # struct evbus_record
_EVENT = struct.Struct("=IHHIIQQQIIIIIIQQ")  # struct evbus_event
_LAGGED = struct.Struct("=IHHIIQQQ")         # struct evbus_lagged
_REVOKED = struct.Struct("=IHHIIQ")          # struct evbus_revoked
_REQUEST = struct.Struct("=IHHIIQQQ")        # struct evbus_request
_CANCELLED = struct.Struct("=IHHIIQ")        # struct evbus_cancelled
assert _REC.size == 64 and _EVENT.size == 80 and _LAGGED.size == 40
assert _REVOKED.size == 24 and _REQUEST.size == 40 and _CANCELLED.size == 24

_string_at = ctypes.string_at


@dataclass(frozen=True)
class Event:
    """A delivered event (EVBUS_REC_EVENT)."""
    seq: int
    time_ns: int
    mono_ns: int
    pid: int
    tid: int
    uid: int
    gid: int
    type: int
    flags: int
    corr: int
    parent: int
    topic: str
    payload: bytes

    @property
    def replayed(self) -> bool:
        return bool(self.flags & L.EVENT_REPLAYED)

    @property
    def retained(self) -> bool:
        return bool(self.flags & L.EVENT_RETAINED)

    @property
    def approved(self) -> bool:
        return bool(self.flags & L.EVENT_APPROVED)

    @property
    def modified(self) -> bool:
        return bool(self.flags & L.EVENT_MODIFIED)

    @property
    def will(self) -> bool:
        return bool(self.flags & L.EVENT_WILL)

    @property
    def modifier(self) -> int:
        """Id of the last approver that changed it (EVBUS_EVENT_MODIFIER)."""
        return (self.flags & 0xFFFFFFFF) >> 16

    @property
    def topic_bytes(self) -> bytes:
        return self.topic.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class LaggedRecord:
    """Events lost for this handle: seqs first_seq..last_seq inclusive."""
    lost: int
    first_seq: int
    last_seq: int
    flags: int = 0

    @property
    def history(self) -> bool:
        """EVBUS_LAGGED_HISTORY: a replay found these gone from the history."""
        return bool(self.flags & L.LAGGED_HISTORY)


@dataclass(frozen=True, slots=True)
class Revoked:
    """A subscription removed by a policy change (EVBUS_REC_REVOKED)."""
    sub_id: int
    reason: int
    seq: int


@dataclass(frozen=True, slots=True)
class Request:
    """An approval request to this handle (EVBUS_REC_REQUEST)."""
    id: int
    approver_id: int
    flags: int
    deadline_ns: int
    event: Event

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & L.REQ_MANDATORY)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A request that ends unanswered (EVBUS_REC_CANCELLED)."""
    id: int
    approver_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class Unknown:
    """A record of a kind this binding does not know: skip it."""
    kind: int
    len: int


Record = Union[Event, LaggedRecord, Revoked, Request, Cancelled, Unknown]


class Lagged(Exception):
    """Raised by recv(): `lost` events (seqs first_seq..last_seq) were lost
    for this handle.  The next recv() continues after the gap."""

    def __init__(self, lost: int, first_seq: int, last_seq: int,
                 history: bool = False):
        super().__init__(lost, first_seq, last_seq, history)
        self.lost = lost
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.history = history

    def __str__(self):
        h = " (history)" if self.history else ""
        return (f"lagged: {self.lost} events lost, seq {self.first_seq}.."
                f"{self.last_seq}{h}")

    @classmethod
    def from_record(cls, r: LaggedRecord) -> "Lagged":
        return cls(r.lost, r.first_seq, r.last_seq, r.history)


_new = object.__new__
_set = object.__setattr__
_unpack_event = _EVENT.unpack_from


def _event_at(ev_addr, topic, topic_len, payload, payload_len):
    """The event whose fixed part is at ev_addr; topic and payload where the
    walker found them (within the record it checked).  One copy of the
    record's bytes, then slices at the walker's offsets."""
    t0 = topic - ev_addr
    p0 = payload - ev_addr
    end = max(80, t0 + topic_len, p0 + payload_len)
    raw = _string_at(ev_addr, end)
    (_l, _k, _h, _tl, _pl, seq, time_ns, mono_ns, pid, tid, uid, gid, typ,
     flags, corr, parent) = _unpack_event(raw)
    e = _new(Event)
    # Frozen: fill the instance dict in one step (what __init__ would set).
    _set(e, "__dict__", {
        "seq": seq, "time_ns": time_ns, "mono_ns": mono_ns, "pid": pid,
        "tid": tid, "uid": uid, "gid": gid, "type": typ, "flags": flags,
        "corr": corr, "parent": parent,
        "topic": raw[t0:t0 + topic_len].decode("utf-8", "surrogateescape"),
        "payload": raw[p0:p0 + payload_len]})
    return e


def decode_record(addr: int) -> Record:
    """The struct evbus_record at addr, as handed out by the walker."""
    return decode_fields(_REC.unpack(_string_at(addr, 64)))


class RecordView:
    """Decodes the struct evbus_record at a fixed address (the handle's:
    evbus_read() always hands out the same one) without copying it."""
    __slots__ = ("addr", "_mv", "_unpack")

    def __init__(self, addr: int):
        self.addr = addr
        self._mv = memoryview((ctypes.c_char * 64).from_address(addr))
        self._unpack = _REC.unpack_from

    def decode(self) -> Record:
        return decode_fields(self._unpack(self._mv))


def decode_fields(f) -> Record:
    """A record from the fields of a struct evbus_record."""
    (kind, length, hdr, event, lagged, topic, topic_len, payload,
     payload_len) = f
    if kind == L.REC_EVENT:
        return _event_at(event, topic, topic_len, payload, payload_len)
    if kind == L.REC_LAGGED:
        (_l, _k, _h, flags, _r, lost, first, last) = _LAGGED.unpack(
            _string_at(lagged, 40))
        return LaggedRecord(lost, first, last, flags)
    if kind == L.REC_REVOKED:
        (_l, _k, _h, sub_id, reason, seq) = _REVOKED.unpack(
            _string_at(hdr, 24))
        return Revoked(sub_id, reason, seq)
    if kind == L.REC_REQUEST:
        (_l, _k, hdr_len, approver_id, flags, rid, deadline,
         _r) = _REQUEST.unpack(_string_at(hdr, 40))
        # EVBUS_REQUEST_EVENT(rq): checked by the walker.
        ev = _event_at(hdr + hdr_len, topic, topic_len, payload, payload_len)
        return Request(rid, approver_id, flags, deadline, ev)
    if kind == L.REC_CANCELLED:
        (_l, _k, _h, approver_id, reason, rid) = _CANCELLED.unpack(
            _string_at(hdr, 24))
        return Cancelled(rid, approver_id, reason)
    return Unknown(kind, length)


def parse_records(buf: bytes):
    """Walk a read() buffer with libevbus's walker (evbus_records_next).

    Returns (records, error): error is None when the whole buffer was
    walked, else an OSError (EBADMSG for a malformed buffer) and records
    holds every record before the bad one.  The buffer is copied into an
    8-byte aligned one first, as the walker requires."""
    buf = bytes(buf)
    n = len(buf)
    words = (ctypes.c_uint64 * max(1, (n + 7) // 8))()
    ctypes.memmove(words, buf, n)
    addr = ctypes.addressof(words)
    assert addr % 8 == 0
    it = L.evbus_rec_iter()
    ret = L.lib.evbus_records_init(ctypes.byref(it), addr, n)
    if ret < 0:
        return [], OSError(-ret, os.strerror(-ret))
    out = []
    rec = ctypes.c_void_p()
    while True:
        ret = L.lib.evbus_records_next(ctypes.byref(it), ctypes.byref(rec))
        if ret == -_errno.ENODATA:
            return out, None
        if ret < 0:
            return out, OSError(-ret, os.strerror(-ret))
        out.append(decode_record(rec.value))
