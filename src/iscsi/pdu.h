/*
 * pdu.h - iSCSI PDU codec (RFC 7143 §11): the 48-byte Basic Header
 * Segment decoded into a struct and built back from one. Pure functions:
 * no connection, no allocation, no I/O, so they can be unit-tested on
 * byte arrays and fuzzed.
 */
#ifndef RINGTGT_PDU_H
#define RINGTGT_PDU_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#define BHS_LEN 48
#define DIGEST_LEN 4
#define RSVD_TAG 0xffffffffu

/* Field offsets (RFC 7143 §11.2.1 and the per-opcode sections). */
#define BHS_OPCODE 0
#define BHS_FLAGS 1
#define BHS_B2 2
#define BHS_B3 3
#define BHS_AHSLEN 4
#define BHS_DSL 5
#define BHS_LUN 8
#define BHS_ISID 8
#define BHS_TSIH 14
#define BHS_ITT 16
#define BHS_TTT 20		/* also EDTL, RTT, CID (login/logout) */
#define BHS_CMDSN 24		/* StatSN in target PDUs */
#define BHS_EXPSTATSN 28	/* ExpCmdSN in target PDUs */
#define BHS_MAXCMDSN 32		/* RefCmdSN in TMF requests */
#define BHS_DATASN 36		/* ExpDataSN, R2TSN, status class/detail */
#define BHS_BUFOFF 40		/* Time2Wait/Time2Retain in logout */
#define BHS_RESID 44		/* desired length in R2T */
#define BHS_CDB 32

static_assert(BHS_LEN == 48, "BHS is 48 bytes");

enum iscsi_op {
	/* initiator to target */
	OP_NOP_OUT = 0x00,
	OP_SCSI_CMD = 0x01,
	OP_TMF_REQ = 0x02,
	OP_LOGIN_REQ = 0x03,
	OP_TEXT_REQ = 0x04,
	OP_DATA_OUT = 0x05,
	OP_LOGOUT_REQ = 0x06,
	OP_SNACK = 0x10,
	/* target to initiator */
	OP_NOP_IN = 0x20,
	OP_SCSI_RSP = 0x21,
	OP_TMF_RSP = 0x22,
	OP_LOGIN_RSP = 0x23,
	OP_TEXT_RSP = 0x24,
	OP_DATA_IN = 0x25,
	OP_LOGOUT_RSP = 0x26,
	OP_R2T = 0x31,
	OP_ASYNC = 0x32,
	OP_REJECT = 0x3f,
};

#define BHS_I 0x40		/* immediate delivery */
#define BHS_F 0x80		/* final */

/* SCSI Command flags (byte 1) */
#define CMD_R 0x40
#define CMD_W 0x20
/* Data-In / SCSI Response flags */
#define DIN_A 0x40
#define DIN_O 0x04
#define DIN_U 0x02
#define DIN_S 0x01
#define RSP_O 0x04
#define RSP_U 0x02
/* Login flags */
#define LOGIN_T 0x80
#define LOGIN_C 0x40
/* Text flags */
#define TEXT_C 0x40

enum reject_reason {
	REJECT_DATA_DIGEST = 0x02,
	REJECT_SNACK = 0x03,
	REJECT_PROTOCOL_ERROR = 0x04,
	REJECT_CMD_NOT_SUPPORTED = 0x05,
	REJECT_IMMEDIATE_CMD = 0x06,
	REJECT_TASK_IN_PROGRESS = 0x07,
	REJECT_INVALID_DATA_ACK = 0x08,
	REJECT_INVALID_PDU_FIELD = 0x09,
	REJECT_LONG_OP = 0x0a,
	REJECT_NEGOTIATION_RESET = 0x0b,
	REJECT_WAITING_LOGOUT = 0x0c,
};

enum tmf_function {
	TMF_ABORT_TASK = 1,
	TMF_ABORT_TASK_SET = 2,
	TMF_CLEAR_ACA = 3,
	TMF_CLEAR_TASK_SET = 4,
	TMF_LUN_RESET = 5,
	TMF_TARGET_WARM_RESET = 6,
	TMF_TARGET_COLD_RESET = 7,
	TMF_TASK_REASSIGN = 8,
	/* RFC 7144 §6, with iSCSIProtocolLevel=2 */
	TMF_QUERY_TASK = 9,
	TMF_QUERY_TASK_SET = 10,
	TMF_IT_NEXUS_RESET = 11,
	TMF_QUERY_ASYNC_EVENT = 12,
};

