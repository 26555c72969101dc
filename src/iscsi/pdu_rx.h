/*
 * pdu_rx.h - the receive framing of one connection (RFC 7143 §11.2: BHS,
 * AHS, header digest, data segment and its padding, data digest) as a
 * pure incremental decoder over the connection's receive buffer.
 *
 * The owner receives into the space pdu_rx_space() gives, tells how many
 * bytes came with pdu_rx_commit(), and calls pdu_rx_next() until it says
 * PDU_RX_MORE. A PDU is returned only once all its bytes are in, pointing
 * into the buffer (no copy); its header is validated, and its
 * DataSegmentLength checked against the limit, as soon as the 48 header
 * bytes are in, before the rest is waited for. The buffer is sized once,
 * for the largest PDU the owner accepts (pdu_rx_buf_size()), so no peer
 * makes it grow. No connection, no fd, no allocation: unit-tested and
 * fuzzed (tests/fuzz/fuzz_rx.c) on byte streams cut anywhere.
 */
#ifndef RINGTGT_PDU_RX_H
#define RINGTGT_PDU_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdu.h"

struct pdu_rx {
	uint8_t *buf;			/* owned by the caller */
	size_t cap;			/* pdu_rx_buf_size() bytes */
	size_t start, end;		/* unconsumed bytes: [start, end) */
};

/* What the framing of the next PDU depends on (login, then negotiated). */
struct pdu_rx_cfg {
	bool header_digest;
	bool data_digest;
	uint32_t max_dsl;		/* MaxRecvDataSegmentLength in force */
};

enum pdu_rx_status {
	PDU_RX_MORE,		/* the next PDU is not complete yet */
	PDU_RX_PDU,		/* a complete PDU, consumed */
	/*
	 * A complete PDU whose data digest is wrong, consumed: the caller
	 * Rejects and discards it (RFC 7143 §7.8); the framing is intact.
	 */
	PDU_RX_DATA_DIGEST,
	/* Errors: the framing can no longer be trusted (§7.1.3, §7.8). */
	PDU_RX_BAD_HEADER,	/* pdu_decode_bhs() refused the header */
	PDU_RX_TOO_LONG,	/* DataSegmentLength above max_dsl */
	PDU_RX_HEADER_DIGEST,	/* header digest mismatch */
};

/* One PDU returned by pdu_rx_next(); valid until pdu_rx_space(). */
struct pdu_rx_frame {
	struct bhs h;			/* decoded; h.raw is the BHS */
	const uint8_t *data;		/* data segment (h.dsl bytes) */
	size_t len;			/* bytes on the wire, digests included */
};

/*
 * Buffer size for PDUs of up to @max_dsl data bytes: room for the largest
 * such PDU (with 255 words of AHS and both digests) plus one more in
 * flight.
 */
size_t pdu_rx_buf_size(uint32_t max_dsl);

/* Starts decoding into @buf of @cap bytes (the caller keeps it). */
void pdu_rx_init(struct pdu_rx *rx, uint8_t *buf, size_t cap);

/*
 * Where the next received bytes go and how many fit (never 0 while a
 * partial PDU fits in the buffer). Moves the partial PDU to the front
 * when the buffer's end is reached, which ends the validity of frames
 * returned before.
 */
void pdu_rx_space(struct pdu_rx *rx, uint8_t **p, size_t *len);
/* @n bytes were written at the space given. */
void pdu_rx_commit(struct pdu_rx *rx, size_t n);
/*
 * Decodes the next PDU with @cfg. PDU_RX_PDU and PDU_RX_DATA_DIGEST fill
 * @f and consume it; PDU_RX_MORE and the errors consume nothing (after an
 * error the caller closes the connection). A PDU larger than the buffer
 * is PDU_RX_TOO_LONG whatever max_dsl says.
 */
enum pdu_rx_status pdu_rx_next(struct pdu_rx *rx, const struct pdu_rx_cfg *cfg,
			       struct pdu_rx_frame *f);
/* Bytes received and not consumed. */
static inline size_t pdu_rx_pending(const struct pdu_rx *rx)
{
	return rx->end - rx->start;
}

#endif
