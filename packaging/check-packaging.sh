#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-packaging: the Debian packages of build/deb/ on this host (as
# root), then the DKMS-built module in the VM, for the 6.1 and 6.12 kernels.
#
#   packaging/check-packaging.sh VERSION DEBDIR
#
# lintian (no E:), dkms build of the packaged source for both kernels,
# apt-get install of the packages, the group, the udev rule, the
# modules-load.d entry, /usr/bin/evbus and libevbus.so.1 from /usr, then in
# each VM: insmod of the DKMS module, the udev rule applied by udevadm test,
# a pkg-config-built libevbus user and the demo with /usr/bin/evbus.  The
# packages are purged and DKMS's tree removed at exit, whatever happened.
# Prints kselftest-style TAP with a Totals line; exits 1 on any failure.
set -uo pipefail

[ $# = 2 ] || { echo "usage: $0 VERSION DEBDIR" >&2; exit 2; }
ver=$1 debdir=$(cd "$2" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
deps=$repo/tests/vm/deps
pkgs=(evbus-dkms libevbus1 libevbus-dev evbus-tools)
kernels=(default 6.12)
pass=0 fail=0 skip=0 n=0

[ "$(id -u)" = 0 ] || { echo "check-packaging: must run as root (apt-get install, dkms)" >&2; exit 2; }
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ih]i'; then
		echo "check-packaging: $p is already installed; it would be purged: stopping" >&2
		exit 2
	fi
done
if [ -e /usr/src/evbus-$ver ] || dkms status -m evbus 2>/dev/null | grep -q .; then
	echo "check-packaging: evbus is already in DKMS or /usr/src (make dkms-uninstall): stopping" >&2
	exit 2
fi

check() {	# check DESCRIPTION COMMAND...
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $what"; pass=$((pass + 1))
	else
		echo "not ok $n $what"; fail=$((fail + 1))
	fi
}

# Under build/: the guest sees it (its /tmp is its own).
mkdir -p "$repo/build"
work=$(mktemp -d "$repo/build/pkgcheck.XXXXXX")
mok_before=$(ls /var/lib/dkms/mok.key /var/lib/dkms/mok.pub 2>/dev/null)
group_before=$(getent group evbus)
cleanup() {
	echo "# purging ${pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >"$work/purge.log" 2>&1 ||
		{ cat "$work/purge.log" >&2; echo "check-packaging: purge failed" >&2; }
	if dkms status -m evbus 2>/dev/null | grep -q .; then
		dkms remove -m evbus -v "$ver" --all >/dev/null 2>&1
	fi
	rm -rf "/usr/src/evbus-$ver" "/var/lib/dkms/evbus"
	# DKMS makes a signing key on first use; one it made here goes too.
	[ -n "$mok_before" ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	# The package keeps the group on purge (Debian policy); the test does not.
	[ -n "$group_before" ] || ! getent group evbus >/dev/null || groupdel evbus
	rm -rf "$work"
}
trap cleanup EXIT

echo "TAP version 13"
echo "1..$((13 + 7 * ${#kernels[@]}))"

# --- lintian -----------------------------------------------------------------
lintian --pedantic "$debdir"/*.changes >"$work/lintian.log" 2>&1
sed 's/^/# lintian: /' "$work/lintian.log"
check "lintian reports no errors" bash -c "! grep -q '^E:' '$work/lintian.log'"

# --- install -----------------------------------------------------------------
debs=()
for p in "${pkgs[@]}"; do debs+=("$debdir/${p}_${ver}_"*.deb); done
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >"$work/install.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# apt-get: /' "$work/install.log"
check "apt-get install of ${pkgs[*]}" test $rc = 0
check "system group evbus exists" bash -c 'getent group evbus >/dev/null'
rules=/usr/lib/udev/rules.d/60-evbus.rules
check "udev rule $rules: group evbus, mode 0660" \
	grep -q 'KERNEL=="evbus".*GROUP="evbus", MODE="0660"' $rules
check "modules-load.d loads evbus" grep -qx evbus /usr/lib/modules-load.d/evbus.conf
check "DKMS source in /usr/src/evbus-$ver" test -f "/usr/src/evbus-$ver/dkms.conf" -a -f "/usr/src/evbus-$ver/Kbuild"
check "DKMS knows evbus/$ver" bash -c "dkms status -m evbus -v $ver | grep -q ."
evbus=$(cd / && env -i PATH=/usr/bin:/bin bash -c 'command -v evbus')
check "evbus on a plain PATH is /usr/bin/evbus (got '$evbus')" test "$evbus" = /usr/bin/evbus
check "/usr/bin/evbus runs from / (--help)" bash -c 'cd / && /usr/bin/evbus --help >/dev/null 2>&1'
# /lib is /usr/lib on a merged-/usr system: compare real paths.
lib=$(ldconfig -p | awk '$1 == "libevbus.so.1" { print $NF; exit }')
lib=$(readlink -f "$lib")
check "ldconfig resolves libevbus.so.1 under /usr/lib (got '$lib')" \
	bash -c "[[ '$lib' == /usr/lib/*/libevbus.so.1.* ]]"

