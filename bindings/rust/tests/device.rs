//! Integration tests against the real /dev/evbus (run inside the VM).
mod common;

use std::io;
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use evbus::{consts, Bus, OpenOptions, Policy, Pub, PubOpts, RateLimit, Record, RecvError, SubOpts, Verdict, Who};

fn gettid() -> u32 {
    // SAFETY: plain syscall.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

#[test]
fn query_reports_abi_and_features() {
    need_device!();
    let b = open();
    let v = b.query().unwrap();
    assert_eq!(v.abi_version, 1);
    assert_ne!(v.features & consts::FEAT_PUBLISH, 0);
    assert_ne!(v.features & consts::FEAT_BATCH, 0);
    assert_eq!(b.features().unwrap(), v.features);
    assert!(v.max_payload > 0 && v.ring_max >= v.ring_default);
    assert!(b.as_raw_fd_ok());
}

trait FdOk {
    fn as_raw_fd_ok(&self) -> bool;
}
impl FdOk for Bus {
    fn as_raw_fd_ok(&self) -> bool {
        use std::os::unix::io::AsRawFd;
        let fd = self.as_raw_fd();
        // SAFETY: F_GETFL on our descriptor.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        fd >= 0 && fl >= 0 && fl & libc::O_NONBLOCK != 0
    }
}

#[test]
fn roundtrip_carries_every_field() {
    need_device!();
    let t = uniq("rt.meta");
    let mut s = sub(&format!("{}.>", t));
    let p = open();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let topic = format!("{}.x", t);
    let opts = PubOpts { type_: 7, corr: 0xdead_beef_cafe, parent: 41, retain: false };
    let seq = p.publish_with(&topic, b"hello, bus", &opts).unwrap();
    let ev = next_event(&mut s);
    assert_eq!(ev.seq, seq);
    assert_eq!(ev.topic, topic);
    assert_eq!(ev.payload, b"hello, bus");
    assert_eq!(ev.type_, 7);
    assert_eq!(ev.corr, 0xdead_beef_cafe);
    assert_eq!(ev.parent, 41);
    assert_eq!(ev.flags, 0);
    assert_eq!(ev.pid, std::process::id());
    assert_eq!(ev.tid, gettid());
    // SAFETY: plain getters.
    assert_eq!(ev.uid, unsafe { libc::geteuid() });
    assert_eq!(ev.gid, unsafe { libc::getegid() });
    assert!(ev.time_ns + 1_000_000_000 >= before && ev.time_ns < before + 60_000_000_000);
    assert!(ev.mono_ns > 0);
    assert!(!ev.replayed() && !ev.retained() && !ev.approved() && !ev.modified() && !ev.will());
    assert_empty(&mut s);
}

#[test]
fn seqs_increase_in_order() {
    need_device!();
    let t = uniq("rt.seq");
    let mut s = sub(&t);
    let p = open();
    let seqs: Vec<u64> = (0..20u32).map(|i| p.publish(&t, &i.to_le_bytes()).unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    for (i, seq) in seqs.iter().enumerate() {
        let ev = next_event(&mut s);
        assert_eq!(ev.seq, *seq);
        assert_eq!(ev.payload, (i as u32).to_le_bytes());
    }
    assert_empty(&mut s);
    assert!(p.stats().unwrap().published >= 20);
}

#[test]
fn batch_publishes_in_order() {
    need_device!();
    let t = uniq("rt.batch");
    let mut s = sub(&format!("{}.>", t));
    let p = open();
    let (a, b, c) = (format!("{}.a", t), format!("{}.b", t), format!("{}.c", t));
    let evs = [
        Pub { type_: 1, corr: 10, ..Pub::new(&a, b"one") },
        Pub { type_: 2, parent: 3, ..Pub::new(&b, b"") },
        Pub::new(&c, b"three"),
    ];
    let r = p.publish_batch(&evs).unwrap();
    assert_eq!(r.published, 3);
    let got: Vec<_> = (0..3).map(|_| next_event(&mut s)).collect();
    assert_eq!(got[0].seq, r.first_seq);
    assert!(got[1].seq > got[0].seq && got[2].seq > got[1].seq);
    assert_eq!((got[0].topic.as_str(), got[0].type_, got[0].corr), (a.as_str(), 1, 10));
    assert_eq!((got[1].topic.as_str(), got[1].type_, got[1].parent), (b.as_str(), 2, 3));
    assert!(got[1].payload.is_empty());
    assert_eq!(got[2].payload, b"three");
}

#[test]
fn batch_errors() {
    need_device!();
    let p = open();
    assert_eq!(errno(p.publish_batch(&[])), libc::EINVAL);
    assert_eq!(errno(p.publish_batch(&[Pub::new("a\0b", b"")])), libc::EINVAL);
    assert_eq!(errno(p.publish_batch(&[Pub::new("bad..topic", b"")])), libc::EINVAL);
    // A bad second event: the first goes out, the batch stops there.
    let t = uniq("rt.batchpart");
    let r = p.publish_batch(&[Pub::new(&t, b"1"), Pub::new("bad..topic", b"2")]).unwrap();
    assert_eq!(r.published, 1);
}

/// Records of exactly 256 bytes: 80-byte header, 7-byte topic (8 with its
/// NUL), 168 bytes of payload.  A 4096-byte drop-newest ring holds 16.
#[test]
fn lagged_reports_the_exact_range_drop_newest() {
    need_device!();
    let topic = "lagn.xy";
    let mut s = open();
    s.set_ring(4096, Policy::DropNewest).unwrap();
    assert_eq!(s.get_ring().unwrap(), (4096, Policy::DropNewest));
    s.subscribe(topic).unwrap();
    let p = open();
    let payload = [7u8; 168];
    let seqs: Vec<u64> = (0..20).map(|_| p.publish(topic, &payload).unwrap()).collect();
    let st = s.stats().unwrap();
    assert_eq!((st.queued_events, st.lost, st.queued_bytes), (16, 4, 16 * 256));
    for seq in &seqs[..16] {
        assert_eq!(s.try_recv().unwrap().seq, *seq);
    }
    let (lost, first, last, history) = lagged(s.try_recv());
    assert_eq!((lost, first, last, history), (4, seqs[16], seqs[19], false));
    assert!(s.try_recv().unwrap_err().is_would_block());
    let st = s.stats().unwrap();
    assert_eq!((st.delivered, st.lag_records, st.lost), (16, 1, 4));
}

/// recv_ref() hands out the same event recv() does, borrowed: every field
/// equal between two subscribers of one publish, one reading each way.
#[test]
fn recv_ref_borrows_what_recv_owns() {
    need_device!();
    let t = uniq("ref.same");
    let (mut owned, mut borrowed) = (sub(&t), sub(&t));
    let p = open();
    let opts = PubOpts { type_: 7, corr: 99, parent: 3, ..Default::default() };
    let seqs: Vec<u64> = (0..3)
        .map(|i| p.publish_with(&t, format!("payload {i}").as_bytes(), &opts).unwrap())
        .collect();
    for seq in &seqs {
        let ev = owned.try_recv().unwrap();
        let r = borrowed.try_recv_ref().unwrap();
        assert_eq!(r.seq, *seq);
        assert_eq!((r.topic, r.type_, r.corr, r.parent), (t.as_str(), 7, 99, 3));
        assert_eq!(r.to_event(), ev);
        assert_eq!(ev.as_event_ref(), r);
    }
    assert!(borrowed.try_recv_ref().unwrap_err().is_would_block());
    assert!(borrowed.recv_ref_timeout(Duration::from_millis(20)).is_err());
}

/// recv_ref() reports a loss exactly as recv() does, in stream order.
#[test]
fn recv_ref_reports_the_exact_lag() {
    need_device!();
    let topic = "lagr.xy";
    let mut s = open();
    s.set_ring(4096, Policy::DropNewest).unwrap();
    s.subscribe(topic).unwrap();
    let p = open();
    let seqs: Vec<u64> = (0..20).map(|_| p.publish(topic, &[5u8; 168]).unwrap()).collect();
    for seq in &seqs[..16] {
        let r = s.try_recv_ref().unwrap();
        assert_eq!((r.seq, r.payload), (*seq, &[5u8; 168][..]));
    }
    match s.try_recv_ref() {
        Err(RecvError::Lagged { lost, first_seq, last_seq, history }) => {
            assert_eq!((lost, first_seq, last_seq, history), (4, seqs[16], seqs[19], false))
        }
        other => panic!("expected Lagged, got {:?}", other),
    }
    let seq = p.publish(topic, b"after").unwrap();
    let r = s.recv_ref().unwrap();
    assert_eq!((r.seq, r.payload), (seq, &b"after"[..]));
}

/// Drop-oldest: whatever is delivered and whatever is reported lost
/// together cover every seq published, once, in order.
#[test]
fn lagged_drop_oldest_accounts_for_every_seq() {
    need_device!();
    let topic = "lago.xy";
    let mut s = open();
    s.set_ring(4096, Policy::DropOldest).unwrap();
    s.subscribe(topic).unwrap();
    let p = open();
    let seqs: Vec<u64> = (0..50).map(|_| p.publish(topic, &[1u8; 168]).unwrap()).collect();
    let mut covered = Vec::new();
    let mut lags = 0;
    loop {
        match s.try_recv() {
            Ok(ev) => covered.push(ev.seq),
            Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
                lags += 1;
                assert_eq!(lost, last_seq - first_seq + 1);
                covered.extend(first_seq..=last_seq);
            }
            Err(e) if e.is_would_block() => break,
            Err(e) => panic!("{}", e),
        }
    }
    assert!(lags >= 1);
    assert_eq!(covered, seqs);
}

#[test]
fn recv_without_events_would_block_or_time_out() {
    need_device!();
    let mut s = sub(&uniq("rt.empty"));
    let e = s.try_recv().unwrap_err();
    assert!(e.is_would_block(), "{:?}", e);
    match s.recv_timeout(Duration::from_millis(50)) {
        Err(RecvError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT)),
        other => panic!("{:?}", other),
    }
}

