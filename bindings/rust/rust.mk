# The Rust binding (bindings/rust), included by the top Makefile, which
# defines B, REPO and LIB_SO.  Debian's toolchain and crates only, offline.
#
#   make rust            build libevbus, the tests (not run: they need the
#                        device), the examples (release), and run the doc
#                        tests and the device-free tests on the host;
#                        writes $(B)/ksft/bindings_rust for the VM runner
#   make rust-clippy     clippy over everything (rustup's cargo, if present)
#
# $(B)/ksft/bindings_rust runs every integration-test binary with
# --test-threads=1 and prints "# Totals: ..." (bindings/rust/run-tests.sh).
# The bench consumer is $(B)/rust/release/examples/aegis_loop.

CARGO ?= /usr/bin/cargo
RUST_RUSTC ?= /usr/bin/rustc
RUST_RUSTDOC ?= /usr/bin/rustdoc
CARGO_CLIPPY ?= /root/.cargo/bin/cargo
RUST_SRC := $(REPO)/bindings/rust
RUST_OUT := $(B)/rust
RUST_ENV = EVBUS_LIB_DIR=$(B)/lib CARGO_TARGET_DIR=$(RUST_OUT) RUSTC=$(RUST_RUSTC) RUSTDOC=$(RUST_RUSTDOC)
RUST_FEATURES := --features tokio
RUST_DEPS := $(wildcard $(RUST_SRC)/Cargo.* $(RUST_SRC)/build.rs $(RUST_SRC)/src/*.rs \
	$(RUST_SRC)/tests/*.rs $(RUST_SRC)/tests/common/*.rs $(RUST_SRC)/examples/*.rs \
	$(RUST_SRC)/.cargo/config.toml $(RUST_SRC)/run-tests.sh)

.PHONY: rust rust-clippy

rust: $(B)/ksft/bindings_rust $(RUST_OUT)/release/examples/aegis_loop
	cd $(RUST_SRC) && $(RUST_ENV) LD_LIBRARY_PATH=$(B)/lib $(CARGO) test --offline $(RUST_FEATURES) --doc
	cd $(RUST_SRC) && $(RUST_ENV) $(CARGO) test --offline $(RUST_FEATURES) --test vectors --test nodevice

# The list of test binaries comes from cargo's own JSON messages.
$(RUST_OUT)/tests.list: $(LIB_SO) $(RUST_DEPS)
	@mkdir -p $(RUST_OUT)
	cd $(RUST_SRC) && $(RUST_ENV) $(CARGO) test --offline $(RUST_FEATURES) --no-run \
		--message-format=json-render-diagnostics >$(RUST_OUT)/test-build.json
	python3 -c 'import json, sys; \
		[print(m["executable"]) for m in map(json.loads, open(sys.argv[1])) \
		 if m.get("reason") == "compiler-artifact" and m.get("executable") \
		 and m["profile"]["test"] and m["target"]["kind"] == ["test"]]' \
		$(RUST_OUT)/test-build.json >$@.tmp
	test -s $@.tmp && mv $@.tmp $@

$(B)/ksft/bindings_rust: $(RUST_OUT)/tests.list
	@mkdir -p $(@D)
	printf '#!/bin/bash\n# The Rust binding'"'"'s tests (bindings/rust/rust.mk).\nexec %s/run-tests.sh %s "$$@"\n' \
		'$(RUST_SRC)' '$(RUST_OUT)/tests.list' >$@.tmp
	chmod +x $@.tmp && mv $@.tmp $@

$(RUST_OUT)/release/examples/aegis_loop: $(LIB_SO) $(RUST_DEPS)
	cd $(RUST_SRC) && $(RUST_ENV) $(CARGO) build --offline --release $(RUST_FEATURES) --examples
	touch $@

rust-clippy: $(LIB_SO)
	cd $(RUST_SRC) && EVBUS_LIB_DIR=$(B)/lib CARGO_TARGET_DIR=$(RUST_OUT)/clippy \
		$(CARGO_CLIPPY) clippy --offline $(RUST_FEATURES) --all-targets -- -D warnings
