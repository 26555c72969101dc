/*
 * logq.h - a bounded queue of log lines from any thread to one logging
 * thread (Vyukov's bounded queue, many producers, one consumer). Pushing
 * never blocks and never allocates: when the queue is full the line is
 * dropped and counted, so a reactor thread never waits for a slow log
 * sink (a stuck syslog socket).
 */
#ifndef RINGTGT_LOGQ_H
#define RINGTGT_LOGQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define LOGQ_LINE 512			/* bytes per line, NUL included */

struct logq_slot {
	atomic_size_t seq;
	int level;
	char line[LOGQ_LINE];
};

struct logq {
	size_t mask;
	atomic_size_t head;		/* producers claim here */
	size_t tail;			/* the consumer's */
	atomic_uint dropped;
	struct logq_slot *slot;
};

/* @capacity: a power of two >= 2. 0 or -ENOMEM / -EINVAL. */
int logq_init(struct logq *q, size_t capacity);
void logq_destroy(struct logq *q);
/* Any thread: copies @line (truncated); false when full (counted). */
bool logq_push(struct logq *q, int level, const char *line);
/* The one consumer: the oldest line into @buf; false when empty. */
bool logq_pop(struct logq *q, int *level, char *buf, size_t len);
/* Lines dropped since the last call (and resets the count). */
unsigned logq_dropped_take(struct logq *q);

#endif
