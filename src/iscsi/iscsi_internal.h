/*
 * iscsi_internal.h - connections, sessions and tasks, shared by the files
 * of the iSCSI layer (conn.c: socket I/O and lifecycle, login.c: login,
 * text and discovery, cmd.c: full feature phase commands, server.c:
 * threads and portals).
 *
 * Threading: a connection and everything hanging from it belong to one
 * reactor thread. Sessions have one connection (MaxConnections=1), so a
 * session lives on its connection's reactor.
 */
#ifndef RINGTGT_ISCSI_INTERNAL_H
#define RINGTGT_ISCSI_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/list.h"
#include "core/core.h"
#include "iscsi.h"
#include "pdu.h"
#include "reactor/reactor.h"
#include "scsi/scsi.h"
#include "text.h"

#define TX_BATCH 64		/* PDUs per sendmsg */
#define TASK_HASH 256
#define MAX_DATA_XFER (32u << 20) /* largest buffer one command may use */

struct iscsi_conn;

/*
 * Something that has PDUs to send. gen() builds the next PDU into a slot
 * and sets *more when the item has further PDUs; sent() is called for
 * every PDU once it is on the wire (or the connection is gone).
 */
struct tx_slot;
struct tx_item {
	struct list_head link;
	bool queued;
	int (*gen)(struct iscsi_conn *c, struct tx_item *it, struct tx_slot *s,
		   bool *more);
	void (*sent)(struct iscsi_conn *c, struct tx_item *it, bool last);
};

struct tx_slot {
	uint8_t hdr[BHS_LEN + DIGEST_LEN];
	uint8_t tail[3 + DIGEST_LEN];	/* pad + data digest */
	const void *data;
	uint32_t data_len;
	struct tx_item *owner;
	bool last;			/* owner's last PDU */
	bool plain;			/* no digests (login responses) */
};

/* A control PDU (login/text/logout/NOP/TMF responses, Reject). */
struct ctl_pdu {
	struct tx_item item;
	uint8_t bhs[BHS_LEN];
	uint8_t *data;			/* owned, may be NULL */
	uint32_t data_len;
	bool advance_statsn;		/* StatSN is assigned when sent */
	bool close_after;		/* close the connection once sent */
	bool raw_sn;			/* SNs already in bhs (login) */
};

enum task_state {
	TASK_FREE,
	TASK_DATA_OUT,		/* collecting write data */
	TASK_EXEC,		/* in the SCSI layer / backing store */
	TASK_RESPOND,		/* response PDUs being sent */
};

struct iscsi_task {
	struct scsi_task scsi;		/* embedded; container_of back */
	struct tx_item item;
	struct iscsi_conn *conn;
	struct iscsi_task *hnext;	/* ITT hash chain */
	struct list_head link;		/* conn->active */
	enum task_state state;
	bool aborted;
	bool in_hash;
	bool immediate;
	uint8_t hflags;			/* R/W bits of the command */
	uint32_t itt;
	uint32_t cmdsn;
	uint32_t edtl;
	uint32_t tx_refs;		/* PDUs of ours in an unsent batch */

	/* write data collection */
	uint32_t want;			/* bytes we need: MIN(edtl, data_len) */
	uint32_t unsol_len;		/* unsolicited region [0, unsol_len) */
	uint32_t received;		/* bytes received, in order */
	uint32_t next_r2t_off;		/* next offset to solicit */
	uint32_t r2t_outstanding;
	uint32_t r2t_pending;		/* R2Ts to generate */
	uint32_t r2tsn;
	uint32_t exp_datasn;		/* within the current sequence */
	uint32_t seq_end;		/* end offset of the current sequence */
	uint32_t cur_ttt;

	/* response */
	uint32_t datasn;
	uint32_t tx_off, tx_len;
	bool rsp_pending;		/* separate SCSI Response still due */
	uint8_t rspdata[2 + SCSI_SENSE_MAX];

	uint8_t *buf;
	uint32_t buf_cap;
};

struct iscsi_session {
	struct core_session info;	/* registered with core */
	bool registered;
	bool discovery;
	struct iscsi_server_thread *thr;
	struct tgt_target *target;
	struct scsi_nexus nexus;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t exp_cmdsn;
	uint32_t cmd_window;
	struct scsi_lu *lu_cache[SCSI_MAX_LUNS];
};

enum conn_state {
	CONN_LOGIN,
	CONN_FFP,
	CONN_LOGGED_OUT,	/* logout response queued: close once sent */
	CONN_CLOSING,		/* waiting for I/O to finish, then freed */
};

