/*
 * logq.c - see logq.h. Each slot carries a sequence number: a producer
 * claims position p when slot[p].seq == p (free for this lap), fills it
 * and publishes p + 1; the consumer reads position p when slot.seq ==
 * p + 1 and frees it for the next lap with p + capacity.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logq.h"

int logq_init(struct logq *q, size_t capacity)
{
	if (capacity < 2 || (capacity & (capacity - 1)))
		return -EINVAL;
	q->slot = calloc(capacity, sizeof(*q->slot));
	if (!q->slot)
		return -ENOMEM;
	for (size_t i = 0; i < capacity; i++)
		atomic_init(&q->slot[i].seq, i);
	q->mask = capacity - 1;
	atomic_init(&q->head, 0);
	q->tail = 0;
	atomic_init(&q->dropped, 0);
	return 0;
}

void logq_destroy(struct logq *q)
{
	free(q->slot);
	q->slot = NULL;
}

bool logq_push(struct logq *q, int level, const char *line)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct logq_slot *s;

	for (;;) {
		size_t seq;
		intptr_t dif;

		s = &q->slot[pos & q->mask];
		seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		dif = (intptr_t)seq - (intptr_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &q->head, &pos, pos + 1,
				    memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* the consumer has not freed this slot: full */
			atomic_fetch_add_explicit(&q->dropped, 1,
						  memory_order_relaxed);
			return false;
		} else {
			pos = atomic_load_explicit(&q->head,
						   memory_order_relaxed);
		}
	}
	s->level = level;
	strncpy(s->line, line, LOGQ_LINE - 1);
	s->line[LOGQ_LINE - 1] = '\0';
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	return true;
}

bool logq_pop(struct logq *q, int *level, char *buf, size_t len)
{
	struct logq_slot *s = &q->slot[q->tail & q->mask];
	size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);

	if (seq != q->tail + 1)
		return false;
	*level = s->level;
	if (len) {
		strncpy(buf, s->line, len - 1);
		buf[len - 1] = '\0';
	}
	atomic_store_explicit(&s->seq, q->tail + q->mask + 1,
			      memory_order_release);
	q->tail++;
	return true;
}

unsigned logq_dropped_take(struct logq *q)
{
	return atomic_exchange_explicit(&q->dropped, 0, memory_order_relaxed);
}
