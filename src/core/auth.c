/*
 * auth.c - CHAP accounts and the authentication policy of targets and
 * discovery sessions. Accounts live on one list; a target keeps its own
 * bindings (struct core_target_auth, inside struct tgt_target) as pointers
 * to accounts, and each account counts how often it is bound, so removal
 * knows at once whether it is in use. Discovery has one more set of
 * bindings here. Everything is guarded by core_lock, which reactors take
 * at login: nothing under it blocks or logs, and what the login calls
 * (core_auth_policy/_incoming/_outgoing) only copies and returns.
 *
 * Secrets are copied out only by core_auth_incoming() / _outgoing() and
 * core_accounts_json(true), never logged or put in an error sentence, and
 * wiped (OPENSSL_cleanse) when their account goes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "base/base.h"
#include "base/log.h"
#include "core.h"
#include "core_internal.h"

struct core_account {
	struct list_head link;		/* core_accounts, under core_lock */
	unsigned nincoming;		/* bindings as incoming (targets, discovery) */
	unsigned noutgoing;		/* bindings as outgoing */
	size_t secret_len;
	char name[CORE_ACCOUNT_NAME_MAX + 1];
	uint8_t secret[CORE_SECRET_MAX];
};

static struct list_head core_accounts = LIST_HEAD_INIT(core_accounts);
static struct core_target_auth disc_auth = { .algs = CORE_CHAP_ALL };
static enum core_disc_auth disc_mode = CORE_DISC_AUTH_NONE;

/* --- algorithm lists ----------------------------------------------------- */

static const struct {
	const char *name;	/* how lists print it (open-iscsi's chap_algs) */
	const char *alias;	/* another accepted spelling */
	unsigned bit;
} chap_alg_names[] = {
	{ "MD5", NULL, CORE_CHAP_MD5 },
	{ "SHA1", "SHA-1", CORE_CHAP_SHA1 },
	{ "SHA256", "SHA-256", CORE_CHAP_SHA256 },
	{ "SHA3-256", NULL, CORE_CHAP_SHA3_256 },
};

int core_chap_algs_parse(const char *list, unsigned *bits, char *why,
			 size_t whylen)
{
	unsigned got = 0;
	const char *p = list ? list : "";

	while (*p) {
		size_t n = strcspn(p, ", \t");
		size_t i;

		if (n == 0) {
			p++;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(chap_alg_names); i++) {
			const char *a = chap_alg_names[i].alias;

			if ((strlen(chap_alg_names[i].name) == n &&
			     strncasecmp(p, chap_alg_names[i].name, n) == 0) ||
			    (a && strlen(a) == n && strncasecmp(p, a, n) == 0))
				break;
		}
		if (i == ARRAY_SIZE(chap_alg_names)) {
			snprintf(why, whylen,
				 "unknown CHAP algorithm '%.*s' (use MD5, SHA1, SHA256, SHA3-256)",
				 (int)(n > 32 ? 32 : n), p);
			return -EINVAL;
		}
		got |= chap_alg_names[i].bit;
		p += n;
	}
	if (!got) {
		snprintf(why, whylen,
			 "no CHAP algorithm given (use MD5, SHA1, SHA256, SHA3-256)");
		return -EINVAL;
	}
	*bits = got;
	return 0;
}