# A libevbus user built with the installed evbus.pc only, run in the VM.
consumer=$work/consumer
cc "$repo/tests/lib/pkgconfig/consumer.c" $(pkg-config --cflags --libs evbus) -o "$consumer" \
	>"$work/cc.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# cc: /' "$work/cc.log"
check "a consumer builds with pkg-config evbus from /usr" test $rc = 0
got=$(readlink -f "$(ldd "$consumer" 2>/dev/null | awk '$1 == "libevbus.so.1" { print $3 }')")
check "the consumer links libevbus.so.1 from /usr/lib (got '$got')" \
	bash -c "[[ '$got' == /usr/lib/*/libevbus.so.1.* ]] && [[ '$got' != '$repo'/* ]]"
check "/usr/bin/evbus does not load anything from the repository" \
	bash -c "! ldd /usr/bin/evbus | grep -qF '$repo'"

# --- DKMS and the VM, per kernel -----------------------------------------------
for k in "${kernels[@]}"; do
	read -r kver kdir _ < <("$deps" --kernel "$k" --print all)
	dkms build -m evbus -v "$ver" -k "$kver" >"$work/dkms-$kver.log" 2>&1
	rc=$?
	[ $rc = 0 ] || sed 's/^/# dkms: /' "$work/dkms-$kver.log"
	check "dkms build -k $kver" test $rc = 0
	ko=$(ls /var/lib/dkms/evbus/"$ver/$kver"/*/module/evbus.ko* 2>/dev/null | head -1)
	check "DKMS module for $kver exists (${ko:-none})" test -n "$ko"
	if [ -z "$ko" ]; then
		for t in 1 2 3 4 5; do n=$((n + 1)); skip=$((skip + 1)); echo "ok $n # SKIP $kver: no module"; done
		continue
	fi
	# The guest sees this host's root read-only: the packages, DKMS's tree.
	cp "$consumer" "$work/consumer-$kver"
	"$repo/tests/vm/run" --kernel "$k" --no-module -- \
		"$here/vm-check.sh" "$ko" "$work/consumer-$kver" "$repo/tests/demo/demo.sh" \
		>"$work/vm-$kver.log" 2>&1
	rc=$?
	sed 's/^/# vm '"$kver"': /' "$work/vm-$kver.log"
	for what in "insmod of the DKMS module" "udev rule applied to /dev/evbus" \
			"pkg-config consumer against /dev/evbus" "demo with /usr/bin/evbus"; do
		check "$kver: $what" grep -qxF "PASS $what" "$work/vm-$kver.log"
	done
	check "$kver: the VM run exits 0, no kernel splat (got $rc)" test $rc = 0
done

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail = 0 ]
