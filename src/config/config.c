/*
 * config.c - loads the configuration file with libconfuse, validates it
 * and turns it into a struct ringtgt_config; config_apply() then builds
 * the accounts and targets through core.h.
 *
 * A lexical pre-pass (lex_prepare) rejects unterminated comments, strings
 * and sections, and hides comments from libconfuse, whose line count they
 * upset. Values are checked by libconfuse validate callbacks as they are read,
 * so errors carry the line of the value. Checks that need a whole section
 * (a target's name, LUN numbers, a ram LUN's size) run after parsing;
 * libconfuse only remembers where a section ends, so locate_line() finds
 * the line that opens it in the text.
 *
 * The file may hold CHAP secrets (account sections): no message names one,
 * libconfuse's included (on_cfg_error hides the text it quotes inside an
 * account), and config_load() refuses such a file when other users may
 * read it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>

#include "base/log.h"
#include "config.h"
#include "ringtgt/ctl.h"

/* The largest config file read; a guard against reading /dev/zero. */
#define CONFIG_MAX_SIZE (4u << 20)

struct parse_ctx {
	const char *name;
	const char *text;
	char *err;
	size_t errlen;
	bool failed;
	int line;		/* of the error kept; 0 when it has none */
};

/* libconfuse's error callback has no user pointer; parsing is per thread. */
static __thread struct parse_ctx *parse_cur;

__attribute__((format(printf, 3, 4)))
static int ctx_fail(struct parse_ctx *c, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->failed)
		return -EINVAL;	/* keep the first error */
	c->failed = true;
	c->line = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(c->err, c->errlen, "%s:%d: %s", c->name, line, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return -EINVAL;
}

static const char *duplicate_what(const char *text, int upto,
				  const char *title);

static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct parse_ctx *c = parse_cur;
	char msg[400], *q;
	const char *what;

	if (!c)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/*
	 * Inside an account, the text libconfuse quotes may be the secret
	 * (`account a { "s3cret" }` is "no such option 's3cret'"): say where
	 * and what, not the text.
	 */
	if (cfg && cfg->title && strcmp(cfg->name, "account") == 0 &&
	    (strncmp(msg, "no such option '", 16) == 0 ||
	     strncmp(msg, "unexpected token '", 18) == 0)) {
		ctx_fail(c, cfg->line,
			 "account %s: unexpected text (not shown, it may be the secret); an account holds only secret = \"...\"",
			 cfg->title);
		return;
	}
	/* Say what libconfuse means in this file's terms. */
	if (strncmp(msg, "no such option '", 16) == 0) {
		if (cfg && cfg->title)
			ctx_fail(c, cfg->line, "unknown key '%s in %s %s",
				 msg + 16, cfg->name, cfg->title);
		else
			ctx_fail(c, cfg ? cfg->line : 0, "unknown key '%s",
				 msg + 16);
		return;
	}
	if (strncmp(msg, "found duplicate title '", 23) == 0 && cfg) {
		q = msg + 23;	/* "NAME'" */
		if (*q && q[strlen(q) - 1] == '\'')
			q[strlen(q) - 1] = '\0';
		what = strcmp(cfg->name, "root") == 0 ?
			       duplicate_what(c->text, cfg->line, q) : "LUN";
		ctx_fail(c, cfg->line, "duplicate %s '%s'", what, q);
		return;
	}
	ctx_fail(c, cfg ? cfg->line : 0, "%s", msg);
}

/* --- locating a section's first line ----------------------------------- */

/* True when @word appears in @line as a token, followed by @title. */
static bool line_opens(const char *line, size_t len, const char *word,
		       const char *title)
{
	size_t wl = strlen(word), tl = strlen(title);
	bool quoted = false;

	for (size_t i = 0; i + wl <= len; i++) {
		size_t j;

		if (line[i] == '"')
			quoted = !quoted;
		if (quoted && line[i] != '"')
			continue;
		if (line[i] == '#' || (line[i] == '/' && i + 1 < len &&
				       line[i + 1] == '/'))
			return false;
		if (strncmp(line + i, word, wl) != 0 ||
		    (i > 0 && !isspace((unsigned char)line[i - 1])) ||
		    i + wl >= len || !isspace((unsigned char)line[i + wl]))
			continue;
		j = i + wl;
		while (j < len && isspace((unsigned char)line[j]))
			j++;
		if (j < len && line[j] == '"')
			j++;
		if (j + tl <= len && strncmp(line + j, title, tl) == 0 &&
		    (j + tl == len || line[j + tl] == '"' || line[j + tl] == '{' ||
		     isspace((unsigned char)line[j + tl])))
			return true;
	}
	return false;
}

/*
 * The first line at or after @from whose text opens section @word @title;
 * @fallback when none does. Only for error messages and reports.
 */
static int locate_line(const char *text, int from, const char *word,
		       const char *title, int fallback)
{
	const char *p = text;
	int line = 1;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (line >= from && line_opens(p, len, word, title))
			return line;
		if (!nl)
			break;
		p = nl + 1;
		line++;
	}
	return fallback;
}

/*
 * Which top-level section, "account" or "target", titled @title opens last
 * at or before line @upto: libconfuse reports a duplicate title without
 * naming the section.
 */
static const char *duplicate_what(const char *text, int upto,
				  const char *title)
{
	const char *p = text, *what = "target";
	int line = 1;

	while (*p && line <= upto) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (line_opens(p, len, "account", title))
			what = "account";
		else if (line_opens(p, len, "target", title))
			what = "target";
		if (!nl)
			break;
		p = nl + 1;
		line++;
	}
	return what;
}

/*
 * The line of the first "KEY =" or "KEY +=" at or after line @from, outside
 * quoted strings; libconfuse allows a newline on either side of the '='.
 * @fallback when there is none. Only for error messages and reports.
 */
static int locate_key(const char *text, int from, const char *key,
		      int fallback)
{
	size_t kl = strlen(key);
	char quote = 0;
	int line = 1;

	for (const char *p = text; *p; p++) {
		const char *q;

		if (*p == '\n')
			line++;
		if (quote) {
			if (*p == '\\' && p[1]) {
				p++;	/* an escape, or a continued line */
				line += *p == '\n';
			} else if (*p == '\n' || *p == quote) {
				quote = 0;
			}
			continue;
		}
		if (*p == '"' || *p == '\'')
			quote = *p;
		if (line < from || strncmp(p, key, kl) != 0 ||
		    (p > text && !strchr(" \t\n{}", p[-1])))
			continue;
		q = p + kl;
		while (isspace((unsigned char)*q))
			q++;
		if (*q == '+')
			q++;
		while (isspace((unsigned char)*q))
			q++;
		if (*q == '=')
			return line;
	}
	return fallback;
}

/* --- the lexical pre-pass ---------------------------------------------- */

/*
 * libconfuse 3.3's lexer has two flaws a careless or hostile file runs
 * into: at the end of the file inside a C comment or a quoted string it
 * stops without an error when the parser needs nothing more (the rest of
 * the file is silently dropped), and after each comment its line counter
 * runs one or two lines ahead. lex_prepare() walks the text with the same
 * lexical rules (libconfuse's src/lexer.l: comments, quoted strings and
 * their escapes, ${VAR}, unquoted words, inside which '/' starts no
 * comment), finds the first unterminated construct, and returns a copy
 * with every comment blanked out (newlines kept), so libconfuse sees no
 * comment and counts lines right. No value here can hold a newline, so a
 * quoted string must end on the line it starts (a '\' before the newline
 * continues it, as in libconfuse).
 */
struct lex_error {
	int line;		/* 0: none */
	size_t at;		/* offset where the construct starts */
	const char *msg;
};

