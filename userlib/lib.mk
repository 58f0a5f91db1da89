# libevbus and the evbus command; included by the top-level Makefile.
LIB_SRCS := $(wildcard userlib/*.c)
LIB_HDRS := $(wildcard userlib/*.h) uapi/linux/evbus.h

$(B)/lib/pic/%.o: userlib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -c $< -o $@
$(B)/lib/static/%.o: userlib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) -fvisibility=hidden -c $< -o $@

$(LIB_SO): $(patsubst userlib/%.c,$(B)/lib/pic/%.o,$(LIB_SRCS)) userlib/libevbus.map
	$(CC) -shared -Wl,-soname,libevbus.so.$(LIB_MAJOR) -Wl,--version-script=userlib/libevbus.map \
		-o $@ $(filter %.o,$^)
	ln -sfn libevbus.so.$(LIB_VERSION) $(B)/lib/libevbus.so.$(LIB_MAJOR)
	ln -sfn libevbus.so.$(LIB_MAJOR) $(B)/lib/libevbus.so
$(LIB_A): $(patsubst userlib/%.c,$(B)/lib/static/%.o,$(LIB_SRCS))
	rm -f $@; ar rcs $@ $^

lib: $(LIB_SO) $(LIB_A)

$(CLI): cli/evbus.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(WARN) $< $(LIB_A) -o $@
cli: $(CLI)

