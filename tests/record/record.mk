# evbus record: its VM test (build/ksft/ops_record) and benchmark
# (make bench-record), included by the top-level Makefile.
OPS_TESTS += $(B)/ksft/ops_record

$(B)/ksft/ops_record: tests/record/record_test.sh $(CLI) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	install -m 0755 $< $@

# Recorded events/s per backend in one VM boot (wall clock: the databases
# do real I/O); results/bench/record.{md,json}.
.PHONY: bench-record
bench-record: $(CLI) module
	@mkdir -p $(B)/vm/share/bench-record results/bench
	tests/vm/run --share $(B)/vm/share/bench-record -- \
		env N=$(or $(BENCH_RECORD_N),100000) RUNS=$(or $(BENCH_RECORD_RUNS),3) \
		tests/record/bench-record $(B)/vm/share/bench-record
	cp $(B)/vm/share/bench-record/record.md $(B)/vm/share/bench-record/record.json results/bench/
