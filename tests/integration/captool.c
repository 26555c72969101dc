/*
 * captool.c - SCSI commands over one libiscsi session that stays open
 * while the test script changes the target, for t-resize.sh and
 * t-lu-params.sh: one I_T nexus across `ringtgtadm lun resize` /
 * `lun update`.
 *
 *   captool URL        (the URL's LUN is only used for the login)
 *
 * Reads one command a line from stdin, runs it on the same session and
 * answers one line on stdout (flushed), until EOF or "quit":
 *   tur LUN            "GOOD" or "CHECK K/ASC/ASCQ" (hex)
 *   cap LUN            READ CAPACITY (16): "CAP BLOCKS BLOCK_SIZE"
 *                      (BLOCKS = RETURNED LOGICAL BLOCK ADDRESS + 1),
 *                      or "CHECK ..."
 *   read LUN LBA       READ (16) of one block: "GOOD" or "CHECK ..."
 *   write LUN LBA      WRITE (16) of one block of 0xa5: "GOOD" or "CHECK ..."
 *   std LUN            standard INQUIRY: "DATA" and the bytes in hex
 *   vpd LUN PAGE       INQUIRY of VPD page PAGE (decimal): "DATA ..."
 *   rc16 LUN           READ CAPACITY (16): "DATA ..." (its 32 bytes)
 *   msense LUN PAGE    MODE SENSE (6), DBD, current values of PAGE
 *                      (decimal): "DATA ..."
 * Automatic reconnection is off: if the target drops the connection, the
 * next command answers "ERROR ..." instead of quietly logging in again
 * (which would be a new nexus).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static uint32_t block_size = 512;	/* from the last "cap" */

/* Prints the outcome of @t (NULL: transport error); true when GOOD. */
static bool report(struct iscsi_context *iscsi, struct scsi_task *t)
{
	if (!t) {
		printf("ERROR %s\n", iscsi_get_error(iscsi));
		return false;
	}
	if (t->status == SCSI_STATUS_GOOD)
		return true;
	if (t->status == SCSI_STATUS_CHECK_CONDITION)
		printf("CHECK %x/%02x/%02x\n", t->sense.key,
		       (t->sense.ascq >> 8) & 0xff, t->sense.ascq & 0xff);
	else
		printf("STATUS 0x%02x\n", t->status);
	return false;
}

static void run(struct iscsi_context *iscsi, const char *op, int lun,
		uint64_t lba)
{
	struct scsi_task *t = NULL;
	uint8_t buf[4096];

	if (strcmp(op, "tur") == 0) {
		t = iscsi_testunitready_sync(iscsi, lun);
	} else if (strcmp(op, "cap") == 0) {
		t = iscsi_readcapacity16_sync(iscsi, lun);
		if (t && t->status == SCSI_STATUS_GOOD) {
			struct scsi_readcapacity16 *rc16 =
				scsi_datain_unmarshall(t);

			if (!rc16) {
				printf("ERROR cannot decode READ CAPACITY (16)\n");
			} else {
				block_size = rc16->block_length;
				printf("CAP %" PRIu64 " %u\n",
				       rc16->returned_lba + 1,
				       rc16->block_length);
			}
			scsi_free_scsi_task(t);
			return;
		}
	} else if (strcmp(op, "read") == 0) {
		t = iscsi_read16_sync(iscsi, lun, lba, block_size, block_size,
				      0, 0, 0, 0, 0);
	} else if (strcmp(op, "std") == 0 || strcmp(op, "vpd") == 0 ||
		   strcmp(op, "rc16") == 0 || strcmp(op, "msense") == 0) {
		bool evpd = op[0] == 'v';

		if (op[0] == 'r')
			t = iscsi_readcapacity16_sync(iscsi, lun);
		else if (op[0] == 'm')
			t = iscsi_modesense6_sync(iscsi, lun, 1,
						  SCSI_MODESENSE_PC_CURRENT,
						  (int)lba, 0, 255);
		else
			t = iscsi_inquiry_sync(iscsi, lun, evpd,
					       evpd ? (int)lba : 0, 255);
		if (t && t->status == SCSI_STATUS_GOOD) {
			printf("DATA");
			for (int i = 0; i < t->datain.size; i++)
				printf(" %02x", t->datain.data[i]);
			printf("\n");
			scsi_free_scsi_task(t);
			return;
		}
	} else if (strcmp(op, "write") == 0) {
		memset(buf, 0xa5, sizeof(buf));
		t = iscsi_write16_sync(iscsi, lun, lba, buf, block_size,
				       block_size, 0, 0, 0, 0, 0);
	} else {
		printf("ERROR unknown command %s\n", op);
		return;
	}
	if (report(iscsi, t))
		printf("GOOD\n");
	if (t)
		scsi_free_scsi_task(t);
}

int main(int argc, char **argv)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	char line[256];
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: captool URL\n");
		return 2;
	}
	iscsi = iscsi_create_context("iqn.2026-12.org.ringtgt:captool");
	if (!iscsi)
		return 1;
	url = iscsi_parse_full_url(iscsi, argv[1]);
	if (!url) {
		fprintf(stderr, "captool: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return 2;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "captool: login: %s\n", iscsi_get_error(iscsi));
		rc = 1;
		goto out;
	}
	printf("READY\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char op[16];
		int lun = 0;
		unsigned long long lba = 0;
		int n = sscanf(line, "%15s %d %llu", op, &lun, &lba);

		if (n >= 1 && strcmp(op, "quit") == 0)
			break;
		if (n < 2)
			printf("ERROR bad line\n");
		else
			run(iscsi, op, lun, lba);
		fflush(stdout);
	}
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return rc;
}
