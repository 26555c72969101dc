/*
 * test_ratelimit.c - the log rate limiter and its per-address table
 * (base/ratelimit.h), and the per-address connection counters
 * (base/addrcount.h), on an injected clock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/addrcount.h"
#include "base/ratelimit.h"

static const struct ratelimit_cfg one = { 10000, 1 };

static void key_of(uint8_t key[16], uint32_t n)
{
	memset(key, 0, 16);
	key[10] = key[11] = 0xff;
	key[12] = (uint8_t)(n >> 24);
	key[13] = (uint8_t)(n >> 16);
	key[14] = (uint8_t)(n >> 8);
	key[15] = (uint8_t)n;
}

/* The first line goes out, then one per interval; the next says how many. */
Test(ratelimit, first_then_one_per_interval)
{
	struct ratelimit rl = { 0 };
	uint32_t n = 99;

	cr_assert(ratelimit_allow(&rl, &one, 5000, &n));
	cr_assert_eq(n, 0);
	for (uint64_t t = 5001; t < 15000; t += 7)
		cr_assert_not(ratelimit_allow(&rl, &one, t, &n), "at %lu",
			      (unsigned long)t);
	cr_assert(ratelimit_allow(&rl, &one, 15000, &n));
	cr_assert_eq(n, (15000 - 5001 + 6) / 7, "%u suppressed", n);
	cr_assert_not(ratelimit_allow(&rl, &one, 15001, NULL));
	/* quiet for long: the next one goes at once, one held back */
	cr_assert(ratelimit_allow(&rl, &one, 100000, &n));
	cr_assert_eq(n, 1);
}

Test(ratelimit, burst_per_interval)
{
	const struct ratelimit_cfg b3 = { 1000, 3 };
	struct ratelimit rl = { 0 };
	unsigned out = 0;

	/* 10 s of one attempt per ms: 3 per started second at most */
	for (uint64_t t = 1; t <= 10000; t++)
		out += ratelimit_allow(&rl, &b3, t, NULL);
	cr_assert_leq(out, 30u);
	cr_assert_geq(out, 27u);
}

Test(ratelimit, ready_changes_nothing)
{
	struct ratelimit rl = { 0 };

	cr_assert(ratelimit_ready(&rl, &one, 1));
	cr_assert(ratelimit_ready(&rl, &one, 1));
	cr_assert_eq(ratelimit_take(&rl, &one, 1), 0);
	cr_assert_not(ratelimit_ready(&rl, &one, 2));
	ratelimit_drop(&rl);
	ratelimit_drop(&rl);
	cr_assert_eq(rl.suppressed, 2);
	cr_assert_eq(ratelimit_take(&rl, &one, 10001), 2);
	cr_assert_eq(rl.suppressed, 0);
}

Test(ratelimit, table_same_key_same_limiter)
{
	static struct ratelimit_table t;
	uint8_t a[16], b[16];
	struct ratelimit_slot *sa, *sb;

	ratelimit_table_init(&t, 1234);
	key_of(a, 1);
	key_of(b, 2);
	sa = ratelimit_table_get(&t, a, &one, 0);
	cr_assert(ratelimit_allow(&sa->rl, &one, 0, NULL));
	cr_assert_eq(ratelimit_table_get(&t, a, &one, 1), sa);
	sb = ratelimit_table_get(&t, b, &one, 1);
	cr_assert_neq(sb, sa);
	cr_assert(ratelimit_allow(&sb->rl, &one, 1, NULL),
		  "another address has its own limit");
	cr_assert_not(ratelimit_allow(&sa->rl, &one, 2, NULL));
}

/*
 * However many addresses a peer uses, the table lets at most one line
 * per slot per interval through: it never grows, and new addresses
 * share busy slots rather than getting fresh limiters.
 */
Test(ratelimit, table_bounded_by_slots)
{
	static struct ratelimit_table t;
	unsigned out = 0;

	ratelimit_table_init(&t, 42);
	for (uint32_t i = 0; i < 100000; i++) {
		uint8_t k[16];
		struct ratelimit_slot *s;

		key_of(k, i);
		s = ratelimit_table_get(&t, k, &one, 5000 + i / 100);
		out += ratelimit_allow(&s->rl, &one, 5000 + i / 100, NULL);
	}
	/* 1 s of clock: one interval */
	cr_assert_leq(out, RATELIMIT_SLOTS, "%u lines", out);
	cr_assert_geq(out, RATELIMIT_SLOTS / 2, "%u lines", out);
}