/* Characters that end an unquoted word (lexer.l's unquoted-string rule). */
#define LEX_WORD_STOP " #\"'\t\n\r={}()+,*"

static void lex_fail(struct lex_error *e, int line, size_t at,
		     const char *msg)
{
	e->line = line;
	e->at = at;
	e->msg = msg;
}

/* Blanks @out[from, to) except newlines; returns the newlines seen. */
static int lex_blank(char *out, size_t from, size_t to)
{
	int lines = 0;

	for (size_t i = from; i < to; i++) {
		if (out[i] == '\n')
			lines++;
		else
			out[i] = ' ';
	}
	return lines;
}

/*
 * The quoted string opening at @text[i]: returns the index after its
 * closing quote, or 0 with @e set when it is not closed on its line.
 */
static size_t lex_string(const char *text, size_t i, int *line,
			 struct lex_error *e)
{
	char q = text[i];
	int open = *line;

	for (size_t j = i + 1; text[j]; j++) {
		if (text[j] == q)
			return j + 1;
		if (text[j] == '\n')
			break;
		if (text[j] == '\\' && text[j + 1]) {
			if (text[j + 1] == '\n')
				(*line)++;	/* a continued line */
			j++;
		} else if (q == '"' && text[j] == '$' && text[j + 1] == '{') {
			/* lexer.l: "${...}" runs to the next '}', quotes and all */
			const char *close = strchr(text + j + 2, '}');

			if (close) {
				if (memchr(text + j, '\n', (size_t)(close - (text + j))))
					break;
				j = (size_t)(close - text);
			}
		}
	}
	lex_fail(e, open, i, q == '"' ?
		 "string is never closed (missing '\"' on the line it starts)" :
		 "string is never closed (missing \"'\" on the line it starts)");
	return 0;
}

/*
 * Returns a copy of @text with its comments blanked, or NULL when out of
 * memory. @e gets the first unterminated comment, string or ${VAR}, or
 * else the innermost '{' never closed; e->line is 0 when there is none.
 */
static char *lex_prepare(const char *text, struct lex_error *e)
{
	size_t len = strlen(text), i = 0;
	struct { int line; size_t at; } stack[64];
	int depth = 0, line = 1;
	bool in_word = false;
	char *out = malloc(len + 1);

	lex_fail(e, 0, 0, NULL);
	if (!out)
		return NULL;
	memcpy(out, text, len + 1);
	while (i < len && !e->line) {
		char ch = text[i];
		const char *close;

		if (in_word && !strchr(LEX_WORD_STOP, ch)) {
			i++;
			continue;
		}
		in_word = false;
		if (ch == '#' || (ch == '/' && text[i + 1] == '/')) {
			close = strchr(text + i, '\n');
			lex_blank(out, i, close ? (size_t)(close - text) : len);
			i = close ? (size_t)(close - text) : len;
		} else if (ch == '/' && text[i + 1] == '*') {
			close = strstr(text + i + 2, "*/");
			if (!close) {
				lex_fail(e, line, i, "'/*' comment is never closed (missing '*/')");
				break;
			}
			line += lex_blank(out, i, (size_t)(close - text) + 2);
			i = (size_t)(close - text) + 2;
		} else if (ch == '"' || ch == '\'') {
			i = lex_string(text, i, &line, e);
		} else if (ch == '$' && text[i + 1] == '{' &&
			   (close = strchr(text + i + 2, '}'))) {
			if (memchr(text + i, '\n', (size_t)(close - (text + i)))) {
				lex_fail(e, line, i, "'${' is never closed (missing '}' on the line it starts)");
				break;
			}
			i = (size_t)(close - text) + 1;
		} else {
			if (ch == '\n') {
				line++;
			} else if (ch == '{') {
				if (depth < (int)ARRAY_SIZE(stack)) {
					stack[depth].line = line;
					stack[depth].at = i;
				}
				depth++;
			} else if (ch == '}') {
				depth -= depth > 0;	/* an extra one: libconfuse says so */
			} else if (!strchr(LEX_WORD_STOP, ch)) {
				in_word = true;
			}
			i++;
		}
	}
	if (!e->line && depth > 0) {
		depth = MIN(depth, (int)ARRAY_SIZE(stack)) - 1;
		lex_fail(e, stack[depth].line, stack[depth].at,
			 "'{' is never closed (missing '}')");
	}
	return out;
}

/* --- value validation (libconfuse callbacks, run as values are read) ---- */

static int v_portal(cfg_t *cfg, cfg_opt_t *opt)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (config_portal_parse(s, &ss, &len)) {
			cfg_error(cfg, "bad portal '%s' (use ADDR:PORT or [ADDR6]:PORT, e.g. \"0.0.0.0:3260\")",
				  s);
			return -1;
		}
	}
	return 0;
}

static int v_alua_state(cfg_t *cfg, cfg_opt_t *opt)
{
	enum scsi_alua_state st;
	const char *s = cfg_opt_getnstr(opt, 0);

	if (scsi_alua_state_parse(s, &st)) {
		cfg_error(cfg, "bad alua_state '%s' (use active/optimized, "
			  "active/non-optimized, standby or unavailable)", s);
		return -1;
	}
	return 0;
}

static int v_seconds(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 0 || v > 3600) {
		cfg_error(cfg, "%s = %ld out of range 0..3600 seconds",
			  opt->name, v);
		return -1;
	}
	return 0;
}

/* Connection and session limits (docs/robustness.md, "Limits"). */
static int v_limit(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 1 || v > CONFIG_LIMIT_MAX) {
		cfg_error(cfg, "%s = %ld out of range 1..%d", opt->name, v,
			  CONFIG_LIMIT_MAX);
		return -1;
	}
	return 0;
}

static int v_reactors(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 0 || v > 1024) {
		cfg_error(cfg, "reactors = %ld out of range 0..1024 (0 = one per CPU)",
			  v);
		return -1;
	}
	return 0;
}

static int v_event_loop(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (strcmp(s, "auto") && strcmp(s, "io_uring") && strcmp(s, "epoll")) {
		cfg_error(cfg, "event_loop = \"%s\": use \"auto\", \"io_uring\" or \"epoll\"",
			  s);
		return -1;
	}
	return 0;
}

static int v_tid(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 0 || v > 65535) {
		cfg_error(cfg, "tid = %ld out of range 1..65535", v);
		return -1;
	}
	return 0;
}

static int v_acl(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[256];

	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		if (core_acl_check(cfg_opt_getnstr(opt, i), why, sizeof(why))) {
			cfg_error(cfg, "%s", why);
			return -1;
		}
	}
	return 0;
}

static int v_size(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	uint64_t v;

	if (ringtgt_parse_size(s, &v)) {
		cfg_error(cfg, "bad size '%s' (bytes, or a number with K, M, G or T, e.g. \"10G\")",
			  s);
		return -1;
	}
	return 0;
}

/* A buffer budget: 1 MiB .. 1 TiB. */
/*
 * target|iscsi_params: "Key=Value" each. The key and the value are the
 * iSCSI layer's to check, when the config is applied (config_apply()).
 */
static int v_iscsi_param(cfg_t *cfg, cfg_opt_t *opt)
{
	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		const char *eq = strchr(s, '=');

		if (!eq || eq == s || !eq[1]) {
			cfg_error(cfg, "iscsi_params: \"%s\" is not Key=Value", s);
			return -1;
		}
		if ((size_t)(eq - s) >= CORE_PARAM_NAME_MAX ||
		    strlen(eq + 1) >= CORE_PARAM_VALUE_MAX) {
			cfg_error(cfg, "iscsi_params: \"%.60s\" is too long", s);
			return -1;
		}
	}
	return 0;
}

