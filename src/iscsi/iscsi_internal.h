/*
 * iscsi_internal.h - connections, sessions and tasks, shared by the files
 * of the iSCSI layer:
 *
 *   conn.c     socket I/O, the receive state machine and its opcode
 *              table, the transmit queue, liveness, connection lifetime
 *   session.c  sessions: start, reinstatement, end; the CmdSN window; the
 *              per-session LU cache
 *   task.c     the task pool, execution, completion and responses
 *   cmd.c      SCSI Command, Data-Out and R2T, NOP-Out
 *   tmf.c      task management and fences (waiting for aborted I/O)
 *   budget.c   the data-buffer budget and the commands waiting for it
 *   login.c    login, text requests and discovery, logout
 *   server.c   reactor threads and portals
 *
 * Threading: a connection and everything hanging from it belong to one
 * reactor thread. Sessions have one connection (MaxConnections=1), so a
 * session lives on its connection's reactor. What crosses reactors is a
 * fence (tmf.c), posted with reactor_post_node().
 *
 * The task lifecycle is described in docs/architecture.md.
 */
#ifndef RINGTGT_ISCSI_INTERNAL_H
#define RINGTGT_ISCSI_INTERNAL_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/list.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "core/core.h"
#include "iscsi.h"
#include "pdu.h"
#include "pdu_rx.h"
#include "reactor/reactor.h"
#include "scsi/scsi.h"
#include "text.h"

#define TX_BATCH 64		/* PDUs per sendmsg */
#define TASK_HASH 256
#define MAX_DATA_XFER (32u << 20) /* largest buffer one command may use */
#define TASK_MAX_R2T 16		/* most outstanding R2Ts per task */

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
	TASK_WAIT_BUF,		/* waiting for the buffer budget (budget.c) */
	TASK_DATA_OUT,		/* collecting write data */
	TASK_QUEUED,		/* data in; dormant behind older tasks */
	TASK_EXEC,		/* in the SCSI layer / backing store */
	TASK_RESPOND,		/* response PDUs being sent */
};

struct fence;

/* A fence waiting for a task's store I/O (tmf.c). */
struct fence_link {
	struct fence *f;
	struct fence_link *next;
};

struct iscsi_task {
	struct scsi_task scsi;		/* embedded; container_of back */
	struct tx_item item;
	struct iscsi_conn *conn;
	struct iscsi_task *hnext;	/* ITT hash chain */
	struct list_head link;		/* conn->active */
	enum task_state state;
	bool aborted;			/* no normal response will be sent */
	bool tas;			/* aborted: answer TASK ABORTED */
	bool in_hash;
	bool immediate;
	/* task set ordering (task.c): SAM-5 §8 task attribute */
	uint8_t attr;			/* TASK_ATTR_* */
	bool enabled;			/* counted in its task set */
	bool dormant;			/* in the task set's FIFO */
	struct iscsi_task *onext;	/* FIFO link */
	/* fences waiting for this task's I/O; the first link is embedded */
	struct fence_link *fences;
	struct fence_link flink;
	/* a PR OUT PREEMPT AND ABORT between its two steps (tmf.c) */
	struct fence *preempt_fence;
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
	/*
	 * TTTs of the outstanding R2Ts, oldest first (a ring): with
	 * DataSequenceInOrder=Yes their data comes in that order (RFC 7143
	 * §11.8, MaxOutstandingR2T up to TASK_MAX_R2T).
	 */
	uint32_t r2t_ttt[TASK_MAX_R2T];
	uint8_t r2t_head;

	/* response */
	uint32_t datasn;
	uint32_t tx_off, tx_len;
	bool rsp_pending;		/* separate SCSI Response still due */
	uint8_t rspdata[2 + SCSI_SENSE_MAX];

	uint8_t *buf;
	uint32_t buf_cap;
	/* waiting for the buffer budget (budget.c) */
	bool bufwait;			/* in conn's bw FIFO */
	bool buf_short;			/* buf holds the unsolicited data only */
	bool buf_held;			/* ... and is counted as held */
	uint32_t bw_need;		/* buffer size it waits for */
	struct iscsi_task *bwnext;	/* FIFO link */
};

/* SCSI Command ATTR field (RFC 7143 §11.3.1.4) */
enum {
	TASK_ATTR_UNTAGGED = 0,
	TASK_ATTR_SIMPLE = 1,
	TASK_ATTR_ORDERED = 2,
	TASK_ATTR_HOQ = 3,
	TASK_ATTR_ACA = 4,
};

/*
 * One task set: the tasks of one I_T nexus on one LU (Control mode page
 * TST=001b). Enabled tasks run; dormant ones wait in arrival order.
 */
