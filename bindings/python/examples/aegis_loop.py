#!/usr/bin/python3
"""The AEGIS subscriber loop on evbus, in asyncio.

    aegis_loop.py [--pattern P]            follow aegis.> and dispatch
    aegis_loop.py --bench N [--pattern P] [--ring BYTES] [--lossless MS]

Bench mode (used by `make bench`; tests/bench/aegis_loop.c, with the same
contract, is the baseline): open, set the ring (default 1 MiB,
drop-oldest, or lossless with a wait of MS ms), subscribe
P (default "bench.>"), print "ready", then receive until delivered + lost
>= N, doing the normal loop's work per event (match on the topic, sum the
payload lengths), and print one line "delivered=D lost=L bytes=B"."""
import argparse
import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import evbus  # noqa: E402

log = logging.getLogger("aegis")


async def aegis_loop(rx) -> None:
    """The loop AEGIS runs: every event through one match statement."""
    running = {}
    while True:
        try:
            event = await rx.recv()
        except evbus.Lagged as lag:
            log.warning("lagged: lost %d events (seq %d..%d)", lag.lost,
                        lag.first_seq, lag.last_seq)
            continue
        match event.topic:
            case "aegis.task.started":
                running[event.corr] = event.mono_ns
                log.info("task %d started: %s", event.corr,
                         event.payload.decode(errors="replace"))
            case "aegis.task.completed":
                began = running.pop(event.corr, None)
                took = ((event.mono_ns - began) / 1e6 if began is not None
                        else float("nan"))
                log.info("task %d completed in %.3f ms", event.corr, took)
            case "aegis.task.failed":
                running.pop(event.corr, None)
                log.error("task %d failed: %s", event.corr,
                          event.payload.decode(errors="replace"))
            case "aegis.shutdown":
                log.info("shutdown requested by pid %d", event.pid)
                return
            case other:
                log.debug("ignored %s (%d bytes)", other, len(event.payload))


async def bench(n: int, pattern: str, ring: int, lossless_ms: int = 0) -> str:
    bus = evbus.Bus()
    if lossless_ms:
        bus.set_ring_lossless(ring, lossless_ms * 1_000_000)
    else:
        bus.set_ring(ring, evbus.POLICY_DROP_OLDEST)
    bus.subscribe(pattern)
    rx = bus.aio()
    print("ready", flush=True)
    delivered = lost = nbytes = 0
    started = completed = other = 0
    while delivered + lost < n:
        try:
            event = await rx.recv()
        except evbus.Lagged as lag:
            lost += lag.lost
            continue
        delivered += 1
        nbytes += len(event.payload)
        match event.topic:              # the same work as the loop's
            case "aegis.task.started":
                started += 1
            case "aegis.task.completed":
                completed += 1
            case _:
                other += 1
    bus.close()
    return f"delivered={delivered} lost={lost} bytes={nbytes}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=int, metavar="N")
    ap.add_argument("--pattern")
    ap.add_argument("--ring", type=int, default=1 << 20, metavar="BYTES")
    ap.add_argument("--lossless", type=int, default=0, metavar="MS")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.bench is not None:
        print(asyncio.run(bench(a.bench, a.pattern or "bench.>", a.ring,
                                  a.lossless)),
              flush=True)
        return 0
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    bus = evbus.Bus()
    bus.subscribe(a.pattern or "aegis.>")
    try:
        asyncio.run(aegis_loop(bus.aio()))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
