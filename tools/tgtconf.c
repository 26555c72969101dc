/*
 * tgtconf.c - the targets.conf parser (tgtconf.h). Two stages, as in
 * Config::General: a lexer turns a file into statements (comments,
 * continuation lines and includes resolved, each statement with the line
 * it starts on), and an interpreter applies each statement to the block
 * it stands in, checking the directive against tgt-admin's. LUN numbers
 * are assigned once every file is read, since tgt-admin numbers a
 * target's stores after merging all of its blocks.
 *
 * No I/O here: includes go through struct tgtconf_io.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgtconf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Where a directive may stand. */
enum {
	D_GLOBAL = 1u << 0,
	D_TARGET = 1u << 1,
	D_STORE = 1u << 2,
	D_MULTI = 1u << 3,	/* may repeat (else a second one is an error) */
};

enum dcheck {
	CK_ANY,
	CK_LUN,		/* 0..65535 */
	CK_ONOFF,	/* write-cache */
	CK_YESNO,	/* allow-in-use, ignore-errors */
	CK_UINT,	/* control-port, controller_tid, ... */
	CK_BSOFLAGS,	/* sync, direct, sync:direct */
	CK_BLKSIZE,	/* a power of two, 512..65536 */
	CK_USERPASS,	/* USER SECRET */
};

struct directive {
	const char *name;
	unsigned where;
	enum dcheck check;
};

/*
 * Every directive tgt-admin 1.0.85 acts on (scripts/tgt-admin:
 * add_targets, process_options, add_backing_direct, add_params), with
 * where it reads it. An option inside a store block that add_params()
 * does not know is ignored by tgt-admin; here it is refused.
 */
static const struct directive directives[] = {
	{ "default-driver", D_GLOBAL, CK_ANY },
	{ "ignore-errors", D_GLOBAL, CK_YESNO },
	{ "control-port", D_GLOBAL, CK_UINT },
	{ "iSNS", D_GLOBAL, CK_ANY },
	{ "iSNSServerIP", D_GLOBAL, CK_ANY },
	{ "iSNSServerPort", D_GLOBAL, CK_UINT },
	{ "iSNSAccessControl", D_GLOBAL, CK_ANY },
	{ "incomingdiscoveryuser", D_GLOBAL, CK_USERPASS },
	{ "outgoingdiscoveryuser", D_GLOBAL, CK_USERPASS },

	{ "backing-store", D_TARGET | D_MULTI, CK_ANY },
	{ "direct-store", D_TARGET | D_MULTI, CK_ANY },
	{ "driver", D_TARGET, CK_ANY },
	{ "incominguser", D_TARGET | D_MULTI, CK_USERPASS },
	{ "outgoinguser", D_TARGET, CK_USERPASS },
	{ "initiator-address", D_TARGET | D_MULTI, CK_ANY },
	{ "initiator-name", D_TARGET | D_MULTI, CK_ANY },
	{ "controller_tid", D_TARGET, CK_UINT },
	/* iSCSI session parameters, per target (tgtadm --mode target) */
	{ "MaxRecvDataSegmentLength", D_TARGET, CK_ANY },
	{ "MaxXmitDataSegmentLength", D_TARGET, CK_ANY },
	{ "HeaderDigest", D_TARGET, CK_ANY },
	{ "DataDigest", D_TARGET, CK_ANY },
	{ "InitialR2T", D_TARGET, CK_ANY },
	{ "MaxOutstandingR2T", D_TARGET, CK_ANY },
	{ "ImmediateData", D_TARGET, CK_ANY },
	{ "FirstBurstLength", D_TARGET, CK_ANY },
	{ "MaxBurstLength", D_TARGET, CK_ANY },
	{ "DataPDUInOrder", D_TARGET, CK_ANY },
	{ "DataSequenceInOrder", D_TARGET, CK_ANY },
	{ "ErrorRecoveryLevel", D_TARGET, CK_ANY },
	{ "IFMarker", D_TARGET, CK_ANY },
	{ "OFMarker", D_TARGET, CK_ANY },
	{ "DefaultTime2Wait", D_TARGET, CK_ANY },
	{ "DefaultTime2Retain", D_TARGET, CK_ANY },
	{ "OFMarkInt", D_TARGET, CK_ANY },
	{ "IFMarkInt", D_TARGET, CK_ANY },
	{ "MaxConnections", D_TARGET, CK_ANY },
	{ "state", D_TARGET, CK_ANY },

	/* per LUN, or per target as the default of its LUNs */
	{ "lun", D_TARGET | D_STORE, CK_LUN },
	{ "allow-in-use", D_TARGET | D_STORE, CK_YESNO },
	{ "write-cache", D_TARGET | D_STORE, CK_ONOFF },
	{ "scsi_id", D_TARGET | D_STORE, CK_ANY },
	{ "scsi_sn", D_TARGET | D_STORE, CK_ANY },
	{ "vendor_id", D_TARGET | D_STORE, CK_ANY },
	{ "product_id", D_TARGET | D_STORE, CK_ANY },
	{ "product_rev", D_TARGET | D_STORE, CK_ANY },
	{ "sense_format", D_TARGET | D_STORE, CK_ANY },
	{ "removable", D_TARGET | D_STORE, CK_ANY },
	{ "online", D_TARGET | D_STORE, CK_ANY },
	{ "path", D_TARGET | D_STORE, CK_ANY },
	{ "readonly", D_TARGET | D_STORE, CK_ANY },
	{ "lbppbe", D_TARGET | D_STORE, CK_UINT },
	{ "la_lba", D_TARGET | D_STORE, CK_UINT },
	{ "optimal_xfer_gran", D_TARGET | D_STORE, CK_UINT },
	{ "optimal_xfer_len", D_TARGET | D_STORE, CK_UINT },
	{ "mode_page", D_TARGET | D_STORE | D_MULTI, CK_ANY },
	{ "params", D_TARGET | D_STORE | D_MULTI, CK_ANY },
	{ "device-type", D_TARGET | D_STORE, CK_ANY },
	{ "bs-type", D_TARGET | D_STORE, CK_ANY },
	{ "bsopts", D_TARGET | D_STORE, CK_ANY },
	{ "bsoflags", D_TARGET | D_STORE, CK_BSOFLAGS },
	/* tgt-admin reads block-size only per store (or from the device) */
	{ "block-size", D_STORE, CK_BLKSIZE },
};

