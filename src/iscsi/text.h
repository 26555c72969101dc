/*
 * text.h - iSCSI text keys (RFC 7143 §6, §13): parsing key=value
 * segments and negotiating each key by its rule. Pure: no I/O.
 */
#ifndef RINGTGT_TEXT_H
#define RINGTGT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_NAME_MAX 224

/* What a session runs with once negotiation is over. */
struct iscsi_params {
	bool header_digest;
	bool data_digest;
	uint32_t max_connections;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_recv_dsl_init;	/* initiator's: our Data-In PDU limit */
	uint32_t max_recv_dsl_tgt;	/* ours: declared to the initiator */
	uint32_t max_burst;
	uint32_t first_burst;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_seq_in_order;
	uint32_t erl;
	/* RFC 7143 §13.24; 2 adds RFC 7144's task management functions */
	uint32_t protocol_level;
};

/*
 * The target's side of each key (upper limits and preferences): the
 * portal-wide settings, then a normal session's target's own values
 * (tparams.c). Each is combined with the initiator's offer by the key's
 * rule (RFC 7143 §13).
 */
struct iscsi_limits {
	uint32_t max_recv_dsl;		/* declared MaxRecvDataSegmentLength */
	/*
	 * tgt's MaxXmitDataSegmentLength: the most data we put in one PDU,
	 * below the initiator's MaxRecvDataSegmentLength when smaller.
	 */
	uint32_t max_xmit_dsl;
	uint32_t max_burst;		/* MaxBurstLength, min rule */
	uint32_t first_burst;		/* FirstBurstLength, min rule */
	uint32_t max_outstanding_r2t;	/* MaxOutstandingR2T, min rule */
	uint32_t default_time2wait;	/* DefaultTime2Wait, max rule */
	bool header_digest;		/* CRC32C offered by HeaderDigest */
	bool data_digest;		/* CRC32C offered by DataDigest */
	bool initial_r2t;		/* InitialR2T, OR rule */
	bool immediate_data;		/* ImmediateData, AND rule */
};

/* RFC 7143 defaults (§13). */
void text_params_default(struct iscsi_params *p);
void text_limits_default(struct iscsi_limits *l);

enum text_phase {
	PHASE_SECURITY,		/* login CSG 0 */
	PHASE_OPERATIONAL,	/* login CSG 1 */
	PHASE_FFP,		/* Text Request in full feature phase */
};

/* Output buffer for key=value\0 responses. */
struct kvbuf {
	char *data;
	size_t len, cap;
	bool overflow;
};
void kv_init(struct kvbuf *b, char *data, size_t cap);
void kv_add(struct kvbuf *b, const char *key, const char *value);
void kv_addf(struct kvbuf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Calls fn for every key=value pair in a data segment of @len bytes.
 * Returns 0, or -EINVAL for a malformed segment (no '=', empty key, key
 * or value too long); fn may return nonzero to stop (returned as is).
 */
int text_for_each(const char *data, size_t len,
		  int (*fn)(void *ctx, const char *key, const char *val),
		  void *ctx);

/*
 * The value of the first @key=value pair in a data segment of @len
 * bytes (pointing into it), or NULL when there is none or the segment is
 * malformed.
 */
const char *text_find(const char *data, size_t len, const char *key);

/*
 * RFC 7143 §6.2 list rule: the first value of the comma-separated @offer
 * that @supported (NULL-terminated) holds, or NULL.
 */
const char *text_pick_list(const char *offer, const char *const *supported);

/*
 * One negotiation (a login or a text exchange): tracks the keys already
 * answered and the declarations the initiator made.
 */
struct text_negot {
	struct iscsi_params *params;
	const struct iscsi_limits *limits;
	enum text_phase phase;
	bool discovery;
	uint64_t seen;			/* bit per known key answered */
	/* declarations */
	char initiator_name[ISCSI_NAME_MAX];
	char initiator_alias[256];
	char target_name[ISCSI_NAME_MAX];
	char session_type[16];
	char auth_method[32];		/* chosen AuthMethod (login.c sets it) */
	/*
	 * Security stage only: the AuthMethod list offered in the last
	 * request (answered by login.c, which knows the target), and the
	 * CHAP_ keys of the last request, pointing into its text (NULL when
	 * absent). Cleared by every text_negotiate().
	 */
	char auth_offer[256];
	bool has_auth_offer;
	const char *chap_a, *chap_n, *chap_r, *chap_i, *chap_c;
	char send_targets[ISCSI_NAME_MAX + 8];
	bool has_send_targets;
	bool declared_mrdsl;		/* we declared ours already */
	int error;			/* enum login_status when nonzero */
	char error_msg[160];
};

void text_negot_init(struct text_negot *n, struct iscsi_params *params,
		     const struct iscsi_limits *limits, enum text_phase phase,
		     bool discovery);
/*
 * Negotiates every key in @data, appending the answers to @out. Sets
 * n->error (a login status) for requests that must fail the login.
 */
void text_negotiate(struct text_negot *n, const char *data, size_t len,
		    struct kvbuf *out);
/* Applies end-of-negotiation consistency rules (FirstBurst <= MaxBurst). */
void text_negot_finish(struct text_negot *n);

#endif
