#!/usr/bin/python3
"""The README's ten-line subscriber: follow a pattern in asyncio, with lag."""
import asyncio
import sys

import evbus


async def main(pattern):
    bus = evbus.Bus()  # $EVBUS_FD if set, else /dev/evbus
    bus.subscribe(pattern)
    rx = bus.aio()
    while True:
        try:
            ev = await rx.recv()
            print(ev.seq, ev.topic, ev.payload.decode(errors="replace"), flush=True)
        except evbus.Lagged as lag:
            print(f"lost {lag.lost} events: seq {lag.first_seq}..={lag.last_seq}",
                  file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "app.>"))
