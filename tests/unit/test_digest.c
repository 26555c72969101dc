/*
 * test_digest.c - CRC32C (RFC 7143 §12.1) against the known vectors of
 * RFC 3720 Appendix B.4, incremental against one-shot, and the byte order
 * the digest travels in.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "iscsi/digest.h"

struct vec {
	char name[16];
	uint8_t data[32];
	size_t len;
	uint32_t crc;
};

static struct vec vectors[6];

static void vectors_init(void)
{
	memset(&vectors, 0, sizeof(vectors));
	vectors[0] = (struct vec){ .name = "32 zeros", .len = 32,
				   .crc = 0x8a9136aa };
	vectors[1] = (struct vec){ .name = "32 0xff", .len = 32,
				   .crc = 0x62a8ab43 };
	memset(vectors[1].data, 0xff, 32);
	vectors[2] = (struct vec){ .name = "ascending", .len = 32,
				   .crc = 0x46dd794e };
	vectors[3] = (struct vec){ .name = "descending", .len = 32,
				   .crc = 0x113fdb5c };
	for (int i = 0; i < 32; i++) {
		vectors[2].data[i] = (uint8_t)i;
		vectors[3].data[i] = (uint8_t)(31 - i);
	}
	vectors[4] = (struct vec){ .name = "123456789", .len = 9,
				   .crc = 0xe3069283 };
	memcpy(vectors[4].data, "123456789", 9);
	vectors[5] = (struct vec){ .name = "empty", .len = 0, .crc = 0 };
}

Test(digest, rfc3720_vectors, .init = vectors_init)
{
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++)
		cr_assert_eq(crc32c(vectors[i].data, vectors[i].len),
			     vectors[i].crc, "%s: got 0x%08x want 0x%08x",
			     vectors[i].name,
			     crc32c(vectors[i].data, vectors[i].len),
			     vectors[i].crc);
}

/* An iSCSI SCSI Read PDU from RFC 3720 B.4 (48-byte BHS). */
Test(digest, rfc3720_read_pdu)
{
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	cr_assert_eq(crc32c(pdu, sizeof(pdu)), 0xd9963a56u, "got 0x%08x",
		     crc32c(pdu, sizeof(pdu)));
}

Test(digest, incremental_equals_oneshot)
{
	enum { N = 10000 };
	uint8_t *buf = malloc(N);
	uint32_t one, crc;

	cr_assert_not_null(buf);
	for (int i = 0; i < N; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	one = crc32c(buf, N);
	/* every split point of a prefix, and odd-sized chunks overall */
	for (size_t split = 0; split <= 67; split++) {
		crc = crc32c_init();
		crc = crc32c_update(crc, buf, split);
		crc = crc32c_update(crc, buf + split, N - split);
		cr_assert_eq(crc32c_final(crc), one, "split %zu", split);
	}
	crc = crc32c_init();
	for (size_t off = 0, step = 1; off < N; off += step, step = step % 97 + 3)
		crc = crc32c_update(crc, buf + off, MIN(step, N - off));
	cr_assert_eq(crc32c_final(crc), one);
	/* and it actually depends on the data */
	buf[N / 2] ^= 1;
	cr_assert_neq(crc32c(buf, N), one);
	free(buf);
}

Test(digest, zero_length_update_is_identity)
{
	uint32_t crc = crc32c_update(crc32c_init(), "abc", 3);

	cr_assert_eq(crc32c_update(crc, "", 0), crc);
	cr_assert_eq(crc32c_init(), 0xffffffffu);
	cr_assert_eq(crc32c_final(0x12345678u), 0xedcba987u);
}

Test(digest, put_get_little_endian)
{
	uint8_t b[4];

	digest_put(b, 0x8a9136aa);
	/* RFC 3720 B.4 shows this CRC on the wire as aa 36 91 8a */
	cr_assert_eq(b[0], 0xaa);
	cr_assert_eq(b[1], 0x36);
	cr_assert_eq(b[2], 0x91);
	cr_assert_eq(b[3], 0x8a);
	cr_assert_eq(digest_get(b), 0x8a9136aau);

	const uint8_t w[4] = { 0x01, 0x02, 0x03, 0x04 };

	cr_assert_eq(digest_get(w), 0x04030201u);
	for (uint32_t v = 1; v; v <<= 1) {
		digest_put(b, v ^ 0x5a5a5a5a);
		cr_assert_eq(digest_get(b), v ^ 0x5a5a5a5a);
	}
}
