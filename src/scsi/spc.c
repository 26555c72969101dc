/*
 * spc.c - primary commands (SPC-4): TEST UNIT READY, INQUIRY and its VPD
 * pages, MODE SENSE(6/10), REPORT LUNS, REQUEST SENSE and REPORT
 * SUPPORTED OPERATION CODES.
 *
 * Every response is built in a small stack buffer at its full length and
 * then cut to the allocation length by scsi_task_data_in(), so the length
 * fields always describe the whole response (SPC-4 §4.2.5.6).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"

#define PDT_DISK 0x00
#define PDT_CONTROLLER 0x0c
#define PDT_NONE 0x1f
#define PQ_NOT_SUPPORTED 0x60	/* peripheral qualifier 011b */

/* Version descriptors (SPC-4 §6.4.2, table 142) */
#define VD_SAM5 0x00a0
#define VD_ISCSI 0x0960
#define VD_SPC4 0x0460
#define VD_SBC3 0x04c0

/* Standard INQUIRY data (SPC-4 §6.4.2) */
#define INQ_STD_LEN 96
#define INQ_VERSION_SPC4 0x06
#define INQ_RMB 0x80		/* byte 1: removable medium */
#define INQ_HISUP 0x10
#define INQ_RDF 0x02
#define INQ_CMDQUE 0x02
/* TPGS=11b: implicit and explicit ALUA (SPC-4 §6.4.2, alua.c) */
#define INQ_TPGS_BOTH 0x30

/* VPD pages */
#define VPD_SUPPORTED 0x00
#define VPD_SERIAL 0x80
#define VPD_DEVICE_ID 0x83
#define VPD_BLOCK_LIMITS 0xb0
#define VPD_BDC 0xb1
#define VPD_LBP 0xb2

/* Designators (SPC-4 §7.8.6) */
#define CODESET_BINARY 0x1
#define CODESET_ASCII 0x2
#define PROTO_ISCSI 0x5
#define DESIG_PIV 0x80
#define ASSOC_LU 0x00
#define ASSOC_PORT 0x10
#define DESIG_T10 0x1
#define DESIG_NAA 0x3
#define DESIG_REL_PORT 0x4
#define DESIG_TPG 0x5

/* Mode pages */
#define MP_ALL 0x3f
#define MS_PC_CURRENT 0
#define MS_PC_CHANGEABLE 1
#define MS_PC_DEFAULT 2
#define MS_PC_SAVED 3
#define MS_DSP_WP 0x80
#define MS_DSP_DPOFUA 0x10

static uint8_t lu_pdt(const struct scsi_lu *lu)
{
	if (!lu)
		return PQ_NOT_SUPPORTED | PDT_NONE;
	return lu->type == SCSI_LU_DISK ? PDT_DISK : PDT_CONTROLLER;
}

/* Space-padded ASCII field (SPC-4 §4.4.1). */
static void put_ascii(uint8_t *p, const char *s, size_t width)
{
	size_t n = strnlen(s, width);

	memcpy(p, s, n);
	memset(p + n, ' ', width - n);
}

void spc_test_unit_ready(struct scsi_task *t)
{
	scsi_task_complete(t);
}

/* --- INQUIRY ------------------------------------------------------------ */

static const uint8_t vpd_disk[] = {
	VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID,
	VPD_BLOCK_LIMITS, VPD_BDC, VPD_LBP,
};
static const uint8_t vpd_ctrl[] = { VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID };

static bool vpd_supported(const struct scsi_lu *lu, uint8_t page)
{
	const uint8_t *list = lu->type == SCSI_LU_DISK ? vpd_disk : vpd_ctrl;
	size_t n = lu->type == SCSI_LU_DISK ? sizeof(vpd_disk)
					    : sizeof(vpd_ctrl);

	return memchr(list, page, n) != NULL;
}

enum sense_reason spc_parse_inquiry(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	bool evpd = cdb[1] & 0x01;

	/* SPC-4 §6.4.1: byte 1 bits 7-1 reserved (CMDDT is obsolete) */
	if (cdb[1] & 0xfe)
		return scsi_invalid_field(t, true, 1, 1);
	if (!evpd && cdb[2])
		return scsi_invalid_field(t, true, 2, 7);
	if (evpd) {
		if (!t->lu)
			return SENSE_LUN_NOT_SUPPORTED;
		if (!vpd_supported(t->lu, cdb[2]))
			return scsi_invalid_field(t, true, 2, 7);
	}
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be16(cdb + 3);
	return SENSE_NONE;
}

