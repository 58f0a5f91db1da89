"""ctypes declarations for libevbus (userlib/evbus.h) and the uapi structs
(uapi/linux/evbus.h).  Layouts mirror the C headers exactly; the tests
compare every sizeof() with the C compiler's."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_int,
                    c_int32, c_int64, c_size_t, c_uint, c_uint8, c_uint16,
                    c_uint32, c_uint64, c_void_p)

# ---------------------------------------------------------------- constants
ABI_VERSION = 1
TOPIC_MAX = 255
SEGMENTS_MAX = 20
BATCH_MAX = 1024

OPEN_RDONLY = 1 << 0
OPEN_WRONLY = 1 << 1
OPEN_NO_ENV = 1 << 2

POLICY_DROP_OLDEST = 0
POLICY_DROP_NEWEST = 1
POLICY_LOSSLESS = 2

RING_WAKE = 1 << 0
RING_IMMEDIATE = 1 << 1
RING_ADAPTIVE = 1 << 2

PUB_RETAIN = 1 << 0
PUB_ASK = 1 << 1
PUB_WAIT = 1 << 2

SUB_FROM_UID = 1 << 0
SUB_FROM_GID = 1 << 1
SUB_FROM_PID = 1 << 2
SUB_TYPE = 1 << 3
SUB_FILTER = 1 << 4
SUB_SINCE = 1 << 5
SUB_LAST = 1 << 6
SUB_RETAINED = 1 << 7
FILTER_MAX_INSNS = 256

REC_EVENT = 1
REC_LAGGED = 2
REC_PAD = 3
REC_REVOKED = 4
REC_REQUEST = 5
REC_CANCELLED = 6

EVENT_REPLAYED = 1 << 0
EVENT_RETAINED = 1 << 1
EVENT_APPROVED = 1 << 2
EVENT_MODIFIED = 1 << 3
EVENT_WILL = 1 << 4

LAGGED_HISTORY = 1 << 0
REQ_MANDATORY = 1 << 0
CANCEL_WITHDRAWN = 1
CANCEL_EXPIRED = 2

ALLOW = 1
DENY = 2
ASK = 3
RIGHT_PUBLISH = 1 << 0
RIGHT_SUBSCRIBE = 1 << 1
RIGHT_REPLAY = 1 << 2
RIGHT_APPROVE = 1 << 3
RIGHT_WAIT = 1 << 4
WHO_ALL = 0
WHO_UID = 1
WHO_GID = 2
POLICY_REVOKE = 1 << 0
SCOPE_KEEP_PUBLISH = 1 << 0
SCOPE_KEEP_SUBSCRIBE = 1 << 1
DENY_RULE = 1
DENY_DEFAULT = 2
DENY_SCOPE = 3
DENY_RESERVED = 4
DENY_ASK = 5

FEATURES = [
    "publish", "batch", "wildcard", "drop-newest", "ns-xlate", "uring-cmd",
    "nowait-read", "ring-wake", "ipc-ns", "policy", "sys-topics", "scope",
    "sub-filter", "sub-bpf", "bus-stats", "mmap", "adaptive-wake", "history",
    "retained", "approval", "will", "rate", "lossless",
]


# ------------------------------------------------------------------ structs
class evbus_opts(Structure):
    _fields_ = [("sz", c_size_t), ("path", c_char_p), ("flags", c_uint),
                ("reserved0", c_uint), ("read_buf", c_size_t)]


class evbus_pub_opts(Structure):
    _fields_ = [("sz", c_size_t), ("type", c_uint32), ("flags", c_uint32),
                ("corr", c_uint64), ("parent", c_uint64)]


class evbus_rec_hdr(Structure):
    _fields_ = [("len", c_uint32), ("kind", c_uint16), ("hdr_len", c_uint16)]


class evbus_event(Structure):
    _fields_ = [("hdr", evbus_rec_hdr), ("topic_len", c_uint32),
                ("payload_len", c_uint32), ("seq", c_uint64),
                ("time_ns", c_uint64), ("mono_ns", c_uint64),
                ("pid", c_uint32), ("tid", c_uint32), ("uid", c_uint32),
                ("gid", c_uint32), ("type", c_uint32), ("flags", c_uint32),
                ("corr", c_uint64), ("parent", c_uint64)]


class evbus_lagged(Structure):
    _fields_ = [("hdr", evbus_rec_hdr), ("flags", c_uint32),
                ("reserved", c_uint32), ("lost", c_uint64),
                ("first_seq", c_uint64), ("last_seq", c_uint64)]


class evbus_revoked(Structure):
    _fields_ = [("hdr", evbus_rec_hdr), ("sub_id", c_uint32),
                ("reason", c_uint32), ("seq", c_uint64)]


class evbus_request(Structure):
    _fields_ = [("hdr", evbus_rec_hdr), ("approver_id", c_uint32),
                ("flags", c_uint32), ("id", c_uint64),
                ("deadline_ns", c_uint64), ("reserved", c_uint64)]


class evbus_cancelled(Structure):
    _fields_ = [("hdr", evbus_rec_hdr), ("approver_id", c_uint32),
                ("reason", c_uint32), ("id", c_uint64)]


class evbus_record(Structure):
    _fields_ = [("kind", c_uint), ("len", c_uint), ("hdr", c_void_p),
                ("event", c_void_p), ("lagged", c_void_p),
                ("topic", c_void_p), ("topic_len", c_size_t),
                ("payload", c_void_p), ("payload_len", c_size_t)]


class evbus_rec_iter(Structure):
    _fields_ = [("buf", c_void_p), ("len", c_size_t), ("off", c_size_t),
                ("rec", evbus_record), ("reserved", c_uint64 * 2)]


class evbus_version(Structure):
    _fields_ = [("abi_version", c_uint32), ("flags", c_uint32),
                ("features", c_uint64), ("max_payload", c_uint32),
                ("max_subs", c_uint32), ("ring_default", c_uint32),
                ("ring_max", c_uint32), ("reserved", c_uint64 * 4)]


class evbus_pub(Structure):
    _fields_ = [("topic", c_uint64), ("payload", c_uint64),
                ("topic_len", c_uint32), ("payload_len", c_uint32),
                ("type", c_uint32), ("flags", c_uint32), ("corr", c_uint64),
                ("parent", c_uint64), ("seq", c_uint64),
                ("deadline_ns", c_uint64), ("reserved", c_uint64)]


class evbus_ring_cfg(Structure):
    _fields_ = [("size", c_uint32), ("policy", c_uint32), ("flags", c_uint32),
                ("wake_events", c_uint32), ("wake_delay_ns", c_uint64),
                ("wait_ns", c_uint64)]


class evbus_stats(Structure):
    _fields_ = [("queued_events", c_uint64), ("queued_bytes", c_uint64),
                ("delivered", c_uint64), ("lost", c_uint64),
                ("lag_records", c_uint64), ("published", c_uint64),
                ("capacity", c_uint32), ("policy", c_uint32),
                ("subscriptions", c_uint32), ("flags", c_uint32),
                ("reserved", c_uint64 * 4)]


_BUS_STATS_U64_A = ["bus_id", "ipc_ns", "seq", "published", "published_bytes",
                    "deliveries", "lost", "read_events", "read_bytes",
                    "lag_records", "queued_events", "queued_bytes",
                    "discarded", "subscriptions", "open_files", "filtered",
                    "denied_rule", "denied_default", "denied_scope",
                    "denied_reserved", "revoked", "policy_rules"]
_BUS_STATS_U64_B = ["approval_asked", "approval_requests", "approval_allowed",
                    "approval_modified", "approval_denied", "approval_expired",
                    "approval_gone", "approval_full", "approval_withdrawn",
                    "approval_nobody", "approvers", "approval_pending",
                    "rate_refused_file", "rate_refused_user", "rate_waited",
                    "rate_wait_ns", "rate_interrupted", "rate_users",
                    "lossless_waits", "lossless_wait_ns", "lossless_expired",
                    "lossless_foreign"]


class evbus_bus_stats(Structure):
    _fields_ = ([("size", c_uint32), ("flags", c_uint32)]
                + [(n, c_uint64) for n in _BUS_STATS_U64_A]
                + [("policy_default", c_uint32), ("reserved", c_uint32)]
                + [(n, c_uint64) for n in _BUS_STATS_U64_B])


class sock_filter(Structure):
    _fields_ = [("code", c_uint16), ("jt", c_uint8), ("jf", c_uint8),
                ("k", c_uint32)]


class evbus_sub_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("from_uid", c_uint32),
                ("from_gid", c_uint32), ("from_pid", c_uint32),
                ("type_min", c_uint32), ("type_max", c_uint32),
                ("filter", POINTER(sock_filter)), ("filter_len", c_uint32),
                ("reserved0", c_uint32), ("since", c_uint64),
                ("last", c_uint32), ("reserved1", c_uint32)]


class evbus_rule_info(Structure):
    _fields_ = [("id", c_uint32), ("verdict", c_uint32), ("rights", c_uint32),
                ("who", c_uint32), ("id_value", c_uint32),
                ("pattern_len", c_uint32), ("pattern", c_char * (TOPIC_MAX + 1))]


class evbus_history(Structure):
    _fields_ = [("size", c_uint32), ("flags", c_uint32),
                ("capacity", c_uint64), ("bytes", c_uint64),
                ("events", c_uint64), ("oldest_seq", c_uint64),
                ("newest_seq", c_uint64), ("next_seq", c_uint64),
                ("evicted", c_uint64), ("skipped", c_uint64),
                ("replayed", c_uint64), ("retained", c_uint64),
                ("retained_bytes", c_uint64), ("reserved", c_uint64 * 4)]


class evbus_rate_limit(Structure):
    _fields_ = [("events_per_sec", c_uint64), ("events_burst", c_uint64),
                ("bytes_per_sec", c_uint64), ("bytes_burst", c_uint64)]


class evbus_rate(Structure):
    _fields_ = [("size", c_uint32), ("op", c_uint32), ("who", c_uint32),
                ("id_value", c_uint32), ("limit", evbus_rate_limit),
                ("user", evbus_rate_limit), ("events_tokens", c_int64),
                ("bytes_tokens", c_int64), ("user_events_tokens", c_int64),
                ("user_bytes_tokens", c_int64), ("refused", c_uint64),
                ("waited", c_uint64)]


# The sizes C gives (checked by tests/test_structs.py against gcc too).
SIZES = {
    "evbus_opts": 32, "evbus_pub_opts": 32, "evbus_record": 64,
    "evbus_version": 64, "evbus_pub": 72, "evbus_stats": 96,
    "evbus_bus_stats": 368, "evbus_sub_opts": 64, "sock_filter": 8,
    "evbus_rule_info": 280, "evbus_history": 128, "evbus_rate_limit": 32,
    "evbus_rate": 128, "evbus_rec_hdr": 8, "evbus_event": 80,
    "evbus_lagged": 40, "evbus_revoked": 24, "evbus_request": 40,
    "evbus_cancelled": 24, "evbus_rec_iter": 104, "evbus_ring_cfg": 32,
}

RECORD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(evbus_record))
PARSE_FN = ctypes.CFUNCTYPE(c_int, POINTER(evbus_record), c_void_p)


# ------------------------------------------------------------------ loading
def _candidates():
    env = os.environ.get("EVBUS_LIBRARY")
    if env:
        return [env]
    out = []
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.normpath(os.path.join(here, "..", "..", "..", "build",
                                         "lib", "libevbus.so.1"))
    if os.path.exists(tree):
        out.append(tree)
    found = ctypes.util.find_library("evbus")
    if found:
        out.append(found)
    out.append("libevbus.so.1")
    return out


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("cannot load libevbus: " + "; ".join(errors))


lib, LIBRARY_PATH = _load()

_BUS = c_void_p
_u32p = POINTER(c_uint32)
_u64p = POINTER(c_uint64)

_PROTOS = {
    "evbus_open": (c_int, [POINTER(c_void_p), POINTER(evbus_opts)]),
    "evbus_close": (None, [_BUS]),
    "evbus_fd": (c_int, [_BUS]),
    "evbus_query": (c_int, [_BUS, POINTER(evbus_version)]),
    "evbus_subscribe": (c_int, [_BUS, c_char_p, _u32p]),
    "evbus_unsubscribe": (c_int, [_BUS, c_uint32]),
    "evbus_publish": (c_int, [_BUS, c_char_p, c_void_p, c_size_t,
                              POINTER(evbus_pub_opts), _u64p]),
    "evbus_publish_batch": (c_int, [_BUS, POINTER(evbus_pub), c_uint, _u64p]),
    "evbus_read": (c_int, [_BUS, POINTER(c_void_p), c_int]),
    "evbus_set_ring": (c_int, [_BUS, c_uint32, c_uint32]),
    "evbus_get_ring": (c_int, [_BUS, _u32p, _u32p]),
    "evbus_set_wake": (c_int, [_BUS, c_uint32, c_uint64]),
    "evbus_get_wake": (c_int, [_BUS, _u32p, _u64p]),
    "evbus_set_wake_adaptive": (c_int, [_BUS]),
    "evbus_get_wake_mode": (c_int, [_BUS, _u32p]),
    "evbus_mmap_open": (c_int, [_BUS, POINTER(c_void_p)]),
    "evbus_mmap_close": (None, [c_void_p]),
    "evbus_mmap_consume": (c_int, [c_void_p, RECORD_FN, c_void_p]),
    "evbus_mmap_poll": (c_int, [c_void_p, RECORD_FN, c_void_p, c_int]),
    "evbus_get_stats": (c_int, [_BUS, POINTER(evbus_stats)]),
    "evbus_check_topic": (c_int, [c_char_p, POINTER(c_char_p)]),
    "evbus_check_pattern": (c_int, [c_char_p, POINTER(c_char_p)]),
    "evbus_match": (c_int, [c_char_p, c_char_p]),
    "evbus_subscribe_opts": (c_int, [_BUS, c_char_p, POINTER(evbus_sub_opts),
                                     _u32p]),
    "evbus_filter_parse": (c_int, [c_char_p, POINTER(sock_filter), c_uint,
                                   POINTER(c_uint)]),
    "evbus_narrow": (c_int, [_BUS, POINTER(c_char_p), c_uint,
                             POINTER(c_char_p), c_uint, c_uint]),
    "evbus_policy_add": (c_int, [_BUS, c_char_p, c_uint32, c_uint32, c_uint32,
                                 c_uint32, c_uint32, _u32p]),
    "evbus_policy_remove": (c_int, [_BUS, c_uint32, c_uint32]),
    "evbus_policy_default": (c_int, [_BUS, c_uint32, c_uint32]),
    "evbus_policy_clear": (c_int, [_BUS, c_uint32]),
    "evbus_policy_list": (c_int, [_BUS, c_uint32, POINTER(evbus_rule_info),
                                  c_uint, _u32p, _u32p]),
    "evbus_get_bus_stats": (c_int, [_BUS, POINTER(evbus_bus_stats)]),
    "evbus_subscribe_since": (c_int, [_BUS, c_char_p, c_uint64, _u32p]),
    "evbus_subscribe_last": (c_int, [_BUS, c_char_p, c_uint32, _u32p]),
    "evbus_subscribe_retained": (c_int, [_BUS, c_char_p, _u32p]),
    "evbus_publish_retained": (c_int, [_BUS, c_char_p, c_void_p, c_size_t]),
    "evbus_get_history": (c_int, [_BUS, POINTER(evbus_history)]),
    "evbus_set_history_capacity": (c_int, [_BUS, c_uint64]),
    "evbus_publish_ask": (c_int, [_BUS, c_char_p, c_void_p, c_size_t,
                                  POINTER(evbus_pub_opts), c_uint64, _u64p]),
    "evbus_approver_add": (c_int, [_BUS, c_char_p, c_int32, c_uint32, _u32p]),
    "evbus_approver_del": (c_int, [_BUS, c_uint32]),
    "evbus_verdict_allow": (c_int, [_BUS, c_uint64]),
    "evbus_verdict_deny": (c_int, [_BUS, c_uint64, c_int]),
    "evbus_verdict_modify": (c_int, [_BUS, c_uint64, c_char_p, c_void_p,
                                     c_size_t, c_uint32]),
    "evbus_will_set": (c_int, [_BUS, c_uint64, c_char_p, c_void_p, c_size_t,
                               POINTER(evbus_pub_opts)]),
    "evbus_will_clear": (c_int, [_BUS, c_uint64]),
    "evbus_scope_begin": (c_int, [_BUS, c_char_p, c_void_p, c_size_t,
                                  c_uint64, _u64p]),
    "evbus_scope_update": (c_int, [_BUS, c_uint64, c_void_p, c_size_t]),
    "evbus_scope_end": (c_int, [_BUS, c_uint64, c_bool, c_void_p, c_size_t]),
    "evbus_rate_get": (c_int, [_BUS, POINTER(evbus_rate)]),
    "evbus_rate_limit": (c_int, [_BUS, POINTER(evbus_rate_limit)]),
    "evbus_rate_limit_user": (c_int, [_BUS, c_uint32, c_uint32,
                                      POINTER(evbus_rate_limit)]),
    "evbus_rate_user_get": (c_int, [_BUS, c_uint32, c_uint32,
                                    POINTER(evbus_rate_limit)]),
    "evbus_publish_wait": (c_int, [_BUS, c_char_p, c_void_p, c_size_t,
                                   POINTER(evbus_pub_opts), c_uint64, _u64p]),
    "evbus_set_ring_lossless": (c_int, [_BUS, c_uint32, c_uint64]),
    "evbus_lib_version": (c_char_p, []),
    "evbus_lib_version_major": (c_int, []),
    "evbus_lib_version_minor": (c_int, []),
    "evbus_records_init": (c_int, [POINTER(evbus_rec_iter), c_void_p,
                                   c_size_t]),
    "evbus_records_next": (c_int, [POINTER(evbus_rec_iter),
                                   POINTER(c_void_p)]),
    "evbus_parse_records": (c_int, [c_void_p, c_size_t, PARSE_FN, c_void_p]),
}

for _name, (_res, _args) in _PROTOS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
del _name, _res, _args, _fn


def opts(struct_type, **kw):
    """An option struct with sz set and everything else zero (EVBUS_OPTS)."""
    o = struct_type(**kw)
    o.sz = ctypes.sizeof(struct_type)
    return o
