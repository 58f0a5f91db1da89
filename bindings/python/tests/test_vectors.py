"""The shared vectors of tests/unit/vectors (or $EVBUS_VECTORS): topic and
pattern syntax, matching, and record walking, through libevbus."""
import errno
import os
import re

import pytest

from conftest import REPO
import evbus

VEC = os.environ.get("EVBUS_VECTORS") or os.path.join(REPO, "tests", "unit",
                                                      "vectors")


def unescape(s: str) -> bytes:
    r"""The vectors' strings: \xNN escapes, everything else literal."""
    return re.sub(rb"\\x([0-9a-fA-F]{2})",
                  lambda m: bytes([int(m.group(1), 16)]), s.encode())


def load_topics(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            out.append(pytest.param(parts, id=f"L{n}:{line[:60]!r}"))
    return out


def load_records(path):
    cases, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            if word == "case":
                cur = {"name": rest, "hex": "", "recs": [], "end": None}
            elif word == "buf":
                cur["hex"] += rest.strip()
            elif word == "rec":
                kind, *kvs = rest.split(" ")
                cur["recs"].append((kind, dict(kv.split("=", 1)
                                               for kv in kvs if kv)))
            elif word == "end":
                cur["end"] = rest.strip()
                cases.append(pytest.param(cur, id=cur["name"]))
                cur = None
            else:
                raise ValueError(f"{path}:{n}: {line!r}")
    return cases


TOPICS = os.path.join(VEC, "topics.txt")
RECORDS = os.path.join(VEC, "records.txt")


def test_vector_files_exist():
    assert os.path.exists(TOPICS), TOPICS
    assert os.path.exists(RECORDS), RECORDS


@pytest.mark.parametrize("v", load_topics(TOPICS) if os.path.exists(TOPICS)
                         else [])
def test_topic_vector(v):
    what = v[0]
    if what in ("topic", "pattern"):
        assert len(v) == 3, v
        s = unescape(v[2])
        fn = evbus.check_topic if what == "topic" else evbus.check_pattern
        if v[1] == "ok":
            fn(s)
        else:
            assert v[1] == "bad", v
            with pytest.raises(OSError) as e:
                fn(s)
            assert e.value.errno == errno.EINVAL
    elif what == "match":
        assert len(v) == 4 and v[1] in ("yes", "no"), v
        assert evbus.matches(unescape(v[2]), unescape(v[3])) == \
            (v[1] == "yes")
    else:
        pytest.fail(f"unknown vector kind {what!r}")


EVENT_KEYS = {"seq", "time_ns", "mono_ns", "pid", "tid", "uid", "gid",
              "type", "flags", "corr", "parent", "topic", "payload"}
KINDS = {"event": evbus.Event, "lagged": evbus.LaggedRecord,
         "revoked": evbus.Revoked, "request": evbus.Request,
         "cancelled": evbus.Cancelled, "unknown": evbus.Unknown}


def field(rec, key):
    if isinstance(rec, evbus.Request):
        if key == "req_flags":
            return rec.flags
        if key in EVENT_KEYS:
            return field(rec.event, key)
    if key == "topic":
        return rec.topic_bytes
    return getattr(rec, key)


def expect(key, value):
    if key == "topic":
        return unescape(value)
    if key == "payload":
        return bytes.fromhex(value)
    return int(value)


@pytest.mark.parametrize("case", load_records(RECORDS)
                         if os.path.exists(RECORDS) else [])
def test_record_vector(case):
    recs, err = evbus.parse_records(bytes.fromhex(case["hex"]))
    assert len(recs) == len(case["recs"]), recs
    for got, (kind, kv) in zip(recs, case["recs"]):
        assert type(got) is KINDS[kind], (got, kind)
        for k, v in kv.items():
            assert field(got, k) == expect(k, v), (k, got)
    if case["end"] == "ok":
        assert err is None, err
    else:
        assert err is not None and err.errno == getattr(errno, case["end"])
