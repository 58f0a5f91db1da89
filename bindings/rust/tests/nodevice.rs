//! API checks that need no device.
use std::io;

use evbus::{parse_records, Record, RecvError};

#[test]
fn interior_nul_is_einval_invalid_input() {
    for r in [evbus::check_topic("a\0b"), evbus::check_pattern("a.\0"), evbus::matches("a\0", "a").map(drop)] {
        let e = r.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn syntax_checks_give_einval() {
    evbus::check_topic("a.b-c_d:e").unwrap();
    let e = evbus::check_topic("a..b").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(evbus::check_topic(&"x".repeat(256)).is_err());
    evbus::check_topic(&"x".repeat(255)).unwrap();
    assert!(evbus::check_pattern("a.*.>").is_ok());
    assert!(evbus::check_topic("a.*").is_err());
}

#[test]
fn matches_follows_the_wildcards() {
    assert!(evbus::matches("a.*", "a.b").unwrap());
    assert!(!evbus::matches("a.*", "a.b.c").unwrap());
    assert!(evbus::matches("a.>", "a.b.c").unwrap());
    assert!(!evbus::matches("a.>", "a").unwrap());
    assert!(!evbus::matches("*.x", "$sys.x").unwrap());
    assert_eq!(evbus::matches("a..b", "a.b").unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(evbus::matches("a", "a.*").unwrap_err().raw_os_error(), Some(libc::EINVAL));
}

fn event_record(seq: u64, topic: &str, payload: &[u8]) -> Vec<u8> {
    let tl = (topic.len() + 1 + 7) & !7;
    let len = (80 + tl + payload.len() + 7) & !7;
    let mut b = vec![0u8; len];
    b[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    b[4..6].copy_from_slice(&1u16.to_le_bytes());
    b[6..8].copy_from_slice(&80u16.to_le_bytes());
    b[8..12].copy_from_slice(&(topic.len() as u32).to_le_bytes());
    b[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b[16..24].copy_from_slice(&seq.to_le_bytes());
    b[80..80 + topic.len()].copy_from_slice(topic.as_bytes());
    b[80 + tl..80 + tl + payload.len()].copy_from_slice(payload);
    b
}

#[test]
fn parse_records_returns_what_precedes_a_bad_record() {
    let mut buf = event_record(5, "a.b", b"xyz");
    buf.extend(event_record(6, "c", b""));
    let p = parse_records(&buf);
    assert!(p.error.is_none());
    assert_eq!(p.records.len(), 2);
    match &p.records[0] {
        Record::Event(e) => assert_eq!((e.seq, e.topic.as_str(), e.payload.as_slice()), (5, "a.b", &b"xyz"[..])),
        r => panic!("{:?}", r),
    }
    // A truncated third record: the first two, then EBADMSG.
    buf.extend_from_slice(&[16, 0, 0, 0, 1, 0, 80, 0]);
    let p = parse_records(&buf);
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.error.unwrap().raw_os_error(), Some(libc::EBADMSG));
}

#[test]
fn recv_error_conversions() {
    let e: RecvError = io::Error::from_raw_os_error(libc::EAGAIN).into();
    assert!(e.is_would_block());
    let lag = RecvError::Lagged { lost: 3, first_seq: 10, last_seq: 12, history: false };
    assert!(!lag.is_would_block());
    assert_eq!(lag.to_string(), "lagged: 3 events lost, seq 10..=12");
    let io: io::Error = RecvError::Io(io::Error::from_raw_os_error(libc::EBADF)).into();
    assert_eq!(io.raw_os_error(), Some(libc::EBADF));
}

#[test]
fn lib_version_is_at_least_1_9() {
    let v = evbus::lib_version();
    let mut it = v.split('.').map(|s| s.parse::<u32>().unwrap());
    let (maj, min) = (it.next().unwrap(), it.next().unwrap());
    assert!(maj == 1 && min >= 9, "{}", v);
}
