# SPDX-License-Identifier: GPL-2.0
#
# Fuzzing; included from the top Makefile (which defines B, REPO, CC, CFLAGS
# and KERNEL).
#
#   make fuzz        the ioctl fuzzer in the VM (FUZZ_CALLS operations, seed
#                    FUZZ_SEED, FUZZ_ARGS appended), then libFuzzer on the
#                    topic matcher on the host for FUZZ_SECONDS
#   make fuzz KERNEL=debug FUZZ_CALLS=200000        the same, debug kernel
#
# build/fuzz/ioctl_fuzz is static so the guest needs nothing but the binary;
# it is part of "make tests" (and so of "make").  Reproducers of module bugs
# it found are in tests/fuzz/repro/, built into build/fuzz/ by "make tests"
# (or "make fuzz-repro") and run by hand: tests/vm/run -- build/fuzz/NAME.

FUZZ_CALLS ?= 1000000
FUZZ_SEED ?= 1
FUZZ_ARGS ?=
FUZZ_SECONDS ?= 300
FUZZ_TIMEOUT ?= 3600
IOCTL_FUZZ := $(B)/fuzz/ioctl_fuzz

.PHONY: fuzz fuzz-build

$(IOCTL_FUZZ): $(REPO)/tests/fuzz/ioctl_fuzz.c $(REPO)/tests/fuzz/topic_ref.h \
		$(REPO)/tests/kselftest/evbus_test.h $(REPO)/uapi/linux/evbus.h
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -I$(REPO)/uapi -I$(REPO)/tests/kselftest $(CFLAGS) \
		-Wall -Wextra -Wno-unused-parameter -static -pthread $< -o $@ -luring

# "make build/fuzz/ioctl_fuzz" from the top of the tree works too.
ifneq ($(patsubst $(CURDIR)/%,%,$(IOCTL_FUZZ)),$(IOCTL_FUZZ))
$(patsubst $(CURDIR)/%,%,$(IOCTL_FUZZ)): $(IOCTL_FUZZ)
endif

FUZZ_REPROS := $(patsubst $(REPO)/tests/fuzz/repro/%.c,$(B)/fuzz/%,\
		$(wildcard $(REPO)/tests/fuzz/repro/*.c))
$(FUZZ_REPROS): $(B)/fuzz/%: $(REPO)/tests/fuzz/repro/%.c $(REPO)/uapi/linux/evbus.h
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -I$(REPO)/uapi $(CFLAGS) -Wall -Wextra -static $< -o $@

.PHONY: fuzz-repro
fuzz-repro: $(FUZZ_REPROS)
tests: $(FUZZ_REPROS)

fuzz-build: $(IOCTL_FUZZ)
tests: $(IOCTL_FUZZ)

fuzz: $(IOCTL_FUZZ)
	$(REPO)/tests/vm/run --kernel $(KERNEL) --timeout $(FUZZ_TIMEOUT) -- \
		$(IOCTL_FUZZ) --calls $(FUZZ_CALLS) --seed $(FUZZ_SEED) $(FUZZ_ARGS)
	$(REPO)/tests/fuzz/run-libfuzzer $(FUZZ_SECONDS)

# The short run inside `make check`, picked up by tests/run-kselftests.
$(B)/ksft/ioctl_fuzz_short: $(REPO)/tests/fuzz/short.sh $(IOCTL_FUZZ)
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@
tests: $(B)/ksft/ioctl_fuzz_short
