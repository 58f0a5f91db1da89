"""evbus: Python binding of libevbus, the client library of /dev/evbus.

    import evbus
    with evbus.Bus() as bus:
        bus.subscribe("jobs.>")
        seq = bus.publish("jobs.done", b"{}", type=1)
        try:
            ev = bus.recv(timeout=1)
        except evbus.Lagged as lag:      # lost events: lag.first_seq..last_seq
            ...

Errors: every libevbus failure is an OSError with the errno (so
FileNotFoundError, PermissionError, BlockingIOError... as Python maps
them).  Lag: Bus.recv() raises Lagged (an exception, like tokio's
RecvError::Lagged), and the next recv() continues after the gap;
Bus.recv_record() returns every record kind as a value instead.
"""
from . import _lib
from ._lib import (ALLOW, ASK, CANCEL_EXPIRED, CANCEL_WITHDRAWN, DENY,
                   EVENT_APPROVED, EVENT_MODIFIED, EVENT_REPLAYED,
                   EVENT_RETAINED, EVENT_WILL, FEATURES, LAGGED_HISTORY,
                   LIBRARY_PATH, OPEN_NO_ENV, OPEN_RDONLY, OPEN_WRONLY,
                   POLICY_DROP_NEWEST, POLICY_DROP_OLDEST, POLICY_LOSSLESS,
                   POLICY_REVOKE, REQ_MANDATORY, RIGHT_APPROVE, RIGHT_PUBLISH,
                   RIGHT_REPLAY, RIGHT_SUBSCRIBE, RIGHT_WAIT, RING_ADAPTIVE,
                   RING_IMMEDIATE, RING_WAKE, TOPIC_MAX, WHO_ALL, WHO_GID,
                   WHO_UID)
from .bus import (Bus, BusStats, History, MmapConsumer, Rate, RateLimit, Rule,
                  Scope, Stats, Version, check_pattern, check_topic,
                  filter_parse, matches)
from . import aio  # noqa: E402  (evbus.aio.AsyncBus)
from .records import (Cancelled, Event, Lagged, LaggedRecord, Record, Request,
                      Revoked, Unknown, parse_records)

__version__ = "1.9.0"


def lib_version() -> str:
    """libevbus's version at run time."""
    return _lib.lib.evbus_lib_version().decode()


def open(path=None, nonblock=False, **kw) -> Bus:  # noqa: A001
    return Bus.open(path, nonblock, **kw)
