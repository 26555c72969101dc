/*
 * scsi_internal.h - what the files of the SCSI layer share: the LU
 * structure, the opcode descriptor, and the helpers every command uses
 * to return data and to complete.
 *
 *   scsi.c   opcode table, scsi_task_prepare/exec, LUN encoding
 *   spc.c    SPC-4 commands (INQUIRY, MODE SENSE, REPORT LUNS, ...)
 *   sbc.c    SBC-3 commands (READ/WRITE, READ CAPACITY, SYNC CACHE, UNMAP,
 *            PRE-FETCH)
 *   sbc_cmp.c  commands that compare with the medium (VERIFY, WRITE AND
 *            VERIFY, COMPARE AND WRITE)
 *   sbc_lbp.c  logical block provisioning (GET LBA STATUS, WRITE SAME)
 *   sense.c  enum sense_reason -> status and fixed-format sense data
 *   lu.c     logical units and the per-target LUN table, their identity
 *            and its live changes (scsi_lu_update)
 *   lu_params.c  tgt's LU parameters by name: parsing and checks
 *   mode.c   the served mode pages: own values, what mode_page may set
 *   pr.c     persistent reservations (PERSISTENT RESERVE IN / OUT, the
 *            reservation access check, their unit attentions)
 *   alua.c   target port groups: states, REPORT / SET TARGET PORT GROUPS
 *   reserve.c  SPC-2 RESERVE / RELEASE (6) and (10)
 *   transport_id.c  iSCSI TransportIDs (SPC-4 §7.6.4.6), a pure codec
 */
#ifndef RINGTGT_SCSI_INTERNAL_H
#define RINGTGT_SCSI_INTERNAL_H

#include <stdatomic.h>

#include "base/base.h"
#include "scsi/scsi.h"

/* CDB opcodes (SPC-4 / SBC-3) */
#define TEST_UNIT_READY 0x00
#define REQUEST_SENSE 0x03
#define READ_6 0x08
#define WRITE_6 0x0a
#define INQUIRY 0x12
#define RESERVE_6 0x16
#define RELEASE_6 0x17
#define MODE_SENSE_6 0x1a
#define READ_CAPACITY_10 0x25
#define READ_10 0x28
#define WRITE_10 0x2a
#define WRITE_VERIFY_10 0x2e
#define VERIFY_10 0x2f
#define PRE_FETCH_10 0x34
#define SYNCHRONIZE_CACHE_10 0x35
#define WRITE_SAME_10 0x41
#define UNMAP 0x42
#define RESERVE_10 0x56
#define RELEASE_10 0x57
#define MODE_SENSE_10 0x5a
#define PERSISTENT_RESERVE_IN 0x5e
#define PERSISTENT_RESERVE_OUT 0x5f
#define READ_16 0x88
#define COMPARE_AND_WRITE 0x89
#define WRITE_16 0x8a
#define WRITE_VERIFY_16 0x8e
#define VERIFY_16 0x8f
#define PRE_FETCH_16 0x90
#define SYNCHRONIZE_CACHE_16 0x91
#define WRITE_SAME_16 0x93
#define SERVICE_ACTION_IN_16 0x9e
#define REPORT_LUNS 0xa0
#define MAINTENANCE_IN 0xa3
#define MAINTENANCE_OUT 0xa4
#define READ_12 0xa8
#define WRITE_12 0xaa
#define WRITE_VERIFY_12 0xae
#define VERIFY_12 0xaf

/* service actions */
#define SAI_READ_CAPACITY_16 0x10
#define SAI_GET_LBA_STATUS 0x12
#define MI_REPORT_SUPPORTED_OPCODES 0x0c
#define MI_REPORT_SUPPORTED_TMFS 0x0d
#define PRI_READ_KEYS 0x00
#define PRI_READ_RESERVATION 0x01
#define PRI_REPORT_CAPABILITIES 0x02
#define PRI_READ_FULL_STATUS 0x03
#define PRO_REGISTER 0x00
#define PRO_RESERVE 0x01
#define PRO_RELEASE 0x02
#define PRO_CLEAR 0x03
#define PRO_PREEMPT 0x04
#define PRO_PREEMPT_ABORT 0x05
#define PRO_REGISTER_IGNORE 0x06
#define PRO_REGISTER_MOVE 0x07
#define MI_REPORT_TPGS 0x0a
#define MO_SET_TPGS 0x0a