static int v_buffer(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	uint64_t v;

	if (ringtgt_parse_size(s, &v) || v < (1ull << 20) || v > (1ull << 40)) {
		cfg_error(cfg, "%s = \"%s\": a size from 1M to 1T", opt->name,
			  s);
		return -1;
	}
	return 0;
}

static int v_backing(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (strcmp(s, "file") && strcmp(s, "ram")) {
		cfg_error(cfg, "backing = \"%s\": use \"file\" or \"ram\"", s);
		return -1;
	}
	return 0;
}

static int v_block_size(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v != 512 && v != 4096) {
		cfg_error(cfg, "block_size = %ld: use 512 or 4096", v);
		return -1;
	}
	return 0;
}

static int v_path(cfg_t *cfg, cfg_opt_t *opt)
{
	if (!*cfg_opt_getnstr(opt, 0)) {
		cfg_error(cfg, "path is empty");
		return -1;
	}
	return 0;
}

static int v_serial(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	size_t n = strlen(s);

	/* SPC-4 §7.8.16: the unit serial number is printable ASCII. */
	if (n == 0 || n > CORE_SERIAL_MAX) {
		cfg_error(cfg, "serial must be 1..%d characters", CORE_SERIAL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			cfg_error(cfg, "serial '%s' has a character that is not printable ASCII",
				  s);
			return -1;
		}
	}
	return 0;
}

/*
 * tgt's LU parameters as strings (scsi_id, vendor_id, ...), and the ones
 * tgt has that ringtgt does not implement (mode_page, ...): checked by
 * the same parser as the control protocol, whose sentence names them.
 */
static int v_lu_param(cfg_t *cfg, cfg_opt_t *opt)
{
	struct scsi_lu_params p = { 0 };
	char why[200];

	for (unsigned i = 0; i < cfg_opt_size(opt); i++)
		if (scsi_lu_param_parse(&p, opt->name, cfg_opt_getnstr(opt, i),
					why, sizeof(why))) {
			cfg_error(cfg, "%s", why);
			return -1;
		}
	return 0;
}

/* An absolute directory name (docs/clusters.md, "APTPL storage"). */
static int v_state_dir(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s[0] != '/' || strlen(s) > CONFIG_STATE_DIR_MAX) {
		cfg_error(cfg, "state_dir = \"%s\": expected an absolute directory name of at most %d characters",
			  s, CONFIG_STATE_DIR_MAX);
		return -1;
	}
	return 0;
}

/*
 * A group name as useradd/groupadd take it: letters, digits, '.', '_',
 * '-', not starting with '-'. Whether the group exists is checked when
 * the control socket is bound (ctl_server_start_group).
 */
static int v_group(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	size_t n = strlen(s);
	bool ok = n >= 1 && n <= CONFIG_GROUP_MAX && s[0] != '-';

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)s[i]) || strchr("._-", s[i]);
	if (!ok) {
		cfg_error(cfg, "control_group = \"%s\": expected a group name (1..%d letters, digits, '.', '_' or '-')",
			  s, CONFIG_GROUP_MAX);
		return -1;
	}
	return 0;
}

/*
 * An account name (core.h): 1..CORE_ACCOUNT_NAME_MAX printable ASCII
 * bytes, no spaces or commas (it is CHAP_N, RFC 7143 §12.1.3, and a comma
 * would split a list). Returns 0 or -EINVAL with a sentence in @why.
 */
static int account_name_check(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s), i = 0;

	while (i < n && s[i] > 0x20 && s[i] < 0x7f && s[i] != ',')
		i++;
	if (n == 0 || n > CORE_ACCOUNT_NAME_MAX || i < n) {
		snprintf(why, whylen,
			 "bad account name '%s': use 1..%d printable ASCII characters, no spaces or commas",
			 s, CORE_ACCOUNT_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* target|incoming, discovery_incoming: a list of account names. */
static int v_accounts(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[512];

	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		if (account_name_check(cfg_opt_getnstr(opt, i), why,
				       sizeof(why))) {
			cfg_error(cfg, "%s", why);
			return -1;
		}
	}
	return 0;
}

/* target|outgoing, discovery_outgoing: one account name. */
static int v_outgoing(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_size(opt) > 1) {
		cfg_error(cfg, "%s lists %u accounts; there is at most one outgoing account",
			  opt->name, cfg_opt_size(opt));
		return -1;
	}
	return v_accounts(cfg, opt);
}

/* 1..CORE_SECRET_MAX bytes, no control character; never quoted. */
static int v_secret(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	size_t n = strlen(s), i = 0;

	while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
		i++;
	if (n == 0 || n > CORE_SECRET_MAX || i < n) {
		if (n > CORE_SECRET_MAX)
			cfg_error(cfg, "account %s: the secret is longer than %d bytes",
				  cfg->title, CORE_SECRET_MAX);
		else
			cfg_error(cfg, "account %s: the secret %s", cfg->title,
				  n ? "contains a control character" : "is empty");
		return -1;
	}
	return 0;
}

static int v_chap_algs(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	unsigned bits;
	char why[256];

	if (core_chap_algs_parse(s, &bits, why, sizeof(why))) {
		cfg_error(cfg, "chap_algorithms = \"%s\": %s", s, why);
		return -1;
	}
	return 0;
}

static const char *const disc_auth_names[] = {
	[CORE_DISC_AUTH_NONE] = "none",
	[CORE_DISC_AUTH_CHAP] = "chap",
	[CORE_DISC_AUTH_MUTUAL] = "mutual",
};