#[test]
fn blocking_recv_wakes_for_a_later_publish() {
    need_device!();
    let t = uniq("rt.block");
    let mut s = sub(&t);
    let t2 = t.clone();
    let h = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        open().publish(&t2, b"late").unwrap()
    });
    let ev = s.recv().unwrap();
    assert_eq!(ev.seq, h.join().unwrap());
}

#[test]
fn unsubscribe_stops_delivery() {
    need_device!();
    let t = uniq("rt.unsub");
    let mut s = open();
    let id = s.subscribe(&t).unwrap();
    let id2 = s.subscribe(&format!("{}.>", t)).unwrap();
    assert_ne!(id, id2);
    assert_eq!(s.stats().unwrap().subscriptions, 2);
    s.unsubscribe(id).unwrap();
    assert_eq!(errno(s.unsubscribe(id)), libc::ENOENT);
    let p = open();
    p.publish(&t, b"gone").unwrap();
    let seq = p.publish(&format!("{}.kept", t), b"").unwrap();
    assert_eq!(next_event(&mut s).seq, seq);
    assert_empty(&mut s);
}

#[test]
fn wildcard_patterns_match_as_evbus_match_says() {
    need_device!();
    let t = uniq("rt.wild");
    let pat = format!("{}.*.done", t);
    let mut s = sub(&pat);
    let p = open();
    let topics = [format!("{}.a.done", t), format!("{}.a.b.done", t), format!("{}.x.done", t)];
    let mut want = Vec::new();
    for topic in &topics {
        let seq = p.publish(topic, b"").unwrap();
        if evbus::matches(&pat, topic).unwrap() {
            want.push(seq);
        }
    }
    assert_eq!(want.len(), 2);
    for seq in want {
        assert_eq!(next_event(&mut s).seq, seq);
    }
    assert_empty(&mut s);
}

