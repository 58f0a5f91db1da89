#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Writes topics.txt and records.txt beside this file: the test vectors that
tests/unit (vectors_test.c, against module/topic.c and libevbus's record
walker) and both language bindings (bindings/rust/tests/vectors.rs,
bindings/python/tests/test_vectors.py) check alike.  Run it after changing
a case; the output is committed.

topics.txt: the literal cases of tests/unit/topic_test.c, written out:
  topic<TAB>ok|bad<TAB>STR, pattern<TAB>ok|bad<TAB>STR,
  match<TAB>yes|no<TAB>PATTERN<TAB>TOPIC.
records.txt: read() buffers encoded here from the uapi's layout (struct
evbus_event and friends in uapi/linux/evbus.h), independently of any
walker, and the records a walker must find in them:
  case NAME / buf HEX... / rec KIND key=value ... / end ok|EBADMSG.
Strings are escaped \\xNN outside [A-Za-z0-9_.:>*$-] (a backslash too).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-*>$")


def esc(b):
    if isinstance(b, str):
        b = b.encode("latin-1")
    return "".join(chr(c) if c in SAFE else "\\x%02x" % c for c in b)


# --- topics ------------------------------------------------------------------
def topics():
    out = ["# Topic and pattern vectors: see mkvectors.py.  Written by it; do not edit."]
    both = lambda s, v: out.extend(["topic\t%s\t%s" % (v, esc(s)), "pattern\t%s\t%s" % (v, esc(s))])
    T = lambda s, v: out.append("topic\t%s\t%s" % (v, esc(s)))
    P = lambda s, v: out.append("pattern\t%s\t%s" % (v, esc(s)))
    out.append("# characters")
    for s in ["A", "Z", "a", "z", "0", "9", "_", "-", ":", "Abc_09-x:y",
              "host-1:eth0.rx_bytes", "---.___.:::"]:
        both(s, "ok")
    for s in ["@", "[", "`", "{", "/", ";", ",", "^", "a b", " a", "a ", "a\tb",
              "a\nb", "a/b", "a#b", "a+b", "a$b", "a~b", "a\x7f", b"caf\xc3\xa9",
              b"a\x80", b"\xff", "a\0b", "\0", "ab\0", "a\\b"]:
        both(s, "bad")
    for s in ["*", ">", "a.*", "a.>", "a*"]:
        T(s, "bad")
    out.append("# every byte after an x, and alone")
    allowed = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:")
    for c in range(256):
        if c == ord("."):
            continue
        ok = c in allowed
        both(bytes([ord("x"), c]), "ok" if ok else "bad")
        T(bytes([c]), "ok" if ok else "bad")
        P(bytes([c]), "ok" if ok or c in b"*>" else "bad")
    out.append("# dots")
    for s in [".", "..", ".a", "a.", "a..b", ".a.b", "a.b.", "a...b", ""]:
        both(s, "bad")
    for s in [".*", "*.", "a..>", ".>", ">."]:
        P(s, "bad")
    both("a.b", "ok")
    both("a.b.c.d", "ok")
    out.append("# lengths: 255 bytes and 20 segments at most")
    both("a" * 255, "ok")
    both("a" * 256, "bad")
    s = bytearray(b"b" * 255)
    s[100] = s[200] = ord(".")
    T(bytes(s), "ok")
    T(bytes(s) + b"b", "bad")
    s[253] = ord(".")
    s[254] = ord(">")
    P(bytes(s), "ok")
    T(bytes(s), "bad")
    P(bytes(s) + b"x", "bad")
    s20 = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t"
    both(s20, "ok")
    both(s20 + ".u", "bad")
    P(".".join(["*"] * 19 + [">"]), "ok")
    P(".".join(["*"] * 20 + [">"]), "bad")
    long20 = ".".join(["x" * 11] * 20)
    T(long20, "ok")
    both(long20 + "." + "x" * 11, "bad")
    out.append("# wildcards")
    for s in ["*", ">", "*.*", "*.>", "app.*.input", "app.v1.lifecycle.>", "*.a.*",
              "a.*.*.>", "app.*.x.>", "a.b.c", "x:y.-"]:
        P(s, "ok")
    for s in ["ab*", "*ab", "a*b", "a>", ">a", "**", ">>", "*>", ">*", "a.b*", "a.>b",
              ">.a", ">.*", ">.>", "a.>.b", "a.>.>", "* ", "a.* "]:
        P(s, "bad")
    out.append("# $sys")
    for s in ["$sys", "$sys.file.open"]:
        both(s, "ok")
    for s in ["$sys.>", "$sys.*.open"]:
        P(s, "ok")
    for s in ["$", "$sy", "$sysx", "$SYS", "a.$sys", "$sys.$sys", "$sys$", "x$sys", "$sys.a$"]:
        both(s, "bad")
    for s in ["$*", "$>"]:
        P(s, "bad")
    out.append("# matching")
    cases = [
        ("app.*.input", "app.x.input", 1), ("app.*.input", "app.longer_seg.input", 1),
        ("app.*.input", "app.x.y.input", 0), ("app.*.input", "app.input", 0),
        ("app.*.input", "app.x.inputs", 0), ("app.*.input", "app.x.inpu", 0),
        ("app.*.input", "ap.x.input", 0), ("app.*.input", "app.x.input.z", 0),
        ("a.>", "a", 0), ("a.>", "a.b", 1), ("a.>", "a.b.c", 1), ("a.>", "ab.c", 0),
        ("a.>", "b.a", 0), ("a.b.>", "a.b", 0), ("a.b.>", "a.b.c", 1), ("a.b.>", "a.c.c", 0),
        ("app.v1.lifecycle.>", "app.v1.lifecycle.start", 1),
        ("app.v1.lifecycle.>", "app.v1.lifecycle", 0),
        ("app.v1.lifecycle.>", "app.v2.lifecycle.start", 0),
        (">", "x", 1), (">", "x.y", 1), (">", s20, 1), ("*", "x", 1), ("*", "x.y", 0),
        ("*", "xyz", 1), ("*.*", "x.y", 1), ("*.*", "x", 0), ("*.*", "x.y.z", 0),
        ("*.>", "x", 0), ("*.>", "x.y", 1), ("*.>", "x.y.z", 1), ("*.b", "a.b", 1),
        ("*.b", "a.c", 0), ("a.*", "a.b", 1), ("a.*", "a", 0), ("a.*", "b.b", 0),
        ("*.a.*", "x.a.y", 1), ("*.a.*", "x.b.y", 0), ("a.*.*.>", "a.b.c", 0),
        ("a.*.*.>", "a.b.c.d", 1), ("a.*.*.>", "a.b.c.d.e.f", 1), ("a", "a", 1),
        ("a", "b", 0), ("a", "A", 0), ("a", "aa", 0), ("aa", "a", 0), ("a", "a.b", 0),
        ("a.b", "a", 0), ("a.b", "a.b", 1), ("a.b", "a.bc", 0), ("a.bc", "a.b", 0),
        ("a.b", "ab", 0), ("ab", "a.b", 0), ("x:1.y-2.z_3", "x:1.y-2.z_3", 1),
        ("x:1.y-2.z_3", "x:1.y-2.z_4", 0),
        (">", "$sys.a", 0), ("*.a", "$sys.a", 0), ("$sys.>", "$sys.a", 1), ("$sys.*", "$sys.a", 1),
        ("q.*", "q." + "y" * 253, 1), ("p" * 127 + ".>", "p" * 127 + "." + "z" * 127, 1),
    ]
    for p, t, m in cases:
        out.append("match\t%s\t%s\t%s" % ("yes" if m else "no", esc(p), esc(t)))
    return out


