/*
 * sense.c - the one place where enum sense_reason becomes a status byte
 * and sense data. Always fixed format (SPC-4 §4.5.3): we report D_SENSE=0
 * in the Control mode page.
 */
#include <string.h>

#include "scsi/scsi_internal.h"

/* Fixed format sense data (SPC-4 §4.5.3, table 48) */
#define SENSE_FIXED_CURRENT 0x70
#define SENSE_DESC_CURRENT 0x72
#define SENSE_FIXED_LEN 18
#define SENSE_KEY 2
#define SENSE_INFO 3
#define SENSE_ADD_LEN 7
#define SENSE_ASC 12
#define SENSE_ASCQ 13
#define SENSE_SKS 15

/* Sense keys (SPC-4 §4.5.6) */
#define KEY_NO_SENSE 0x0
#define KEY_NOT_READY 0x2
#define KEY_MEDIUM_ERROR 0x3
#define KEY_HARDWARE_ERROR 0x4
#define KEY_ILLEGAL_REQUEST 0x5
#define KEY_UNIT_ATTENTION 0x6
#define KEY_DATA_PROTECT 0x7
#define KEY_ABORTED_COMMAND 0xb
#define KEY_MISCOMPARE 0xe

#define CC SAM_STAT_CHECK_CONDITION

static const struct {
	uint8_t status, key, asc, ascq;
} sense_table[SENSE_REASON_COUNT] = {
	[SENSE_NONE] = { SAM_STAT_GOOD, 0, 0, 0 },
	[SENSE_INVALID_OPCODE] = { CC, KEY_ILLEGAL_REQUEST, 0x20, 0x00 },
	[SENSE_INVALID_FIELD_IN_CDB] = { CC, KEY_ILLEGAL_REQUEST, 0x24, 0x00 },
	[SENSE_INVALID_FIELD_IN_PARAM] = { CC, KEY_ILLEGAL_REQUEST, 0x26, 0x00 },
	[SENSE_PARAM_LIST_LENGTH] = { CC, KEY_ILLEGAL_REQUEST, 0x1a, 0x00 },
	[SENSE_LBA_OUT_OF_RANGE] = { CC, KEY_ILLEGAL_REQUEST, 0x21, 0x00 },
	[SENSE_LUN_NOT_SUPPORTED] = { CC, KEY_ILLEGAL_REQUEST, 0x25, 0x00 },
	[SENSE_SAVING_NOT_SUPPORTED] = { CC, KEY_ILLEGAL_REQUEST, 0x39, 0x00 },
	[SENSE_WRITE_PROTECTED] = { CC, KEY_DATA_PROTECT, 0x27, 0x00 },
	[SENSE_READ_ERROR] = { CC, KEY_MEDIUM_ERROR, 0x11, 0x00 },
	[SENSE_WRITE_ERROR] = { CC, KEY_MEDIUM_ERROR, 0x0c, 0x00 },
	[SENSE_NO_SPACE] = { CC, KEY_DATA_PROTECT, 0x27, 0x07 },
	[SENSE_MISCOMPARE] = { CC, KEY_MISCOMPARE, 0x1d, 0x00 },
	[SENSE_HARDWARE_ERROR] = { CC, KEY_HARDWARE_ERROR, 0x44, 0x00 },
	[SENSE_NOT_READY] = { CC, KEY_NOT_READY, 0x04, 0x00 },
	[SENSE_ALUA_STANDBY] = { CC, KEY_NOT_READY, 0x04, 0x0b },
	[SENSE_ALUA_UNAVAILABLE] = { CC, KEY_NOT_READY, 0x04, 0x0c },
	[SENSE_UA_ALUA_CHANGED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x06 },
	[SENSE_UA_POWER_ON] = { CC, KEY_UNIT_ATTENTION, 0x29, 0x00 },
	[SENSE_UA_RESET] = { CC, KEY_UNIT_ATTENTION, 0x29, 0x02 },
	[SENSE_UA_LU_RESET] = { CC, KEY_UNIT_ATTENTION, 0x29, 0x03 },
	[SENSE_CRC_ERROR] = { CC, KEY_ABORTED_COMMAND, 0x47, 0x05 },
	[SENSE_UA_NEXUS_LOSS] = { CC, KEY_UNIT_ATTENTION, 0x29, 0x07 },
	[SENSE_UNSOLICITED_DATA] = { CC, KEY_ABORTED_COMMAND, 0x0c, 0x0c },
	[SENSE_INVALID_RELEASE] = { CC, KEY_ILLEGAL_REQUEST, 0x26, 0x04 },
	[SENSE_INSUFFICIENT_REG_RESOURCES] = { CC, KEY_ILLEGAL_REQUEST, 0x55,
					       0x04 },
	[SENSE_UA_RESERVATIONS_PREEMPTED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x03 },
	[SENSE_UA_RESERVATIONS_RELEASED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x04 },
	[SENSE_UA_REGISTRATIONS_PREEMPTED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x05 },
	[SENSE_UA_CAPACITY_CHANGED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x09 },
	[SENSE_UA_LUNS_CHANGED] = { CC, KEY_UNIT_ATTENTION, 0x3f, 0x0e },
	[SENSE_UA_INQUIRY_CHANGED] = { CC, KEY_UNIT_ATTENTION, 0x3f, 0x03 },
	[SENSE_UA_MODE_CHANGED] = { CC, KEY_UNIT_ATTENTION, 0x2a, 0x01 },
	[SENSE_ABORTED_COMMAND] = { CC, KEY_ABORTED_COMMAND, 0x00, 0x00 },
	[SENSE_RESERVATION_CONFLICT] = { SAM_STAT_RESERVATION_CONFLICT, 0, 0, 0 },
	[SENSE_NO_MEMORY] = { SAM_STAT_TASK_SET_FULL, 0, 0, 0 },
	[SENSE_BUSY] = { SAM_STAT_BUSY, 0, 0, 0 },
	[SENSE_INVALID_FIELD_IN_IU] = { CC, KEY_ILLEGAL_REQUEST, 0x0e, 0x03 },
	[SENSE_DATA_PHASE_ERROR] = { CC, KEY_ABORTED_COMMAND, 0x4b, 0x00 },
	[SENSE_DATA_OFFSET_ERROR] = { CC, KEY_ABORTED_COMMAND, 0x4b, 0x05 },
};