#[test]
fn filters_by_type_sender_and_bpf() {
    need_device!();
    let t = uniq("rt.filter");
    let pat = format!("{}.>", t);
    let mut by_type = open();
    by_type.subscribe_opts(&pat, &SubOpts { types: Some((3, 5)), ..Default::default() }).unwrap();
    let mut by_me = open();
    // SAFETY: plain getter.
    let uid = unsafe { libc::geteuid() };
    by_me
        .subscribe_opts(
            &pat,
            &SubOpts { from_pid: Some(std::process::id()), from_uid: Some(uid), ..Default::default() },
        )
        .unwrap();
    let mut not_me = open();
    not_me.subscribe_opts(&pat, &SubOpts { from_uid: Some(uid + 12345), ..Default::default() }).unwrap();
    // ld [56] (type); jeq #9; ret 1; ret 0
    let bpf = "4\n32 0 0 56\n21 0 1 9\n6 0 0 1\n6 0 0 0\n";
    let mut by_bpf = open();
    by_bpf.subscribe_opts(&pat, &SubOpts { filter: Some(bpf), ..Default::default() }).unwrap();

    let p = open();
    let topic = format!("{}.ev", t);
    let seqs: Vec<u64> = (1..=9u32)
        .map(|ty| p.publish_with(&topic, b"", &PubOpts { type_: ty, ..Default::default() }).unwrap())
        .collect();
    for ty in 3..=5u32 {
        let ev = next_event(&mut by_type);
        assert_eq!((ev.type_, ev.seq), (ty, seqs[ty as usize - 1]));
    }
    assert_empty(&mut by_type);
    for seq in &seqs {
        assert_eq!(next_event(&mut by_me).seq, *seq);
    }
    assert_empty(&mut not_me);
    let ev = next_event(&mut by_bpf);
    assert_eq!((ev.type_, ev.seq), (9, seqs[8]));
    assert_empty(&mut by_bpf);
}

