# SPDX-License-Identifier: GPL-2.0
# Benchmarks (issue #8).  Included from the top Makefile, which defines
# B, REPO, CC, CFLAGS and KERNEL.
#
#   make bench         build the benchmark program, run the matrix in one VM
#                      boot in instruction-counting mode; results in $(B)/bench/;
#                      one progress line per run ([i/N], guest time, a rough
#                      estimate of what is left) on stderr
#   make bench-build   just build $(BENCH_OUT)/fanout and $(BENCH_OUT)/roundtrip
#   make bench-approval  only the approval round trips (issue #16), in their
#                      own icount boot; results in $(BENCH_OUT)/approval/
#   make bench-bindings  only the bindings' AEGIS-loop rows (issue #18), likewise
#                      in $(BENCH_OUT)/bindings/
#   make bench-record, make bench-bridge  the recorder's events/s per backend
#                      and the NATS bridge against direct NATS (issues #19,
#                      #20): wall clock, -smp 2, results/bench/{record,bridge}.md;
#                      make bench runs both after the matrix
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

# The approval round trip (issue #16): its own program, no peer table
# (evbus, a Unix socket request/reply and fanotify permission events are
# all in it); run by run-bench as the "approval" workload.
$(BENCH_OUT)/roundtrip: $(BENCH_DIR)/roundtrip.c $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# The bindings' rows (issue #18): langbench publishes to M readers that
# run the AEGIS loop in C (aegis_loop, the baseline), Rust or Python.
$(BENCH_OUT)/langbench: $(BENCH_DIR)/langbench.c $(LIB_A) $(REPO)/userlib/evbus.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -o $@ $< $(LIB_A)
$(BENCH_OUT)/aegis_loop: $(BENCH_DIR)/aegis_loop.c $(LIB_A) $(REPO)/userlib/evbus.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -o $@ $< $(LIB_A)

.PHONY: bench bench-build bench-force
bench-force:
bench-build: $(BENCH_OUT)/fanout $(BENCH_OUT)/roundtrip $(BENCH_OUT)/langbench $(BENCH_OUT)/aegis_loop

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
# After the icount matrix, the benchmarks that must run on the wall clock
# in a boot of their own (-smp 2): the recorder's databases do real I/O,
# and nats-server is multi-threaded.  BENCH_WALL= leaves them out.
BENCH_WALL ?= bench-record bench-bridge

bench: deps module $(BENCH_OUT)/fanout $(BENCH_OUT)/roundtrip $(BENCH_OUT)/langbench \
		$(BENCH_OUT)/aegis_loop bindings
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
	for t in $(BENCH_WALL); do \
		echo "bench: $$t (wall clock, its own VM boot)"; \
		$(MAKE) --no-print-directory $$t || rc=1; \
	done; \
	exit $$rc

# The same machinery on a tiny matrix (about 1.5 minutes, figures
# meaningless), in $(BENCH_OUT)/smoke, never in results/.
bench-smoke: deps module $(BENCH_OUT)/fanout $(BENCH_OUT)/roundtrip $(BENCH_OUT)/langbench $(BENCH_OUT)/aegis_loop
	rm -rf $(BENCH_OUT)/smoke
	$(bench_vm) --timeout 900 -- $(REPO)/tests/bench/run-bench --quick $(bench_args) \
		--cmd 'make bench-smoke' $(BENCH_OUT) $(BENCH_OUT)/smoke
	$(REPO)/tests/bench/chart $(BENCH_OUT)/smoke/results.json $(BENCH_OUT)/smoke/fanout.png

.PHONY: bench-approval
# Just the approval round trips of issue #16 (run-bench --only approval),
# in an icount boot of their own (a few minutes): results.md (table 8
# only) and results.json in $(BENCH_OUT)/approval, never in results/.
# APPROVAL_SCALE=F multiplies the round trips (0.1: a quick look).
APPROVAL_SCALE ?= 1
bench-approval: deps module $(BENCH_OUT)/fanout $(BENCH_OUT)/roundtrip
	rm -rf $(BENCH_OUT)/approval
	$(bench_vm) --timeout 1800 -- $(REPO)/tests/bench/run-bench --only approval \
		--scale $(APPROVAL_SCALE) $(bench_args) \
		--cmd 'make bench-approval APPROVAL_SCALE=$(APPROVAL_SCALE)' $(BENCH_OUT) $(BENCH_OUT)/approval
	@echo "bench-approval: $(BENCH_OUT)/approval/results.md"

