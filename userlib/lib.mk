# libevbus, the evbus command, their tests and `make install`; included by
# the top-level Makefile, which defines B, CC, CFLAGS, WARN, CPPFLAGS_ALL,
# KSFT, KDIR, kver_of, LIB_MAJOR, LIB_VERSION, LIB_SO, LIB_A and CLI.
#
#   make lib         libevbus.so.$(LIB_VERSION) and libevbus.a in build/lib
#   make cli         build/bin/evbus
#   make lib-tests   build/ksft/lib_*: library and CLI tests for the VM
#   make examples    build/examples/*: userlib/examples/*.c (lib-tests needs them)
#   make install     PREFIX=/usr/local DESTDIR= : module, library, headers,
#                    evbus.pc, the evbus command and the man pages
#   make uninstall   the reverse (same PREFIX and DESTDIR)

LIB_SRCS := $(wildcard userlib/*.c)
LIB_HDRS := $(wildcard userlib/*.h) uapi/linux/evbus.h
# The module's topic parser is pure C: the library checks topics with it.
LIB_KSRCS := module/topic.c
LIB_DEPS := $(LIB_HDRS) module/topic.h userlib/lib.mk
# The io_uring helpers (userlib/uring.c) take liburing's types from
# <liburing.h> but call nothing in it: libevbus.so does not link liburing
# (tests/lib/check-lib.sh checks), and neither do its static users.  Programs
# that use liburing themselves (the io_uring tests and examples) add it.
URING_LIBS := -luring

lib_objs = $(patsubst userlib/%.c,$(B)/lib/$(1)/%.o,$(LIB_SRCS)) $(B)/lib/$(1)/ktopic.o
lib_ver = $(word $(1),$(subst ., ,$(LIB_VERSION)))
LIB_CFLAGS := $(CPPFLAGS_ALL) -I$(REPO)/module $(CFLAGS) $(WARN) -fvisibility=hidden \
	-DEVBUS_MK_MAJOR=$(call lib_ver,1) -DEVBUS_MK_MINOR=$(call lib_ver,2) \
	-DEVBUS_MK_PATCH=$(call lib_ver,3)

$(B)/lib/pic/%.o: userlib/%.c $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -fPIC -c $< -o $@
$(B)/lib/static/%.o: userlib/%.c $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@
$(B)/lib/pic/ktopic.o: $(LIB_KSRCS) $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -fPIC -c $< -o $@
$(B)/lib/static/ktopic.o: $(LIB_KSRCS) $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIB_SO): $(call lib_objs,pic) userlib/libevbus.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,libevbus.so.$(LIB_MAJOR) \
		-Wl,--version-script=userlib/libevbus.map -Wl,--no-undefined \
		-o $@ $(filter %.o,$^)
	ln -sfn libevbus.so.$(LIB_VERSION) $(B)/lib/libevbus.so.$(LIB_MAJOR)
	ln -sfn libevbus.so.$(LIB_MAJOR) $(B)/lib/libevbus.so
$(LIB_A): $(call lib_objs,static)
	rm -f $@; ar rcs $@ $^

lib: $(LIB_SO) $(LIB_A)

# --- the evbus command: linked statically against libevbus.a ----------------
CLI_SRCS := $(wildcard cli/*.c)
CLI_DEPS := $(wildcard cli/*.h) $(LIB_HDRS)
CLI_OBJS := $(patsubst cli/%.c,$(B)/cli/%.o,$(CLI_SRCS))
# Everything but main(), for tests of the formatting code.
CLI_HELPERS := $(B)/cli/libcli.a

# The recorder (cli/record*.c: SQLite, PostgreSQL) and the NATS bridge
# (cli/bridge*.c) use Debian's libsqlite3, libpq and libnats, linked
# dynamically; pkg-config runs once, on first use.
CLI_PKGS := sqlite3 libpq libnats
CLI_PKG_CFLAGS = $(eval CLI_PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(CLI_PKGS)))$(CLI_PKG_CFLAGS)
CLI_PKG_LIBS = $(eval CLI_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(CLI_PKGS)))$(CLI_PKG_LIBS)

$(B)/cli/%.o: cli/%.c $(CLI_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CLI_PKG_CFLAGS) $(CFLAGS) $(WARN) -c $< -o $@
$(CLI_HELPERS): $(filter-out $(B)/cli/evbus.o,$(CLI_OBJS))
	rm -f $@; ar rcs $@ $^
$(CLI): $(CLI_OBJS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CLI_OBJS) $(LIB_A) $(CLI_PKG_LIBS) -o $@
cli: $(CLI)

# --- install locations ---------------------------------------------------------
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MODDIR = /lib/modules/$(1)/extra

MAN3 := $(wildcard userlib/man/*.3)
MAN7 := $(wildcard userlib/man/*.7)
MAN1 := $(wildcard cli/*.1)
MAN_PAGES := $(MAN3) $(MAN7) $(MAN1)

# --- tests: build/ksft/lib_*, run in the VM by tests/run-kselftests ---------
# tests/lib/X.c is a kselftest_harness program, built static as lib_X.
# lib_cli is tests/lib/cli_test.sh.  lib_pkgconfig{,_static} are built with
# nothing but `pkg-config --cflags --libs evbus` against a staged install.
STAGE := $(B)/stage
STAGE_PC := $(STAGE)/usr/lib/pkgconfig/evbus.pc
PKG_CONFIG ?= pkg-config
# The system's own .pc files come after the stage's, for any Requires of
# evbus.pc (their -L gets the sysroot prefix too, a harmless missing directory).
stage_pkg_config = PKG_CONFIG_SYSROOT_DIR=$(STAGE) \
	PKG_CONFIG_LIBDIR=$(STAGE)/usr/lib/pkgconfig:$$($(PKG_CONFIG) --variable pc_path pkg-config) \
	PKG_CONFIG_PATH= $(PKG_CONFIG)

LIB_TESTS := $(patsubst tests/lib/%.c,$(B)/ksft/lib_%,$(wildcard tests/lib/*.c)) \
	$(B)/ksft/lib_cli $(B)/ksft/lib_pkgconfig $(B)/ksft/lib_pkgconfig_static

$(B)/ksft/lib_%: tests/lib/%.c $(wildcard tests/lib/*.h) $(LIB_A) $(CLI_HELPERS) \
		$(LIB_HDRS) $(KSFT)/kselftest_harness.h $(B)/tests/lib/feat_defs.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -I$(KSFT) -I$(REPO)/tests/lib -I$(B)/tests/lib -I$(REPO)/cli \
		-I$(REPO)/module $(CFLAGS) -Wall -static -pthread $< $(CLI_HELPERS) $(LIB_A) \
		$(LIB_TEST_LDFLAGS) $(URING_LIBS) -o $@

# lib_single_source swaps the module's topic parser and the record walker
# for its own wrappers (ld --wrap): the library must have no other copy.
$(B)/ksft/lib_single_source: LIB_TEST_LDFLAGS := -Wl,--wrap=evbus_topic_parse \
	-Wl,--wrap=evbus_pattern_parse -Wl,--wrap=evbus_records_next

# Every EVBUS_FEAT_* bit the uapi header defines, as FEAT_DEF(name) lines
# straight from the preprocessor, for tests/lib/features.c.
$(B)/tests/lib/feat_defs.h: uapi/linux/evbus.h userlib/lib.mk
	@mkdir -p $(@D)
	echo '#include <linux/evbus.h>' | $(CC) $(CPPFLAGS_ALL) -dM -E -x c - | \
		sed -n 's/^#define \(EVBUS_FEAT_[A-Z0-9_]*\) .*/FEAT_DEF(\1)/p' | sort >$@.tmp
	mv $@.tmp $@
# The shell suites' harness, sourced by lib_cli and the ops_* suites; not
# executable, so tests/run-kselftests passes it by.
KSFT_HARNESS := $(B)/ksft/harness.sh
$(KSFT_HARNESS): tests/lib/harness.sh
	@mkdir -p $(@D)
	install -m 0644 $< $@
$(B)/ksft/lib_cli: tests/lib/cli_test.sh $(CLI) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	install -m 0755 $< $@

$(STAGE_PC): $(LIB_SO) $(LIB_A) $(CLI) userlib/evbus.pc.in $(MAN_PAGES) userlib/lib.mk
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install-user DESTDIR=$(STAGE) PREFIX=/usr \
		BINDIR=/usr/bin LIBDIR=/usr/lib INCLUDEDIR=/usr/include \
		MANDIR=/usr/share/man PKGCONFIGDIR=/usr/lib/pkgconfig || \
		{ rm -rf $(STAGE); exit 1; }
$(B)/ksft/lib_pkgconfig: tests/lib/pkgconfig/consumer.c $(STAGE_PC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $$($(stage_pkg_config) --cflags --libs evbus) \
		-Wl,-rpath,$(STAGE)/usr/lib -o $@
	@readelf -d $@ | grep -q 'NEEDED.*libevbus\.so\.$(LIB_MAJOR)\]' || \
		{ echo "$@ does not link libevbus.so.$(LIB_MAJOR)" >&2; rm -f $@; exit 1; }
$(B)/ksft/lib_pkgconfig_static: tests/lib/pkgconfig/consumer.c $(STAGE_PC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static $< $$($(stage_pkg_config) --static --cflags --libs evbus) -o $@

# --- examples: userlib/examples/X.c as build/examples/X, static like the tests --
EXAMPLES := $(patsubst userlib/examples/%.c,$(B)/examples/%,$(wildcard userlib/examples/*.c))

$(B)/examples/%: userlib/examples/%.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -static $< $(LIB_A) $(URING_LIBS) -o $@
examples: $(EXAMPLES)

lib-tests: $(LIB_TESTS) examples

# --- install -------------------------------------------------------------------
# depmod only on the live system, and only if it is there.
run_depmod = if [ -n "$(DESTDIR)" ]; then :; \
	elif d=$$(PATH=$$PATH:/sbin:/usr/sbin command -v depmod); then $$d -a $(1); \
	else echo "depmod not found, skipped" >&2; fi

.PHONY: lib cli lib-tests examples install install-user install-lib install-cli install-man \
	install-module uninstall uninstall-user uninstall-module

install: install-module install-user
install-user: install-lib install-cli install-man

install-module: module
	@kver='$(call kver_of,$(KDIR))'; \
	[ -n "$$kver" ] || { echo "install: no kernel release in $(KDIR)" >&2; exit 1; }; \
	set -x; install -D -m 0644 $(B)/$$kver/evbus.ko \
		$(DESTDIR)$(call MODDIR,$$kver)/evbus.ko; \
	{ set +x; } 2>/dev/null; $(call run_depmod,$$kver)

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/linux
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sfn libevbus.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libevbus.so.$(LIB_MAJOR)
	ln -sfn libevbus.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libevbus.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 userlib/evbus.h $(DESTDIR)$(INCLUDEDIR)/evbus.h
	install -m 0644 uapi/linux/evbus.h $(DESTDIR)$(INCLUDEDIR)/linux/evbus.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(LIB_VERSION)|' \
	    userlib/evbus.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/evbus.pc
	@[ -n "$(DESTDIR)" ] || ! command -v ldconfig >/dev/null || ldconfig

install-cli: cli
	install -D -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/evbus

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall: uninstall-module uninstall-user
uninstall-module:
	@kver='$(call kver_of,$(KDIR))'; \
	[ -n "$$kver" ] || { echo "uninstall: no kernel release in $(KDIR)" >&2; exit 1; }; \
	set -x; rm -f $(DESTDIR)$(call MODDIR,$$kver)/evbus.ko; \
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(call MODDIR,$$kver) 2>/dev/null; \
	{ set +x; } 2>/dev/null; $(call run_depmod,$$kver)
uninstall-user:
	rm -f $(DESTDIR)$(LIBDIR)/libevbus.so.$(LIB_VERSION) \
	      $(DESTDIR)$(LIBDIR)/libevbus.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libevbus.so \
	      $(DESTDIR)$(LIBDIR)/libevbus.a $(DESTDIR)$(PKGCONFIGDIR)/evbus.pc \
	      $(DESTDIR)$(INCLUDEDIR)/evbus.h $(DESTDIR)$(INCLUDEDIR)/linux/evbus.h \
	      $(DESTDIR)$(BINDIR)/evbus
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	@[ -n "$(DESTDIR)" ] || ! command -v ldconfig >/dev/null || ldconfig