#define SCSI_VENDOR_LEN 8
#define SCSI_PRODUCT_LEN 16
#define SCSI_REVISION_LEN 4
#define SCSI_SERIAL_MAX 32

/*
 * IEEE company ID in our NAA IEEE Registered Extended designators. This
 * is the OUI Linux-IO uses; the other 100 bits come from a name-based
 * UUID, so collisions with LIO-made names are as unlikely as UUID ones.
 */
#define SCSI_NAA_OUI 0x001405u

/* Block Limits VPD values (SBC-3 §6.5.3) */
#define SCSI_OPT_XFER_BYTES (1u << 20)
#define SCSI_MAX_UNMAP_BLOCKS (1u << 20)	/* per UNMAP command */
#define SCSI_MAX_UNMAP_DESCS 64u
/*
 * MAXIMUM WRITE SAME LENGTH, in bytes of medium. WRITE SAME of zeroes is
 * one deallocate / zero-range request whatever its length; a pattern is
 * written SCSI_BOUNCE_BYTES at a time. Kept below 65536 blocks of 512 so
 * that no initiator expects a 64 Ki-block WRITE SAME to pair with an
 * equally long WRITE (beyond MAXIMUM TRANSFER LENGTH).
 */
#define SCSI_MAX_WS_BYTES (16u << 20)
/* MAXIMUM COMPARE AND WRITE LENGTH (a one-byte field), in blocks */
#define SCSI_MAX_CAW_BLOCKS 255u
/* Size of the bounce buffer of compare and WRITE SAME commands */
#define SCSI_BOUNCE_BYTES (1u << 20)

/*
 * Most registrations one LU holds (REGISTER, SPEC_I_PT, ALL_TG_PT and
 * REGISTER AND MOVE together); one more is refused with INSUFFICIENT
 * REGISTRATION RESOURCES (SPC-4 §5.13.7). A registration is one I_T
 * nexus: a cluster of 32 nodes (Pacemaker's supported maximum) with one
 * session per portal on each of the 16 portal groups a target may have
 * (SCSI_MAX_PORT_GROUPS), registered on every target port with
 * ALL_TG_PT, needs 32 x 16 = 512; twice that leaves room for a second
 * ISID per node. Beyond it an initiator is hostile or broken: each entry
 * costs ~300 bytes, and READ FULL STATUS already cannot return them all
 * within its 16-bit allocation length.
 */
#define SCSI_PR_MAX_REGS 1024u

/*
 * Persistent reservation state of one LU (pr.c), shared by every session
 * and reactor: everything but the two atomics is under lock. Lock order:
 * pr.lock before the LU's res_lock (RESERVE / RELEASE look at both).
 */
struct scsi_pr {
	pthread_mutex_t lock;
	uint32_t generation;		/* PRgeneration (SPC-4 §6.15.2) */
	struct pr_reg *regs;		/* registrations, newest first */
	bool reserved;
	uint8_t type;			/* reservation type, scope LU */
	struct pr_reg *holder;		/* unused for all registrants types */
	struct pr_ua *uas;		/* unit attentions not reported yet */
	/* lock-free fast paths of every command */
	atomic_bool any_reservation;	/* == reserved */
	atomic_uint n_uas;		/* entries in uas */
	/*
	 * APTPL (SPC-4 §5.13.5; pr.c, pr_state.c). state_path is NULL when
	 * the daemon has no state directory: APTPL is then not supported
	 * (PTPL_C = 0). aptpl, on_disk and seq are under lock; the file
	 * fields under file_lock, which serialises the writes of this LU.
	 */
	char *state_path;
	bool aptpl;			/* the last valid APTPL bit received */
	bool on_disk;			/* the last snapshot taken keeps a file */
	uint64_t seq;			/* snapshots taken */
	atomic_bool file_stale;		/* a write failed: persist the next */
	pthread_mutex_t file_lock;
	uint64_t file_seq;		/* newest snapshot written (or removed) */
	bool forgotten;			/* LU deleted: write nothing more */
};

