/*
 * buf.c - data buffers for commands, cached per thread by power-of-two
 * size class so the I/O path does not call the allocator. Buffers are
 * page aligned (O_DIRECT-ready) and returned to the thread that frees
 * them; each class keeps a bounded number, and a thread at most 64 MiB
 * in all (what a flood of large commands leaves behind is given back).
 */
#include <stdlib.h>

#include "iscsi_internal.h"

#define CLASS_MIN_SHIFT 12	/* 4 KiB */
#define CLASS_COUNT 14		/* up to 32 MiB */
#define CLASS_KEEP 64

struct free_buf {
	struct free_buf *next;
};

#define CACHE_MAX (64u << 20)	/* bytes a thread keeps, all classes */

static _Thread_local struct {
	struct free_buf *head;
	unsigned count;
} cache[CLASS_COUNT];
static _Thread_local uint64_t cached;	/* bytes in cache[] */

static int size_class(uint32_t size)
{
	int c = 0;

	while (c < CLASS_COUNT && (1u << (c + CLASS_MIN_SHIFT)) < size)
		c++;
	return c;
}

uint32_t iobuf_cap(uint32_t size)
{
	int c = size_class(size);

	return c == CLASS_COUNT ? 0 : 1u << (c + CLASS_MIN_SHIFT);
}

void *iobuf_get(uint32_t size, uint32_t *cap)
{
	int c = size_class(size);
	void *p;

	if (c == CLASS_COUNT)
		return NULL;
	*cap = 1u << (c + CLASS_MIN_SHIFT);
	if (cache[c].head) {
		p = cache[c].head;
		cache[c].head = cache[c].head->next;
		cache[c].count--;
		cached -= *cap;
		return p;
	}
	if (posix_memalign(&p, 4096, *cap))
		return NULL;
	return p;
}

void iobuf_put(void *buf, uint32_t cap)
{
	int c = size_class(cap);
	struct free_buf *f = buf;

	if (c == CLASS_COUNT || cache[c].count >= CLASS_KEEP ||
	    cached + cap > CACHE_MAX) {
		free(buf);
		return;
	}
	f->next = cache[c].head;
	cache[c].head = f;
	cache[c].count++;
	cached += cap;
}

void iobuf_drain(void)
{
	for (int c = 0; c < CLASS_COUNT; c++) {
		while (cache[c].head) {
			struct free_buf *f = cache[c].head;

			cache[c].head = f->next;
			free(f);
		}
		cache[c].count = 0;
	}
	cached = 0;
}
