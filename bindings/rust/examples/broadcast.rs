//! tokio::sync::broadcast, but across processes: one publisher task and
//! two subscribers on /dev/evbus.  The slow subscriber has the smallest
//! ring and sleeps per event, so it lags; like broadcast's
//! `RecvError::Lagged(n)`, it learns how many events it lost, and here the
//! exact seq range too, then carries on.
//!
//!   cargo run --features tokio --example broadcast [EVENTS]
use std::time::Duration;

use evbus::{AsyncBus, Bus, Policy, RecvError};

async fn subscriber(name: &'static str, mut rx: AsyncBus, slow: bool) -> (u64, u64) {
    let (mut got, mut lost_total) = (0u64, 0u64);
    loop {
        match rx.recv().await {
            Ok(ev) if ev.topic == "demo.broadcast.done" => break,
            Ok(ev) => {
                got += 1;
                if slow {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                if got % 1000 == 0 {
                    println!("{name}: seq {} payload {} bytes", ev.seq, ev.payload.len());
                }
            }
            Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
                println!("{name}: lagged, lost {lost} (seq {first_seq}..={last_seq})");
                lost_total += lost;
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                break;
            }
        }
    }
    (got, lost_total)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);

    let fast = Bus::open()?;
    fast.subscribe("demo.broadcast.>")?;
    let mut slow = Bus::open()?;
    slow.set_ring(4096, Policy::DropOldest)?;
    slow.subscribe("demo.broadcast.>")?;
    let fast = tokio::spawn(subscriber("fast", AsyncBus::new(fast)?, false));
    let slow = tokio::spawn(subscriber("slow", AsyncBus::new(slow)?, true));

    let publisher = tokio::spawn(async move {
        let tx = Bus::open()?;
        let payload = [0x5au8; 64];
        for i in 0..n {
            tx.publish("demo.broadcast.tick", &payload)?;
            if i % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
        tx.publish("demo.broadcast.done", b"")?;
        Ok::<_, std::io::Error>(())
    });
    publisher.await.expect("publisher panicked")?;
    let (fg, fl) = fast.await.expect("fast panicked");
    let (sg, sl) = slow.await.expect("slow panicked");
    println!("fast: received {fg}, lost {fl}");
    println!("slow: received {sg}, lost {sl}");
    println!("(received + lost = {} and {} of {n})", fg + fl, sg + sl);
    Ok(())
}
