/*
 * raw_initiator.h - a tiny blocking iSCSI initiator for in-process tests:
 * builds PDUs byte by byte, so tests can send what no real initiator
 * would (target-only opcodes, aborts at chosen moments) and see every
 * PDU the target answers with. One connection per session, ERL 0; no
 * digests except through the ri_dg_* functions at the end. Not thread-safe; one struct per socket.
 */
#ifndef RINGTGT_RAW_INITIATOR_H
#define RINGTGT_RAW_INITIATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iscsi/pdu.h"

#define RI_DATA_MAX (1u << 20)

struct ri_pdu {
	uint8_t bhs[BHS_LEN];
	uint8_t opcode;		/* bhs[0] & 0x3f */
	uint32_t itt;
	uint32_t dsl;
	uint8_t *data;		/* owned by the ri; valid until next recv */
};

/*
 * CHAP as the initiator (RFC 7143 §12.1.3), for ri_login() when @user is
 * set: AuthMethod=CHAP, then CHAP_A, then CHAP_N / CHAP_R (and CHAP_I /
 * CHAP_C when @target_user is set: mutual). The response is computed
 * here with libcrypto's EVP, independently of the target's code.
 */
struct ri_chap {
	const char *user, *secret;	/* NULL user: AuthMethod=None */
	const char *algs;		/* CHAP_A to offer; NULL: "5" */
	const char *target_user;	/* mutual: expected CHAP_N ... */
	const char *target_secret;	/* ... and its secret */
	bool reflect;			/* challenge the target with its own */
	bool base64;			/* send CHAP_R as 0b base64 */
	int alg;			/* out: the CHAP_A the target chose */
	size_t challenge_len;		/* out: its challenge's length */
	bool mutual_ok;			/* out: the target's CHAP_R verified */
};

struct ri {
	int fd;
	uint32_t itt;		/* next free ITT */
	uint32_t cmdsn;		/* next CmdSN to use */
	uint32_t expstatsn;
	uint32_t max_cmdsn;
	uint16_t tsih;
	uint32_t tgt_mrdsl;	/* the target's MaxRecvDataSegmentLength */
	bool answer_pings;	/* answer NOP-In pings inside ri_recv() */
	unsigned pings_seen, pings_answered;
	uint8_t *rx_data;
	uint8_t isid_q;		/* nonzero: ISID qualifier (else the fd) */
	bool level2;		/* offer iSCSIProtocolLevel=2 (RFC 7144) */
	uint32_t max_r2t;	/* MaxOutstandingR2T to offer (0: not sent) */
	uint32_t first_burst;	/* FirstBurstLength to offer (0: 65536) */
	uint32_t protocol_level;	/* what the target answered (1 if not) */
	struct ri_chap chap;		/* set after ri_connect() */
	int tpgt;		/* TargetPortalGroupTag of the login; -1: none */
};

/* Connects to 127.0.0.1:@port; 0 or -errno. */
int ri_connect(struct ri *ri, int port);
/* The same from the IPv4 address @src (any 127.x.y.z is local). */
int ri_connect_from(struct ri *ri, int port, const char *src);
void ri_close(struct ri *ri);

/* Writes a BHS and its data segment (padded); 0 or -errno. */
int ri_send(struct ri *ri, const uint8_t bhs[BHS_LEN], const void *data,
	    uint32_t len);

/*
 * Reads one PDU within @timeout_ms. Returns 0, -ETIMEDOUT, -EPIPE (the
 * target closed the connection: recv returned 0), or another -errno
 * (-ECONNRESET). With answer_pings, NOP-In pings (TTT != 0xffffffff) are
 * answered and skipped. Tracks ExpStatSN and MaxCmdSN.
 */
int ri_recv(struct ri *ri, struct ri_pdu *p, int timeout_ms);

/*
 * Logs in to @target (SessionType=Normal; NULL: a discovery session),
 * security stage (AuthMethod=None, or CHAP when ri->chap.user is set)
 * then operational stage to full feature phase. Returns the login
 * status (0 for success) or -errno; checks the T bit and stages.
 */
