//! Raw declarations mirroring userlib/evbus.h and uapi/linux/evbus.h.
//! Private: the safe API in lib.rs is the only user.
#![allow(non_camel_case_types, dead_code)]

use libc::{c_char, c_int, c_uint, c_void, size_t};

// evbus_opts.flags
pub const EVBUS_OPEN_RDONLY: c_uint = 1 << 0;
pub const EVBUS_OPEN_WRONLY: c_uint = 1 << 1;
pub const EVBUS_OPEN_NO_ENV: c_uint = 1 << 2;

pub const EVBUS_POLICY_DROP_OLDEST: u32 = 0;
pub const EVBUS_POLICY_DROP_NEWEST: u32 = 1;
pub const EVBUS_POLICY_LOSSLESS: u32 = 2;

pub const EVBUS_PUB_RETAIN: u32 = 1 << 0;
pub const EVBUS_PUB_ASK: u32 = 1 << 1;
pub const EVBUS_PUB_WAIT: u32 = 1 << 2;

pub const EVBUS_SUB_FROM_UID: u32 = 1 << 0;
pub const EVBUS_SUB_FROM_GID: u32 = 1 << 1;
pub const EVBUS_SUB_FROM_PID: u32 = 1 << 2;
pub const EVBUS_SUB_TYPE: u32 = 1 << 3;
pub const EVBUS_SUB_FILTER: u32 = 1 << 4;
pub const EVBUS_SUB_SINCE: u32 = 1 << 5;
pub const EVBUS_SUB_LAST: u32 = 1 << 6;
pub const EVBUS_SUB_RETAINED: u32 = 1 << 7;
pub const EVBUS_FILTER_MAX_INSNS: usize = 256;

pub const EVBUS_REC_EVENT: c_uint = 1;
pub const EVBUS_REC_LAGGED: c_uint = 2;
pub const EVBUS_REC_PAD: c_uint = 3;
pub const EVBUS_REC_REVOKED: c_uint = 4;
pub const EVBUS_REC_REQUEST: c_uint = 5;
pub const EVBUS_REC_CANCELLED: c_uint = 6;

pub const EVBUS_ALLOW: u32 = 1;
pub const EVBUS_DENY: u32 = 2;
pub const EVBUS_ASK: u32 = 3;

pub const EVBUS_WHO_ALL: u32 = 0;
pub const EVBUS_WHO_UID: u32 = 1;
pub const EVBUS_WHO_GID: u32 = 2;

pub const EVBUS_BUS_STATS_SIZE_VER2: u32 = 368;
pub const EVBUS_TOPIC_MAX: usize = 255;

#[repr(C)]
pub struct evbus {
    _private: [u8; 0],
}
#[repr(C)]
pub struct evbus_mmap {
    _private: [u8; 0],
}

#[repr(C)]
pub struct evbus_opts {
    pub sz: size_t,
    pub path: *const c_char,
    pub flags: c_uint,
    pub reserved0: c_uint,
    pub read_buf: size_t,
}