.PHONY: bench-bindings
# Just the bindings' rows of issue #18 (run-bench --only bindings): the
# AEGIS loop in C, Rust and Python as 16 readers, in an icount boot of
# their own; results in $(BENCH_OUT)/bindings (copied by hand to
# results/bench/bindings.{md,json} when README quotes them).
BINDINGS_SCALE ?= 1
bench-bindings: deps module $(BENCH_OUT)/fanout $(BENCH_OUT)/langbench $(BENCH_OUT)/aegis_loop bindings
	rm -rf $(BENCH_OUT)/bindings
	$(bench_vm) --timeout 1800 -- $(REPO)/tests/bench/run-bench --only bindings \
		--scale $(BINDINGS_SCALE) $(bench_args) \
		--cmd 'make bench-bindings BINDINGS_SCALE=$(BINDINGS_SCALE)' $(BENCH_OUT) $(BENCH_OUT)/bindings
	@echo "bench-bindings: $(BENCH_OUT)/bindings/results.md"

# --- multi-core scaling (issue #12, section 6) ---------------------------------
#
#   make bench-scaling        boot with 2 vCPUs (MTTCG, or KVM where it works),
#                             no icount; 1 and 2 publishers on disjoint topics
#                             (one subscriber each, wake-ups coalesced: see
#                             tests/bench/scaling.c) and 1 and 2 getppid()
#                             loops, SCALING_REPS
#                             interleaved repetitions of SCALING_SECS each;
#                             results/bench/scaling.json and scaling.md
#   make bench-scaling-smoke  the same pipeline, 1 repetition of 0.2 s, in
#                             $(BENCH_OUT)/scaling-smoke, never in results/
#
# Ratios, not absolute figures, are what this measures: guest time is real
# time here, so a busy host moves every figure (meta.host records how busy
# the host was in the second before the boot; tests/bench/host-busy warns).
# Static binary: the guest needs nothing but it.
SCALING_REPS ?= 9
SCALING_SECS ?= 3

$(BENCH_OUT)/scaling: $(BENCH_DIR)/scaling.c $(REPO)/uapi/linux/evbus.h $(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -I$(REPO)/tests/kselftest $(CFLAGS) $(WARN) -static $< -o $@

bench-build: $(BENCH_OUT)/scaling

scaling_vm = $(REPO)/tests/vm/run --smp 2 --kernel $(KERNEL) --share $(BENCH_OUT)
scaling_args = --qemu 'tests/vm/run --smp 2 (-smp 2, no icount; accel: $(scaling_accel))' \
	--git "$$(git -C $(REPO) describe --always --dirty 2>/dev/null || echo unknown)" \
	--host "$$($(BENCH_DIR)/host-busy --warn 0.25)"
scaling_accel = $(if $(EVBUS_VM_ACCEL),$(EVBUS_VM_ACCEL),$(shell [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && echo kvm || echo tcg,thread=multi))

.PHONY: bench-scaling bench-scaling-smoke
# About (SCALING_SECS + 1) x 4 x SCALING_REPS seconds plus a boot: ~3 min
# with the defaults.  Fails if a run failed (the results, copied anyway,
# say which).
bench-scaling: deps module $(BENCH_OUT)/scaling
	@rm -rf $(BENCH_OUT)/scaling-run
	@rc=0; \
	$(scaling_vm) --timeout 3600 -- $(REPO)/tests/bench/run-scaling $(scaling_args) \
		--reps $(SCALING_REPS) --secs $(SCALING_SECS) \
		--cmd 'make bench-scaling$(if $(filter-out default,$(KERNEL)), KERNEL=$(KERNEL))' \
		$(BENCH_OUT) $(BENCH_OUT)/scaling-run || rc=$$?; \
	[ -f $(BENCH_OUT)/scaling-run/scaling.json ] || exit 1; \
	mkdir -p $(BENCH_RESULTS); \
	cp $(addprefix $(BENCH_OUT)/scaling-run/,scaling.json scaling.md) $(BENCH_RESULTS)/ || rc=1; \
	echo "bench-scaling: $(BENCH_RESULTS)/scaling.md"; \
	exit $$rc

bench-scaling-smoke: deps module $(BENCH_OUT)/scaling
	rm -rf $(BENCH_OUT)/scaling-smoke
	$(scaling_vm) --timeout 900 -- $(REPO)/tests/bench/run-scaling --smoke $(scaling_args) \
		--cmd 'make bench-scaling-smoke' $(BENCH_OUT) $(BENCH_OUT)/scaling-smoke
	@jq -e '.meta.failed_runs == 0 and .meta.runs == 4 and .ratios.publish != null and .ratios.syscall != null' \
		$(BENCH_OUT)/scaling-smoke/scaling.json >/dev/null || \
		{ echo "bench-scaling-smoke: incomplete $(BENCH_OUT)/scaling-smoke/scaling.json" >&2; exit 1; }
	@echo "bench-scaling-smoke: $(BENCH_OUT)/scaling-smoke/scaling.md"
