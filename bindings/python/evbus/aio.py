"""asyncio support, without threads.

    rx = evbus.Bus().aio()          # or evbus.aio.AsyncBus(bus)
    rx.subscribe("jobs.>")          # every Bus method is reachable here
    event = await rx.recv()         # Lagged is raised as by Bus.recv()
    async for event in rx: ...      # Lagged propagates out of __anext__;
                                    # a new `async for` resumes after the gap
    async for rec in rx.records(): ...  # every record kind, lag included

Waiting is loop.add_reader() on the (non-blocking) descriptor with a
Future; records are then taken with evbus_read(timeout 0), which reads a
whole buffer per read() and hands records out one at a time.  Use
asyncio.wait_for() for timeouts."""
from __future__ import annotations

import asyncio

from .bus import Bus
from .records import Event, Lagged, LaggedRecord

__all__ = ["AsyncBus"]


class AsyncBus:
    def __init__(self, bus: Bus):
        self.bus = bus

    def __getattr__(self, name):
        return getattr(self.bus, name)

    async def _readable(self):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fd = self.bus.fileno()

        def ready():
            if not fut.done():
                fut.set_result(None)
        loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            loop.remove_reader(fd)

    async def recv_record(self):
        """The next record of any kind (Event, LaggedRecord, Request...)."""
        while True:
            r = self.bus._read(0)
            if r is not None:
                return r
            await self._readable()

    async def recv(self) -> Event:
        """The next event; a loss raises Lagged (the next call continues
        after the gap); other record kinds are skipped."""
        while True:
            r = self.bus._read(0)
            if r is None:
                await self._readable()
                continue
            if type(r) is Event:
                return r
            if type(r) is LaggedRecord:
                raise Lagged.from_record(r)

    def __aiter__(self):
        return self

    async def __anext__(self) -> Event:
        return await self.recv()

    async def records(self):
        while True:
            yield await self.recv_record()

    def close(self):
        self.bus.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.bus.close()
