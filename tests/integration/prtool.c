/*
 * prtool.c - persistent reservation commands over one libiscsi session,
 * for the APTPL test (t-aptpl.sh): sg_persist cannot reach an iSCSI
 * target without the kernel initiator.
 *
 *   prtool [--initiator IQN] URL OP...
 *
 * The OPs run in order on one session (one I_T nexus):
 *   reg:KEY[:aptpl]   PR OUT REGISTER AND IGNORE EXISTING KEY, service
 *                     action key KEY (hex), APTPL=1 with ":aptpl"
 *   resv:KEY:TYPE     PR OUT RESERVE, TYPE 1..8
 *   rel:KEY:TYPE      PR OUT RELEASE
 *   keys              prints "keys GEN K1 K2 ..." (READ KEYS, sorted)
 *   rsv               prints "reservation GEN none" or
 *                     "reservation GEN TYPE KEY" (READ RESERVATION)
 *   caps              prints "caps PTPL_C PTPL_A" (REPORT CAPABILITIES)
 * The ISID is fixed, so one initiator name is one I_T nexus in every
 * invocation (as a host's kernel initiator keeps it).
 * Exit 0, or 1 with the failing command's status and sense on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* NULL (and a message) unless the task ended GOOD. */
static struct scsi_task *checked(struct iscsi_context *iscsi,
				 struct scsi_task *t, const char *what)
{
	if (!t) {
		fprintf(stderr, "prtool: %s: %s\n", what,
			iscsi_get_error(iscsi));
		return NULL;
	}
	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "prtool: %s: status 0x%02x sense %x/%02x/%02x\n",
			what, t->status, t->sense.key, t->sense.ascq >> 8,
			t->sense.ascq & 0xff);
		scsi_free_scsi_task(t);
		return NULL;
	}
	return t;
}

static int pr_in(struct iscsi_context *iscsi, int lun, const char *op)
{
	int sa = strcmp(op, "keys") == 0 ? SCSI_PERSISTENT_RESERVE_READ_KEYS
		 : strcmp(op, "rsv") == 0 ? SCSI_PERSISTENT_RESERVE_READ_RESERVATION
		 : SCSI_PERSISTENT_RESERVE_REPORT_CAPABILITIES;
	struct scsi_task *t;
	const uint8_t *d;
	uint32_t n;

	t = checked(iscsi, iscsi_persistent_reserve_in_sync(iscsi, lun, sa,
							    4096), op);
	if (!t)
		return -1;
	d = t->datain.data;
	n = (uint32_t)t->datain.size;
	if (strcmp(op, "caps") == 0) {
		if (n < 8)
			goto short_data;
		printf("caps %d %d\n", d[2] & 1, d[3] & 1);
	} else if (strcmp(op, "rsv") == 0) {
		if (n < 8 || (be32(d + 4) && n < 24))
			goto short_data;
		if (be32(d + 4) == 0)
			printf("reservation %" PRIu32 " none\n", be32(d));
		else
			printf("reservation %" PRIu32 " %d 0x%" PRIx64 "\n",
			       be32(d), d[21] & 0xf, be64(d + 8));
	} else {
		uint32_t len = n >= 8 ? be32(d + 4) : 0;
		uint64_t keys[512];
		size_t k = 0;

		if (n < 8 || n < 8 + len || len / 8 > 512)
			goto short_data;
		for (uint32_t off = 8; off < 8 + len; off += 8)
			keys[k++] = be64(d + off);
		qsort(keys, k, sizeof(keys[0]), cmp_u64);
		printf("keys %" PRIu32, be32(d));
		for (size_t i = 0; i < k; i++)
			printf(" 0x%" PRIx64, keys[i]);
		printf("\n");
	}
	scsi_free_scsi_task(t);
	return 0;
short_data:
	fprintf(stderr, "prtool: %s: %u bytes of data, too short\n", op, n);
	scsi_free_scsi_task(t);
	return -1;
}

static int pr_out(struct iscsi_context *iscsi, int lun, const char *op)
{
	struct scsi_persistent_reserve_out_basic p = { 0 };
	char copy[128], *f1, *f2, *save;
	struct scsi_task *t;
	int sa, type = 0;

	snprintf(copy, sizeof(copy), "%s", op);
	strtok_r(copy, ":", &save);
	f1 = strtok_r(NULL, ":", &save);
	f2 = strtok_r(NULL, ":", &save);
	if (!f1)
		goto usage;
	if (strncmp(op, "reg:", 4) == 0) {
		sa = SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY;
		p.service_action_reservation_key = strtoull(f1, NULL, 16);
		if (f2 && strcmp(f2, "aptpl") != 0)
			goto usage;
		p.aptpl = f2 != NULL;
	} else {
		if (!f2)
			goto usage;
		sa = strncmp(op, "rel:", 4) == 0 ?
			     SCSI_PERSISTENT_RESERVE_RELEASE :
			     SCSI_PERSISTENT_RESERVE_RESERVE;
		p.reservation_key = strtoull(f1, NULL, 16);
		type = atoi(f2);
	}
	t = checked(iscsi, iscsi_persistent_reserve_out_sync(
				   iscsi, lun, sa, SCSI_PERSISTENT_RESERVE_SCOPE_LU,
				   type, &p), op);
	if (!t)
		return -1;
	scsi_free_scsi_task(t);
	return 0;
usage:
	fprintf(stderr, "prtool: bad operation \"%s\"\n", op);
	return -1;
}

int main(int argc, char **argv)
{
	const char *initiator = "iqn.2026-11.org.ringtgt:prtool";
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	int i = 1, rc = 0;

	if (argc > 2 && strcmp(argv[1], "--initiator") == 0) {
		initiator = argv[2];
		i = 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: prtool [--initiator IQN] URL OP...\n");
		return 2;
	}
	iscsi = iscsi_create_context(initiator);
	if (!iscsi)
		return 1;
	url = iscsi_parse_full_url(iscsi, argv[i]);
	if (!url) {
		fprintf(stderr, "prtool: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return 2;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_isid_random(iscsi, 0x5a5a5a, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "prtool: login: %s\n", iscsi_get_error(iscsi));
		rc = 1;
		goto out;
	}
	for (i++; i < argc && rc == 0; i++) {
		const char *op = argv[i];

		if (strcmp(op, "keys") == 0 || strcmp(op, "rsv") == 0 ||
		    strcmp(op, "caps") == 0)
			rc = pr_in(iscsi, url->lun, op) ? 1 : 0;
		else if (strncmp(op, "reg:", 4) == 0 ||
			 strncmp(op, "resv:", 5) == 0 ||
			 strncmp(op, "rel:", 4) == 0)
			rc = pr_out(iscsi, url->lun, op) ? 1 : 0;
		else {
			fprintf(stderr, "prtool: unknown operation \"%s\"\n", op);
			rc = 2;
		}
	}
	fflush(stdout);
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return rc;
}