static uint32_t inquiry_standard(struct scsi_lu *lu, uint8_t *b)
{
	struct scsi_lu_ident id;

	memset(b, 0, INQ_STD_LEN);
	b[0] = lu_pdt(lu);
	b[2] = INQ_VERSION_SPC4;
	b[3] = INQ_HISUP | INQ_RDF;
	b[4] = INQ_STD_LEN - 5;
	b[5] = INQ_TPGS_BOTH;
	b[7] = INQ_CMDQUE;
	if (lu) {
		scsi_lu_ident(lu, &id);
		if (id.removable)
			b[1] = INQ_RMB;
		put_ascii(b + 8, id.vendor, SCSI_VENDOR_LEN);
		put_ascii(b + 16, id.product, SCSI_PRODUCT_LEN);
		put_ascii(b + 32, id.revision, SCSI_REVISION_LEN);
	} else {
		put_ascii(b + 8, "RINGTGT", SCSI_VENDOR_LEN);
		put_ascii(b + 16, "", SCSI_PRODUCT_LEN);
		put_ascii(b + 32, "", SCSI_REVISION_LEN);
	}
	put_be16(b + 58, VD_SAM5);
	put_be16(b + 60, VD_ISCSI);
	put_be16(b + 62, VD_SPC4);
	if (lu && lu->type == SCSI_LU_DISK)
		put_be16(b + 64, VD_SBC3);
	return INQ_STD_LEN;
}

static uint32_t vpd_supported_pages(const struct scsi_lu *lu, uint8_t *b)
{
	const uint8_t *list = lu->type == SCSI_LU_DISK ? vpd_disk : vpd_ctrl;
	uint16_t n = lu->type == SCSI_LU_DISK ? sizeof(vpd_disk)
					      : sizeof(vpd_ctrl);

	put_be16(b + 2, n);
	memcpy(b + 4, list, n);
	return 4u + n;
}

/*
 * SPC-4 §7.8.16. tgt's scsi_sn is laid out as tgt does (usr/spc.c,
 * update_vpd_80): 36 bytes, right-aligned, padded with spaces in front;
 * udev's ID_SCSI_SERIAL and the by-id names keep those bytes.
 */
static uint32_t vpd_serial(const struct scsi_lu_ident *id, uint8_t *b)
{
	uint16_t n = (uint16_t)strlen(id->serial);

	if (id->tgt_sn) {
		put_be16(b + 2, SCSI_LU_SCSI_SN_MAX);
		memset(b + 4, ' ', SCSI_LU_SCSI_SN_MAX);
		memcpy(b + 4 + SCSI_LU_SCSI_SN_MAX - n, id->serial, n);
		return 4u + SCSI_LU_SCSI_SN_MAX;
	}
	put_be16(b + 2, n);
	memcpy(b + 4, id->serial, n);
	return 4u + n;
}

/* SPC-4 §7.8.6: designation descriptor header; returns its 4 bytes. */
static uint32_t desig_head(uint8_t *p, uint8_t proto_codeset, uint8_t type,
			   uint8_t len)
{
	p[0] = proto_codeset;
	p[1] = type;
	p[2] = 0;
	p[3] = len;
	return 4;
}

