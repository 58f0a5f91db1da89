# SPDX-License-Identifier: GPL-2.0
# The Python binding (bindings/python), included by the top Makefile,
# which defines B, REPO and LIB_SO.
#
#   make python   byte-compile the package, tests and examples (a syntax
#                 check; the bytecode goes to $(B)/python, never into the
#                 source tree) and write $(B)/ksft/bindings_python, which
#                 runs the pytest suite (in the VM: tests/vm/run -- it).

PYTHON3 ?= /usr/bin/python3
PY_DIR := $(REPO)/bindings/python
PY_SRCS := $(shell find $(PY_DIR)/evbus $(PY_DIR)/tests $(PY_DIR)/examples -name '*.py' 2>/dev/null)

.PHONY: python
python: $(B)/ksft/bindings_python

$(B)/ksft/bindings_python: $(PY_DIR)/run-tests.in $(PY_SRCS) $(PY_DIR)/python.mk $(LIB_SO)
	@mkdir -p $(B)/python $(dir $@)
	PYTHONPYCACHEPREFIX=$(B)/python $(PYTHON3) -m compileall -q \
		$(PY_DIR)/evbus $(PY_DIR)/tests $(PY_DIR)/examples
	sed -e 's|@B@|$(B)|g' -e 's|@REPO@|$(REPO)|g' $< > $@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@