#[test]
fn bad_filter_text_is_einval() {
    need_device!();
    let b = open();
    let e = b.subscribe_opts("x.y", &SubOpts { filter: Some("2\n6 0 0 1\nnot a line\n"), ..Default::default() });
    assert_eq!(errno(e), libc::EINVAL);
    let e = b.subscribe_opts("x.y", &SubOpts { filter: Some("1\n6 0 0 1\0"), ..Default::default() });
    assert_eq!(errno(e), libc::EINVAL);
}

#[test]
fn replay_since_and_last() {
    need_device!();
    let t = uniq("rt.replay");
    let p = open();
    let seqs: Vec<u64> = (0..4u8).map(|i| p.publish(&t, &[i]).unwrap()).collect();

    let mut since = open();
    since.subscribe_opts(&t, &SubOpts { since: Some(seqs[1]), ..Default::default() }).unwrap();
    for (i, seq) in seqs.iter().enumerate().skip(1) {
        let ev = next_event(&mut since);
        assert_eq!((ev.seq, ev.payload.clone()), (*seq, vec![i as u8]));
        assert!(ev.replayed());
    }
    // Then live, with no gap.
    let live = p.publish(&t, b"live").unwrap();
    let ev = next_event(&mut since);
    assert_eq!(ev.seq, live);
    assert!(!ev.replayed());

    let mut last = open();
    last.subscribe_opts(&t, &SubOpts { last: Some(2), ..Default::default() }).unwrap();
    assert_eq!(next_event(&mut last).seq, seqs[3]);
    assert_eq!(next_event(&mut last).seq, live);
    assert_empty(&mut last);
}

#[test]
fn since_out_of_range_is_erange() {
    need_device!();
    let b = open();
    let next = b.history().unwrap().next_seq;
    assert!(next > 0);
    let e = b.subscribe_opts("rt.range", &SubOpts { since: Some(next + 1_000_000), ..Default::default() });
    assert_eq!(errno(e), libc::ERANGE);
    // since 0 is no start at all: the kernel refuses the flag without it.
    let e = b.subscribe_opts("rt.range", &SubOpts { since: Some(0), ..Default::default() });
    assert_eq!(errno(e), libc::EINVAL);
}

#[test]
fn retained_values() {
    need_device!();
    let t = uniq("rt.retain");
    let p = open();
    let s1 = p.publish_retained(&format!("{}.a", t), b"A1").unwrap();
    let s2 = p.publish_with(&format!("{}.b", t), b"B1", &PubOpts { retain: true, type_: 4, ..Default::default() }).unwrap();
    let mut r = open();
    r.subscribe_opts(&format!("{}.>", t), &SubOpts { retained: true, ..Default::default() }).unwrap();
    let a = next_event(&mut r);
    let b = next_event(&mut r);
    assert_eq!((a.seq, a.payload.as_slice(), a.retained()), (s1, &b"A1"[..], true));
    assert_eq!((b.seq, b.type_, b.retained()), (s2, 4, true));
    assert_empty(&mut r);
    // An empty retained publish clears it.
    p.publish_retained(&format!("{}.a", t), b"").unwrap();
    p.publish_retained(&format!("{}.b", t), b"").unwrap();
    let mut r2 = open();
    r2.subscribe_opts(&format!("{}.>", t), &SubOpts { retained: true, ..Default::default() }).unwrap();
    assert_empty(&mut r2);
}