static uint32_t vpd_device_id(const struct scsi_task *t, uint8_t *b)
{
	struct scsi_lu_ident id;
	uint32_t off = 4;
	uint16_t rel_port = t->nexus && t->nexus->rel_port_id
				    ? t->nexus->rel_port_id : 1;
	const struct scsi_port_group *g = scsi_alua_group(t->nexus);
	size_t slen;

	scsi_lu_ident(t->lu, &id);
	slen = strlen(id.serial);
	if (id.tgt_id) {
		/*
		 * tgt's LU designators from scsi_id (tgt usr/spc.c,
		 * update_vpd_83), in its order and bytes: T10 vendor ID
		 * holding scsi_id in a 36-byte field padded with NULs, then
		 * NAA 6 from its hex digits. tgt's third one, NAA locally
		 * assigned from the target id and LUN, is left out: tids are
		 * reused, so it is not an identity (docs/migrating-from-tgt.md).
		 */
		off += desig_head(b + off, CODESET_ASCII, ASSOC_LU | DESIG_T10,
				  SCSI_LU_SCSI_ID_MAX);
		memset(b + off, 0, SCSI_LU_SCSI_ID_MAX);
		memcpy(b + off, id.scsi_id, strlen(id.scsi_id));
		off += SCSI_LU_SCSI_ID_MAX;
		off += desig_head(b + off, CODESET_BINARY, ASSOC_LU | DESIG_NAA,
				  sizeof(id.naa));
		memcpy(b + off, id.naa, sizeof(id.naa));
		off += sizeof(id.naa);
	} else {
		/* NAA IEEE Registered Extended, LU association */
		off += desig_head(b + off, CODESET_BINARY, ASSOC_LU | DESIG_NAA,
				  sizeof(id.naa));
		memcpy(b + off, id.naa, sizeof(id.naa));
		off += sizeof(id.naa);

		/* T10 vendor ID: vendor + unit serial number (§7.8.6.6.4) */
		off += desig_head(b + off, CODESET_ASCII, ASSOC_LU | DESIG_T10,
				  (uint8_t)(SCSI_VENDOR_LEN + slen));
		put_ascii(b + off, id.vendor, SCSI_VENDOR_LEN);
		memcpy(b + off + SCSI_VENDOR_LEN, id.serial, slen);
		off += SCSI_VENDOR_LEN + (uint32_t)slen;
	}

	/*
	 * Relative target port (§7.8.6.6.7), on the port of this nexus. The
	 * layer is transport independent but iSCSI is the only transport.
	 */
	off += desig_head(b + off, (PROTO_ISCSI << 4) | CODESET_BINARY,
			  DESIG_PIV | ASSOC_PORT | DESIG_REL_PORT, 4);
	put_be16(b + off, 0);
	put_be16(b + off + 2, rel_port);
	off += 4;

	/* Target port group (§7.8.6.6.8) of that port, when it has one */
	if (g) {
		off += desig_head(b + off, (PROTO_ISCSI << 4) | CODESET_BINARY,
				  DESIG_PIV | ASSOC_PORT | DESIG_TPG, 4);
		put_be16(b + off, 0);
		put_be16(b + off + 2, g->tag);
		off += 4;
	}

	put_be16(b + 2, (uint16_t)(off - 4));
	return off;
}

/* SBC-3 §6.5.3 */
static uint32_t vpd_block_limits(const struct scsi_lu *lu, uint8_t *b)
{
	uint32_t phys = 1u << lu->phys_exp;	/* blocks per physical block */
	uint32_t unmap_gran = MAX(4096u >> lu->block_shift, phys);
	uint64_t xfer = atomic_load_explicit(&lu->xfer, memory_order_relaxed);

	put_be16(b + 2, 0x3c);
	/* WSNZ=1 (byte 4): WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is
	 * refused (SBC-4 Block Limits VPD page; sbc_parse_write_same) */
	b[4] = 0x01;
	b[5] = SCSI_MAX_CAW_BLOCKS;	/* maximum compare and write length */
	/* OPTIMAL TRANSFER LENGTH GRANULARITY (by default a physical
	 * block, so a smaller write is no read-modify-write on the medium)
	 * and OPTIMAL TRANSFER LENGTH: lu.c, tgt's optimal_xfer_gran/_len */
	put_be16(b + 6, (uint16_t)(xfer >> 32));
	put_be32(b + 8, SCSI_MAX_XFER_BYTES >> lu->block_shift);
	put_be32(b + 12, (uint32_t)xfer);
	if (scsi_lu_lbp(lu) && !lu->readonly) {
		put_be32(b + 20, SCSI_MAX_UNMAP_BLOCKS);
		put_be32(b + 24, SCSI_MAX_UNMAP_DESCS);
		put_be32(b + 28, unmap_gran);
	}
	put_be64(b + 36, sbc_max_write_same(lu));	/* max write same length */
	return 64;
}

