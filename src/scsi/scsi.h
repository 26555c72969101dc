/*
 * scsi.h - transport-independent SCSI target emulation (SPC-4 / SBC-3).
 *
 * The transport (iSCSI) fills a struct scsi_task from the command PDU,
 * calls scsi_task_prepare() to decode the CDB (direction, length, bounds),
 * supplies a data buffer, and calls scsi_task_exec(). The result comes
 * back through task->done on the same reactor thread, possibly before
 * scsi_task_exec() returns. This layer never includes iscsi/.
 *
 * Logical units live in a struct scsi_target (the LUN table of one
 * target). LUs are reference counted: the transport holds a reference for
 * every task it runs on an LU.
 */
#ifndef RINGTGT_SCSI_H
#define RINGTGT_SCSI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backing/bs.h"

#define SCSI_CDB_MAX 32
#define SCSI_SENSE_MAX 96
#define SCSI_MAX_LUNS 256
/*
 * Largest data transfer one command may ask for (Block Limits VPD
 * MAXIMUM TRANSFER LENGTH); longer READ/WRITE CDBs fail with INVALID FIELD
 * IN CDB, so the transport never needs a bigger buffer than this.
 */
#define SCSI_MAX_XFER_BYTES (8u << 20)

/* SAM status codes */
#define SAM_STAT_GOOD 0x00
#define SAM_STAT_CHECK_CONDITION 0x02
#define SAM_STAT_CONDITION_MET 0x04
#define SAM_STAT_BUSY 0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL 0x28
#define SAM_STAT_TASK_ABORTED 0x40

enum scsi_dir { SCSI_DIR_NONE, SCSI_DIR_READ, SCSI_DIR_WRITE };

enum scsi_lu_type {
	SCSI_LU_CONTROLLER,	/* storage array controller (type 0x0c) */
	SCSI_LU_DISK,		/* direct access block device (type 0x00) */
};

/*
 * Why a command failed; maps one-to-one to (status, key, ASC, ASCQ) in
 * sense.c. SENSE_NONE means GOOD.
 */
enum sense_reason {
	SENSE_NONE = 0,
	SENSE_INVALID_OPCODE,		/* 5/20/00 */
	SENSE_INVALID_FIELD_IN_CDB,	/* 5/24/00 */
	SENSE_INVALID_FIELD_IN_PARAM,	/* 5/26/00 */
	SENSE_PARAM_LIST_LENGTH,	/* 5/1a/00 */
	SENSE_LBA_OUT_OF_RANGE,		/* 5/21/00 */
	SENSE_LUN_NOT_SUPPORTED,	/* 5/25/00 */
	SENSE_SAVING_NOT_SUPPORTED,	/* 5/39/00 */
	SENSE_WRITE_PROTECTED,		/* 7/27/00 */
	SENSE_READ_ERROR,		/* 3/11/00 */
	SENSE_WRITE_ERROR,		/* 3/0c/00 */
	SENSE_NO_SPACE,			/* 7/27/07 space allocation failed */
	SENSE_MISCOMPARE,		/* e/1d/00 */
	SENSE_HARDWARE_ERROR,		/* 4/44/00 internal target failure */
	SENSE_NOT_READY,		/* 2/04/00 */
	SENSE_UA_POWER_ON,		/* 6/29/00 */
	SENSE_UA_RESET,			/* 6/29/02 bus reset / LU reset */
	SENSE_UA_CAPACITY_CHANGED,	/* 6/2a/09 */
	SENSE_UA_LUNS_CHANGED,		/* 6/3f/0e reported luns changed */
	SENSE_ABORTED_COMMAND,		/* b/00/00 */
	SENSE_RESERVATION_CONFLICT,	/* status 0x18, no sense */
	SENSE_NO_MEMORY,		/* status TASK SET FULL */
	SENSE_BUSY,			/* status BUSY, no sense */
	SENSE_INVALID_FIELD_IN_IU,	/* 5/0e/03 data shorter than the CDB */
	SENSE_DATA_PHASE_ERROR,		/* b/4b/00 transport: bad data sequence */
	SENSE_DATA_OFFSET_ERROR,	/* b/4b/05 transport: bad buffer offset */
	SENSE_UA_LU_RESET,		/* 6/29/03 bus device reset function */
	SENSE_CRC_ERROR,		/* b/47/05 transport: protocol service CRC */
	SENSE_UA_NEXUS_LOSS,		/* 6/29/07 I_T nexus loss occurred */
	SENSE_UNSOLICITED_DATA,		/* b/0c/0c transport: unexpected
					 * unsolicited data */
	SENSE_INVALID_RELEASE,		/* 5/26/04 invalid release of
					 * persistent reservation */
	SENSE_UA_RESERVATIONS_PREEMPTED,	/* 6/2a/03 */
	SENSE_UA_RESERVATIONS_RELEASED,		/* 6/2a/04 */
	SENSE_UA_REGISTRATIONS_PREEMPTED,	/* 6/2a/05 */
	SENSE_ALUA_STANDBY,		/* 2/04/0b target port in standby */
	SENSE_ALUA_UNAVAILABLE,		/* 2/04/0c target port unavailable */
	SENSE_UA_ALUA_CHANGED,		/* 6/2a/06 asymmetric access state
					 * changed */
	SENSE_INSUFFICIENT_REG_RESOURCES,	/* 5/55/04 insufficient
						 * registration resources */
	SENSE_UA_INQUIRY_CHANGED,	/* 6/3f/03 inquiry data has changed */
	SENSE_UA_MODE_CHANGED,		/* 6/2a/01 mode parameters changed */
	SENSE_REASON_COUNT,
};

