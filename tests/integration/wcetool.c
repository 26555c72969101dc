/*
 * wcetool.c - reads the Caching mode page (SBC-4 §6.5.5) of a LUN over a
 * libiscsi session and prints its WCE bit, for t-image.sh: libiscsi's
 * command-line tools have no MODE SENSE and the kernel initiator's
 * sg_modes is not available without a kernel session.
 *
 *   wcetool URL
 *
 * Prints "wce CURRENT CHANGEABLE DEFAULT" (each 0 or 1) from MODE SENSE(6)
 * with page control 00b, 01b and 10b, DBD=1. Exit 0, or 1 with the
 * failing command's status and sense on stderr.
 */
#include <stdio.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define CACHING_PAGE 0x08

/* The WCE bit of the Caching page for page control @pc, or -1. */
static int wce(struct iscsi_context *iscsi, int lun, int pc)
{
	struct scsi_task *t = iscsi_modesense6_sync(iscsi, lun, 1, pc,
						    CACHING_PAGE, 0, 255);
	const unsigned char *d, *p;
	int rc = -1;

	if (!t) {
		fprintf(stderr, "wcetool: MODE SENSE(6): %s\n",
			iscsi_get_error(iscsi));
		return -1;
	}
	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "wcetool: MODE SENSE(6) pc %d: status 0x%02x "
			"sense %x/%02x/%02x\n", pc, t->status, t->sense.key,
			t->sense.ascq >> 8, t->sense.ascq & 0xff);
		goto out;
	}
	d = t->datain.data;
	/* header (SPC-4 §7.5.5): 4 bytes, then the block descriptors */
	if (t->datain.size < 4 || t->datain.size < 4 + d[3] + 3) {
		fprintf(stderr, "wcetool: short MODE SENSE data (%d bytes)\n",
			t->datain.size);
		goto out;
	}
	p = d + 4 + d[3];
	if ((p[0] & 0x3f) != CACHING_PAGE) {
		fprintf(stderr, "wcetool: page 0x%02x, not the Caching page\n",
			p[0] & 0x3f);
		goto out;
	}
	rc = (p[2] & 0x04) != 0;
out:
	scsi_free_scsi_task(t);
	return rc;
}

int main(int argc, char **argv)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	int v[3], rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: wcetool URL\n");
		return 2;
	}
	iscsi = iscsi_create_context("iqn.2026-11.org.ringtgt:wcetool");
	if (!iscsi)
		return 1;
	url = iscsi_parse_full_url(iscsi, argv[1]);
	if (!url) {
		fprintf(stderr, "wcetool: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return 2;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "wcetool: login: %s\n", iscsi_get_error(iscsi));
		rc = 1;
		goto out;
	}
	for (int pc = 0; pc < 3 && rc == 0; pc++) {
		v[pc] = wce(iscsi, url->lun, pc);
		if (v[pc] < 0)
			rc = 1;
	}
	if (rc == 0)
		printf("wce %d %d %d\n", v[0], v[1], v[2]);
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return rc;
}
