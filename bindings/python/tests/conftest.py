"""Shared fixtures.  The device tests need /dev/evbus (the test VM): when
it is missing they FAIL, unless EVBUS_SKIP_NO_DEVICE=1 makes them skip."""
import itertools
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)                 # bindings/python
REPO = os.path.dirname(os.path.dirname(PKG_ROOT))
sys.path.insert(0, PKG_ROOT)
sys.dont_write_bytecode = True

import evbus  # noqa: E402

DEVICE = "/dev/evbus"
_count = itertools.count()


def require_device():
    if os.path.exists(DEVICE):
        return
    if os.environ.get("EVBUS_SKIP_NO_DEVICE") == "1":
        pytest.skip("no /dev/evbus (EVBUS_SKIP_NO_DEVICE=1)")
    pytest.fail(f"{DEVICE} does not exist: run in the VM "
                "(or set EVBUS_SKIP_NO_DEVICE=1)")


@pytest.fixture
def mkbus():
    """mkbus(**kw) opens a Bus (failing the test without the device);
    every bus is closed at teardown."""
    opened = []

    def make(*a, **kw):
        require_device()
        b = evbus.Bus.open(*a, **kw)
        opened.append(b)
        return b
    yield make
    for b in opened:
        b.close()


@pytest.fixture
def topic():
    """A prefix of topics no other test uses: t<pid>x<n>."""
    return f"t{os.getpid()}x{next(_count)}"


@pytest.fixture
def scratch():
    """A writable directory (the VM's host root is read-only)."""
    import tempfile
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=base) as d:
        yield d
