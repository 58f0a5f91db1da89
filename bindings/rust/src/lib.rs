//! Safe Rust binding for **libevbus**, the client library of `/dev/evbus`,
//! a cross-process publish/subscribe bus in the Linux kernel.
//!
//! One [`Bus`] is one open file of the device: a subscriber with its own
//! ring, and a publisher.  Every call maps onto one libevbus function, and
//! errors are [`std::io::Error`]s carrying the errno libevbus returned
//! (`raw_os_error()` gives it).  A string with an interior NUL byte is
//! refused with `EINVAL` ([`io::ErrorKind::InvalidInput`]) before any call.
//!
//! Records are decoded only by libevbus's own walker (`evbus_read()`,
//! `evbus_records_next()`), never by this crate.
//!
//! ```no_run
//! use evbus::{Bus, RecvError};
//!
//! let mut sub = Bus::open()?;
//! sub.subscribe("app.>")?;
//! let publisher = Bus::open()?;
//! let seq = publisher.publish("app.task.done", b"hello")?;
//! match sub.recv() {
//!     Ok(ev) => assert_eq!((ev.seq, ev.topic.as_str()), (seq, "app.task.done")),
//!     Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
//!         eprintln!("lost {lost} events, seq {first_seq}..={last_seq}")
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! With the `tokio` feature, [`AsyncBus`] receives under tokio and is a
//! `futures_core::Stream`.

#![deny(unsafe_op_in_unsafe_fn)]

use std::any::Any;
use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::time::Duration;

mod sys;

#[cfg(feature = "tokio")]
mod async_bus;
#[cfg(feature = "tokio")]
pub use async_bus::{AsyncBus, EventStream};

/// The bus's counters (`struct evbus_bus_stats`, all versions up to VER2).
pub use sys::evbus_bus_stats as BusStats;
/// The history's state (`struct evbus_history`).
pub use sys::evbus_history as History;
/// Rate limit and token state from [`Bus::rate_get`] (`struct evbus_rate`).
pub use sys::evbus_rate as Rate;
/// A rate limit: events and payload bytes per second, each with a burst;
/// a rate of 0 leaves that dimension unlimited (its burst must be 0 too).
pub use sys::evbus_rate_limit as RateLimit;
/// The ABI handshake: version, feature bits and limits (`struct evbus_version`).
pub use sys::evbus_version as Version;

/// Constants of the uapi that show up in this API's values.
pub mod consts {
    pub const FEAT_PUBLISH: u64 = 1 << 0;
    pub const FEAT_BATCH: u64 = 1 << 1;
    pub const FEAT_WILDCARD: u64 = 1 << 2;
    pub const FEAT_DROP_NEWEST: u64 = 1 << 3;
    pub const FEAT_NS_XLATE: u64 = 1 << 4;
    pub const FEAT_URING_CMD: u64 = 1 << 5;
    pub const FEAT_NOWAIT_READ: u64 = 1 << 6;
    pub const FEAT_RING_WAKE: u64 = 1 << 7;
    pub const FEAT_IPC_NS: u64 = 1 << 8;
    pub const FEAT_POLICY: u64 = 1 << 9;
    pub const FEAT_SYS_TOPICS: u64 = 1 << 10;
    pub const FEAT_SCOPE: u64 = 1 << 11;
    pub const FEAT_SUB_FILTER: u64 = 1 << 12;
    pub const FEAT_SUB_BPF: u64 = 1 << 13;
    pub const FEAT_BUS_STATS: u64 = 1 << 14;
    pub const FEAT_MMAP: u64 = 1 << 15;
    pub const FEAT_ADAPTIVE_WAKE: u64 = 1 << 16;
    pub const FEAT_HISTORY: u64 = 1 << 17;
    pub const FEAT_RETAINED: u64 = 1 << 18;
    pub const FEAT_APPROVAL: u64 = 1 << 19;
    pub const FEAT_WILL: u64 = 1 << 20;
    pub const FEAT_RATE: u64 = 1 << 21;
    pub const FEAT_LOSSLESS: u64 = 1 << 22;

    /// `Event::flags` bits.
    pub const EVENT_REPLAYED: u32 = 1 << 0;
    pub const EVENT_RETAINED: u32 = 1 << 1;
    pub const EVENT_APPROVED: u32 = 1 << 2;
    pub const EVENT_MODIFIED: u32 = 1 << 3;
    pub const EVENT_WILL: u32 = 1 << 4;

    /// Lagged flags: the range is missing from the history.
    pub const LAGGED_HISTORY: u32 = 1 << 0;
    /// Request flags: a policy rule made the publish ask.
    pub const REQ_MANDATORY: u32 = 1 << 0;
    /// Cancelled reasons.
    pub const CANCEL_WITHDRAWN: u32 = 1;
    pub const CANCEL_EXPIRED: u32 = 2;
    /// Revoked reasons.
    pub const DENY_RULE: u32 = 1;
    pub const DENY_DEFAULT: u32 = 2;

    /// Policy rights.
    pub const RIGHT_PUBLISH: u32 = 1 << 0;
    pub const RIGHT_SUBSCRIBE: u32 = 1 << 1;
    pub const RIGHT_REPLAY: u32 = 1 << 2;
    pub const RIGHT_APPROVE: u32 = 1 << 3;
    pub const RIGHT_WAIT: u32 = 1 << 4;
    /// Policy change flag: recheck (and revoke) subscriptions.
    pub const POLICY_REVOKE: u32 = 1 << 0;
    /// [`Bus::narrow`](crate::Bus::narrow) flags.
    pub const SCOPE_KEEP_PUBLISH: u32 = 1 << 0;
    pub const SCOPE_KEEP_SUBSCRIBE: u32 = 1 << 1;

    pub const TOPIC_MAX: usize = 255;
    pub const BATCH_MAX: usize = 1024;
}

// ---------------------------------------------------------------- helpers

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// A libevbus return value: negative errno → error.
fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| einval())
}