struct scsi_lu;
struct scsi_target;
struct scsi_task;
struct scsi_transport_ops;

/*
 * An I_T nexus identity: what a persistent reservation registration
 * belongs to (SPC-4 §5.13.7), the same fields as in struct scsi_nexus.
 */
struct scsi_itn {
	char initiator_port[256];	/* "<iqn>,i,0x<isid>" */
	uint16_t rel_port_id;
};

/*
 * The identity of one I_T nexus, owned by the transport (one per session).
 * The transport must zero it before first use (calloc / memset).
 */
struct scsi_nexus {
	char initiator_port[256];	/* "<iqn>,i,0x<isid>" */
	uint16_t rel_port_id;		/* relative target port identifier */
	struct scsi_target *target;
	/*
	 * The task management functions the transport implements, as bytes
	 * 0-1 of the REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data (SPC-4
	 * §6.36): SCSI_TMF_* bits. Set by the transport.
	 */
	uint16_t tmf_supported;
	/*
	 * What the transport does for commands of this nexus beyond running
	 * them (see struct scsi_transport_ops); NULL: nothing. Set by the
	 * transport.
	 */
	const struct scsi_transport_ops *ops;
	/*
	 * Private to the SCSI layer: per LUN, the reset generation of the LU
	 * this nexus last saw (unit attention bookkeeping, see lu.c), and an
	 * I_T NEXUS LOSS unit attention not reported yet.
	 */
	_Atomic uint32_t ua_seen[SCSI_MAX_LUNS];
	bool ua_nexus_loss[SCSI_MAX_LUNS];
	/* per LUN, the ALUA generation this nexus last saw (alua.c) */
	_Atomic uint32_t alua_seen[SCSI_MAX_LUNS];
	/* per LUN, the capacity generation this nexus last saw (lu.c) */
	_Atomic uint32_t cap_seen[SCSI_MAX_LUNS];
	/* ... the INQUIRY data and mode parameter generations (lu.c) */
	_Atomic uint32_t inq_seen[SCSI_MAX_LUNS];
	_Atomic uint32_t mode_seen[SCSI_MAX_LUNS];
};

/*
 * Services of the transport to the SCSI layer, reached through the
 * nexus of a task. Each is called on the task's reactor thread; each
 * member may be NULL (unsupported).
 *
 * PREEMPT AND ABORT (SPC-4 §5.13.11.2.6) aborts the commands of the
 * preempted I_T nexuses, which only the transport can reach, and is
 * answered once none of their store I/O is in flight. It takes two
 * steps, so that the command changes nothing when the transport cannot
 * take it:
 *
 * preempt_prepare(t, n): reserves what aborting for @n nexuses needs,
 *   before the persistent reservation changes; called under the LU's
 *   reservation lock, so it may not call into the SCSI layer. 0, or
 *   -ENOMEM / -EBUSY (nothing reserved: the command ends TASK SET FULL).
 * preempt_abort(t, ids, n, done): after a successful prepare for at
 *   least @n, on every thread, aborts every task on t->lu whose I_T
 *   nexus is one of @ids[0..n) (copied), as a CLEAR TASK SET from
 *   another I_T nexus would (SAM-5: with the LU's TAS=1 they end TASK
 *   ABORTED, with TAS=0 without a response), never @t itself; then calls
 *   done(t, expired) on t's thread, never from inside preempt_abort,
 *   once every aborted task's store I/O has completed. @expired: the
 *   transport gave up waiting (its tmf_timeout) and stalled the LU
 *   (scsi_lu_stall) so that nothing newer reaches the medium before that
 *   I/O. @n may be 0: done then only comes back (the PREEMPT failed, or
 *   removed nobody).
 */
