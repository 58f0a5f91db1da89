#!/bin/sh
# Syscalls per published event: strace -c -f over pub_bench, minus a COUNT=0 baseline.
B=${1:-$(dirname "$0")/../../build/examples/pub_bench}
N=6400
calls() {	# mode batch count -> total syscalls, and the ones named in $4
	strace -f -c -o /tmp/st.$$ "$B" "$1" "$2" "$3" >/tmp/out.$$ 2>&1 || { cat /tmp/out.$$ >&2; echo FAIL; return; }
	tot=$(awk '$NF == "total" { print $4 }' /tmp/st.$$)
	hot=$(awk -v s="$4" '$NF == s { print $4 }' /tmp/st.$$)
	echo "$tot ${hot:-0}"
}
for spec in "ioctl 1 ioctl" "ioctl-batch 1 ioctl" "ioctl-batch 8 ioctl" "ioctl-batch 64 ioctl" \
	    "uring-batch 1 io_uring_enter" "uring-batch 8 io_uring_enter" "uring-batch 64 io_uring_enter" \
	    "uring-single 1 io_uring_enter" "uring-single 8 io_uring_enter" "uring-single 64 io_uring_enter"; do
	set -- $spec
	base=$(calls "$1" "$2" 0 "$3")
	full=$(calls "$1" "$2" $N "$3")
	"$B" "$1" "$2" $N | sed 's/^/  # /'
	echo "$1 $2 $base $full" | awk -v n=$N '{ printf "%-13s batch=%-3s total/event=%.4f %s/event=%.4f (raw: %d-%d total, %d-%d hot)\n", $1, $2, ($5-$3)/n, "'"$3"'", ($6-$4)/n, $5, $3, $6, $4 }'
done
rm -f /tmp/st.$$ /tmp/out.$$