static uint32_t sense_fixed(uint8_t *b, enum sense_reason reason)
{
	memset(b, 0, SENSE_FIXED_LEN);
	b[0] = SENSE_FIXED_CURRENT;
	b[SENSE_KEY] = sense_table[reason].key;
	b[SENSE_ADD_LEN] = SENSE_FIXED_LEN - 8;
	b[SENSE_ASC] = sense_table[reason].asc;
	b[SENSE_ASCQ] = sense_table[reason].ascq;
	return SENSE_FIXED_LEN;
}

void scsi_task_set_sense(struct scsi_task *t, enum sense_reason reason)
{
	if ((unsigned)reason >= SENSE_REASON_COUNT)
		reason = SENSE_HARDWARE_ERROR;
	t->status = sense_table[reason].status;
	t->sense_len = 0;
	if (t->status != SAM_STAT_CHECK_CONDITION)
		return;
	t->sense_len = (uint8_t)sense_fixed(t->sense, reason);
}

void scsi_sense_code(enum sense_reason reason, uint8_t *key, uint8_t *asc,
		     uint8_t *ascq)
{
	if ((unsigned)reason >= SENSE_REASON_COUNT)
		reason = SENSE_HARDWARE_ERROR;
	*key = sense_table[reason].key;
	*asc = sense_table[reason].asc;
	*ascq = sense_table[reason].ascq;
}

void scsi_task_set_sense_info(struct scsi_task *t, enum sense_reason reason,
			      uint32_t info)
{
	scsi_task_set_sense(t, reason);
	if (t->status != SAM_STAT_CHECK_CONDITION)
		return;
	t->sense[0] |= 0x80;			/* VALID */
	put_be32(t->sense + SENSE_INFO, info);
}

enum sense_reason scsi_invalid_field(struct scsi_task *t, bool cdb,
				     uint16_t byte, int bit)
{
	enum sense_reason reason = cdb ? SENSE_INVALID_FIELD_IN_CDB
				       : SENSE_INVALID_FIELD_IN_PARAM;
	uint8_t *sks = t->sense + SENSE_SKS;

	scsi_task_set_sense(t, reason);
	/* SPC-4 §4.5.2.4.2: SKSV, C/D, BPV, bit pointer; field pointer */
	sks[0] = 0x80 | (cdb ? 0x40 : 0);
	if (bit >= 0)
		sks[0] |= 0x08 | (uint8_t)(bit & 7);
	put_be16(sks + 1, byte);
	return reason;
}

uint32_t scsi_sense_build(uint8_t *buf, enum sense_reason reason, bool desc)
{
	if (!desc)
		return sense_fixed(buf, reason);
	/* Descriptor format with no descriptors (SPC-4 §4.5.2.1) */
	memset(buf, 0, 8);
	buf[0] = SENSE_DESC_CURRENT;
	buf[1] = sense_table[reason].key;
	buf[2] = sense_table[reason].asc;
	buf[3] = sense_table[reason].ascq;
	return 8;
}
