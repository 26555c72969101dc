/*
 * addrcount.c - see addrcount.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addrcount.h"

struct addrcount_entry {
	uint8_t key[16];
	unsigned count;			/* 0: empty slot */
};

struct addrcount {
	unsigned mask;			/* slots - 1 */
	unsigned max_keys, keys;
	struct addrcount_entry e[];
};

static uint32_t key_hash(const uint8_t key[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h ^ (h >> 16);
}

struct addrcount *addrcount_new(unsigned max_keys)
{
	unsigned slots = 16;
	struct addrcount *t;

	/* at most half full: probes stay short */
	while (slots < 2 * (size_t)max_keys && slots < (1u << 30))
		slots <<= 1;
	t = calloc(1, sizeof(*t) + slots * sizeof(t->e[0]));
	if (!t)
		return NULL;
	t->mask = slots - 1;
	t->max_keys = max_keys;
	return t;
}

void addrcount_free(struct addrcount *t)
{
	free(t);
}

/* The slot holding @key, or the empty slot where it would go. */
static struct addrcount_entry *find(const struct addrcount *t,
				    const uint8_t key[16])
{
	unsigned i = key_hash(key) & t->mask;

	for (;;) {
		const struct addrcount_entry *e = &t->e[i];

		if (!e->count || memcmp(e->key, key, 16) == 0)
			return (struct addrcount_entry *)e;
		i = (i + 1) & t->mask;
	}
}

int addrcount_inc(struct addrcount *t, const uint8_t key[16], unsigned limit)
{
	struct addrcount_entry *e = find(t, key);

	if (e->count) {
		if (e->count >= limit)
			return -EBUSY;
		return (int)++e->count;
	}
	if (limit == 0)
		return -EBUSY;
	if (t->keys >= t->max_keys)
		return -ENOSPC;
	memcpy(e->key, key, 16);
	e->count = 1;
	t->keys++;
	return 1;
}

int addrcount_dec(struct addrcount *t, const uint8_t key[16])
{
	struct addrcount_entry *e = find(t, key);
	unsigned hole, i;

	if (!e->count)
		return -ENOENT;
	if (--e->count)
		return 0;
	t->keys--;
	/*
	 * Backward-shift deletion: move later entries of the probe run
	 * into the hole when their home slot does not lie after it.
	 */
	hole = (unsigned)(e - t->e);
	i = hole;
	for (;;) {
		unsigned home;

		i = (i + 1) & t->mask;
		if (!t->e[i].count)
			break;
		home = key_hash(t->e[i].key) & t->mask;
		/* is home cyclically in (hole, i]? then it stays */
		if (hole <= i ? (home > hole && home <= i) :
				(home > hole || home <= i))
			continue;
		t->e[hole] = t->e[i];
		hole = i;
	}
	t->e[hole].count = 0;
	return 0;
}

unsigned addrcount_get(const struct addrcount *t, const uint8_t key[16])
{
	return find(t, key)->count;
}

unsigned addrcount_keys(const struct addrcount *t)
{
	return t->keys;
}