/*
 * The identity of an LU: what standard INQUIRY and VPD pages 0x80 / 0x83
 * carry. Without tgt's scsi_id / scsi_sn, ringtgt's own identifiers
 * (lu.c): serial and NAA derived from target name, LUN and configured
 * serial. With scsi_sn (tgt_sn) VPD 0x80 is laid out as tgt does; with
 * scsi_id (tgt_id) VPD 0x83 carries tgt's T10 and NAA designators.
 */
struct scsi_lu_ident {
	char vendor[SCSI_VENDOR_LEN + 1];
	char product[SCSI_PRODUCT_LEN + 1];
	char revision[SCSI_REVISION_LEN + 1];
	char serial[SCSI_LU_SCSI_SN_MAX + 1];	/* unit serial number */
	bool tgt_sn;			/* serial is tgt's scsi_sn */
	bool serial_set;		/* serial was configured (not derived) */
	char scsi_id[SCSI_LU_SCSI_ID_MAX + 1];	/* when tgt_id */
	bool tgt_id;
	uint8_t naa[16];		/* NAA 6 designator of VPD 0x83 */
	bool removable;			/* standard INQUIRY RMB */
};

/* A consistent copy of the LU's identity (any thread). */
void scsi_lu_ident(struct scsi_lu *lu, struct scsi_lu_ident *out);

