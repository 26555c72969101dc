/*
 * core_internal.h - pieces of the core layer shared between its files and
 * with the unit tests: ACL rule parsing and matching (pure functions, no
 * locks, no allocation).
 */
#ifndef RINGTGT_CORE_INTERNAL_H
#define RINGTGT_CORE_INTERNAL_H

#include <netinet/in.h>
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

#endif
