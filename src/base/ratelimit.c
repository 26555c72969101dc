/*
 * ratelimit.c - log rate limiting (see ratelimit.h): fixed windows, and a
 * bounded table of them keyed by address.
 */
#include <string.h>

#include "ratelimit.h"

static bool window_over(const struct ratelimit *rl,
			const struct ratelimit_cfg *cfg, uint64_t now_ms)
{
	return now_ms - rl->start_ms >= cfg->interval_ms;
}

bool ratelimit_ready(const struct ratelimit *rl,
		     const struct ratelimit_cfg *cfg, uint64_t now_ms)
{
	return rl->used < cfg->burst || window_over(rl, cfg, now_ms);
}

uint32_t ratelimit_take(struct ratelimit *rl, const struct ratelimit_cfg *cfg,
			uint64_t now_ms)
{
	uint32_t n = rl->suppressed;

	if (rl->used == 0 || window_over(rl, cfg, now_ms)) {
		rl->start_ms = now_ms;
		rl->used = 0;
	}
	rl->used++;
	rl->suppressed = 0;
	return n;
}

void ratelimit_drop(struct ratelimit *rl)
{
	if (rl->suppressed < UINT32_MAX)
		rl->suppressed++;
}

bool ratelimit_allow(struct ratelimit *rl, const struct ratelimit_cfg *cfg,
		     uint64_t now_ms, uint32_t *suppressed)
{
	uint32_t n;

	if (!ratelimit_ready(rl, cfg, now_ms)) {
		ratelimit_drop(rl);
		return false;
	}
	n = ratelimit_take(rl, cfg, now_ms);
	if (suppressed)
		*suppressed = n;
	return true;
}

void ratelimit_table_init(struct ratelimit_table *t, uint32_t seed)
{
	memset(t, 0, sizeof(*t));
	t->seed = seed;
}

/* FNV-1a over the key, mixed with the seed. */
static uint32_t key_hash(uint32_t seed, const uint8_t key[16])
{
	uint32_t h = 2166136261u ^ seed;

	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h ^ (h >> 15);
}

/* Free, or nothing to remember: its interval is over, nothing held back. */
static bool slot_idle(const struct ratelimit_slot *s,
		      const struct ratelimit_cfg *cfg, uint64_t now_ms)
{
	return !s->used || (s->rl.suppressed == 0 &&
			    (s->rl.used == 0 || window_over(&s->rl, cfg, now_ms)));
}

struct ratelimit_slot *ratelimit_table_get(struct ratelimit_table *t,
					   const uint8_t key[16],
					   const struct ratelimit_cfg *cfg,
					   uint64_t now_ms)
{
	uint32_t h = key_hash(t->seed, key);
	struct ratelimit_slot *take = NULL, *s;

	for (uint32_t i = 0; i < RATELIMIT_PROBE; i++) {
		s = &t->slot[(h + i) & (RATELIMIT_SLOTS - 1)];
		if (s->used && memcmp(s->key, key, 16) == 0)
			return s;
		if (!take && slot_idle(s, cfg, now_ms))
			take = s;
	}
	if (take) {
		memset(take, 0, sizeof(*take));
		memcpy(take->key, key, 16);
		take->used = true;
		return take;
	}
	s = &t->slot[h & (RATELIMIT_SLOTS - 1)];
	s->shared = true;
	return s;
}