/* Names people write for a directive that has another spelling. */
static const struct {
	const char *wrong, *right;
} aliases[] = {
	{ "bstype", "bs-type" },
	{ "blocksize", "block-size" },
	{ "lld", "driver" },
	{ "write_cache", "write-cache" },
	{ "allow_in_use", "allow-in-use" },
	{ "device_type", "device-type" },
	{ "initiator_address", "initiator-address" },
	{ "initiator-ip", "initiator-address" },
	{ "initiator_name", "initiator-name" },
};

enum block { B_NONE, B_TARGET, B_STORE };

struct parser {
	const struct tgtconf_io *io;
	struct tgtconf *conf;
	char *err;
	size_t errlen;
	/* the include chain, outermost first (file ids) */
	const char *chain[TGTCONF_MAX_DEPTH + 1];
	int depth;
	/* files read so far (ids), for Config::General's "already loaded" */
	char **loaded;
	size_t nloaded;
	/* the block the next statement stands in */
	enum block block;
	size_t tgt;			/* index in conf->targets */
	size_t store;			/* index in its stores */
	const char *block_file;
	int block_line;
	/* block depth when the file being read began (see depth()) */
	int floor;
	/* where the current statement is */
	const char *file;
	int line;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, int rc, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (!p->err || !p->errlen)
		return rc;
	if (p->file)
		n = (size_t)snprintf(p->err, p->errlen, p->line > 0 ? "%s:%d: " :
				     "%s: ", p->file, p->line);
	if (n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int oom(struct parser *p)
{
	return fail(p, -ENOMEM, "out of memory");
}

/* Appends @item (of @size bytes) to the array *@arr of *@n. */
static int push(void *arr, size_t *n, const void *item, size_t size)
{
	void **a = arr;
	char *na = realloc(*a, (*n + 1) * size);

	if (!na)
		return -ENOMEM;
	memcpy(na + *n * size, item, size);
	*a = na;
	(*n)++;
	return 0;
}

static int push_str(char ***arr, size_t *n, const char *s)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	if (push(arr, n, &d, sizeof(d))) {
		free(d);
		return -ENOMEM;
	}
	return 0;
}

static const struct directive *directive_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(directives); i++)
		if (!strcmp(directives[i].name, key))
			return &directives[i];
	return NULL;
}

static bool is_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	if (out)
		*out = v;
	return true;
}

