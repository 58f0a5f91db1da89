# SPDX-License-Identifier: GPL-2.0
#
# evbus stress test (tests/stress/evbus-stress.c), included from the top
# Makefile, which defines B, REPO, CC, CFLAGS (and KERNEL).
#
#   make stress                  the stress test in the VM (default kernel),
#                                STRESS_DURATION seconds (120)
#   make stress-gate             the approval gate's stress test (gate-stress)
#                                in the VM, GATE_STRESS_DURATION seconds (60)
#   make stress-faults           on the debug kernel (KASAN, lockdep, ...)
#                                with failslab/fail_page_alloc aimed at evbus
#   make stress STRESS_ARGS='--seed 0x1234 --subscribers 8'
#   $(B)/stress/evbus-stress --help
#
# The binary is static, built against the project's uapi header, so the
# guest needs nothing else.  batch-repro and replay-repro reproduce the bugs
# the stress test found (see the top of the files).

STRESS_BIN := $(B)/stress/evbus-stress
GATE_STRESS_BIN := $(B)/stress/gate-stress
GATE_STRESS_DURATION ?= 60
STRESS_REPRO := $(B)/stress/batch-repro
STRESS_REPLAY_REPRO := $(B)/stress/replay-repro
STRESS_DURATION ?= 120
STRESS_FAULTS_DURATION ?= 60
STRESS_ARGS ?=
STRESS_CFLAGS := -I$(REPO)/uapi -I$(REPO)/tests/kselftest -D_GNU_SOURCE \
	-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wshadow -Wformat=2 -Wstrict-prototypes

.PHONY: stress stress-faults stress-build stress-gate

stress-build: $(STRESS_BIN) $(STRESS_REPRO) $(STRESS_REPLAY_REPRO) $(GATE_STRESS_BIN)

# The approval gate (#16): asks through a chain of approvers that are
# killed and restarted (tests/stress/gate-stress.c); io_uring asks too.
$(GATE_STRESS_BIN): $(REPO)/tests/stress/gate-stress.c $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) $(CFLAGS) -static $< -o $@ -luring

$(STRESS_BIN): $(REPO)/tests/stress/evbus-stress.c $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) $(CFLAGS) -static $< -o $@

$(STRESS_REPRO): $(REPO)/tests/stress/batch-repro.c $(REPO)/uapi/linux/evbus.h
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) $(CFLAGS) -static $< -o $@

$(STRESS_REPLAY_REPRO): $(REPO)/tests/stress/replay-repro.c $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) $(CFLAGS) -static $< -o $@

# tests/vm/run builds the module for the kernel it boots.
stress: $(STRESS_BIN)
	$(REPO)/tests/vm/run $(if $(KERNEL),--kernel $(KERNEL)) \
		--timeout $$(( $(STRESS_DURATION) * 2 + 600 )) -- \
		$(STRESS_BIN) --duration $(STRESS_DURATION) $(STRESS_ARGS)

stress-gate: $(GATE_STRESS_BIN)
	$(REPO)/tests/vm/run $(if $(KERNEL),--kernel $(KERNEL)) \
		--timeout $$(( $(GATE_STRESS_DURATION) * 2 + 600 )) -- \
		$(GATE_STRESS_BIN) --duration $(GATE_STRESS_DURATION) $(STRESS_ARGS)

# Slow (KASAN under TCG): fewer events per round.
stress-faults: $(STRESS_BIN)
	$(REPO)/tests/vm/run --debug \
		--timeout $$(( $(STRESS_FAULTS_DURATION) * 6 + 900 )) -- \
		$(STRESS_BIN) --faults --duration $(STRESS_FAULTS_DURATION) \
		--round-secs 15 --round-events 20000 $(STRESS_ARGS)

# The short run inside `make check`, picked up by tests/run-kselftests.
$(B)/ksft/stress_short: $(REPO)/tests/stress/short.sh $(STRESS_BIN) $(GATE_STRESS_BIN)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@