/* SBC-3 §6.5.2 */
static uint32_t vpd_bdc(uint8_t *b)
{
	put_be16(b + 2, 0x3c);
	put_be16(b + 4, 0x0001);	/* non-rotating medium */
	return 64;
}

/* SBC-3 §6.5.4 */
static uint32_t vpd_lbp(const struct scsi_lu *lu, uint8_t *b)
{
	put_be16(b + 2, 4);
	if (scsi_lu_lbp(lu) && !lu->readonly) {
		/* LBPU: UNMAP; LBPWS, LBPWS10: WRITE SAME(16/10) UNMAP=1 */
		b[5] = 0x80 | 0x40 | 0x20;
		/* LBPRZ field (SBC-4 bits 4:2) 001b: unmapped reads zeroes */
		if (lu->bs->unmap_zeroes)
			b[5] |= 0x04;
		b[6] = 0x02;	/* provisioning type: thin */
	}
	return 8;
}

void spc_inquiry(struct scsi_task *t)
{
	uint8_t b[256];
	uint32_t len;

	if (!(t->cdb[1] & 0x01)) {
		len = inquiry_standard(t->lu, b);
		scsi_task_data_in(t, b, len);
		scsi_task_complete(t);
		return;
	}

	memset(b, 0, sizeof(b));
	b[0] = lu_pdt(t->lu);
	b[1] = t->cdb[2];
	switch (t->cdb[2]) {
	case VPD_SUPPORTED:
		len = vpd_supported_pages(t->lu, b);
		break;
	case VPD_SERIAL: {
		struct scsi_lu_ident id;

		scsi_lu_ident(t->lu, &id);
		len = vpd_serial(&id, b);
		break;
	}
	case VPD_DEVICE_ID:
		len = vpd_device_id(t, b);
		break;
	case VPD_BLOCK_LIMITS:
		len = vpd_block_limits(t->lu, b);
		break;
	case VPD_BDC:
		len = vpd_bdc(b);
		break;
	case VPD_LBP:
		len = vpd_lbp(t->lu, b);
		break;
	default:	/* parse checked the page */
		scsi_task_fail(t, SENSE_HARDWARE_ERROR);
		return;
	}
	scsi_task_data_in(t, b, len);
	scsi_task_complete(t);
}

/* --- MODE SENSE ---------------------------------------------------------- */

enum sense_reason spc_parse_mode_sense(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	bool ten = cdb[0] == MODE_SENSE_10;
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];

	/* byte 1: DBD (and LLBAA for the 10-byte CDB); the rest reserved */
	if (cdb[1] & (ten ? 0xe7 : 0xf7))
		return scsi_invalid_field(t, true, 1, 7);
	if (pc == MS_PC_SAVED)
		return SENSE_SAVING_NOT_SUPPORTED;
	if (page != MP_ALL && scsi_mode_page_index(page) < 0)
		return scsi_invalid_field(t, true, 2, 5);
	/* We have no subpages; 0xff (all subpages) returns the page itself. */
	if (subpage != 0 && subpage != 0xff)
		return scsi_invalid_field(t, true, 3, 7);
	t->dir = SCSI_DIR_READ;
	t->data_len = ten ? get_be16(cdb + 7) : cdb[4];
	return SENSE_NONE;
}

void spc_mode_sense(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	bool ten = cdb[0] == MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f;
	uint32_t hlen = ten ? 8 : 4, bdlen = dbd ? 0 : llbaa ? 16 : 8;
	uint8_t b[256];
	uint8_t *bd = b + hlen;
	uint32_t off = hlen + bdlen;

	memset(b, 0, sizeof(b));
	/* Block descriptor (SBC-3 §6.4.2): short or long LBA */
	if (bdlen == 8) {
		uint64_t cap = scsi_lu_nblocks(lu);

		put_be32(bd, cap > 0xffffffffULL ? 0xffffffffu : (uint32_t)cap);
		put_be24(bd + 5, lu->block_size);
	} else if (bdlen == 16) {
		put_be64(bd, scsi_lu_nblocks(lu));
		put_be32(bd + 12, lu->block_size);
	}

	/* the pages in ascending order (SPC-4 §6.11: page code 3Fh) */
	for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++)
		if (page == MP_ALL || (int)mp == scsi_mode_page_index(page))
			off += scsi_mode_page(lu, (enum scsi_lu_mode_page)mp,
					      pc == MS_PC_CHANGEABLE, b + off);

	/* Mode parameter header (SPC-4 §7.5.5) */
	if (ten) {
		put_be16(b, (uint16_t)(off - 2));
		b[3] = (lu->readonly ? MS_DSP_WP : 0) | MS_DSP_DPOFUA;
		b[4] = llbaa && bdlen ? 0x01 : 0;	/* LONGLBA */
		put_be16(b + 6, (uint16_t)bdlen);
	} else {
		b[0] = (uint8_t)(off - 1);
		b[2] = (lu->readonly ? MS_DSP_WP : 0) | MS_DSP_DPOFUA;
		b[3] = (uint8_t)bdlen;
	}
	scsi_task_data_in(t, b, off);
	scsi_task_complete(t);
}