fn data_ptr(d: &[u8]) -> *const c_void {
    if d.is_empty() {
        ptr::null()
    } else {
        d.as_ptr() as *const c_void
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn timeout_ms(t: Option<Duration>) -> c_int {
    match t {
        None => -1,
        Some(d) => {
            let ms = d.as_millis();
            // Round up so a tiny timeout still waits.
            let ms = if ms == 0 && !d.is_zero() { 1 } else { ms };
            c_int::try_from(ms).unwrap_or(c_int::MAX)
        }
    }
}

// ------------------------------------------------------------- records

/// One event as delivered: the kernel's stamp, the publisher's metadata,
/// topic and payload, owned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// Global sequence number (0 in an approval request).
    pub seq: u64,
    /// CLOCK_REALTIME at publish.
    pub time_ns: u64,
    /// CLOCK_MONOTONIC at publish.
    pub mono_ns: u64,
    /// Sender's process (tgid) in the reader's pid namespace, or 0.
    pub pid: u32,
    /// Sender's thread id, or 0.
    pub tid: u32,
    /// Sender's euid in the reader's user namespace.
    pub uid: u32,
    /// Sender's egid.
    pub gid: u32,
    /// Application type code.
    pub type_: u32,
    /// `consts::EVENT_*` bits, and the modifier in the top 16 bits.
    pub flags: u32,
    /// Correlation id.
    pub corr: u64,
    /// Parent sequence number.
    pub parent: u64,
    /// The topic (always ASCII for a well-formed bus; decoded lossily).
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Event {
    /// The event as an [`EventRef`] borrowing this one's topic and payload.
    pub fn as_event_ref(&self) -> EventRef<'_> {
        EventRef {
            seq: self.seq,
            time_ns: self.time_ns,
            mono_ns: self.mono_ns,
            pid: self.pid,
            tid: self.tid,
            uid: self.uid,
            gid: self.gid,
            type_: self.type_,
            flags: self.flags,
            corr: self.corr,
            parent: self.parent,
            topic: &self.topic,
            payload: &self.payload,
        }
    }
    /// Replayed from the history (a `since`/`last` subscription).
    pub fn replayed(&self) -> bool {
        self.flags & consts::EVENT_REPLAYED != 0
    }
    /// A retained value (a `retained` subscription).
    pub fn retained(&self) -> bool {
        self.flags & consts::EVENT_RETAINED != 0
    }
    /// Allowed by at least one approver.
    pub fn approved(&self) -> bool {
        self.flags & consts::EVENT_APPROVED != 0
    }
    /// Changed by an approver (see [`Event::modifier`]).
    pub fn modified(&self) -> bool {
        self.flags & consts::EVENT_MODIFIED != 0
    }
    /// A last will, published by the kernel when its file was released.
    pub fn will(&self) -> bool {
        self.flags & consts::EVENT_WILL != 0
    }
    /// The id of the last approver that modified the event (0: none).
    pub fn modifier(&self) -> u32 {
        self.flags >> 16
    }
}

/// An event borrowed from the handle's read buffer: the fields of
/// [`Event`], with the topic and payload where `read()` (or the mapped
/// ring) put them, so receiving one allocates and copies nothing.  It
/// lives until the next receive on the handle, which the borrow checker
/// enforces; [`EventRef::to_event`] makes an owned [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// Global sequence number.
    pub seq: u64,
    /// CLOCK_REALTIME at publish.
    pub time_ns: u64,
    /// CLOCK_MONOTONIC at publish.
    pub mono_ns: u64,
    /// Sender's process (tgid) in the reader's pid namespace, or 0.
    pub pid: u32,
    /// Sender's thread id, or 0.
    pub tid: u32,
    /// Sender's euid in the reader's user namespace.
    pub uid: u32,
    /// Sender's egid.
    pub gid: u32,
    /// Application type code.
    pub type_: u32,
    /// `consts::EVENT_*` bits, and the modifier in the top 16 bits.
    pub flags: u32,
    /// Correlation id.
    pub corr: u64,
    /// Parent sequence number.
    pub parent: u64,
    /// The topic (ASCII: the kernel checks every topic).
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
}

impl EventRef<'_> {
    /// An owned copy.
    pub fn to_event(&self) -> Event {
        Event {
            seq: self.seq,
            time_ns: self.time_ns,
            mono_ns: self.mono_ns,
            pid: self.pid,
            tid: self.tid,
            uid: self.uid,
            gid: self.gid,
            type_: self.type_,
            flags: self.flags,
            corr: self.corr,
            parent: self.parent,
            topic: self.topic.to_owned(),
            payload: self.payload.to_vec(),
        }
    }
}

/// An approval request: answer it with [`Bus::verdict_allow`],
/// [`Bus::verdict_deny`] or [`Bus::verdict_modify`] and its `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// For the verdict.
    pub id: u64,
    /// Which of this handle's approvers is asked.
    pub approver_id: u32,
    /// `consts::REQ_*`.
    pub flags: u32,
    /// CLOCK_MONOTONIC deadline: the default verdict applies then.
    pub deadline_ns: u64,
    /// The event as it would be delivered (seq 0).
    pub event: Event,
}

impl Request {
    /// A policy rule made the publish ask.
    pub fn mandatory(&self) -> bool {
        self.flags & consts::REQ_MANDATORY != 0
    }
}

/// One record of a subscriber's stream, as libevbus's walker decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A delivered event.
    Event(Event),
    /// `lost` events with seqs `first_seq..=last_seq` were lost for this
    /// handle; `flags` has `consts::LAGGED_HISTORY` when a replay found
    /// them missing from the history.
    Lagged {
        flags: u32,
        lost: u64,
        first_seq: u64,
        last_seq: u64,
    },
    /// Subscription `sub_id` was revoked by a policy change after `seq`.
    Revoked { sub_id: u32, reason: u32, seq: u64 },
    /// This handle is an approver and is asked.
    Request(Request),
    /// A request will get no verdict from this handle (`consts::CANCEL_*`).
    Cancelled { approver_id: u32, reason: u32, id: u64 },
    /// A kind this binding does not know; skip it.
    Unknown { kind: u32, len: u32 },
}

/// Copy one event out of a record libevbus's walker checked.
///
/// # Safety
/// `r` must be a record the walker checked (its topic pointer and length).
unsafe fn raw_topic(r: &sys::evbus_record) -> &[u8] {
    if r.topic.is_null() {
        &[]
    } else {
        // SAFETY: the walker checked topic_len bytes and the NUL.
        unsafe { std::slice::from_raw_parts(r.topic as *const u8, r.topic_len) }
    }
}

/// # Safety
/// As [`raw_topic`], for the payload.
unsafe fn raw_payload(r: &sys::evbus_record) -> &[u8] {
    if r.payload.is_null() || r.payload_len == 0 {
        &[]
    } else {
        // SAFETY: the walker checked payload_len bytes within the record.
        unsafe { std::slice::from_raw_parts(r.payload as *const u8, r.payload_len) }
    }
}

fn event_ref_with<'a>(ev: &sys::evbus_event, topic: &'a str, payload: &'a [u8]) -> EventRef<'a> {
    EventRef {
        seq: ev.seq,
        time_ns: ev.time_ns,
        mono_ns: ev.mono_ns,
        pid: ev.pid,
        tid: ev.tid,
        uid: ev.uid,
        gid: ev.gid,
        type_: ev.type_,
        flags: ev.flags,
        corr: ev.corr,
        parent: ev.parent,
        topic,
        payload,
    }
}

/// # Safety
/// `ev` must be the walker's event for `r`, both valid for `'a`.
unsafe fn event_ref_from<'a>(
    ev: &sys::evbus_event,
    r: &'a sys::evbus_record,
) -> Result<EventRef<'a>, std::str::Utf8Error> {
    // SAFETY: as the caller promised.
    let (topic, payload) = unsafe { (raw_topic(r), raw_payload(r)) };
    Ok(event_ref_with(ev, topic_str(topic)?, payload))
}

/// A topic as `&str`: the kernel allows only ASCII in topics, which is
/// checked a word at a time, before the full UTF-8 check as a fallback.
fn topic_str(b: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if b.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b)
    }
}

/// # Safety
/// `ev` must be the walker's event for `r` (its topic and payload pointers).
unsafe fn event_from(ev: &sys::evbus_event, r: &sys::evbus_record) -> Event {
    // SAFETY: as the caller promised.
    let (topic, payload) = unsafe { (raw_topic(r), raw_payload(r)) };
    match topic_str(topic) {
        Ok(t) => event_ref_with(ev, t, payload).to_event(),
        // Not from a well-formed bus (topics are ASCII): decode lossily.
        Err(_) => event_ref_with(ev, &String::from_utf8_lossy(topic), payload).to_event(),
    }
}

