/*
 * fuzz_config.c - fuzz target for the configuration parser
 * (config_parse_buf: the lexical pre-pass, libconfuse, validation).
 *
 * Property: every input either fails with -EINVAL and a message
 * "<config>:LINE: problem" whose LINE lies inside the text (only the two
 * file-wide problems have no line), leaving nothing allocated, or yields a
 * configuration that satisfies every rule of docs/config.md (accounts and
 * their bindings included). Parsing the
 * same text twice gives the same answer (libconfuse keeps lexer state in
 * globals). A text that parses was read to its end, with lines counted
 * right: with one more line holding an unknown key it fails, naming that
 * line (an unterminated comment or string that swallows the rest of the
 * file, or a line count that drifts, breaks this). ASan/LSan catch memory
 * errors and leaks.
 *
 * Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * plain test that replays corpus/config (standalone_main.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "config/config.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_config: %s:%d: %s\n",     \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

/* The only errors that concern the whole file rather than a line. */
static const char *const lineless[] = {
	"<config>: no portal to listen on (portal = {...} is empty)",
	"<config>: out of memory",
};

static void check_error(const char *err, int nlines)
{
	const char *p = err + strlen("<config>");
	char *end;
	long line;

	CHECK(strncmp(err, "<config>", 8) == 0);
	if (*p == ':' && p[1] >= '1' && p[1] <= '9') {
		line = strtol(p + 1, &end, 10);
		CHECK(line >= 1 && line <= nlines);
		CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(lineless); i++)
		if (strcmp(err, lineless[i]) == 0)
			return;
	fprintf(stderr, "fuzz_config: error without a line: %s\n", err);
	abort();
}

static bool printable_serial(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CORE_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static bool account_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CORE_ACCOUNT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ',')
			return false;
	return true;
}

static const struct config_account *account(const struct ringtgt_config *c,
					    const char *name)
{
	for (size_t i = 0; name && i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	return NULL;
}

static bool bound_incoming(const struct ringtgt_config *c, const char *name)
{
	for (size_t i = 0; i < c->ndiscovery_incoming; i++)
		if (strcmp(c->discovery_incoming[i], name) == 0)
			return true;
	for (size_t i = 0; i < c->ntargets; i++)
		for (size_t j = 0; j < c->targets[i].nincoming; j++)
			if (strcmp(c->targets[i].incoming[j], name) == 0)
				return true;
	return false;
}

/* Each name defined, listed once. */
static void check_names(const struct ringtgt_config *c, char **names,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CHECK(account(c, names[i]));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(names[i], names[j]) != 0);
	}
}

/* RFC 7143 §12.1.3: an outgoing secret authenticates no initiator. */
static void check_outgoing(const struct ringtgt_config *c, const char *name)
{
	const struct config_account *o = account(c, name);

	CHECK(o);
	CHECK(!bound_incoming(c, name));
	for (size_t i = 0; i < c->naccounts; i++)
		CHECK(!bound_incoming(c, c->accounts[i].name) ||
		      strcmp(c->accounts[i].secret, o->secret) != 0);
}