struct login_state;

struct iscsi_conn {
	struct list_head link;		/* reactor's connection list */
	struct reactor *r;
	struct iscsi_server_thread *thr;
	int fd;
	enum conn_state state;
	struct sockaddr_storage peer, local;
	char peer_str[64], local_str[64];

	/* receive */
	uint8_t *rx_buf;
	size_t rx_cap, rx_start, rx_end;
	struct ev_op rx_op;
	bool rx_pending;

	/* transmit */
	struct list_head txq;
	struct ev_op tx_op;
	bool tx_pending;
	struct msghdr msg;
	struct iovec iov[TX_BATCH * 3];
	struct tx_slot slots[TX_BATCH];
	int nslots;

	/* negotiation and session */
	struct iscsi_params params;
	struct iscsi_limits limits;
	struct login_state *login;
	struct iscsi_session *sess;
	uint32_t statsn;
	uint16_t cid;
	char *text_buf;			/* long Text Response being sent */
	size_t text_len, text_off;
	uint32_t text_ttt;

	/* tasks */
	struct iscsi_task *task_pool;
	struct iscsi_task *task_free;
	uint32_t task_count;
	struct iscsi_task *hash[TASK_HASH];
	struct list_head active;
	uint32_t next_ttt;
	unsigned io_inflight;		/* tasks inside the SCSI layer */

	/* liveness */
	uint64_t last_rx_ms;
	uint64_t started_ms;
	bool nop_outstanding;
	uint64_t nop_sent_ms;
	uint32_t nop_ttt;
	const struct iscsi_settings *set;
};

/* conn.c */
struct iscsi_conn *conn_new(struct reactor *r, int fd,
			    const struct iscsi_settings *set);
void conn_close(struct iscsi_conn *c, const char *why);
void conn_queue(struct iscsi_conn *c, struct tx_item *it);
void conn_kick_tx(struct iscsi_conn *c);
/* Queues a control PDU; takes @data (malloc'ed) */
struct ctl_pdu *conn_ctl_new(struct iscsi_conn *c, uint8_t opcode,
			     uint8_t flags, void *data, uint32_t len);
void conn_send_reject(struct iscsi_conn *c, const uint8_t *bhs,
		      enum reject_reason reason);
void conn_tick(struct iscsi_conn *c, uint64_t now_ms);
/* Fills StatSN, ExpCmdSN, MaxCmdSN at bytes 24..35 of a target PDU. */
void conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance);
/* Frees the connection if closing and nothing is in flight. */
void conn_maybe_free(struct iscsi_conn *c);

/* login.c */
void login_handle(struct iscsi_conn *c, const struct bhs *h,
		  const uint8_t *data);
void login_free(struct iscsi_conn *c);
void text_handle(struct iscsi_conn *c, const struct bhs *h,
		 const uint8_t *data);
void logout_handle(struct iscsi_conn *c, const struct bhs *h);
void session_free(struct iscsi_session *s);

/* cmd.c */
int tasks_init(struct iscsi_conn *c, uint32_t count);
void tasks_free(struct iscsi_conn *c);
/* Aborts every task (connection going away); returns tasks still busy. */
void tasks_abort_all(struct iscsi_conn *c);
void cmd_handle(struct iscsi_conn *c, const struct bhs *h,
		const uint8_t *data);
void data_out_handle(struct iscsi_conn *c, const struct bhs *h,
		     const uint8_t *data);
void nop_out_handle(struct iscsi_conn *c, const struct bhs *h,
		    const uint8_t *data);
void tmf_handle(struct iscsi_conn *c, const struct bhs *h);
/* Aborts, on every reactor, the tasks other connections run on @lu. */
void tasks_abort_lu_everywhere(struct iscsi_conn *except, struct scsi_lu *lu);
/* CmdSN check for a non-immediate request: true when it may proceed. */
bool cmdsn_accept(struct iscsi_conn *c, const struct bhs *h);

/* buf.c: per-thread cache of data buffers by power-of-two size class */
void *iobuf_get(uint32_t size, uint32_t *cap);
void iobuf_put(void *buf, uint32_t cap);
/* Frees the calling thread's cached buffers (at thread exit). */
void iobuf_drain(void);

/* server.c */
struct iscsi_server_thread {
	struct reactor *r;
	struct list_head conns;
	int nconns;
	const struct iscsi_settings *set;
};
void server_conn_gone(struct iscsi_server_thread *thr);
struct iscsi_server_thread *server_thread(int i);
uint16_t server_next_tsih(void);

#endif
