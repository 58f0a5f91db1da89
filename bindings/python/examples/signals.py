#!/usr/bin/python3
"""Blinker-style signals over evbus.

Atlas uses Blinker: `sig = namespace.signal("name")`, handlers connected
with `@sig.connect` and called as handler(sender, **kwargs).  This shim
keeps that shape but crosses processes: send() publishes the kwargs as
JSON on the signal's topic, and a dispatcher (sync: dispatch() /
run_forever(); asyncio: run_async()) calls the connected handlers of the
events it receives.  A signal name may be a pattern ("atlas.job.*",
"atlas.>"): its handlers receive every matching signal (evbus.matches()).

    bus_signals = Namespace()
    done = bus_signals.signal("atlas.job.done")

    @done.connect
    def on_done(sender, **kw):
        print(sender, kw)

    done.send("worker-1", job=42, ok=True)
    bus_signals.dispatch(timeout=1)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import evbus  # noqa: E402


class Signal:
    def __init__(self, namespace, name):
        self.namespace = namespace
        self.name = name
        self.receivers = []
        self._sub = None

    def connect(self, fn=None, *, sender=None):
        """@sig.connect, or @sig.connect(sender="x") for one sender only."""
        def add(f):
            self.receivers.append((f, sender))
            if self._sub is None:
                self._sub = self.namespace.bus.subscribe(self.name)
            return f
        return add(fn) if fn is not None else add

    def disconnect(self, fn):
        self.receivers = [(f, s) for f, s in self.receivers if f is not fn]
        if not self.receivers and self._sub is not None:
            self.namespace.bus.unsubscribe(self._sub)
            self._sub = None

    def send(self, sender=None, **kwargs) -> int:
        """Publish; returns the event's seq.  Handlers run in whichever
        processes dispatch it (this one too if it is connected)."""
        body = json.dumps({"sender": sender, "kwargs": kwargs}).encode()
        return self.namespace.bus.publish(self.name, body)

    def _deliver(self, event, sender, kwargs):
        out = []
        for fn, only in list(self.receivers):
            if only is None or only == sender:
                out.append((fn, fn(sender, **kwargs)))
        return out


class Namespace:
    def __init__(self, bus=None):
        self.bus = bus or evbus.Bus()
        self.signals = {}

    def signal(self, name) -> Signal:
        evbus.check_pattern(name)
        if name not in self.signals:
            self.signals[name] = Signal(self, name)
        return self.signals[name]

    def _handle(self, event):
        try:
            msg = json.loads(event.payload)
            sender, kwargs = msg.get("sender"), dict(msg.get("kwargs", {}))
        except (ValueError, AttributeError):
            return []
        kwargs.setdefault("signal", event.topic)
        kwargs.setdefault("seq", event.seq)
        results = []
        for name, sig in list(self.signals.items()):
            if evbus.matches(name, event.topic):
                for fn, r in sig._deliver(event, sender, kwargs):
                    results.append((fn, r))
        return results

    def dispatch(self, timeout=0.0) -> int:
        """Run handlers for the events queued now (waiting up to timeout
        for the first); returns how many events were dispatched.  A
        receiver subscribed by several signals gets an event once (the
        handle delivers each event once)."""
        n = 0
        while True:
            try:
                ev = self.bus.recv(timeout=timeout if n == 0 else 0)
            except (TimeoutError, BlockingIOError):
                return n
            except evbus.Lagged:
                continue
            self._handle(ev)
            n += 1

    def run_forever(self):
        while True:
            try:
                self._handle(self.bus.recv())
            except evbus.Lagged:
                pass

    async def run_async(self):
        rx = self.bus.aio()
        while True:
            try:
                self._handle(await rx.recv())
            except evbus.Lagged:
                pass


def demo():
    bus_signals = Namespace()
    job_done = bus_signals.signal("atlas.job.done")
    anything = bus_signals.signal("atlas.>")

    @job_done.connect
    def on_done(sender, **kw):
        print(f"job.done from {sender}: job={kw['job']} ok={kw['ok']}")

    @anything.connect
    def audit(sender, **kw):
        print(f"audit: {kw['signal']} from {sender}")

    job_done.send("worker-1", job=42, ok=True)
    bus_signals.signal("atlas.job.started").send("worker-2", job=43, ok=None)
    bus_signals.dispatch(timeout=1)


if __name__ == "__main__":
    demo()