int ri_login(struct ri *ri, const char *target, const char *initiator);

/*
 * Logs in to @target (Normal session, AuthMethod=None) offering exactly
 * the operational keys in @kv (@len bytes of key=value\0 pairs). The last
 * Login Response's keys go to @out as "key=value" lines. Returns the
 * login status (0 for success) or -errno (-ENOSPC: @out too small).
 */
int ri_login_offer(struct ri *ri, const char *target, const char *initiator,
		  const char *kv, size_t len, char *out, size_t cap);
/*
 * Sends a SCSI Command (non-immediate) on @lun with @cdb (up to 16
 * bytes). @flags: CMD_R / CMD_W; F is added. @data is immediate data.
 * Returns the ITT used, and the CmdSN in *cmdsn when not NULL.
 */
uint32_t ri_scsi_cmd(struct ri *ri, uint64_t lun, const uint8_t *cdb,
		     int cdb_len, uint8_t flags, uint32_t edtl,
		     const void *data, uint32_t dlen, uint32_t *cmdsn);

/* READ(10)/WRITE(10) CDBs. */
void ri_cdb_rw10(uint8_t cdb[10], bool write, uint32_t lba, uint16_t blocks);

/*
 * Sends a TMF Request (immediate). Returns the ITT used.
 */
uint32_t ri_tmf(struct ri *ri, uint8_t function, uint64_t lun, uint32_t rtt,
		uint32_t refcmdsn);

/*
 * Sends one final Data-Out for @itt answering the R2T with @ttt (or
 * RSVD_TAG for unsolicited data): @len bytes at buffer offset @off.
 * 0 or -errno.
 */
int ri_data_out(struct ri *ri, uint64_t lun, uint32_t itt, uint32_t ttt,
		uint32_t datasn, uint32_t off, const void *data, uint32_t len);

/* Sends an immediate NOP-Out ping with a fresh ITT; returns that ITT. */
uint32_t ri_ping(struct ri *ri);

/* SAM LUN encoding for LUNs below 256 (peripheral addressing). */
uint64_t ri_lun(uint64_t lun);

/*
 * Result of one SCSI command gathered from its Data-In and SCSI Response
 * PDUs.
 */
struct ri_result {
	int status;		/* SAM status; -1 if none */
	uint8_t sense_key, asc, ascq;
	uint32_t data_len;	/* bytes of Data-In received */
	uint32_t resid;
	uint8_t rsp_flags;
};

/*
 * Waits for the response to @itt, copying Data-In payload to @buf (up to
 * @cap). PDUs for other ITTs are counted in *others if not NULL (and
 * otherwise ignored). 0 or -errno.
 */
int ri_wait_cmd(struct ri *ri, uint32_t itt, void *buf, uint32_t cap,
		struct ri_result *res, int timeout_ms, unsigned *others);

uint64_t ri_now_ms(void);

/*
 * --- CRC32C digests (RFC 7143 §12.1, §13.1) ---------------------------
 *
 * A session with HeaderDigest and/or DataDigest negotiated. Every PDU
 * after the last Login Response carries the digests; ri_dg_recv()
 * verifies the target's, and ri_dg_send() can corrupt ours on purpose.
 */
struct ri_dg {
	struct ri ri;
	bool hd, dd;		/* negotiated HeaderDigest / DataDigest */
};

/* Options of ri_dg_send() and the builders below. */
#define RI_BAD_HDIGEST 0x1u	/* send a wrong header digest */
#define RI_BAD_DDIGEST 0x2u	/* send a wrong data digest */

/*
 * Connects and logs in like ri_connect() + ri_login(), offering
 * HeaderDigest=@hd and DataDigest=@dd (CRC32C, or None). Returns the
 * login status, -errno, or -EPROTO when the target did not answer CRC32C
 * for a digest that was asked for.
 */
int ri_dg_login(struct ri_dg *d, int port, const char *target,
		const char *initiator, bool hd, bool dd);

