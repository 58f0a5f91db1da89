# SPDX-License-Identifier: GPL-2.0
# Benchmarks (issue #8).  Included from the top Makefile, which defines
# B, REPO, CC, CFLAGS and KERNEL.
#
#   make bench    build the benchmark programs, run the matrix in one VM boot
#                 in instruction-counting mode; results in $(B)/bench/

BENCH_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-I$(REPO)/uapi -I$(REPO)/tests/kselftest -pthread

$(B)/bench/fanout: $(REPO)/tests/bench/fanout.c $(REPO)/uapi/linux/evbus.h \
		$(REPO)/tests/kselftest/evbus_test.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -static -o $@ $<

.PHONY: bench
# --share makes $(B)/bench writable in the guest, so run-bench writes its
# results there directly.
bench: deps module $(B)/bench/fanout
	$(REPO)/tests/vm/run --icount --timeout 3600 --kernel $(KERNEL) \
		--share $(B)/bench -- $(REPO)/tests/bench/run-bench $(B)/bench
