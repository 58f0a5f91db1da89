# evbus stat --prometheus against Debian's prometheus-node-exporter and
# promtool (issue #19), included by the top-level Makefile:
# build/ksft/ops_prometheus is tests/prometheus/prometheus_test.sh, run in
# the VM by tests/run-kselftests (make check).
$(B)/ksft/ops_prometheus: tests/prometheus/prometheus_test.sh $(CLI) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	install -m 0755 $< $@

OPS_TESTS += $(B)/ksft/ops_prometheus