/* tgtadm's --bsoflags: "sync", "direct", joined with ':' (usr/util.c) */
static bool is_bsoflags(const char *s)
{
	const char *p = s;

	for (;;) {
		size_t n = strcspn(p, ":");

		if (!((n == 4 && !strncmp(p, "sync", 4)) ||
		      (n == 6 && !strncmp(p, "direct", 6))))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static int check_value(struct parser *p, const struct directive *d,
		       const char *v)
{
	unsigned long n;
	const char *sp;

	switch (d->check) {
	case CK_ANY:
		return 0;
	case CK_LUN:
		if (!is_uint(v, 65535, NULL))
			return fail(p, -EINVAL, "lun '%s': a LUN number 0..65535 expected", v);
		return 0;
	case CK_ONOFF:
		if (strcmp(v, "on") && strcmp(v, "off"))
			return fail(p, -EINVAL, "%s '%s': 'on' or 'off' expected",
				    d->name, v);
		return 0;
	case CK_YESNO:
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return fail(p, -EINVAL, "%s '%s': 'yes' or 'no' expected",
				    d->name, v);
		return 0;
	case CK_UINT:
		if (!is_uint(v, 2147483647, NULL))
			return fail(p, -EINVAL, "%s '%s': a number expected",
				    d->name, v);
		return 0;
	case CK_BSOFLAGS:
		if (!is_bsoflags(v))
			return fail(p, -EINVAL, "bsoflags '%s': 'sync', 'direct' or 'sync:direct' expected",
				    v);
		return 0;
	case CK_BLKSIZE:
		if (!is_uint(v, 65536, &n) || n < 512 || (n & (n - 1)))
			return fail(p, -EINVAL, "block-size '%s': a power of two from 512 to 65536 expected",
				    v);
		return 0;
	case CK_USERPASS:
		/*
		 * tgt-admin splits on one space and uses the first two
		 * fields: a secret with a space in it would be cut short.
		 */
		sp = strpbrk(v, " \t");
		if (!sp || sp == v || !sp[strspn(sp, " \t")] ||
		    strpbrk(sp + strspn(sp, " \t"), " \t"))
			return fail(p, -EINVAL, "%s takes a user name and a secret, separated by a space (a secret with a space in it is not possible)",
				    d->name);
		return 0;
	}
	return 0;
}

static struct tgtconf_target *cur_target(struct parser *p)
{
	return &p->conf->targets[p->tgt];
}

/* Adds an option to @opts, refusing a second one of a single-valued key. */
static int add_opt(struct parser *p, struct tgtconf_opt **opts, size_t *nopts,
		   const struct directive *d, const char *key, const char *value)
{
	struct tgtconf_opt o = { .file = p->file, .line = p->line };
	int rc;

	if (!(d->where & D_MULTI))
		for (size_t i = 0; i < *nopts; i++)
			if (!strcmp((*opts)[i].key, key))
				return fail(p, -EINVAL, "%s given twice (also at %s:%d)",
					    key, (*opts)[i].file, (*opts)[i].line);
	rc = check_value(p, d, value);
	if (rc)
		return rc;
	o.key = strdup(key);
	o.value = strdup(value);
	if (!o.key || !o.value || push(opts, nopts, &o, sizeof(o))) {
		free(o.key);
		free(o.value);
		return oom(p);
	}
	return 0;
}

/* The store @path of the current target, created when @create. */
static int find_store(struct parser *p, const char *path, bool direct,
		      bool block, size_t *idx)
{
	struct tgtconf_target *t = cur_target(p);
	struct tgtconf_store s = {
		.direct = direct, .block = block, .file = p->file,
		.line = p->line,
	};

	/*
	 * `backing-store X` lines and `<backing-store Y>` blocks in one
	 * target are refused by Config::General ("already exists as scalar
	 * entry") or by tgt-admin ("config file is not supported").
	 */
	for (size_t i = 0; i < t->nstores; i++) {
		if (t->stores[i].direct != direct)
			continue;
		if (t->stores[i].block != block)
			return fail(p, -EINVAL, "%s: %s lines and <%s> blocks cannot be mixed in one target (tgt-admin refuses it too; see %s:%d)",
				    direct ? "direct-store" : "backing-store",
				    direct ? "direct-store" : "backing-store",
				    direct ? "direct-store" : "backing-store",
				    t->stores[i].file, t->stores[i].line);
	}
	for (size_t i = 0; i < t->nstores; i++) {
		if (strcmp(t->stores[i].path, path))
			continue;
		if (t->stores[i].direct != direct)
			return fail(p, -EINVAL, "%s is both a backing-store and a direct-store (at %s:%d)",
				    path, t->stores[i].file, t->stores[i].line);
		/* Config::General merges a repeated block; a path in a
		 * repeated line is one LUN (a hash key in tgt-admin) */
		*idx = i;
		return 0;
	}
	if (!*path)
		return fail(p, -EINVAL, "%s without a path",
			    direct ? "direct-store" : "backing-store");
	s.path = strdup(path);
	if (!s.path || push(&t->stores, &t->nstores, &s, sizeof(s))) {
		free(s.path);
		return oom(p);
	}
	*idx = t->nstores - 1;
	return 0;
}

static int open_target(struct parser *p, const char *iqn)
{
	struct tgtconf *c = p->conf;
	struct tgtconf_target t = { .file = p->file, .line = p->line };

	if (!*iqn)
		return fail(p, -EINVAL, "<target> needs a name: <target iqn....>");
	if (strpbrk(iqn, " \t"))
		return fail(p, -EINVAL, "<target %s>: a target name has no spaces", iqn);
	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcmp(c->targets[i].iqn, iqn)) {
			/* MergeDuplicateBlocks: the second block adds to it */
			p->tgt = i;
			return 0;
		}
	t.iqn = strdup(iqn);
	if (!t.iqn || push(&c->targets, &c->ntargets, &t, sizeof(t))) {
		free(t.iqn);
		return oom(p);
	}
	p->tgt = c->ntargets - 1;
	return 0;
}

static int block_open(struct parser *p, const char *kind, const char *name)
{
	int rc = 0;

	if (p->block == B_NONE && !strcmp(kind, "target")) {
		rc = open_target(p, name);
		if (!rc)
			p->block = B_TARGET;
	} else if (p->block == B_TARGET && (!strcmp(kind, "backing-store") ||
					    !strcmp(kind, "direct-store"))) {
		if (!*name)
			return fail(p, -EINVAL, "<%s> needs a path: <%s /dev/...>",
				    kind, kind);
		rc = find_store(p, name, kind[0] == 'd', true, &p->store);
		if (!rc)
			p->block = B_STORE;
	} else if (p->block == B_NONE) {
		return fail(p, -EINVAL, "<%s>: only <target NAME> blocks stand at the top level",
			    kind);
	} else if (p->block == B_TARGET) {
		return fail(p, -EINVAL, "<%s> inside <target>: only <backing-store PATH> and <direct-store PATH> blocks may stand there",
			    kind);
	} else {
		return fail(p, -EINVAL, "<%s> inside <%s>: no block may stand there",
			    kind, cur_target(p)->stores[p->store].direct ?
			    "direct-store" : "backing-store");
	}
	if (rc)
		return rc;
	p->block_file = p->file;
	p->block_line = p->line;
	return 0;
}

/* 0 at the top level, 1 in a target, 2 in a store */
static int depth(const struct parser *p)
{
	return p->block == B_NONE ? 0 : p->block == B_TARGET ? 1 : 2;
}

static int block_close(struct parser *p, const char *kind)
{
	const char *open = p->block == B_TARGET ? "target" :
			   p->block == B_STORE ?
			   (cur_target(p)->stores[p->store].direct ?
			    "direct-store" : "backing-store") : NULL;

	if (!open)
		return fail(p, -EINVAL, "</%s> without a <%s ...> before it",
			    kind, kind);
	if (strcmp(kind, open))
		return fail(p, -EINVAL, "</%s> closes <%s> (opened at %s:%d)",
			    kind, open, p->block_file, p->block_line);
	if (depth(p) <= p->floor)
		return fail(p, -EINVAL, "</%s> closes a block opened in another file (%s:%d)",
			    kind, p->block_file, p->block_line);
	if (p->block == B_STORE) {
		const struct tgtconf_target *t = cur_target(p);

		p->block = B_TARGET;
		p->block_file = t->file;
		p->block_line = t->line;
	} else {
		p->block = B_NONE;
	}
	return 0;
}

static int global_opt(struct parser *p, const struct directive *d,
		      const char *value)
{
	struct tgtconf *c = p->conf;
	int rc = check_value(p, d, value);

	if (rc)
		return rc;
	if (!strcmp(d->name, "default-driver")) {
		/* tgt-admin: "Multiple default-driver definitions are not
		 * allowed!" */
		if (c->default_driver)
			return fail(p, -EINVAL, "default-driver given twice");
		c->default_driver = strdup(value);
		return c->default_driver ? 0 : oom(p);
	}
	if (!strcmp(d->name, "ignore-errors")) {
		c->ignore_errors = !strcmp(value, "yes");
		return 0;
	}
	if (!strcmp(d->name, "control-port")) {
		if (c->control_port >= 0)
			return fail(p, -EINVAL, "control-port given twice");
		c->control_port = atoi(value);
		return 0;
	}
	if (!strcmp(d->name, "incomingdiscoveryuser") ||
	    !strcmp(d->name, "outgoingdiscoveryuser")) {
		struct tgtconf_opt **slot = d->name[0] == 'i' ?
					    &c->discovery_in : &c->discovery_out;

		/* tgt-admin splits one value; a second makes nonsense */
		if (*slot)
			return fail(p, -EINVAL, "%s given twice (also at %s:%d)",
				    d->name, (*slot)->file, (*slot)->line);
		*slot = calloc(1, sizeof(**slot));
		if (!*slot)
			return oom(p);
		(*slot)->key = strdup(d->name);
		(*slot)->value = strdup(value);
		(*slot)->file = p->file;
		(*slot)->line = p->line;
		return (*slot)->key && (*slot)->value ? 0 : oom(p);
	}
	return fail(p, -EINVAL, "%s: not supported by ringtgt (iSNS is not implemented)",
		    d->name);
}

static int option(struct parser *p, const char *key, const char *value)
{
	const struct directive *d = directive_find(key);
	struct tgtconf_target *t;
	size_t idx;

	if (!d) {
		for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
			if (!strcmp(aliases[i].wrong, key))
				return fail(p, -EINVAL, "unknown directive '%s' (did you mean '%s'?)",
					    key, aliases[i].right);
		return fail(p, -EINVAL, "unknown directive '%s'", key);
	}
	/* tgt-admin's check_value(): "Option X has a missing value!" */
	if (!value || !*value)
		return fail(p, -EINVAL, "%s has a missing value", key);
	switch (p->block) {
	case B_NONE:
		if (!(d->where & D_GLOBAL))
			return fail(p, -EINVAL, "%s outside a <target> block", key);
		return global_opt(p, d, value);
	case B_TARGET:
		if (!(d->where & D_TARGET))
			return fail(p, -EINVAL, d->where & D_STORE ?
				    "%s stands only inside <backing-store PATH> or <direct-store PATH>" :
				    "%s stands only outside <target> blocks", key);
		t = cur_target(p);
		if (!strcmp(key, "backing-store") || !strcmp(key, "direct-store"))
			return find_store(p, value, key[0] == 'd', false, &idx);
		return add_opt(p, &t->opts, &t->nopts, d, key, value);
	case B_STORE:
		if (!(d->where & D_STORE))
			return fail(p, -EINVAL, "%s cannot stand inside <%s>", key,
				    cur_target(p)->stores[p->store].direct ?
				    "direct-store" : "backing-store");
		t = cur_target(p);
		return add_opt(p, &t->stores[p->store].opts,
			       &t->stores[p->store].nopts, d, key, value);
	}
	return 0;
}

/*
 * Config::General's value clean-up: surrounding double quotes go, then
 * \$ \\ \" \# lose their backslash. In place.
 */
static void value_clean(char *v)
{
	size_t n = strlen(v);
	char *r, *w;

	if (n && v[0] == '"' && v[n - 1] == '"') {
		memmove(v, v + 1, n);
		n = strlen(v);
		if (n && v[n - 1] == '"')
			v[n - 1] = '\0';
	}
	for (r = w = v; *r; r++) {
		if (r[0] == '\\' && r[1] && strchr("$\\\"#", r[1]))
			r++;
		*w++ = *r;
	}
	*w = '\0';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	       c == '\f' || c == '\v';
}

/* Trims @s in place; returns the first non-blank character. */
static char *trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One statement (trimmed, not empty, not an include). */
static int statement(struct parser *p, char *s)
{
	size_t n = strlen(s);
	char *key, *value = NULL, *sep;

	if (s[0] == '<' && s[n - 1] == '>' && n >= 3) {
		char *kind, *name;

		s[n - 1] = '\0';
		if (s[1] == '/')
			return block_close(p, trim(s + 2));
		kind = trim(s + 1);
		/* Config::General: <"quoted block"> has no name */
		name = kind + strcspn(kind, " \t");
		if (*name)
			*name++ = '\0';
		name = trim(name);
		n = strlen(name);
		if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
			name[n - 1] = '\0';
			name++;
		}
		return block_open(p, kind, name);
	}
	/*
	 * Key and value split at the first run of blanks or the first '='
	 * with the blanks around it, whichever comes first (SplitPolicy
	 * "guess": split /\s*=\s*|\s+/, 2).
	 */
	key = s;
	sep = key + strcspn(key, " \t=");
	if (*sep) {
		char *v = sep;

		while (is_space(*v))
			v++;
		if (*v == '=')
			for (v++; is_space(*v); v++)
				;
		*sep = '\0';
		value = v;
		value_clean(value);
	}
	return option(p, key, value);
}

