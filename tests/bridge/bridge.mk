# The NATS bridge (issue #20), included by the top-level Makefile:
#
#   build/ksft/ops_bridge     tests/bridge/bridge_test.sh, run in the VM by
#                             tests/run-kselftests (make check)
#   build/bridge/bridge_tool  its NATS and evbus client (not a test itself)
#   make bench-bridge         tests/bridge/bench-bridge in a VM: bridged
#                             against direct NATS; results/bench/bridge.{md,json}
BRIDGE_TOOL := $(B)/bridge/bridge_tool

$(BRIDGE_TOOL): tests/bridge/bridge_tool.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $$($(PKG_CONFIG) --cflags libnats) $(CFLAGS) $(WARN) $< \
		$(LIB_A) $$($(PKG_CONFIG) --libs libnats) -o $@

$(B)/ksft/ops_bridge: tests/bridge/bridge_test.sh $(CLI) $(BRIDGE_TOOL) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	install -m 0755 $< $@

OPS_TESTS += $(B)/ksft/ops_bridge

# The VM runs without a lock of its own: callers serialize VM runs (as for
# make bench).  BENCH_BRIDGE_RUNS (default 5) and BENCH_BRIDGE_N (20000).
.PHONY: bench-bridge
bench-bridge: $(CLI) $(BRIDGE_TOOL) module
	@mkdir -p $(B)/vm/share/bench-bridge results/bench
	tests/vm/run --kernel $(KERNEL) --smp 2 --append idle=poll \
		--share $(B)/vm/share/bench-bridge -- \
		env RUNS=$(or $(BENCH_BRIDGE_RUNS),5) N=$(or $(BENCH_BRIDGE_N),20000) \
		tests/bridge/bench-bridge $(B)/vm/share/bench-bridge
	cp $(B)/vm/share/bench-bridge/bridge.md $(B)/vm/share/bench-bridge/bridge.json results/bench/