struct scsi_lu {
	atomic_uint refs;
	atomic_uint aborted_inflight;	/* see scsi_task_abort() */
	atomic_bool stalled;		/* see scsi_lu_stall() */
	atomic_bool removed;		/* taken out of its LUN table */
	bool tas;
	enum scsi_lu_type type;
	uint64_t lun;
	struct bs *bs;			/* NULL for controllers */
	uint32_t block_size;
	unsigned block_shift;
	/* log2(logical blocks per physical block): SBC-4 READ CAPACITY(16)
	 * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT, as the store has it:
	 * the unmap granularity follows it */
	unsigned phys_exp;
	/*
	 * What READ CAPACITY(16) and VPD 0xB0 report: the store's by
	 * default, tgt's lbppbe / la_lba / optimal_xfer_gran / _len when
	 * set (scsi_lu_update changes them; one load, one consistent pair):
	 * geom = LBPPBE << 16 | LOWEST ALIGNED LBA, xfer = OPTIMAL TRANSFER
	 * LENGTH GRANULARITY << 32 | OPTIMAL TRANSFER LENGTH.
	 */
	_Atomic uint32_t geom;
	_Atomic uint64_t xfer;
	/*
	 * Capacity in logical blocks. Changed by scsi_lu_set_capacity() on
	 * the control thread while reactors read it: read it once per use
	 * with scsi_lu_nblocks(), so that one check sees one value.
	 */
	_Atomic uint64_t nblocks;
	/* config or store; scsi_lu_update() changes it (never to false on
	 * a read-only store) */
	_Atomic bool readonly;
	/* tgt's thin_provisioning=0: no logical block provisioning although
	 * the store could deallocate (scsi_lu_lbp) */
	_Atomic bool no_lbp;
	/*
	 * What INQUIRY reports: changed by scsi_lu_update() under id_lock;
	 * readers take a copy with scsi_lu_ident().
	 */
	pthread_mutex_t id_lock;
	struct scsi_lu_ident id;
	/* tgt's mode_page values of the served pages (mode.c), under
	 * id_lock: 1u << enum scsi_lu_mode_page in mode_set */
	unsigned mode_set;
	uint8_t mode[SCSI_LU_MP_COUNT][SCSI_LU_MODE_PAGE_MAX];
	char target_name[224];		/* what ringtgt's identifiers derive from */
	/*
	 * The NAA designator the LU was created with: the key of its APTPL
	 * state file (pr.c), which a later identity change does not move.
	 */
	uint8_t naa[16];
	char serial0[SCSI_LU_SCSI_SN_MAX + 1];	/* unit serial at creation */
	/*
	 * Unit attention after a reset: values of one global counter, so
	 * an LU created later at the same LUN has a higher ua_base than any
	 * generation a nexus recorded for the earlier one.
	 */
	uint32_t ua_base;		/* generation at creation */
	_Atomic uint32_t ua_gen;	/* generation of the last reset */
	_Atomic uint32_t cap_gen;	/* ... of the last capacity change */
	_Atomic uint32_t inq_gen;	/* ... of the last INQUIRY data change */
	_Atomic uint32_t mode_gen;	/* ... of the last mode parameter change */
	/*
	 * COMPARE AND WRITE runs one at a time per LU (all reactors): the
	 * running one owns caw_busy, the others wait in a FIFO linked
	 * through scsi_task.caw_next (sbc_cmp.c).
	 */
	pthread_mutex_t caw_lock;
	bool caw_busy;
	struct scsi_task *caw_head, *caw_tail;
	/*
	 * The write gate (lu.c): every medium-changing command counts in
	 * writers while it runs; the CAW that owns the slot closes the gate
	 * (caw_active), waits until writers drains (caw_drain), runs, and
	 * reopens it, resuming the writers that arrived meanwhile (blocked
	 * FIFO). Writers take no lock unless the gate is closed.
	 */
	atomic_uint writers;
	atomic_bool caw_active;
	struct scsi_task *caw_drain;	/* under caw_lock */
	struct scsi_task *blocked_head, *blocked_tail;	/* under caw_lock */
	struct scsi_pr pr;
	/*
	 * SPC-2 logical unit reservation (reserve.c). The holder is an I_T
	 * nexus identity (res_port, res_rel_port); res_nexus is the nexus
	 * object that took or last renewed it (NULL: not reserved), compared
	 * but never dereferenced. reserved mirrors res_nexus != NULL for the
	 * lock-free check every command makes.
	 */
	atomic_bool reserved;
	pthread_mutex_t res_lock;
	const struct scsi_nexus *res_nexus;	/* under res_lock */
	char res_port[256];			/* under res_lock */
	uint16_t res_rel_port;			/* under res_lock */
};

/*
 * Logical block provisioning (SBC-4 §4.7) is on: the store can
 * deallocate and thin_provisioning=0 did not turn it off. Whether the LU
 * is writable is checked apart.
 */
static inline bool scsi_lu_lbp(const struct scsi_lu *lu)
{
	return lu->bs && lu->bs->can_unmap &&
	       !atomic_load_explicit(&lu->no_lbp, memory_order_relaxed);
}

/* The LU's capacity in logical blocks now (see struct scsi_lu). */
static inline uint64_t scsi_lu_nblocks(const struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->nblocks, memory_order_acquire);
}

/* Which LUs an opcode applies to (struct scsi_opdesc.flags). */
#define OPF_NO_LU 0x1u		/* also without an LU at the LUN */
#define OPF_CTRL 0x2u		/* on a controller LU */
#define OPF_DISK 0x4u		/* on a disk LU */
#define OPF_ANY (OPF_NO_LU | OPF_CTRL | OPF_DISK)
/* Neither reports nor clears a unit attention (SAM-5 §5.14: INQUIRY,
 * REPORT LUNS; REQUEST SENSE reports it as its data instead). */
#define OPF_NO_UA 0x8u
/* Changes the medium: waits while a COMPARE AND WRITE holds the LU. */
#define OPF_WRITES 0x10u
/*
 * Class of the command in the persistent reservation access table
 * (SPC-4 §5.13.1 table 46, SBC-3 table 13; pr.c): OPF_PR_ALLOW rows are
 * allowed under every reservation, OPF_PR_READ rows are reads; a row with
 * neither is checked as a write (the safe default for new rows).
 */
