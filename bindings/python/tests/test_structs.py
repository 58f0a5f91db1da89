"""ctypes struct layouts against the C compiler's."""
import ctypes
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from evbus import _lib as L

C_SRC = r"""
#include <stdio.h>
#include <stddef.h>
#include <linux/filter.h>
#include "evbus.h"
#define S(T) printf("size %s %zu\n", #T, sizeof(struct T));
#define O(T, F) printf("off %s.%s %zu\n", #T, #F, offsetof(struct T, F));
int main(void)
{
@@BODY@@
	return 0;
}
"""

OFFSETS = {
    "evbus_event": ["seq", "pid", "type", "flags", "corr", "parent"],
    "evbus_pub": ["topic_len", "seq", "deadline_ns", "reserved"],
    "evbus_sub_opts": ["filter", "filter_len", "since", "last"],
    "evbus_record": ["hdr", "topic", "topic_len", "payload_len"],
    "evbus_bus_stats": ["policy_default", "approval_asked",
                        "lossless_foreign"],
    "evbus_rate": ["limit", "user", "refused", "waited"],
    "evbus_request": ["approver_id", "id", "deadline_ns"],
    "evbus_rec_iter": ["rec", "reserved"],
    "evbus_opts": ["path", "flags", "read_buf"],
    "evbus_history": ["next_seq", "retained_bytes"],
    "evbus_version": ["features", "ring_max", "reserved"],
}


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "no C compiler to check struct layouts against"
    d = tmp_path_factory.mktemp("layout")
    body = "".join(f"\tS({n})\n" for n in L.SIZES)
    body += "".join(f"\tO({s}, {f})\n" for s, fs in OFFSETS.items()
                    for f in fs)
    src = d / "layout.c"
    src.write_text(C_SRC.replace("@@BODY@@", body))
    exe = d / "layout"
    subprocess.run([gcc, "-I", os.path.join(REPO, "uapi"), "-I",
                    os.path.join(REPO, "userlib"), str(src), "-o", str(exe)],
                   check=True)
    out = {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        _, k, v = line.split()
        out[k] = int(v)
    return out


@pytest.mark.parametrize("name", sorted(L.SIZES))
def test_struct_size(name, c_layout):
    assert ctypes.sizeof(getattr(L, name)) == c_layout[name] == L.SIZES[name]


@pytest.mark.parametrize("name", sorted(OFFSETS))
def test_struct_offsets(name, c_layout):
    st = getattr(L, name)
    for f in OFFSETS[name]:
        assert getattr(st, f).offset == c_layout[f"{name}.{f}"], f