# --- records -----------------------------------------------------------------
EVENT, LAGGED, PAD, REVOKED, REQUEST, CANCELLED = 1, 2, 3, 4, 5, 6
HDR = struct.Struct("<IHH")                       # evbus_rec_hdr
EV = struct.Struct("<IHHIIQQQIIIIIIQQ")          # evbus_event: 80 bytes
LAG = struct.Struct("<IHHIIQQQ")                 # evbus_lagged: 40
REV = struct.Struct("<IHHIIQ")                   # evbus_revoked: 24
REQ = struct.Struct("<IHHIIQQQ")                 # evbus_request: 40
CAN = struct.Struct("<IHHIIQ")                   # evbus_cancelled: 24
assert (EV.size, LAG.size, REV.size, REQ.size, CAN.size) == (80, 40, 24, 40, 24)


def align(n):
    return (n + 7) & ~7


def event(topic, payload=b"", seq=1, time_ns=0, mono_ns=0, pid=0, tid=0, uid=0, gid=0,
          type=0, flags=0, corr=0, parent=0, extra=0, hdr_len=None, topic_len=None,
          payload_len=None, nul=True, length=None):
    topic = topic.encode() if isinstance(topic, str) else topic
    hl = EV.size if hdr_len is None else hdr_len
    body = b"\0" * (hl - EV.size) + topic + (b"\0" if nul else b"x")
    body = body.ljust(hl - EV.size + align(len(topic) + 1), b"\0") + payload
    ln = align(EV.size + len(body)) + extra if length is None else length
    rec = EV.pack(ln, EVENT, hl, len(topic) if topic_len is None else topic_len,
                  len(payload) if payload_len is None else payload_len, seq, time_ns,
                  mono_ns, pid, tid, uid, gid, type, flags, corr, parent) + body
    fields = dict(seq=seq, time_ns=time_ns, mono_ns=mono_ns, pid=pid, tid=tid, uid=uid,
                  gid=gid, type=type, flags=flags, corr=corr, parent=parent,
                  topic=esc(topic), payload=payload.hex())
    return rec.ljust(ln, b"\0")[:ln], fields