#define OPF_PR_READ 0x20u
#define OPF_PR_ALLOW 0x40u
/* Allowed through a target port in standby / unavailable ALUA state
 * (SPC-4 §5.15.2.4.4, §5.15.2.4.5; alua.c). */
#define OPF_ALUA_STANDBY 0x100u
#define OPF_ALUA_UNAVAILABLE 0x200u
/*
 * Allowed from other I_T nexuses while the LU is reserved with RESERVE
 * (SPC-2 §5.5.1, table 10); all others get RESERVATION CONFLICT.
 */
#define OPF_RES_OK 0x80u

/*
 * One row per supported command. parse() validates the CDB and fills the
 * task's dir, data_len and LBA range (NULL: no fields to check, no data).
 * exec() runs it and ends, now or later, in scsi_task_complete(). Rows
 * with sa_ops dispatch on the service action in CDB byte 1 instead.
 */
struct scsi_opdesc {
	uint8_t opcode;
	uint8_t sa;			/* service action, if has_sa */
	bool has_sa;
	uint8_t cdb_len;		/* 0: no such row */
	uint16_t flags;			/* OPF_* */
	const char *name;
	enum sense_reason (*parse)(struct scsi_task *t);
	void (*exec)(struct scsi_task *t);
	const struct scsi_opdesc *sa_ops;
	uint8_t n_sa;
	/* CDB USAGE DATA for REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) */
	uint8_t usage[16];
};

/* scsi.c */
/* The table row of @opcode (possibly a service action dispatcher), or NULL. */
const struct scsi_opdesc *scsi_opdesc_row(uint8_t opcode);
/* Row for @opcode (and @sa when it has service actions), or NULL. */
const struct scsi_opdesc *scsi_opdesc_find(uint8_t opcode, uint16_t sa);
/* Calls fn for every row (service actions expanded), in opcode order. */
void scsi_opdesc_foreach(void (*fn)(const struct scsi_opdesc *d, void *arg),
			 void *arg);
/* True when @d may run on @lu (NULL: no LU at the LUN). */
bool scsi_opdesc_allowed(const struct scsi_opdesc *d,
			 const struct scsi_lu *lu);
/* Ends a task: drops the LU's in-flight count and calls t->done. */
void scsi_task_complete(struct scsi_task *t);
/* Fails a task with @reason (sense filled unless already set). */
void scsi_task_fail(struct scsi_task *t, enum sense_reason reason);
/*
 * Copies a data-in response of @len bytes, truncated to the allocation
 * length (data_len) and the buffer, and sets xfer_len.
 */
void scsi_task_data_in(struct scsi_task *t, const void *data, uint32_t len);

/* Appends @t to a FIFO of waiting tasks linked through caw_next. */
static inline void scsi_task_fifo_push(struct scsi_task **head,
				       struct scsi_task **tail,
				       struct scsi_task *t)
{
	t->caw_next = NULL;
	if (*tail)
		(*tail)->caw_next = t;
	else
		*head = t;
	*tail = t;
}

/* lu.c */
/*
 * Before a medium-changing command runs: true when it may go on now;
 * false when a COMPARE AND WRITE holds the LU, and the command was queued
 * (it runs, on its own reactor, when the gate reopens).
 */
bool scsi_lu_write_enter(struct scsi_task *t);
/* The command counted by scsi_lu_write_enter() has completed. */
void scsi_lu_write_exit(struct scsi_task *t);
/*
 * The CAW @t owns the LU's CAW slot: closes the gate and calls @run(t)
 * once no other write is in flight (now, or later on t's reactor).
 */