static int disc_auth_parse(const char *s, enum core_disc_auth *mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(disc_auth_names); i++) {
		if (strcmp(s, disc_auth_names[i]) == 0) {
			*mode = (enum core_disc_auth)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int v_discovery_auth(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	enum core_disc_auth mode;

	if (disc_auth_parse(s, &mode)) {
		cfg_error(cfg, "discovery_auth = \"%s\": use \"none\", \"chap\" or \"mutual\"",
			  s);
		return -1;
	}
	return 0;
}

/* --- the schema ------------------------------------------------------------ */

static cfg_t *schema_new(void)
{
	static cfg_opt_t lun_opts[] = {
		CFG_STR("path", NULL, CFGF_NONE),
		CFG_STR("size", NULL, CFGF_NONE),
		CFG_STR("backing", "file", CFGF_NONE),
		CFG_BOOL("create", cfg_false, CFGF_NONE),
		CFG_BOOL("readonly", cfg_false, CFGF_NONE),
		CFG_BOOL("direct", cfg_false, CFGF_NONE),
		CFG_BOOL("buffered", cfg_false, CFGF_NONE),
		CFG_BOOL("shared", cfg_false, CFGF_NONE),
		/* 0: the block device's logical block size, 512 for files */
		CFG_INT("block_size", 0, CFGF_NONE),
		CFG_STR("serial", NULL, CFGF_NONE),
		CFG_BOOL("tas", cfg_true, CFGF_NONE),
		/* false: every write durable before GOOD (WCE=0) */
		CFG_BOOL("write_cache", cfg_true, CFGF_NONE),
		/* tgt's LU parameters (docs/config.md, "LU parameters") */
		CFG_STR("scsi_id", NULL, CFGF_NODEFAULT),
		CFG_STR("scsi_sn", NULL, CFGF_NODEFAULT),
		CFG_STR("vendor_id", NULL, CFGF_NODEFAULT),
		CFG_STR("product_id", NULL, CFGF_NODEFAULT),
		CFG_STR("product_rev", NULL, CFGF_NODEFAULT),
		CFG_BOOL("removable", cfg_false, CFGF_NODEFAULT),
		CFG_INT("sense_format", 0, CFGF_NODEFAULT),
		CFG_BOOL("online", cfg_true, CFGF_NODEFAULT),
		CFG_BOOL("thin_provisioning", cfg_false, CFGF_NODEFAULT),
		CFG_INT("lbppbe", 0, CFGF_NODEFAULT),
		CFG_INT("la_lba", 0, CFGF_NODEFAULT),
		CFG_INT("optimal_xfer_gran", 0, CFGF_NODEFAULT),
		CFG_INT("optimal_xfer_len", 0, CFGF_NODEFAULT),
		/* one string a page: mode_page = {"8:0:18:...", ...} */
		CFG_STR_LIST("mode_page", NULL, CFGF_NODEFAULT),
		/* tgt's, not implemented: refused by name */
		CFG_STR("rotation_rate", NULL, CFGF_NODEFAULT),
		CFG_END()
	};
	static cfg_opt_t target_opts[] = {
		CFG_INT("tid", 0, CFGF_NONE),
		CFG_BOOL("controller", cfg_true, CFGF_NONE),
		CFG_SEC("lun", lun_opts, CFGF_MULTI | CFGF_TITLE |
					 CFGF_NO_TITLE_DUPES),
		CFG_STR_LIST("acl", NULL, CFGF_NONE),
		CFG_STR_LIST("incoming", NULL, CFGF_NONE),
		CFG_STR_LIST("outgoing", NULL, CFGF_NONE),
		CFG_STR("chap_algorithms", NULL, CFGF_NONE),
		/* "Key=Value": the target's own iSCSI parameters */
		CFG_STR_LIST("iscsi_params", NULL, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t account_opts[] = {
		CFG_STR("secret", NULL, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t portal_group_opts[] = {
		CFG_STR_LIST("portal", NULL, CFGF_NONE),
		CFG_STR("alua_state", "active/optimized", CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t opts[] = {
		/* none: the daemon's default, [::]:3260 (main.c) */
		CFG_STR_LIST("portal", NULL, CFGF_NONE),
		CFG_SEC("portal_group", portal_group_opts, CFGF_MULTI |
				CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_INT("nop_interval", 10, CFGF_NONE),
		CFG_INT("nop_timeout", 10, CFGF_NONE),
		CFG_INT("login_timeout", 15, CFGF_NONE),
		CFG_INT("tmf_timeout", 30, CFGF_NONE),
		CFG_INT("tx_stall_timeout", 30, CFGF_NONE),
		CFG_INT("max_connections", 4096, CFGF_NONE),
		CFG_INT("max_connections_per_source", 2048, CFGF_NONE),
		CFG_INT("max_connections_per_target", 2048, CFGF_NONE),
		CFG_INT("max_sessions_per_target", 1024, CFGF_NONE),
		CFG_STR("buffer_per_connection", NULL, CFGF_NONE),
		CFG_STR("buffer_total", NULL, CFGF_NONE),
		CFG_INT("reactors", 0, CFGF_NONE),
		CFG_STR("event_loop", "auto", CFGF_NONE),
		CFG_STR("control_group", NULL, CFGF_NONE),
		CFG_STR("state_dir", NULL, CFGF_NONE),
		CFG_SEC("account", account_opts, CFGF_MULTI | CFGF_TITLE |
						 CFGF_NO_TITLE_DUPES),
		CFG_STR("discovery_auth", "none", CFGF_NONE),
		CFG_STR_LIST("discovery_incoming", NULL, CFGF_NONE),
		CFG_STR_LIST("discovery_outgoing", NULL, CFGF_NONE),
		CFG_SEC("target", target_opts, CFGF_MULTI | CFGF_TITLE |
					       CFGF_NO_TITLE_DUPES),
		CFG_END()
	};
	static const struct {
		const char *name;
		cfg_validate_callback_t fn;
	} validators[] = {
		{ "portal", v_portal },
		{ "portal_group|portal", v_portal },
		{ "portal_group|alua_state", v_alua_state },
		{ "nop_interval", v_seconds },
		{ "nop_timeout", v_seconds },
		{ "login_timeout", v_seconds },
		{ "tmf_timeout", v_seconds },
		{ "tx_stall_timeout", v_seconds },
		{ "max_connections", v_limit },
		{ "max_connections_per_source", v_limit },
		{ "max_connections_per_target", v_limit },
		{ "max_sessions_per_target", v_limit },
		{ "buffer_per_connection", v_buffer },
		{ "buffer_total", v_buffer },
		{ "reactors", v_reactors },
		{ "event_loop", v_event_loop },
		{ "control_group", v_group },
		{ "state_dir", v_state_dir },
		{ "account|secret", v_secret },
		{ "discovery_auth", v_discovery_auth },
		{ "discovery_incoming", v_accounts },
		{ "discovery_outgoing", v_outgoing },
		{ "target|tid", v_tid },
		{ "target|acl", v_acl },
		{ "target|incoming", v_accounts },
		{ "target|outgoing", v_outgoing },
		{ "target|chap_algorithms", v_chap_algs },
		{ "target|iscsi_params", v_iscsi_param },
		{ "target|lun|size", v_size },
		{ "target|lun|backing", v_backing },
		{ "target|lun|block_size", v_block_size },
		{ "target|lun|path", v_path },
		{ "target|lun|serial", v_serial },
		{ "target|lun|scsi_id", v_lu_param },
		{ "target|lun|scsi_sn", v_lu_param },
		{ "target|lun|vendor_id", v_lu_param },
		{ "target|lun|product_id", v_lu_param },
		{ "target|lun|product_rev", v_lu_param },
		{ "target|lun|mode_page", v_lu_param },
		{ "target|lun|rotation_rate", v_lu_param },
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (!cfg)
		return NULL;
	cfg_set_error_function(cfg, on_cfg_error);
	for (size_t i = 0; i < ARRAY_SIZE(validators); i++)
		cfg_set_validate_func(cfg, validators[i].name, validators[i].fn);
	return cfg;
}

/* --- building the struct ------------------------------------------------ */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A LUN title: decimal 0..255. */
static int lun_number(const char *title, uint64_t *out)
{
	char *end;
	unsigned long v;

	if (!title || !isdigit((unsigned char)*title))
		return -EINVAL;
	errno = 0;
	v = strtoul(title, &end, 10);
	if (errno || *end || v >= SCSI_MAX_LUNS)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * tgt's LU parameters of a "lun N { }" section into l->params: the
 * strings were validated by v_lu_param; flags and numbers are checked
 * here, by the parser the control protocol uses.
 */
static int build_lun_params(struct parse_ctx *c, struct config_target *t,
			    cfg_t *sec, int line, struct config_lun *l)
{
	static const char *const strs[] = {
		"scsi_id", "scsi_sn", "vendor_id", "product_id", "product_rev",
	};
	static const char *const flags[] = {
		"removable", "online", "thin_provisioning",
	};
	static const char *const nums[] = {
		"sense_format", "lbppbe", "la_lba", "optimal_xfer_gran",
		"optimal_xfer_len",
	};
	char why[200], num[24];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(strs); i++)
		if (cfg_size(sec, strs[i]))
			rc = scsi_lu_param_parse(&l->params, strs[i],
						 cfg_getstr(sec, strs[i]), why,
						 sizeof(why));
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(flags); i++)
		if (cfg_size(sec, flags[i]))
			rc = scsi_lu_param_parse(&l->params, flags[i],
						 cfg_getbool(sec, flags[i])
						 ? "1" : "0", why, sizeof(why));
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(nums); i++)
		if (cfg_size(sec, nums[i])) {
			snprintf(num, sizeof(num), "%ld", cfg_getint(sec, nums[i]));
			rc = scsi_lu_param_parse(&l->params, nums[i], num, why,
						 sizeof(why));
		}
	for (unsigned i = 0; rc == 0 && i < cfg_size(sec, "mode_page"); i++)
		rc = scsi_lu_param_parse(&l->params, "mode_page",
					 cfg_getnstr(sec, "mode_page", i), why,
					 sizeof(why));
	if (rc)
		return ctx_fail(c, line, "target %s: LUN %llu: %s", t->iqn,
				(unsigned long long)l->lun, why);
	if (l->spec.serial && (l->params.set & (1u << SCSI_LU_P_SCSI_SN)))
		return ctx_fail(c, line,
				"target %s: LUN %llu: give serial or scsi_sn, not both",
				t->iqn, (unsigned long long)l->lun);
	return 0;
}

static int build_lun(struct parse_ctx *c, struct config_target *t,
		     cfg_t *sec, int tline, struct config_lun *l)
{
	int rc;
	const char *title = cfg_title(sec);
	const char *backing = cfg_getstr(sec, "backing");
	const char *size = cfg_getstr(sec, "size");
	int line = locate_line(c->text, tline, "lun", title, sec->line);
	uint64_t bsz = (uint64_t)cfg_getint(sec, "block_size");

	l->line = line;
	if (lun_number(title, &l->lun))
		return ctx_fail(c, line, "target %s: LUN '%s' out of range 0..%d",
				t->iqn, title, SCSI_MAX_LUNS - 1);
	for (size_t i = 0; i < t->nluns; i++)
		if (t->luns[i].lun == l->lun)
			return ctx_fail(c, line, "target %s: duplicate LUN %llu",
					t->iqn, (unsigned long long)l->lun);
	if (l->lun == 0 && t->controller)
		return ctx_fail(c, line,
				"target %s: LUN 0 is the controller; set controller = false to put a disk at LUN 0",
				t->iqn);
	l->spec.type = SCSI_LU_DISK;
	l->spec.backing = xstrdup(backing);
	l->spec.path = xstrdup(cfg_getstr(sec, "path"));
	l->spec.serial = xstrdup(cfg_getstr(sec, "serial"));
	l->spec.create = cfg_getbool(sec, "create");
	l->spec.readonly = cfg_getbool(sec, "readonly");
	l->spec.direct = cfg_getbool(sec, "direct");
	l->spec.buffered = cfg_getbool(sec, "buffered");
	l->spec.shared = cfg_getbool(sec, "shared");
	l->spec.no_tas = !cfg_getbool(sec, "tas");
	l->spec.no_write_cache = !cfg_getbool(sec, "write_cache");
	l->spec.block_size = (uint32_t)bsz;
	rc = build_lun_params(c, t, sec, line, l);
	if (rc)
		return rc;
	if (size)
		ringtgt_parse_size(size, &l->spec.size); /* validated */
	if (strcmp(backing, "ram") == 0) {
		if (!l->spec.size)
			return ctx_fail(c, line,
					"target %s: LUN %llu: a ram LUN needs a size",
					t->iqn, (unsigned long long)l->lun);
	} else if (!l->spec.path) {
		return ctx_fail(c, line, "target %s: LUN %llu: missing path",
				t->iqn, (unsigned long long)l->lun);
	} else if (l->spec.create && !l->spec.size) {
		return ctx_fail(c, line,
				"target %s: LUN %llu: create = true needs a size",
				t->iqn, (unsigned long long)l->lun);
	}
	if (l->spec.direct && l->spec.buffered)
		return ctx_fail(c, line,
				"target %s: LUN %llu: direct and buffered exclude each other",
				t->iqn, (unsigned long long)l->lun);
	if (!bsz)	/* checked against the device when it is opened */
		bsz = 512;
	if (l->spec.size % bsz)
		return ctx_fail(c, line,
				"target %s: LUN %llu: size %s is not a multiple of the block size %llu",
				t->iqn, (unsigned long long)l->lun, size,
				(unsigned long long)bsz);
	return 0;
}

static int build_account(struct parse_ctx *c, cfg_t *sec,
			 struct config_account *a)
{
	const char *name = cfg_title(sec);
	const char *secret = cfg_getstr(sec, "secret");
	char why[512];

	a->line = locate_line(c->text, 1, "account", name, sec->line);
	if (account_name_check(name, why, sizeof(why)))
		return ctx_fail(c, a->line, "%s", why);
	if (!secret)
		return ctx_fail(c, a->line,
				"account %s has no secret (secret = \"...\")",
				name);
	a->name = strdup(name);
	a->secret = strdup(secret);
	if (!a->name || !a->secret)
		return ctx_fail(c, 0, "out of memory");
	return 0;
}

static const struct config_account *
find_account(const struct ringtgt_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->naccounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/*
 * Copies the account names of list @key of @sec into @names / @n, each
 * defined by an account section and listed once. @what names the owner
 * ("target IQN", "discovery") in messages; @from is the line to search
 * @key from.
 */
static int build_names(struct parse_ctx *c, const struct ringtgt_config *out,
		       cfg_t *sec, const char *key, const char *what,
		       int from, char ***names, size_t *n)
{
	unsigned count = cfg_size(sec, key);
	const char *dir = strstr(key, "incoming") ? "incoming" : "outgoing";

	*names = calloc(count ? count : 1, sizeof(**names));
	if (!*names)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < count; i++) {
		const char *name = cfg_getnstr(sec, key, i);

		/* the key's line is looked for only on error: it is a scan */
		if (!find_account(out, name))
			return ctx_fail(c, locate_key(c->text, from, key, sec->line),
					"%s: %s account '%s' is not defined (no account %s { ... } section)",
					what, dir, name, name);
		for (size_t j = 0; j < *n; j++)
			if (strcmp((*names)[j], name) == 0)
				return ctx_fail(c, locate_key(c->text, from, key,
							      sec->line),
						"%s: account '%s' is listed twice in %s",
						what, name, key);
		if (!((*names)[(*n)++] = strdup(name)))
			return ctx_fail(c, 0, "out of memory");
	}
	return 0;
}

/* target|outgoing or discovery_outgoing (validated: at most one). */
static int build_outgoing(struct parse_ctx *c, const struct ringtgt_config *out,
			  cfg_t *sec, const char *key, const char *what,
			  int from, char **name)
{
	char **names = NULL;
	size_t n = 0;
	int rc = build_names(c, out, sec, key, what, from, &names, &n);

	*name = n ? names[0] : NULL;
	for (size_t i = 1; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int build_target_auth(struct parse_ctx *c, struct ringtgt_config *out,
			     cfg_t *sec, struct config_target *t)
{
	const char *algs = cfg_getstr(sec, "chap_algorithms");
	char what[300], why[256];
	int rc;

	snprintf(what, sizeof(what), "target %s", t->iqn);
	rc = build_names(c, out, sec, "incoming", what, t->line, &t->incoming,
			 &t->nincoming);
	if (!rc)
		rc = build_outgoing(c, out, sec, "outgoing", what, t->line,
				    &t->outgoing);
	if (rc)
		return rc;
	/*
	 * Mutual CHAP: the target answers the initiator's challenge after it
	 * authenticated the initiator (RFC 7143 §12.1.3); with no incoming
	 * account nothing authenticates the initiator.
	 */
	if (t->outgoing && !t->nincoming)
		return ctx_fail(c, locate_key(c->text, t->line, "outgoing", t->line),
				"target %s: outgoing account '%s' without incoming accounts (mutual CHAP needs incoming = {...})",
				t->iqn, t->outgoing);
	t->chap_algs = CORE_CHAP_ALL;
	if (algs && core_chap_algs_parse(algs, &t->chap_algs, why, sizeof(why)))
		return ctx_fail(c, t->line, "chap_algorithms: %s", why);
	return 0;
}

static int build_target(struct parse_ctx *c, struct ringtgt_config *out,
			cfg_t *sec, struct config_target *t)
{
	const char *iqn = cfg_title(sec);
	char why[256];
	unsigned n;
	int rc;

	t->line = locate_line(c->text, 1, "target", iqn, sec->line);
	if (core_name_check(iqn, why, sizeof(why)))
		return ctx_fail(c, t->line, "bad target name: %s", why);
	for (size_t i = 0; i < out->ntargets; i++)
		if (strcasecmp(out->targets[i].iqn, iqn) == 0)
			return ctx_fail(c, t->line, "duplicate target '%s'", iqn);
	t->iqn = strdup(iqn);
	t->tid = (int)cfg_getint(sec, "tid");
	t->controller = cfg_getbool(sec, "controller");
	for (size_t i = 0; t->tid && i < out->ntargets; i++)
		if (out->targets[i].tid == t->tid)
			return ctx_fail(c, t->line, "tid %d is also used by %s",
					t->tid, out->targets[i].iqn);

	n = cfg_size(sec, "lun");
	t->luns = calloc(n ? n : 1, sizeof(*t->luns));
	if (!t->iqn || !t->luns)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		rc = build_lun(c, t, cfg_getnsec(sec, "lun", i), t->line,
			       &t->luns[t->nluns]);
		t->nluns++;	/* so config_free() sees it even on error */
		if (rc)
			return rc;
	}
	n = cfg_size(sec, "acl");
	t->acls = calloc(n ? n : 1, sizeof(*t->acls));
	if (!t->acls)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++)
		if (!(t->acls[t->nacls++] = strdup(cfg_getnstr(sec, "acl", i))))
			return ctx_fail(c, 0, "out of memory");
	n = cfg_size(sec, "iscsi_params");
	t->params = calloc(n ? n : 1, sizeof(*t->params));
	if (!t->params)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++)
		if (!(t->params[t->nparams++] =
		      strdup(cfg_getnstr(sec, "iscsi_params", i))))
			return ctx_fail(c, 0, "out of memory");
	return build_target_auth(c, out, sec, t);
}

static int build_discovery(struct parse_ctx *c, struct ringtgt_config *out,
			   cfg_t *root)
{
	int line;
	int rc;

	disc_auth_parse(cfg_getstr(root, "discovery_auth"),
			&out->discovery_auth);	/* validated */
	if (out->discovery_auth != CORE_DISC_AUTH_NONE)
		out->discovery_line = locate_key(c->text, 1, "discovery_auth",
						 root->line);
	rc = build_names(c, out, root, "discovery_incoming", "discovery", 1,
			 &out->discovery_incoming, &out->ndiscovery_incoming);
	if (!rc)
		rc = build_outgoing(c, out, root, "discovery_outgoing",
				    "discovery", 1, &out->discovery_outgoing);
	if (rc)
		return rc;
	if (out->discovery_auth == CORE_DISC_AUTH_NONE &&
	    (out->ndiscovery_incoming || out->discovery_outgoing)) {
		const char *key = out->ndiscovery_incoming ?
					  "discovery_incoming" : "discovery_outgoing";

		line = locate_key(c->text, 1, key, root->line);
		return ctx_fail(c, line,
				"%s is set but discovery_auth is none; set discovery_auth = chap (or mutual)",
				key);
	}
	if (out->discovery_auth != CORE_DISC_AUTH_NONE &&
	    !out->ndiscovery_incoming)
		return ctx_fail(c, out->discovery_line,
				"discovery_auth = %s needs discovery_incoming = {\"NAME\", ...}",
				disc_auth_names[out->discovery_auth]);
	if (out->discovery_auth == CORE_DISC_AUTH_MUTUAL &&
	    !out->discovery_outgoing)
		return ctx_fail(c, out->discovery_line,
				"discovery_auth = mutual needs discovery_outgoing = \"NAME\"");
	return 0;
}

static bool bound_incoming(const struct ringtgt_config *cfg,
			   const char *name)
{
	for (size_t i = 0; i < cfg->ndiscovery_incoming; i++)
		if (strcmp(cfg->discovery_incoming[i], name) == 0)
			return true;
	for (size_t i = 0; i < cfg->ntargets; i++)
		for (size_t j = 0; j < cfg->targets[i].nincoming; j++)
			if (strcmp(cfg->targets[i].incoming[j], name) == 0)
				return true;
	return false;
}

/*
 * RFC 7143 §12.1.3: "Any CHAP secret used for initiator authentication
 * MUST NOT be configured for authentication of any target, and any CHAP
 * secret used for target authentication MUST NOT be configured for
 * authentication of any initiator." @name is bound as outgoing by @key
 * (searched from line @from; @fallback when not found): neither it nor an
 * account with the same secret may be incoming.
 */
static int check_directions(struct parse_ctx *c,
			    const struct ringtgt_config *cfg, const char *name,
			    const char *key, int from, int fallback)
{
	const struct config_account *out = find_account(cfg, name);

	if (bound_incoming(cfg, name))
		return ctx_fail(c, locate_key(c->text, from, key, fallback),
				"account '%s' is bound both as incoming and as outgoing; RFC 7143 §12.1.3: a secret that authenticates initiators must not authenticate targets",
				name);
	for (size_t i = 0; i < cfg->naccounts; i++) {
		const struct config_account *a = &cfg->accounts[i];

		if (a != out && bound_incoming(cfg, a->name) &&
		    strcmp(a->secret, out->secret) == 0)
			return ctx_fail(c, locate_key(c->text, from, key, fallback),
					"accounts '%s' (incoming) and '%s' (outgoing) have the same secret; RFC 7143 §12.1.3: a secret that authenticates initiators must not authenticate targets",
					a->name, name);
	}
	return 0;
}

static int build_auth_checks(struct parse_ctx *c,
			     const struct ringtgt_config *cfg)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];

		if (t->outgoing)
			rc = check_directions(c, cfg, t->outgoing, "outgoing",
					      t->line, t->line);
	}
	if (!rc && cfg->discovery_outgoing)
		rc = check_directions(c, cfg, cfg->discovery_outgoing,
				      "discovery_outgoing", 1,
				      cfg->discovery_line);
	return rc;
}

static int build_portal_group(struct parse_ctx *c, cfg_t *sec,
			      struct config_portal_group *g)
{
	const char *title = cfg_title(sec);
	unsigned n = cfg_size(sec, "portal");
	char *end;
	long tag = strtol(title, &end, 10);

	g->line = locate_line(c->text, 1, "portal_group", title, sec->line);
	if (*end || end == title || tag < 1 || tag > 65535)
		return ctx_fail(c, g->line, "bad portal group tag '%s' "
				"(1..65535)", title);
	g->tag = (uint16_t)tag;
	/* validated by v_alua_state */
	scsi_alua_state_parse(cfg_getstr(sec, "alua_state"), &g->state);
	g->portals = calloc(n ? n : 1, sizeof(*g->portals));
	if (!g->portals)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++)
		if (!(g->portals[g->nportals++] =
			      strdup(cfg_getnstr(sec, "portal", i))))
			return ctx_fail(c, 0, "out of memory");
	return 0;
}

static int build(struct parse_ctx *c, cfg_t *root, struct ringtgt_config *out)
{
	unsigned n = cfg_size(root, "portal");
	int rc;

	out->portals = calloc(n ? n : 1, sizeof(*out->portals));
	if (!out->portals)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++)
		if (!(out->portals[out->nportals++] =
			      strdup(cfg_getnstr(root, "portal", i))))
			return ctx_fail(c, 0, "out of memory");
	/* no key: the default portal; a key with no address: a mistake */
	if (n == 0 && (cfg_getopt(root, "portal")->flags & CFGF_MODIFIED))
		return ctx_fail(c, 0, "no portal to listen on (portal = {...} is empty)");
	n = cfg_size(root, "portal_group");
	out->groups = calloc(n ? n : 1, sizeof(*out->groups));
	if (!out->groups)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		rc = build_portal_group(c, cfg_getnsec(root, "portal_group", i),
					&out->groups[out->ngroups]);
		out->ngroups++;	/* so config_free() sees it even on error */
		if (rc)
			return rc;
	}
	out->nop_interval = (int)cfg_getint(root, "nop_interval");
	out->nop_timeout = (int)cfg_getint(root, "nop_timeout");
	out->login_timeout = (int)cfg_getint(root, "login_timeout");
	out->tmf_timeout = (int)cfg_getint(root, "tmf_timeout");
	out->tx_stall_timeout = (int)cfg_getint(root, "tx_stall_timeout");
	out->max_connections = (int)cfg_getint(root, "max_connections");
	out->max_conns_per_source =
		(int)cfg_getint(root, "max_connections_per_source");
	out->max_conns_per_target =
		(int)cfg_getint(root, "max_connections_per_target");
	out->max_sessions_per_target =
		(int)cfg_getint(root, "max_sessions_per_target");
	if (cfg_getstr(root, "buffer_per_connection"))	/* validated */
		ringtgt_parse_size(cfg_getstr(root, "buffer_per_connection"),
				   &out->buffer_per_connection);
	if (cfg_getstr(root, "buffer_total"))
		ringtgt_parse_size(cfg_getstr(root, "buffer_total"),
				   &out->buffer_total);
	out->reactors = (int)cfg_getint(root, "reactors");
	out->event_loop = strdup(cfg_getstr(root, "event_loop"));
	if (cfg_getstr(root, "control_group") &&
	    !(out->control_group = strdup(cfg_getstr(root, "control_group"))))
		return ctx_fail(c, 0, "out of memory");
	if (cfg_getstr(root, "state_dir") &&
	    !(out->state_dir = strdup(cfg_getstr(root, "state_dir"))))
		return ctx_fail(c, 0, "out of memory");

	/* accounts first: targets and discovery name them */
	n = cfg_size(root, "account");
	out->accounts = calloc(n ? n : 1, sizeof(*out->accounts));
	if (!out->event_loop || !out->accounts)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		rc = build_account(c, cfg_getnsec(root, "account", i),
				   &out->accounts[out->naccounts]);
		out->naccounts++;	/* so config_free() sees it even on error */
		if (rc)
			return rc;
	}
	n = cfg_size(root, "target");
	out->targets = calloc(n ? n : 1, sizeof(*out->targets));
	if (!out->targets)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		rc = build_target(c, out, cfg_getnsec(root, "target", i),
				  &out->targets[out->ntargets]);
		out->ntargets++;
		if (rc)
			return rc;
	}
	rc = build_discovery(c, out, root);
	return rc ? rc : build_auth_checks(c, out);
}

