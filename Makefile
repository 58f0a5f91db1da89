# SPDX-License-Identifier: GPL-2.0
#
# evbus: kernel module, libevbus, the evbus command and the tests.
#
#   make                 module (for KDIR) + library + CLI + tests
#   make demo            a live cross-process session in the VM
#   make check           all of it, host tests, then the kselftests in a VM
#                        (KERNEL=6.12 or KERNEL=rt for the other kernels)
#   make check-debug     the suite on the KASAN/lockdep/kmemleak kernel
#   make bindings        the Rust crate and the Python package (bindings/)
#   make stress, stress-faults, fuzz, bench, bench-smoke, bench-syscalls,
#                        bench-scaling, bench-scaling-smoke   longer runs
#   make install / uninstall   PREFIX=/usr/local DESTDIR=
#   make deb, dkms-install, dkms-uninstall, check-packaging   (packaging/)
#   make KDIR=/path      build the module against another kernel tree
#   make W=1 / make C=2  extra warnings / sparse, forwarded to kbuild
#
# KDIR defaults to the running kernel's build tree when it exists, otherwise
# to the Debian headers of the kernel the test VM boots (installed on demand
# by tests/vm/deps).

SHELL := /bin/bash
.DEFAULT_GOAL := all

REPO := $(CURDIR)
B := $(REPO)/build
DEPS := $(REPO)/tests/vm/deps
KERNEL ?= default

HOST_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(origin KDIR),undefined)
ifneq ($(wildcard $(HOST_KDIR)/Makefile),)
KDIR := $(HOST_KDIR)
else
# Evaluated once, on first use, so targets that need no kernel stay fast.
KDIR = $(eval KDIR := $(shell $(DEPS) --kernel $(KERNEL) --print kdir))$(KDIR)
endif
endif
kver_of = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' $(1)/include/generated/utsrelease.h)

CC ?= gcc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
# The project's own uapi header, never /usr/include/linux/evbus.h.
CPPFLAGS_ALL := -I$(REPO)/uapi -I$(REPO)/userlib -D_GNU_SOURCE
KSFT := $(B)/kselftest

LIB_MAJOR := 1
LIB_VERSION := 1.9.0
LIB_SO := $(B)/lib/libevbus.so.$(LIB_VERSION)
LIB_A := $(B)/lib/libevbus.a
CLI := $(B)/bin/evbus

