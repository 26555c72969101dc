/*
 * addrcount.h - counters keyed by a 16-byte address (IPv6, or IPv4 mapped
 * into it), for "connections per source address". The table is sized once
 * for the most keys that can be live at a time (each live key counts at
 * least one connection, so the overall connection limit bounds them); an
 * entry goes away when its count drops to zero, so a peer cannot fill it.
 *
 * Open addressing with linear probing and backward-shift deletion, no
 * allocation after addrcount_new(). Not thread-safe: the caller locks.
 */
#ifndef RINGTGT_ADDRCOUNT_H
#define RINGTGT_ADDRCOUNT_H

#include <stdint.h>

struct addrcount;

/* A table for up to @max_keys live keys; NULL when out of memory. */
struct addrcount *addrcount_new(unsigned max_keys);
void addrcount_free(struct addrcount *t);
/*
 * Adds one to @key's count when it is below @limit: returns the new
 * count, -EBUSY when it is at @limit, -ENOSPC when max_keys keys are live.
 */
int addrcount_inc(struct addrcount *t, const uint8_t key[16], unsigned limit);
/* Takes one off @key's count (the entry goes at zero); 0 or -ENOENT. */
int addrcount_dec(struct addrcount *t, const uint8_t key[16]);
/* @key's count (0 when absent). */
unsigned addrcount_get(const struct addrcount *t, const uint8_t key[16]);
/* Keys with a nonzero count. */
unsigned addrcount_keys(const struct addrcount *t);

#endif
