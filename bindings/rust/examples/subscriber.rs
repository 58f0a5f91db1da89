//! The README's ten-line subscriber: follow a pattern under tokio, with lag.
use evbus::{AsyncBus, Bus, RecvError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let bus = Bus::open()?; // $EVBUS_FD if set, else /dev/evbus
    bus.subscribe(&std::env::args().nth(1).unwrap_or_else(|| "app.>".into()))?;
    let mut rx = AsyncBus::new(bus)?;
    loop {
        match rx.recv().await {
            Ok(ev) => println!("{} {} {}", ev.seq, ev.topic, String::from_utf8_lossy(&ev.payload)),
            Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
                eprintln!("lost {} events: seq {}..={}", lost, first_seq, last_seq)
            }
            Err(e) => return Err(e.into()),
        }
    }
}