#[repr(C)]
#[derive(Default)]
pub struct evbus_pub_opts {
    pub sz: size_t,
    pub type_: u32,
    pub flags: u32,
    pub corr: u64,
    pub parent: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_version {
    pub abi_version: u32,
    pub flags: u32,
    pub features: u64,
    pub max_payload: u32,
    pub max_subs: u32,
    pub ring_default: u32,
    pub ring_max: u32,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct evbus_pub {
    pub topic: u64,
    pub payload: u64,
    pub topic_len: u32,
    pub payload_len: u32,
    pub type_: u32,
    pub flags: u32,
    pub corr: u64,
    pub parent: u64,
    pub seq: u64,
    pub deadline_ns: u64,
    pub reserved: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_stats {
    pub queued_events: u64,
    pub queued_bytes: u64,
    pub delivered: u64,
    pub lost: u64,
    pub lag_records: u64,
    pub published: u64,
    pub capacity: u32,
    pub policy: u32,
    pub subscriptions: u32,
    pub flags: u32,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_bus_stats {
    pub size: u32,
    pub flags: u32,
    pub bus_id: u64,
    pub ipc_ns: u64,
    pub seq: u64,
    pub published: u64,
    pub published_bytes: u64,
    pub deliveries: u64,
    pub lost: u64,
    pub read_events: u64,
    pub read_bytes: u64,
    pub lag_records: u64,
    pub queued_events: u64,
    pub queued_bytes: u64,
    pub discarded: u64,
    pub subscriptions: u64,
    pub open_files: u64,
    pub filtered: u64,
    pub denied_rule: u64,
    pub denied_default: u64,
    pub denied_scope: u64,
    pub denied_reserved: u64,
    pub revoked: u64,
    pub policy_rules: u64,
    pub policy_default: u32,
    pub reserved: u32,
    pub approval_asked: u64,
    pub approval_requests: u64,
    pub approval_allowed: u64,
    pub approval_modified: u64,
    pub approval_denied: u64,
    pub approval_expired: u64,
    pub approval_gone: u64,
    pub approval_full: u64,
    pub approval_withdrawn: u64,
    pub approval_nobody: u64,
    pub approvers: u64,
    pub approval_pending: u64,
    pub rate_refused_file: u64,
    pub rate_refused_user: u64,
    pub rate_waited: u64,
    pub rate_wait_ns: u64,
    pub rate_interrupted: u64,
    pub rate_users: u64,
    pub lossless_waits: u64,
    pub lossless_wait_ns: u64,
    pub lossless_expired: u64,
    pub lossless_foreign: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_history {
    pub size: u32,
    pub flags: u32,
    pub capacity: u64,
    pub bytes: u64,
    pub events: u64,
    pub oldest_seq: u64,
    pub newest_seq: u64,
    pub next_seq: u64,
    pub evicted: u64,
    pub skipped: u64,
    pub replayed: u64,
    pub retained: u64,
    pub retained_bytes: u64,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_rate_limit {
    pub events_per_sec: u64,
    pub events_burst: u64,
    pub bytes_per_sec: u64,
    pub bytes_burst: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct evbus_rate {
    pub size: u32,
    pub op: u32,
    pub who: u32,
    pub id_value: u32,
    pub limit: evbus_rate_limit,
    pub user: evbus_rate_limit,
    pub events_tokens: i64,
    pub bytes_tokens: i64,
    pub user_events_tokens: i64,
    pub user_bytes_tokens: i64,
    pub refused: u64,
    pub waited: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_rule_info {
    pub id: u32,
    pub verdict: u32,
    pub rights: u32,
    pub who: u32,
    pub id_value: u32,
    pub pattern_len: u32,
    pub pattern: [c_char; EVBUS_TOPIC_MAX + 1],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_rec_hdr {
    pub len: u32,
    pub kind: u16,
    pub hdr_len: u16,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_event {
    pub hdr: evbus_rec_hdr,
    pub topic_len: u32,
    pub payload_len: u32,
    pub seq: u64,
    pub time_ns: u64,
    pub mono_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub type_: u32,
    pub flags: u32,
    pub corr: u64,
    pub parent: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_lagged {
    pub hdr: evbus_rec_hdr,
    pub flags: u32,
    pub reserved: u32,
    pub lost: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_revoked {
    pub hdr: evbus_rec_hdr,
    pub sub_id: u32,
    pub reason: u32,
    pub seq: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_request {
    pub hdr: evbus_rec_hdr,
    pub approver_id: u32,
    pub flags: u32,
    pub id: u64,
    pub deadline_ns: u64,
    pub reserved: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct evbus_cancelled {
    pub hdr: evbus_rec_hdr,
    pub approver_id: u32,
    pub reason: u32,
    pub id: u64,
}

#[repr(C)]
pub struct evbus_record {
    pub kind: c_uint,
    pub len: c_uint,
    pub hdr: *const evbus_rec_hdr,
    pub event: *const evbus_event,
    pub lagged: *const evbus_lagged,
    pub topic: *const c_char,
    pub topic_len: size_t,
    pub payload: *const c_void,
    pub payload_len: size_t,
}

#[repr(C)]
pub struct evbus_rec_iter {
    pub buf: *const u8,
    pub len: size_t,
    pub off: size_t,
    pub rec: evbus_record,
    pub reserved: [u64; 2],
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct sock_filter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[repr(C)]
pub struct evbus_sub_opts {
    pub sz: size_t,
    pub flags: u32,
    pub from_uid: u32,
    pub from_gid: u32,
    pub from_pid: u32,
    pub type_min: u32,
    pub type_max: u32,
    pub filter: *const sock_filter,
    pub filter_len: u32,
    pub reserved0: u32,
    pub since: u64,
    pub last: u32,
    pub reserved1: u32,
}

// Layouts checked at compile time against the C headers' sizes.
const _: [(); 32] = [(); std::mem::size_of::<evbus_opts>()];
const _: [(); 32] = [(); std::mem::size_of::<evbus_pub_opts>()];
const _: [(); 64] = [(); std::mem::size_of::<evbus_sub_opts>()];
const _: [(); 64] = [(); std::mem::size_of::<evbus_version>()];
const _: [(); 72] = [(); std::mem::size_of::<evbus_pub>()];
const _: [(); 96] = [(); std::mem::size_of::<evbus_stats>()];
const _: [(); 368] = [(); std::mem::size_of::<evbus_bus_stats>()];
const _: [(); 128] = [(); std::mem::size_of::<evbus_history>()];
const _: [(); 32] = [(); std::mem::size_of::<evbus_rate_limit>()];
const _: [(); 128] = [(); std::mem::size_of::<evbus_rate>()];
const _: [(); 280] = [(); std::mem::size_of::<evbus_rule_info>()];
const _: [(); 8] = [(); std::mem::size_of::<evbus_rec_hdr>()];
const _: [(); 80] = [(); std::mem::size_of::<evbus_event>()];
const _: [(); 40] = [(); std::mem::size_of::<evbus_lagged>()];
const _: [(); 24] = [(); std::mem::size_of::<evbus_revoked>()];
const _: [(); 40] = [(); std::mem::size_of::<evbus_request>()];
const _: [(); 24] = [(); std::mem::size_of::<evbus_cancelled>()];
const _: [(); 64] = [(); std::mem::size_of::<evbus_record>()];
const _: [(); 104] = [(); std::mem::size_of::<evbus_rec_iter>()];
const _: [(); 8] = [(); std::mem::size_of::<sock_filter>()];

pub type evbus_record_fn =
    unsafe extern "C" fn(ctx: *mut c_void, rec: *const evbus_record) -> c_int;
pub type evbus_parse_fn =
    unsafe extern "C" fn(rec: *const evbus_record, arg: *mut c_void) -> c_int;

extern "C" {
    pub fn evbus_open(bus: *mut *mut evbus, opts: *const evbus_opts) -> c_int;
    pub fn evbus_close(bus: *mut evbus);
    pub fn evbus_fd(bus: *const evbus) -> c_int;
    pub fn evbus_query(bus: *mut evbus, ver: *mut evbus_version) -> c_int;

    pub fn evbus_subscribe(bus: *mut evbus, pattern: *const c_char, sub_id: *mut u32) -> c_int;
    pub fn evbus_unsubscribe(bus: *mut evbus, sub_id: u32) -> c_int;
    pub fn evbus_subscribe_opts(
        bus: *mut evbus,
        pattern: *const c_char,
        opts: *const evbus_sub_opts,
        sub_id: *mut u32,
    ) -> c_int;
    pub fn evbus_filter_parse(
        text: *const c_char,
        prog: *mut sock_filter,
        max: c_uint,
        bad_line: *mut c_uint,
    ) -> c_int;

    pub fn evbus_publish(
        bus: *mut evbus,
        topic: *const c_char,
        data: *const c_void,
        len: size_t,
        opts: *const evbus_pub_opts,
        seq: *mut u64,
    ) -> c_int;
    pub fn evbus_publish_batch(
        bus: *mut evbus,
        events: *const evbus_pub,
        count: c_uint,
        first_seq: *mut u64,
    ) -> c_int;
    pub fn evbus_publish_retained(
        bus: *mut evbus,
        topic: *const c_char,
        data: *const c_void,
        len: size_t,
    ) -> c_int;
    pub fn evbus_publish_ask(
        bus: *mut evbus,
        topic: *const c_char,
        data: *const c_void,
        len: size_t,
        opts: *const evbus_pub_opts,
        deadline_ns: u64,
        seq: *mut u64,
    ) -> c_int;
    pub fn evbus_publish_wait(
        bus: *mut evbus,
        topic: *const c_char,
        data: *const c_void,
        len: size_t,
        opts: *const evbus_pub_opts,
        deadline_ns: u64,
        seq: *mut u64,
    ) -> c_int;

    pub fn evbus_read(bus: *mut evbus, rec: *mut *const evbus_record, timeout_ms: c_int) -> c_int;

    pub fn evbus_set_ring(bus: *mut evbus, size: u32, policy: u32) -> c_int;
    pub fn evbus_get_ring(bus: *mut evbus, size: *mut u32, policy: *mut u32) -> c_int;
    pub fn evbus_set_wake(bus: *mut evbus, events: u32, delay_ns: u64) -> c_int;
    pub fn evbus_get_wake(bus: *mut evbus, events: *mut u32, delay_ns: *mut u64) -> c_int;
    pub fn evbus_set_wake_adaptive(bus: *mut evbus) -> c_int;
    pub fn evbus_get_wake_mode(bus: *mut evbus, mode: *mut u32) -> c_int;
    pub fn evbus_set_ring_lossless(bus: *mut evbus, size: u32, wait_ns: u64) -> c_int;

    pub fn evbus_mmap_open(bus: *mut evbus, m: *mut *mut evbus_mmap) -> c_int;
    pub fn evbus_mmap_close(m: *mut evbus_mmap);
    pub fn evbus_mmap_consume(m: *mut evbus_mmap, f: evbus_record_fn, ctx: *mut c_void) -> c_int;
    pub fn evbus_mmap_poll(
        m: *mut evbus_mmap,
        f: evbus_record_fn,
        ctx: *mut c_void,
        timeout_ms: c_int,
    ) -> c_int;
    pub fn evbus_get_stats(bus: *mut evbus, stats: *mut evbus_stats) -> c_int;
    pub fn evbus_get_bus_stats(bus: *mut evbus, stats: *mut evbus_bus_stats) -> c_int;

    pub fn evbus_check_topic(topic: *const c_char, why: *mut *const c_char) -> c_int;
    pub fn evbus_check_pattern(pattern: *const c_char, why: *mut *const c_char) -> c_int;
    pub fn evbus_match(pattern: *const c_char, topic: *const c_char) -> c_int;

    pub fn evbus_narrow(
        bus: *mut evbus,
        publish: *const *const c_char,
        n_publish: c_uint,
        subscribe: *const *const c_char,
        n_subscribe: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn evbus_policy_add(
        bus: *mut evbus,
        pattern: *const c_char,
        verdict: u32,
        rights: u32,
        who: u32,
        id: u32,
        flags: u32,
        rule_id: *mut u32,
    ) -> c_int;
    pub fn evbus_policy_remove(bus: *mut evbus, rule_id: u32, flags: u32) -> c_int;
    pub fn evbus_policy_default(bus: *mut evbus, verdict: u32, flags: u32) -> c_int;
    pub fn evbus_policy_clear(bus: *mut evbus, flags: u32) -> c_int;
    pub fn evbus_policy_list(
        bus: *mut evbus,
        start_id: u32,
        rules: *mut evbus_rule_info,
        count: c_uint,
        total: *mut u32,
        def: *mut u32,
    ) -> c_int;

    pub fn evbus_get_history(bus: *mut evbus, h: *mut evbus_history) -> c_int;
    pub fn evbus_set_history_capacity(bus: *mut evbus, bytes: u64) -> c_int;

    pub fn evbus_approver_add(
        bus: *mut evbus,
        pattern: *const c_char,
        priority: i32,
        deflt: u32,
        approver_id: *mut u32,
    ) -> c_int;
    pub fn evbus_approver_del(bus: *mut evbus, approver_id: u32) -> c_int;
    pub fn evbus_verdict_allow(bus: *mut evbus, req_id: u64) -> c_int;
    pub fn evbus_verdict_deny(bus: *mut evbus, req_id: u64, error: c_int) -> c_int;
    pub fn evbus_verdict_modify(
        bus: *mut evbus,
        req_id: u64,
        topic: *const c_char,
        payload: *const c_void,
        len: size_t,
        type_: u32,
    ) -> c_int;

    pub fn evbus_will_set(
        bus: *mut evbus,
        scope: u64,
        topic: *const c_char,
        payload: *const c_void,
        len: size_t,
        opts: *const evbus_pub_opts,
    ) -> c_int;
    pub fn evbus_will_clear(bus: *mut evbus, scope: u64) -> c_int;
    pub fn evbus_scope_begin(
        bus: *mut evbus,
        prefix: *const c_char,
        data: *const c_void,
        len: size_t,
        parent: u64,
        scope: *mut u64,
    ) -> c_int;
    pub fn evbus_scope_update(bus: *mut evbus, scope: u64, data: *const c_void, len: size_t) -> c_int;
    pub fn evbus_scope_end(
        bus: *mut evbus,
        scope: u64,
        ok: bool,
        data: *const c_void,
        len: size_t,
    ) -> c_int;

    pub fn evbus_rate_get(bus: *mut evbus, out: *mut evbus_rate) -> c_int;
    pub fn evbus_rate_limit(bus: *mut evbus, lim: *const evbus_rate_limit) -> c_int;
    pub fn evbus_rate_limit_user(
        bus: *mut evbus,
        who: u32,
        uid: u32,
        lim: *const evbus_rate_limit,
    ) -> c_int;
    pub fn evbus_rate_user_get(
        bus: *mut evbus,
        who: u32,
        uid: u32,
        out: *mut evbus_rate_limit,
    ) -> c_int;

    pub fn evbus_lib_version() -> *const c_char;

    pub fn evbus_records_init(it: *mut evbus_rec_iter, buf: *const c_void, len: size_t) -> c_int;
    pub fn evbus_records_next(it: *mut evbus_rec_iter, rec: *mut *const evbus_record) -> c_int;
    pub fn evbus_parse_records(
        buf: *const c_void,
        len: size_t,
        cb: Option<evbus_parse_fn>,
        arg: *mut c_void,
    ) -> c_int;
}
