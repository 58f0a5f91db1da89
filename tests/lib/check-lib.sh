#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Host checks of the built library, run by `make check-host`:
#  - libevbus.so does not need liburing (NEEDED), and libevbus.a leaves no
#    liburing symbol for its static users to resolve: a program that never
#    uses io_uring must not load or link liburing;
#  - libevbus.so exports exactly the symbols of libevbus.map, each in its
#    version node, and nothing else.
#
#   tests/lib/check-lib.sh build/lib/libevbus.so.X.Y.Z build/lib/libevbus.a userlib/libevbus.map
set -u

so=${1:?usage: check-lib.sh LIBEVBUS_SO LIBEVBUS_A MAP}
ar=${2:?usage: check-lib.sh LIBEVBUS_SO LIBEVBUS_A MAP}
map=${3:?usage: check-lib.sh LIBEVBUS_SO LIBEVBUS_A MAP}
fail=0
bad() { echo "check-lib: $*" >&2; fail=1; }

needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p') ||
	{ echo "check-lib: cannot read $so" >&2; exit 1; }
[ -n "$needed" ] || bad "$so: no NEEDED entries at all (not a shared library?)"
if grep -q '^liburing' <<<"$needed"; then
	bad "$so needs liburing ($(tr '\n' ' ' <<<"$needed")): programs that never use io_uring would load it"
fi

# Undefined symbols of the archive that none of its members defines.
undef=$(comm -23 <(nm -u "$ar" | awk 'NF == 2 { print $2 }' | sort -u) \
		 <(nm --defined-only "$ar" | awk 'NF == 3 { print $3 }' | sort -u))
if grep -E '^(__)?io_uring_' <<<"$undef"; then
	bad "$ar calls the liburing functions above: static users would need -luring"
fi

# Exported: "name@VERSION" of every symbol the library defines in .dynsym
# (a symbol without a version shows as its bare name, and differs).
exported=$(readelf --dyn-syms -W "$so" |
	awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $7 != "ABS" { print $8 }' |
	sed 's/@@/@/' | sort)
# Declared: the global: entries of each version node of the map.
declared=$(sed 's,/\*.*\*/,,' "$map" | awk '
	/^[A-Za-z0-9_.]+ *\{/ { node = $1; sub(/ *\{.*/, "", node); glob = 0; next }
	/global:/ { glob = 1; next }
	/local:/ { glob = 0; next }
	/^\}/ { glob = 0; next }
	glob && /;/ { s = $1; sub(/;.*/, "", s); if (s != "") print s "@" node }' | sort)
if [ "$exported" != "$declared" ]; then
	bad "$so exports differ from $map (< exported, > declared):"
	diff <(echo "$exported") <(echo "$declared") | grep '^[<>]' >&2
fi

if [ $fail = 0 ]; then
	echo "check-lib: $(basename "$so") needs only $(tr '\n' ' ' <<<"$needed")and exports the $(wc -l <<<"$declared") symbols of $(basename "$map")"
fi
exit $fail