enum tmf_response {
	TMF_RSP_COMPLETE = 0,
	TMF_RSP_NO_TASK = 1,
	TMF_RSP_NO_LUN = 2,
	TMF_RSP_ALLEGIANT = 3,
	TMF_RSP_NO_REASSIGN = 4,
	TMF_RSP_NOT_SUPPORTED = 5,
	TMF_RSP_AUTH_FAILED = 6,
	TMF_RSP_SUCCEEDED = 7,		/* RFC 7144: a QUERY found something */
	TMF_RSP_REJECTED = 255,
};

/* Login status class/detail (RFC 7143 §11.13.5) as 0xCCDD. */
enum login_status {
	LOGIN_OK = 0x0000,
	LOGIN_INITIATOR_ERROR = 0x0200,
	LOGIN_AUTH_FAILED = 0x0201,
	LOGIN_FORBIDDEN = 0x0202,
	LOGIN_NOT_FOUND = 0x0203,
	LOGIN_REMOVED = 0x0204,
	LOGIN_BAD_VERSION = 0x0205,
	LOGIN_TOO_MANY_CONNS = 0x0206,
	LOGIN_MISSING_PARAM = 0x0207,
	LOGIN_CANT_INCLUDE = 0x0208,
	LOGIN_BAD_SESSION_TYPE = 0x0209,
	LOGIN_NO_SESSION = 0x020a,
	LOGIN_INVALID_REQUEST = 0x020b,
	LOGIN_TARGET_ERROR = 0x0300,
	LOGIN_SERVICE_UNAVAILABLE = 0x0301,
	LOGIN_NO_RESOURCES = 0x0302,
};

/* Decoded BHS. Fields that an opcode does not use are zero. */
struct bhs {
	uint8_t opcode;
	bool immediate;
	bool final;
	uint8_t flags;		/* byte 1 as sent */
	uint8_t b2, b3;
	uint16_t ahs_len;	/* bytes (TotalAHSLength is in words) */
	uint32_t dsl;		/* data segment length */
	uint64_t lun;		/* raw 8 bytes */
	uint32_t itt;
	uint32_t ttt;		/* TTT, EDTL, RTT or CID by opcode */
	uint32_t cmdsn;
	uint32_t expstatsn;
	uint32_t f32;		/* RefCmdSN etc. (offset 32) */
	uint32_t datasn;
	uint32_t bufoff;
	const uint8_t *raw;	/* the 48 bytes decoded */
};

/*
 * Decodes an initiator PDU header. Returns 0, or -EPROTO for a header no
 * target may accept (a target-only opcode, reserved opcode, AHS on an
 * opcode that never carries one). Field-level checks are the caller's.
 */
int pdu_decode_bhs(const uint8_t b[BHS_LEN], struct bhs *out);
/* What the AHSs of a SCSI Command carry (RFC 7143 §11.2.2). */
struct pdu_ahs {
	const uint8_t *ext_cdb;		/* CDB bytes 16.. (type 1), or NULL */
	uint16_t ext_cdb_len;
	bool has_bidi;			/* type 2: bidirectional read length */
	uint32_t bidi_read_len;
};

/*
 * Walks the @len bytes of AHS after a BHS. Returns 0, or -EPROTO when an
 * AHS claims more bytes than TotalAHSLength leaves, a padded AHS does not
 * end where the next starts, or a known type has the wrong length: a
 * format error (the PDU must not be executed). Pure.
 */
int pdu_parse_ahs(const uint8_t *ahs, size_t len, struct pdu_ahs *out);

/* True for opcodes an initiator may send. */
bool pdu_opcode_valid_initiator(uint8_t opcode);
const char *pdu_opcode_name(uint8_t opcode);

/* Sets the common header fields of a target PDU. */
static inline void pdu_init(uint8_t b[BHS_LEN], uint8_t opcode, uint8_t flags)
{
	for (int i = 0; i < BHS_LEN; i++)
		b[i] = 0;
	b[BHS_OPCODE] = opcode;
	b[BHS_FLAGS] = flags;
}

void pdu_set_dsl(uint8_t b[BHS_LEN], uint32_t dsl);

/* RFC 1982 serial number arithmetic on 32-bit sequence numbers. */
static inline bool sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline bool sn_le(uint32_t a, uint32_t b)
{
	return a == b || sn_lt(a, b);
}

/* Pads a data segment length to the 4-byte boundary. */
static inline uint32_t pdu_pad4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

#endif
