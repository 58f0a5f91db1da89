#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# In the VM (tests/vm/run --no-module), for packaging/check-packaging.sh:
#
#   vm-check.sh KO CONSUMER DEMO
#
# KO is DKMS's evbus.ko (maybe .ko.xz or .ko.zst), CONSUMER a pkg-config-built
# libevbus user, DEMO tests/demo/demo.sh.  Prints "PASS what" or "FAIL what"
# per step; the host script reads them.  Leaves no module loaded.
set -uo pipefail

[ $# = 3 ] || { echo "usage: $0 KO CONSUMER DEMO" >&2; exit 2; }
ko=$1 consumer=$2 demo=$3
rc=0
result() {	# result OK WHAT
	if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; rc=1; fi
}

case "$ko" in
*.xz) xz -dc "$ko" >/tmp/evbus.ko ;;
*.zst) zstd -qdc "$ko" >/tmp/evbus.ko ;;
*) cp "$ko" /tmp/evbus.ko ;;
esac
insmod /tmp/evbus.ko && [ -c /dev/evbus ]
result $? "insmod of the DKMS module"
[ -c /dev/evbus ] || { echo "vm-check: no /dev/evbus" >&2; exit 1; }

# The guest runs no udevd: udevadm test runs the installed rules for the
# device and applies them to /dev/evbus.
if command -v udevadm >/dev/null; then
	udevadm test --action=add /class/misc/evbus >/tmp/udev.log 2>&1
	sed -n '/evbus/s/^/udevadm: /p' /tmp/udev.log | tail -5
	got=$(stat -c '%G %a' /dev/evbus)
	echo "/dev/evbus: group and mode '$got'"
	[ "$got" = "evbus 660" ]
	result $? "udev rule applied to /dev/evbus"
else
	echo "vm-check: no udevadm; checking the rule's text only"
	grep -q 'GROUP="evbus", MODE="0660"' /usr/lib/udev/rules.d/60-evbus.rules
	result $? "udev rule applied to /dev/evbus"
fi

(cd / && env -i PATH=/usr/bin:/bin "$consumer")
result $? "pkg-config consumer against /dev/evbus"

(cd / && env -i PATH=/usr/bin:/bin HOME=/tmp EVBUS=/usr/bin/evbus bash "$demo")
result $? "demo with /usr/bin/evbus"

rmmod evbus || { echo "vm-check: rmmod evbus failed" >&2; rc=1; }
exit $rc
