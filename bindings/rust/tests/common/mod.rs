//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use evbus::{Bus, Event, Record, RecvError};

pub const WAIT: Duration = Duration::from_secs(5);

/// True if /dev/evbus is there.  Without it a test fails, unless
/// EVBUS_SKIP_NO_DEVICE=1 (then it is skipped by returning early).
pub fn have_device() -> bool {
    if Path::new("/dev/evbus").exists() {
        return true;
    }
    if std::env::var("EVBUS_SKIP_NO_DEVICE").map_or(false, |v| v == "1") {
        eprintln!("/dev/evbus missing: skipped (EVBUS_SKIP_NO_DEVICE=1)");
        return false;
    }
    panic!("/dev/evbus missing: these tests need the evbus module (EVBUS_SKIP_NO_DEVICE=1 skips them)");
}

#[macro_export]
macro_rules! need_device {
    () => {
        if !common::have_device() {
            return;
        }
    };
}

static N: AtomicU32 = AtomicU32::new(0);

/// A topic prefix no other test (or run) uses: "<what>.p<pid>.n<k>".
pub fn uniq(what: &str) -> String {
    format!("{}.p{}.n{}", what, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn open() -> Bus {
    Bus::open().expect("open /dev/evbus")
}

/// A fresh handle subscribed to pattern.
pub fn sub(pattern: &str) -> Bus {
    let b = open();
    b.subscribe(pattern).expect("subscribe");
    b
}

pub fn next_event(b: &mut Bus) -> Event {
    match b.recv_timeout(WAIT) {
        Ok(e) => e,
        Err(e) => panic!("expected an event, got {:?}", e),
    }
}

pub fn next_record(b: &mut Bus) -> Record {
    b.recv_record_timeout(WAIT).expect("expected a record")
}

/// Nothing queued right now.
pub fn assert_empty(b: &mut Bus) {
    match b.try_recv_record() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("expected nothing queued, got {:?}", other),
    }
}

pub fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got Ok({:?})", v),
        Err(e) => e.raw_os_error().unwrap_or_else(|| panic!("no errno in {:?}", e)),
    }
}

pub fn lagged(r: Result<Event, RecvError>) -> (u64, u64, u64, bool) {
    match r {
        Err(RecvError::Lagged { lost, first_seq, last_seq, history }) => (lost, first_seq, last_seq, history),
        other => panic!("expected Lagged, got {:?}", other),
    }
}