/// An approver in a thread answering the first request with `answer`.
fn approver_thread(
    pattern: String,
    answer: impl FnOnce(&Bus, &evbus::Request) + Send + 'static,
) -> (thread::JoinHandle<evbus::Request>, u32) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        let mut a = open();
        let id = a.approver_add(&pattern, 10, false).unwrap();
        tx.send(id).unwrap();
        match next_record(&mut a) {
            Record::Request(rq) => {
                answer(&a, &rq);
                rq
            }
            other => panic!("approver got {:?}", other),
        }
    });
    (h, rx.recv().unwrap())
}

#[test]
fn approval_allow() {
    need_device!();
    let t = uniq("appr.allow");
    let mut s = sub(&t);
    let (h, aid) = approver_thread(t.clone(), |a, rq| a.verdict_allow(rq.id).unwrap());
    let p = open();
    let seq = p.publish_ask(&t, b"may I", Duration::from_secs(5)).unwrap();
    let rq = h.join().unwrap();
    assert_eq!(rq.approver_id, aid);
    assert_eq!((rq.event.seq, rq.event.topic.as_str(), rq.event.payload.as_slice()), (0, t.as_str(), &b"may I"[..]));
    assert_eq!(rq.event.pid, std::process::id());
    assert!(!rq.mandatory() && rq.deadline_ns > 0);
    let ev = next_event(&mut s);
    assert_eq!(ev.seq, seq);
    assert!(ev.approved() && !ev.modified());
}

#[test]
fn approval_deny_gives_the_publisher_the_errno() {
    need_device!();
    let t = uniq("appr.deny");
    let mut s = sub(&t);
    let (h, _) = approver_thread(t.clone(), |a, rq| a.verdict_deny(rq.id, libc::EDOM).unwrap());
    let p = open();
    let e = p.publish_ask(&t, b"no", Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EDOM));
    let rq = h.join().unwrap();
    // A verdict for a request that is over: ENOENT.
    assert_eq!(errno(open().verdict_allow(rq.id)), libc::ENOENT);
    assert_empty(&mut s);
}

#[test]
fn approval_modify() {
    need_device!();
    let t = uniq("appr.mod");
    let mut s = sub(&t);
    let (h, aid) = approver_thread(t.clone(), |a, rq| a.verdict_modify(rq.id, None, b"changed", 99).unwrap());
    let p = open();
    let seq = p.publish_ask(&t, b"original", Duration::from_secs(5)).unwrap();
    h.join().unwrap();
    let ev = next_event(&mut s);
    assert_eq!((ev.seq, ev.payload.as_slice(), ev.type_), (seq, &b"changed"[..], 99));
    assert!(ev.modified() && ev.approved());
    assert_eq!(ev.modifier(), aid);
}

#[test]
fn approval_expired_request_is_cancelled() {
    need_device!();
    let t = uniq("appr.exp");
    let mut a = open();
    let aid = a.approver_add(&t, 0, false).unwrap();
    let p = open();
    let e = p.publish_ask(&t, b"", Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT));
    let rq = match next_record(&mut a) {
        Record::Request(rq) => rq,
        other => panic!("{:?}", other),
    };
    match next_record(&mut a) {
        Record::Cancelled { approver_id, reason, id } => {
            assert_eq!((approver_id, reason, id), (aid, consts::CANCEL_EXPIRED, rq.id))
        }
        other => panic!("{:?}", other),
    }
    a.approver_del(aid).unwrap();
    assert_eq!(errno(a.approver_del(aid)), libc::ENOENT);
    // No approver any more: an ask goes out at once.
    p.publish_ask(&t, b"", Duration::from_millis(50)).unwrap();
}

#[test]
fn will_fires_when_the_bus_is_dropped() {
    need_device!();
    let t = uniq("will.drop");
    let mut s = sub(&format!("{}.>", t));
    let w = open();
    let topic = format!("{}.gone", t);
    w.will_set(1, &topic, b"bye", &PubOpts { type_: 3, corr: 8, ..Default::default() }).unwrap();
    w.will_set(2, &format!("{}.cleared", t), b"", &PubOpts::default()).unwrap();
    w.will_clear(2).unwrap();
    assert_eq!(errno(w.will_clear(2)), libc::ENOENT);
    assert_empty(&mut s);
    drop(w);
    let ev = next_event(&mut s);
    assert_eq!((ev.topic.as_str(), ev.payload.as_slice(), ev.type_, ev.corr), (topic.as_str(), &b"bye"[..], 3, 8));
    assert!(ev.will());
    assert_eq!(ev.pid, std::process::id());
    assert_empty(&mut s);
}