void scsi_lu_gate_close(struct scsi_task *t, void (*run)(struct scsi_task *t));
/* The CAW is done: reopens the gate and resumes the queued writes. */
void scsi_lu_gate_open(struct scsi_lu *lu);
/*
 * The unit attention @nexus has pending on @lu (SENSE_NONE if none); when
 * @clear, it is consumed (reported exactly once).
 */
enum sense_reason scsi_lu_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear);

/* pr.c */
void scsi_pr_init(struct scsi_lu *lu);
/*
 * Gives @lu its APTPL state file in @dir (NULL: none, APTPL refused) and
 * restores the state it holds. A file that cannot be read or is refused
 * (corrupt, truncated, another LU's) is logged with its name and the
 * reason, and the LU starts without persistent reservations. Call once,
 * from scsi_lu_new(), after the NAA designator is set.
 */
void scsi_pr_state_attach(struct scsi_lu *lu, const char *dir);
/* Frees the registrations and pending unit attentions. */
void scsi_pr_destroy(struct scsi_lu *lu);
/*
 * True when @op from @n conflicts with the LU's persistent reservation
 * (RESERVATION CONFLICT). Thread-safe; lock-free without a reservation.
 */
bool scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_nexus *n,
		      const struct scsi_opdesc *op);
/*
 * The persistent reservation unit attention @n has pending on @lu
 * (SENSE_NONE if none); consumed when @clear. Thread-safe.
 */
enum sense_reason scsi_pr_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear);
/*
 * How RESERVE / RELEASE (6) and (10) from @n meet the persistent
 * reservation state (SPC-3 §5.6.3, SPC-4 §5.13.3; SPC-2 §5.5.1):
 * SCSI_PR_SPC2_APPLIES (no registration: process them as SPC-2 says),
 * SCSI_PR_SPC2_NOOP (GOOD, nothing changes) or SCSI_PR_SPC2_CONFLICT.
 * The caller holds lu->pr.lock.
 */
enum scsi_pr_spc2 {
	SCSI_PR_SPC2_APPLIES,
	SCSI_PR_SPC2_NOOP,
	SCSI_PR_SPC2_CONFLICT,
};
enum scsi_pr_spc2 scsi_pr_spc2_locked(struct scsi_lu *lu,
				      const struct scsi_nexus *n);
enum sense_reason pr_parse_in(struct scsi_task *t);
void pr_in(struct scsi_task *t);
enum sense_reason pr_parse_out(struct scsi_task *t);
void pr_out(struct scsi_task *t);

/* transport_id.c: iSCSI TransportIDs (SPC-4 §7.6.4.6, tables 504-506) */
#define SCSI_TID_NAME_MAX 223		/* RFC 7143 §4.2.7.1 */
enum scsi_tid_format {
	SCSI_TID_DEVICE = 0,		/* 00b: iSCSI name only */
	SCSI_TID_PORT = 1,		/* 01b: name,i,0x<ISID> */
};
struct scsi_tid {
	enum scsi_tid_format format;
	uint64_t isid;			/* 48 bits; SCSI_TID_PORT only */
	uint32_t len;			/* bytes of the TransportID */
	char name[SCSI_TID_NAME_MAX + 1];	/* as given, NUL-terminated */
};
/*
 * Decodes the TransportID at @b, of which @n bytes are there. 0; -EMSGSIZE
 * when its header or ADDITIONAL LENGTH runs past @n (truncated: PARAMETER
 * LIST LENGTH ERROR); -EPROTONOSUPPORT when it is not iSCSI (out->len is
 * then set); -EINVAL when malformed. Both mean INVALID FIELD IN PARAMETER
 * LIST to a PERSISTENT RESERVE OUT.
 */
int scsi_tid_parse(const uint8_t *b, size_t n, struct scsi_tid *out);
/* True when @name (@len bytes, no NUL needed) is an iSCSI name. */
bool scsi_iscsi_name_valid(const char *name, size_t len);
/*
 * "<name>,i,0x<isid>" of a SCSI_TID_PORT TransportID, in the spelling of
 * scsi_nexus.initiator_port; 0, -EINVAL (a device TransportID), -ENOSPC.
 */
