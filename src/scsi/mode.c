/*
 * mode.c - the mode pages ringtgt serves (MODE SENSE, spc.c): what each
 * page says by itself, which of its bits describe what ringtgt does, and
 * the values tgt's mode_page parameter sets in the rest.
 *
 * A page's values come from the LU (the write cache of its store, TAS).
 * mode_page (lu_params.c parses it) may set the other values of a page:
 * hints and limits that ringtgt honours whatever they say (prefetch
 * sizes, retry counts). The bits that describe behaviour, and the
 * reserved and obsolete ones, must stay as ringtgt serves them: a value
 * that claims otherwise is refused, never served. ringtgt has no MODE
 * SELECT, so the changeable values (PC=01b) stay all zero, as tgt's are
 * after mode_page (its add_mode_page() clears the page's mask).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "backing/bs.h"
#include "scsi/scsi_internal.h"

/* Bits of a page that must stay as ringtgt serves them. */
struct mode_fixed {
	uint8_t byte, mask;
	const char *what;
};

/* SBC-4 §6.5.9 Read-Write Error Recovery: the retry counts (bytes 3, 8)
 * and RECOVERY TIME LIMIT (10-11) bound a recovery ringtgt never does */
static const struct mode_fixed fixed_rw[] = {
	{ 2, 0xff, "the error recovery bits (AWRE ARRE TB RC EER PER DTE DCR): the stores do no medium error recovery" },
	{ 4, 0xff, "obsolete byte 4" },
	{ 5, 0xff, "obsolete byte 5" },
	{ 6, 0xff, "obsolete byte 6" },
	{ 7, 0xff, "LBPERE (byte 7): no logical block provisioning thresholds" },
	{ 9, 0xff, "reserved byte 9" },
};

/* SBC-4 §6.5.5 Caching: the prefetch and segment values are hints */
static const struct mode_fixed fixed_caching[] = {
	{ 2, 0x04, "WCE (byte 2 bit 2): it follows the store's write cache (write-cache / write_cache)" },
	{ 2, 0x01, "RCD (byte 2 bit 0): reads may come from the host's page cache" },
	{ 12, 0x06, "SYNC_PROG (byte 12 bits 2:1)" },
	{ 16, 0xff, "reserved byte 16" },
	{ 17, 0xff, "obsolete byte 17" },
	{ 18, 0xff, "obsolete byte 18" },
	{ 19, 0xff, "obsolete byte 19" },
};

/* SPC-4 §7.5.8 Control: all of it is behaviour, but for the EXTENDED
 * SELF-TEST COMPLETION TIME (10-11): there is no self-test */
static const struct mode_fixed fixed_control[] = {
	{ 2, 0xff, "byte 2 (TST TMF_ONLY DPICZ D_SENSE GLTSD RLEC): the task set, sense format and logging ringtgt has" },
	{ 3, 0xff, "byte 3 (QUEUE ALGORITHM MODIFIER NUAR QERR)" },
	{ 4, 0xff, "byte 4 (VS RAC UA_INTLCK_CTRL SWP): SWP is readonly=1" },
	{ 5, 0xff, "byte 5 (ATO TAS ATMPE RWWP AUTOLOAD MODE): TAS is the LUN's tas setting" },
	{ 6, 0xff, "obsolete byte 6" },
	{ 7, 0xff, "obsolete byte 7" },
	{ 8, 0xff, "BUSY TIMEOUT PERIOD (bytes 8-9)" },
	{ 9, 0xff, "BUSY TIMEOUT PERIOD (bytes 8-9)" },
};

static const struct {
	const struct mode_fixed *f;
	size_t n;
	const char *name;
} fixed[SCSI_LU_MP_COUNT] = {
	[SCSI_LU_MP_RW_RECOVERY] = { fixed_rw, ARRAY_SIZE(fixed_rw),
				     "Read-Write Error Recovery" },
	[SCSI_LU_MP_CACHING] = { fixed_caching, ARRAY_SIZE(fixed_caching),
				 "Caching" },
	[SCSI_LU_MP_CONTROL] = { fixed_control, ARRAY_SIZE(fixed_control),
				 "Control" },
};