struct scsi_transport_ops {
	int (*preempt_prepare)(struct scsi_task *t, unsigned n);
	void (*preempt_abort)(struct scsi_task *t, const struct scsi_itn *ids,
			      unsigned n,
			      void (*done)(struct scsi_task *t, bool expired));
};

/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS bits (byte 0 << 8 | byte 1) */
#define SCSI_TMF_ATS 0x8000u	/* ABORT TASK */
#define SCSI_TMF_ATSS 0x4000u	/* ABORT TASK SET */
#define SCSI_TMF_CACAS 0x2000u	/* CLEAR ACA */
#define SCSI_TMF_CTSS 0x1000u	/* CLEAR TASK SET */
#define SCSI_TMF_LURS 0x0800u	/* LOGICAL UNIT RESET */
#define SCSI_TMF_QTS 0x0400u	/* QUERY TASK */
#define SCSI_TMF_TRS 0x0200u	/* TARGET RESET (obsolete bit) */
#define SCSI_TMF_QAES 0x0004u	/* QUERY ASYNCHRONOUS EVENT */
#define SCSI_TMF_QTSS 0x0002u	/* QUERY TASK SET */
#define SCSI_TMF_ITNRS 0x0001u	/* I_T NEXUS RESET */

/*
 * I_T nexus loss (SAM-5 §6.3.4: I_T NEXUS RESET, or the transport lost the
 * nexus): every LU reports I_T NEXUS LOSS OCCURRED (29h/07h) to @n on its
 * next command, and the nexus's SPC-2 reservations are released. The
 * transport aborts the nexus's tasks itself. Call from the nexus's own
 * thread.
 */
void scsi_nexus_loss(struct scsi_nexus *n);
/*
 * The I_T nexus @n is gone for good (its session ended: logout,
 * connection loss, reinstatement): releases its SPC-2 reservations
 * (SPC-2 §5.5.1). Call once, before @n is freed; any thread.
 */
void scsi_nexus_end(struct scsi_nexus *n);

struct scsi_task {
	/* Set by the transport before scsi_task_prepare(). */
	struct scsi_nexus *nexus;
	struct scsi_lu *lu;		/* NULL: no LU at this LUN (ref held) */
	uint64_t lun;
	uint8_t cdb[SCSI_CDB_MAX];
	uint32_t exp_len;		/* expected data transfer length */
	struct reactor *r;
	void (*done)(struct scsi_task *t);

	/* Set by scsi_task_prepare(). */
	enum scsi_dir dir;
	uint32_t data_len;		/* bytes the CDB asks to move */
	const struct scsi_opdesc *op;
	uint64_t lba;
	uint32_t nblocks;
	unsigned fua : 1;

	/*
	 * Data buffer, supplied by the transport between prepare and exec:
	 * for DIR_WRITE it holds buf_len received bytes; for DIR_READ it has
	 * room for buf_len bytes (at least MIN(data_len, exp_len)).
	 */
	uint8_t *buf;
	uint32_t buf_len;

	/* Results, valid in done(). */
	uint8_t status;
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t xfer_len;		/* DIR_READ: bytes placed in buf */

	struct bs_io io;		/* backing store request */

