/*
 * pdu.c - decoding of initiator BHSs (RFC 7143 §11). Builders live next
 * to the code that sends each PDU; they only set fields with put_be*().
 */
#include <errno.h>

#include "base/base.h"
#include "pdu.h"

bool pdu_opcode_valid_initiator(uint8_t opcode)
{
	switch (opcode) {
	case OP_NOP_OUT:
	case OP_SCSI_CMD:
	case OP_TMF_REQ:
	case OP_LOGIN_REQ:
	case OP_TEXT_REQ:
	case OP_DATA_OUT:
	case OP_LOGOUT_REQ:
	case OP_SNACK:
		return true;
	default:
		return false;
	}
}

const char *pdu_opcode_name(uint8_t opcode)
{
	static const char *const names[0x40] = {
		[OP_NOP_OUT] = "NOP-Out", [OP_SCSI_CMD] = "SCSI Command",
		[OP_TMF_REQ] = "Task Management Request",
		[OP_LOGIN_REQ] = "Login Request", [OP_TEXT_REQ] = "Text Request",
		[OP_DATA_OUT] = "Data-Out", [OP_LOGOUT_REQ] = "Logout Request",
		[OP_SNACK] = "SNACK", [OP_NOP_IN] = "NOP-In",
		[OP_SCSI_RSP] = "SCSI Response",
		[OP_TMF_RSP] = "Task Management Response",
		[OP_LOGIN_RSP] = "Login Response", [OP_TEXT_RSP] = "Text Response",
		[OP_DATA_IN] = "Data-In", [OP_LOGOUT_RSP] = "Logout Response",
		[OP_R2T] = "R2T", [OP_ASYNC] = "Async Message",
		[OP_REJECT] = "Reject",
	};
	const char *n = names[opcode & 0x3f];

	return n ? n : "unknown";
}

int pdu_decode_bhs(const uint8_t b[BHS_LEN], struct bhs *out)
{
	uint8_t op = b[BHS_OPCODE] & 0x3f;

	/* The two high bits of byte 0: bit 7 is reserved, bit 6 is I. */
	if (b[BHS_OPCODE] & 0x80)
		return -EPROTO;
	if (!pdu_opcode_valid_initiator(op))
		return -EPROTO;
	out->opcode = op;
	out->immediate = b[BHS_OPCODE] & BHS_I;
	out->flags = b[BHS_FLAGS];
	out->final = b[BHS_FLAGS] & BHS_F;
	out->b2 = b[BHS_B2];
	out->b3 = b[BHS_B3];
	out->ahs_len = (uint16_t)(b[BHS_AHSLEN] * 4);
	out->dsl = get_be24(b + BHS_DSL);
	out->lun = get_be64(b + BHS_LUN);
	out->itt = get_be32(b + BHS_ITT);
	out->ttt = get_be32(b + BHS_TTT);
	out->cmdsn = get_be32(b + BHS_CMDSN);
	out->expstatsn = get_be32(b + BHS_EXPSTATSN);
	out->f32 = get_be32(b + BHS_MAXCMDSN);
	out->datasn = get_be32(b + BHS_DATASN);
	out->bufoff = get_be32(b + BHS_BUFOFF);
	out->raw = b;
	/* Only SCSI Commands carry AHSs (extended CDB, bidi length). */
	if (out->ahs_len && op != OP_SCSI_CMD)
		return -EPROTO;
	return 0;
}

int pdu_parse_ahs(const uint8_t *ahs, size_t len, struct pdu_ahs *out)
{
	size_t off = 0;

	*out = (struct pdu_ahs){ 0 };
	while (off < len) {
		uint16_t alen;
		uint8_t type;
		size_t total;

		if (len - off < 4)
			return -EPROTO;
		alen = get_be16(ahs + off);
		type = ahs[off + 2];
		/* AHSLength excludes the 3-byte header... and the padding */
		total = 3 + (size_t)alen;
		total = (total + 3) & ~(size_t)3;
		if (alen == 0 || total > len - off)
			return -EPROTO;
		switch (type) {
		case 1:	/* extended CDB: a reserved byte, then CDB[16..] */
			if (out->ext_cdb || alen < 2)
				return -EPROTO;
			out->ext_cdb = ahs + off + 4;
			out->ext_cdb_len = (uint16_t)(alen - 1);
			break;
		case 2:	/* bidirectional read: a reserved byte + 4 bytes */
			if (out->has_bidi || alen != 5)
				return -EPROTO;
			out->has_bidi = true;
			out->bidi_read_len = get_be32(ahs + off + 4);
			break;
		default:	/* reserved types: nothing to honour */
			break;
		}
		off += total;
	}
	return 0;
}

void pdu_set_dsl(uint8_t b[BHS_LEN], uint32_t dsl)
{
	put_be24(b + BHS_DSL, dsl);
}
