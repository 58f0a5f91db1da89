# evbus record: its VM test (build/ksft/ops_record) and benchmark
# (make bench-record), included by the top-level Makefile.
OPS_TESTS += $(B)/ksft/ops_record

$(B)/ksft/ops_record: tests/record/record_test.sh $(CLI)
	@mkdir -p $(@D)
	install -m 0755 $< $@

.PHONY: bench-record
bench-record: $(CLI) module
	flock /tmp/evbus-vm.lock tests/vm/run -- tests/record/bench-record $(BENCH_RECORD_ARGS)