int scsi_tid_port_name(const struct scsi_tid *tid, char *out, size_t cap);
/*
 * Encodes @port ("<name>,i,0x<isid>": format 01b; a bare name: 00b) as a
 * TransportID into @b; returns its length, which may exceed @cap (then
 * nothing is written).
 */
uint32_t scsi_tid_encode(const char *port, uint8_t *b, uint32_t cap);

/* reserve.c */
/*
 * True when @lu is reserved (SPC-2 RESERVE) by an I_T nexus other than
 * @n. Thread-safe; no lock taken while the LU is not reserved.
 */
bool scsi_lu_res_conflict(struct scsi_lu *lu, const struct scsi_nexus *n);
/* True while @lu has an SPC-2 reservation (any holder). Lock-free. */
bool scsi_lu_res_held(struct scsi_lu *lu);
/* Ends the SPC-2 reservation of @lu, if any (resets). Thread-safe. */
void scsi_lu_res_clear(struct scsi_lu *lu);
/* Releases what @n reserved on the LUs of its target (nexus loss). */
void scsi_nexus_res_release(struct scsi_nexus *n);
enum sense_reason spc_parse_reserve(struct scsi_task *t);
void spc_reserve(struct scsi_task *t);
void spc_release(struct scsi_task *t);

/* sense.c */
/*
 * Fills INVALID FIELD IN CDB (or IN PARAMETER LIST when @cdb is false)
 * with a sense-key specific field pointer at @byte, @bit (bit < 0: no
 * bit pointer). Returns the reason, so parsers can
 * "return scsi_invalid_field(t, true, 1, 5);".
 */
enum sense_reason scsi_invalid_field(struct scsi_task *t, bool cdb,
				     uint16_t byte, int bit);
/*
 * Fills the sense data for @reason with the INFORMATION field set to
 * @info and VALID=1 (SPC-4 §4.5.3), e.g. MISCOMPARE with the offset of
 * the first byte that differs.
 */
void scsi_task_set_sense_info(struct scsi_task *t, enum sense_reason reason,
			      uint32_t info);
/* Writes NO SENSE-style data for @reason into @buf (fixed format, 18 bytes
 * or descriptor format, 8 bytes); returns the length. For REQUEST SENSE. */
uint32_t scsi_sense_build(uint8_t *buf, enum sense_reason reason, bool desc);

/* spc.c */
enum sense_reason spc_parse_inquiry(struct scsi_task *t);
void spc_inquiry(struct scsi_task *t);
/* mode.c: the enum scsi_lu_mode_page of page @code, -1 if not served */
int scsi_mode_page_index(uint8_t code);
/*
 * 0 when the mode_page values @pg (a whole page) keep the bits of page
 * @mp that must stay as ringtgt serves them for @lu; else -EINVAL and a
 * sentence naming the field in @why.
 */
int scsi_mode_page_check(const struct scsi_lu *lu, enum scsi_lu_mode_page mp,
			 const uint8_t *pg, char *why, size_t whylen);
/* Writes page @mp as MODE SENSE returns it (current and default values,
 * or the changeable ones) at @p; returns its length. Any thread. */
uint32_t scsi_mode_page(struct scsi_lu *lu, enum scsi_lu_mode_page mp,
			bool changeable, uint8_t *p);
enum sense_reason spc_parse_mode_sense(struct scsi_task *t);
void spc_mode_sense(struct scsi_task *t);
enum sense_reason spc_parse_report_luns(struct scsi_task *t);
void spc_report_luns(struct scsi_task *t);
enum sense_reason spc_parse_request_sense(struct scsi_task *t);
void spc_request_sense(struct scsi_task *t);
void spc_test_unit_ready(struct scsi_task *t);
enum sense_reason spc_parse_rsoc(struct scsi_task *t);
void spc_rsoc(struct scsi_task *t);
enum sense_reason spc_parse_rstmf(struct scsi_task *t);
void spc_rstmf(struct scsi_task *t);