	/* Private to the SCSI layer. */
	struct iovec iov;		/* the one iovec of io */
	uint32_t step;			/* progress of multi-step commands */
	uint32_t pos;			/* bytes of the range done so far */
	/*
	 * Bounce buffer of the commands that read the medium to compare it
	 * (VERIFY, WRITE AND VERIFY, COMPARE AND WRITE) or replicate a block
	 * (WRITE SAME); never used by READ/WRITE. Freed at completion.
	 */
	uint8_t *scratch;
	struct scsi_task *caw_next;	/* COMPARE AND WRITE wait queue */
	struct ev_post post;		/* resumption on its own reactor */
	struct pr_persist *pr_persist;	/* APTPL write after PREEMPT AND ABORT */
	bool executing;			/* between exec and complete */
	bool aborted;			/* scsi_task_abort() while executing */
	bool gated;			/* counted as a writer (lu.c) */
	void (*gate_run)(struct scsi_task *t);	/* CAW waiting for drain */
	/* short transfers resumed by sbc_submit_io() */
	void (*io_finish)(struct bs_io *io);
	uint64_t io_off0, io_len0;
	void *io_base0;
	uint64_t io_moved;
};

/* --- logical units --------------------------------------------------- */

/*
 * LU parameters by the names tgt gives them (tgt 1.0.85 usr/spc.c,
 * lu_config(): `tgtadm --op update --mode logicalunit --params k=v`,
 * targets.conf). The control protocol, the config file and tgtadm use
 * these names. A parameter is present when its bit is in @set.
 */
enum scsi_lu_param {
	SCSI_LU_P_SCSI_ID,		/* VPD 0x83 T10 + NAA, as tgt derives */
	SCSI_LU_P_SCSI_SN,		/* VPD 0x80, as tgt lays it out */
	SCSI_LU_P_VENDOR_ID,		/* standard INQUIRY T10 VENDOR ID */
	SCSI_LU_P_PRODUCT_ID,		/* ... PRODUCT IDENTIFICATION */
	SCSI_LU_P_PRODUCT_REV,		/* ... PRODUCT REVISION LEVEL */
	SCSI_LU_P_REMOVABLE,		/* standard INQUIRY RMB bit */
	SCSI_LU_P_READONLY,		/* writes fail DATA PROTECT, WP=1 */
	SCSI_LU_P_SENSE_FORMAT,		/* 0 fixed (1, descriptor: refused) */
	SCSI_LU_P_ONLINE,		/* 0: MEDIUM NOT PRESENT */
	SCSI_LU_P_THIN_PROVISIONING,	/* logical block provisioning */
	SCSI_LU_P_LBPPBE,		/* READ CAPACITY(16) LBPPBE */
	SCSI_LU_P_LA_LBA,		/* ... LOWEST ALIGNED LBA */
	SCSI_LU_P_OPTIMAL_XFER_GRAN,	/* VPD 0xB0 OPTIMAL TRANSFER LENGTH GRAN. */
	SCSI_LU_P_OPTIMAL_XFER_LEN,	/* VPD 0xB0 OPTIMAL TRANSFER LENGTH */
	SCSI_LU_P_MODE_PAGE,		/* a served mode page's values */
	SCSI_LU_P_COUNT,
};

#define SCSI_LU_SCSI_ID_MAX 36		/* tgt's SCSI_ID_LEN */
#define SCSI_LU_SCSI_SN_MAX 36		/* tgt's SCSI_SN_LEN */
#define SCSI_LU_VENDOR_MAX 8		/* SPC-4 §6.4.2 */
#define SCSI_LU_PRODUCT_MAX 16
#define SCSI_LU_REV_MAX 4
#define SCSI_LU_LBPPBE_MAX 15		/* SBC-4 §5.20.2: a 4-bit field */
#define SCSI_LU_LA_LBA_MAX 0x3fff	/* ... a 14-bit field */

/*
 * The mode pages ringtgt serves (spc.c), whose values tgt's mode_page
 * parameter may set: Read-Write Error Recovery (01h, SBC-4 §6.5.9),
 * Caching (08h, SBC-4 §6.5.5), Control (0Ah, SPC-4 §7.5.8). Indexes of
 * scsi_lu_params.mode.
 */
enum scsi_lu_mode_page {
	SCSI_LU_MP_RW_RECOVERY,
	SCSI_LU_MP_CACHING,
	SCSI_LU_MP_CONTROL,
	SCSI_LU_MP_COUNT,
};
#define SCSI_LU_MODE_PAGE_MAX 20	/* the longest page, header included */