void core_chap_algs_format(unsigned bits, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(chap_alg_names) && used < len; i++) {
		int n;

		if (!(bits & chap_alg_names[i].bit))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
			     chap_alg_names[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* --- per-target state (called by core.c) -------------------------------- */

void core_auth_target_init(struct core_target_auth *a)
{
	*a = (struct core_target_auth){ .algs = CORE_CHAP_ALL };
}

/* Caller holds core_lock. Drops every binding of @a. */
static void auth_unbind_all(struct core_target_auth *a)
{
	for (int i = 0; i < a->nincoming; i++)
		a->incoming[i]->nincoming--;
	a->nincoming = 0;
	if (a->outgoing)
		a->outgoing->noutgoing--;
	a->outgoing = NULL;
}

void core_auth_target_unlinked(struct core_target_auth *a)
{
	auth_unbind_all(a);
	a->removed = true;
}

void core_auth_target_free(struct core_target_auth *a)
{
	free(a->incoming);
	a->incoming = NULL;
}

/* Caller holds core_lock. */
void core_auth_target_json(const struct core_target_auth *a,
			   struct json_object *o)
{
	json_object *in = json_object_new_array();
	char algs[64];

	for (int i = 0; i < a->nincoming; i++)
		json_object_array_add(in,
			json_object_new_string(a->incoming[i]->name));
	core_chap_algs_format(a->algs, algs, sizeof(algs));
	json_object_object_add(o, "incoming_accounts", in);
	json_object_object_add(o, "outgoing_account", a->outgoing ?
			       json_object_new_string(a->outgoing->name) : NULL);
	json_object_object_add(o, "chap_algorithms",
			       json_object_new_string(algs));
}

/* --- accounts ------------------------------------------------------------ */

/* 1..CORE_ACCOUNT_NAME_MAX printable ASCII bytes, no space, no comma. */
static int account_name_check(const char *name, struct core_err *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > CORE_ACCOUNT_NAME_MAX)
		return core_fail(err, -EINVAL,
				 "an account name is 1..%d characters",
				 CORE_ACCOUNT_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == ',')
			return core_fail(err, -EINVAL,
					 "account name '%s': printable ASCII only, without spaces or commas",
					 name);
	return 0;
}

/* Caller holds core_lock. */
static struct core_account *account_lookup(const char *name)
{
	struct core_account *acc;

	if (!name)
		return NULL;
	/* CHAP_N is compared octet for octet (RFC 1994 §4.1 Name). */
	list_for_each_entry(acc, &core_accounts, link)
		if (strcmp(acc->name, name) == 0)
			return acc;
	return NULL;
}

static void account_wipe_free(struct core_account *acc)
{
	OPENSSL_cleanse(acc, sizeof(*acc));
	free(acc);
}

int core_account_add(const char *name, const char *secret,
		     struct core_err *err)
{
	struct core_account *acc;
	size_t n = secret ? strlen(secret) : 0;
	int rc;

	if (err)
		err->msg[0] = '\0';
	rc = account_name_check(name, err);
	if (rc)
		return rc;
	if (n == 0 || n > CORE_SECRET_MAX)
		return core_fail(err, -EINVAL,
				 "account %s: a secret is 1..%d bytes", name,
				 CORE_SECRET_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)secret[i] < 0x20 || secret[i] == 0x7f)
			return core_fail(err, -EINVAL,
					 "account %s: the secret must not contain control characters",
					 name);
	acc = calloc(1, sizeof(*acc));
	if (!acc)
		return core_fail(err, -ENOMEM, "out of memory");
	snprintf(acc->name, sizeof(acc->name), "%s", name);
	memcpy(acc->secret, secret, n);
	acc->secret_len = n;
	list_init(&acc->link);

	pthread_mutex_lock(&core_lock);
	if (account_lookup(name)) {
		pthread_mutex_unlock(&core_lock);
		account_wipe_free(acc);
		return core_fail(err, -EEXIST, "account %s already exists",
				 name);
	}
	list_add_tail(&acc->link, &core_accounts);
	pthread_mutex_unlock(&core_lock);

	/* RFC 7143 §12.1.3: shorter secrets are open to offline guessing. */
	if (n < CORE_SECRET_RECOMMENDED) {
		log_warn("account %s added with a secret shorter than %d bytes; "
			 "%d or more are recommended (RFC 7143 §12.1.3)",
			 name, CORE_SECRET_RECOMMENDED, CORE_SECRET_RECOMMENDED);
		core_fail(err, 0,
			  "account %s: the secret is shorter than %d bytes; %d or more are recommended",
			  name, CORE_SECRET_RECOMMENDED, CORE_SECRET_RECOMMENDED);
	} else {
		log_info("account %s added", name);
	}
	return 0;
}

