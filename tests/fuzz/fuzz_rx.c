/*
 * fuzz_rx.c - fuzz target for the receive framing (src/iscsi/pdu_rx.c),
 * the decoder conn.c runs on every byte a peer sends. The input is a byte
 * stream and the TCP split points it arrives in; it is fed to the
 * decoder as conn.c feeds it (pdu_rx_space, a "recv" of the next chunk,
 * pdu_rx_commit, pdu_rx_next until more is needed), switching from the
 * login framing to negotiated digests and limits after a chosen number of
 * PDUs, as a login does. Property, after every step:
 *
 * - the decoder says exactly what a whole-stream reference walk says
 *   about the bytes received so far: "need more" only while the next PDU
 *   is incomplete and its header (once 48 bytes are in) is acceptable and
 *   within MaxRecvDataSegmentLength; an error (bad header, too long,
 *   header digest) as soon as the bytes that prove it are in, the length
 *   error with only the 48 header bytes; a PDU only once all its bytes
 *   (BHS, TotalAHSLength*4 of AHS, header digest, DataSegmentLength and
 *   pad, data digest when negotiated) are in, with the data digest
 *   verdict of RFC 7143 §12.1. So the same stream gives the same PDUs
 *   (or the same error) whatever the splits;
 * - a PDU handed out is the stream's bytes: header, AHS and data segment
 *   compare equal, its length is the wire length;
 * - memory is bounded: the buffer is the one given at start, every PDU
 *   fits in it, and there is always room to receive the rest of a PDU
 *   (a receive of 0 bytes would read as "peer closed").
 *
 * Input: byte 0 = MaxRecvDataSegmentLength (bits 0-2, a table) and
 * digests after login (bit 3 header, bit 4 data); byte 1 = number of
 * login PDUs before the switch (bits 0-2, 0: digests from the start),
 * bits 3-6: 0 for the buffer conn.c takes, else a buffer for data
 * segments of 100 times that (so inputs of a few KiB wrap it around, and
 * PDUs that can never fit are seen), and bit 7: rewrite every digest to the right CRC before feeding, except in
 * the PDUs flagged by byte 2's bits (PDU index 0..7); byte 3 = number N
 * of split bytes (0..31) that follow, each a chunk length, cycled; then
 * the stream. FUZZ_TRACE=1 prints one line per PDU or error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/digest.h"
#include "iscsi/pdu.h"
#include "iscsi/pdu_rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fail(...)                                                      \
	do {                                                           \
		fprintf(stderr, "fuzz_rx: " __VA_ARGS__);              \
		fputc('\n', stderr);                                   \
		abort();                                               \
	} while (0)

static const uint32_t mrdsl_table[8] = {
	512, 1024, 4096, 8192, 16384, 65536, 262144, 700,
};

struct ref_event {
	enum pdu_rx_status st;
	size_t len;		/* wire length of a PDU */
	size_t hlen;		/* BHS + AHS + header digest */
	uint32_t dsl;
};

static uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t le_digest(const uint8_t *p)
{
	/* RFC 7143 §12.1: the CRC goes on the wire least significant first */
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * What a receiver holding @avail bytes of the PDU starting at @s knows,
 * computed from RFC 7143 §11.2 directly (TotalAHSLength in words at byte
 * 4, DataSegmentLength at bytes 5-7, padding to 4, 4-byte CRC32C digests
 * when negotiated), with nothing of pdu_rx.c.
 */
static void ref_step(const uint8_t *s, size_t avail,
		     const struct pdu_rx_cfg *cfg, size_t cap,
		     struct ref_event *ev)
{
	struct bhs h;
	size_t ahs, pad;

	memset(ev, 0, sizeof(*ev));
	ev->st = PDU_RX_MORE;
	if (avail < 48)
		return;
	if (pdu_decode_bhs(s, &h) < 0) {
		ev->st = PDU_RX_BAD_HEADER;
		return;
	}
	ev->dsl = be24(s + 5);
	if (ev->dsl > cfg->max_dsl) {
		ev->st = PDU_RX_TOO_LONG;
		return;
	}
	ahs = (size_t)s[4] * 4;
	pad = (4 - ev->dsl % 4) % 4;
	ev->hlen = 48 + ahs + (cfg->header_digest ? 4 : 0);
	ev->len = ev->hlen + ev->dsl + pad +
		  (cfg->data_digest && ev->dsl ? 4 : 0);
	if (ev->len > cap) {
		ev->st = PDU_RX_TOO_LONG;
		return;
	}
	if (avail < ev->len) {
		ev->st = PDU_RX_MORE;
		return;
	}
	if (cfg->header_digest &&
	    le_digest(s + 48 + ahs) != crc32c(s, 48 + ahs)) {
		ev->st = PDU_RX_HEADER_DIGEST;
		return;
	}
	if (cfg->data_digest && ev->dsl &&
	    le_digest(s + ev->hlen + ev->dsl + pad) !=
		    crc32c(s + ev->hlen, ev->dsl + pad)) {
		ev->st = PDU_RX_DATA_DIGEST;
		return;
	}
	ev->st = PDU_RX_PDU;
}

struct setup {
	struct pdu_rx_cfg login, ffp;
	unsigned switch_after;	/* PDUs framed with @login */
	size_t cap;
};

static const struct pdu_rx_cfg *cfg_for(const struct setup *su, unsigned n)
{
	return n < su->switch_after ? &su->login : &su->ffp;
}

static void put_le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the digests of the stream's PDUs to their right value. */
static void fix_digests(const struct setup *su, uint8_t *s, size_t len,
			uint8_t keep_bad)
{
	size_t o = 0;

	for (unsigned n = 0; o + 48 <= len; n++) {
		const struct pdu_rx_cfg *cfg = cfg_for(su, n);
		uint32_t dsl = be24(s + o + 5);
		size_t ahs = (size_t)s[o + 4] * 4;
		size_t pad = (4 - dsl % 4) % 4;
		size_t hlen = 48 + ahs + (cfg->header_digest ? 4 : 0);
		size_t end = hlen + dsl + pad +
			     (cfg->data_digest && dsl ? 4 : 0);
		bool fix = n >= 8 || !(keep_bad & (1u << n));

		if (o + end > len)
			break;
		if (fix && cfg->header_digest)
			put_le(s + o + 48 + ahs, crc32c(s + o, 48 + ahs));
		if (fix && cfg->data_digest && dsl)
			put_le(s + o + hlen + dsl + pad,
			       crc32c(s + o + hlen, dsl + pad));
		o += end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct setup su;
	const uint8_t *splits;
	unsigned nsplits, nsplit = 0, npdu = 0;
	size_t fed = 0, o = 0, len;
	uint32_t mrdsl;
	struct pdu_rx rx;
	uint8_t *buf, *s;
	bool done = false;
	static int trace = -1;

	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;
	if (size < 4)
		return 0;
	mrdsl = mrdsl_table[data[0] & 7];
	/* as conn.c sets it up */
	su.login = (struct pdu_rx_cfg){ .max_dsl = mrdsl > 8192 ? mrdsl : 8192 };
	su.ffp = (struct pdu_rx_cfg){ .header_digest = data[0] & 0x08,
				      .data_digest = data[0] & 0x10,
				      .max_dsl = mrdsl };
	su.switch_after = data[1] & 7;
	su.cap = pdu_rx_buf_size(data[1] & 0x78 ? ((data[1] >> 3) & 15) * 100u :
				 mrdsl > 8192 ? mrdsl : 8192);
	nsplits = data[3] & 31;
	if (size < 4 + (size_t)nsplits)
		return 0;
	splits = data + 4;
	len = size - 4 - nsplits;
	s = malloc(len + 1);
	buf = malloc(su.cap);
	if (!s || !buf)
		abort();
	memcpy(s, data + 4 + nsplits, len);
	if (data[1] & 0x80)
		fix_digests(&su, s, len, data[2]);

	pdu_rx_init(&rx, buf, su.cap);
	while (!done && fed < len) {
		size_t chunk = len - fed, room;
		uint8_t *p;

		if (nsplits) {
			uint8_t b = splits[nsplit++ % nsplits];

			chunk = b < 128 ? b + 1u : (b - 127u) * 61u;
		}
		pdu_rx_space(&rx, &p, &room);
		if (room == 0)
			fail("no room to receive at stream offset %zu", fed);
		if (p < buf || p + room > buf + su.cap)
			fail("receive space outside the buffer");
		if (chunk > room)
			chunk = room;
		if (chunk > len - fed)
			chunk = len - fed;
		memcpy(p, s + fed, chunk);
		pdu_rx_commit(&rx, chunk);
		fed += chunk;

		for (;;) {
			const struct pdu_rx_cfg *cfg = cfg_for(&su, npdu);
			struct pdu_rx_frame f;
			struct ref_event ev;
			enum pdu_rx_status st = pdu_rx_next(&rx, cfg, &f);

			ref_step(s + o, fed - o, cfg, su.cap, &ev);
			if (st != ev.st)
				fail("PDU %u at offset %zu with %zu bytes in: "
				     "decoder says %d, the stream %d", npdu, o,
				     fed - o, st, ev.st);
			if (pdu_rx_pending(&rx) != fed - o &&
			    st != PDU_RX_PDU && st != PDU_RX_DATA_DIGEST)
				fail("%zu bytes pending, %zu received",
				     pdu_rx_pending(&rx), fed - o);
			if (trace && st != PDU_RX_MORE)
				fprintf(stderr, "rx: offset %zu (%zu in): status %d, "
					"opcode 0x%02x, %zu bytes\n", o, fed - o,
					st, s[o], st <= PDU_RX_DATA_DIGEST ?
					f.len : 0);
			if (st == PDU_RX_MORE)
				break;
			if (st != PDU_RX_PDU && st != PDU_RX_DATA_DIGEST) {
				done = true;	/* the connection closes */
				break;
			}
			if (f.len != ev.len || f.h.dsl != ev.dsl ||
			    f.len > su.cap)
				fail("PDU %u: length %zu, want %zu (dsl %u/%u)",
				     npdu, f.len, ev.len, f.h.dsl, ev.dsl);
			if ((const uint8_t *)f.h.raw < buf ||
			    f.data + f.h.dsl > buf + su.cap)
				fail("PDU %u outside the buffer", npdu);
			if (memcmp(f.h.raw, s + o, 48 + f.h.ahs_len) ||
			    f.h.ahs_len != s[o + 4] * 4u)
				fail("PDU %u: header or AHS differs", npdu);
			if (f.data != f.h.raw + ev.hlen ||
			    memcmp(f.data, s + o + ev.hlen, f.h.dsl))
				fail("PDU %u: data segment differs", npdu);
			if (pdu_rx_pending(&rx) != fed - o - f.len)
				fail("PDU %u: %zu bytes pending, want %zu",
				     npdu, pdu_rx_pending(&rx), fed - o - f.len);
			o += f.len;
			/* a data digest error is discarded, not dispatched */
			if (st == PDU_RX_PDU)
				npdu++;
		}
	}
	free(buf);
	free(s);
	return 0;
}