def lagged(lost, first, last, flags=0, hdr_len=LAG.size, length=LAG.size):
    rec = LAG.pack(length, LAGGED, hdr_len, flags, 0, lost, first, last)
    return rec.ljust(length, b"\0")[:length], dict(flags=flags, lost=lost, first_seq=first,
                                                  last_seq=last)


def revoked(sub_id, reason, seq):
    return REV.pack(REV.size, REVOKED, REV.size, sub_id, reason, seq), \
        dict(sub_id=sub_id, reason=reason, seq=seq)


def request(approver_id, rid, deadline, ev, flags=0, kind_in=EVENT):
    evb, evf = ev
    if kind_in != EVENT:
        evb = struct.pack("<IHH", len(evb), kind_in, EV.size) + evb[8:]
    rec = REQ.pack(REQ.size + len(evb), REQUEST, REQ.size, approver_id, flags, rid,
                   deadline, 0) + evb
    f = dict(approver_id=approver_id, id=rid, deadline_ns=deadline, req_flags=flags)
    f.update(evf)
    return rec, f


def cancelled(approver_id, reason, rid):
    return CAN.pack(CAN.size, CANCELLED, CAN.size, approver_id, reason, rid), \
        dict(approver_id=approver_id, reason=reason, id=rid)


def pad(n):
    return HDR.pack(n, PAD, 8).ljust(n, b"\0"), None


def unknown(kind, n):
    return HDR.pack(n, kind, 8).ljust(n, b"\xab"), dict(kind=kind, len=n)