static int include(struct parser *p, const char *path, bool optional);

/*
 * Config::General's here-document start: `KEY <<END` or `KEY = <<END`
 * (/^\s*(\S+?)\s+<<\s*(.+?)\s*$/, /^\s*([^=]+?)\s*=\s*<<\s*(.+?)\s*$/).
 */
static bool is_heredoc(const char *s)
{
	const char *v = s + strcspn(s, " \t");
	const char *eq = strchr(s, '=');

	if (*v && v > s) {
		v += strspn(v, " \t");
		if (!strncmp(v, "<<", 2) && v[2 + strspn(v + 2, " \t")])
			return true;
	}
	if (eq && eq > s) {
		eq++;
		eq += strspn(eq, " \t");
		if (!strncmp(eq, "<<", 2) && eq[2 + strspn(eq + 2, " \t")])
			return true;
	}
	return false;
}

/* Config::General: an include line, `include PATH` or quoted. */
static bool is_include(char *s, char **path, bool *optional)
{
	size_t n;

	if (strncasecmp(s, "include", 7))
		return false;
	s += 7;
	*optional = !strncasecmp(s, "optional", 8);
	if (*optional)
		s += 8;
	if (*s == '"' || *s == '\'') {
		n = strlen(s);
		if (n < 2 || s[n - 1] != s[0] || s[n - 2] == '\\')
			return false;
		s[n - 1] = '\0';
		*path = s + 1;
		return **path != '\0';
	}
	if (!is_space(*s))
		return false;
	*path = trim(s);
	return **path != '\0';
}