#[test]
fn scope_lifecycle() {
    need_device!();
    let t = uniq("scope.ok");
    let mut s = sub(&format!("{}.>", t));
    let b = open();
    let sc = b.scope_begin(&t, b"go", 0).unwrap();
    let id = sc.id();
    let started = next_event(&mut s);
    assert_eq!((started.topic, started.seq, started.payload), (format!("{}.started", t), id, b"go".to_vec()));
    sc.update(b"50%").unwrap();
    let progress = next_event(&mut s);
    assert_eq!((progress.topic, progress.corr, progress.parent), (format!("{}.progress", t), id, id));
    sc.end(true, b"done").unwrap();
    let success = next_event(&mut s);
    assert_eq!((success.topic, success.corr, success.payload), (format!("{}.success", t), id, b"done".to_vec()));
    drop(b);
    // Ended: the will was disarmed, nothing comes on close.
    thread::sleep(Duration::from_millis(20));
    assert_empty(&mut s);
}

#[test]
fn scope_dropped_without_end_fails_on_close() {
    need_device!();
    let t = uniq("scope.fail");
    let mut s = sub(&format!("{}.>", t));
    let b = open();
    // The Scope guard goes out of scope here without end().
    let id = b.scope_begin(&t, b"", 0).unwrap().id();
    assert_eq!(next_event(&mut s).seq, id);
    assert_empty(&mut s);
    drop(b);
    let failed = next_event(&mut s);
    assert_eq!(failed.topic, format!("{}.failed", t));
    assert_eq!((failed.corr, failed.parent), (id, id));
    assert!(failed.will());
}

#[test]
fn rate_limit_eagain_and_tokens() {
    need_device!();
    let t = uniq("rate.file");
    let p = open();
    let lim = RateLimit { events_per_sec: 1, events_burst: 3, ..Default::default() };
    p.rate_limit(&lim).unwrap();
    let r = p.rate_get().unwrap();
    assert_eq!(r.limit, lim);
    assert!(r.events_tokens >= 0 && r.events_tokens <= 3);
    let mut n = 0;
    let err = loop {
        match p.publish(&t, b"x") {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 20, "never refused");
    };
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
    assert!(n >= 3);
    let r = p.rate_get().unwrap();
    assert_eq!(r.refused, 1);
    assert_eq!(r.events_tokens, 0);
    // Looser: EPERM.
    let looser = RateLimit { events_per_sec: 100, events_burst: 100, ..Default::default() };
    assert_eq!(errno(p.rate_limit(&looser)), libc::EPERM);
    // publish_wait waits for the next token.
    p.publish_wait(&t, b"x", Duration::from_secs(3)).unwrap();
    assert_eq!(errno(p.publish_wait(&t, b"x", Duration::from_millis(1))), libc::EAGAIN);
}

#[test]
fn rate_limit_user_roundtrip() {
    need_device!();
    let b = open();
    let uid = 54321;
    assert_eq!(errno(b.rate_user_get(Who::Uid(uid))), libc::ENOENT);
    let lim = RateLimit { events_per_sec: 1000, events_burst: 1000, bytes_per_sec: 0, bytes_burst: 0 };
    b.rate_limit_user(Who::Uid(uid), Some(&lim)).unwrap();
    assert_eq!(b.rate_user_get(Who::Uid(uid)).unwrap(), lim);
    b.rate_limit_user(Who::Uid(uid), None).unwrap();
    assert_eq!(errno(b.rate_user_get(Who::Uid(uid))), libc::ENOENT);
}

#[test]
fn lossless_ring_loses_nothing() {
    need_device!();
    let topic = "lossl.xy";
    let mut s = open();
    s.set_ring_lossless(4096, Duration::from_secs(2)).unwrap();
    assert_eq!(s.get_ring().unwrap(), (4096, Policy::Lossless));
    s.subscribe(topic).unwrap();
    let h = thread::spawn(move || {
        let p = open();
        (0..64).map(|_| p.publish(topic, &[3u8; 168]).unwrap()).collect::<Vec<u64>>()
    });
    thread::sleep(Duration::from_millis(100));
    let mut got = Vec::new();
    while got.len() < 64 {
        got.push(next_event(&mut s).seq);
    }
    assert_eq!(got, h.join().unwrap());
    assert_eq!(s.stats().unwrap().lost, 0);
}

