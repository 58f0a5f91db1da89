# SPDX-License-Identifier: GPL-2.0
# Benchmarks (issue #8).  Included from the top Makefile, which defines
# B, REPO, CC, CFLAGS and KERNEL.
#
#   make bench         build the benchmark program, run the matrix in one VM
#                      boot in instruction-counting mode; results in $(B)/bench/
#   make bench-build   just build $(BENCH_OUT)/fanout
#
# Variables:
#   BENCH_OUT    where fanout is built (default $(B)/bench):
#                make bench-build BENCH_OUT=/tmp/x, or make /tmp/x/fanout BENCH_OUT=/tmp/x
#   BENCH_PEERS  the transports built in, default every tests/bench/peer_<name>.c;
#                e.g. make bench-build BENCH_PEERS="evbus pipe unix" leaves out a
#                peer that does not build yet
#
# fanout is fanout.c (the harness) plus peer_<name>.c for each name in
# BENCH_PEERS; the peer table comes from -DBENCH_PEER_LIST='X(a) X(b) ...'.
# Linked dynamically (the VM sees the host's root filesystem): liburing for
# evbus (--uring), libzmq for zmq, libsystemd (sd-bus) for dbus, librt for
# mqueue.

BENCH_DIR := $(REPO)/tests/bench
BENCH_OUT ?= $(B)/bench
bench_found := $(patsubst $(BENCH_DIR)/peer_%.c,%,$(wildcard $(BENCH_DIR)/peer_*.c))
bench_first := evbus pipe unix
BENCH_PEERS ?= $(filter $(bench_first),$(bench_found)) $(filter-out $(bench_first),$(bench_found))
override BENCH_PEERS := $(strip $(BENCH_PEERS))

bench_has = $(filter $(1),$(BENCH_PEERS))
# Evaluated in the recipe only, so other targets never run pkg-config.
bench_pkgs = $(if $(call bench_has,evbus),liburing) $(if $(call bench_has,zmq),libzmq) \
	$(if $(call bench_has,dbus),libsystemd)
bench_pkg_cflags = $(if $(strip $(bench_pkgs)),$(shell pkg-config --cflags $(bench_pkgs)))
bench_pkg_libs = $(if $(strip $(bench_pkgs)),$(shell pkg-config --libs $(bench_pkgs)))
bench_libs = $(bench_pkg_libs) $(if $(call bench_has,mqueue),-lrt)

# The repo's uapi, never /usr/include/linux/evbus.h.
BENCH_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-I$(REPO)/uapi -I$(REPO)/tests/kselftest -I$(BENCH_DIR) -pthread
bench_srcs := $(BENCH_DIR)/fanout.c $(foreach p,$(BENCH_PEERS),$(BENCH_DIR)/peer_$(p).c)

# Rebuild when the peer list changes: the file changes only then.
$(BENCH_OUT)/peers.list: bench-force
	@mkdir -p $(@D)
	@echo '$(BENCH_PEERS)' | cmp -s - $@ 2>/dev/null || echo '$(BENCH_PEERS)' >$@

$(BENCH_OUT)/fanout: $(bench_srcs) $(BENCH_DIR)/bench.h $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h $(BENCH_OUT)/peers.list
	$(if $(BENCH_PEERS),,$(error BENCH_PEERS is empty))
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) '-DBENCH_PEER_LIST=$(foreach p,$(BENCH_PEERS),X($(p)))' \
		$(bench_pkg_cflags) -o $@ $(bench_srcs) $(bench_libs)

.PHONY: bench bench-build bench-force
bench-force:
bench-build: $(BENCH_OUT)/fanout

BENCH_RESULTS := $(REPO)/results/bench
bench_qemu := tests/vm/run --icount (-accel tcg -icount shift=0,align=off,sleep=off -smp 1)
bench_vm = $(REPO)/tests/vm/run --icount --kernel $(KERNEL) --share $(BENCH_OUT)
bench_args = --qemu '$(bench_qemu)' --git "$$(git -C $(REPO) describe --always --dirty 2>/dev/null || echo unknown)"

.PHONY: bench-smoke
# The whole matrix in one boot (about 15 minutes on an idle 2-core host),
# the chart on the host, then results.md/.json and fanout.png copied to
# results/bench/.  --share makes $(BENCH_OUT) writable in the guest, so
# run-bench writes there directly.  Fails if a run failed (the results,
# copied anyway, say which).
bench: deps module $(BENCH_OUT)/fanout
	@rm -f $(addprefix $(BENCH_OUT)/,results.json results.md fanout.png meta.json)
	@rc=0; \
	$(bench_vm) --timeout 5400 -- $(REPO)/tests/bench/run-bench $(bench_args) \
		--cmd 'make bench$(if $(filter-out default,$(KERNEL)), KERNEL=$(KERNEL))' \
		$(BENCH_OUT) $(BENCH_OUT) || rc=$$?; \
	[ -f $(BENCH_OUT)/results.json ] || exit 1; \
	$(REPO)/tests/bench/chart $(BENCH_OUT)/results.json $(BENCH_OUT)/fanout.png || rc=1; \
	mkdir -p $(BENCH_RESULTS); \
	cp $(addprefix $(BENCH_OUT)/,results.md results.json fanout.png) $(BENCH_RESULTS)/ || rc=1; \
	echo "bench: $(BENCH_RESULTS)/results.md"; \
	exit $$rc

# The same machinery on a tiny matrix (about 1.5 minutes, figures
# meaningless), in $(BENCH_OUT)/smoke, never in results/.
bench-smoke: deps module $(BENCH_OUT)/fanout
	rm -rf $(BENCH_OUT)/smoke
	$(bench_vm) --timeout 900 -- $(REPO)/tests/bench/run-bench --quick $(bench_args) \
		--cmd 'make bench-smoke' $(BENCH_OUT) $(BENCH_OUT)/smoke
	$(REPO)/tests/bench/chart $(BENCH_OUT)/smoke/results.json $(BENCH_OUT)/smoke/fanout.png
