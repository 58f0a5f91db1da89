"""Tests that need no device: syntax checks, matching, record decoding,
errors, library loading."""
import errno
import os
import struct
import subprocess
import sys

import pytest

import evbus
from conftest import PKG_ROOT


def test_check_topic_reports_why():
    evbus.check_topic("a.b.c")
    evbus.check_topic(b"a.b")
    with pytest.raises(OSError) as e:
        evbus.check_topic("a.*")
    assert e.value.errno == errno.EINVAL
    assert str(e.value).startswith("[Errno 22] Invalid argument: ")
    assert len(e.value.strerror) > len("Invalid argument: ")
    with pytest.raises(OSError):
        evbus.check_topic("x" * 256)
    evbus.check_topic("x" * 255)


def test_check_pattern_and_nul():
    evbus.check_pattern("a.*.>")
    with pytest.raises(OSError) as e:
        evbus.check_pattern("a.>.b")
    assert e.value.errno == errno.EINVAL
    for bad in ("a\0", b"a.b\0c", "\0"):
        with pytest.raises(OSError) as e:
            evbus.check_pattern(bad)
        assert e.value.errno == errno.EINVAL and "NUL" in str(e.value)
    with pytest.raises(TypeError):
        evbus.check_topic(42)


def test_matches():
    assert evbus.matches("a.*", "a.b")
    assert not evbus.matches("a.*", "a.b.c")
    assert evbus.matches("a.>", "a.b.c")
    assert not evbus.matches("a.>", "a")
    assert evbus.matches(b"a.b", b"a.b")
    assert not evbus.matches("*.x", "$sys.x")
    with pytest.raises(OSError) as e:
        evbus.matches("a..b", "a.b")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        evbus.matches("a.b", "a.*")        # a topic has no wildcard
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        evbus.matches("a.b", "a.b\0")


def event_record(seq, topic: bytes, payload: bytes, flags=0, type_=0):
    a = lambda n: (n + 7) & ~7
    tl = a(len(topic) + 1)
    length = 80 + tl + a(len(payload))
    hdr = struct.pack("=IHHIIQQQIIIIIIQQ", length, 1, 80, len(topic),
                      len(payload), seq, 1, 2, 3, 4, 5, 6, type_, flags, 7, 8)
    return (hdr + topic + b"\0" * (tl - len(topic)) + payload +
            b"\0" * (a(len(payload)) - len(payload)))


def test_parse_records_events_and_lag():
    lag = struct.pack("=IHHIIQQQ", 40, 2, 40, 1, 0, 3, 10, 12)
    buf = (event_record(9, b"a.b", b"xyz", flags=evbus.EVENT_MODIFIED |
                        (7 << 16) | evbus.EVENT_APPROVED) + lag +
           event_record(13, b"c", b""))
    recs, err = evbus.parse_records(buf)
    assert err is None
    e1, lg, e2 = recs
    assert (e1.seq, e1.topic, e1.payload, e1.pid, e1.parent) == \
        (9, "a.b", b"xyz", 3, 8)
    assert e1.modified and e1.approved and e1.modifier == 7
    assert not (e1.will or e1.replayed or e1.retained)
    assert lg == evbus.LaggedRecord(3, 10, 12, 1) and lg.history
    assert e2.payload == b"" and e2.topic == "c"
    exc = evbus.Lagged.from_record(lg)
    assert (exc.lost, exc.first_seq, exc.last_seq, exc.history) == \
        (3, 10, 12, True)
    assert "3 events lost" in str(exc) and isinstance(exc, Exception)


def test_parse_records_bad_buffer_keeps_good_prefix():
    good = event_record(1, b"t", b"p")
    recs, err = evbus.parse_records(good + b"\x08\0\0\0")
    assert len(recs) == 1 and err.errno == errno.EBADMSG
    # topic not NUL-terminated: the walker refuses it
    bad = bytearray(event_record(2, b"abcdefgh", b""))
    bad[80 + 8] = ord("X")
    recs, err = evbus.parse_records(good + bytes(bad))
    assert [r.seq for r in recs] == [1] and err.errno == errno.EBADMSG
    # memoryview and bytearray are accepted, and copied aligned
    recs, err = evbus.parse_records(memoryview(bytearray(good)))
    assert err is None and recs[0].seq == 1


def test_event_is_frozen_value():
    recs, _ = evbus.parse_records(event_record(5, b"v.w", b"1"))
    ev = recs[0]
    again = evbus.parse_records(event_record(5, b"v.w", b"1"))[0][0]
    assert ev == again and hash(ev) == hash(again)
    with pytest.raises(AttributeError):
        ev.topic = "x"
    assert ev.topic_bytes == b"v.w"


def test_lib_version():
    assert evbus.lib_version() == "1.9.0"
    assert evbus._lib.lib.evbus_lib_version_minor() >= 9


def test_library_env_override():
    code = "import evbus; print(evbus.LIBRARY_PATH)"
    env = dict(os.environ, PYTHONPATH=PKG_ROOT, PYTHONDONTWRITEBYTECODE="1",
               EVBUS_LIBRARY="/nonexistent/libevbus.so.1")
    p = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True)
    assert p.returncode != 0 and "cannot load libevbus" in p.stderr
    env["EVBUS_LIBRARY"] = evbus.LIBRARY_PATH
    p = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == evbus.LIBRARY_PATH


def test_oserror_subclasses():
    from evbus.bus import check
    assert check(5) == 5
    for code, cls in ((errno.ENOENT, FileNotFoundError),
                      (errno.EACCES, PermissionError),
                      (errno.EAGAIN, BlockingIOError),
                      (errno.ETIMEDOUT, TimeoutError)):
        with pytest.raises(cls) as e:
            check(-code)
        assert e.value.errno == code