/* Caller holds core_lock. Removes @acc from @a's bindings. */
static void auth_drop_account(struct core_target_auth *a,
			      struct core_account *acc)
{
	for (int i = 0; i < a->nincoming; i++) {
		if (a->incoming[i] != acc)
			continue;
		memmove(&a->incoming[i], &a->incoming[i + 1],
			(size_t)(a->nincoming - i - 1) * sizeof(a->incoming[0]));
		a->nincoming--;
		acc->nincoming--;
		break;
	}
	if (a->outgoing == acc) {
		a->outgoing = NULL;
		acc->noutgoing--;
	}
}

int core_account_remove(const char *name, bool force, struct core_err *err)
{
	struct core_account *acc;
	struct tgt_target *t;
	unsigned n;

	pthread_mutex_lock(&core_lock);
	acc = account_lookup(name);
	if (!acc) {
		pthread_mutex_unlock(&core_lock);
		return core_fail(err, -ENOENT, "no account %s",
				 name ? name : "");
	}
	n = acc->nincoming + acc->noutgoing;
	if (n && !force) {
		pthread_mutex_unlock(&core_lock);
		return core_fail(err, -EBUSY,
				 "account %s is bound %u time%s; unbind it or use --force",
				 name, n, n == 1 ? "" : "s");
	}
	for (t = core_target_next_locked(NULL);
	     t && acc->nincoming + acc->noutgoing;
	     t = core_target_next_locked(t))
		auth_drop_account(core_target_auth_state(t), acc);
	auth_drop_account(&disc_auth, acc);
	list_del(&acc->link);
	pthread_mutex_unlock(&core_lock);
	log_info("account %s removed%s", name, n ? " and unbound" : "");
	account_wipe_free(acc);
	return 0;
}

/* --- bindings ------------------------------------------------------------ */

/*
 * Caller holds core_lock. RFC 7143 §12.1.3: a secret that authenticates
 * initiators must not authenticate a target, and the other way round. True
 * (and a sentence in @err) when binding @acc in the role @outgoing would
 * use a secret that some account holds in the other role.
 */
static bool auth_role_conflict(const struct core_account *acc, bool outgoing,
			       struct core_err *err)
{
	const struct core_account *o;

	list_for_each_entry(o, &core_accounts, link) {
		unsigned other = outgoing ? o->nincoming : o->noutgoing;

		if (!other)
			continue;
		if (o == acc) {
			core_fail(err, -EINVAL,
				  "account %s is bound as %s; one secret must not authenticate both initiators and targets (RFC 7143 §12.1.3)",
				  acc->name, outgoing ? "incoming" : "outgoing");
			return true;
		}
		if (o->secret_len == acc->secret_len &&
		    CRYPTO_memcmp(o->secret, acc->secret, acc->secret_len) == 0) {
			core_fail(err, -EINVAL,
				  "accounts %s and %s have the same secret and %s is bound as %s; one secret must not authenticate both initiators and targets (RFC 7143 §12.1.3)",
				  acc->name, o->name, o->name,
				  outgoing ? "incoming" : "outgoing");
			return true;
		}
	}
	return false;
}

/* Caller holds core_lock: the bindings of @iqn (NULL: discovery). */
static struct core_target_auth *auth_state_lookup(const char *iqn,
						  struct core_err *err)
{
	struct tgt_target *t;

	if (!iqn)
		return &disc_auth;
	t = core_target_lookup_locked(iqn);
	if (!t) {
		core_fail(err, -ENOENT, "no target %s", iqn);
		return NULL;
	}
	return core_target_auth_state(t);
}

/*
 * Caller holds core_lock: the account @name and the bindings of target
 * @iqn (NULL: discovery) for bind/unbind; 0 or -ENOENT with a sentence.
 */
