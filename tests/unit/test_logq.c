/*
 * test_logq.c - the bounded log queue (base/logq.h) and the logging
 * thread behind syslog mode (base/log.c): a sink that does not take lines
 * never blocks the thread that logs; what did not fit is counted and
 * reported.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/logq.h"

Test(logq, fifo_and_full)
{
	struct logq q;
	char buf[LOGQ_LINE];
	int lvl;

	cr_assert_eq(logq_init(&q, 4), 0);
	cr_assert_not(logq_pop(&q, &lvl, buf, sizeof(buf)));
	for (int i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "line %d", i);
		cr_assert(logq_push(&q, i, buf));
	}
	cr_assert_not(logq_push(&q, 9, "no room"));
	cr_assert_not(logq_push(&q, 9, "no room"));
	cr_assert_eq(logq_dropped_take(&q), 2);
	cr_assert_eq(logq_dropped_take(&q), 0);
	for (int i = 0; i < 4; i++) {
		char want[16];

		cr_assert(logq_pop(&q, &lvl, buf, sizeof(buf)));
		snprintf(want, sizeof(want), "line %d", i);
		cr_assert_str_eq(buf, want);
		cr_assert_eq(lvl, i);
	}
	cr_assert_not(logq_pop(&q, &lvl, buf, sizeof(buf)));
	cr_assert(logq_push(&q, 1, "again"), "room after popping");
	logq_destroy(&q);
}

Test(logq, long_lines_are_cut)
{
	struct logq q;
	char big[LOGQ_LINE * 2], buf[LOGQ_LINE];
	int lvl;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(logq_init(&q, 2), 0);
	cr_assert(logq_push(&q, 0, big));
	cr_assert(logq_pop(&q, &lvl, buf, sizeof(buf)));
	cr_assert_eq(strlen(buf), LOGQ_LINE - 1);
	logq_destroy(&q);
	cr_assert_eq(logq_init(&q, 3), -EINVAL);
}

/* Four producers, one consumer: every line arrives whole or is counted. */
#define PRODUCERS 4
#define PER_PRODUCER 50000

static struct logq mq;
static atomic_int finished;

static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char line[64];

	for (int i = 0; i < PER_PRODUCER; i++) {
		snprintf(line, sizeof(line), "p%d n%d end", id, i);
		logq_push(&mq, id, line);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

Test(logq, producers_lose_nothing_uncounted, .timeout = 60)
{
	pthread_t tid[PRODUCERS];
	int last[PRODUCERS];
	unsigned popped = 0, dropped;
	char buf[LOGQ_LINE];
	int lvl;

	cr_assert_eq(logq_init(&mq, 64), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		last[i] = -1;
		pthread_create(&tid[i], NULL, producer, (void *)(intptr_t)i);
	}
	for (;;) {
		/* read before popping: an empty queue then means the end */
		bool all_done = atomic_load(&finished) == PRODUCERS;
		int id, n;
		char end[8];

		if (!logq_pop(&mq, &lvl, buf, sizeof(buf))) {
			if (all_done)
				break;
			continue;
		}
		cr_assert_eq(sscanf(buf, "p%d n%d %7s", &id, &n, end), 3,
			     "torn line \"%s\"", buf);
		cr_assert_str_eq(end, "end");
		cr_assert_eq(lvl, id);
		cr_assert_gt(n, last[id], "producer %d out of order", id);
		last[id] = n;
		popped++;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(tid[i], NULL);
	dropped = logq_dropped_take(&mq);
	cr_assert_eq(popped + dropped, PRODUCERS * PER_PRODUCER,
		     "%u popped + %u dropped", popped, dropped);
	logq_destroy(&mq);
}

/* --- the logging thread (syslog mode) ------------------------------------ */

#define LINES 10000

static sem_t gate;
static atomic_uint written, reported_dropped;
static atomic_bool first_seen;

/* A sink stuck on its first line until the test opens the gate. */
static void stuck_writer(void *arg, enum log_level lvl, const char *line)
{
	unsigned n;

	(void)arg;
	(void)lvl;
	if (sscanf(line, "%u log line", &n) == 1 && strstr(line, "dropped")) {
		atomic_fetch_add(&reported_dropped, n);
		return;
	}
	atomic_fetch_add(&written, 1);
	if (!atomic_exchange(&first_seen, true))
		while (sem_wait(&gate) < 0)
			;
}

static atomic_bool logged_all;

static void *log_lines(void *arg)
{
	(void)arg;
	for (int i = 0; i < LINES; i++)
		log_info("line %d of a flood", i);
	atomic_store(&logged_all, true);
	return NULL;
}

/*
 * Issue 8, item 11: with syslog stuck (the sink does not return), a
 * thread that logs (a reactor) goes on; lines that did not fit are
 * dropped and their number reported once the sink moves again.
 */
Test(log, stuck_syslog_never_blocks_the_caller, .timeout = 60)
{
	pthread_t tid;

	sem_init(&gate, 0, 0);
	log_set_writer(stuck_writer, NULL);
	log_init("test_logq", false, LOG_LVL_INFO);
	pthread_create(&tid, NULL, log_lines, NULL);
	for (int i = 0; i < 1000 && !atomic_load(&logged_all); i++)
		usleep(10000);
	cr_assert(atomic_load(&logged_all), "logging blocked while the sink "
		  "was stuck: %u lines written", atomic_load(&written));
	pthread_join(tid, NULL);
	/* the writer thread takes its first line when it is scheduled */
	for (int i = 0; i < 1000 && !atomic_load(&first_seen); i++)
		usleep(10000);
	cr_assert(atomic_load(&first_seen), "the sink never got a line");
	sem_post(&gate);
	for (int i = 0; i < 1000 && atomic_load(&written) +
			atomic_load(&reported_dropped) < LINES; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&written) + atomic_load(&reported_dropped),
		     LINES, "%u written + %u reported dropped",
		     atomic_load(&written), atomic_load(&reported_dropped));
	cr_assert_gt(atomic_load(&reported_dropped), 0);
	log_set_writer(NULL, NULL);
}