/*
 * The lexer, after Config::General::_read(): C comments, # comments
 * (not after a backslash), backslash continuation, <x/> empty blocks,
 * blank lines, includes.
 */
static int parse_text(struct parser *p, const char *file, const char *text)
{
	int outer_floor = p->floor;
	char *buf = strdup(text), *line, *next, *longline = NULL;
	bool c_comment = false;
	int lineno = 0, long_start = 0, comment_start = 0, rc = 0;

	if (!buf)
		return oom(p);
	p->floor = depth(p);
	for (line = buf; line && !rc; line = next) {
		char *s, *hash, *stmt;
		size_t n;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		p->file = file;
		p->line = lineno;
		s = line;

		/* C comments, as CComments does them */
		if (c_comment) {
			char *end = strstr(s, "*/");

			if (!end)
				continue;
			c_comment = false;
			s = end + 2;
		} else {
			char *start = strstr(s, "/*");
			char *end = start ? strstr(start + 2, "*/") : NULL;

			if (start && end) {
				/* greedy: to the last "*" "/" of the line */
				char *last = end;

				while ((end = strstr(last + 2, "*/")))
					last = end;
				while (start > s && is_space(start[-1]))
					start--;
				last += 2;
				last += strspn(last, " \t\r");
				memmove(start, last, strlen(last) + 1);
			} else if (start && start == s + strspn(s, " \t")) {
				c_comment = true;
				comment_start = lineno;
				continue;
			}
		}
		/* # to the end of the line, unless it follows a backslash */
		for (hash = s; (hash = strchr(hash, '#')); hash++)
			if (hash == s || hash[-1] != '\\') {
				*hash = '\0';
				break;
			}
		/* trailing backslash: the statement goes on */
		n = strlen(s);
		if (n && s[n - 1] == '\\' && (n < 2 || s[n - 2] != '\\')) {
			size_t have = longline ? strlen(longline) : 0;
			char *t, *nl;

			s[n - 1] = '\0';
			t = s + strspn(s, " \t");
			nl = realloc(longline, have + strlen(t) + 1);
			if (!nl) {
				rc = oom(p);
				break;
			}
			if (!longline) {
				long_start = lineno;
				nl[0] = '\0';
			}
			longline = nl;
			strcat(longline, t);
			continue;
		}
		if (longline) {
			char *t = s + strspn(s, " \t");
			char *nl = realloc(longline, strlen(longline) + strlen(t) + 1);

			if (!nl) {
				rc = oom(p);
				break;
			}
			longline = nl;
			strcat(longline, t);
			p->line = long_start;
			stmt = trim(longline);
			rc = *stmt ? statement(p, stmt) : 0;
			free(longline);
			longline = NULL;
			continue;
		}
		stmt = trim(s);
		if (!*stmt)
			continue;
		{
			char *path;
			bool optional;

			if (is_include(stmt, &path, &optional)) {
				rc = include(p, path, optional);
				continue;
			}
		}
		if (is_heredoc(stmt)) {
			rc = fail(p, -EINVAL, "here documents (KEY <<END) are not supported");
			continue;
		}
		/* <block name/>: an empty block */
		n = strlen(stmt);
		if (stmt[0] == '<' && stmt[1] != '/' && n > 3 &&
		    stmt[n - 2] == '/' && stmt[n - 1] == '>') {
			char kind[64];
			size_t kl = strcspn(stmt + 1, " \t/");

			if (kl >= sizeof(kind)) {
				rc = fail(p, -EINVAL, "a block name too long");
				continue;
			}
			memcpy(kind, stmt + 1, kl);
			kind[kl] = '\0';
			stmt[n - 2] = '>';
			stmt[n - 1] = '\0';
			rc = statement(p, stmt);
			if (!rc)
				rc = block_close(p, kind);
			continue;
		}
		rc = statement(p, stmt);
	}
	if (!rc && longline) {
		p->line = long_start;
		rc = statement(p, trim(longline));
	}
	free(longline);
	free(buf);
	if (rc)
		return rc;
	p->file = file;
	p->line = lineno;
	if (c_comment) {
		p->line = comment_start;
		return fail(p, -EINVAL, "a /* comment is not closed");
	}
	/* a block opened in this file is closed in it */
	if (depth(p) != p->floor) {
		p->line = p->block_line;
		p->file = p->block_file;
		return fail(p, -EINVAL, "<%s> is not closed before the end of the file",
			    p->block == B_STORE ? (cur_target(p)->stores[p->store].direct ?
			    "direct-store" : "backing-store") : "target");
	}
	p->floor = outer_floor;
	return 0;
}

