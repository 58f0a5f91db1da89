"""The examples: signals.py's Blinker shim and aegis_loop.py (its loop and
its bench mode, as `make bench` runs it)."""
import asyncio
import logging
import os
import signal as _signal
import subprocess
import sys

import pytest

from conftest import PKG_ROOT, require_device
import evbus

EXAMPLES = os.path.join(PKG_ROOT, "examples")
sys.path.insert(0, EXAMPLES)
import aegis_loop  # noqa: E402
import signals  # noqa: E402


def test_signals_connect_send_dispatch(mkbus, topic):
    ns = signals.Namespace(mkbus())
    done = ns.signal(f"{topic}.job.done")
    wild = ns.signal(f"{topic}.job.*")
    calls = []

    @done.connect
    def on_done(sender, **kw):
        calls.append(("done", sender, kw["job"], kw["ok"]))

    @wild.connect
    def on_any(sender, **kw):
        calls.append(("any", sender, kw["signal"]))

    @done.connect(sender="only-me")
    def on_mine(sender, **kw):
        calls.append(("mine", sender))

    seq = done.send("worker-1", job=42, ok=True)
    ns.signal(f"{topic}.job.started").send("worker-2", job=43, ok=None)
    ns.signal(f"{topic}.other").send("x")      # nobody connected
    done.send("only-me", job=1, ok=False)
    assert ns.dispatch(timeout=2) == 3
    assert calls == [
        ("done", "worker-1", 42, True), ("any", "worker-1",
                                         f"{topic}.job.done"),
        ("any", "worker-2", f"{topic}.job.started"),
        ("done", "only-me", 1, False), ("mine", "only-me"),
        ("any", "only-me", f"{topic}.job.done"),
    ]
    assert seq > 0
    with pytest.raises(OSError):
        ns.signal("bad..name")


def test_signals_async_dispatch(mkbus, topic):
    ns = signals.Namespace(mkbus())
    got = []
    ns.signal(f"{topic}.ping").connect(lambda s, **kw: got.append(kw["n"]))

    async def main():
        task = asyncio.create_task(ns.run_async())
        for i in range(3):
            ns.signal(f"{topic}.ping").send("me", n=i)
        for _ in range(100):
            if len(got) == 3:
                break
            await asyncio.sleep(0.02)
        task.cancel()
    asyncio.run(main())
    assert got == [0, 1, 2]


def test_aegis_loop_dispatch(mkbus, caplog):
    b = mkbus()
    b.subscribe("aegis.>")
    b.publish("aegis.task.started", b"build", corr=5)
    b.publish("aegis.task.completed", b"", corr=5)
    b.publish("aegis.task.failed", b"disk full", corr=6)
    b.publish("aegis.unknown.topic", b"zzz")
    b.publish("aegis.shutdown")
    with caplog.at_level(logging.DEBUG, logger="aegis"):
        asyncio.run(asyncio.wait_for(aegis_loop.aegis_loop(b.aio()), 5))
    text = caplog.text
    assert "task 5 started: build" in text
    assert "task 5 completed" in text and "task 6 failed: disk full" in text
    assert "ignored aegis.unknown.topic (3 bytes)" in text
    assert "shutdown requested by pid %d" % os.getpid() in text


def run_bench(topic, n, ring, payload=b"0123456789", stop=False,
              extra=()):
    require_device()
    p = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, "aegis_loop.py"), "--bench",
         str(n), "--pattern", f"{topic}.>", "--ring", str(ring), *extra],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    try:
        assert p.stdout.readline() == "ready\n"
        if stop:                    # it cannot keep up: it loses events
            os.kill(p.pid, _signal.SIGSTOP)
        with evbus.Bus() as pub:
            for i in range(n):
                pub.publish(f"{topic}.ev{i % 3}", payload)
        if stop:
            os.kill(p.pid, _signal.SIGCONT)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    lines = out.splitlines()
    assert len(lines) == 1, out
    kv = dict(f.split("=") for f in lines[0].split())
    assert list(kv) == ["delivered", "lost", "bytes"]
    return {k: int(v) for k, v in kv.items()}


def test_aegis_bench_mode(topic):
    r = run_bench(topic, 2000, 1 << 20)
    assert r == {"delivered": 2000, "lost": 0, "bytes": 20000}


def test_aegis_bench_mode_counts_losses(topic):
    r = run_bench(topic, 3000, 4096, payload=b"x" * 100, stop=True)
    assert r["delivered"] + r["lost"] == 3000
    assert r["lost"] >= 3000 - 4096 // (80 + 16 + 104)
    assert r["bytes"] == 100 * r["delivered"]


def test_aegis_bench_mode_lossless(topic):
    # A lossless ring of 4 KiB (what make bench passes): the publisher, of
    # the reader's euid, waits for room whenever the ring is full, so
    # nothing is lost although 400 events are 14 times the ring.
    r = run_bench(topic, 400, 4096, payload=b"z" * 64,
                  extra=("--lossless", "3000"))
    assert r == {"delivered": 400, "lost": 0, "bytes": 400 * 64}


def test_readme_subscriber(topic):
    """examples/subscriber.py, the README's ten lines, prints each event."""
    require_device()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [
                   PKG_ROOT, os.environ.get("PYTHONPATH")])))
    p = subprocess.Popen(
        [sys.executable, "-c",
         "import runpy, sys, evbus; b = evbus.Bus; "
         # say when subscribed, so nothing is published before
         "orig = b.subscribe\n"
         "def sub(self, *a, **k):\n"
         "    r = orig(self, *a, **k); print('ready', flush=True); return r\n"
         "b.subscribe = sub\n"
         f"sys.argv = ['subscriber.py', '{topic}.>']\n"
         f"runpy.run_path({os.path.join(EXAMPLES, 'subscriber.py')!r}, run_name='__main__')"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline() == "ready\n"
        with evbus.Bus() as pub:
            seqs = [pub.publish(f"{topic}.n{i}", f"hello {i}".encode())
                    for i in range(3)]
        lines = [p.stdout.readline() for _ in range(3)]
    finally:
        p.kill()
        p.wait()
    assert lines == [f"{s} {topic}.n{i} hello {i}\n" for i, s in enumerate(seqs)]
