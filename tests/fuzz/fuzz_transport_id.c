/*
 * fuzz_transport_id.c - fuzz target for iSCSI TransportIDs (SPC-4 §7.6.4.6,
 * src/scsi/transport_id.c) and the PERSISTENT RESERVE OUT service actions
 * that carry them (SPEC_I_PT, REGISTER AND MOVE; src/scsi/pr.c).
 *
 * Input: byte 0 is flags (bit 0: also run a PR OUT; bit 1: REGISTER AND
 * MOVE, else REGISTER with SPEC_I_PT; bit 2: the issuer is registered
 * and holds a Write Exclusive reservation; bit 3: another initiator
 * port, B, is registered), the rest is one TransportID for the parser,
 * and the whole PR OUT parameter list for the command.
 *
 * Properties of the parser, on a buffer of exactly the input's size (so
 * ASan sees any read past it):
 *   - it returns 0, -EINVAL, -EMSGSIZE or -EPROTONOSUPPORT;
 *   - a TransportID it accepts is at least 24 bytes, a multiple of 4, no
 *     longer than the input, and parses the same when given exactly its
 *     length; its name is an iSCSI name of at most 223 bytes, its ISID
 *     fits 48 bits;
 *   - encode (READ FULL STATUS's encoder) then parse gives back the same
 *     format, name and ISID.
 * Properties of the PR OUT, on a fresh LU with two target port groups:
 *   - the status is GOOD, RESERVATION CONFLICT or CHECK CONDITION with
 *     ILLEGAL REQUEST and one of PARAMETER LIST LENGTH ERROR, INVALID
 *     FIELD IN CDB / PARAMETER LIST, INSUFFICIENT REGISTRATION RESOURCES;
 *   - all or nothing: a command that is not GOOD leaves PRgeneration,
 *     the keys and the reservation as they were; a GOOD one increments
 *     PRgeneration by one, or (nothing to do) leaves everything;
 *   - a GOOD REGISTER AND MOVE leaves the reservation of the same type,
 *     held with the SERVICE ACTION RESERVATION KEY;
 *   - there are never more than SCSI_PR_MAX_REGS registrations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"
#include "scsi/scsi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond))                                            \
			fail(__LINE__, #cond);                          \
	} while (0)

#define TGT_NAME "iqn.2026-11.org.ringtgt:fuzz"
#define PORT_A "iqn.2026-11.org.ringtgt:a,i,0x000000000001"
#define PORT_B "iqn.2026-11.org.ringtgt:b,i,0x000000000001"
#define F_PR_OUT 0x01
#define F_MOVE 0x02
#define F_A_HOLDS 0x04
#define F_B_REG 0x08
#define KEY_A 0xa1
#define KEY_B 0xb1
#define WE 0x1

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_transport_id: line %d: %s\n", line, what);
	abort();
}

static void check_parse(const uint8_t *in, size_t n)
{
	uint8_t *b = malloc(n ? n : 1), enc[300];
	struct scsi_tid tid, again;
	char port[256];
	uint32_t len;
	int rc;

	CHECK(b != NULL);
	memcpy(b, in, n);
	rc = scsi_tid_parse(b, n, &tid);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
	      rc == -EPROTONOSUPPORT);
	if (rc == 0) {
		size_t nl = strnlen(tid.name, sizeof(tid.name));

		CHECK(tid.len >= 24 && tid.len % 4 == 0 && tid.len <= n);
		CHECK(nl < sizeof(tid.name) && nl <= SCSI_TID_NAME_MAX);
		CHECK(scsi_iscsi_name_valid(tid.name, nl));
		CHECK(tid.isid < (1ull << 48));
		CHECK(tid.format == SCSI_TID_PORT || tid.isid == 0);
		CHECK(scsi_tid_parse(b, tid.len, &again) == 0);
		CHECK(memcmp(&tid, &again, sizeof(tid)) == 0);
		/* round trip through the encoder */
		if (tid.format == SCSI_TID_PORT)
			CHECK(scsi_tid_port_name(&tid, port, sizeof(port)) ==
			      0);
		else
			snprintf(port, sizeof(port), "%s", tid.name);
		len = scsi_tid_encode(port, enc, sizeof(enc));
		CHECK(len <= sizeof(enc) && len % 4 == 0);
		CHECK(scsi_tid_parse(enc, len, &again) == 0);
		CHECK(again.format == tid.format && again.isid == tid.isid &&
		      strcmp(again.name, tid.name) == 0 && again.len == len);
	}
	free(b);
}

/* --- the PR OUT ---------------------------------------------------------- */

static struct scsi_task task;

static void task_done(struct scsi_task *t)
{
	(void)t;
}

static uint8_t run(struct scsi_lu *lu, struct scsi_nexus *n,
		   const uint8_t *cdb, uint8_t *buf, uint32_t len)
{
	memset(&task, 0, sizeof(task));
	task.nexus = n;
	task.lu = lu;
	memcpy(task.cdb, cdb, 10);
	task.exp_len = len;
	task.done = task_done;
	if (scsi_task_prepare(&task) != SENSE_NONE)
		return task.status;
	task.buf = buf;
	task.buf_len = MIN(len, task.data_len);
	scsi_task_exec(&task);
	return task.status;
}

static uint8_t pro(struct scsi_lu *lu, struct scsi_nexus *n, int sa,
		   uint8_t type, uint8_t *p, uint32_t len)
{
	uint8_t c[10] = { 0x5f, (uint8_t)sa, type };

	put_be32(c + 5, len);
	return run(lu, n, c, p, len);
}