/// # Safety
/// `r` must be a record handed out by libevbus's walker, still valid.
unsafe fn record_from_raw(r: &sys::evbus_record) -> Record {
    // SAFETY (all arms): the walker checked each kind's fixed part.
    unsafe {
        match r.kind {
            sys::EVBUS_REC_EVENT if !r.event.is_null() => Record::Event(event_from(&*r.event, r)),
            sys::EVBUS_REC_LAGGED if !r.lagged.is_null() => {
                let l = &*r.lagged;
                Record::Lagged {
                    flags: l.flags,
                    lost: l.lost,
                    first_seq: l.first_seq,
                    last_seq: l.last_seq,
                }
            }
            sys::EVBUS_REC_REVOKED => {
                let v = &*(r.hdr as *const sys::evbus_revoked);
                Record::Revoked {
                    sub_id: v.sub_id,
                    reason: v.reason,
                    seq: v.seq,
                }
            }
            sys::EVBUS_REC_REQUEST => {
                let q = &*(r.hdr as *const sys::evbus_request);
                // EVBUS_REQUEST_EVENT(): the carried event, checked by the walker.
                let ev = &*((r.hdr as *const u8).add(q.hdr.hdr_len as usize)
                    as *const sys::evbus_event);
                Record::Request(Request {
                    id: q.id,
                    approver_id: q.approver_id,
                    flags: q.flags,
                    deadline_ns: q.deadline_ns,
                    event: event_from(ev, r),
                })
            }
            sys::EVBUS_REC_CANCELLED => {
                let c = &*(r.hdr as *const sys::evbus_cancelled);
                Record::Cancelled {
                    approver_id: c.approver_id,
                    reason: c.reason,
                    id: c.id,
                }
            }
            kind => Record::Unknown { kind, len: r.len },
        }
    }
}

/// What [`parse_records`] decoded: the records before the end of the
/// buffer, or before the first malformed one.
#[derive(Debug)]
pub struct ParsedRecords {
    /// The records, in order (PAD filler skipped, as the walker does).
    pub records: Vec<Record>,
    /// `None`: the whole buffer was walked.  `Some(EBADMSG)`: the walk
    /// stopped at a malformed record; `records` holds those before it.
    pub error: Option<io::Error>,
}

/// Decode a buffer of records as `read()` on the device (or an io_uring
/// read) returns it, with libevbus's walker (`evbus_records_next()`).
/// The bytes are copied into an 8-aligned buffer first, so any slice will
/// do.
///
/// ```
/// let parsed = evbus::parse_records(&[]);
/// assert!(parsed.records.is_empty() && parsed.error.is_none());
/// // A truncated header is malformed:
/// let parsed = evbus::parse_records(&[8, 0, 0]);
/// assert_eq!(parsed.error.unwrap().raw_os_error(), Some(libc::EBADMSG));
/// ```
pub fn parse_records(buf: &[u8]) -> ParsedRecords {
    let mut aligned = vec![0u64; (buf.len() + 7) / 8];
    // SAFETY: aligned has at least buf.len() bytes.
    unsafe {
        ptr::copy_nonoverlapping(buf.as_ptr(), aligned.as_mut_ptr() as *mut u8, buf.len());
    }
    let mut records = Vec::new();
    let mut it = std::mem::MaybeUninit::<sys::evbus_rec_iter>::zeroed();
    // SAFETY: it is ours; the buffer outlives the walk.
    let ret = unsafe {
        sys::evbus_records_init(it.as_mut_ptr(), aligned.as_ptr() as *const c_void, buf.len())
    };
    if ret < 0 {
        return ParsedRecords {
            records,
            error: Some(io::Error::from_raw_os_error(-ret)),
        };
    }
    let error = loop {
        let mut rec: *const sys::evbus_record = ptr::null();
        // SAFETY: it was initialised above.
        let ret = unsafe { sys::evbus_records_next(it.as_mut_ptr(), &mut rec) };
        if ret == -libc::ENODATA {
            break None;
        }
        if ret < 0 {
            break Some(io::Error::from_raw_os_error(-ret));
        }
        // SAFETY: rec is the walker's, valid until the next call.
        records.push(unsafe { record_from_raw(&*rec) });
    };
    ParsedRecords { records, error }
}

// -------------------------------------------------------------- syntax

fn check_with(
    s: &str,
    f: unsafe extern "C" fn(*const c_char, *mut *const c_char) -> c_int,
) -> io::Result<()> {
    let c = cstring(s)?;
    let mut why: *const c_char = ptr::null();
    // SAFETY: c is NUL-terminated; why is an out pointer.
    let ret = unsafe { f(c.as_ptr(), &mut why) };
    // The reason (`why`) is dropped: the error keeps libevbus's errno.
    cvt(ret)?;
    Ok(())
}

/// Is `topic` a valid topic (checked without the device)?  `EINVAL`
/// otherwise.
///
/// ```
/// assert!(evbus::check_topic("app.task.done").is_ok());
/// assert!(evbus::check_topic("app.*").is_err());
/// ```
pub fn check_topic(topic: &str) -> io::Result<()> {
    check_with(topic, sys::evbus_check_topic)
}

/// Is `pattern` a valid subscription pattern (`*` one segment, `>` the
/// rest)?  `EINVAL` otherwise.
///
/// ```
/// assert!(evbus::check_pattern("app.*.done").is_ok());
/// assert!(evbus::check_pattern("app.>.x").is_err());
/// ```
pub fn check_pattern(pattern: &str) -> io::Result<()> {
    check_with(pattern, sys::evbus_check_pattern)
}

/// Does `pattern` match `topic`, by the kernel's rules (`evbus_match()`)?
/// `EINVAL` if either is invalid.
///
/// ```
/// assert!(evbus::matches("app.>", "app.task.done").unwrap());
/// assert!(!evbus::matches("app.*", "app.task.done").unwrap());
/// ```
pub fn matches(pattern: &str, topic: &str) -> io::Result<bool> {
    let p = cstring(pattern)?;
    let t = cstring(topic)?;
    // SAFETY: both NUL-terminated.
    let ret = cvt(unsafe { sys::evbus_match(p.as_ptr(), t.as_ptr()) })?;
    Ok(ret == 1)
}

/// The libevbus version at run time, e.g. "1.9.0".
pub fn lib_version() -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::evbus_lib_version()) }
        .to_string_lossy()
        .into_owned()
}

// ----------------------------------------------------------- receiving

/// Why [`Bus::recv`] returned no event: shaped like
/// `tokio::sync::broadcast::error::RecvError::Lagged`, with the exact range.
#[derive(Debug)]
pub enum RecvError {
    /// Events were lost for this handle: `lost` of them, seqs
    /// `first_seq..=last_seq` (the range may span events that never
    /// matched).  `history`: a replay found them gone from the history.
    /// Keep receiving: the next event follows the gap.
    Lagged {
        lost: u64,
        first_seq: u64,
        last_seq: u64,
        history: bool,
    },
    /// A subscription was revoked by a policy change after `seq`.
    Revoked { sub_id: u32, seq: u64, reason: u32 },
    /// An error of the call (`WouldBlock` from `try_recv` when nothing is
    /// queued, `TimedOut` from `recv_timeout`).
    Io(io::Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged {
                lost,
                first_seq,
                last_seq,
                history,
            } => write!(
                f,
                "lagged: {} events lost, seq {}..={}{}",
                lost,
                first_seq,
                last_seq,
                if *history { " (gone from the history)" } else { "" }
            ),
            RecvError::Revoked { sub_id, seq, reason } => write!(
                f,
                "subscription {} revoked after seq {} (reason {})",
                sub_id, seq, reason
            ),
            RecvError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

impl From<RecvError> for io::Error {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::Other, other.to_string()),
        }
    }
}