/* --- REPORT LUNS --------------------------------------------------------- */

enum sense_reason spc_parse_report_luns(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;

	/* SPC-4 §6.33: 00h all, 01h well known only, 02h all of both */
	if (cdb[2] > 0x02)
		return scsi_invalid_field(t, true, 2, 7);
	t->data_len = get_be32(cdb + 6);
	if (t->data_len < 16)
		return scsi_invalid_field(t, true, 6, 7);
	t->dir = SCSI_DIR_READ;
	return SENSE_NONE;
}

void spc_report_luns(struct scsi_task *t)
{
	uint8_t b[8 + SCSI_MAX_LUNS * 8];
	uint64_t luns[SCSI_MAX_LUNS];
	int n = 0;

	/* We have no well-known LUs, so select report 01h lists nothing. */
	if (t->cdb[2] != 0x01 && t->nexus && t->nexus->target)
		n = scsi_target_list_luns(t->nexus->target, luns,
					  SCSI_MAX_LUNS);
	memset(b, 0, 8);
	put_be32(b, (uint32_t)n * 8);
	for (int i = 0; i < n; i++)
		put_be64(b + 8 + 8 * i, scsi_lun_encode(luns[i]));
	scsi_task_data_in(t, b, 8 + (uint32_t)n * 8);
	scsi_task_complete(t);
}

/* --- REQUEST SENSE ------------------------------------------------------- */

enum sense_reason spc_parse_request_sense(struct scsi_task *t)
{
	if (t->cdb[1] & 0xfe)
		return scsi_invalid_field(t, true, 1, 7);
	t->dir = SCSI_DIR_READ;
	t->data_len = t->cdb[4];
	return SENSE_NONE;
}

/*
 * SPC-4 §6.39: the only pending sense we keep is a unit attention, which
 * is returned (and cleared) as the data; otherwise NO SENSE, or LOGICAL
 * UNIT NOT SUPPORTED in the data (with GOOD status) when there is no LU.
 */
void spc_request_sense(struct scsi_task *t)
{
	enum sense_reason r = SENSE_LUN_NOT_SUPPORTED;
	uint8_t b[32];
	uint32_t len;

	if (t->lu)
		r = scsi_lu_ua_check(t->lu, t->nexus, true);
	len = scsi_sense_build(b, r, t->cdb[1] & 0x01);
	scsi_task_data_in(t, b, len);
	scsi_task_complete(t);
}

/* --- REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) -------------------- */

#define RSOC_ALL 0
#define RSOC_ONE 1
#define RSOC_ONE_SA 2
#define RSOC_RCTD 0x80
#define RSOC_TIMEOUTS_LEN 12

enum sense_reason spc_parse_rsoc(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	uint8_t opts = cdb[2] & 0x07;
	const struct scsi_opdesc *row;

	if (cdb[2] & 0x78)
		return scsi_invalid_field(t, true, 2, 6);
	if (opts > RSOC_ONE_SA)
		return scsi_invalid_field(t, true, 2, 2);
	if (opts != RSOC_ALL) {
		/* Options 001b are for opcodes without service actions, 010b
		 * for those with; the other way round is an error. */
		row = scsi_opdesc_row(cdb[3]);
		if (row && (row->sa_ops != NULL) != (opts == RSOC_ONE_SA))
			return scsi_invalid_field(t, true, 3, 7);
	}
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be32(cdb + 6);
	return SENSE_NONE;
}