/* alua.c */
enum sense_reason spc_parse_rtpg(struct scsi_task *t);
void spc_rtpg(struct scsi_task *t);
enum sense_reason spc_parse_stpg(struct scsi_task *t);
void spc_stpg(struct scsi_task *t);
/* The port group of @n's target port, or NULL (in no group). */
const struct scsi_port_group *scsi_alua_group(const struct scsi_nexus *n);
/*
 * SENSE_NONE when @op may run through the target port of t's nexus in
 * its group's ALUA state, else the NOT READY reason (SPC-4 §5.15.2.4).
 */
enum sense_reason scsi_alua_check(const struct scsi_task *t,
				  const struct scsi_opdesc *op);
/*
 * ASYMMETRIC ACCESS STATE CHANGED pending for @n on @lu (SENSE_NONE if
 * none); consumed when @clear.
 */
enum sense_reason scsi_alua_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				     bool clear);

/* sbc.c */
enum sense_reason sbc_parse_rw6(struct scsi_task *t);
enum sense_reason sbc_parse_rw10(struct scsi_task *t);
enum sense_reason sbc_parse_rw12(struct scsi_task *t);
enum sense_reason sbc_parse_rw16(struct scsi_task *t);
void sbc_rw(struct scsi_task *t);
enum sense_reason sbc_parse_read_capacity10(struct scsi_task *t);
void sbc_read_capacity10(struct scsi_task *t);
enum sense_reason sbc_parse_read_capacity16(struct scsi_task *t);
void sbc_read_capacity16(struct scsi_task *t);
enum sense_reason sbc_parse_sync_cache10(struct scsi_task *t);
enum sense_reason sbc_parse_sync_cache16(struct scsi_task *t);
void sbc_sync_cache(struct scsi_task *t);
enum sense_reason sbc_parse_unmap(struct scsi_task *t);
void sbc_unmap(struct scsi_task *t);
enum sense_reason sbc_parse_prefetch10(struct scsi_task *t);
enum sense_reason sbc_parse_prefetch16(struct scsi_task *t);
void sbc_prefetch(struct scsi_task *t);
/* Helpers shared by the sbc*.c files. */
/* The one LBA range check (SBC-3 §4.5): [lba, lba + n) on the medium. */
bool sbc_lba_range_ok(const struct scsi_lu *lu, uint64_t lba, uint64_t n);
/* A store's -errno as sense; @write picks the medium error flavour. */
enum sense_reason sbc_errno_reason(int err, bool write);
/* Submits t->io; @finish runs now if the store completed at once. */
void sbc_submit_io(struct scsi_task *t, void (*finish)(struct bs_io *io));
/* Reads or writes @n bytes of t->scratch at byte t->pos of the LBA range. */
void sbc_submit_chunk(struct scsi_task *t, enum bs_opcode op, uint32_t n,
		      void (*finish)(struct bs_io *io));

/* lu_params.c: @fmt into @why (when given), and returns @rc. */
__attribute__((format(printf, 4, 5)))
int scsi_fail_why(int rc, char *why, size_t whylen, const char *fmt, ...);

/* sbc_cmp.c */
enum sense_reason sbc_parse_verify(struct scsi_task *t);
void sbc_verify(struct scsi_task *t);
enum sense_reason sbc_parse_write_verify(struct scsi_task *t);
void sbc_write_verify(struct scsi_task *t);
enum sense_reason sbc_parse_caw(struct scsi_task *t);
void sbc_caw(struct scsi_task *t);

/* sbc_lbp.c */
enum sense_reason sbc_parse_get_lba_status(struct scsi_task *t);
void sbc_get_lba_status(struct scsi_task *t);
enum sense_reason sbc_parse_write_same(struct scsi_task *t);
void sbc_write_same(struct scsi_task *t);
/* MAXIMUM WRITE SAME LENGTH of @lu in blocks (Block Limits VPD). */
uint32_t sbc_max_write_same(const struct scsi_lu *lu);

#endif
