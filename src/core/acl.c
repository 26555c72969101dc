/*
 * acl.c - iSCSI name validation and ACL rules: parsing a rule string into
 * a struct core_acl and matching it against a connecting initiator. Pure
 * functions; the registry in core.c owns the lists and the locking.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "core_internal.h"

__attribute__((format(printf, 3, 4)))
static int why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

/*
 * RFC 7143 §4.2.7: "iqn." yyyy-mm "." reversed-domain [":" anything],
 * "eui." 16 hex digits, "naa." 16 or 32 hex digits; at most 223 bytes.
 * The character set is the ASCII part of the RFC 3722 profile plus '_',
 * which real initiators use.
 */
int core_name_check(const char *name, char *why, size_t whylen)
{
	size_t len;
	const char *p;

	if (!name || !*name)
		return why_set(why, whylen, "empty iSCSI name");
	len = strlen(name);
	if (len > CORE_NAME_MAX)
		return why_set(why, whylen,
			       "iSCSI name is %zu bytes long; at most %d allowed",
			       len, CORE_NAME_MAX);
	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!isalnum(c) && c != '.' && c != '-' && c != ':' &&
		    c != '_')
			return why_set(why, whylen,
				       "bad character '%c' in iSCSI name '%s'",
				       isprint(c) ? c : '?', name);
	}
	if (strncasecmp(name, "eui.", 4) == 0) {
		if (!all_hex(name + 4, 16))
			return why_set(why, whylen,
				       "'%s': an eui. name has 16 hex digits",
				       name);
		return 0;
	}
	if (strncasecmp(name, "naa.", 4) == 0) {
		if (!all_hex(name + 4, 16) && !all_hex(name + 4, 32))
			return why_set(why, whylen,
				       "'%s': a naa. name has 16 or 32 hex digits",
				       name);
		return 0;
	}
	if (strncasecmp(name, "iqn.", 4) != 0)
		return why_set(why, whylen,
			       "'%s' is not an iSCSI name (iqn.YYYY-MM.domain[:id], eui.HEX or naa.HEX)",
			       name);
	p = name + 4;
	if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	      isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
	      p[4] == '-' && isdigit((unsigned char)p[5]) &&
	      isdigit((unsigned char)p[6]) && p[7] == '.'))
		return why_set(why, whylen,
			       "'%s': an iqn. name starts with iqn.YYYY-MM. (a date)",
			       name);
	int month = (p[5] - '0') * 10 + (p[6] - '0');
	if (month < 1 || month > 12)
		return why_set(why, whylen, "'%s': month %02d is not 01..12",
			       name, month);
	p += 8;
	if (*p == '\0' || *p == ':' || *p == '.')
		return why_set(why, whylen,
			       "'%s': an iqn. name needs a naming authority (reversed domain) after the date",
			       name);
	return 0;
}

static bool name_like(const char *s)
{
	return strncasecmp(s, "iqn.", 4) == 0 ||
	       strncasecmp(s, "eui.", 4) == 0 ||
	       strncasecmp(s, "naa.", 4) == 0;
}

static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* True when the bits of @a past @prefix are all zero. */
static bool host_bits_clear(const uint8_t *a, size_t n, unsigned prefix)
{
	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;

		if (bit + 8 <= prefix)
			continue;
		mask = bit >= prefix ? 0xff : (uint8_t)(0xff >> (prefix - bit));
		if (a[i] & mask)
			return false;
	}
	return true;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (a[full] & mask) == (b[full] & mask);
	}
	return true;
}

static void acl_canon(struct core_acl *a)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned full = a->kind == CORE_ACL_NET4 ? 32 : 128;

	inet_ntop(a->kind == CORE_ACL_NET4 ? AF_INET : AF_INET6, &a->addr, buf,
		  sizeof(buf));
	if (a->prefix == full)
		snprintf(a->text, sizeof(a->text), "%s", buf);
	else
		snprintf(a->text, sizeof(a->text), "%s/%u", buf, a->prefix);
}

