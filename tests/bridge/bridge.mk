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

$(B)/ksft/ops_bridge: tests/bridge/bridge_test.sh $(CLI) $(BRIDGE_TOOL)
	@mkdir -p $(@D)
	install -m 0755 $< $@

OPS_TESTS += $(B)/ksft/ops_bridge

.PHONY: bench-bridge
bench-bridge: deps
	@$(MAKE) --no-print-directory module cli $(BRIDGE_TOOL)
	tests/vm/run --kernel $(KERNEL) --smp 2 -- tests/bridge/bench-bridge $(B)
