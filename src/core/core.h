/*
 * core.h - the target registry: targets, their LUN tables and ACLs, and
 * the list of live sessions. This is the one API through which control/
 * and config/ change what the daemon serves, and through which the iSCSI
 * layer finds a target at login. All functions are thread-safe.
 *
 * Errors: 0 or -errno; functions that take a struct core_err fill
 * err->msg with a sentence for the user ("target iqn.x has 2 sessions;
 * use --force").
 */
#ifndef RINGTGT_CORE_H
#define RINGTGT_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/list.h"
#include "scsi/scsi.h"

struct json_object;

struct core_err {
	char msg[256];
};

/* RFC 7143 §6.1: an iSCSI name is at most 223 bytes. */
#define CORE_NAME_MAX 223
/* A configured unit serial number: printable ASCII, no spaces. */
#define CORE_SERIAL_MAX 32

/*
 * Checks that @name is a well-formed iSCSI name (iqn.YYYY-MM.domain[:id],
 * eui.<16 hex>, naa.<16|32 hex>). Returns 0, or -EINVAL with a sentence
 * naming the problem in @why.
 */
int core_name_check(const char *name, char *why, size_t whylen);

struct tgt_target;

/* What a LUN is made of (control and config fill this). */
struct core_lun_spec {
	enum scsi_lu_type type;		/* SCSI_LU_DISK or SCSI_LU_CONTROLLER */
	const char *backing;		/* "file" (default) or "ram"; a file
					 * path naming a block device gets
					 * the block store (bs_type_pick) */
	const char *path;		/* file or block device */
	uint64_t size;			/* create/extend to; required for ram;
					 * a block device's must match */
	bool create;			/* create a sparse file when missing */
	bool readonly;
	bool direct;			/* files: O_DIRECT */
	bool buffered;			/* block devices: no O_DIRECT */
	bool shared;			/* block devices: no O_EXCL */
	uint32_t block_size;		/* 0: the device's logical block
					 * size, 512 for files */
	const char *serial;		/* NULL: derived from target IQN + LUN;
					 * else 1..CORE_SERIAL_MAX printable */
	bool no_tas;			/* Control mode page TAS=0 (default 1) */
	bool no_write_cache;		/* files and block devices: every
					 * write durable before GOOD, Caching
					 * mode page WCE=0 (default: cached,
					 * WCE=1) */
	/*
	 * tgt's LU parameters (scsi_id, scsi_sn, vendor_id, ...; see
	 * scsi_lu_param_parse); NULL: none. scsi_sn and serial exclude each
	 * other; readonly here and in the spec are or-ed.
	 */
	const struct scsi_lu_params *params;
};

void core_init(void);
/*
 * The directory of the LUs' APTPL state files (docs/clusters.md, "APTPL
 * storage"): created mode 0700 when missing (its parent must exist);
 * an existing one is left as it is, with a warning when its group or
 * others may access it. LUs added afterwards keep their persistent
 * reservations there and restore them at creation. NULL: none (APTPL is
 * refused). Call before adding LUs. 0 or -errno with a sentence in @err.
 */
int core_set_state_dir(const char *dir, struct core_err *err);
/* Removes every target (sessions must be gone). */
void core_shutdown(void);

/* tid 0 picks the next free one; the chosen tid goes to *tid_out. */
int core_target_add(const char *iqn, int tid, int *tid_out,
		    struct core_err *err);
/* Refused with -EBUSY while sessions exist, unless @force. */
int core_target_remove(const char *iqn, bool force, struct core_err *err);
/*
 * Adds a LUN. A target gets no implicit LUN 0: callers add the controller
 * (type SCSI_LU_CONTROLLER) where wanted.
 */
int core_lun_add(const char *iqn, uint64_t lun,
		 const struct core_lun_spec *spec, struct core_err *err);
/*
 * Changes tgt's LU parameters set in @p on a live LUN (scsi_lu_update:
 * sessions stay; identity changes raise INQUIRY DATA HAS CHANGED, a
 * readonly change MODE PARAMETERS CHANGED). All or nothing. -ENOENT (no
 * such target or LUN), -EINVAL, -EOPNOTSUPP, -EBUSY, with a sentence
 * naming the parameter in @err.
 */
