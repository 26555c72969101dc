/*
 * fuzz_pdu.c - fuzz target for the PDU header codec and the text key
 * parser / negotiator: arbitrary bytes must never crash them, and what
 * they accept must satisfy their documented properties.
 *
 * Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * plain test that replays corpus/ and a bounded set of pseudo-random
 * inputs (standalone_main.c).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_kv_output(const struct kvbuf *kv)
{
	size_t pos = 0;

	/* every answer is "key=value\0" */
	while (pos < kv->len) {
		const char *p = kv->data + pos;
		size_t n = strnlen(p, kv->len - pos);

		if (n == kv->len - pos || !memchr(p, '=', n) || p[0] == '=')
			abort();
		pos += n + 1;
	}
}

static int count_pair(void *ctx, const char *key, const char *val)
{
	size_t *n = ctx;

	if (!*key || strchr(key, '=') || strlen(key) > 63 || strlen(val) > 8192)
		abort();
	(*n)++;
	return 0;
}

/*
 * The BHS property, checked without the decoder's own helpers (no
 * get_be*(), no BHS_* offsets): the acceptance rule of RFC 7143 §11.2.1
 * restated, and a round trip through an independent encoder that writes
 * each field byte by byte at the offsets of §11.2.1 / §11.3.
 */
static uint32_t be_n(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_n(uint8_t *p, int n, uint64_t v)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Encodes @h back to the 48 bytes it was decoded from (bytes 44-47, the
 * end of the CDB / ExpDataSN-relative fields, are not in struct bhs). */
static void encode_bhs(const struct bhs *h, uint8_t out[48])
{
	memset(out, 0, 48);
	out[0] = (uint8_t)(h->opcode | (h->immediate ? 0x40 : 0));
	out[1] = h->flags;
	out[2] = h->b2;
	out[3] = h->b3;
	out[4] = (uint8_t)(h->ahs_len / 4);
	put_n(out + 5, 3, h->dsl);
	put_n(out + 8, 8, h->lun);
	put_n(out + 16, 4, h->itt);
	put_n(out + 20, 4, h->ttt);
	put_n(out + 24, 4, h->cmdsn);
	put_n(out + 28, 4, h->expstatsn);
	put_n(out + 32, 4, h->f32);
	put_n(out + 36, 4, h->datasn);
	put_n(out + 40, 4, h->bufoff);
}

static bool bhs_fields_eq(const struct bhs *a, const struct bhs *b)
{
	return a->opcode == b->opcode && a->immediate == b->immediate &&
	       a->final == b->final && a->flags == b->flags &&
	       a->b2 == b->b2 && a->b3 == b->b3 && a->ahs_len == b->ahs_len &&
	       a->dsl == b->dsl && a->lun == b->lun && a->itt == b->itt &&
	       a->ttt == b->ttt && a->cmdsn == b->cmdsn &&
	       a->expstatsn == b->expstatsn && a->f32 == b->f32 &&
	       a->datasn == b->datasn && a->bufoff == b->bufoff;
}

/*
 * Two pages, the second (or the first) inaccessible: a BHS placed flush
 * against the guard faults on any read outside its 48 bytes, on every
 * compiler, without a sanitizer.
 */
static uint8_t *guard_after, *guard_before;

static void guards_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *m;

	if (guard_after)
		return;
	m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + pg, (size_t)pg, PROT_NONE))
		abort();
	guard_after = m + pg - 48;	/* ends at the guard page */
	m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m, (size_t)pg, PROT_NONE))
		abort();
	guard_before = m + pg;		/* starts right after the guard */
}

/* The decode under test, with canaries around the output struct. */
static int decode_guarded(uint8_t *at, const uint8_t b[48], struct bhs *h)
{
	struct {
		uint64_t pre;
		struct bhs h;
		uint64_t post;
	} box;
	int rc;

	memset(&box, 0xa5, sizeof(box));
	memcpy(at, b, 48);
	rc = pdu_decode_bhs(at, &box.h);
	if (box.pre != 0xa5a5a5a5a5a5a5a5ull ||
	    box.post != 0xa5a5a5a5a5a5a5a5ull)
		abort();		/* wrote outside its output */
	if (memcmp(at, b, 48) != 0)
		abort();		/* wrote to its input */
	if (rc == 0 && box.h.raw != at)
		abort();		/* raw must be the decoded bytes */
	*h = box.h;
	return rc;
}