impl RecvError {
    /// The `WouldBlock` of `try_recv` on an empty handle?
    pub fn is_would_block(&self) -> bool {
        matches!(self, RecvError::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// From a record to what `recv` hands out; `None` for records `recv`
/// skips (requests, cancellations and unknown kinds).
fn record_to_recv(r: Record) -> Option<Result<Event, RecvError>> {
    match r {
        Record::Event(e) => Some(Ok(e)),
        Record::Lagged {
            flags,
            lost,
            first_seq,
            last_seq,
        } => Some(Err(RecvError::Lagged {
            lost,
            first_seq,
            last_seq,
            history: flags & consts::LAGGED_HISTORY != 0,
        })),
        Record::Revoked { sub_id, reason, seq } => {
            Some(Err(RecvError::Revoked { sub_id, seq, reason }))
        }
        Record::Request(_) | Record::Cancelled { .. } | Record::Unknown { .. } => None,
    }
}

// -------------------------------------------------------------- options

/// Options of [`Bus::open_with`].  The descriptor is always non-blocking
/// and close-on-exec (libevbus's choice); [`Bus::recv`] blocks by polling,
/// [`Bus::try_recv`] never blocks.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Device node; `None`: `$EVBUS_FD` if set, else `/dev/evbus`.
    pub path: Option<std::path::PathBuf>,
    /// Subscribe only (`EVBUS_OPEN_RDONLY`).
    pub read_only: bool,
    /// Publish only (`EVBUS_OPEN_WRONLY`).
    pub write_only: bool,
    /// Ignore `$EVBUS_FD` (`EVBUS_OPEN_NO_ENV`).
    pub no_env: bool,
    /// Initial read buffer in bytes (0: 64 KiB).
    pub read_buf: usize,
}

impl OpenOptions {
    /// Open a handle with these options.
    pub fn open(&self) -> io::Result<Bus> {
        let path = match &self.path {
            Some(p) => Some(CString::new(p.as_os_str().as_bytes()).map_err(|_| einval())?),
            None => None,
        };
        let mut flags = 0;
        if self.read_only {
            flags |= sys::EVBUS_OPEN_RDONLY;
        }
        if self.write_only {
            flags |= sys::EVBUS_OPEN_WRONLY;
        }
        if self.no_env {
            flags |= sys::EVBUS_OPEN_NO_ENV;
        }
        let opts = sys::evbus_opts {
            sz: std::mem::size_of::<sys::evbus_opts>(),
            path: path.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
            flags,
            reserved0: 0,
            read_buf: self.read_buf,
        };
        let mut raw: *mut sys::evbus = ptr::null_mut();
        // SAFETY: opts is fully initialised; raw is an out pointer.
        cvt(unsafe { sys::evbus_open(&mut raw, &opts) })?;
        NonNull::new(raw)
            .map(|raw| Bus { raw })
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
    }
}

/// Publish options carried verbatim to every subscriber.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PubOpts {
    /// Application type code.
    pub type_: u32,
    /// Correlation id.
    pub corr: u64,
    /// Parent sequence number.
    pub parent: u64,
    /// Also make the event its topic's retained value (empty payload: clear).
    pub retain: bool,
}

impl PubOpts {
    fn raw(&self, extra_flags: u32) -> sys::evbus_pub_opts {
        sys::evbus_pub_opts {
            sz: std::mem::size_of::<sys::evbus_pub_opts>(),
            type_: self.type_,
            flags: if self.retain { sys::EVBUS_PUB_RETAIN } else { 0 } | extra_flags,
            corr: self.corr,
            parent: self.parent,
        }
    }
}

/// One event of a [`Bus::publish_batch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Pub<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub type_: u32,
    pub corr: u64,
    pub parent: u64,
}

impl<'a> Pub<'a> {
    /// An event with type, corr and parent 0.
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Pub {
            topic,
            payload,
            ..Default::default()
        }
    }
}

/// The outcome of a [`Bus::publish_batch`] that published something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Seq of the first event.
    pub first_seq: u64,
    /// Events published: fewer than asked if one failed (nothing after it
    /// went out).
    pub published: usize,
}

/// Subscription options (`struct evbus_sub_opts`): filters applied in the
/// kernel, and at most one way of starting in the past.
#[derive(Debug, Clone, Default)]
pub struct SubOpts<'a> {
    /// Only events from this euid.
    pub from_uid: Option<u32>,
    /// Only events from this egid.
    pub from_gid: Option<u32>,
    /// Only events from this process (tgid).
    pub from_pid: Option<u32>,
    /// Only types in `min..=max`.
    pub types: Option<(u32, u32)>,
    /// A classic BPF filter in the text form `tcpdump -ddd` prints
    /// (parsed by `evbus_filter_parse()`).
    pub filter: Option<&'a str>,
    /// Replay the history from this seq on: 1..=the next seq (`ERANGE`
    /// beyond it: not this bus; 0 is `EINVAL`).
    pub since: Option<u64>,
    /// Replay the last this many matching events first (>= 1).
    pub last: Option<u32>,
    /// Deliver the retained values of matching topics first.
    pub retained: bool,
}

/// Overflow policy of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The oldest records make room (the default).
    DropOldest,
    /// The new event is dropped.
    DropNewest,
    /// Publishers that may wait, wait (see [`Bus::set_ring_lossless`]).
    Lossless,
}

impl Policy {
    fn raw(self) -> u32 {
        match self {
            Policy::DropOldest => sys::EVBUS_POLICY_DROP_OLDEST,
            Policy::DropNewest => sys::EVBUS_POLICY_DROP_NEWEST,
            Policy::Lossless => sys::EVBUS_POLICY_LOSSLESS,
        }
    }
    fn from_raw(v: u32) -> io::Result<Self> {
        match v {
            sys::EVBUS_POLICY_DROP_OLDEST => Ok(Policy::DropOldest),
            sys::EVBUS_POLICY_DROP_NEWEST => Ok(Policy::DropNewest),
            sys::EVBUS_POLICY_LOSSLESS => Ok(Policy::Lossless),
            _ => Err(io::Error::from_raw_os_error(libc::EPROTO)),
        }
    }
}

/// Who a policy rule or user rate limit is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Everyone (`EVBUS_WHO_ALL`).
    All,
    /// Files opened with this euid.
    Uid(u32),
    /// Files opened with this egid or supplementary gid.
    Gid(u32),
}

impl Who {
    fn raw(self) -> (u32, u32) {
        match self {
            Who::All => (sys::EVBUS_WHO_ALL, 0),
            Who::Uid(u) => (sys::EVBUS_WHO_UID, u),
            Who::Gid(g) => (sys::EVBUS_WHO_GID, g),
        }
    }
}

/// A policy verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    /// Publish rules only: through the approval gate.
    Ask,
}

impl Verdict {
    fn raw(self) -> u32 {
        match self {
            Verdict::Allow => sys::EVBUS_ALLOW,
            Verdict::Deny => sys::EVBUS_DENY,
            Verdict::Ask => sys::EVBUS_ASK,
        }
    }
}

/// This handle's counters (`struct evbus_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub queued_events: u64,
    pub queued_bytes: u64,
    pub delivered: u64,
    pub lost: u64,
    pub lag_records: u64,
    pub published: u64,
    /// Ring size in bytes (0: no ring yet).
    pub capacity: u32,
    pub policy: u32,
    pub subscriptions: u32,
}

// ------------------------------------------------------------------ Bus

/// One open file of `/dev/evbus`: a subscriber with its own ring, and a
/// publisher.  Closing it (drop) fires its armed wills.
///
/// Publishing, subscribing and the other ioctl calls take `&self` and may
/// run from several threads at once (libevbus only uses the descriptor
/// for them); receiving, and calls that change how it reads, take
/// `&mut self`.
pub struct Bus {
    raw: NonNull<sys::evbus>,
}

// SAFETY: a handle may move between threads; the &self calls are the ones
// libevbus documents as using only the descriptor (safe concurrently).
unsafe impl Send for Bus {}
unsafe impl Sync for Bus {}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus").field("fd", &self.as_raw_fd()).finish()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // SAFETY: ours, closed once.
        unsafe { sys::evbus_close(self.raw.as_ptr()) }
    }
}

impl AsRawFd for Bus {
    fn as_raw_fd(&self) -> RawFd {
        // SAFETY: a live handle.
        unsafe { sys::evbus_fd(self.raw.as_ptr()) }
    }
}

impl Bus {
    fn p(&self) -> *mut sys::evbus {
        self.raw.as_ptr()
    }