#[test]
fn ring_and_wake_settings() {
    need_device!();
    let mut b = open();
    b.set_ring(5000, Policy::DropOldest).unwrap();
    assert_eq!(b.get_ring().unwrap(), (8192, Policy::DropOldest));
    assert_eq!(errno(b.set_ring(1, Policy::DropOldest)), libc::EINVAL);
    b.set_wake(8, Duration::from_millis(2)).unwrap();
    assert_eq!(b.get_wake().unwrap(), (8, Duration::from_millis(2)));
    b.set_wake_adaptive().unwrap();
    assert_eq!(b.stats().unwrap().capacity, 8192);
}

#[test]
fn mmap_consumer() {
    need_device!();
    let t = uniq("mmap.c");
    let mut s = sub(&t);
    let p = open();
    let seqs: Vec<u64> = (0..5u8).map(|i| p.publish(&t, &[i; 3]).unwrap()).collect();
    let mut ring = s.mmap().unwrap();
    let mut got = Vec::new();
    // Break after the first: consume stops there and counts it.
    let n = ring
        .consume(|r| {
            got.push(r);
            ControlFlow::Break(())
        })
        .unwrap();
    assert_eq!(n, 1);
    while got.len() < 5 {
        ring.poll(Some(WAIT), |r| {
            got.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    for (i, r) in got.iter().enumerate() {
        match r {
            Record::Event(ev) => assert_eq!((ev.seq, ev.payload.clone()), (seqs[i], vec![i as u8; 3])),
            other => panic!("{:?}", other),
        }
    }
    assert_eq!(ring.poll(Some(Duration::from_millis(10)), |_| ControlFlow::Continue(())).unwrap(), 0);
}

#[test]
fn mmap_callback_panic_propagates() {
    need_device!();
    let t = uniq("mmap.panic");
    let mut s = sub(&t);
    open().publish(&t, b"boom").unwrap();
    let mut ring = s.mmap().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.poll(Some(WAIT), |_| panic!("from the callback")).unwrap();
    }));
    let msg = r.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>().copied(), Some("from the callback"));
}

#[test]
fn errors_are_errnos() {
    need_device!();
    let b = open();
    let e = b.publish("bad..topic", b"").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let e = b.publish("a.\0.b", b"").unwrap_err();
    assert_eq!((e.raw_os_error(), e.kind()), (Some(libc::EINVAL), io::ErrorKind::InvalidInput));
    assert_eq!(errno(b.subscribe("a.>.b")), libc::EINVAL);
    assert_eq!(errno(b.subscribe("a\0")), libc::EINVAL);
    assert_eq!(errno(b.publish("$sys.mine", b"")), libc::EACCES);
    assert_eq!(errno(b.verdict_allow(u64::MAX)), libc::ENOENT);
    assert_eq!(errno(b.will_set(1, "w.x", b"", &PubOpts { retain: true, ..Default::default() })), libc::EINVAL);
    assert_eq!(errno(Bus::open_path("/nonexistent/evbus")), libc::ENOENT);
    assert_eq!(errno(Bus::open_path("/dev/null").unwrap().query()), libc::ENOTTY);
}