int core_lun_update(const char *iqn, uint64_t lun,
		    const struct scsi_lu_params *p, struct core_err *err);
/*
 * Reads tgt's LU parameters from the members of the JSON object @args
 * named as tgt names them (strings; removable, readonly, online,
 * thin_provisioning as booleans; sense_format an integer), others are
 * not looked at. 0, or -EINVAL / -EOPNOTSUPP with a sentence naming the
 * parameter.
 */
int core_lun_params_from_json(struct json_object *args,
			      struct scsi_lu_params *p, struct core_err *err);
/*
 * Adds the parameters set in @p to the JSON object @o with the same
 * names and types: what a control client sends for tgtadm's --params.
 */
void core_lun_params_to_json(const struct scsi_lu_params *p,
			     struct json_object *o);
/*
 * Refused with -EBUSY while the target has sessions, unless @force; then
 * the LU's tasks are aborted and their store I/O waited for (through the
 * transport's fence, see core_set_lu_fence) before it returns.
 */
int core_lun_remove(const char *iqn, uint64_t lun, bool force,
		    struct core_err *err);
/*
 * Online resize of a disk LUN (docs/backing-stores.md, "Resize"): its
 * capacity becomes @size bytes, or, with @size 0, what its file or block
 * device holds now (re-read after it was resized underneath). Sessions
 * stay; every I_T nexus gets CAPACITY DATA HAS CHANGED on its next
 * command. A file grows sparse / is truncated, the RAM store's buffer is
 * reallocated; a block device is never resized by us, so a @size other
 * than the device's is refused. The size must be a positive multiple of
 * the LU's block size; a shrink needs @force (-EPERM, saying how many
 * bytes it would cut). Blocks the caller (ftruncate; a shrink waits for
 * the writes in flight): the control thread, never a reactor. Sets
 * *old_size / *new_size (equal: nothing changed) on success.
 */
int core_lun_resize(const char *iqn, uint64_t lun, uint64_t size, bool force,
		    uint64_t *old_size, uint64_t *new_size,
		    struct core_err *err);
/*
 * The transport's "abort every task on this LU and wait for its I/O"
 * (iscsi_fence_lu); blocks the caller. NULL: none.
 */
void core_set_lu_fence(int (*fence)(struct scsi_lu *lu));
/*
 * ACL rules: "ALL", an IPv4/IPv6 address, a CIDR ("10.0.0.0/8"), or an
 * initiator name ("iqn...."). A target with no rule admits nobody.
 */
int core_acl_add(const char *iqn, const char *rule, struct core_err *err);
/* Checks @rule's syntax without a target: 0, or -EINVAL and a sentence. */
int core_acl_check(const char *rule, char *why, size_t whylen);
int core_acl_remove(const char *iqn, const char *rule, struct core_err *err);

/* Lookup for the iSCSI layer: a new reference, or NULL. */
struct tgt_target *core_target_find(const char *iqn);
void core_target_get(struct tgt_target *t);
void core_target_put(struct tgt_target *t);
const char *core_target_iqn(const struct tgt_target *t);
int core_target_tid(const struct tgt_target *t);
struct scsi_target *core_target_scsi(struct tgt_target *t);
/*
 * tgt's per-target state (`tgtadm --mode target --op update --name state`):
 * while offline, logins to the target fail with 0x0300 (target error,
 * RFC 7143 §11.13.5) and its sessions' commands end with BUSY, unexecuted
 * (SAM-5 §5.3.1). -ENOENT: no such target.
 */
int core_target_set_state(const char *iqn, bool offline, struct core_err *err);
bool core_target_offline(const struct tgt_target *t);
/*
 * A transport's per-target parameters (for iSCSI, the negotiation keys of
 * RFC 7143 §13 a login to this target starts from: `tgtadm --mode target
 * --op update --name K --value V`). The core keeps each target's
 * overrides as name=value strings and knows nothing of their meaning: the
 * transport registers, with core_set_target_param_ops(), what checks them
 * and what lists the values in force. Changes apply to later logins.
 */