int scsi_mode_page_index(uint8_t code)
{
	for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++) {
		uint8_t c;

		scsi_lu_mode_page_len((enum scsi_lu_mode_page)mp, &c);
		if (c == code)
			return (int)mp;
	}
	return -1;
}

/* The page as ringtgt serves it without mode_page. */
static void mode_page_own(const struct scsi_lu *lu, enum scsi_lu_mode_page mp,
			  uint8_t *p)
{
	uint8_t code;
	unsigned len = scsi_lu_mode_page_len(mp, &code);

	memset(p, 0, len);
	p[0] = code;
	p[1] = (uint8_t)(len - 2);
	switch (mp) {
	case SCSI_LU_MP_RW_RECOVERY:
		break;
	case SCSI_LU_MP_CACHING:
		if (lu->bs && lu->bs->write_cache)
			p[2] = 0x04;	/* WCE */
		break;
	case SCSI_LU_MP_CONTROL:
		/*
		 * TST=001b: a task set per I_T nexus, so ABORT TASK SET /
		 * CLEAR TASK SET touch only the issuing one; GLTSD: no
		 * implicit log saving.
		 */
		p[2] = 0x20 | 0x02;
		p[3] = 0x10;	/* QUEUE ALGORITHM MODIFIER 1 */
		/* TAS: others' aborted tasks end TASK ABORTED */
		if (lu->tas)
			p[5] = 0x40;
		put_be16(p + 8, 0xffff);	/* busy timeout: unlimited */
		break;
	case SCSI_LU_MP_COUNT:
		break;
	}
}

int scsi_mode_page_check(const struct scsi_lu *lu, enum scsi_lu_mode_page mp,
			 const uint8_t *pg, char *why, size_t whylen)
{
	uint8_t own[SCSI_LU_MODE_PAGE_MAX];

	mode_page_own(lu, mp, own);
	for (size_t i = 0; i < fixed[mp].n; i++) {
		const struct mode_fixed *f = &fixed[mp].f[i];

		if (!((pg[f->byte] ^ own[f->byte]) & f->mask))
			continue;
		if (why && whylen)
			snprintf(why, whylen,
				 "mode_page: %s page %02Xh byte %u is %02Xh, but ringtgt serves %02Xh in bits %02Xh: %s",
				 fixed[mp].name, own[0], f->byte, pg[f->byte],
				 own[f->byte] & f->mask, f->mask, f->what);
		return -EINVAL;
	}
	return 0;
}

uint32_t scsi_mode_page(struct scsi_lu *lu, enum scsi_lu_mode_page mp,
			bool changeable, uint8_t *p)
{
	unsigned len = scsi_lu_mode_page_len(mp, NULL);
	uint8_t set[SCSI_LU_MODE_PAGE_MAX];
	bool has;

	mode_page_own(lu, mp, p);
	if (changeable) {	/* no MODE SELECT: nothing is changeable */
		memset(p + 2, 0, len - 2);
		return len;
	}
	pthread_mutex_lock(&lu->id_lock);
	has = lu->mode_set & (1u << mp);
	if (has)
		memcpy(set, lu->mode[mp], len);
	pthread_mutex_unlock(&lu->id_lock);
	if (!has)
		return len;
	/* the fixed bits from ringtgt even so: a page never claims more */
	for (unsigned i = 2; i < len; i++) {
		uint8_t keep = 0;

		for (size_t k = 0; k < fixed[mp].n; k++)
			if (fixed[mp].f[k].byte == i)
				keep |= fixed[mp].f[k].mask;
		p[i] = (uint8_t)((p[i] & keep) | (set[i] & ~keep));
	}
	return len;
}