/* An idle slot is taken over; one in its interval or holding a count is not. */
Test(ratelimit, table_reuses_idle_slots_only)
{
	static struct ratelimit_table t;
	uint8_t k[16];
	struct ratelimit_slot *s;

	ratelimit_table_init(&t, 7);
	/* fill every slot: a line went out for each address at t=0 */
	for (uint32_t i = 0; i < 100 * RATELIMIT_SLOTS; i++) {
		key_of(k, i);
		s = ratelimit_table_get(&t, k, &one, 0);
		ratelimit_allow(&s->rl, &one, 0, NULL);
	}
	for (int i = 0; i < RATELIMIT_SLOTS; i++)
		cr_assert(t.slot[i].used, "slot %d", i);
	/* within the interval a newcomer shares a busy slot: no line */
	key_of(k, 5000000);
	s = ratelimit_table_get(&t, k, &one, 1);
	cr_assert(s->shared);
	cr_assert_not(ratelimit_allow(&s->rl, &one, 1, NULL));
	/* an interval later, a slot with nothing held back is taken over */
	for (int i = 0; i < RATELIMIT_SLOTS; i++)
		t.slot[i].rl.suppressed = 0;
	key_of(k, 6000000);
	s = ratelimit_table_get(&t, k, &one, 20000);
	cr_assert_not(s->shared);
	cr_assert_eq(memcmp(s->key, k, 16), 0);
	cr_assert(ratelimit_allow(&s->rl, &one, 20000, NULL));
	/* one still holding a count is kept until it is reported */
	for (int i = 0; i < RATELIMIT_SLOTS; i++) {
		t.slot[i].rl.suppressed = 1;
		t.slot[i].shared = false;
	}
	key_of(k, 7000000);
	s = ratelimit_table_get(&t, k, &one, 40000);
	cr_assert(s->shared);
	cr_assert_eq(s->rl.suppressed, 1);
}

Test(addrcount, limit_per_key_and_release)
{
	struct addrcount *t = addrcount_new(8);
	uint8_t a[16], b[16];

	cr_assert_not_null(t);
	key_of(a, 1);
	key_of(b, 2);
	cr_assert_eq(addrcount_inc(t, a, 2), 1);
	cr_assert_eq(addrcount_inc(t, a, 2), 2);
	cr_assert_eq(addrcount_inc(t, a, 2), -EBUSY);
	cr_assert_eq(addrcount_inc(t, b, 2), 1, "another address is apart");
	cr_assert_eq(addrcount_get(t, a), 2);
	cr_assert_eq(addrcount_dec(t, a), 0);
	cr_assert_eq(addrcount_inc(t, a, 2), 2, "a place was given back");
	cr_assert_eq(addrcount_dec(t, a), 0);
	cr_assert_eq(addrcount_dec(t, a), 0);
	cr_assert_eq(addrcount_get(t, a), 0);
	cr_assert_eq(addrcount_keys(t), 1);
	cr_assert_eq(addrcount_dec(t, a), -ENOENT);
	addrcount_free(t);
}

Test(addrcount, full_table_refuses_new_keys)
{
	struct addrcount *t = addrcount_new(4);
	uint8_t k[16];

	for (uint32_t i = 0; i < 4; i++) {
		key_of(k, i);
		cr_assert_eq(addrcount_inc(t, k, 10), 1);
	}
	key_of(k, 99);
	cr_assert_eq(addrcount_inc(t, k, 10), -ENOSPC);
	key_of(k, 0);
	cr_assert_eq(addrcount_inc(t, k, 10), 2, "known keys still count");
	addrcount_free(t);
}

/*
 * Many keys in and out in a mixed order (probe runs, deletions in the
 * middle of them): every count stays right and the table ends empty.
 */
Test(addrcount, churn_keeps_counts)
{
	enum { N = 600, CAP = 512 };
	static unsigned want[N];
	struct addrcount *t = addrcount_new(CAP);
	uint32_t x = 1;

	for (int round = 0; round < 200000; round++) {
		uint8_t k[16];
		uint32_t i;

		x = x * 1103515245u + 12345u;
		i = (x >> 8) % N;
		key_of(k, i * 2654435761u);
		if ((x >> 4) & 1) {
			int rc = addrcount_inc(t, k, 3);

			if (rc > 0)
				want[i]++;
			else
				cr_assert(rc == -EBUSY ? want[i] == 3 :
					  rc == -ENOSPC && want[i] == 0 &&
					  addrcount_keys(t) == CAP,
					  "rc %d count %u", rc, want[i]);
		} else if (want[i]) {
			cr_assert_eq(addrcount_dec(t, k), 0);
			want[i]--;
		}
		cr_assert_eq(addrcount_get(t, k), want[i], "key %u", i);
	}
	for (uint32_t i = 0; i < N; i++) {
		uint8_t k[16];

		key_of(k, i * 2654435761u);
		cr_assert_eq(addrcount_get(t, k), want[i], "key %u", i);
		while (want[i]--)
			cr_assert_eq(addrcount_dec(t, k), 0);
	}
	cr_assert_eq(addrcount_keys(t), 0);
	addrcount_free(t);
}