static int binding_lookup(const char *iqn, const char *name,
			  struct core_account **acc,
			  struct core_target_auth **a, struct core_err *err)
{
	*acc = account_lookup(name);
	if (!*acc)
		return core_fail(err, -ENOENT, "no account %s",
				 name ? name : "");
	*a = auth_state_lookup(iqn, err);
	return *a ? 0 : -ENOENT;
}

int core_account_bind(const char *iqn, const char *name, bool outgoing,
		      struct core_err *err)
{
	const char *where = iqn ? iqn : "discovery";
	struct core_target_auth *a;
	struct core_account *acc, **v;
	int rc = 0;

	pthread_mutex_lock(&core_lock);
	rc = binding_lookup(iqn, name, &acc, &a, err);
	if (rc)
		goto out;
	if (outgoing) {
		if (a->outgoing) {
			rc = core_fail(err, -EEXIST,
				       a->outgoing == acc ?
				       "%s: account %s is already the outgoing account" :
				       "%s: account %s is the outgoing account; unbind it first",
				       where, a->outgoing->name);
			goto out;
		}
	} else {
		for (int i = 0; i < a->nincoming; i++) {
			if (a->incoming[i] == acc) {
				rc = core_fail(err, -EEXIST,
					       "%s: account %s is already bound",
					       where, acc->name);
				goto out;
			}
		}
	}
	if (auth_role_conflict(acc, outgoing, err)) {
		rc = -EINVAL;
		goto out;
	}
	if (outgoing) {
		a->outgoing = acc;
		acc->noutgoing++;
	} else {
		v = realloc(a->incoming,
			    (size_t)(a->nincoming + 1) * sizeof(*v));
		if (!v) {
			rc = core_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		a->incoming = v;
		a->incoming[a->nincoming++] = acc;
		acc->nincoming++;
	}
out:
	pthread_mutex_unlock(&core_lock);
	if (rc == 0)
		log_info("%s: account %s bound as %s", where, name,
			 outgoing ? "outgoing" : "incoming");
	return rc;
}

int core_account_unbind(const char *iqn, const char *name, bool outgoing,
			struct core_err *err)
{
	const char *where = iqn ? iqn : "discovery";
	struct core_target_auth *a;
	struct core_account *acc;
	bool disc_locked_out = false;
	int rc = 0;

	pthread_mutex_lock(&core_lock);
	rc = binding_lookup(iqn, name, &acc, &a, err);
	if (rc)
		goto out;
	rc = core_fail(err, -ENOENT, "%s: account %s is not bound as %s",
		       where, acc->name, outgoing ? "outgoing" : "incoming");
	if (outgoing && a->outgoing == acc) {
		a->outgoing = NULL;
		acc->noutgoing--;
		rc = 0;
	}
	for (int i = 0; !outgoing && i < a->nincoming; i++) {
		if (a->incoming[i] != acc)
			continue;
		memmove(&a->incoming[i], &a->incoming[i + 1],
			(size_t)(a->nincoming - i - 1) * sizeof(a->incoming[0]));
		a->nincoming--;
		acc->nincoming--;
		rc = 0;
		break;
	}
	if (rc == 0 && err)
		err->msg[0] = '\0';
	/* Discovery stays protected: with no account nobody gets in. */
	disc_locked_out = rc == 0 && a == &disc_auth &&
		((disc_mode != CORE_DISC_AUTH_NONE && !a->nincoming) ||
		 (disc_mode == CORE_DISC_AUTH_MUTUAL && !a->outgoing));
out:
	pthread_mutex_unlock(&core_lock);
	if (rc == 0)
		log_info("%s: account %s unbound", where, name);
	if (disc_locked_out)
		log_warn("discovery authentication is on but the accounts it needs "
			 "are no longer bound: discovery logins will fail");
	return rc;
}

/* --- discovery and algorithms -------------------------------------------- */

int core_discovery_auth_set(enum core_disc_auth mode, struct core_err *err)
{
	static const char *const names[] = { "none", "chap", "mutual" };
	int rc = 0;

	if (mode != CORE_DISC_AUTH_NONE && mode != CORE_DISC_AUTH_CHAP &&
	    mode != CORE_DISC_AUTH_MUTUAL)
		return core_fail(err, -EINVAL, "unknown discovery auth mode %d",
				 (int)mode);
	pthread_mutex_lock(&core_lock);
	if (mode != CORE_DISC_AUTH_NONE && !disc_auth.nincoming)
		rc = core_fail(err, -EINVAL,
			       "discovery auth %s needs an incoming account bound to discovery",
			       names[mode]);
	else if (mode == CORE_DISC_AUTH_MUTUAL && !disc_auth.outgoing)
		rc = core_fail(err, -EINVAL,
			       "discovery auth mutual needs an outgoing account bound to discovery");
	else
		disc_mode = mode;
	pthread_mutex_unlock(&core_lock);
	if (rc == 0)
		log_info("discovery authentication: %s", names[mode]);
	return rc;
}

enum core_disc_auth core_discovery_auth(void)
{
	enum core_disc_auth m;