struct task_set {
	uint32_t enabled;		/* enabled, not yet completed */
	uint32_t barriers;		/* ORDERED and HEAD OF QUEUE among them */
	struct iscsi_task *head, *tail;	/* dormant FIFO */
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
	uint32_t cmd_window;		/* most commands in the window */
	uint32_t max_cmdsn;		/* last MaxCmdSN sent: never lowered */
	struct scsi_lu *lu_cache[SCSI_MAX_LUNS];
	struct task_set *sets;		/* [SCSI_MAX_LUNS], normal sessions */
	struct core_lu_stats *lu_stats;	/* [SCSI_MAX_LUNS], normal sessions */
	struct ev_post evict_post;	/* core's evict: cannot fail */
	atomic_bool evict_posted;
	const char *evict_why;		/* the queued evict's reason */
	bool zombie;			/* freed by the queued evict post */
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
	uint16_t tpgt;			/* target portal group of the portal */
	struct core_conn_stats stats;	/* tgtadm --op stat (core.h) */

	/* receive */
	struct pdu_rx rx;		/* framing and buffer (pdu_rx.h) */
	size_t rx_full;			/* its size in the full feature phase */
	struct ev_op rx_op;
	bool rx_pending;

	/* transmit */
	size_t ctl_bytes;		/* control PDUs queued, not yet sent */
	bool rx_paused;			/* reading stopped: output backlog */
	uint64_t rx_paused_ms;
	uint64_t logged_out_ms;		/* when it entered CONN_LOGGED_OUT */
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
	uint32_t tasks_idle;		/* tasks in task_free */
	struct iscsi_task *hash[TASK_HASH];
	struct list_head active;
	uint32_t next_ttt;
	unsigned io_inflight;		/* tasks inside the SCSI layer */

	/* fences this connection waits for (TMF responses, login) */
	unsigned fences_waiting;
	/* callers on the stack that call conn_maybe_free() afterwards */
	unsigned holds;

	/* buffer budget (budget.c) */
	uint64_t buf_bytes;		/* held by this connection's tasks */
	uint64_t buf_held;		/* of which unsolicited data held */
	struct iscsi_task *bw_head, *bw_tail;	/* tasks waiting, in order */
	struct list_head bw_link;	/* the thread's waiting connections */
	bool bw_listed;

	/* limits and logging (server.c) */
	uint8_t src_key[16];		/* peer address, counted per source */
	struct tgt_target *admit_target; /* what the admissions are on */
	bool admitted[CORE_ADMIT_KINDS];
	struct ratelimit log_rl;	/* this connection's warnings */