/* libconfuse frees its strings without clearing them. */
static void wipe_secrets(cfg_t *root)
{
	for (unsigned i = 0; i < cfg_size(root, "account"); i++) {
		char *secret = cfg_getstr(cfg_getnsec(root, "account", i),
					  "secret");

		if (secret)
			explicit_bzero(secret, strlen(secret));
	}
}

static int parse_text(const char *name, const char *text,
		      struct ringtgt_config *out, char *err, size_t errlen)
{
	struct parse_ctx c = { .name = name, .text = text, .err = err,
			       .errlen = errlen };
	struct lex_error lex;
	char dummy[8], *plain;
	cfg_t *root;
	int rc;

	if (!c.err || !c.errlen) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	c.err[0] = '\0';
	memset(out, 0, sizeof(*out));
	plain = lex_prepare(text, &lex);
	c.text = plain;		/* locate_line() must not find commented-out sections */
	root = plain ? schema_new() : NULL;
	if (!root) {
		free(plain);
		return ctx_fail(&c, 0, "out of memory");
	}
	/*
	 * libconfuse reads only what comes before an unterminated construct
	 * (at the end of the file inside a string its lexer even echoes to
	 * stdout). Report the first problem in the file: libconfuse's when it
	 * lies before the construct, else the construct.
	 */
	if (lex.line)
		plain[lex.at] = '\0';
	parse_cur = &c;
	rc = cfg_parse_buf(root, plain);
	parse_cur = NULL;
	if (lex.line && (!c.failed || c.line <= 0 || c.line >= lex.line)) {
		c.failed = false;
		rc = ctx_fail(&c, lex.line, "%s", lex.msg);
		goto out;
	}
	if (rc != CFG_SUCCESS) {
		/* unless already said; libconfuse's line is where it stopped */
		ctx_fail(&c, root->line, "cannot parse");
		rc = -EINVAL;
		goto out;
	}
	out->file = strdup(name);
	rc = build(&c, root, out);
	if (!rc && !out->file)
		rc = ctx_fail(&c, 0, "out of memory");
out:
	wipe_secrets(root);
	cfg_free(root);
	if (plain)
		explicit_bzero(plain, strlen(text));	/* secrets */
	free(plain);
	if (rc)
		config_free(out);
	return rc;
}