#define CORE_PARAM_NAME_MAX 48
#define CORE_PARAM_VALUE_MAX 48
#define CORE_PARAMS_MAX 32
struct core_param {
	char name[CORE_PARAM_NAME_MAX];
	char value[CORE_PARAM_VALUE_MAX];
};
struct core_param_ops {
	/*
	 * Checks @name = @value and puts the canonical spelling of both in
	 * @out. 0; -ENOENT: no such parameter; -EINVAL: a bad value;
	 * -EOPNOTSUPP: a value the transport cannot honour. A sentence
	 * naming the key and the value in @why.
	 */
	int (*check)(const char *name, const char *value,
		     struct core_param *out, char *why, size_t whylen);
	/*
	 * Calls @fn for every parameter, in the transport's order, with the
	 * value in force for a target with the @n overrides @over.
	 */
	void (*list)(const struct core_param *over, size_t n,
		     void (*fn)(void *ctx, const char *name, const char *value),
		     void *ctx);
};
/* Registers the transport's parameters (before any is set); NULL: none. */
void core_set_target_param_ops(const struct core_param_ops *ops);
/*
 * Sets target @iqn's parameter @name to @value (NULL: back to the
 * transport's default). -ENOENT: no such target; the check's errors.
 */
int core_target_param_set(const char *iqn, const char *name,
			  const char *value, struct core_err *err);
/* The check alone, without a target (config validation). */
int core_target_param_check(const char *name, const char *value,
			    struct core_err *err);
/*
 * Copies target @t's overrides into @out (room for @cap); returns how
 * many. For the transport's login.
 */
size_t core_target_params_copy(struct tgt_target *t, struct core_param *out,
			       size_t cap);
/*
 * {"params": {name: value in force, ...}, "overrides": {name: value}} of
 * target @iqn, in the transport's order. NULL with -ENOENT (no target)
 * or -EOPNOTSUPP (no transport registered) in *rc and err.
 */
struct json_object *core_target_params_json(const char *iqn, int *rc,
					    struct core_err *err);
/* True when an ACL rule admits this initiator from this address. */
bool core_target_allows(struct tgt_target *t, const char *initiator,
			const struct sockaddr *peer);
/*
 * Admission counts for the transport's per-target limits: connections
 * whose login named the target, and its sessions. Lock-free, any thread;
 * each admit that returned true is matched by one release.
 */
enum core_admit { CORE_ADMIT_CONN, CORE_ADMIT_SESSION, CORE_ADMIT_KINDS };
/* Takes one of @what when fewer than @limit are taken; false otherwise. */
bool core_target_admit(struct tgt_target *t, enum core_admit what,
		       unsigned limit);
void core_target_release(struct tgt_target *t, enum core_admit what);
/* How many of @what are taken now. */
unsigned core_target_admitted(struct tgt_target *t, enum core_admit what);
/*
 * Calls cb for every target the initiator may see (ACL checked), in tid
 * order. For SendTargets.
 */
void core_targets_visible(const char *initiator, const struct sockaddr *peer,
			  void (*cb)(void *ctx, const char *iqn), void *ctx);

/*
 * Counters of one I_T_L nexus (what tgt's "tgtadm --op stat" shows per
 * LU and session). Written by the session's one thread only, with
 * core_stat_add(); read by the control thread with relaxed loads, so a
 * reader sees each counter whole but not all of them at one instant.
 * A command reads or writes as its transport says (iSCSI's R/W bits,
 * as tgt counts). "submitted": commands received for the LU and the
 * expected data transfer length (bytes) they named; "done": those
 * answered, and the bytes that really moved (0 for a command that
 * failed). errors: commands answered with a status other than GOOD, any
 * direction, executed or refused before (a bad CDB). A command aborted
 * without an answer is submitted and never done.
 */
struct core_lu_stats {
	_Atomic uint64_t rd_subm_bytes, rd_subm_cmds;
	_Atomic uint64_t rd_done_bytes, rd_done_cmds;
	_Atomic uint64_t wr_subm_bytes, wr_subm_cmds;
	_Atomic uint64_t wr_done_bytes, wr_done_cmds;
	_Atomic uint64_t errors;
};

