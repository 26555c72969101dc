/*
 * core_internal.h - pieces of the core layer shared between its files and
 * with the unit tests: ACL rule parsing and matching (pure functions, no
 * locks, no allocation), and what the accounts registry (auth.c) needs of
 * the target registry (core.c) and the other way round.
 */
#ifndef RINGTGT_CORE_INTERNAL_H
#define RINGTGT_CORE_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum core_acl_kind {
	CORE_ACL_ALL,		/* "ALL": everybody */
	CORE_ACL_NET4,		/* IPv4 address or CIDR */
	CORE_ACL_NET6,		/* IPv6 address or CIDR */
	CORE_ACL_NAME,		/* initiator name (iqn./eui./naa.) */
};

struct core_acl {
	enum core_acl_kind kind;
	unsigned prefix;		/* NET4: 0..32, NET6: 0..128 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	char text[224];			/* canonical form, what lists show */
};

/*
 * Parses @rule into @out with a canonical text ("10.0.0.0/8", "::1",
 * "ALL", the name in lower case). An IPv4-mapped IPv6 rule
 * ("::ffff:10.0.0.0/104") becomes the IPv4 rule it means. Returns 0, or
 * -EINVAL with a sentence in @why.
 */
int core_acl_parse(const char *rule, struct core_acl *out, char *why,
		   size_t whylen);
/*
 * True when @a admits @initiator (may be NULL) connecting from @peer (may
 * be NULL). IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 rules.
 */
bool core_acl_match(const struct core_acl *a, const char *initiator,
		    const struct sockaddr *peer);

/* --- between core.c and auth.c ------------------------------------------ */

struct json_object;
struct tgt_target;
struct core_account;

/*
 * Guards the target and session lists (core.c) and the accounts and every
 * binding (auth.c). Held only for short, non-blocking work.
 */
extern pthread_mutex_t core_lock;
/* Puts a sentence in err->msg (when err) and returns @rc. */
int core_fail(struct core_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Caller holds core_lock: the linked target named @iqn, or NULL. */
struct tgt_target *core_target_lookup_locked(const char *iqn);
/* Caller holds core_lock: the linked target after @prev (NULL: first). */
struct tgt_target *core_target_next_locked(struct tgt_target *prev);

/* A target's CHAP bindings, kept in its struct tgt_target; under core_lock. */
struct core_target_auth {
	struct core_account **incoming;	/* any number */
	int nincoming;
	struct core_account *outgoing;	/* at most one */
	unsigned algs;			/* CORE_CHAP_* bits allowed */
	bool removed;			/* target unlinked: bindings dropped */
};
struct core_target_auth *core_target_auth_state(struct tgt_target *t);

/* auth.c, for core.c: a new target allows every algorithm, no account. */
void core_auth_target_init(struct core_target_auth *a);
/* Caller holds core_lock; the target was unlinked: drops its bindings. */
void core_auth_target_unlinked(struct core_target_auth *a);
/* The target's last reference went: frees what the bindings held. */
void core_auth_target_free(struct core_target_auth *a);
/* Caller holds core_lock: adds the names bound and the algorithms to @o. */
void core_auth_target_json(const struct core_target_auth *a,
			   struct json_object *o);
/* --- between core.c and params.c ----------------------------------------- */

/* A target's transport parameters (params.c), kept in its struct tgt_target. */
struct core_target_params {
	struct core_param p[CORE_PARAMS_MAX];	/* under core_lock */
	size_t n;
};
struct core_target_params *core_target_params_state(struct tgt_target *t);
/* Caller holds core_lock: adds "params" (the overrides) to @o. */
void core_params_target_json(const struct core_target_params *tp,
			     struct json_object *o);

/* Wipes every account and discovery binding (core_shutdown). */
void core_auth_shutdown(void);

#endif
