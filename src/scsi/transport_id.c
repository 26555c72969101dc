/*
 * transport_id.c - iSCSI TransportIDs (SPC-4 §7.6.4.6), the way a PERSISTENT
 * RESERVE OUT parameter list names an initiator port (SPEC_I_PT, REGISTER
 * AND MOVE) and READ FULL STATUS reports one. A pure codec: bytes in,
 * struct out (or the reverse); no LU, no lock, no allocation, so it is
 * unit-tested on byte arrays and fuzzed (tests/fuzz/fuzz_transport_id.c).
 *
 * Two formats, both PROTOCOL IDENTIFIER 5h, ADDITIONAL LENGTH at least 20
 * and a multiple of 4 (tables 504-506):
 *   00b  "<iSCSI name>" NUL-terminated, NUL-padded: an initiator device
 *   01b  "<iSCSI name>,i,0x<ISID hex>" NUL-terminated, NUL-padded: one
 *        initiator port (name + ISID, RFC 7143 §4.4.1)
 * Bytes after the terminating NUL are not looked at ("without regard for
 * the specified length", §7.6.4.6). The name must be an iSCSI name as
 * RFC 7143 §4.2.7 writes them: "iqn.", "eui." (16 hex digits) or "naa."
 * (16 or 32 hex digits), at most 223 bytes, of ASCII letters, digits,
 * '-', '.', ':' and well-formed UTF-8 beyond ASCII. iSCSI names compare
 * case-insensitively (RFC 3722 folds them to lower case); the parsed name
 * keeps the bytes it was given.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scsi/scsi_internal.h"

/* TransportID header (SPC-4 §7.6.4.1, table 505 / 506) */
#define TID_FMT_SHIFT 6
#define TID_RSVD_MASK 0x30		/* byte 0 bits 5-4 */
#define TID_PROTO_MASK 0x0f
#define TID_PROTO_ISCSI 0x5
#define TID_ADDLEN 2
#define TID_HDR 4
#define TID_MIN_ADDLEN 20
#define TID_SEP ",i,0x"
#define TID_SEP_LEN 5
#define TID_ISID_DIGITS 12		/* 48-bit ISID (RFC 7143 §11.12.5) */

static bool tid_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static unsigned tid_hexval(uint8_t c)
{
	if (c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
}

/* Bytes of the UTF-8 sequence at @s (at most @n), or 0 when malformed. */
static size_t tid_utf8_len(const uint8_t *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	/* a continuation byte, an overlong lead, beyond U+10FFFF */
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;	/* overlong, surrogate, out of range */
	return len;
}

/* @n bytes of hex digits at @s: the "eui." and "naa." bodies. */
static bool tid_all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!tid_hex((uint8_t)s[i]))
			return false;
	return true;
}

bool scsi_iscsi_name_valid(const char *name, size_t len)
{
	const uint8_t *s = (const uint8_t *)name;
	size_t i = 0;

	if (len < 5 || len > SCSI_TID_NAME_MAX)
		return false;
	/* RFC 7143 §4.2.7.4-4.2.7.6: the three name types */
	if (strncasecmp(name, "eui.", 4) == 0) {
		if (len != 4 + 16 || !tid_all_hex(name + 4, 16))
			return false;
	} else if (strncasecmp(name, "naa.", 4) == 0) {
		if ((len != 4 + 16 && len != 4 + 32) ||
		    !tid_all_hex(name + 4, len - 4))
			return false;
	} else if (strncasecmp(name, "iqn.", 4) != 0) {
		return false;
	}
	while (i < len) {
		uint8_t c = s[i];
		size_t u;

		if (c >= 0x80) {
			u = tid_utf8_len(s + i, len - i);
			if (u == 0)
				return false;
			i += u;
			continue;
		}
		/* §4.2.7.2: letters, digits, '-', '.', ':' (and nothing that
		 * would split "<name>,i,0x<isid>") */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == ':'))
			return false;
		i++;
	}
	return true;
}

int scsi_tid_parse(const uint8_t *b, size_t n, struct scsi_tid *out)
{
	const char *body, *sep, *nul;
	size_t addlen, body_len, name_len, digits;
	unsigned fmt;

	memset(out, 0, sizeof(*out));
	if (n < TID_HDR)
		return -EMSGSIZE;
	addlen = get_be16(b + TID_ADDLEN);
	if (TID_HDR + addlen > n)
		return -EMSGSIZE;	/* runs past what the caller has */
	out->len = (uint32_t)(TID_HDR + addlen);
	if ((b[0] & TID_PROTO_MASK) != TID_PROTO_ISCSI)
		return -EPROTONOSUPPORT;
	fmt = b[0] >> TID_FMT_SHIFT;
	if ((b[0] & TID_RSVD_MASK) || b[1] || fmt > SCSI_TID_PORT ||
	    addlen < TID_MIN_ADDLEN || addlen % 4)
		return -EINVAL;
	body = (const char *)b + TID_HDR;
	nul = memchr(body, '\0', addlen);
	if (!nul)
		return -EINVAL;		/* not NUL-terminated */
	body_len = (size_t)(nul - body);
	if (fmt == SCSI_TID_DEVICE) {
		name_len = body_len;
	} else {
		/* names hold no ',': the first one starts the separator */
		sep = memchr(body, ',', body_len);
		if (!sep || body_len - (size_t)(sep - body) < TID_SEP_LEN ||
		    memcmp(sep, TID_SEP, TID_SEP_LEN) != 0)
			return -EINVAL;
		name_len = (size_t)(sep - body);
		digits = body_len - name_len - TID_SEP_LEN;
		if (digits == 0 || digits > TID_ISID_DIGITS ||
		    !tid_all_hex(sep + TID_SEP_LEN, digits))
			return -EINVAL;
		for (size_t i = 0; i < digits; i++)
			out->isid = out->isid << 4 |
				    tid_hexval((uint8_t)sep[TID_SEP_LEN + i]);
	}
	if (!scsi_iscsi_name_valid(body, name_len))
		return -EINVAL;
	out->format = (enum scsi_tid_format)fmt;
	memcpy(out->name, body, name_len);
	out->name[name_len] = '\0';
	return 0;
}

int scsi_tid_port_name(const struct scsi_tid *tid, char *out, size_t cap)
{
	int n;

	if (tid->format != SCSI_TID_PORT)
		return -EINVAL;
	/* the spelling of session.c: twelve lower-case hex digits */
	n = snprintf(out, cap, "%s" TID_SEP "%012llx", tid->name,
		     (unsigned long long)tid->isid);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

uint32_t scsi_tid_encode(const char *port, uint8_t *b, uint32_t cap)
{
	uint32_t n = (uint32_t)strlen(port) + 1;
	uint32_t len = TID_HDR + ((n + 3) & ~3u);
	bool is_port = strstr(port, TID_SEP) != NULL;

	if (len < TID_HDR + TID_MIN_ADDLEN)
		len = TID_HDR + TID_MIN_ADDLEN;
	if (len > cap)
		return len;
	memset(b, 0, len);
	b[0] = (uint8_t)((is_port ? SCSI_TID_PORT : SCSI_TID_DEVICE)
			 << TID_FMT_SHIFT | TID_PROTO_ISCSI);
	put_be16(b + TID_ADDLEN, (uint16_t)(len - TID_HDR));
	memcpy(b + TID_HDR, port, n - 1);
	return len;
}