/*
 * Counters of one connection, from its accept: every octet received and
 * sent (headers, data, padding, digests), and the PDUs that carry SCSI
 * commands, Data-Out, Data-In and SCSI Responses. Same rules as above.
 */
struct core_conn_stats {
	_Atomic uint64_t rx_octets, tx_octets;
	_Atomic uint64_t cmd_pdus, dataout_pdus, datain_pdus, rsp_pdus;
};

/* Adds @n to a counter only one thread writes: no locked instruction. */
static inline void core_stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
			      + n, memory_order_relaxed);
}

/*
 * A live session as the registry lists it; embedded in the transport's
 * session and registered after login, unregistered at close. The fields
 * are written before registering and not changed after, except counters.
 */
struct core_session {
	struct list_head link;		/* core-owned */
	struct tgt_target *target;	/* NULL for discovery sessions */
	char initiator[224];
	char alias[256];		/* InitiatorAlias; "" when not declared */
	char isid[16];			/* hex */
	uint16_t tsih;
	uint16_t cid;			/* its connection's CID */
	char peer[64];			/* "addr:port" */
	char local[64];
	int reactor;
	int connections;
	bool header_digest, data_digest;
	/*
	 * Optional (NULL: never asked). Called when the target is removed
	 * with force while the session is registered, when the session
	 * registers on a target already removed, when a newer session of the
	 * same I_T nexus registers, and by core_connection_close(); @why
	 * says which (a static string, for the log). Called with the
	 * registry lock held, from the control thread or the registering
	 * thread: it must only schedule the close (e.g. reactor_post) and
	 * must not call core functions. The session stays registered until
	 * the transport unregisters it.
	 */
	void (*evict)(struct core_session *s, const char *why);
	/*
	 * Optional counters, valid while the session is registered:
	 * lu_stats[SCSI_MAX_LUNS] indexed by LUN (normal sessions), and its
	 * connection's.
	 */
	const struct core_lu_stats *lu_stats;
	const struct core_conn_stats *conn_stats;
};
/*
 * Registers @s. A live session of the same initiator, ISID and target is
 * evicted (session reinstatement); returns how many were.
 */
int core_session_register(struct core_session *s);
/* True while a registered session has TSIH @tsih. */
bool core_tsih_live(uint16_t tsih);
void core_session_unregister(struct core_session *s);
int core_target_sessions(struct tgt_target *t);
/*
 * tgtadm's --op delete --mode conn: asks the transport to close connection
 * @cid of the session with TSIH @tsih (session.list's tsih, tgtadm's
 * sid) on target @iqn, through the session's evict callback: it closes as
 * on a connection loss, on its own reactor, after this returns. 0, or
 * -ENOENT with a sentence: no such target, session or connection.
 */
int core_connection_close(const char *iqn, uint16_t tsih, uint16_t cid,
			  struct core_err *err);

/* --- CHAP accounts and authentication policy (auth.c) -------------------- */

/*
 * An account is a name (CHAP_N, 1..CORE_ACCOUNT_NAME_MAX printable ASCII
 * bytes, no spaces or commas) with a secret (1..CORE_SECRET_MAX bytes).
 * Targets bind any number of accounts as incoming (the initiator proves
 * it knows the secret) and at most one as outgoing (the target proves it
 * to the initiator: mutual CHAP). Discovery sessions have their own
 * setting and bindings. Secrets leave the core only through
 * core_auth_incoming() / core_auth_outgoing() (for the login) and
 * core_accounts_json(true) (for --show-secrets); they are wiped from
 * memory when an account is removed.
 */
#define CORE_ACCOUNT_NAME_MAX 255
#define CORE_SECRET_MAX 255
/* Shorter secrets work but are logged with a warning (RFC 7143 §12.1.3). */
#define CORE_SECRET_RECOMMENDED 12