	/* liveness */
	uint64_t last_rx_ms;
	uint64_t tx_progress_ms;	/* last send that moved bytes */
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
/* The same for the last PDU of a task (advances StatSN, frees the task). */
void conn_fill_sn_last(struct iscsi_conn *c, uint8_t *bhs);
/* Frees the connection if closing and nothing is in flight. */
void conn_maybe_free(struct iscsi_conn *c);
/* Enters CONN_LOGGED_OUT: close once the response is sent (or timed out). */
void conn_logged_out(struct iscsi_conn *c);

/* A PDU handler of the full feature phase (conn.c's opcode table). */
typedef void pdu_handler_fn(struct iscsi_conn *c, const struct bhs *h,
			    const uint8_t *data);

/* login.c */
void login_handle(struct iscsi_conn *c, const struct bhs *h,
		  const uint8_t *data);
void login_free(struct iscsi_conn *c);
/*
 * From conn_tick() on a logged-out connection: sends a refusal held back
 * (authentication failures wait LOGIN_AUTH_DELAY_MS). True while one is
 * or was just held, so the connection is not timed out meanwhile.
 */
bool login_tick(struct iscsi_conn *c, uint64_t now);
pdu_handler_fn text_handle, logout_handle;

/* session.c */
/* Builds c->sess from the finished login; 0 or -ENOMEM. */
int session_start(struct iscsi_conn *c, const uint8_t isid[6], uint16_t tsih,
		  uint32_t cmdsn, struct tgt_target *target,
		  const struct text_negot *n);
void session_free(struct iscsi_session *s);
/* "<InitiatorName>,i,0x<ISID>": the SCSI initiator port (RFC 7143 §4.4.1). */
void session_port_name(const char *initiator, const uint8_t isid[6],
		       char *out, size_t len);
/* CmdSN check for a non-immediate request: true when it may proceed. */
bool cmdsn_accept(struct iscsi_conn *c, const struct bhs *h);
/*
 * MaxCmdSN to advertise: the window holds no more commands than free
 * tasks (a few kept for immediate commands), so it opens as responses go
 * out and never shrinks (RFC 7143 §4.2.2.1). @freeing: tasks the PDU being
 * built ends (they count as free).
 */
uint32_t session_max_cmdsn(struct iscsi_conn *c, unsigned freeing);
/*
 * True when the window has opened by more than the last MaxCmdSN sent
 * told, while the initiator had (nearly) none left: worth a NOP-In.
 */
bool session_window_update_due(struct iscsi_conn *c);
/* The session's LU at @lun (cached, the cache holds a reference) or NULL. */
struct scsi_lu *session_lu(struct iscsi_session *s, uint64_t lun);

/* task.c */
int tasks_init(struct iscsi_conn *c, uint32_t count);
void tasks_free(struct iscsi_conn *c);
/* A free task for @itt, hashed and on c->active; NULL when none is left. */
struct iscsi_task *task_get(struct iscsi_conn *c, uint32_t itt);
/* Returns @t to the pool (drops its buffer and LU reference). */
void task_put(struct iscsi_conn *c, struct iscsi_task *t);
/* Frees the task if nothing (SCSI layer, unsent PDUs) still holds it. */
void task_release(struct iscsi_conn *c, struct iscsi_task *t);
struct iscsi_task *task_find(struct iscsi_conn *c, uint32_t itt);
void task_unhash(struct iscsi_conn *c, struct iscsi_task *t);
/*
 * Enters a new task into its task set (SAM-5 §8.6): enabled at once, or
 * dormant until the older tasks its attribute waits for have completed.
 */
void task_admit(struct iscsi_conn *c, struct iscsi_task *t, uint8_t attr);
/*
 * Hands a task to the SCSI layer once its data, if any, is in t->buf; a
 * dormant task waits (TASK_QUEUED) and runs when it is enabled.
 */
void task_exec(struct iscsi_conn *c, struct iscsi_task *t);
/* Leaves the task set (completed, failed or aborted); idempotent. */
void task_order_end(struct iscsi_conn *c, struct iscsi_task *t);
/* Queues the response (Data-In and/or SCSI Response) of a finished task. */
/* Counts a command received for its I_T_L nexus (tgtadm --op stat). */
void task_stats_received(struct iscsi_conn *c, const struct iscsi_task *t);
void task_respond(struct iscsi_conn *c, struct iscsi_task *t);
/* Answers @t with TASK ABORTED (another nexus's task, TAS=1). */
void task_respond_aborted(struct iscsi_conn *c, struct iscsi_task *t);
/* Takes @t off the transmit queue (R2Ts or a response not sent yet). */
void task_dequeue(struct iscsi_task *t);
/* Aborts every task (connection going away). */
void tasks_abort_all(struct iscsi_conn *c);

/* cmd.c */
pdu_handler_fn cmd_handle, data_out_handle, nop_out_handle;
/* A Data-Out whose data digest failed: its command ends (ERL 0). */
void data_out_digest_error(struct iscsi_conn *c, const struct bhs *h);
/*
 * budget.c gave a waiting task its buffer (@rc 0) or could not allocate
 * it (@rc -ENOMEM): the command goes on, or ends.
 */
void cmd_buf_granted(struct iscsi_conn *c, struct iscsi_task *t, int rc);

/* tmf.c */
pdu_handler_fn tmf_handle;
/*
 * Aborts @t for a task management function or a reset. When its store
 * I/O is in flight and @f is not NULL, @f waits for it. @other_nexus:
 * the task belongs to another I_T nexus than the one that asked, so it
 * ends with TASK ABORTED when its LU has TAS=1 (SAM-5 §7.3).
 */
void task_abort(struct iscsi_conn *c, struct iscsi_task *t, struct fence *f,
		bool other_nexus);
/* Called by task.c when an aborted task's I/O completed: drops its fences. */
void task_fences_put(struct iscsi_task *t);
/*
 * Reinstatement (RFC 7143 §6.3.5): closes every other session of the
 * login's I_T nexus (initiator port @initiator_port on @target), on every
 * reactor, and calls @resume(c, expired) on @c's reactor once their tasks'
 * I/O is gone (or tmf_timeout passed: @expired, the LUs are then stalled).
 * Returns 0, or -ENOMEM (nothing was started).
 */
int fence_sessions(struct iscsi_conn *c, struct scsi_target *target,
		   const char *initiator_port,
		   void (*resume)(struct iscsi_conn *c, bool expired));
/* Expires fences of @thr whose deadline passed (the reactor's tick). */
void fences_tick(struct iscsi_server_thread *thr, uint64_t now_ms);
/* What the SCSI layer asks of iSCSI (PREEMPT AND ABORT): scsi_nexus.ops. */
extern const struct scsi_transport_ops tmf_scsi_ops;

/* buf.c: per-thread cache of data buffers by power-of-two size class */
void *iobuf_get(uint32_t size, uint32_t *cap);
/* The capacity iobuf_get() gives for @size; 0 when too large. */
uint32_t iobuf_cap(uint32_t size);
void iobuf_put(void *buf, uint32_t cap);
/* Frees the calling thread's cached buffers (at thread exit). */
void iobuf_drain(void);

/* budget.c: see its opening comment */
#define BUDGET_CONN_DEFAULT (64ull << 20)
uint64_t budget_conn_max(const struct iscsi_settings *set);
uint64_t budget_total_max(const struct iscsi_settings *set);
enum buf_mode {
	BUF_NEW,	/* a new command: within budget, behind waiting ones */
	BUF_GRANT,	/* budget_run() found room for a waiting task */
	BUF_FORCE,	/* unsolicited data that arrived: never refused */
	BUF_HOLD,	/* the same, for a write whose buffer still waits */
};
/*
 * Gives @t a buffer of @size, charged to @c and its thread; a buffer @t
 * already has (unsolicited data held while waiting) is copied over and
 * freed. 0, -EAGAIN (BUF_NEW over budget: budget_wait()) or -ENOMEM.
 */
int task_buf_alloc(struct iscsi_conn *c, struct iscsi_task *t, uint32_t size,
		   enum buf_mode mode);
/* Gives @t's buffer back; serves waiting tasks soon (not from here). */
void task_buf_free(struct iscsi_conn *c, struct iscsi_task *t);
/* @t waits (TASK_WAIT_BUF) for a @need-byte buffer: cmd_buf_granted(). */
void budget_wait(struct iscsi_conn *c, struct iscsi_task *t, uint32_t need);
/* Takes @t out of the waiting FIFO, if it is there. */
void budget_cancel(struct iscsi_conn *c, struct iscsi_task *t);
/* Bytes of buffers the calling thread's tasks hold (tests, stats). */
uint64_t budget_thread_used(void);

/* server.c */
struct iscsi_server_thread {
	struct reactor *r;
	struct list_head conns;
	int nconns;
	const struct iscsi_settings *set;
	struct list_head fences;	/* fences homed here (tmf.c) */
	unsigned nfences;		/* their number (bounded) */
	struct ev_post close_all;	/* iscsi_stop(): cannot fail */
	struct ratelimit_table srclog;	/* log limits per source address */
};
/* The connection is freed: its count (overall, per source) goes. */
void server_conn_gone(struct iscsi_conn *c);
/* The connection closes: it gives back its per-target admissions. */
void server_conn_closing(struct iscsi_conn *c);
/*
 * Per-target limits at login: takes one of @what on @t (connections whose
 * login named it, or its sessions) for @c until it closes; false at the
 * limit (max_conns_per_target, max_sessions_per_target).
 */
bool server_admit(struct iscsi_conn *c, struct tgt_target *t,
		  enum core_admit what);
/*
 * A log line a peer can cause (issue 8, item 11): a connection's warnings
 * go out at most once per interval after its first; every line from one
 * source address (per reactor) at most a burst per interval. The next
 * line that passes says how many similar ones were held back; the
 * reactor's tick reports counts nobody else did.
 */
void conn_log(struct iscsi_conn *c, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define conn_warn(c, ...) conn_log(c, LOG_LVL_WARN, __VA_ARGS__)
#define conn_info(c, ...) conn_log(c, LOG_LVL_INFO, __VA_ARGS__)
struct iscsi_server_thread *server_thread(int i);
int server_thread_count(void);
uint16_t server_next_tsih(void);
/*
 * SendTargets' TargetAddress values for a request on @c (RFC 7143 §13.8,
 * App. C): calls @cb with "ADDR:PORT" ("[ADDR6]:PORT") and the group tag
 * of every portal the initiator can reach through the address it used,
 * in the order the portals were opened. Any thread.
 */
void server_portal_addresses(const struct iscsi_conn *c,
			     void (*cb)(void *ctx, const char *addr,
					uint16_t tpgt),
			     void *ctx);

/* conn.c: addresses as logs and TargetAddress write them */
/* ::ffff:a.b.c.d (a dual-stack socket's IPv4 peer) back to a.b.c.d. */
void conn_addr_unmap(struct sockaddr_storage *ss);
/* "a.b.c.d:port" or "[v6]:port" ("?" for another family). */
void conn_addr_str(const struct sockaddr_storage *ss, char *out, size_t len);

#endif