int config_parse_buf(const char *text, struct ringtgt_config *cfg, char *err,
		     size_t errlen)
{
	return parse_text("<config>", text, cfg, err, errlen);
}

/*
 * Issue 9: a file with CHAP secrets must not be readable by every user;
 * refused, with the fix, when it is; a warning when its group may read it.
 * @st comes from fstat() on the descriptor the text was read from.
 */
static int secrets_mode_check(const char *path, const struct stat *st,
			      char *err, size_t errlen)
{
	unsigned mode = (unsigned)st->st_mode & 07777;
	struct group gr, *g = NULL;
	char buf[1024], gid[16];

	if (st->st_mode & S_IROTH) {
		snprintf(err, errlen,
			 "%s holds CHAP secrets and every user may read it (mode %04o); run: chmod 600 %s",
			 path, mode, path);
		return -EACCES;
	}
	if (st->st_mode & S_IRGRP) {
		snprintf(gid, sizeof(gid), "%u", (unsigned)st->st_gid);
		getgrgid_r(st->st_gid, &gr, buf, sizeof(buf), &g);
		log_warn("%s holds CHAP secrets and group %s may read it (mode %04o); chmod 600 %s unless that is meant",
			 path, g ? g->gr_name : gid, mode, path);
	}
	return 0;
}