/* CHAP_A algorithms a target allows, as bits (RFC 7143 §12.1.3 numbers). */
enum {
	CORE_CHAP_MD5 = 1u << 0,	/* CHAP_A=5 */
	CORE_CHAP_SHA1 = 1u << 1,	/* CHAP_A=6 */
	CORE_CHAP_SHA256 = 1u << 2,	/* CHAP_A=7 */
	CORE_CHAP_SHA3_256 = 1u << 3,	/* CHAP_A=8 */
	CORE_CHAP_ALL = 0xfu,
};
/* CHAP_A value @a (5..8) as its bit; 0 for anything else. */
#define CORE_CHAP_BIT(a) ((a) >= 5 && (a) <= 8 ? 1u << ((a) - 5) : 0u)

/*
 * Parses a list of algorithm names ("MD5,SHA1,SHA256,SHA3-256", commas
 * or spaces, case-insensitive; open-iscsi's chap_algs spelling) into
 * CORE_CHAP_* bits. Returns 0, or -EINVAL with a sentence in @why.
 */
int core_chap_algs_parse(const char *list, unsigned *bits, char *why,
			 size_t whylen);
/* Writes the names of @bits, comma-separated, into @buf. */
void core_chap_algs_format(unsigned bits, char *buf, size_t len);

/*
 * Adds an account. -EEXIST when the name is taken, -EINVAL for a bad
 * name or secret. A secret shorter than CORE_SECRET_RECOMMENDED is
 * accepted with a warning: logged (without the secret) and put in
 * err->msg while 0 is returned (err->msg is "" otherwise).
 */
int core_account_add(const char *name, const char *secret,
		     struct core_err *err);
/*
 * Removes an account. -EBUSY while it is bound to a target or to
 * discovery, unless @force (then it is unbound everywhere first).
 * Sessions already logged in stay.
 */
int core_account_remove(const char *name, bool force, struct core_err *err);
/*
 * Binds account @name to target @iqn (NULL: to discovery) as incoming,
 * or as the outgoing account when @outgoing. -ENOENT for an unknown
 * account or target, -EEXIST when already bound, or when another
 * outgoing account is bound (unbind it first).
 */
int core_account_bind(const char *iqn, const char *name, bool outgoing,
		      struct core_err *err);
int core_account_unbind(const char *iqn, const char *name, bool outgoing,
			struct core_err *err);

enum core_disc_auth {
	CORE_DISC_AUTH_NONE,	/* discovery without authentication */
	CORE_DISC_AUTH_CHAP,	/* one-way CHAP; mutual if the initiator asks
				 * and an outgoing account is bound */
	CORE_DISC_AUTH_MUTUAL,	/* the initiator must also authenticate us */
};
/*
 * Sets discovery authentication. CHAP needs at least one incoming
 * discovery account bound, MUTUAL an outgoing one too (-EINVAL with a
 * sentence otherwise).
 */
int core_discovery_auth_set(enum core_disc_auth mode, struct core_err *err);
enum core_disc_auth core_discovery_auth(void);

/* Sets the CHAP algorithms target @iqn allows (CORE_CHAP_* bits, not 0). */
int core_target_chap_algs(const char *iqn, unsigned bits,
			  struct core_err *err);

/* What a login to @t (NULL: a discovery session) must do. */
struct core_auth_policy {
	bool chap_required;	/* incoming accounts bound / discovery auth */
	bool mutual_required;	/* discovery auth mutual */
	bool has_outgoing;	/* an outgoing account is bound */
	unsigned algs;		/* CORE_CHAP_* bits allowed */
};
void core_auth_policy(struct tgt_target *t, struct core_auth_policy *p);
/*
 * Calls cb for every target open to anybody who can reach a portal: an
 * ALL rule in its ACL and no CHAP required (no incoming account bound),
 * in tid order. For the daemon's warning at start about such targets on
 * portals other hosts can reach.
 */
void core_targets_open(void (*cb)(void *ctx, const char *iqn), void *ctx);
/*
 * For the login, any thread: copies the secret of account @user when it
 * is bound as incoming to @t (NULL: discovery). Returns its length, or
 * -ENOENT (unknown account, or not bound there). The caller wipes @secret.
 */
int core_auth_incoming(struct tgt_target *t, const char *user,
		       uint8_t *secret, size_t cap);