static bool loaded(struct parser *p, const char *id)
{
	for (size_t i = 0; i < p->nloaded; i++)
		if (!strcmp(p->loaded[i], id))
			return true;
	return false;
}

/* Reads and parses one file (not a glob, not a directory). */
static int include_file(struct parser *p, const char *path, char *text,
			char *id)
{
	struct tgtconf *c = p->conf;
	const char *ifile = p->file;
	int iline = p->line, rc;
	char *name = NULL, msg[4200];

	for (int i = 0; i < p->depth; i++)
		if (!strcmp(p->chain[i], id)) {
			rc = fail(p, -ELOOP, "include %s: an include loop (that file is being read already)",
				  path);
			goto out;
		}
	if (loaded(p, id)) {
		/* Config::General reads a file once: "already loaded" */
		snprintf(msg, sizeof(msg), "%s:%d: %s was read already; not again",
			 ifile, iline, path);
		rc = push_str(&c->warnings, &c->nwarnings, msg) ? oom(p) : 0;
		goto out;
	}
	if (p->depth >= TGTCONF_MAX_DEPTH) {
		rc = fail(p, -ELOOP, "include %s: includes nested deeper than %d",
			  path, TGTCONF_MAX_DEPTH);
		goto out;
	}
	if (push_str(&p->loaded, &p->nloaded, id) ||
	    push_str(&c->files, &c->nfiles, path)) {
		rc = oom(p);
		goto out;
	}
	name = c->files[c->nfiles - 1];
	p->chain[p->depth++] = p->loaded[p->nloaded - 1];
	rc = parse_text(p, name, text);
	p->depth--;
	if (!rc) {
		p->file = ifile;
		p->line = iline;
	}
out:
	free(text);
	free(id);
	return rc;
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[{\\") != NULL;
}

static int include_list(struct parser *p, const char *pattern, bool dir)
{
	char **paths = NULL;
	size_t n = 0, i;
	int rc = p->io->expand(p->io->ctx, pattern, dir, &paths, &n);

	if (rc)
		return fail(p, rc, "include %s: %s", pattern, strerror(-rc));
	for (i = 0; i < n && !rc; i++) {
		char *text = NULL, *id = NULL;

		rc = p->io->read(p->io->ctx, paths[i], &text, &id);
		/*
		 * Gone since the glob listed it: a writer's temp file renamed
		 * over its final name (OpenStack Cinder writes each volume's
		 * file so, in the included directory). Config::General dies
		 * there; the glob is read as it is now instead.
		 */
		if (rc == -ENOENT)
			rc = 0;
		else if (rc)
			rc = fail(p, rc, "include %s: %s: %s", pattern, paths[i],
				  strerror(-rc));
		else
			rc = include_file(p, paths[i], text, id);
	}
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

/*
 * Config::General::_open(): a glob expands to the regular files it
 * matches (none is fine), a directory to its regular files, a file that
 * does not exist is an error (not with "includeoptional").
 */
static int include(struct parser *p, const char *path, bool optional)
{
	char *text = NULL, *id = NULL;
	int rc;

	if (is_glob(path))
		return include_list(p, path, false);
	rc = p->io->read(p->io->ctx, path, &text, &id);
	if (rc == -ENOENT && optional)
		return 0;
	if (rc == -EISDIR)
		return include_list(p, path, true);
	if (rc == -ENOENT)
		return fail(p, rc, "include %s: the file does not exist", path);
	if (rc)
		return fail(p, rc, "include %s: %s", path, strerror(-rc));
	return include_file(p, path, text, id);
}

static int cmp_store(const void *a, const void *b)
{
	const struct tgtconf_store *x = a, *y = b;

	if (x->direct != y->direct)
		return x->direct ? 1 : -1;
	return strcmp(x->path, y->path);
}

static int cmp_target(const void *a, const void *b)
{
	const struct tgtconf_target *x = a, *y = b;

	return strcmp(x->iqn, y->iqn);
}

static const struct tgtconf_opt *opt_in(const struct tgtconf_opt *o, size_t n,
					const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(o[i].key, key))
			return &o[i];
	return NULL;
}

/*
 * LUN numbers as tgt-admin gives them (add_backing_direct, find_next_lun):
 * backing-stores in path order, then direct-stores; a target-level `lun`
 * applies to its store; a store's own `lun` is reserved from the start;
 * any other store takes the lowest free number from 1.
 */
static int number_luns(struct parser *p, struct tgtconf_target *t)
{
	const struct tgtconf_opt *tl = opt_in(t->opts, t->nopts, "lun");
	unsigned char used[65536 / 8] = { 0 };
	size_t i;

	if (t->nstores > 1)
		qsort(t->stores, t->nstores, sizeof(*t->stores), cmp_store);
	if (tl && t->nstores > 1) {
		p->file = tl->file;
		p->line = tl->line;
		return fail(p, -EINVAL, "lun %s at target level, but target %s has %zu stores: give each its lun inside <backing-store PATH>",
			    tl->value, t->iqn, t->nstores);
	}
	for (i = 0; i < t->nstores; i++) {
		const struct tgtconf_opt *l = opt_in(t->stores[i].opts,
						     t->stores[i].nopts, "lun");
		unsigned v;

		t->stores[i].lun = 0;
		if (!l)
			continue;
		v = (unsigned)atoi(l->value);
		if (used[v / 8] & (1u << (v % 8))) {
			p->file = l->file;
			p->line = l->line;
			return fail(p, -EINVAL, "lun %u given to two stores of %s", v,
				    t->iqn);
		}
		used[v / 8] |= (unsigned char)(1u << (v % 8));
		t->stores[i].lun = v;
	}
	for (i = 0; i < t->nstores; i++) {
		unsigned v = 1;

		if (tl) {
			t->stores[i].lun = (unsigned)atoi(tl->value);
			continue;
		}
		if (opt_in(t->stores[i].opts, t->stores[i].nopts, "lun"))
			continue;
		while (v < 65536 && used[v / 8] & (1u << (v % 8)))
			v++;
		if (v == 65536)
			return fail(p, -EINVAL, "target %s: no free LUN", t->iqn);
		used[v / 8] |= (unsigned char)(1u << (v % 8));
		t->stores[i].lun = v;
	}
	return 0;
}

static void opts_free(struct tgtconf_opt *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].key);
		if (o[i].value)
			explicit_bzero(o[i].value, strlen(o[i].value));
		free(o[i].value);
	}
	free(o);
}

