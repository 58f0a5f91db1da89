// SPDX-License-Identifier: GPL-2.0
/*
 * replay-repro: a replay (EVBUS_SUB_SINCE) that meets, in the history, an
 * event larger than the reader's whole ring.  Live, such an event is lost
 * and reported (a LAGGED record); a replay must not wait for room that
 * can never be made.  Found by evbus-stress (a replaying subscriber whose
 * ring it had shrunk to 4 KiB stayed catching up for ever), fixed in
 * d1cd518: the event is lost for that file and reported as live.
 *
 *   tests/vm/run -- build/stress/replay-repro
 *
 * Publishes "small", a payload bigger than a 4 KiB ring, "after"; then a
 * file with a 4 KiB ring subscribes with EVBUS_SUB_SINCE from the first
 * and reads (non-blocking, then poll()) up to 2000 times.  PASS if it
 * goes live (fdinfo evbus-replaying 0) having read "small", the big one
 * or a LAGGED record for it, and "after"; FAIL if it is still catching up.
 * Exit 0 pass, 1 fail, 2 setup.
 */
#include <poll.h>
#include <stdbool.h>
#include <inttypes.h>

#include "evbus_test.h"

int main(void)
{
	static char big[8000], buf[1 << 16];
	struct evbus_subscribe sb;
	int pub, rd, i, events = 0, lags = 0, rep = -1;
	int64_t s1, s2, s3;
	bool got_after = false;

	pub = evt_open();
	rd = evt_open_nb();
	if (pub < 0 || rd < 0) {
		perror("replay-repro: open " EVBUS_DEV);
		return 2;
	}
	if (evt_set_ring(rd, 4096, EVBUS_POLICY_DROP_OLDEST)) {
		perror("replay-repro: EVBUS_IOC_SET_RING 4096");
		return 2;
	}
	memset(big, 'x', sizeof(big));
	s1 = evt_pub(pub, "repro.replay", "small");
	s2 = evt_pub_full(pub, "repro.replay", big, sizeof(big), 0, 0, 0);
	s3 = evt_pub(pub, "repro.replay", "after");
	if (s1 <= 0 || s2 <= 0 || s3 <= 0) {
		fprintf(stderr, "replay-repro: publish: %s\n", strerror((int)-(s1 < 0 ? s1 : s2 < 0 ? s2 : s3)));
		return 2;
	}
	memset(&sb, 0, sizeof(sb));
	sb.size = sizeof(sb);
	sb.pattern = (uintptr_t)"repro.>";
	sb.pattern_len = strlen("repro.>");
	sb.flags = EVBUS_SUB_SINCE;
	sb.since = (uint64_t)s1;
	if (ioctl(rd, EVBUS_IOC_SUBSCRIBE2, &sb)) {
		perror("replay-repro: EVBUS_IOC_SUBSCRIBE2 SINCE");
		return 2;
	}
	printf("replay-repro: published seqs %" PRId64 " (5 bytes), %" PRId64 " (%zu bytes), %" PRId64
	       " (5 bytes); a 4096-byte ring replays from %" PRId64 "\n", s1, s2, sizeof(big), s3, s1);
	for (i = 0; i < 2000; i++) {
		struct pollfd pf = { .fd = rd, .events = POLLIN };
		ssize_t n = read(rd, buf, sizeof(buf));
		struct evbus_rec_hdr *h;
		ssize_t left;

		if (n > 0) {
			evt_for_each_rec(h, buf, n, left) {
				if (h->kind == EVBUS_REC_EVENT) {
					const struct evbus_event *ev = (const void *)h;

					printf("  event seq %llu, %u bytes, flags %#x\n",
					       (unsigned long long)ev->seq, ev->payload_len, ev->flags);
					events++;
					got_after |= (int64_t)ev->seq == s3;
				} else if (h->kind == EVBUS_REC_LAGGED) {
					const struct evbus_lagged *lg = (const void *)h;

					printf("  LAGGED lost %llu [%llu,%llu] flags %#x\n",
					       (unsigned long long)lg->lost,
					       (unsigned long long)lg->first_seq,
					       (unsigned long long)lg->last_seq, lg->flags);
					lags++;
				}
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			perror("replay-repro: read");
			return 2;
		}
		rep = evt_replaying(rd);
		if (rep == 0)
			break;
		poll(&pf, 1, 10);
	}
	rep = evt_replaying(rd);
	printf("replay-repro: after %d reads: %d events, %d LAGGED records, fdinfo evbus-replaying %d\n",
	       i, events, lags, rep);
	if (rep != 0 || !got_after) {
		printf("replay-repro: FAIL: the replay %s\n", rep ? "never gets past the event larger than the ring" :
		       "went live without the event after the big one");
		return 1;
	}
	printf("replay-repro: PASS\n");
	return 0;
}
