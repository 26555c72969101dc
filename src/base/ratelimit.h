/*
 * ratelimit.h - how often a log line may go out: a fixed-window limiter
 * (at most `burst` lines per `interval_ms`, the first one at once), and a
 * fixed-size table of limiters keyed by a 16-byte address, for "per
 * source" limits that a peer cannot grow.
 *
 * Pure: the caller passes the time, so tests drive the clock. Not
 * thread-safe: one owner thread per limiter and per table (a connection's
 * limiter lives in the connection; a table lives in its reactor).
 */
#ifndef RINGTGT_RATELIMIT_H
#define RINGTGT_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit_cfg {
	uint32_t interval_ms;
	uint32_t burst;			/* lines per interval, >= 1 */
};

/* Zero-initialised: the next line goes out. */
struct ratelimit {
	uint64_t start_ms;		/* start of the current interval */
	uint32_t used;			/* lines let through in it */
	uint32_t suppressed;		/* held back since the last one let through */
};

/* True when a line may go out at @now_ms (changes nothing). */
bool ratelimit_ready(const struct ratelimit *rl,
		     const struct ratelimit_cfg *cfg, uint64_t now_ms);
/*
 * Counts a line that goes out at @now_ms; returns how many were held back
 * since the previous one, and starts counting again from zero.
 */
uint32_t ratelimit_take(struct ratelimit *rl, const struct ratelimit_cfg *cfg,
			uint64_t now_ms);
/* Counts a line held back. */
void ratelimit_drop(struct ratelimit *rl);
/*
 * ready ? take : drop. True when the line goes out; then *suppressed
 * (when not NULL) is the count take() returned.
 */
bool ratelimit_allow(struct ratelimit *rl, const struct ratelimit_cfg *cfg,
		     uint64_t now_ms, uint32_t *suppressed);

/* --- per source --------------------------------------------------------- */

#define RATELIMIT_SLOTS 256		/* power of two */
#define RATELIMIT_PROBE 4		/* slots looked at per key */

struct ratelimit_slot {
	uint8_t key[16];
	bool used;
	bool shared;			/* other keys were counted here too */
	struct ratelimit rl;
};

struct ratelimit_table {
	uint32_t seed;			/* hash seed: collisions not chosen by peers */
	struct ratelimit_slot slot[RATELIMIT_SLOTS];
};

void ratelimit_table_init(struct ratelimit_table *t, uint32_t seed);
/*
 * The limiter for @key. Looks at RATELIMIT_PROBE slots: the key's own, or
 * else a free or idle one (its interval over, nothing held back) is taken
 * over; when all are busy with other keys, @key shares the first of them
 * (marked shared). Never allocates: however many keys a peer uses, the
 * table lets at most burst lines per slot per interval through.
 */
struct ratelimit_slot *ratelimit_table_get(struct ratelimit_table *t,
					   const uint8_t key[16],
					   const struct ratelimit_cfg *cfg,
					   uint64_t now_ms);

#endif
