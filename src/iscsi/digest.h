/*
 * digest.h - CRC32C header and data digests (RFC 7143 §12.1), computed
 * with ISA-L, which uses the CPU's crc32 instruction (and carry-less
 * multiply folding) where present.
 */
#ifndef RINGTGT_DIGEST_H
#define RINGTGT_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Running CRC: start with crc32c_init(), feed, then crc32c_final(). */
static inline uint32_t crc32c_init(void)
{
	return 0xffffffffu;
}
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);
static inline uint32_t crc32c_final(uint32_t crc)
{
	return ~crc;
}
uint32_t crc32c(const void *buf, size_t len);
/* The digest travels least significant byte first. */
void digest_put(uint8_t out[4], uint32_t crc);
uint32_t digest_get(const uint8_t in[4]);

#endif
