/*
 * fuzz_lu_params.c - fuzz target for tgt's LU parameters as tgtadm
 * --params and targets.conf write them (src/scsi/lu_params.c), above
 * all the mode_page string "PAGE:SUBPAGE:SIZE:BYTE...", and for what an
 * accepted value does to an LU (lu.c, mode.c).
 *
 * Input: "NAME=VALUE" (no '=': the whole input is a mode_page value).
 * Properties:
 *   - the parser returns 0, -EINVAL, -EOPNOTSUPP or -ENOENT; on failure
 *     it says why and leaves the parameters as they were;
 *   - an accepted value passes scsi_lu_params_check(); an accepted
 *     mode_page is one of the served pages, its header as MODE SENSE
 *     returns it, and writing it back in tgt's format parses to the
 *     same bytes;
 *   - on a live disk LU, scsi_lu_update() returns 0 or -EINVAL; MODE
 *     SENSE of every page afterwards still says WCE as the store has
 *     it, and the Control page TST and TAS as ringtgt serves them;
 *     READ CAPACITY(16)'s LOWEST ALIGNED LBA stays below 2^LBPPBE.
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

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_lu_params: line %d: %s\n", line, what);
	abort();
}

static struct scsi_target tgt;
static struct scsi_nexus nexus;
static struct scsi_lu *lu;

static void task_done(struct scsi_task *t)
{
	(void)t;
}

/* One command to the LU; its status, the data in @b. */
static uint8_t run(const uint8_t *cdb, size_t len, uint8_t *b, uint32_t n)
{
	struct scsi_task t;

	memset(&t, 0, sizeof(t));
	t.nexus = &nexus;
	t.lu = lu;
	t.lun = 1;
	memcpy(t.cdb, cdb, len);
	t.exp_len = n;
	t.done = task_done;
	if (scsi_task_prepare(&t) != SENSE_NONE)
		return t.status;
	t.buf = b;
	t.buf_len = MIN(n, t.data_len);
	scsi_task_exec(&t);
	return t.status;
}

static void setup_once(void)
{
	static bool done;
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1, .target_name = TGT_NAME,
		.tas = true,
	};

	if (done)
		return;
	done = true;
	scsi_target_init(&tgt, TGT_NAME);
	strcpy(nexus.initiator_port, "iqn.2026-11.org.ringtgt:i,i,0x1");
	nexus.rel_port_id = 1;
	nexus.target = &tgt;
	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	CHECK(cfg.bs);
	lu = scsi_lu_new(&cfg);
	CHECK(lu);
	CHECK(scsi_target_add_lu(&tgt, lu) == 0);
}

/* What ringtgt does must show through whatever pages were set. */
static void check_lu(void)
{
	uint8_t c6[6] = { 0x1a, 0x08, 0x3f, 0, 0xff, 0 }, b[256];
	uint8_t rc16[16] = { 0x9e, 0x10 };
	uint32_t off;

	/* the unit attention of the change, then the data */
	for (int i = 0; i < 3 && run(c6, 6, b, 255) != SAM_STAT_GOOD; i++)
		;
	memset(b, 0, sizeof(b));
	CHECK(run(c6, 6, b, 255) == SAM_STAT_GOOD);
	CHECK(b[0] == 3 + 12 + 20 + 12);
	for (off = 4; off < (uint32_t)b[0] + 1; off += b[off + 1] + 2u) {
		if (b[off] == 0x08)
			CHECK(!(b[off + 2] & 0x04));	/* bs_ram: no cache */
		if (b[off] == 0x0a) {
			CHECK(b[off + 2] == 0x22);	/* TST 001b, GLTSD */
			CHECK(b[off + 5] == 0x40);	/* TAS */
		}
	}
	CHECK(off == (uint32_t)b[0] + 1);
	rc16[13] = 32;
	CHECK(run(rc16, 16, b, 32) == SAM_STAT_GOOD);
	CHECK((uint32_t)(get_be16(b + 14) & 0x3fff) < (1u << (b[13] & 0x0f)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_lu_params p = { 0 }, before, q;
	char *in = malloc(size + 1), *name = "mode_page", *value, why[400];
	char s[160];
	int rc;

	if (!in)
		return 0;
	setup_once();
	memcpy(in, data, size);
	in[size] = '\0';
	value = strchr(in, '=');	/* up to the first NUL, as a C caller */
	if (value) {
		name = in;
		*value++ = '\0';
	} else {
		value = in;
	}
	before = p;
	why[0] = '\0';
	rc = scsi_lu_param_parse(&p, name, value, why, sizeof(why));
	CHECK(rc == 0 || rc == -EINVAL || rc == -EOPNOTSUPP || rc == -ENOENT);
	if (rc) {
		CHECK(why[0]);
		CHECK(!memcmp(&p, &before, sizeof(p)));
		goto out;
	}
	CHECK(scsi_lu_params_check(&p, why, sizeof(why)) == 0);
	for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++) {
		uint8_t code;
		unsigned len = scsi_lu_mode_page_len(mp, &code);

		if (!(p.mode_set & (1u << mp)))
			continue;
		CHECK(p.mode[mp][0] == code && p.mode[mp][1] == len - 2);
		CHECK(scsi_lu_mode_page_format(&p, mp, s, sizeof(s)) <
		      (int)sizeof(s));
		memset(&q, 0, sizeof(q));
		CHECK(scsi_lu_param_parse(&q, "mode_page", s, why,
					  sizeof(why)) == 0);
		CHECK(!memcmp(q.mode[mp], p.mode[mp], len));
	}
	rc = scsi_lu_update(lu, &p, why, sizeof(why));
	CHECK(rc == 0 || rc == -EINVAL);
	check_lu();
out:
	free(in);
	return 0;
}