/* --- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 §6.36) ------------- */

#define RSTMF_REPD 0x80

enum sense_reason spc_parse_rstmf(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;

	if (cdb[2] & ~RSTMF_REPD)
		return scsi_invalid_field(t, true, 2, 6);
	/* an allocation length below 4 is an error (SPC-4 §6.36.1) */
	if (get_be32(cdb + 6) < 4)
		return scsi_invalid_field(t, true, 6, 7);
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be32(cdb + 6);
	return SENSE_NONE;
}

void spc_rstmf(struct scsi_task *t)
{
	uint16_t sup = t->nexus ? t->nexus->tmf_supported : 0;
	bool repd = t->cdb[2] & RSTMF_REPD;
	uint8_t b[16] = { (uint8_t)(sup >> 8), (uint8_t)sup };

	/* what the transport implements; no timeouts are advertised */
	if (repd)
		b[3] = 0x0c;	/* ADDITIONAL DATA LENGTH of the extended form */
	scsi_task_data_in(t, b, repd ? 16 : 4);
	scsi_task_complete(t);
}

struct rsoc_ctx {
	const struct scsi_task *t;
	uint8_t *b;
	uint32_t off;
	bool rctd;
};

static void rsoc_add(const struct scsi_opdesc *d, void *arg)
{
	struct rsoc_ctx *c = arg;
	uint8_t *p = c->b + c->off;

	if (!scsi_opdesc_allowed(d, c->t->lu))
		return;
	memset(p, 0, 8);
	p[0] = d->opcode;
	if (d->has_sa)
		put_be16(p + 2, d->sa);
	p[5] = (c->rctd ? 0x02 : 0) | (d->has_sa ? 0x01 : 0);
	put_be16(p + 6, d->cdb_len);
	c->off += 8;
	if (c->rctd) {
		/* Command timeouts descriptor: no timeouts advertised. */
		memset(p + 8, 0, RSOC_TIMEOUTS_LEN);
		put_be16(p + 8, 0x0a);
		c->off += RSOC_TIMEOUTS_LEN;
	}
}

static void rsoc_count(const struct scsi_opdesc *d, void *arg)
{
	(void)d;
	++*(uint32_t *)arg;
}

void spc_rsoc(struct scsi_task *t)
{
	/* one command: 4 + CDB (16) + timeouts descriptor (12) */
	uint8_t one[4 + 16 + RSOC_TIMEOUTS_LEN], *b = one;
	const uint8_t *cdb = t->cdb;
	uint8_t opts = cdb[2] & 0x07;
	bool rctd = cdb[2] & RSOC_RCTD;
	const struct scsi_opdesc *d;
	uint32_t len, rows = 0;

	memset(one, 0, sizeof(one));
	if (opts == RSOC_ALL) {
		struct rsoc_ctx c = { .t = t, .off = 4, .rctd = rctd };

		/* sized by the table, so rows can be added without a limit */
		scsi_opdesc_foreach(rsoc_count, &rows);
		b = c.b = calloc(1, 4 + (size_t)rows * (8 + RSOC_TIMEOUTS_LEN));
		if (!b) {
			scsi_task_set_sense(t, SENSE_HARDWARE_ERROR);
			scsi_task_complete(t);
			return;
		}
		scsi_opdesc_foreach(rsoc_add, &c);
		put_be32(b, c.off - 4);
		len = c.off;
	} else {
		d = scsi_opdesc_find(cdb[3], get_be16(cdb + 4));
		if (!d || !scsi_opdesc_allowed(d, t->lu)) {
			b[1] = 0x01;	/* SUPPORT 001b: not supported */
			len = 4;
		} else {
			b[1] = (rctd ? 0x80 : 0) | 0x03; /* SUPPORT 011b */
			put_be16(b + 2, d->cdb_len);
			memcpy(b + 4, d->usage, d->cdb_len);
			len = 4u + d->cdb_len;
			if (rctd) {
				put_be16(b + len, 0x0a);
				len += RSOC_TIMEOUTS_LEN;
			}
		}
	}
	scsi_task_data_in(t, b, len);
	if (b != one)
		free(b);
	scsi_task_complete(t);
}