struct scsi_lu_params {
	unsigned set;			/* 1u << enum scsi_lu_param */
	char scsi_id[SCSI_LU_SCSI_ID_MAX + 1];
	char scsi_sn[SCSI_LU_SCSI_SN_MAX + 1];
	char vendor_id[SCSI_LU_VENDOR_MAX + 1];
	char product_id[SCSI_LU_PRODUCT_MAX + 1];
	char product_rev[SCSI_LU_REV_MAX + 1];
	bool removable;
	bool readonly;
	uint8_t sense_format;
	bool online;
	bool thin_provisioning;
	uint8_t lbppbe;			/* log2(logical blocks per physical) */
	uint16_t la_lba;
	uint16_t optimal_xfer_gran;	/* logical blocks */
	uint32_t optimal_xfer_len;	/* logical blocks */
	/*
	 * mode_page: the pages given, whole as MODE SENSE returns them
	 * (page code, page length, then the values), by enum
	 * scsi_lu_mode_page; mode_set has 1u << index of each one given.
	 */
	unsigned mode_set;
	uint8_t mode[SCSI_LU_MP_COUNT][SCSI_LU_MODE_PAGE_MAX];
};

/* tgt's name of @p ("scsi_id"), NULL past the end. */
const char *scsi_lu_param_name(enum scsi_lu_param p);
/*
 * The page code and length (header included) of a served mode page:
 * 0 for a page code ringtgt does not serve.
 */
unsigned scsi_lu_mode_page_len(enum scsi_lu_mode_page mp, uint8_t *code);
/*
 * Writes mode page @mp of @p as tgt's mode_page value takes it
 * ("8:0:18:0x14:..."), into @out of @len bytes. Returns what snprintf
 * returns.
 */
int scsi_lu_mode_page_format(const struct scsi_lu_params *p,
			     enum scsi_lu_mode_page mp, char *out, size_t len);
/*
 * Sets the parameter named @name from @value, written as tgtadm's
 * --params takes it (strings as they are; flags and numbers as decimal
 * "0" / "1"). Validates as tgt would, but refuses what tgt truncates or
 * misreads: scsi_id and scsi_sn 1..36 printable ASCII characters,
 * vendor_id / product_id / product_rev at most 8 / 16 / 4 printable
 * ASCII (SPC-4 §4.3.1), flags 0 or 1; lbppbe 0..15, la_lba 0..16383,
 * optimal_xfer_gran 0..65535, optimal_xfer_len 0..2^32-1 (decimal,
 * SBC-4 field widths); mode_page "PAGE:SUBPAGE:SIZE:BYTE:..." (tgt's
 * format, numbers as strtol base 0 reads them) for a page ringtgt
 * serves, subpage 0, SIZE its page length and exactly SIZE bytes; it
 * adds that page to the ones @p already has. Returns 0; -ENOENT (no such
 * parameter), -EOPNOTSUPP (a parameter tgt has that ringtgt does not
 * implement: rotation_rate, ...; or a value it does not support, such as
 * sense_format=1 or a mode page it does not serve), -EINVAL (bad value).
 * @why receives a sentence that names the parameter. What depends on the
 * LU (la_lba within the physical block, the bits of a mode page that
 * must stay as ringtgt serves them) is checked when the LU is made or
 * updated.
 */
int scsi_lu_param_parse(struct scsi_lu_params *p, const char *name,
			const char *value, char *why, size_t whylen);
/*
 * As scsi_lu_param_parse(), but a string longer than its field is cut to
 * the field's length, as tgt 1.0.85 cuts it (snprintf into its buffers):
 * for tgtadm and tgt-admin, which must give the LU the identifiers tgt
 * would have given it. OpenStack Cinder writes `scsi_id volume-<UUID>`,
 * 43 characters, of which tgt keeps the first 36.
 */
int scsi_lu_param_parse_tgt(struct scsi_lu_params *p, const char *name,
			    const char *value, char *why, size_t whylen);
/*
 * Checks every parameter set in @p (as scsi_lu_param_parse would have):
 * for callers that fill the struct themselves. 0 or as above.
 */
int scsi_lu_params_check(const struct scsi_lu_params *p, char *why,
			 size_t whylen);