KSFT_TESTS := $(patsubst tests/kselftest/%.c,$(B)/ksft/%,$(wildcard tests/kselftest/*.c))
HOST_TESTS := $(B)/tests/topic_test $(B)/tests/topic_fuzz_sa $(B)/tests/vectors_test

.PHONY: all module lib cli tests deps kselftest-headers check check-host lint \
	debug-kernel check-debug demo bench-syscalls lib-tests install uninstall vm-smoke \
	clean help

all: module lib cli tests

help:
	@sed -n '3,20p' Makefile

deps:
	@$(DEPS) --kernel $(KERNEL)

# --- the module --------------------------------------------------------------
# Sources are linked into build/<release>/ so each kernel gets its own objects.
module:
	@kdir='$(KDIR)'; [ -n "$$kdir" ] || exit 1; \
	kver='$(call kver_of,$(KDIR))'; \
	out=$(B)/$$kver; mkdir -p "$$out/module"; \
	ln -sfn $(REPO)/Kbuild "$$out/Kbuild"; ln -sfn $(REPO)/uapi "$$out/uapi"; \
	for f in $(REPO)/module/*.[ch]; do ln -sfn "$$f" "$$out/module/"; done; \
	find -L "$$out/module" -maxdepth 1 -type l -exec rm -f {} +; \
	$(MAKE) --no-print-directory -C "$$kdir" M="$$out" modules && \
	if [ "$$kdir" = '$(HOST_KDIR)' ] || [ "$(origin KDIR)" != "command line" ]; then \
		cp "$$out/evbus.ko" $(REPO)/evbus.ko; fi

# --- userspace: libevbus and the evbus command (userlib/lib.mk) ------------
include userlib/lib.mk

# --- tests ---------------------------------------------------------------------
# The kernel's own kselftest headers, extracted from Debian's linux-source-6.1.
$(KSFT)/kselftest_harness.h:
	@$(DEPS) >/dev/null
	@mkdir -p $(KSFT)
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C $(KSFT) --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h
	touch $@
kselftest-headers: $(KSFT)/kselftest_harness.h

# kselftests are static so the guest needs nothing but the binary.
$(B)/ksft/%: tests/kselftest/%.c tests/kselftest/*.h uapi/linux/evbus.h $(KSFT)/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -I$(KSFT) -Itests/kselftest $(CFLAGS) -Wall -static -pthread $< -o $@

$(B)/tests/topic_test: tests/unit/topic_test.c module/topic.c module/topic.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Imodule $(CFLAGS) $(WARN) -Werror module/topic.c $< -o $@
# The vectors the bindings check too (tests/unit/vectors/, by mkvectors.py).
$(B)/tests/vectors_test: tests/unit/vectors_test.c module/topic.c module/topic.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Imodule $(CFLAGS) $(WARN) -Werror $< $(LIB_A) -o $@
$(B)/tests/topic_fuzz_sa: tests/fuzz/topic_fuzz.c tests/fuzz/topic_ref.h module/topic.c module/topic.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Imodule -O1 -g -fsanitize=address,undefined -DEVBUS_FUZZ_STANDALONE \
		module/topic.c $< -o $@
$(B)/tests/topic_fuzz: tests/fuzz/topic_fuzz.c tests/fuzz/topic_ref.h module/topic.c module/topic.h
	@mkdir -p $(@D)
	clang $(CPPFLAGS_ALL) -Imodule -O1 -g -fsanitize=fuzzer,address,undefined module/topic.c $< -o $@

tests: $(KSFT_TESTS) $(HOST_TESTS) lib-tests stress-build $(B)/ksft/stress_short bench-build bindings

# The language bindings (issue #18): each .mk builds its package and a
# wrapper, $(B)/ksft/bindings_<lang>, that runs its suite in the VM.
.PHONY: bindings
bindings: rust python
-include bindings/rust/rust.mk
-include bindings/python/python.mk

# Operations and the bridge (issues #19, #20): each .mk adds its VM tests
# (build/ksft/*) to OPS_TESTS and its own targets.
OPS_TESTS :=
-include packaging/packaging.mk
-include tests/prometheus/prometheus.mk
-include tests/record/record.mk
-include tests/bridge/bridge.mk
tests: $(OPS_TESTS)

include tests/stress/stress.mk
include tests/fuzz/fuzz.mk
include tests/bench/bench.mk

# --- checks --------------------------------------------------------------------
# Warnings are errors here: W=1 and sparse over the module, -Wextra over the rest.
lint:
	@$(DEPS) >/dev/null
	@rm -rf $(B)/lint; log=$(B)/lint.log; \
	$(MAKE) --no-print-directory module W=1 C=2 KDIR='$(KDIR)' >$$log 2>&1 || { cat $$log; exit 1; }; \
	if grep -E 'warning:|error:' $$log; then echo "lint: warnings in the module build (W=1 C=2)"; exit 1; fi; \
	echo "lint: module clean with W=1 and sparse (C=2)"

check-host: $(HOST_TESTS) $(LIB_SO) $(LIB_A)
	tests/vm/scan-log-test
	tests/lib/check-lib.sh $(LIB_SO) $(LIB_A) userlib/libevbus.map
	$(B)/tests/topic_test
	$(B)/tests/vectors_test tests/unit/vectors
	$(B)/tests/topic_fuzz_sa 200000

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory check-host
	tests/vm/run --kernel $(KERNEL) -- tests/run-kselftests $(B)/ksft

# The debug kernel (KASAN, lockdep, kmemleak, UBSAN, ...), cached in
# ~/.cache/evbus; the whole suite, then a kmemleak scan, in one boot.
debug-kernel:
	tests/vm/debug-kernel

# DEBUG_EXCLUDE="lib_cli ..." leaves suites out of the debug run.
DEBUG_EXCLUDE ?=

check-debug: debug-kernel
	@$(MAKE) --no-print-directory all
	tests/vm/run --debug --timeout 3000 --append "panic_on_warn=1" -- \
		/bin/sh -c 'EVBUS_SLOW=10 EVBUS_EXCLUDE="$(DEBUG_EXCLUDE)" tests/run-kselftests $(B)/ksft; rc=$$?; \
			tests/kmemleak-check || rc=1; exit $$rc'

# The README's first command: a real cross-process session in the VM.
demo: deps
	@$(MAKE) --no-print-directory module lib cli
	tests/vm/run --kernel $(KERNEL) -- tests/demo/demo.sh

# Syscalls per published event for ioctl, batch ioctl and io_uring (strace -c).
bench-syscalls: deps
	@$(MAKE) --no-print-directory module lib-tests
	tests/vm/run --kernel $(KERNEL) -- tests/bench/syscalls.sh $(B)/examples/pub_bench

vm-smoke: module
	tests/vm/run --kernel $(KERNEL) -- /bin/sh -c 'grep evbus /proc/modules && ls -l /dev/evbus'

clean:
	rm -rf $(B) evbus.ko
