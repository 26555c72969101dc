/*
 * config.c - loads the configuration file with libconfuse, validates it
 * and turns it into a struct ringtgt_config; config_apply() then builds
 * the targets through core.h.
 *
 * A lexical pre-pass (lex_prepare) rejects unterminated comments, strings
 * and sections, and hides comments from libconfuse, whose line count they
 * upset. Values are checked by libconfuse validate callbacks as they are read,
 * so errors carry the line of the value. Checks that need a whole section
 * (a target's name, LUN numbers, a ram LUN's size) run after parsing;
 * libconfuse only remembers where a section ends, so locate_line() finds
 * the line that opens it in the text.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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

static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct parse_ctx *c = parse_cur;
	char msg[400], *q;
	const char *what;

	if (!c)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
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
		q = msg + 23;
		what = strcmp(cfg->name, "root") == 0 ? "target" : "LUN";
		ctx_fail(c, cfg->line, "duplicate %s '%s", what, q);
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
		CFG_INT("block_size", 512, CFGF_NONE),
		CFG_STR("serial", NULL, CFGF_NONE),
		CFG_BOOL("tas", cfg_true, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t target_opts[] = {
		CFG_INT("tid", 0, CFGF_NONE),
		CFG_BOOL("controller", cfg_true, CFGF_NONE),
		CFG_SEC("lun", lun_opts, CFGF_MULTI | CFGF_TITLE |
					 CFGF_NO_TITLE_DUPES),
		CFG_STR_LIST("acl", NULL, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t opts[] = {
		/* none: the daemon's default, [::]:3260 (main.c) */
		CFG_STR_LIST("portal", NULL, CFGF_NONE),
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
		CFG_SEC("target", target_opts, CFGF_MULTI | CFGF_TITLE |
					       CFGF_NO_TITLE_DUPES),
		CFG_END()
	};
	static const struct {
		const char *name;
		cfg_validate_callback_t fn;
	} validators[] = {
		{ "portal", v_portal },
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
		{ "target|tid", v_tid },
		{ "target|acl", v_acl },
		{ "target|lun|size", v_size },
		{ "target|lun|backing", v_backing },
		{ "target|lun|block_size", v_block_size },
		{ "target|lun|path", v_path },
		{ "target|lun|serial", v_serial },
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

static int build_lun(struct parse_ctx *c, struct config_target *t,
		     cfg_t *sec, int tline, struct config_lun *l)
{
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
	l->spec.no_tas = !cfg_getbool(sec, "tas");
	l->spec.block_size = (uint32_t)bsz;
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
	if (l->spec.size % bsz)
		return ctx_fail(c, line,
				"target %s: LUN %llu: size %s is not a multiple of the block size %llu",
				t->iqn, (unsigned long long)l->lun, size,
				(unsigned long long)bsz);
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
	return 0;
}

static int build(struct parse_ctx *c, cfg_t *root, struct ringtgt_config *out)
{
	unsigned n = cfg_size(root, "portal");

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

	n = cfg_size(root, "target");
	out->targets = calloc(n ? n : 1, sizeof(*out->targets));
	if (!out->event_loop || !out->targets)
		return ctx_fail(c, 0, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		int rc = build_target(c, out, cfg_getnsec(root, "target", i),
				      &out->targets[out->ntargets]);

		out->ntargets++;
		if (rc)
			return rc;
	}
	return 0;
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
	cfg_free(root);
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
	free(text);
	return rc;
}

void config_free(struct ringtgt_config *cfg)
{
	for (size_t i = 0; i < cfg->nportals; i++)
		free(cfg->portals[i]);
	free(cfg->portals);
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
		free(t->iqn);
	}
	free(cfg->targets);
	free(cfg->event_loop);
	free(cfg->control_group);
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

		/* the file store makes missing parent directories itself */
		rc = core_lun_add(t->iqn, l->lun, &l->spec, &e);
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
	return 0;
}

int config_apply(const struct ringtgt_config *cfg, struct core_err *err)
{
	struct core_err e = { { 0 } };
	size_t done = 0;
	int rc = 0;

	for (; done < cfg->ntargets; done++) {
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
	if (rc) {
		while (done--)
			core_target_remove(cfg->targets[done].iqn, true, NULL);
	}
	return rc;
}
