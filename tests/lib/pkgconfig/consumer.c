// SPDX-License-Identifier: GPL-2.0
/*
 * A libevbus user built with nothing but `pkg-config --cflags --libs evbus`
 * against a staged `make install`: proves the installed headers (evbus.h
 * and linux/evbus.h), evbus.pc, the soname and the exported symbols.
 * Deliberately no test harness: only what pkg-config provides.  Prints
 * kselftest-style totals for tests/run-kselftests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <evbus.h>

static int pass, fail, skip;

static void check(int ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", pass + fail + skip + 1, what);
	if (ok)
		pass++;
	else
		fail++;
}

static void roundtrip(void)
{
	const struct evbus_record *rec;
	struct evbus_version v;
	struct evbus *bus;
	uint64_t seq = 0;
	int ret;

	ret = evbus_open(&bus, NULL);
	if (ret == -ENOENT) {
		printf("ok %d # SKIP no /dev/evbus\n", pass + fail + skip + 1);
		skip++;
		return;
	}
	check(ret == 0, "evbus_open");
	if (ret)
		return;
	check(!evbus_query(bus, &v) && v.abi_version == EVBUS_ABI_VERSION,
	      "evbus_query reports the ABI of the installed linux/evbus.h");
	check(!evbus_subscribe(bus, "pkgconfig.>", NULL), "evbus_subscribe");
	check(!evbus_publish(bus, "pkgconfig.hello", "hi", 2, NULL, &seq),
	      "evbus_publish");
	ret = evbus_read(bus, &rec, 1000);
	check(!ret && rec->event && rec->event->seq == seq &&
	      rec->payload_len == 2 && !memcmp(rec->payload, "hi", 2),
	      "evbus_read returns the event");
	evbus_close(bus);
}

int main(void)
{
	printf("TAP version 13\n");
	check(!strcmp(evbus_lib_version(), EVBUS_LIB_VERSION),
	      "runtime version matches the installed header");
	check(evbus_lib_version_major() == EVBUS_LIB_VERSION_MAJOR,
	      "major version");
	roundtrip();
	printf("1..%d\n", pass + fail + skip);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	return fail ? 1 : 0;
}