    /// Open the bus: the handle inherited in `$EVBUS_FD` (from
    /// `evbus exec`) if set, else `/dev/evbus`.
    pub fn open() -> io::Result<Bus> {
        OpenOptions::default().open()
    }

    /// Open the device node at `path` (ignores `$EVBUS_FD`).
    pub fn open_path<P: AsRef<Path>>(path: P) -> io::Result<Bus> {
        OpenOptions {
            path: Some(path.as_ref().to_path_buf()),
            ..Default::default()
        }
        .open()
    }

    /// Only the handle inherited in `$EVBUS_FD`: `ENOENT` if it is unset,
    /// `EBADF` if it is not a descriptor number, `ENOTTY` if it is not the
    /// device's.  The descriptor is duplicated; the inherited one stays.
    pub fn from_env() -> io::Result<Bus> {
        match std::env::var_os("EVBUS_FD") {
            Some(v) if !v.is_empty() => OpenOptions::default().open(),
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    /// Open with [`OpenOptions`].
    pub fn open_with(opts: &OpenOptions) -> io::Result<Bus> {
        opts.open()
    }

    /// The ABI version, feature bits (`consts::FEAT_*`) and limits.
    pub fn query(&self) -> io::Result<Version> {
        let mut v = Version::default();
        // SAFETY: v is a zeroed evbus_version.
        cvt(unsafe { sys::evbus_query(self.p(), &mut v) })?;
        Ok(v)
    }

    /// The feature bits alone.
    pub fn features(&self) -> io::Result<u64> {
        Ok(self.query()?.features)
    }

    // ------------------------------------------------------- publishing

    fn publish_raw(
        &self,
        topic: &str,
        payload: &[u8],
        opts: &sys::evbus_pub_opts,
        deadline: Option<(Duration, bool)>,
    ) -> io::Result<u64> {
        let t = cstring(topic)?;
        let mut seq = 0u64;
        // SAFETY: t NUL-terminated, payload valid for its length.
        let ret = unsafe {
            match deadline {
                None => sys::evbus_publish(
                    self.p(),
                    t.as_ptr(),
                    data_ptr(payload),
                    payload.len(),
                    opts,
                    &mut seq,
                ),
                Some((d, false)) => sys::evbus_publish_ask(
                    self.p(),
                    t.as_ptr(),
                    data_ptr(payload),
                    payload.len(),
                    opts,
                    duration_ns(d),
                    &mut seq,
                ),
                Some((d, true)) => sys::evbus_publish_wait(
                    self.p(),
                    t.as_ptr(),
                    data_ptr(payload),
                    payload.len(),
                    opts,
                    duration_ns(d),
                    &mut seq,
                ),
            }
        };
        cvt(ret)?;
        Ok(seq)
    }

    /// Publish `payload` on `topic`; returns the event's seq.
    ///
    /// ```no_run
    /// let bus = evbus::Bus::open()?;
    /// let seq = bus.publish("sensors.temp", b"21.5")?;
    /// # let _ = seq; Ok::<(), std::io::Error>(())
    /// ```
    pub fn publish(&self, topic: &str, payload: &[u8]) -> io::Result<u64> {
        self.publish_with(topic, payload, &PubOpts::default())
    }

    /// Publish with type, corr, parent and the retain flag.
    pub fn publish_with(&self, topic: &str, payload: &[u8], opts: &PubOpts) -> io::Result<u64> {
        self.publish_raw(topic, payload, &opts.raw(0), None)
    }

    /// Publish and make it the topic's retained value (empty: clear it).
    pub fn publish_retained(&self, topic: &str, payload: &[u8]) -> io::Result<u64> {
        self.publish_with(
            topic,
            payload,
            &PubOpts {
                retain: true,
                ..Default::default()
            },
        )
    }

    /// Publish through the approval gate, waiting at most `deadline`
    /// (zero: the module's default) for the approvers.  Blocks.  Errors:
    /// the approver's errno, `ETIMEDOUT`/`ECONNRESET`/`ENOBUFS` for a
    /// default of deny, `ECONNREFUSED` when a rule asks and nobody approves.
    pub fn publish_ask(&self, topic: &str, payload: &[u8], deadline: Duration) -> io::Result<u64> {
        self.publish_ask_with(topic, payload, &PubOpts::default(), deadline)
    }

    /// [`Bus::publish_ask`] with options.
    pub fn publish_ask_with(
        &self,
        topic: &str,
        payload: &[u8],
        opts: &PubOpts,
        deadline: Duration,
    ) -> io::Result<u64> {
        self.publish_raw(topic, payload, &opts.raw(0), Some((deadline, false)))
    }

    /// Publish, waiting up to `deadline` (must be > 0) for rate-limit
    /// tokens instead of failing with `EAGAIN`.  Blocks.
    pub fn publish_wait(&self, topic: &str, payload: &[u8], deadline: Duration) -> io::Result<u64> {
        self.publish_wait_with(topic, payload, &PubOpts::default(), deadline)
    }

    /// [`Bus::publish_wait`] with options.
    pub fn publish_wait_with(
        &self,
        topic: &str,
        payload: &[u8],
        opts: &PubOpts,
        deadline: Duration,
    ) -> io::Result<u64> {
        self.publish_raw(topic, payload, &opts.raw(0), Some((deadline, true)))
    }

    /// Publish several events in order (in chunks of up to 1024 ioctls).
    /// If the first fails, its error; if a later one fails, the events
    /// before it are published and `published` says how many.
    ///
    /// ```no_run
    /// use evbus::{Bus, Pub};
    /// let bus = Bus::open()?;
    /// let b = bus.publish_batch(&[Pub::new("a.b", b"1"), Pub::new("a.c", b"2")])?;
    /// assert_eq!(b.published, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn publish_batch(&self, events: &[Pub<'_>]) -> io::Result<Batch> {
        if events.is_empty() || events.len() > i32::MAX as usize {
            return Err(einval());
        }
        let mut raw = Vec::with_capacity(events.len());
        for e in events {
            if e.topic.as_bytes().contains(&0) {
                return Err(einval());
            }
            raw.push(sys::evbus_pub {
                topic: e.topic.as_ptr() as u64,
                payload: data_ptr(e.payload) as u64,
                topic_len: u32::try_from(e.topic.len()).map_err(|_| einval())?,
                payload_len: u32::try_from(e.payload.len()).map_err(|_| einval())?,
                type_: e.type_,
                corr: e.corr,
                parent: e.parent,
                ..Default::default()
            });
        }
        let mut first = 0u64;
        // SAFETY: raw points at live topics and payloads.
        let n = cvt(unsafe {
            sys::evbus_publish_batch(self.p(), raw.as_ptr(), raw.len() as u32, &mut first)
        })?;
        Ok(Batch {
            first_seq: first,
            published: n as usize,
        })
    }

    // ------------------------------------------------------ subscribing

    /// Subscribe to `pattern`; returns the subscription id.
    pub fn subscribe(&self, pattern: &str) -> io::Result<u32> {
        let p = cstring(pattern)?;
        let mut id = 0u32;
        // SAFETY: p NUL-terminated.
        cvt(unsafe { sys::evbus_subscribe(self.p(), p.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// Subscribe with filters, or starting in the past.
    ///
    /// ```no_run
    /// use evbus::{Bus, SubOpts};
    /// let mut bus = Bus::open()?;
    /// bus.subscribe_opts("jobs.>", &SubOpts { types: Some((1, 9)), last: Some(10), ..Default::default() })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn subscribe_opts(&self, pattern: &str, opts: &SubOpts<'_>) -> io::Result<u32> {
        let p = cstring(pattern)?;
        let mut raw = sys::evbus_sub_opts {
            sz: std::mem::size_of::<sys::evbus_sub_opts>(),
            flags: 0,
            from_uid: 0,
            from_gid: 0,
            from_pid: 0,
            type_min: 0,
            type_max: 0,
            filter: ptr::null(),
            filter_len: 0,
            reserved0: 0,
            since: 0,
            last: 0,
            reserved1: 0,
        };
        if let Some(u) = opts.from_uid {
            raw.flags |= sys::EVBUS_SUB_FROM_UID;
            raw.from_uid = u;
        }
        if let Some(g) = opts.from_gid {
            raw.flags |= sys::EVBUS_SUB_FROM_GID;
            raw.from_gid = g;
        }
        if let Some(pid) = opts.from_pid {
            raw.flags |= sys::EVBUS_SUB_FROM_PID;
            raw.from_pid = pid;
        }
        if let Some((lo, hi)) = opts.types {
            raw.flags |= sys::EVBUS_SUB_TYPE;
            raw.type_min = lo;
            raw.type_max = hi;
        }
        let prog;
        if let Some(text) = opts.filter {
            prog = parse_filter(text)?;
            raw.flags |= sys::EVBUS_SUB_FILTER;
            raw.filter = prog.as_ptr();
            raw.filter_len = prog.len() as u32;
        }
        if let Some(s) = opts.since {
            raw.flags |= sys::EVBUS_SUB_SINCE;
            raw.since = s;
        }
        if let Some(l) = opts.last {
            raw.flags |= sys::EVBUS_SUB_LAST;
            raw.last = l;
        }
        if opts.retained {
            raw.flags |= sys::EVBUS_SUB_RETAINED;
        }
        let mut id = 0u32;
        // SAFETY: raw is complete, the filter outlives the call.
        cvt(unsafe { sys::evbus_subscribe_opts(self.p(), p.as_ptr(), &raw, &mut id) })?;
        Ok(id)
    }

    /// Remove a subscription (`ENOENT`: no such id).
    pub fn unsubscribe(&self, sub_id: u32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_unsubscribe(self.p(), sub_id) }).map(drop)
    }

    // -------------------------------------------------------- the ring

    /// Set the ring's size (rounded up to a power of two; 0 keeps it) and
    /// overflow policy.
    pub fn set_ring(&mut self, size: u32, policy: Policy) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_set_ring(self.p(), size, policy.raw()) }).map(drop)
    }

    /// The ring's size and policy.
    pub fn get_ring(&self) -> io::Result<(u32, Policy)> {
        let (mut size, mut pol) = (0u32, 0u32);
        // SAFETY: out pointers.
        cvt(unsafe { sys::evbus_get_ring(self.p(), &mut size, &mut pol) })?;
        Ok((size, Policy::from_raw(pol)?))
    }

    /// Make the ring lossless: publishers that may wait for this reader
    /// wait up to `wait` for room.  `size` 0 keeps the size.
    pub fn set_ring_lossless(&mut self, size: u32, wait: Duration) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_set_ring_lossless(self.p(), size, duration_ns(wait)) }).map(drop)
    }

    /// Fixed wake-up coalescing: wake once `events` records are queued or
    /// `delay` after the first; `(0, 0)`: wake at once for every record.
    pub fn set_wake(&mut self, events: u32, delay: Duration) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_set_wake(self.p(), events, duration_ns(delay)) }).map(drop)
    }

    /// The adaptive wake-ups (the default).
    pub fn set_wake_adaptive(&mut self) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_set_wake_adaptive(self.p()) }).map(drop)
    }

    /// The fixed wake-up setting (events, delay).
    pub fn get_wake(&self) -> io::Result<(u32, Duration)> {
        let (mut ev, mut ns) = (0u32, 0u64);
        // SAFETY: out pointers.
        cvt(unsafe { sys::evbus_get_wake(self.p(), &mut ev, &mut ns) })?;
        Ok((ev, Duration::from_nanos(ns)))
    }

    /// This handle's counters.
    pub fn stats(&self) -> io::Result<Stats> {
        let mut s = sys::evbus_stats::default();
        // SAFETY: out struct.
        cvt(unsafe { sys::evbus_get_stats(self.p(), &mut s) })?;
        Ok(Stats {
            queued_events: s.queued_events,
            queued_bytes: s.queued_bytes,
            delivered: s.delivered,
            lost: s.lost,
            lag_records: s.lag_records,
            published: s.published,
            capacity: s.capacity,
            policy: s.policy,
            subscriptions: s.subscriptions,
        })
    }

    /// The counters of the handle's bus.
    pub fn bus_stats(&self) -> io::Result<BusStats> {
        let mut s = BusStats::default();
        // SAFETY: out struct; the library sets its size.
        cvt(unsafe { sys::evbus_get_bus_stats(self.p(), &mut s) })?;
        Ok(s)
    }

    /// The history's state.
    pub fn history(&self) -> io::Result<History> {
        let mut h = History::default();
        // SAFETY: out struct; the library sets its size.
        cvt(unsafe { sys::evbus_get_history(self.p(), &mut h) })?;
        Ok(h)
    }

    /// Set (and empty) the history; the bus's owner only (`EPERM`).
    pub fn set_history_capacity(&self, bytes: u64) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_set_history_capacity(self.p(), bytes) }).map(drop)
    }

    // -------------------------------------------------------- receiving

    /// The next record, in libevbus's read buffer: valid until the next
    /// `evbus_read()`, which needs `&mut self` again.
    fn read_raw(&mut self, timeout: c_int) -> io::Result<NonNull<sys::evbus_record>> {
        let mut rec: *const sys::evbus_record = ptr::null();
        loop {
            // SAFETY: rec is an out pointer.
            let ret = unsafe { sys::evbus_read(self.p(), &mut rec, timeout) };
            if ret == -libc::EINTR && timeout < 0 {
                continue;
            }
            cvt(ret)?;
            return NonNull::new(rec as *mut sys::evbus_record)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EIO));
        }
    }

    fn read_record(&mut self, timeout: c_int) -> io::Result<Record> {
        let r = self.read_raw(timeout)?;
        // SAFETY: the walker's record, copied out now.
        Ok(unsafe { record_from_raw(r.as_ref()) })
    }

    /// The next record of any kind, waiting as long as it takes.
    pub fn recv_record(&mut self) -> io::Result<Record> {
        self.read_record(-1)
    }

    /// The next record if one is queued (`WouldBlock` otherwise).
    pub fn try_recv_record(&mut self) -> io::Result<Record> {
        self.read_record(0)
    }

    /// The next record, waiting up to `timeout` (`TimedOut` then).
    pub fn recv_record_timeout(&mut self, timeout: Duration) -> io::Result<Record> {
        self.read_record(timeout_ms(Some(timeout)))
    }

    /// Read on to the next event record (in the read buffer, as
    /// `read_raw`); a loss or a revocation is the error, other records
    /// are skipped.
    pub(crate) fn next_event_raw(&mut self, timeout: c_int) -> Result<NonNull<sys::evbus_record>, RecvError> {
        loop {
            let rec = self.read_raw(timeout)?;
            // SAFETY: the walker's record.
            let r = unsafe { rec.as_ref() };
            if r.kind == sys::EVBUS_REC_EVENT && !r.event.is_null() {
                return Ok(rec);
            }
            // SAFETY: as above; copied out now.
            if let Some(Err(e)) = record_to_recv(unsafe { record_from_raw(r) }) {
                return Err(e);
            }
        }
    }

    /// The event at `r`, borrowed for as long as `self` is.
    ///
    /// # Safety
    /// `r` must come from `next_event_raw` on this handle, with no read
    /// since (a read takes `&mut self`, which the borrow then excludes).
    pub(crate) unsafe fn event_ref_at(&self, r: NonNull<sys::evbus_record>) -> Result<EventRef<'_>, RecvError> {
        // SAFETY: an event record the walker checked, as promised.
        let r = unsafe { &*r.as_ptr() };
        unsafe { event_ref_from(&*r.event, r) }
            .map_err(|_| RecvError::Io(io::Error::from_raw_os_error(libc::EBADMSG)))
    }

    fn recv_inner(&mut self, timeout: c_int) -> Result<Event, RecvError> {
        let r = self.next_event_raw(timeout)?;
        // SAFETY: just read; an event record the walker checked.
        Ok(unsafe { event_from(&*r.as_ref().event, r.as_ref()) })
    }

    /// As [`Bus::recv`], but the event is borrowed from the read buffer
    /// (no allocation, no copy) until the next receive.  A topic that is
    /// not UTF-8 (never on a well-formed bus) is `Io(EBADMSG)`.
    pub fn recv_ref(&mut self) -> Result<EventRef<'_>, RecvError> {
        let r = self.next_event_raw(-1)?;
        // SAFETY: just read.
        unsafe { self.event_ref_at(r) }
    }

    /// As [`Bus::try_recv`], borrowed.
    pub fn try_recv_ref(&mut self) -> Result<EventRef<'_>, RecvError> {
        let r = self.next_event_raw(0)?;
        // SAFETY: just read.
        unsafe { self.event_ref_at(r) }
    }

    /// As [`Bus::recv_timeout`], borrowed.
    pub fn recv_ref_timeout(&mut self, timeout: Duration) -> Result<EventRef<'_>, RecvError> {
        let r = self.next_event_raw(timeout_ms(Some(timeout)))?;
        // SAFETY: just read.
        unsafe { self.event_ref_at(r) }
    }

    /// The next event, waiting for it.  A loss comes as
    /// [`RecvError::Lagged`] with the exact range, in stream order; keep
    /// receiving after it.  Approval requests, cancellations and unknown
    /// kinds are skipped: an approver reads with [`Bus::recv_record`].
    pub fn recv(&mut self) -> Result<Event, RecvError> {
        self.recv_inner(-1)
    }

    /// The next event if one is queued; `RecvError::Io(WouldBlock)` if not.
    pub fn try_recv(&mut self) -> Result<Event, RecvError> {
        self.recv_inner(0)
    }

    /// The next event, waiting up to `timeout` (`Io(TimedOut)` then).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Event, RecvError> {
        self.recv_inner(timeout_ms(Some(timeout)))
    }

    /// Map the ring (creating it if needed): from then on records are read
    /// from the mapping, through the returned [`MmapRing`], which borrows
    /// the handle.
    pub fn mmap(&mut self) -> io::Result<MmapRing<'_>> {
        let mut m: *mut sys::evbus_mmap = ptr::null_mut();
        // SAFETY: out pointer.
        cvt(unsafe { sys::evbus_mmap_open(self.p(), &mut m) })?;
        let m = NonNull::new(m).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(MmapRing {
            m,
            _bus: PhantomData,
        })
    }

    // -------------------------------------------------------- approval

    /// Register as an approver of `pattern` (higher `priority` asked
    /// first) with a default verdict for the deadline and for going away;
    /// returns the approver id.  Requests arrive as [`Record::Request`].
    pub fn approver_add(&self, pattern: &str, priority: i32, default_allow: bool) -> io::Result<u32> {
        let p = cstring(pattern)?;
        let deflt = if default_allow { sys::EVBUS_ALLOW } else { sys::EVBUS_DENY };
        let mut id = 0u32;
        // SAFETY: p NUL-terminated.
        cvt(unsafe { sys::evbus_approver_add(self.p(), p.as_ptr(), priority, deflt, &mut id) })?;
        Ok(id)
    }

    /// Remove an approver; its pending requests get its default at once.
    pub fn approver_del(&self, approver_id: u32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_approver_del(self.p(), approver_id) }).map(drop)
    }

    /// Allow request `id` (`ENOENT`: not pending here).
    pub fn verdict_allow(&self, id: u64) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_verdict_allow(self.p(), id) }).map(drop)
    }

    /// Deny request `id`: the publisher fails with `errno` (0: `EACCES`).
    pub fn verdict_deny(&self, id: u64, errno: i32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_verdict_deny(self.p(), id, errno) }).map(drop)
    }

    /// Let request `id` go on with a new payload and type, and a new topic
    /// if `topic` is `Some`.
    pub fn verdict_modify(
        &self,
        id: u64,
        topic: Option<&str>,
        payload: &[u8],
        type_: u32,
    ) -> io::Result<()> {
        let t = match topic {
            Some(t) => Some(cstring(t)?),
            None => None,
        };
        // SAFETY: pointers valid for the call.
        cvt(unsafe {
            sys::evbus_verdict_modify(
                self.p(),
                id,
                t.as_ref().map_or(ptr::null(), |t| t.as_ptr()),
                data_ptr(payload),
                payload.len(),
                type_,
            )
        })
        .map(drop)
    }

    // ---------------------------------------------------- wills, scopes

    /// Arm (or replace) the will of `scope`: an event the kernel publishes,
    /// flagged WILL, when this handle's open file is released without
    /// [`Bus::will_clear`].  `opts.retain` must be false.
    pub fn will_set(&self, scope: u64, topic: &str, payload: &[u8], opts: &PubOpts) -> io::Result<()> {
        let t = cstring(topic)?;
        let o = opts.raw(0);
        // SAFETY: pointers valid for the call.
        cvt(unsafe {
            sys::evbus_will_set(self.p(), scope, t.as_ptr(), data_ptr(payload), payload.len(), &o)
        })
        .map(drop)
    }

    /// Disarm the will of `scope` (`ENOENT`: none).
    pub fn will_clear(&self, scope: u64) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_will_clear(self.p(), scope) }).map(drop)
    }

    /// Begin a lifecycle scope: publishes `<prefix>.started` (parent =
    /// `parent`, 0 for none) and arms a will of `<prefix>.failed`.
    ///
    /// The returned [`Scope`]'s `Drop` does **not** end the scope: a scope
    /// dropped without [`Scope::end`] stays open until the handle is
    /// closed, and then the kernel's will reports it failed.
    ///
    /// ```no_run
    /// let bus = evbus::Bus::open()?;
    /// let job = bus.scope_begin("jobs.build", b"", 0)?;
    /// job.update(b"50%")?;
    /// job.end(true, b"done")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scope_begin(&self, prefix: &str, data: &[u8], parent: u64) -> io::Result<Scope<'_>> {
        let p = cstring(prefix)?;
        let mut id = 0u64;
        // SAFETY: pointers valid for the call.
        cvt(unsafe {
            sys::evbus_scope_begin(self.p(), p.as_ptr(), data_ptr(data), data.len(), parent, &mut id)
        })?;
        Ok(Scope { bus: self, id })
    }

    /// The rate limits and tokens of this handle and its user.
    pub fn rate_get(&self) -> io::Result<Rate> {
        let mut r = Rate::default();
        // SAFETY: out struct.
        cvt(unsafe { sys::evbus_rate_get(self.p(), &mut r) })?;
        Ok(r)
    }

    /// Tighten this handle's own limit (looser: `EPERM`).
    pub fn rate_limit(&self, lim: &RateLimit) -> io::Result<()> {
        // SAFETY: in struct.
        cvt(unsafe { sys::evbus_rate_limit(self.p(), lim) }).map(drop)
    }

    /// Set (`Some`) or remove (`None`) a user's limit; the bus's owner
    /// only.  `who` is [`Who::Uid`] or [`Who::All`].
    pub fn rate_limit_user(&self, who: Who, lim: Option<&RateLimit>) -> io::Result<()> {
        let (w, id) = who.raw();
        // SAFETY: lim NULL or a valid struct.
        cvt(unsafe {
            sys::evbus_rate_limit_user(self.p(), w, id, lim.map_or(ptr::null(), |l| l as *const _))
        })
        .map(drop)
    }

    /// A user's limit (`ENOENT`: none set).
    pub fn rate_user_get(&self, who: Who) -> io::Result<RateLimit> {
        let (w, id) = who.raw();
        let mut l = RateLimit::default();
        // SAFETY: out struct.
        cvt(unsafe { sys::evbus_rate_user_get(self.p(), w, id, &mut l) })?;
        Ok(l)
    }

    // ----------------------------------------------------------- policy

    /// Add a policy rule (the bus's owner only); returns its id.
    /// `rights` are `consts::RIGHT_*`, `flags` 0 or `consts::POLICY_REVOKE`.
    pub fn policy_add(
        &self,
        pattern: &str,
        verdict: Verdict,
        rights: u32,
        who: Who,
        flags: u32,
    ) -> io::Result<u32> {
        let p = cstring(pattern)?;
        let (w, id) = who.raw();
        let mut rule = 0u32;
        // SAFETY: p NUL-terminated.
        cvt(unsafe {
            sys::evbus_policy_add(self.p(), p.as_ptr(), verdict.raw(), rights, w, id, flags, &mut rule)
        })?;
        Ok(rule)
    }

    /// Remove a policy rule.
    pub fn policy_remove(&self, rule_id: u32, flags: u32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_policy_remove(self.p(), rule_id, flags) }).map(drop)
    }

    /// Set the default verdict (`Allow` or `Deny`).
    pub fn policy_default(&self, verdict: Verdict, flags: u32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_policy_default(self.p(), verdict.raw(), flags) }).map(drop)
    }

    /// Remove every rule and restore the default of allow.
    pub fn policy_clear(&self, flags: u32) -> io::Result<()> {
        // SAFETY: plain call.
        cvt(unsafe { sys::evbus_policy_clear(self.p(), flags) }).map(drop)
    }

    /// The number of rules and the default verdict (1 allow, 2 deny).
    pub fn policy_summary(&self) -> io::Result<(u32, u32)> {
        let (mut total, mut def) = (0u32, 0u32);
        // SAFETY: count 0, no rules written.
        cvt(unsafe {
            sys::evbus_policy_list(self.p(), 0, ptr::null_mut(), 0, &mut total, &mut def)
        })?;
        Ok((total, def))
    }

    /// Narrow this handle, irreversibly, to publishing on `publish` and
    /// subscribing within `subscribe` (`consts::SCOPE_KEEP_*` in `flags`
    /// leave a set as it is).
    pub fn narrow(&self, publish: &[&str], subscribe: &[&str], flags: u32) -> io::Result<()> {
        let pc = publish.iter().map(|s| cstring(s)).collect::<io::Result<Vec<_>>>()?;
        let sc = subscribe.iter().map(|s| cstring(s)).collect::<io::Result<Vec<_>>>()?;
        let pp: Vec<*const c_char> = pc.iter().map(|c| c.as_ptr()).collect();
        let sp: Vec<*const c_char> = sc.iter().map(|c| c.as_ptr()).collect();
        // SAFETY: arrays of NUL-terminated strings alive for the call.
        cvt(unsafe {
            sys::evbus_narrow(
                self.p(),
                if pp.is_empty() { ptr::null() } else { pp.as_ptr() },
                pp.len() as u32,
                if sp.is_empty() { ptr::null() } else { sp.as_ptr() },
                sp.len() as u32,
                flags,
            )
        })
        .map(drop)
    }
}