struct scsi_lu_config {
	enum scsi_lu_type type;
	uint64_t lun;
	struct bs *bs;			/* disks only; the LU takes ownership */
	uint32_t block_size;		/* 512 or 4096; default 512 */
	const char *target_name;	/* for default serial / identifiers */
	const char *serial;		/* NULL: derived from target + LUN */
	const char *vendor;		/* NULL: "RINGTGT" */
	const char *product;		/* NULL: "VIRTUAL-DISK" / "CONTROLLER" */
	bool readonly;
	/*
	 * tgt's parameters (NULL: none); they override serial, vendor,
	 * product and readonly. scsi_sn and serial exclude each other.
	 */
	const struct scsi_lu_params *params;
	/*
	 * TAS bit of the Control mode page (SPC-4 §7.5.8): tasks of other
	 * I_T nexuses aborted by a task management function or a reset end
	 * with TASK ABORTED status (true) or without a response (false).
	 */
	bool tas;
	/*
	 * Directory of the APTPL state file (SPC-4 §5.13.5), keyed by the
	 * NAA designator; the state in it is restored now. NULL: no
	 * persistence, APTPL=1 is refused (PTPL_C = 0).
	 */
	const char *state_dir;
	/* A sentence on why scsi_lu_new() refused @params (NULL: none). */
	char *why;
	size_t whylen;
};

/*
 * Creates an LU with one reference; NULL and errno on failure, in which
 * case the caller still owns cfg->bs. Serial and NAA designator are
 * derived from target_name + LUN (+ serial), so they are stable.
 */
struct scsi_lu *scsi_lu_new(const struct scsi_lu_config *cfg);
void scsi_lu_get(struct scsi_lu *lu);
/* Drops a reference; the last one closes the backing store. */
void scsi_lu_put(struct scsi_lu *lu);
/*
 * The LU is deleted for good (not a shutdown): its APTPL state file is
 * removed and no PR OUT still running writes it again. Blocking (file
 * I/O); call from the control thread. Thread-safe.
 */
void scsi_lu_forget_state(struct scsi_lu *lu);
uint64_t scsi_lu_lun(const struct scsi_lu *lu);
enum scsi_lu_type scsi_lu_type(const struct scsi_lu *lu);
struct bs *scsi_lu_bs(const struct scsi_lu *lu);
/* The unit serial number the LU was created with (a later scsi_sn
 * update shows in scsi_lu_params_get() only). */
const char *scsi_lu_serial(const struct scsi_lu *lu);
/*
 * The LU's parameters now, every one set: scsi_id and scsi_sn are empty
 * strings (and their bits clear) when the LU has ringtgt's own
 * identifiers; the others hold the effective values.
 */
void scsi_lu_params_get(struct scsi_lu *lu, struct scsi_lu_params *out);
/*
 * Changes the parameters set in @p on a live LU (tgt's `--op update
 * --mode logicalunit`). All or nothing: 0, or -EINVAL / -EOPNOTSUPP
 * (see scsi_lu_param_parse; readonly=0 on a read-only store, thin_
 * provisioning=1 on a store that cannot unmap), -EBUSY (scsi_id would
 * move the identity that keys the LU's persisted APTPL state), with a
 * sentence in @why. Every I_T nexus that has used the LU then gets,
 * once, on its next command: INQUIRY DATA HAS CHANGED (6h/3Fh/03h,
 * SPC-4 §5.14) when scsi_id, scsi_sn, vendor_id, product_id,
 * product_rev, removable, thin_provisioning, optimal_xfer_gran or
 * optimal_xfer_len changed; MODE PARAMETERS CHANGED (6h/2Ah/01h) when
 * readonly (the WP bit of the mode parameter header) or a mode page
 * changed; CAPACITY DATA HAS CHANGED (6h/2Ah/09h) when lbppbe or la_lba
 * changed. la_lba must stay below 2^lbppbe, optimal_xfer_len within the
 * MAXIMUM TRANSFER LENGTH; a mode page must keep the bits that describe
 * what ringtgt does (mode.c). Setting a value it already has changes
 * nothing.
 * Control thread; thread-safe against commands.
 */
int scsi_lu_update(struct scsi_lu *lu, const struct scsi_lu_params *p,
		   char *why, size_t whylen);
/*
 * True once the LU was removed from its target's LUN table: a transport
 * that caches LU pointers drops its reference and looks the LUN up again.
 */
bool scsi_lu_removed(const struct scsi_lu *lu);
/* The TAS setting of the LU (see struct scsi_lu_config). */
bool scsi_lu_tas(const struct scsi_lu *lu);
/*
 * Aborted tasks whose backing store I/O is still in flight (all nexuses);
 * see scsi_task_abort().
 */
