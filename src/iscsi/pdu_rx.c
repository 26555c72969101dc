/*
 * pdu_rx.c - the receive framing decoder (see pdu_rx.h). The states are
 * the positions in the buffer: fewer than 48 bytes (await header), a
 * header validated but not all of the PDU (await payload), a complete
 * PDU. Nothing is copied: the PDU handed out lies in the buffer; the
 * partial one is moved to the front only when the buffer's end is
 * reached (at most once per buffer's worth of bytes).
 */
#include <string.h>

#include "digest.h"
#include "pdu_rx.h"

/* The largest header: BHS, 255 words of AHS (RFC 7143 §11.2.1.2), digest. */
#define RX_HDR_MAX (BHS_LEN + 255 * 4 + DIGEST_LEN)

size_t pdu_rx_buf_size(uint32_t max_dsl)
{
	/* data segment padded to 4, data digest */
	return 2 * (RX_HDR_MAX + (size_t)max_dsl + 3 + DIGEST_LEN);
}

void pdu_rx_init(struct pdu_rx *rx, uint8_t *buf, size_t cap)
{
	rx->buf = buf;
	rx->cap = cap;
	rx->start = rx->end = 0;
}

void pdu_rx_space(struct pdu_rx *rx, uint8_t **p, size_t *len)
{
	if (rx->end == rx->cap && rx->start) {
		/* compact: the partial PDU moves to the front */
		memmove(rx->buf, rx->buf + rx->start, rx->end - rx->start);
		rx->end -= rx->start;
		rx->start = 0;
	}
	*p = rx->buf + rx->end;
	*len = rx->cap - rx->end;
}

void pdu_rx_commit(struct pdu_rx *rx, size_t n)
{
	rx->end += n;
}

enum pdu_rx_status pdu_rx_next(struct pdu_rx *rx, const struct pdu_rx_cfg *cfg,
			       struct pdu_rx_frame *f)
{
	const uint8_t *p = rx->buf + rx->start;
	size_t avail = rx->end - rx->start;
	size_t hlen, dpad, total;
	struct bhs h;

	if (avail < BHS_LEN)
		return PDU_RX_MORE;
	if (pdu_decode_bhs(p, &h) < 0)
		return PDU_RX_BAD_HEADER;
	/* checked before the payload is waited for */
	if (h.dsl > cfg->max_dsl)
		return PDU_RX_TOO_LONG;
	hlen = BHS_LEN + h.ahs_len + (cfg->header_digest ? DIGEST_LEN : 0);
	dpad = pdu_pad4(h.dsl);
	total = hlen + dpad + (cfg->data_digest && h.dsl ? DIGEST_LEN : 0);
	if (total > rx->cap)
		return PDU_RX_TOO_LONG;	/* could never be received whole */
	if (avail < total)
		return PDU_RX_MORE;
	/* ERL 0: a bad header digest ends the connection (RFC 7143 §7.8) */
	if (cfg->header_digest &&
	    digest_get(p + BHS_LEN + h.ahs_len) != crc32c(p, BHS_LEN + h.ahs_len))
		return PDU_RX_HEADER_DIGEST;
	f->h = h;
	f->data = p + hlen;
	f->len = total;
	rx->start += total;
	if (rx->start == rx->end)
		rx->start = rx->end = 0;
	/* the digest covers the data and its padding (§12.1) */
	if (cfg->data_digest && h.dsl &&
	    digest_get(p + hlen + dpad) != crc32c(p + hlen, dpad))
		return PDU_RX_DATA_DIGEST;
	return PDU_RX_PDU;
}