fn parse_filter(text: &str) -> io::Result<Vec<sys::sock_filter>> {
    let t = cstring(text)?;
    let mut prog = vec![sys::sock_filter::default(); sys::EVBUS_FILTER_MAX_INSNS];
    let mut bad = 0u32;
    // SAFETY: prog has room for max instructions.
    let ret = unsafe {
        sys::evbus_filter_parse(t.as_ptr(), prog.as_mut_ptr(), prog.len() as u32, &mut bad)
    };
    // EINVAL (bad_line says where; the error keeps the errno) or E2BIG.
    let n = cvt(ret)?;
    prog.truncate(n as usize);
    Ok(prog)
}

// --------------------------------------------------------------- Scope

/// A lifecycle scope begun by [`Bus::scope_begin`].  Every event of it has
/// corr and parent = [`Scope::id`].  Dropping it does **not** end it: the
/// will armed at the start reports it failed when the handle closes.
#[derive(Debug)]
pub struct Scope<'a> {
    bus: &'a Bus,
    id: u64,
}

impl Scope<'_> {
    /// The scope's id: the seq of its `started` event.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Publish `<prefix>.progress`.
    pub fn update(&self, data: &[u8]) -> io::Result<()> {
        // SAFETY: pointers valid for the call.
        cvt(unsafe { sys::evbus_scope_update(self.bus.p(), self.id, data_ptr(data), data.len()) })
            .map(drop)
    }

    /// Publish `<prefix>.success` (`ok`) or `<prefix>.failed`, and disarm
    /// the will.
    pub fn end(self, ok: bool, data: &[u8]) -> io::Result<()> {
        // SAFETY: pointers valid for the call.
        cvt(unsafe { sys::evbus_scope_end(self.bus.p(), self.id, ok, data_ptr(data), data.len()) })
            .map(drop)
    }
}

