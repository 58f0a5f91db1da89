//! The AEGIS subscriber loop on evbus:
//!
//! ```text
//! while let Ok(event) = rx.recv().await { match event { ... } }
//! ```
//!
//! but with losses handled: a `RecvError::Lagged` says exactly which seqs
//! were lost, and the loop goes on.
//!
//! Modes:
//!   aegis_loop                       subscribe "aegis.>" and print events
//!   aegis_loop --bench N [--pattern P] [--ring BYTES] [--lossless MS] [--borrow]
//!       benchmark consumer (tests/bench/aegis_loop.c is the C baseline):
//!       open, set the ring (default 1 MiB, drop-oldest; with --lossless a
//!       lossless ring whose publishers wait up to MS ms), subscribe P (default "bench.>"), print `ready`,
//!       receive until delivered + lost >= N doing the same match work per
//!       event, then print `delivered=D lost=L bytes=B` and exit 0.
//!       With --borrow it receives with `recv_ref()`, which borrows each
//!       event from the read buffer instead of allocating an owned one.
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use evbus::{AsyncBus, Bus, EventRef, Policy, RecvError};

#[derive(Default)]
struct Tally {
    started: u64,
    completed: u64,
    failed: u64,
    other: u64,
    bytes: u64,
}

/// The per-event work: dispatch on the topic, as the AEGIS loop does.
fn dispatch(t: &mut Tally, event: &EventRef<'_>, verbose: bool) {
    match event.topic {
        "aegis.task.started" => {
            t.started += 1;
            if verbose {
                println!("task started: seq {} corr {}", event.seq, event.corr);
            }
        }
        "aegis.task.completed" => {
            t.completed += 1;
            if verbose {
                println!("task completed: seq {} parent {}", event.seq, event.parent);
            }
        }
        topic if topic.starts_with("aegis.task.failed") => {
            t.failed += 1;
            if verbose {
                println!("task failed: {} ({} bytes)", topic, event.payload.len());
            }
        }
        topic => {
            t.other += 1;
            if verbose {
                println!("{}: seq {} {} bytes", topic, event.seq, event.payload.len());
            }
        }
    }
    t.bytes += event.payload.len() as u64;
}

struct Args {
    bench: Option<u64>,
    pattern: String,
    ring: u32,
    lossless_ms: u64,
    borrow: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { bench: None, pattern: String::new(), ring: 1 << 20, lossless_ms: 0, borrow: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => a.bench = Some(val("--bench")?.parse().map_err(|e| format!("--bench: {e}"))?),
            "--pattern" => a.pattern = val("--pattern")?,
            "--ring" => a.ring = val("--ring")?.parse().map_err(|e| format!("--ring: {e}"))?,
            "--lossless" => {
                a.lossless_ms = val("--lossless")?.parse().map_err(|e| format!("--lossless: {e}"))?
            }
            "--borrow" => a.borrow = true,
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if a.pattern.is_empty() {
        a.pattern = if a.bench.is_some() { "bench.>" } else { "aegis.>" }.to_string();
    }
    Ok(a)
}

async fn run(args: Args) -> std::io::Result<()> {
    let mut bus = Bus::open()?;
    if args.lossless_ms > 0 {
        bus.set_ring_lossless(args.ring, Duration::from_millis(args.lossless_ms))?;
    } else {
        bus.set_ring(args.ring, Policy::DropOldest)?;
    }
    bus.subscribe(&args.pattern)?;
    let mut rx = AsyncBus::new(bus)?;
    let mut t = Tally::default();

    if let Some(n) = args.bench {
        let (mut delivered, mut lost) = (0u64, 0u64);
        let mut out = std::io::stdout();
        writeln!(out, "ready")?;
        out.flush()?;
        while delivered + lost < n {
            let got = if args.borrow {
                rx.recv_ref().await.map(|event| dispatch(&mut t, &event, false))
            } else {
                rx.recv().await.map(|event| dispatch(&mut t, &event.as_event_ref(), false))
            };
            match got {
                Ok(()) => delivered += 1,
                Err(RecvError::Lagged { lost: l, .. }) => lost += l,
                Err(e) => return Err(e.into()),
            }
        }
        writeln!(out, "delivered={} lost={} bytes={}", delivered, lost, t.bytes)?;
        return out.flush();
    }

    loop {
        match rx.recv().await {
            Ok(event) => dispatch(&mut t, &event.as_event_ref(), true),
            Err(RecvError::Lagged { lost, first_seq, last_seq, .. }) => {
                eprintln!("lagged: lost {lost} events, seq {first_seq}..={last_seq}");
                continue;
            }
            Err(e) => {
                eprintln!("aegis_loop: {e}");
                break;
            }
        }
    }
    println!(
        "started={} completed={} failed={} other={} bytes={}",
        t.started, t.completed, t.failed, t.other, t.bytes
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("aegis_loop: {e}\nusage: aegis_loop [--bench N] [--pattern P] [--ring BYTES] [--lossless MS] [--borrow]");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aegis_loop: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aegis_loop: {e}");
            ExitCode::FAILURE
        }
    }
}