void tgtconf_free(struct tgtconf *c)
{
	size_t i, j;

	if (!c)
		return;
	for (i = 0; i < c->ntargets; i++) {
		struct tgtconf_target *t = &c->targets[i];

		for (j = 0; j < t->nstores; j++) {
			free(t->stores[j].path);
			opts_free(t->stores[j].opts, t->stores[j].nopts);
		}
		free(t->stores);
		opts_free(t->opts, t->nopts);
		free(t->iqn);
	}
	free(c->targets);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	for (i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	opts_free(c->discovery_in, c->discovery_in ? 1 : 0);
	opts_free(c->discovery_out, c->discovery_out ? 1 : 0);
	free(c->default_driver);
	free(c);
}

static int parse(struct parser *p, const char *name, char *text, char *id)
{
	int rc = include_file(p, name, text, id);
	size_t i;

	for (i = 0; !rc && i < p->conf->ntargets; i++)
		rc = number_luns(p, &p->conf->targets[i]);
	/* qsort's base may not be NULL, even for no element */
	if (!rc && p->conf->ntargets > 1)
		qsort(p->conf->targets, p->conf->ntargets,
		      sizeof(*p->conf->targets), cmp_target);
	return rc;
}

static int run(const char *name, char *text, char *id,
	       const struct tgtconf_io *io, struct tgtconf **out, char *err,
	       size_t errlen)
{
	struct parser p = { .io = io, .err = err, .errlen = errlen };
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p.conf = calloc(1, sizeof(*p.conf));
	if (!p.conf) {
		free(text);
		free(id);
		return fail(&p, -ENOMEM, "out of memory");
	}
	p.conf->control_port = -1;
	rc = parse(&p, name, text, id);
	for (size_t i = 0; i < p.nloaded; i++)
		free(p.loaded[i]);
	free(p.loaded);
	if (rc) {
		tgtconf_free(p.conf);
		return rc;
	}
	*out = p.conf;
	return 0;
}

int tgtconf_parse(const char *name, const char *text,
		  const struct tgtconf_io *io, struct tgtconf **out,
		  char *err, size_t errlen)
{
	char *t = strdup(text), *id = strdup(name);

	if (!t || !id) {
		free(t);
		free(id);
		*out = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return run(name, t, id, io, out, err, errlen);
}

int tgtconf_load(const char *path, const struct tgtconf_io *io,
		 struct tgtconf **out, char *err, size_t errlen)
{
	const char *name = path ? path : TGTCONF_DEFAULT_PATH;
	char *text = NULL, *id = NULL;
	int rc = io->read(io->ctx, name, &text, &id);

	*out = NULL;
	if (rc == -ENOENT && !path) {
		/* Debian's targets.conf holds only this line */
		text = strdup(TGTCONF_DEBIAN_DEFAULT);
		id = strdup(name);
		if (!text || !id) {
			free(text);
			free(id);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		rc = 0;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", name, rc == -ENOENT ?
			 "the config file does not exist" : strerror(-rc));
		return rc;
	}
	return run(name, text, id, io, out, err, errlen);
}

const struct tgtconf_opt *tgtconf_target_opt(const struct tgtconf_target *t,
					     const char *key)
{
	return opt_in(t->opts, t->nopts, key);
}

const struct tgtconf_opt *tgtconf_store_opt(const struct tgtconf_target *t,
					    const struct tgtconf_store *s,
					    const char *key)
{
	const struct tgtconf_opt *o = opt_in(s->opts, s->nopts, key);

	return o ? o : opt_in(t->opts, t->nopts, key);
}

const struct tgtconf_target *tgtconf_find(const struct tgtconf *conf,
					  const char *iqn)
{
	for (size_t i = 0; i < conf->ntargets; i++)
		if (!strcmp(conf->targets[i].iqn, iqn))
			return &conf->targets[i];
	return NULL;
}