// ---------------------------------------------------------------- mmap

/// The handle's mapped ring (`evbus_mmap_*`), shaped like libbpf's
/// `ring_buffer`: [`MmapRing::consume`] calls a closure for each record
/// available now.  Panics in the closure are caught at the C boundary and
/// resumed once libevbus has returned.
pub struct MmapRing<'a> {
    m: NonNull<sys::evbus_mmap>,
    _bus: PhantomData<&'a mut Bus>,
}

impl Drop for MmapRing<'_> {
    fn drop(&mut self) {
        // SAFETY: ours, closed once.
        unsafe { sys::evbus_mmap_close(self.m.as_ptr()) }
    }
}

struct Tramp<'f> {
    f: &'f mut dyn FnMut(Record) -> ControlFlow<()>,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

unsafe extern "C" fn trampoline(ctx: *mut c_void, rec: *const sys::evbus_record) -> c_int {
    // SAFETY: ctx is the Tramp passed by consume/poll; rec the walker's.
    let t = unsafe { &mut *(ctx as *mut Tramp<'_>) };
    let record = unsafe { record_from_raw(&*rec) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.f)(record))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(p) => {
            t.panic = Some(p);
            1
        }
    }
}

impl MmapRing<'_> {
    fn run(
        &mut self,
        timeout: Option<c_int>,
        f: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> io::Result<usize> {
        let mut t = Tramp { f, panic: None };
        let ctx = &mut t as *mut Tramp<'_> as *mut c_void;
        // SAFETY: the trampoline matches evbus_record_fn; ctx lives across.
        let ret = unsafe {
            match timeout {
                None => sys::evbus_mmap_consume(self.m.as_ptr(), trampoline, ctx),
                Some(ms) => sys::evbus_mmap_poll(self.m.as_ptr(), trampoline, ctx, ms),
            }
        };
        if let Some(p) = t.panic.take() {
            std::panic::resume_unwind(p);
        }
        cvt(ret).map(|n| n as usize)
    }

    /// Call `f` for each record available now, until it returns
    /// `ControlFlow::Break`; returns how many records `f` saw.
    pub fn consume<F: FnMut(Record) -> ControlFlow<()>>(&mut self, mut f: F) -> io::Result<usize> {
        self.run(None, &mut f)
    }

    /// Wait up to `timeout` (`None`: forever) for records, then
    /// [`MmapRing::consume`].
    pub fn poll<F: FnMut(Record) -> ControlFlow<()>>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> io::Result<usize> {
        self.run(Some(timeout_ms(timeout)), &mut f)
    }
}