int core_acl_parse(const char *rule, struct core_acl *out, char *why,
		   size_t whylen)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash;
	size_t alen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!rule || !*rule)
		return why_set(why, whylen, "empty ACL rule");
	if (strcasecmp(rule, "ALL") == 0) {
		out->kind = CORE_ACL_ALL;
		strcpy(out->text, "ALL");
		return 0;
	}
	if (name_like(rule)) {
		rc = core_name_check(rule, why, whylen);
		if (rc)
			return rc;
		out->kind = CORE_ACL_NAME;
		for (size_t i = 0; rule[i]; i++)
			out->text[i] = (char)tolower((unsigned char)rule[i]);
		return 0;
	}

	slash = strchr(rule, '/');
	alen = slash ? (size_t)(slash - rule) : strlen(rule);
	if (alen >= sizeof(addr))
		goto bad;
	memcpy(addr, rule, alen);
	addr[alen] = '\0';
	/* Accept "[v6]" and "[v6]/len" as URLs and portals write them. */
	if (addr[0] == '[' && alen > 2 && addr[alen - 1] == ']') {
		memmove(addr, addr + 1, alen - 2);
		addr[alen - 2] = '\0';
	}

	if (inet_pton(AF_INET, addr, &out->addr.v4) == 1) {
		out->kind = CORE_ACL_NET4;
		out->prefix = 32;
	} else if (inet_pton(AF_INET6, addr, &out->addr.v6) == 1) {
		out->kind = CORE_ACL_NET6;
		out->prefix = 128;
	} else {
		goto bad;
	}
	if (slash && parse_prefix(slash + 1, out->prefix, &out->prefix))
		return why_set(why, whylen,
			       "bad prefix length in ACL rule '%s' (0..%u)",
			       rule, out->kind == CORE_ACL_NET4 ? 32 : 128);
	if (!host_bits_clear((const uint8_t *)&out->addr,
			     out->kind == CORE_ACL_NET4 ? 4 : 16, out->prefix)) {
		struct core_acl fixed = *out;
		uint8_t *b = (uint8_t *)&fixed.addr;
		size_t n = fixed.kind == CORE_ACL_NET4 ? 4 : 16;

		for (size_t i = 0; i < n; i++) {
			unsigned bit = (unsigned)i * 8;

			if (bit >= fixed.prefix)
				b[i] = 0;
			else if (bit + 8 > fixed.prefix)
				b[i] &= (uint8_t)(0xff << (8 - (fixed.prefix - bit)));
		}
		acl_canon(&fixed);
		return why_set(why, whylen,
			       "ACL rule '%s' has host bits set; did you mean %s?",
			       rule, fixed.text);
	}
	/* ::ffff:a.b.c.d/n means the IPv4 network; store it as that. */
	if (out->kind == CORE_ACL_NET6 && out->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED(&out->addr.v6)) {
		struct in_addr v4;

		memcpy(&v4, &out->addr.v6.s6_addr[12], 4);
		out->kind = CORE_ACL_NET4;
		out->addr.v4 = v4;
		out->prefix -= 96;
	}
	acl_canon(out);
	return 0;
bad:
	return why_set(why, whylen,
		       "bad ACL rule '%s' (use ALL, an IPv4/IPv6 address, a CIDR like 10.0.0.0/8, or an initiator name)",
		       rule);
}

bool core_acl_match(const struct core_acl *a, const char *initiator,
		    const struct sockaddr *peer)
{
	const uint8_t *v4 = NULL, *v6 = NULL;

	switch (a->kind) {
	case CORE_ACL_ALL:
		return true;
	case CORE_ACL_NAME:
		return initiator && strcasecmp(a->text, initiator) == 0;
	case CORE_ACL_NET4:
	case CORE_ACL_NET6:
		break;
	}
	if (!peer)
		return false;
	if (peer->sa_family == AF_INET) {
		v4 = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)
			     ->sin_addr;
	} else if (peer->sa_family == AF_INET6) {
		const struct in6_addr *p6 =
			&((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(p6))
			v4 = &p6->s6_addr[12];
		else
			v6 = p6->s6_addr;
	}
	if (a->kind == CORE_ACL_NET4)
		return v4 && prefix_match(v4, (const uint8_t *)&a->addr.v4,
					  a->prefix);
	return v6 && prefix_match(v6, a->addr.v6.s6_addr, a->prefix);
}

int core_acl_check(const char *rule, char *why, size_t whylen)
{
	struct core_acl a;

	return core_acl_parse(rule, &a, why, whylen);
}
