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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static void fuzz_bhs(const uint8_t *data, size_t size)
{
	uint8_t b[BHS_LEN] = { 0 };
	struct bhs h;

	memcpy(b, data, MIN(size, sizeof(b)));
	if (pdu_decode_bhs(b, &h) != 0)
		return;
	/* accepted: the decode is faithful to the bytes */
	if (!pdu_opcode_valid_initiator(h.opcode) || h.opcode != (b[0] & 0x3f))
		abort();
	if (h.dsl != get_be24(b + BHS_DSL) || h.ahs_len != b[BHS_AHSLEN] * 4u)
		abort();
	if (h.itt != get_be32(b + BHS_ITT) || h.cmdsn != get_be32(b + BHS_CMDSN))
		abort();
	if (h.ahs_len && h.opcode != OP_SCSI_CMD)
		abort();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_bhs(data, size);
	fuzz_text(data, size);
	return 0;
}