	pthread_mutex_lock(&core_lock);
	m = disc_mode;
	pthread_mutex_unlock(&core_lock);
	return m;
}

int core_target_chap_algs(const char *iqn, unsigned bits,
			  struct core_err *err)
{
	struct tgt_target *t;
	int rc = 0;

	if (!iqn)
		return core_fail(err, -EINVAL, "no target name given");
	if (bits == 0 || (bits & ~(unsigned)CORE_CHAP_ALL))
		return core_fail(err, -EINVAL,
				 "CHAP algorithms: at least one of MD5, SHA1, SHA256, SHA3-256");
	pthread_mutex_lock(&core_lock);
	t = core_target_lookup_locked(iqn);
	if (t)
		core_target_auth_state(t)->algs = bits;
	else
		rc = core_fail(err, -ENOENT, "no target %s", iqn);
	pthread_mutex_unlock(&core_lock);
	return rc;
}

/* --- for the login (reactor threads: short, no allocation) -------------- */

void core_auth_policy(struct tgt_target *t, struct core_auth_policy *p)
{
	pthread_mutex_lock(&core_lock);
	if (t) {
		const struct core_target_auth *a = core_target_auth_state(t);

		/*
		 * A target removed while a login held a reference has lost
		 * its bindings; it must not turn into one open to all.
		 */
		p->chap_required = a->nincoming > 0 || a->removed;
		p->mutual_required = false;
		p->has_outgoing = a->outgoing != NULL;
		p->algs = a->algs;
	} else {
		p->chap_required = disc_mode != CORE_DISC_AUTH_NONE;
		p->mutual_required = disc_mode == CORE_DISC_AUTH_MUTUAL;
		p->has_outgoing = disc_auth.outgoing != NULL;
		p->algs = disc_auth.algs;
	}
	pthread_mutex_unlock(&core_lock);
}

int core_auth_incoming(struct tgt_target *t, const char *user,
		       uint8_t *secret, size_t cap)
{
	const struct core_target_auth *a;
	int rc = -ENOENT;

	if (!user)
		return -ENOENT;
	pthread_mutex_lock(&core_lock);
	a = t ? core_target_auth_state(t) : &disc_auth;
	/* Only accounts bound to this target (or discovery) qualify. */
	for (int i = 0; i < a->nincoming; i++) {
		const struct core_account *acc = a->incoming[i];

		if (strcmp(acc->name, user) != 0)
			continue;
		if (acc->secret_len > cap) {
			rc = -ENOSPC;
			break;
		}
		memcpy(secret, acc->secret, acc->secret_len);
		rc = (int)acc->secret_len;
		break;
	}
	pthread_mutex_unlock(&core_lock);
	return rc;
}

int core_auth_outgoing(struct tgt_target *t, char *user, size_t ucap,
		       uint8_t *secret, size_t cap)
{
	const struct core_target_auth *a;
	const struct core_account *acc;
	int rc = -ENOENT;

	pthread_mutex_lock(&core_lock);
	a = t ? core_target_auth_state(t) : &disc_auth;
	acc = a->outgoing;
	if (acc) {
		if (acc->secret_len > cap || strlen(acc->name) >= ucap) {
			rc = -ENOSPC;
		} else {
			memcpy(user, acc->name, strlen(acc->name) + 1);
			memcpy(secret, acc->secret, acc->secret_len);
			rc = (int)acc->secret_len;
		}
	}
	pthread_mutex_unlock(&core_lock);
	return rc;
}

/* --- JSON for control ---------------------------------------------------- */

json_object *core_accounts_json(bool show_secrets)
{
	static const char *const modes[] = { "none", "chap", "mutual" };
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object *disc = json_object_new_object();
	json_object *din = json_object_new_array();
	struct core_account *acc;
	struct tgt_target *t;

	pthread_mutex_lock(&core_lock);
	list_for_each_entry(acc, &core_accounts, link) {
		json_object *o = json_object_new_object();
		json_object *in = json_object_new_array();
		json_object *out = json_object_new_array();
		const char *d = NULL;

		json_object_object_add(o, "name",
				       json_object_new_string(acc->name));
		if (show_secrets)
			json_object_object_add(o, "secret",
				json_object_new_string_len(
					(const char *)acc->secret,
					(int)acc->secret_len));
		for (t = core_target_next_locked(NULL);
		     t && acc->nincoming + acc->noutgoing;
		     t = core_target_next_locked(t)) {
			const struct core_target_auth *a =
				core_target_auth_state(t);

			for (int i = 0; i < a->nincoming; i++)
				if (a->incoming[i] == acc)
					json_object_array_add(in,
						json_object_new_string(
							core_target_iqn(t)));
			if (a->outgoing == acc)
				json_object_array_add(out,
					json_object_new_string(core_target_iqn(t)));
		}
		for (int i = 0; i < disc_auth.nincoming; i++)
			if (disc_auth.incoming[i] == acc)
				d = "incoming";
		if (disc_auth.outgoing == acc)
			d = "outgoing";
		json_object_object_add(o, "incoming", in);
		json_object_object_add(o, "outgoing", out);
		json_object_object_add(o, "discovery",
				       d ? json_object_new_string(d) : NULL);
		json_object_array_add(arr, o);
	}
	for (int i = 0; i < disc_auth.nincoming; i++)
		json_object_array_add(din,
			json_object_new_string(disc_auth.incoming[i]->name));
	json_object_object_add(disc, "auth",
			       json_object_new_string(modes[disc_mode]));
	json_object_object_add(disc, "incoming", din);
	json_object_object_add(disc, "outgoing", disc_auth.outgoing ?
			       json_object_new_string(disc_auth.outgoing->name) :
			       NULL);
	pthread_mutex_unlock(&core_lock);
	json_object_object_add(root, "accounts", arr);
	json_object_object_add(root, "discovery", disc);
	return root;
}

/* --- shutdown ------------------------------------------------------------ */

void core_auth_shutdown(void)
{
	struct core_account *acc, *tmp;
	struct list_head gone = LIST_HEAD_INIT(gone);

	pthread_mutex_lock(&core_lock);
	auth_unbind_all(&disc_auth);
	free(disc_auth.incoming);
	disc_auth.incoming = NULL;
	disc_mode = CORE_DISC_AUTH_NONE;
	list_for_each_entry_safe(acc, tmp, &core_accounts, link) {
		list_del(&acc->link);
		list_add_tail(&acc->link, &gone);
	}
	pthread_mutex_unlock(&core_lock);
	list_for_each_entry_safe(acc, tmp, &gone, link)
		account_wipe_free(acc);
}
