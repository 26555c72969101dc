/*
 * test_reactor_clock.c - the reactor's cached clock (reactor_now_ms())
 * as a handler sees it, on both event loops. Delays and timeouts are
 * computed from it (a refused CHAP login is answered LOGIN_AUTH_DELAY_MS
 * later, login and NOP timeouts): a handler that ran after a wait must
 * see the time after that wait, not the time the loop went to sleep.
 * Before the fix it saw the latter, up to a whole tick early, and a
 * refused login was answered within milliseconds instead of after the
 * delay (it-auth caught it once under load).
 *
 * The loop is woken by reactor_post() every 600 ms, so at least two of
 * five wake-ups follow a wait of 600 ms with no tick in it (ticks are
 * 1000 ms apart). Each handler compares reactor_now_ms() with the clock:
 * the difference must stay well below the wait.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "reactor/reactor.h"

#define POSTS 5
#define GAP_MS 600
/* far below GAP_MS: what a stale clock would show */
#define STALE_MAX_MS 300

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct {
	struct reactor *r;
	pthread_t thread;
	atomic_int seen;
	atomic_uint_fast64_t stale[POSTS + 1];
} loop;

static void *loop_main(void *arg)
{
	(void)arg;
	reactor_run(loop.r);
	return NULL;
}

/* On the reactor: how far behind the clock its cached time is. */
static void record(void *arg)
{
	int i = (int)(intptr_t)arg;
	uint64_t now = mono_ms(), cached = reactor_now_ms(loop.r);

	atomic_store(&loop.stale[i], now > cached ? now - cached : 0);
	atomic_fetch_add(&loop.seen, 1);
}

/* Waits (bounded) until @n posts ran. */
static void wait_seen(int n)
{
	for (int k = 0; k < 500 && atomic_load(&loop.seen) < n; k++)
		usleep(10 * 1000);
	cr_assert_geq(atomic_load(&loop.seen), n, "post %d did not run "
		      "within 5 s", n);
}

ParameterizedTestParameters(reactor_clock, fresh_after_a_wait)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, reactor_clock, fresh_after_a_wait,
		  .timeout = 60)
{
	uint64_t worst = 0;

	loop.r = reactor_new(*kind, 0);
	cr_assert_not_null(loop.r, "reactor_new");
	atomic_store(&loop.seen, 0);
	cr_assert_eq(pthread_create(&loop.thread, NULL, loop_main, NULL), 0);
	/* the loop runs once it has handled a first post */
	cr_assert_eq(reactor_post(loop.r, record, (void *)(intptr_t)0), 0);
	wait_seen(1);
	for (int i = 1; i <= POSTS; i++) {
		usleep(GAP_MS * 1000);
		cr_assert_eq(reactor_post(loop.r, record, (void *)(intptr_t)i), 0);
		wait_seen(i + 1);
		worst = MAX(worst, atomic_load(&loop.stale[i]));
	}
	reactor_stop(loop.r);
	pthread_join(loop.thread, NULL);
	reactor_free(loop.r);
	cr_expect_lt(worst, STALE_MAX_MS, "a handler saw reactor_now_ms() "
		     "%llu ms behind the clock after a %d ms wait",
		     (unsigned long long)worst, GAP_MS);
}