unsigned scsi_lu_aborted_inflight(const struct scsi_lu *lu);
/*
 * A task management function gave up waiting for the LU's aborted tasks
 * (tmf_timeout): until every aborted task's I/O has completed, commands
 * to the LU fail with NOT READY (2/04/00), so nothing new races a stale
 * write that may still land. Does nothing when none is in flight.
 * Thread-safe.
 */
void scsi_lu_stall(struct scsi_lu *lu);
/* True while the LU is stalled (see scsi_lu_stall). */
bool scsi_lu_stalled(const struct scsi_lu *lu);
/*
 * Records a LOGICAL UNIT RESET (SAM-5 §7.7; also call it for every LU on
 * a TARGET WARM/COLD RESET): every I_T nexus that has used the LU gets a
 * UNIT ATTENTION, BUS DEVICE RESET FUNCTION OCCURRED (29h/03h), on its
 * next command to the LU, and its SPC-2 reservation ends (SPC-2 §5.5.1).
 * The transport aborts the LU's tasks itself. Thread-safe.
 */
void scsi_lu_reset(struct scsi_lu *lu);
/* A disk LU's logical block size and capacity in bytes (0 for others). */
uint32_t scsi_lu_block_size(const struct scsi_lu *lu);
uint64_t scsi_lu_capacity(const struct scsi_lu *lu);
/*
 * Online resize (SBC-4 §4.6): the LU's capacity becomes @nblocks logical
 * blocks. Commands that start afterwards see the new capacity (READ
 * CAPACITY, the LBA range check). When it shrinks, returns only once no
 * command that may reach beyond the new end is still writing: it waits
 * (blocking, control thread only) for the medium-changing commands in
 * flight, at most about @wait_ms; if they do not drain, the capacity is
 * put back and -EBUSY returned. 0, -EINVAL (0 blocks, not a disk) or
 * -EBUSY. Raises no unit attention: see scsi_lu_capacity_changed().
 */
int scsi_lu_set_capacity(struct scsi_lu *lu, uint64_t nblocks,
			 unsigned wait_ms);
/*
 * Every I_T nexus that has used the LU gets CAPACITY DATA HAS CHANGED
 * (6h/2Ah/09h, SBC-4 §4.6, SPC-4 §5.14) on its next command, once. A
 * nexus that had not yet sent a command to the LU reads the new capacity
 * anyway and gets none. Any thread.
 */
void scsi_lu_capacity_changed(struct scsi_lu *lu);

/* --- target port groups (ALUA, SPC-4 §5.15) ----------------------------- */

/* Asymmetric access states (SPC-4 §6.37, table 166), as on the wire. */
enum scsi_alua_state {
	SCSI_ALUA_ACTIVE_OPTIMIZED = 0x0,
	SCSI_ALUA_ACTIVE_NON_OPTIMIZED = 0x1,
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
};

#define SCSI_MAX_PORT_GROUPS 16

/*
 * The target port groups of a set of targets. Each group holds one
 * target port whose relative target port identifier equals the group's
 * tag: iSCSI maps a SCSI target port to a target portal group (RFC 7143
 * §4.4.1), so the transport sets scsi_nexus.rel_port_id to the target
 * portal group tag of the connection. Groups are only added, never
 * removed; states change at any time (thread-safe).
 */
struct scsi_port_group {
	uint16_t tag;			/* 1..65535 */
	_Atomic uint8_t state;		/* enum scsi_alua_state */
	/* STATUS CODE of REPORT TARGET PORT GROUPS (SPC-4 §6.37) */
	_Atomic uint8_t status;
};

struct scsi_port_groups {
	pthread_mutex_t lock;		/* serializes adds and changes */
	_Atomic unsigned n;
	struct scsi_port_group g[SCSI_MAX_PORT_GROUPS];
	/*
	 * Generation of the last state change (values of the unit attention
	 * counter of lu.c): a nexus that saw an older one gets ASYMMETRIC
	 * ACCESS STATE CHANGED on its next command to each LU.
	 */
	_Atomic uint32_t gen;
};

/*
 * An empty table. A port in no group is active/optimized and reported
 * in no group.
 */
void scsi_port_groups_init(struct scsi_port_groups *pg);
void scsi_port_groups_destroy(struct scsi_port_groups *pg);
/* Adds group @tag in @state; -EINVAL (tag 0), -EEXIST, -ENOSPC. */
int scsi_port_groups_add(struct scsi_port_groups *pg, uint16_t tag,
			 enum scsi_alua_state state);
