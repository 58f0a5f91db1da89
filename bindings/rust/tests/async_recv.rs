//! AsyncBus and its Stream under tokio (feature `tokio`), on the device.
#![cfg(feature = "tokio")]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use evbus::{AsyncBus, Bus, EventStream, Policy, RecvError};
use futures_core::Stream;

/// `StreamExt::next` without futures-util.
struct Next<'a>(&'a mut EventStream);
impl Future for Next<'_> {
    type Output = Option<<EventStream as Stream>::Item>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.0).poll_next(cx)
    }
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

#[tokio::test]
async fn async_recv_roundtrip() {
    need_device!();
    let t = uniq("async.rt");
    let mut rx = AsyncBus::new(sub(&t)).unwrap();
    let seq = rx.bus().publish(&t, b"self").unwrap();
    let ev = within(rx.recv()).await.unwrap();
    assert_eq!((ev.seq, ev.payload.as_slice()), (seq, &b"self"[..]));
}

#[tokio::test]
async fn async_recv_waits_for_a_later_publish() {
    need_device!();
    let t = uniq("async.later");
    let mut rx = AsyncBus::new(sub(&t)).unwrap();
    let t2 = t.clone();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        open().publish(&t2, b"later").unwrap()
    });
    let ev = within(rx.recv()).await.unwrap();
    assert_eq!(ev.seq, h.join().unwrap());
    // And the next one after the readiness was cleared.
    let seq = open().publish(&t, b"again").unwrap();
    assert_eq!(within(rx.recv()).await.unwrap().seq, seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_recv_reports_lag_then_goes_on() {
    need_device!();
    let topic = "alag.xy";
    let mut b = Bus::open().unwrap();
    b.set_ring(4096, Policy::DropNewest).unwrap();
    b.subscribe(topic).unwrap();
    let mut rx = AsyncBus::new(b).unwrap();
    let p = open();
    let seqs: Vec<u64> = (0..18).map(|_| p.publish(topic, &[0u8; 168]).unwrap()).collect();
    for seq in &seqs[..16] {
        assert_eq!(within(rx.recv()).await.unwrap().seq, *seq);
    }
    match within(rx.recv()).await {
        Err(RecvError::Lagged { lost, first_seq, last_seq, history }) => {
            assert_eq!((lost, first_seq, last_seq, history), (2, seqs[16], seqs[17], false))
        }
        other => panic!("{:?}", other),
    }
    let seq = p.publish(topic, b"after").unwrap();
    assert_eq!(within(rx.recv()).await.unwrap().seq, seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_recv_ref_borrows_waits_and_reports_lag() {
    need_device!();
    let topic = "alrf.xy";
    let mut b = Bus::open().unwrap();
    b.set_ring(4096, Policy::DropNewest).unwrap();
    b.subscribe(topic).unwrap();
    let mut rx = AsyncBus::new(b).unwrap();
    let p = open();
    let seqs: Vec<u64> = (0..18).map(|_| p.publish(topic, &[9u8; 168]).unwrap()).collect();
    for seq in &seqs[..16] {
        let r = within(rx.recv_ref()).await.unwrap();
        assert_eq!((r.seq, r.topic, r.payload), (*seq, topic, &[9u8; 168][..]));
    }
    match within(rx.recv_ref()).await {
        Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
            assert_eq!((lost, first_seq, last_seq), (2, seqs[16], seqs[17]))
        }
        other => panic!("{:?}", other),
    }
    // Empty now: recv_ref waits for a publish from another thread.
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        open().publish(topic, b"later").unwrap()
    });
    let r = within(rx.recv_ref()).await.unwrap();
    assert_eq!((r.seq, r.payload), (h.join().unwrap(), &b"later"[..]));
}

#[tokio::test]
async fn stream_yields_events_in_order() {
    need_device!();
    let t = uniq("async.stream");
    let rx = AsyncBus::new(sub(&t)).unwrap();
    let mut stream = rx.stream();
    let p = open();
    let seqs: Vec<u64> = (0..5u8).map(|i| p.publish(&t, &[i]).unwrap()).collect();
    for (i, seq) in seqs.iter().enumerate() {
        let ev = within(Next(&mut stream)).await.expect("stream ended").unwrap();
        assert_eq!((ev.seq, ev.payload), (*seq, vec![i as u8]));
    }
    // Nothing more: the stream is pending, not ended.
    assert!(tokio::time::timeout(Duration::from_millis(50), Next(&mut stream)).await.is_err());
    let seq = stream.bus().publish(&t, b"more").unwrap();
    assert_eq!(within(Next(&mut stream)).await.unwrap().unwrap().seq, seq);
}

#[tokio::test]
async fn two_async_subscribers_each_get_everything() {
    need_device!();
    let t = uniq("async.fan");
    let mut a = AsyncBus::new(sub(&t)).unwrap();
    let mut b = AsyncBus::new(sub(&t)).unwrap();
    let pubtask = {
        let t = t.clone();
        tokio::spawn(async move {
            let p = open();
            (0..100u32).map(|i| p.publish(&t, &i.to_le_bytes()).unwrap()).collect::<Vec<_>>()
        })
    };
    let mut ga = Vec::new();
    let mut gb = Vec::new();
    while ga.len() < 100 {
        ga.push(within(a.recv()).await.unwrap().seq);
    }
    while gb.len() < 100 {
        gb.push(within(b.recv()).await.unwrap().seq);
    }
    let seqs = pubtask.await.unwrap();
    assert_eq!(ga, seqs);
    assert_eq!(gb, seqs);
    let _bus: Bus = a.into_inner();
}