static void check_bhs(const uint8_t b[48])
{
	uint8_t enc[48];
	struct bhs h, h2, h3;
	uint8_t op = b[0] & 0x3f;
	bool want;
	int rc, rc2;

	/*
	 * RFC 7143 §11.2.1.2: bit 7 of byte 0 is reserved, the initiator
	 * opcodes are 0x00-0x06 and 0x10; §11.2.1.5 (and pdu.h): only a SCSI
	 * Command carries AHSs.
	 */
	want = !(b[0] & 0x80) && (op <= 0x06 || op == 0x10) &&
	       (b[4] == 0 || op == 0x01);
	rc = decode_guarded(guard_after, b, &h);
	rc2 = decode_guarded(guard_before, b, &h2);
	if ((rc == 0) != want || rc != rc2)
		abort();
	if (rc != 0) {
		if (rc != -EPROTO)
			abort();
		return;
	}
	if (!bhs_fields_eq(&h, &h2))
		abort();		/* depends on something but the bytes */
	/* accepted: every field says what the bytes say */
	if (h.opcode != op || h.immediate != !!(b[0] & 0x40) ||
	    h.final != !!(b[1] & 0x80) || h.flags != b[1] ||
	    h.ahs_len != b[4] * 4u || h.dsl != be_n(b + 5, 3) ||
	    h.itt != be_n(b + 16, 4) || h.cmdsn != be_n(b + 24, 4))
		abort();
	/* decode -> encode gives the bytes back; decode again, same struct */
	encode_bhs(&h, enc);
	if (memcmp(enc, b, 44) != 0)
		abort();
	memcpy(enc + 44, b + 44, 4);
	if (decode_guarded(guard_after, enc, &h3) != 0 ||
	    !bhs_fields_eq(&h, &h3))
		abort();
}

static void fuzz_bhs(const uint8_t *data, size_t size)
{
	static const uint8_t ops[] = { 0x00, 0x01, 0x02, 0x03,
				       0x04, 0x05, 0x06, 0x10 };
	uint8_t b[48] = { 0 };

	guards_init();
	memcpy(b, data, MIN(size, sizeof(b)));
	check_bhs(b);
	/* random bytes are mostly rejected: also try them as a header of
	 * an initiator opcode, so the accepted path sees every input too */
	b[0] = (uint8_t)((b[0] & 0x40) | ops[b[0] % ARRAY_SIZE(ops)]);
	if ((b[0] & 0x3f) != 0x01 && (b[1] & 1))
		b[4] = 0;	/* half of them without AHS */
	check_bhs(b);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
	static const enum text_phase phases[] = { PHASE_SECURITY,
						  PHASE_OPERATIONAL, PHASE_FFP };
	char *copy = malloc(size + 1);
	static char out[65536];
	size_t pairs = 0;

	if (!copy)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';	/* never read: the parser is length-bounded */
	text_for_each(copy, size, count_pair, &pairs);
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		struct iscsi_params p;
		struct iscsi_limits l;
		struct text_negot n;
		struct kvbuf kv;

		text_params_default(&p);
		text_limits_default(&l);
		text_negot_init(&n, &p, &l, phases[i], i == 2);
		kv_init(&kv, out, sizeof(out));
		text_negotiate(&n, copy, size, &kv);
		text_negot_finish(&n);
		check_kv_output(&kv);
		/* negotiated values never leave what we offer */
		if (p.max_burst > l.max_burst || p.first_burst > p.max_burst ||
		    p.max_connections != 1 || p.erl != 0 ||
		    p.max_outstanding_r2t > l.max_outstanding_r2t ||
		    p.max_recv_dsl_init < 512 || p.max_recv_dsl_init > 16777215)
			abort();
	}
	free(copy);
}

/*
 * The AHS walker (pdu_parse_ahs) on an exact-size heap copy, so ASan sees
 * any read past the area; property: when it accepts, every AHS it reports
 * lies inside the area, and re-walking by hand (AHSLength + 3, padded to
 * 4) ends exactly at the end.
 */
static void fuzz_ahs(const uint8_t *data, size_t size)
{
	size_t len = size & ~(size_t)3, off = 0;	/* whole words */
	struct pdu_ahs a;
	uint8_t *copy;

	if (len > 1020)
		len = 1020;
	copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	if (pdu_parse_ahs(copy, len, &a) == 0) {
		while (off < len) {
			size_t alen = be_n(copy + off, 2);

			if (alen == 0)
				abort();
			off += (3 + alen + 3) & ~(size_t)3;
		}
		if (off != len)
			abort();
		if (a.ext_cdb && (a.ext_cdb < copy ||
				  a.ext_cdb + a.ext_cdb_len > copy + len))
			abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_bhs(data, size);
	fuzz_text(data, size);
	fuzz_ahs(data, size);
	return 0;
}