/*
 * Sends a BHS and its data segment with the negotiated digests (the
 * data digest covers the padding). @opts: RI_BAD_*. 0 or -errno.
 */
int ri_dg_send(struct ri_dg *d, const uint8_t bhs[BHS_LEN], const void *data,
	       uint32_t len, unsigned opts);

/*
 * ri_recv() with digests: returns -EBADMSG when a header or data digest
 * of the target's PDU is wrong. Answers NOP-In pings like ri_recv().
 */
int ri_dg_recv(struct ri_dg *d, struct ri_pdu *p, int timeout_ms);

/*
 * Builds (does not send) a non-immediate SCSI Command BHS like
 * ri_scsi_cmd(): takes a fresh ITT and the next CmdSN. A retry
 * (RFC 7143 §7.2.1) sends the same bytes again.
 */
void ri_build_scsi_cmd(struct ri *ri, uint8_t b[BHS_LEN], uint64_t lun,
		       const uint8_t *cdb, int cdb_len, uint8_t flags,
		       uint32_t edtl);

/* Builds a Data-Out BHS; @final sets F. */
void ri_build_data_out(struct ri *ri, uint8_t b[BHS_LEN], uint64_t lun,
		       uint32_t itt, uint32_t ttt, uint32_t datasn,
		       uint32_t off, bool final);

/* ri_wait_cmd() over ri_dg_recv(). */
int ri_dg_wait_cmd(struct ri_dg *d, uint32_t itt, void *buf, uint32_t cap,
		   struct ri_result *res, int timeout_ms, unsigned *others);

/*
 * --- hostile peers ------------------------------------------------------
 *
 * Pieces of PDUs, raw bytes, and waiting for the target to hang up.
 */

/*
 * SendTargets=All as an immediate Text Request in a logged-in session;
 * the answer's text into @out (NUL-terminated, each key=value on its own
 * line). 0, -EPROTO when the answer is not a Text Response, or -errno.
 */
int ri_send_targets(struct ri *ri, char *out, size_t cap);

/*
 * A Text Request with the @len bytes of key=value\0 pairs in @kv
 * (immediate, F set), then the whole answer: while a Text Response comes
 * with the C bit, asks for the next piece with an empty Text Request
 * carrying the response's Target Transfer Tag (RFC 7143 §11.10.4). The
 * pieces go into @out, joined (NUL-terminated, each key=value on its own
 * line); *@pieces and *@largest (either may be NULL) count the responses
 * and the longest data segment. 0, -EPROTO for anything but Text
 * Responses with consistent F/C bits and tags, -E2BIG when @cap is too
 * small, -ETIMEDOUT after 5 s without a piece, or -errno.
 */
int ri_text(struct ri *ri, const char *kv, size_t len, char *out,
	    size_t cap, unsigned *pieces, uint32_t *largest);

/* Writes @len raw bytes as they are; 0 or -errno. */
int ri_send_bytes(struct ri *ri, const void *buf, size_t len);

/*
 * Builds (does not send) the Login Request BHS ri_login() would send
 * first: ISID, ITT, CID 0, CmdSN and ExpStatSN from @ri, @flags as given
 * (T, C, CSG, NSG). DataSegmentLength is left 0.
 */
void ri_build_login(struct ri *ri, uint8_t b[BHS_LEN], uint8_t flags);

/*
 * The security-stage keys ri_login() sends first (InitiatorName,
 * TargetName, SessionType=Normal, AuthMethod=None) into @buf; returns
 * their length (NULs included), or 0 when @cap is too small.
 */
size_t ri_login_keys(char *buf, size_t cap, const char *target,
		     const char *initiator);

/*
 * Waits until the target closes the connection (recv returns 0 or
 * ECONNRESET), reading and dropping whatever it sends meanwhile (NOP-In
 * pings are not answered). Returns the ms waited, or -ETIMEDOUT after
 * @timeout_ms.
 */
long ri_wait_closed(struct ri *ri, int timeout_ms);

#endif
