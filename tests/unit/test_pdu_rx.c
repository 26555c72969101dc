/*
 * test_pdu_rx.c - the receive framing decoder (src/iscsi/pdu_rx.c): a PDU
 * is handed out only once every byte RFC 7143 §11.2 says it has is in,
 * whatever the split; a DataSegmentLength above the limit is refused with
 * only the 48 header bytes in; digests (§12.1) are checked; the partial
 * PDU survives the buffer wrapping around.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/base.h"
#include "iscsi/digest.h"
#include "iscsi/pdu_rx.h"

static const struct pdu_rx_cfg plain = { .max_dsl = 8192 };
static const struct pdu_rx_cfg digests = { true, true, 8192 };

/* A NOP-Out with @dsl data bytes (and digests); returns its length. */
static size_t nop(uint8_t *out, uint32_t dsl, uint8_t fillc, bool dg)
{
	size_t n = BHS_LEN;

	memset(out, 0, BHS_LEN);
	out[0] = OP_NOP_OUT | BHS_I;
	out[1] = BHS_F;
	put_be24(out + BHS_DSL, dsl);
	put_be32(out + BHS_ITT, fillc);
	put_be32(out + BHS_TTT, RSVD_TAG);
	if (dg) {
		digest_put(out + n, crc32c(out, BHS_LEN));
		n += DIGEST_LEN;
	}
	memset(out + n, fillc, dsl);
	memset(out + n + dsl, 0, pdu_pad4(dsl) - dsl);
	n += pdu_pad4(dsl);
	if (dg && dsl) {
		digest_put(out + n, crc32c(out + n - pdu_pad4(dsl),
					   pdu_pad4(dsl)));
		n += DIGEST_LEN;
	}
	return n;
}

static void feed(struct pdu_rx *rx, const uint8_t *p, size_t n)
{
	uint8_t *dst;
	size_t room;

	pdu_rx_space(rx, &dst, &room);
	cr_assert_geq(room, n);
	memcpy(dst, p, n);
	pdu_rx_commit(rx, n);
}

Test(pdu_rx, whole_pdu_one_byte_at_a_time)
{
	static uint8_t buf[32768], pdu[BHS_LEN + 16 + 8];
	size_t len = nop(pdu, 5, 0xab, true);
	struct pdu_rx_frame f;
	struct pdu_rx rx;

	cr_assert_eq(len, BHS_LEN + 4 + 8 + 4);
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	for (size_t i = 0; i < len - 1; i++) {
		feed(&rx, pdu + i, 1);
		cr_assert_eq(pdu_rx_next(&rx, &digests, &f), PDU_RX_MORE,
			     "complete after %zu of %zu bytes", i + 1, len);
	}
	feed(&rx, pdu + len - 1, 1);
	cr_assert_eq(pdu_rx_next(&rx, &digests, &f), PDU_RX_PDU);
	cr_assert_eq(f.len, len);
	cr_assert_eq(f.h.dsl, 5);
	cr_assert_eq(f.h.itt, 0xab);
	cr_assert_eq(f.data[0], 0xab);
	cr_assert_eq(f.data[4], 0xab);
	cr_assert_eq(pdu_rx_pending(&rx), 0);
	cr_assert_eq(pdu_rx_next(&rx, &digests, &f), PDU_RX_MORE);
}

Test(pdu_rx, long_segment_refused_on_the_header_alone)
{
	static uint8_t buf[32768], hdr[BHS_LEN];
	struct pdu_rx_frame f;
	struct pdu_rx rx;

	nop(hdr, 0, 1, false);
	put_be24(hdr + BHS_DSL, 8193);
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	feed(&rx, hdr, BHS_LEN - 1);
	cr_assert_eq(pdu_rx_next(&rx, &plain, &f), PDU_RX_MORE);
	feed(&rx, hdr + BHS_LEN - 1, 1);
	cr_assert_eq(pdu_rx_next(&rx, &plain, &f), PDU_RX_TOO_LONG);
	put_be24(hdr + BHS_DSL, 0xffffff);
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	feed(&rx, hdr, BHS_LEN);
	cr_assert_eq(pdu_rx_next(&rx, &plain, &f), PDU_RX_TOO_LONG);
}

Test(pdu_rx, digests)
{
	static uint8_t buf[32768], pdu[128];
	size_t len = nop(pdu, 8, 7, true);
	struct pdu_rx_frame f;
	struct pdu_rx rx;

	pdu[len - 1] ^= 1;	/* data digest */
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	feed(&rx, pdu, len);
	cr_assert_eq(pdu_rx_next(&rx, &digests, &f), PDU_RX_DATA_DIGEST);
	cr_assert_eq(f.len, len, "a bad data digest discards the whole PDU");
	cr_assert_eq(pdu_rx_pending(&rx), 0);

	len = nop(pdu, 8, 7, true);
	pdu[BHS_LEN] ^= 1;	/* header digest */
	feed(&rx, pdu, len);
	cr_assert_eq(pdu_rx_next(&rx, &digests, &f), PDU_RX_HEADER_DIGEST);

	/* without digests negotiated the same bytes frame differently */
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	len = nop(pdu, 8, 7, false);
	feed(&rx, pdu, len);
	cr_assert_eq(pdu_rx_next(&rx, &plain, &f), PDU_RX_PDU);
	cr_assert_eq(f.len, BHS_LEN + 8);
}

Test(pdu_rx, bad_header_closes)
{
	static uint8_t buf[32768], hdr[BHS_LEN];
	struct pdu_rx_frame f;
	struct pdu_rx rx;

	nop(hdr, 0, 1, false);
	hdr[0] = OP_SCSI_RSP;	/* a target opcode */
	pdu_rx_init(&rx, buf, pdu_rx_buf_size(8192));
	feed(&rx, hdr, BHS_LEN);
	cr_assert_eq(pdu_rx_next(&rx, &plain, &f), PDU_RX_BAD_HEADER);
}

/* PDUs of 564 bytes through a 2,358-byte buffer: it wraps many times. */
Test(pdu_rx, partial_pdu_survives_wrapping)
{
	static uint8_t buf[4096], pdu[1024];
	size_t cap = pdu_rx_buf_size(100), off = 0, len;
	struct pdu_rx_cfg cfg = { .max_dsl = 8192 };
	struct pdu_rx rx;
	unsigned got = 0;

	cr_assert_leq(cap, sizeof(buf));
	pdu_rx_init(&rx, buf, cap);
	len = nop(pdu, 513, 0, false);
	for (unsigned i = 0; i < 100 && got < 40; i++) {
		struct pdu_rx_frame f;
		uint8_t *dst;
		size_t room, n;

		/* the stream of 40 PDUs, 333 bytes at a time */
		pdu_rx_space(&rx, &dst, &room);
		cr_assert_gt(room, 0);
		n = MIN(room, (size_t)333);
		for (size_t k = 0; k < n; k++, off++) {
			size_t at = off % len;

			if (at == 0)
				nop(pdu, 513, (uint8_t)(off / len), false);
			dst[k] = pdu[at];
		}
		pdu_rx_commit(&rx, n);
		while (pdu_rx_next(&rx, &cfg, &f) == PDU_RX_PDU) {
			cr_assert_eq(f.h.itt, got);
			cr_assert_eq(f.data[0], got);
			cr_assert_eq(f.data[512], got);
			got++;
		}
	}
	cr_assert_eq(got, 40);
}