int config_load(const char *path, struct ringtgt_config *cfg, char *err,
		size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	memset(cfg, 0, sizeof(*cfg));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > CONFIG_MAX_SIZE) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes",
			 path, CONFIG_MAX_SIZE);
		close(fd);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size &&
	       (n = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read %s: %s", path,
				 strerror(-rc));
			free(text);
			close(fd);
			return rc;
		}
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		return -EINVAL;
	}
	rc = parse_text(path, text, cfg, err, errlen);
	explicit_bzero(text, len);	/* secrets */
	free(text);
	if (!rc && cfg->naccounts) {
		rc = secrets_mode_check(path, &st, err, errlen);
		if (rc)
			config_free(cfg);
	}
	return rc;
}

void config_free(struct ringtgt_config *cfg)
{
	for (size_t i = 0; i < cfg->nportals; i++)
		free(cfg->portals[i]);
	free(cfg->portals);
	for (size_t i = 0; i < cfg->ngroups; i++) {
		for (size_t j = 0; j < cfg->groups[i].nportals; j++)
			free(cfg->groups[i].portals[j]);
		free(cfg->groups[i].portals);
	}
	free(cfg->groups);
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct config_target *t = &cfg->targets[i];

		for (size_t j = 0; j < t->nluns; j++) {
			free((char *)t->luns[j].spec.backing);
			free((char *)t->luns[j].spec.path);
			free((char *)t->luns[j].spec.serial);
		}
		free(t->luns);
		for (size_t j = 0; j < t->nacls; j++)
			free(t->acls[j]);
		free(t->acls);
		for (size_t j = 0; j < t->nparams; j++)
			free(t->params[j]);
		free(t->params);
		for (size_t j = 0; j < t->nincoming; j++)
			free(t->incoming[j]);
		free(t->incoming);
		free(t->outgoing);
		free(t->iqn);
	}
	free(cfg->targets);
	for (size_t i = 0; i < cfg->naccounts; i++) {
		struct config_account *a = &cfg->accounts[i];

		if (a->secret)
			explicit_bzero(a->secret, strlen(a->secret));
		free(a->secret);
		free(a->name);
	}
	free(cfg->accounts);
	for (size_t i = 0; i < cfg->ndiscovery_incoming; i++)
		free(cfg->discovery_incoming[i]);
	free(cfg->discovery_incoming);
	free(cfg->discovery_outgoing);
	free(cfg->event_loop);
	free(cfg->control_group);
	free(cfg->state_dir);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