/* docs/config.md, "CHAP accounts and discovery authentication". */
static void check_auth(const struct ringtgt_config *c, int nlines)
{
	for (size_t i = 0; i < c->naccounts; i++) {
		const struct config_account *a = &c->accounts[i];
		size_t n = strlen(a->secret);

		CHECK(account_name_ok(a->name));
		CHECK(a->line >= 1 && a->line <= nlines);
		CHECK(n >= 1 && n <= CORE_SECRET_MAX);
		for (size_t j = 0; j < n; j++)
			CHECK((unsigned char)a->secret[j] >= 0x20 &&
			      a->secret[j] != 0x7f);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(c->accounts[j].name, a->name) != 0);
	}
	CHECK(c->discovery_auth == CORE_DISC_AUTH_NONE ||
	      c->discovery_auth == CORE_DISC_AUTH_CHAP ||
	      c->discovery_auth == CORE_DISC_AUTH_MUTUAL);
	if (c->discovery_auth == CORE_DISC_AUTH_NONE)
		CHECK(!c->ndiscovery_incoming && !c->discovery_outgoing);
	else
		CHECK(c->ndiscovery_incoming > 0 && c->discovery_line >= 1 &&
		      c->discovery_line <= nlines);
	CHECK(c->discovery_auth != CORE_DISC_AUTH_MUTUAL || c->discovery_outgoing);
	check_names(c, c->discovery_incoming, c->ndiscovery_incoming);
	if (c->discovery_outgoing)
		check_outgoing(c, c->discovery_outgoing);
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct config_target *t = &c->targets[i];

		check_names(c, t->incoming, t->nincoming);
		CHECK(t->chap_algs && !(t->chap_algs & ~(unsigned)CORE_CHAP_ALL));
		if (t->outgoing) {
			CHECK(t->nincoming > 0);
			check_outgoing(c, t->outgoing);
		}
	}
}

/* docs/config.md, rule by rule. */
static void check_config(const struct ringtgt_config *c, int nlines)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[256];

	CHECK(c->file && strcmp(c->file, "<config>") == 0);
	/* nportals 0: no portal key, the daemon's default ([::]:3260) */
	CHECK(c->nportals == 0 || c->portals);
	for (size_t i = 0; i < c->nportals; i++)
		CHECK(config_portal_parse(c->portals[i], &ss, &sl) == 0);
	CHECK(c->nop_interval >= 0 && c->nop_interval <= 3600);
	CHECK(c->nop_timeout >= 0 && c->nop_timeout <= 3600);
	CHECK(c->login_timeout >= 0 && c->login_timeout <= 3600);
	CHECK(c->tmf_timeout >= 0 && c->tmf_timeout <= 3600);
	CHECK(c->tx_stall_timeout >= 0 && c->tx_stall_timeout <= 3600);
	CHECK(c->max_connections >= 1 && c->max_connections <= CONFIG_LIMIT_MAX);
	CHECK(c->max_conns_per_source >= 1 &&
	      c->max_conns_per_source <= CONFIG_LIMIT_MAX);
	CHECK(c->max_conns_per_target >= 1 &&
	      c->max_conns_per_target <= CONFIG_LIMIT_MAX);
	CHECK(c->max_sessions_per_target >= 1 &&
	      c->max_sessions_per_target <= CONFIG_LIMIT_MAX);
	CHECK(c->buffer_per_connection == 0 ||
	      (c->buffer_per_connection >= (1ull << 20) &&
	       c->buffer_per_connection <= (1ull << 40)));
	CHECK(c->buffer_total == 0 ||
	      (c->buffer_total >= (1ull << 20) && c->buffer_total <= (1ull << 40)));
	CHECK(c->reactors >= 0 && c->reactors <= 1024);
	CHECK(!strcmp(c->event_loop, "auto") || !strcmp(c->event_loop, "io_uring") ||
	      !strcmp(c->event_loop, "epoll"));
	if (c->control_group) {
		size_t n = strlen(c->control_group);

		CHECK(n >= 1 && n <= CONFIG_GROUP_MAX &&
		      c->control_group[0] != '-');
		for (size_t i = 0; i < n; i++)
			CHECK(isalnum((unsigned char)c->control_group[i]) ||
			      strchr("._-", c->control_group[i]));
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct config_target *t = &c->targets[i];

		CHECK(core_name_check(t->iqn, why, sizeof(why)) == 0);
		CHECK(t->line >= 1 && t->line <= nlines);
		CHECK(t->tid >= 0 && t->tid <= 65535);
		for (size_t j = 0; j < i; j++) {
			CHECK(strcasecmp(c->targets[j].iqn, t->iqn) != 0);
			CHECK(!t->tid || c->targets[j].tid != t->tid);
		}
		for (size_t j = 0; j < t->nacls; j++)
			CHECK(core_acl_check(t->acls[j], why, sizeof(why)) == 0);
		for (size_t j = 0; j < t->nluns; j++) {
			const struct config_lun *l = &t->luns[j];
			const struct core_lun_spec *s = &l->spec;

			CHECK(l->line >= 1 && l->line <= nlines);
			CHECK(l->lun < SCSI_MAX_LUNS);
			CHECK(l->lun != 0 || !t->controller);
			for (size_t k = 0; k < j; k++)
				CHECK(t->luns[k].lun != l->lun);
			CHECK(s->type == SCSI_LU_DISK);
			/* 0: unset (the device's, or 512) */
			CHECK(s->block_size == 0 || s->block_size == 512 ||
			      s->block_size == 4096);
			CHECK(s->size % (s->block_size ? s->block_size : 512) == 0);
			CHECK(!(s->direct && s->buffered));
			CHECK(!s->serial || printable_serial(s->serial));
			if (strcmp(s->backing, "ram") == 0) {
				CHECK(s->size > 0);
			} else {
				CHECK(strcmp(s->backing, "file") == 0);
				CHECK(s->path && *s->path);
				CHECK(!s->create || s->size > 0);
			}
		}
	}
	check_auth(c, nlines);
}