def records():
    out = ["# Record walking vectors: see mkvectors.py.  Written by it; do not edit."]

    def case(name, recs, end="ok", tail=b""):
        out.append("case %s" % name)
        buf = b"".join(r[0] for r in recs) + tail
        hx = buf.hex()
        for i in range(0, len(hx), 128):
            out.append("buf %s" % hx[i:i + 128])
        if not hx:
            out.append("buf ")
        for r, k in zip(recs, kinds_of(recs)):
            if r[1] is None or k is None:  # PAD, or a malformed record
                continue
            out.append("rec %s %s" % (k, " ".join("%s=%s" % kv for kv in r[1].items())))
        out.append("end %s" % end)

    def kinds_of(recs):
        ks = []
        for b, f in recs:
            kind = HDR.unpack_from(b)[1] if len(b) >= 8 else 0
            ks.append({EVENT: "event", LAGGED: "lagged", REVOKED: "revoked",
                       REQUEST: "request", CANCELLED: "cancelled", PAD: None}.get(kind, "unknown"))
        return ks

    full = event("app.v1.task.done", b"hello, bus", seq=42, time_ns=1764806400123456789,
                 mono_ns=98765432101, pid=1234, tid=1235, uid=1000, gid=1000, type=7,
                 flags=0x4 | 0x8 | (3 << 16), corr=0xdeadbeefcafef00d, parent=41)
    case("one_event_every_field", [full])
    case("empty_buffer", [])
    case("empty_payload", [event("a", b"", seq=1)])
    case("topic_len_7_pads_to_8", [event("abcdefg", b"\x00\x01\x02", seq=2)])
    case("topic_len_8_pads_to_16", [event("abcdefgh", b"\xff", seq=3)])
    case("binary_payload", [event("bin.x", bytes(range(256)), seq=4)])
    case("max_topic", [event("t" * 255, b"p", seq=5)])
    case("sys_topic", [event("$sys.file.open", b"", seq=6, flags=0)])
    case("replayed_retained_will", [event("r.a", b"1", seq=7, flags=1),
                                    event("r.b", b"2", seq=8, flags=2),
                                    event("r.c", b"3", seq=9, flags=16)])
    case("lagged_then_event", [lagged(5, 10, 14), event("x.y", b"after", seq=15)])
    case("lagged_history", [lagged(3, 1, 3, flags=1)])
    case("pad_skipped", [event("a.b", b"1", seq=1), pad(64), event("a.c", b"2", seq=2)])
    case("pad_first", [pad(8), event("z", b"", seq=9)])
    case("revoked", [event("s.a", b"", seq=20), revoked(3, 1, 20)])
    case("request_and_cancelled", [request(2, 77, 123456789, event("ask.me", b"pls", type=5, corr=9)),
                                   cancelled(2, 2, 77)])
    case("request_mandatory", [request(1, 5, 1, event("m.x", b""), flags=1)])
    case("unknown_kind_passed_through", [unknown(99, 32), event("k", b"", seq=3)])
    case("larger_hdr_len_future_fields", [event("fut.x", b"abc", seq=11, hdr_len=88)])
    case("trailing_space_in_record", [event("sp", b"", seq=12, extra=16), event("sq", b"", seq=13)])
    # Malformed: the walk stops with EBADMSG after what came before.
    case("truncated_header", [event("a", b"", seq=1)], "EBADMSG", tail=b"\x10\x00\x00")
    ev_b = event("b", b"xyz", seq=2)
    bad = bytearray(ev_b[0]); struct.pack_into("<I", bad, 0, len(bad) + 8)
    case("len_past_buffer", [event("a", b"", seq=1), (bytes(bad), None)], "EBADMSG")
    bad = bytearray(ev_b[0]); struct.pack_into("<I", bad, 0, len(bad) - 4)
    case("len_not_aligned", [(bytes(bad), None)], "EBADMSG")
    case("len_below_header", [(HDR.pack(4, EVENT, 80) + b"\0" * 4, None)], "EBADMSG")
    b = bytearray(event("c", b"")[0]); struct.pack_into("<H", b, 6, 72)
    case("event_hdr_len_too_small", [(bytes(b), None)], "EBADMSG")
    b = bytearray(event("c", b"")[0]); struct.pack_into("<I", b, 8, 300)
    case("event_topic_len_past_record", [(bytes(b), None)], "EBADMSG")
    b = bytearray(event("c", b"p")[0]); struct.pack_into("<I", b, 12, 100)
    case("event_payload_len_past_record", [(bytes(b), None)], "EBADMSG")
    case("event_topic_not_nul_terminated", [(event("abcdefg", b"", nul=False)[0], None)], "EBADMSG")
    b = bytearray(lagged(1, 1, 1)[0]); struct.pack_into("<H", b, 6, 32)
    case("lagged_hdr_len_too_small", [event("ok", b"", seq=1), (bytes(b), None)], "EBADMSG")
    case("request_carrying_no_event", [(request(1, 1, 1, event("q", b""), kind_in=LAGGED)[0], None)],
         "EBADMSG")
    return out


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    write("topics.txt", topics())
    write("records.txt", records())