/* --- portals ------------------------------------------------------------- */

int config_portal_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL, *end;
	unsigned long p = CONFIG_DEFAULT_PORT;
	bool v6;
	size_t hl;

	if (!s || !*s)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	v6 = s[0] == '[';
	if (v6) {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return -EINVAL;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			return -EINVAL;	/* bare IPv6 needs brackets */
		hl = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port = end + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (port) {
		char *pe;

		if (!isdigit((unsigned char)*port))
			return -EINVAL;
		errno = 0;
		p = strtoul(port, &pe, 10);
		if (errno || *pe || p == 0 || p > 65535)
			return -EINVAL;
	}
	if (!v6 && inet_pton(AF_INET, host,
		       &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof(*sin);
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, host,
		       &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/* --- applying ------------------------------------------------------------ */

__attribute__((format(printf, 5, 6)))
static int apply_fail(struct core_err *err, const struct ringtgt_config *cfg,
		      int line, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err->msg, sizeof(err->msg), "%s:%d: ",
		     cfg->file ? cfg->file : "<config>", line);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return rc;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

static int apply_target(const struct ringtgt_config *cfg,
			const struct config_target *t, struct core_err *err)
{
	struct core_err e = { { 0 } };
	int rc;

	if (t->controller) {
		struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };

		rc = core_lun_add(t->iqn, 0, &ctl, &e);
		if (rc)
			return apply_fail(err, cfg, t->line, rc, "target %s: %s",
					  t->iqn, e.msg);
	}
	for (size_t i = 0; i < t->nluns; i++) {
		const struct config_lun *l = &t->luns[i];
		struct core_lun_spec spec = l->spec;

		if (l->params.set)
			spec.params = &l->params;
		/* the file store makes missing parent directories itself */
		rc = core_lun_add(t->iqn, l->lun, &spec, &e);
		if (rc)
			return apply_fail(err, cfg, l->line, rc, "target %s: %s",
					  t->iqn, e.msg);
	}
	for (size_t i = 0; i < t->nacls; i++) {
		rc = core_acl_add(t->iqn, t->acls[i], &e);
		if (rc)
			return apply_fail(err, cfg, t->line, rc, "target %s: %s",
					  t->iqn, e.msg);
	}
	if (t->nacls == 0)
		log_warn("%s:%d: target %s has no acl; no initiator can log in to it",
			 cfg->file ? cfg->file : "<config>", t->line, t->iqn);
	for (size_t i = 0; i < t->nincoming; i++) {
		rc = core_account_bind(t->iqn, t->incoming[i], false, &e);
		if (rc)
			return apply_fail(err, cfg, t->line, rc, "target %s: %s",
					  t->iqn, e.msg);
	}
	if (t->outgoing) {
		rc = core_account_bind(t->iqn, t->outgoing, true, &e);
		if (rc)
			return apply_fail(err, cfg, t->line, rc, "target %s: %s",
					  t->iqn, e.msg);
	}
	rc = core_target_chap_algs(t->iqn, t->chap_algs, &e);
	if (rc)
		return apply_fail(err, cfg, t->line, rc, "target %s: %s",
				  t->iqn, e.msg);
	for (size_t i = 0; i < t->nparams; i++) {
		char name[CORE_PARAM_NAME_MAX];
		const char *eq = strchr(t->params[i], '=');	/* validated */

		snprintf(name, sizeof(name), "%.*s", (int)(eq - t->params[i]),
			 t->params[i]);
		rc = core_target_param_set(t->iqn, name, eq + 1, &e);
		if (rc)
			return apply_fail(err, cfg, t->line, rc,
					  "target %s: iscsi_params: %s",
					  t->iqn, e.msg);
	}
	return 0;
}

static int apply_account(const struct ringtgt_config *cfg,
			 const struct config_account *a, struct core_err *err)
{
	struct core_err e = { { 0 } };
	int rc = core_account_add(a->name, a->secret, &e);

	if (rc)
		return apply_fail(err, cfg, a->line, rc, "%s", e.msg);
	if (e.msg[0])	/* a short secret: accepted, with a warning */
		log_warn("%s:%d: %s", cfg->file ? cfg->file : "<config>",
			 a->line, e.msg);
	return 0;
}

/* After the accounts: bindings, then the mode, which needs them. */
static int apply_discovery(const struct ringtgt_config *cfg,
			   struct core_err *err)
{
	struct core_err e = { { 0 } };
	int rc = 0;

	for (size_t i = 0; !rc && i < cfg->ndiscovery_incoming; i++)
		rc = core_account_bind(NULL, cfg->discovery_incoming[i], false,
				       &e);
	if (!rc && cfg->discovery_outgoing)
		rc = core_account_bind(NULL, cfg->discovery_outgoing, true, &e);
	if (!rc && cfg->discovery_auth != CORE_DISC_AUTH_NONE)
		rc = core_discovery_auth_set(cfg->discovery_auth, &e);
	if (rc)
		apply_fail(err, cfg, cfg->discovery_line, rc, "%s", e.msg);
	return rc;
}

int config_apply(const struct ringtgt_config *cfg, struct core_err *err)
{
	struct core_err e = { { 0 } };
	size_t accounts = 0, done = 0;
	int rc = 0;

	/* groups are never removed: nothing to undo for them */
	for (size_t i = 0; !rc && i < cfg->ngroups; i++) {
		const struct config_portal_group *g = &cfg->groups[i];

		rc = core_port_group_define(g->tag, g->state, &e);
		if (rc)
			apply_fail(err, cfg, g->line, rc, "%s", e.msg);
	}
	for (; !rc && accounts < cfg->naccounts; accounts++) {
		rc = apply_account(cfg, &cfg->accounts[accounts], err);
		if (rc)
			break;
	}
	for (; !rc && done < cfg->ntargets; done++) {
		const struct config_target *t = &cfg->targets[done];

		rc = core_target_add(t->iqn, t->tid, NULL, &e);
		if (rc) {
			apply_fail(err, cfg, t->line, rc, "%s", e.msg);
			break;
		}
		rc = apply_target(cfg, t, err);
		if (rc) {
			done++;	/* remove this one too */
			break;
		}
	}
	if (!rc)
		rc = apply_discovery(cfg, err);
	if (rc) {
		/* removing an account (force) unbinds it from discovery too */
		while (done--)
			core_target_remove(cfg->targets[done].iqn, true, NULL);
		while (accounts--)
			core_account_remove(cfg->accounts[accounts].name, true,
					    &e);
	}
	return rc;
}