static bool same_config(const struct ringtgt_config *a,
			const struct ringtgt_config *b)
{
	if (a->nportals != b->nportals || a->ntargets != b->ntargets ||
	    a->naccounts != b->naccounts ||
	    a->discovery_auth != b->discovery_auth ||
	    a->nop_interval != b->nop_interval || a->reactors != b->reactors ||
	    strcmp(a->event_loop, b->event_loop))
		return false;
	for (size_t i = 0; i < a->nportals; i++)
		if (strcmp(a->portals[i], b->portals[i]))
			return false;
	for (size_t i = 0; i < a->ntargets; i++)
		if (strcmp(a->targets[i].iqn, b->targets[i].iqn) ||
		    a->targets[i].nluns != b->targets[i].nluns ||
		    a->targets[i].nacls != b->targets[i].nacls ||
		    a->targets[i].line != b->targets[i].line)
			return false;
	return true;
}

/* @text parsed: the parser must also see a line appended to it. */
static void check_read_to_end(const char *text, int nlines)
{
	static const char extra[] = "\nfuzz_unknown_key = 1\n";
	size_t len = strlen(text);
	char *more = malloc(len + sizeof(extra));
	struct ringtgt_config cfg;
	char err[512], want[64];

	CHECK(more);
	memcpy(more, text, len);
	memcpy(more + len, extra, sizeof(extra));
	CHECK(config_parse_buf(more, &cfg, err, sizeof(err)) == -EINVAL);
	snprintf(want, sizeof(want), "<config>:%d: unknown key 'fuzz_unknown_key'",
		 nlines + 1);
	if (strcmp(err, want) != 0) {
		fprintf(stderr, "fuzz_config: with a line appended: \"%s\", not \"%s\"\n",
			err, want);
		abort();
	}
	free(more);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ringtgt_config cfg, again;
	char err[512], err2[512];
	char *text = malloc(size + 1);
	int rc, rc2, nlines = 1;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';	/* the parser reads a C string: up to a NUL */
	for (const char *p = text; *p; p++)
		nlines += *p == '\n';

	rc = config_parse_buf(text, &cfg, err, sizeof(err));
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ENOMEM);
		check_error(err, nlines);
		CHECK(cfg.ntargets == 0 && cfg.targets == NULL &&
		      cfg.portals == NULL && cfg.file == NULL &&
		      cfg.accounts == NULL);
	} else {
		check_config(&cfg, nlines);
		check_read_to_end(text, nlines);
	}

	rc2 = config_parse_buf(text, &again, err2, sizeof(err2));
	CHECK(rc2 == rc);
	if (rc)
		CHECK(strcmp(err, err2) == 0);
	else
		CHECK(same_config(&cfg, &again));
	if (!rc) {
		config_free(&cfg);
		config_free(&again);
	}
	free(text);
	return 0;
}