static uint8_t pro24(struct scsi_lu *lu, struct scsi_nexus *n, int sa,
		     uint8_t type, uint64_t key, uint64_t sa_key)
{
	uint8_t p[24] = { 0 };

	put_be64(p, key);
	put_be64(p + 8, sa_key);
	return pro(lu, n, sa, type, p, 24);
}

struct pr_state {
	uint32_t gen, nkeys;
	uint64_t holder_key;
	uint8_t type;
};

static void pr_state(struct scsi_lu *lu, struct scsi_nexus *obs,
		     struct pr_state *st)
{
	static uint8_t b[8 + 8 * SCSI_PR_MAX_REGS];
	uint8_t c[10] = { 0x5e, 0x00 };

	put_be16(c + 7, 8);
	CHECK(run(lu, obs, c, b, 8) == SAM_STAT_GOOD);
	st->gen = get_be32(b);
	st->nkeys = get_be32(b + 4) / 8;
	CHECK(st->nkeys <= SCSI_PR_MAX_REGS);
	c[1] = 0x01;	/* READ RESERVATION */
	put_be16(c + 7, 24);
	CHECK(run(lu, obs, c, b, 24) == SAM_STAT_GOOD);
	st->holder_key = get_be32(b + 4) ? get_be64(b + 8) : 0;
	st->type = get_be32(b + 4) ? b[21] & 0x0f : 0;
}

/* A fresh I_T nexus, its unit attentions (power on) already reported */
static void nexus_init(struct scsi_nexus *n, const char *port,
		       struct scsi_target *t, uint16_t rel, struct scsi_lu *lu)
{
	uint8_t tur[10] = { 0 };
	int i;

	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s", port);
	n->rel_port_id = rel;
	n->target = t;
	for (i = 0; i < 4 && run(lu, n, tur, NULL, 0) != SAM_STAT_GOOD; i++)
		;
	CHECK(i < 4);
}

static void check_pr_out(uint8_t flags, const uint8_t *in, size_t n)
{
	static struct scsi_target tgt;
	static struct scsi_nexus na, nb, obs;
	struct bs_open_args a = { .size = 16 * 512 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .block_size = 512, .target_name = TGT_NAME,
	};
	struct scsi_lu *lu;
	struct pr_state before, after;
	uint32_t len = (uint32_t)MIN(n, 4096u);
	uint8_t *p = malloc(len ? len : 1), st;

	CHECK(p != NULL);
	memcpy(p, in, len);
	scsi_target_init(&tgt, TGT_NAME);
	CHECK(scsi_port_groups_add(tgt.port_groups, 2,
				   SCSI_ALUA_ACTIVE_OPTIMIZED) == 0);
	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	CHECK(cfg.bs != NULL);
	lu = scsi_lu_new(&cfg);
	CHECK(lu != NULL);
	CHECK(scsi_target_add_lu(&tgt, lu) == 0);
	nexus_init(&na, PORT_A, &tgt, 1, lu);
	nexus_init(&nb, PORT_B, &tgt, 2, lu);
	nexus_init(&obs, "iqn.2026-11.org.ringtgt:obs,i,0x1", &tgt, 1, lu);
	if (flags & F_A_HOLDS) {
		CHECK(pro24(lu, &na, PRO_REGISTER, 0, 0, KEY_A) ==
		      SAM_STAT_GOOD);
		CHECK(pro24(lu, &na, PRO_RESERVE, WE, KEY_A, 0) ==
		      SAM_STAT_GOOD);
	}
	if (flags & F_B_REG)
		CHECK(pro24(lu, &nb, PRO_REGISTER, 0, 0, KEY_B) ==
		      SAM_STAT_GOOD);
	if (!(flags & F_MOVE) && len > 20)
		p[20] |= 0x08;	/* SPEC_I_PT */
	pr_state(lu, &obs, &before);
	st = pro(lu, &na, flags & F_MOVE ? PRO_REGISTER_MOVE : PRO_REGISTER,
		 (uint8_t)(len > 2 ? p[2] : 0), p, len);
	if (st == SAM_STAT_CHECK_CONDITION) {
		uint8_t asc = task.sense[12];

		CHECK((task.sense[2] & 0x0f) == 0x5);
		CHECK(asc == 0x1a || asc == 0x24 || asc == 0x26 || asc == 0x55);
	} else {
		CHECK(st == SAM_STAT_GOOD ||
		      st == SAM_STAT_RESERVATION_CONFLICT);
	}
	pr_state(lu, &obs, &after);
	if (st != SAM_STAT_GOOD) {
		CHECK(after.gen == before.gen && after.nkeys == before.nkeys);
		CHECK(after.holder_key == before.holder_key &&
		      after.type == before.type);
	} else if (after.gen == before.gen) {
		CHECK(after.nkeys == before.nkeys);	/* nothing to do */
	} else {
		CHECK(after.gen == before.gen + 1);
	}
	if (st == SAM_STAT_GOOD && (flags & F_MOVE)) {
		CHECK(after.type == before.type && before.type == WE);
		CHECK(after.holder_key == get_be64(p + 8));
	}
	scsi_target_destroy(&tgt);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check_parse(data + 1, size - 1);
	if (data[0] & F_PR_OUT)
		check_pr_out(data[0], data + 1, size - 1);
	return 0;
}