/*
 * Changes the state of group @tag (an administrative, implicit change);
 * every I_T nexus then gets ASYMMETRIC ACCESS STATE CHANGED (2Ah/06h) on
 * its next command to each LU. 0, -ENOENT, -EINVAL (not a state).
 */
int scsi_port_groups_set_state(struct scsi_port_groups *pg, uint16_t tag,
			       enum scsi_alua_state state);
/* The state of group @tag in *state; 0 or -ENOENT. */
int scsi_port_groups_get_state(struct scsi_port_groups *pg, uint16_t tag,
			       enum scsi_alua_state *state);
/* "active/optimized", ... (the config and control spelling); NULL if none. */
const char *scsi_alua_state_name(enum scsi_alua_state state);
/* The state named @name (as scsi_alua_state_name()); 0 or -EINVAL. */
int scsi_alua_state_parse(const char *name, enum scsi_alua_state *state);

/* --- targets (LUN tables) ---------------------------------------------- */

struct scsi_target {
	pthread_mutex_t lock;
	struct scsi_lu *lus[SCSI_MAX_LUNS];
	char name[224];
	/*
	 * The target port groups of this target's ports: its own table
	 * (group 1, active/optimized, made by scsi_target_init()) unless the owner points it at a shared one before the first
	 * command (the table must outlive the target).
	 */
	struct scsi_port_groups *port_groups;
	struct scsi_port_groups own_groups;
	/*
	 * tgt's per-target state "offline" (core_target_set_state): every
	 * command of the target ends with BUSY, unexecuted.
	 */
	atomic_bool offline;
};

void scsi_target_init(struct scsi_target *t, const char *name);
/* Drops every LU. */
void scsi_target_destroy(struct scsi_target *t);
/* Adds @lu (takes the caller's reference); -EEXIST, -ERANGE. */
int scsi_target_add_lu(struct scsi_target *t, struct scsi_lu *lu);
/* Removes the LU at @lun and drops the table's reference; -ENOENT. */
int scsi_target_remove_lu(struct scsi_target *t, uint64_t lun);
/* Returns the LU at @lun with a new reference, or NULL. */
struct scsi_lu *scsi_target_get_lu(struct scsi_target *t, uint64_t lun);
/* scsi_lu_reset() on every LU of @t (TARGET WARM / COLD RESET). */
void scsi_target_reset(struct scsi_target *t);
/* scsi_lu_forget_state() on every LU of @t (the target is deleted). */
void scsi_target_forget_state(struct scsi_target *t);
/* Fills @luns with up to @max LUN numbers, ascending; returns the count. */
int scsi_target_list_luns(struct scsi_target *t, uint64_t *luns, int max);

/* --- commands ---------------------------------------------------------- */

/*
 * Decodes task->cdb: sets dir, data_len, op and the LBA range. Returns
 * SENSE_NONE, or a reason the command must fail without executing; the
 * task's status and sense are then already filled in.
 */
enum sense_reason scsi_task_prepare(struct scsi_task *t);
/* Executes a prepared task; completion through t->done. */
void scsi_task_exec(struct scsi_task *t);
/*
 * The transport aborted @t while it executes (between scsi_task_exec()
 * and done): its I/O is left to finish (it is never cancelled half
 * written), t->done still comes, and until then the task counts in
 * scsi_lu_aborted_inflight(). Idempotent. Reactor thread of the task.
 */
void scsi_task_abort(struct scsi_task *t);
/* Fills status and fixed-format sense data for @reason. */
void scsi_task_set_sense(struct scsi_task *t, enum sense_reason reason);
/* The sense key, ASC and ASCQ of @reason. */
void scsi_sense_code(enum sense_reason reason, uint8_t *key, uint8_t *asc,
		     uint8_t *ascq);
/*
 * The unit attention @n has pending on @lu, without reporting it
 * (QUERY ASYNCHRONOUS EVENT); SENSE_NONE if none.
 */
enum sense_reason scsi_ua_pending(struct scsi_lu *lu, struct scsi_nexus *n);

/* LUN encoding (SAM-5 §4.7): flat space for LUN > 255, peripheral below. */
uint64_t scsi_lun_encode(uint64_t lun);
uint64_t scsi_lun_decode(uint64_t wire);

#endif
