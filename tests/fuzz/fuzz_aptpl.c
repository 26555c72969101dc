/*
 * fuzz_aptpl.c - fuzz target for the APTPL state file codec
 * (scsi/pr_state.c). The input is a file's content. Properties: the
 * decoder never crashes and, when it accepts, gives a state that keeps
 * its invariants (at most SCSI_PR_STATE_MAX_REGS registrations, ports
 * NUL terminated and printable, a reservation only with a valid type,
 * scope 0 and a holder that fits the type, no I_T nexus twice); the
 * encoding of an accepted state decodes to the same state, and encodes
 * again to the same text (one canonical form). A refusal always comes
 * with a reason.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/pr_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_aptpl: %s:%d: %s\n",      \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

static void check_invariants(const struct scsi_pr_state *s)
{
	CHECK(s->n_regs <= SCSI_PR_STATE_MAX_REGS);
	CHECK(s->n_regs == 0 || s->regs);
	for (size_t i = 0; i < s->n_regs; i++) {
		const struct scsi_pr_state_reg *r = &s->regs[i];
		size_t n = strnlen(r->port, sizeof(r->port));

		CHECK(n > 0 && n < sizeof(r->port));
		for (size_t k = 0; k < n; k++)
			CHECK(r->port[k] > 0x20 && r->port[k] < 0x7f);
		CHECK(r->rel_port_id != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(s->regs[j].rel_port_id != r->rel_port_id ||
			      strcmp(s->regs[j].port, r->port) != 0);
	}
	if (!s->reserved)
		return;
	CHECK(s->n_regs > 0);
	CHECK(s->scope == 0);
	switch (s->type) {
	case 1: case 3: case 5: case 6:
		CHECK(s->holder >= 0 && (size_t)s->holder < s->n_regs);
		break;
	case 7: case 8:
		CHECK(s->holder == -1);
		break;
	default:
		CHECK(!"reservation type");
	}
}

static void check_equal(const struct scsi_pr_state *a,
			const struct scsi_pr_state *b)
{
	CHECK(memcmp(a->naa, b->naa, sizeof(a->naa)) == 0);
	CHECK(a->aptpl == b->aptpl);
	CHECK(a->generation == b->generation);
	CHECK(a->reserved == b->reserved);
	CHECK(!a->reserved || (a->type == b->type && a->scope == b->scope &&
			       a->holder == b->holder));
	CHECK(a->n_regs == b->n_regs);
	for (size_t i = 0; i < a->n_regs; i++) {
		CHECK(a->regs[i].key == b->regs[i].key);
		CHECK(a->regs[i].rel_port_id == b->regs[i].rel_port_id);
		CHECK(a->regs[i].all_tg_pt == b->regs[i].all_tg_pt);
		CHECK(strcmp(a->regs[i].port, b->regs[i].port) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_pr_state s, s2;
	char why[200] = "";
	char *text, *text2;
	int rc;

	rc = scsi_pr_state_decode((const char *)data, size, &s, why,
				  sizeof(why));
	if (rc == -ENOMEM)
		return 0;
	if (rc) {
		CHECK(rc == -EINVAL);
		CHECK(why[0] != '\0');
		CHECK(s.n_regs == 0 && !s.regs);
		return 0;
	}
	check_invariants(&s);
	text = scsi_pr_state_encode(&s);
	if (!text)
		goto out;
	rc = scsi_pr_state_decode(text, strlen(text), &s2, why, sizeof(why));
	if (rc == -ENOMEM)
		goto out_text;
	if (rc) {
		fprintf(stderr, "fuzz_aptpl: own encoding refused: %s\n%s\n",
			why, text);
		abort();
	}
	check_equal(&s, &s2);
	text2 = scsi_pr_state_encode(&s2);
	CHECK(!text2 || strcmp(text, text2) == 0);
	free(text2);
	scsi_pr_state_free(&s2);
out_text:
	free(text);
out:
	scsi_pr_state_free(&s);
	return 0;
}
