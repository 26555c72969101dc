/*
 * fault.h - failure injection for tests: makes chosen allocation and post
 * sites fail on demand, so the paths that handle "out of memory" or "queue
 * full" are exercised (issue: no lost completion).
 *
 * A site asks fault_hit(FAULT_X) just before the operation that may fail
 * and treats true as that operation failing. Nothing is armed in normal
 * runs: the check is one relaxed atomic load of a zero counter.
 */
#ifndef RINGTGT_FAULT_H
#define RINGTGT_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>

enum fault_site {
	FAULT_POST_ALLOC,	/* reactor_post(): the message allocation */
	FAULT_TASK_GET,		/* a SCSI command finds no free task */
	FAULT_IOBUF_ALLOC,	/* a command's data buffer */
	FAULT_TMF_ALLOC,	/* the task management fence */
	FAULT_SITE_COUNT,
};

extern _Atomic int fault_armed[FAULT_SITE_COUNT];

/* Makes the next @count hits of @site fail (thread-safe). */
static inline void fault_arm(enum fault_site site, int count)
{
	atomic_store(&fault_armed[site], count);
}

static inline bool fault_hit(enum fault_site site)
{
	int n = atomic_load_explicit(&fault_armed[site], memory_order_relaxed);

	while (n > 0) {
		if (atomic_compare_exchange_weak(&fault_armed[site], &n, n - 1))
			return true;
	}
	return false;
}

#endif