#[test]
fn open_modes() {
    need_device!();
    let mut wo = Bus::open_with(&OpenOptions { write_only: true, ..Default::default() }).unwrap();
    let t = uniq("mode");
    wo.publish(&t, b"").unwrap();
    match wo.try_recv() {
        Err(RecvError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
        other => panic!("{:?}", other),
    }
    let ro = Bus::open_with(&OpenOptions { read_only: true, read_buf: 4096, ..Default::default() }).unwrap();
    ro.subscribe(&t).unwrap();
    assert_eq!(errno(ro.publish(&t, b"")), libc::EBADF);
}

#[test]
fn inherited_evbus_fd() {
    need_device!();
    let t = uniq("inh");
    let mut a = sub(&t);
    // SAFETY: dup of our own descriptor.
    let fd = unsafe { libc::dup(std::os::unix::io::AsRawFd::as_raw_fd(&a)) };
    assert!(fd >= 0);
    std::env::set_var("EVBUS_FD", fd.to_string());
    let b = Bus::from_env().unwrap();
    let plain = Bus::open().unwrap();
    let fresh = Bus::open_with(&OpenOptions { no_env: true, ..Default::default() }).unwrap();
    std::env::set_var("EVBUS_FD", "not-a-number");
    let bad = Bus::from_env();
    std::env::remove_var("EVBUS_FD");
    assert_eq!(errno(Bus::from_env()), libc::ENOENT);
    assert_eq!(errno(bad), libc::EBADF);
    // b and plain are the same open file as a: its subscription is theirs.
    assert_eq!(b.stats().unwrap().subscriptions, 1);
    assert_eq!(plain.stats().unwrap().subscriptions, 1);
    assert_eq!(fresh.stats().unwrap().subscriptions, 0);
    let seq = fresh.publish(&t, b"via fresh").unwrap();
    assert_eq!(next_event(&mut a).seq, seq);
    // SAFETY: closing our dup.
    unsafe { libc::close(fd) };
}

#[test]
fn inherited_evbus_fd_in_a_child_process() {
    need_device!();
    // The child is this test binary, running the helper test below with
    // EVBUS_FD set to a descriptor it inherits.
    let t = uniq("inh.child");
    let mut a = sub(&t);
    // SAFETY: dup without CLOEXEC so the child inherits it.
    let fd = unsafe { libc::dup(std::os::unix::io::AsRawFd::as_raw_fd(&a)) };
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_helper_publish_via_inherited_fd", "--nocapture", "--test-threads=1"])
        .env("EVBUS_FD", fd.to_string())
        .env("EVBUS_CHILD_TOPIC", &t)
        .output()
        .unwrap();
    // SAFETY: closing our dup.
    unsafe { libc::close(fd) };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let ev = next_event(&mut a);
    assert_eq!(ev.payload, b"from the child");
    assert_ne!(ev.pid, std::process::id());
}

#[test]
fn child_helper_publish_via_inherited_fd() {
    // Only does something when run by the test above.
    let t = match std::env::var("EVBUS_CHILD_TOPIC") {
        Ok(t) => t,
        Err(_) => return,
    };
    let b = Bus::from_env().expect("EVBUS_FD handle");
    assert_eq!(b.stats().unwrap().subscriptions, 1, "not the parent's open file");
    b.publish(&t, b"from the child").unwrap();
}

#[test]
fn stats_count() {
    need_device!();
    let t = uniq("stats");
    let mut s = sub(&t);
    let p = open();
    let b0 = p.bus_stats().unwrap();
    for _ in 0..3 {
        p.publish(&t, b"abcd").unwrap();
    }
    let b1 = p.bus_stats().unwrap();
    assert!(b1.published >= b0.published + 3);
    assert!(b1.published_bytes >= b0.published_bytes + 12);
    assert!(b1.seq >= b0.seq + 3);
    assert!(b1.open_files >= 2);
    let st = s.stats().unwrap();
    assert_eq!((st.queued_events, st.subscriptions), (3, 1));
    for _ in 0..3 {
        next_event(&mut s);
    }
    let st = s.stats().unwrap();
    assert_eq!((st.queued_events, st.delivered, st.lost), (0, 3, 0));
    assert_eq!(p.stats().unwrap().published, 3);
}

/// Removes the policy's rules when dropped, so a failing test leaves the
/// bus as it found it.
struct PolicyReset<'a>(&'a Bus);
impl Drop for PolicyReset<'_> {
    fn drop(&mut self) {
        let _ = self.0.policy_clear(0);
    }
}

#[test]
fn policy_deny_rule_and_narrow() {
    need_device!();
    let t = uniq("pol");
    let owner = open();
    let _reset = PolicyReset(&owner);
    let rule = owner
        .policy_add(&format!("{}.secret.>", t), Verdict::Deny, consts::RIGHT_PUBLISH, Who::All, 0)
        .unwrap();
    assert_eq!(owner.policy_summary().unwrap(), (1, 1));
    let p = open();
    assert_eq!(errno(p.publish(&format!("{}.secret.x", t), b"")), libc::EACCES);
    p.publish(&format!("{}.public", t), b"").unwrap();
    owner.policy_remove(rule, 0).unwrap();
    assert_eq!(errno(owner.policy_remove(rule, 0)), libc::ENOENT);
    p.publish(&format!("{}.secret.x", t), b"").unwrap();

    let n = open();
    n.narrow(&[&format!("{}.n.>", t)], &[], consts::SCOPE_KEEP_SUBSCRIBE).unwrap();
    n.publish(&format!("{}.n.ok", t), b"").unwrap();
    assert_eq!(errno(n.publish(&format!("{}.other", t), b"")), libc::EACCES);
}