/*
 * The outgoing account of @t (NULL: discovery): its name into @user and
 * its secret; returns the secret's length or -ENOENT when none is bound.
 */
int core_auth_outgoing(struct tgt_target *t, char *user, size_t ucap,
		       uint8_t *secret, size_t cap);
/*
 * Accounts and discovery for control: {"accounts": [{"name", "secret"
 * (only with @show_secrets), "incoming": [iqn...], "outgoing": [iqn...],
 * "discovery": "incoming"|"outgoing"|null}], "discovery": {"auth":
 * "none"|"chap"|"mutual", "incoming": [names], "outgoing": name|null}}.
 */
struct json_object *core_accounts_json(bool show_secrets);

/* JSON snapshots for control: caller owns the returned object. */
struct json_object *core_targets_json(void);
struct json_object *core_sessions_json(void);
/*
 * The same, each session with "stats": {"luns": [{"lun", "read_submitted_bytes",
 * "read_submitted_cmds", "read_done_bytes", "read_done_cmds",
 * "write_submitted_bytes", ..., "errors"}] for every LU its target has now,
 * in LUN order, and "connections": [{"cid", "rx_octets", "tx_octets",
 * "cmd_pdus", "dataout_pdus", "datain_pdus", "rsp_pdus"}]}.
 */
struct json_object *core_sessions_stats_json(void);

/* --- target portal groups (portgroup.c) --------------------------------- */

/*
 * The daemon's one table of target portal groups, shared by every
 * target's SCSI ports (group 1, active/optimized, always exists).
 */
struct scsi_port_groups *core_port_groups(void);
/* Adds group @tag in @state, or sets the state of an existing one. */
int core_port_group_define(uint16_t tag, enum scsi_alua_state state,
			   struct core_err *err);
/*
 * Changes the ALUA state of group @tag at run time (every I_T nexus gets
 * ASYMMETRIC ACCESS STATE CHANGED); -ENOENT, -EINVAL.
 */
int core_port_group_set_state(uint16_t tag, enum scsi_alua_state state,
			      struct core_err *err);
/* Records that portal @name serves group @tag; -ENOENT: no such group. */
int core_port_group_portal(uint16_t tag, const char *name,
			   struct core_err *err);
/* Forgets portal @name (it was closed); nothing when it is not there. */
void core_port_group_portal_forget(const char *name);
/* [{"tag", "state", "portals": [names]}], in the order defined. */
struct json_object *core_port_groups_json(void);
/* [{"portal": name, "group": tag}], in the order they were opened. */
struct json_object *core_portals_json(void);

/*
 * Portals opened and closed at run time (control's portal.add and
 * portal.remove, tgtadm --mode portal): the iSCSI layer, which owns the
 * listening sockets, sets these when it starts and clears them when it
 * stops (core sits below it). Both run on the calling (control) thread
 * and may block until the reactors have done their part; they return 0
 * or -errno with a sentence in @err.
 */
struct core_portal_ops {
	/* opens ADDR[:PORT] in portal group @group */
	int (*add)(const char *addr, uint16_t group, char *err, size_t len);
	/* stops accepting on ADDR[:PORT]; its connections stay */
	int (*remove)(const char *addr, char *err, size_t len);
};
void core_set_portal_ops(const struct core_portal_ops *ops);
/* Through the hooks above; -EOPNOTSUPP when none are set. */
int core_portal_add(const char *addr, uint16_t group, struct core_err *err);
int core_portal_remove(const char *addr, struct core_err *err);

/* --- the daemon's state (system.c) ---------------------------------------- */

/*
 * tgt's system state (`tgtadm --mode sys --op update --name State`):
 * while offline, portals close every new connection as soon as it is
 * accepted (logins and discovery alike); sessions logged in already go on
 * serving. The daemon starts ready.
 */
enum core_system_state { CORE_SYSTEM_READY, CORE_SYSTEM_OFFLINE };

enum core_system_state core_system_state(void);
void core_system_set_state(enum core_system_state st);
/* "ready" / "offline"; parse: 0 or -EINVAL. */
const char *core_system_state_name(enum core_system_state st);
int core_system_state_parse(const char *s, enum core_system_state *out);

#endif
