/*
 * pr_state.c - the APTPL state file (SPC-4 §5.13.5): the JSON codec of
 * struct scsi_pr_state (format in pr_state.h), which is pure so it can
 * be unit-tested and fuzzed, and the blocking file operations (durable
 * replace, remove, read) that pr.c runs on a worker thread and lu.c at
 * LU creation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "scsi/pr_state.h"

/* json-c nesting limit: the format is three levels deep */
#define STATE_JSON_DEPTH 8

void scsi_pr_state_free(struct scsi_pr_state *s)
{
	free(s->regs);
	memset(s, 0, sizeof(*s));
	s->holder = -1;
}

/* --- encoding ------------------------------------------------------------ */

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Adds @val to @obj under @name; false when out of memory. */
static bool add(json_object *obj, const char *name, json_object *val)
{
	if (!val)
		return false;
	if (json_object_object_add(obj, name, val) < 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

static json_object *encode_reg(const struct scsi_pr_state_reg *r)
{
	json_object *o = json_object_new_object();
	char key[19];

	if (!o)
		return NULL;
	snprintf(key, sizeof(key), "0x%016" PRIx64, r->key);
	if (!add(o, "key", json_object_new_string(key)) ||
	    !add(o, "initiator_port", json_object_new_string(r->port)) ||
	    !add(o, "relative_target_port",
		 json_object_new_int(r->rel_port_id)) ||
	    !add(o, "all_tg_pt", json_object_new_boolean(r->all_tg_pt))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *encode_reservation(const struct scsi_pr_state *s)
{
	json_object *o;

	if (!s->reserved)
		return json_object_new_null();
	o = json_object_new_object();
	if (!o)
		return NULL;
	if (!add(o, "holder", json_object_new_int(s->holder)) ||
	    !add(o, "type", json_object_new_int(s->type)) ||
	    !add(o, "scope", json_object_new_int(s->scope))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *scsi_pr_state_encode(const struct scsi_pr_state *s)
{
	json_object *top = json_object_new_object(), *regs = NULL, *res;
	char naa[33], *text = NULL;

	if (!top)
		return NULL;
	hex(naa, s->naa, sizeof(s->naa));
	if (!add(top, "format", json_object_new_string(SCSI_PR_STATE_FORMAT)) ||
	    !add(top, "version", json_object_new_int(SCSI_PR_STATE_VERSION)) ||
	    !add(top, "naa", json_object_new_string(naa)) ||
	    !add(top, "aptpl", json_object_new_boolean(s->aptpl)) ||
	    !add(top, "generation", json_object_new_int64(s->generation)))
		goto out;
	regs = json_object_new_array();
	if (!regs)
		goto out;
	for (size_t i = 0; i < s->n_regs; i++) {
		json_object *r = encode_reg(&s->regs[i]);

		if (!r || json_object_array_add(regs, r) < 0) {
			json_object_put(r);
			json_object_put(regs);
			goto out;
		}
	}
	if (!add(top, "registrations", regs))
		goto out;
	/* json-c's null is a NULL object: add it directly */
	res = encode_reservation(s);
	if (s->reserved && !res)
		goto out;
	if (json_object_object_add(top, "reservation", res) < 0) {
		json_object_put(res);
		goto out;
	}
	text = strdup(json_object_to_json_string_ext(
		top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(top);
	return text;
}

/* --- decoding ------------------------------------------------------------ */

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static uint8_t hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (uint8_t)(c - 'a' + 10);
	return (uint8_t)(c - 'A' + 10);
}

/* Member @name of @o of @type, or NULL. */
static json_object *member(json_object *o, const char *name, json_type type)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* An integer member in [min, max] into *out; false if not. */
static bool int_member(json_object *o, const char *name, int64_t min,
		       int64_t max, int64_t *out)
{
	json_object *v = member(o, name, json_type_int);
	int64_t x;

	if (!v)
		return false;
	errno = 0;
	x = json_object_get_int64(v);
	/* json-c keeps values above INT64_MAX as uint64: out of range */
	if (errno || x < min || x > max ||
	    (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)x))
		return false;
	*out = x;
	return true;
}

/* SPC-4 §6.15.3.4, table 196 */
static bool type_ok(int64_t t)
{
	return t == 1 || t == 3 || t == 5 || t == 6 || t == 7 || t == 8;
}

static bool all_registrants(int64_t t)
{
	return t == 7 || t == 8;
}

/* "<iqn>,i,0x<isid>": printable ASCII without spaces, NUL-free */
static bool port_ok(const char *p, size_t n)
{
	if (n == 0 || n >= SCSI_PR_STATE_PORT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static int decode_reg(json_object *o, size_t i, struct scsi_pr_state_reg *r,
		      char *why, size_t whylen)
{
	json_object *v;
	const char *str;
	size_t n;
	int64_t x;

	if (!json_object_is_type(o, json_type_object))
		return fail(why, whylen, "registration %zu is not an object", i);
	v = member(o, "key", json_type_string);
	str = v ? json_object_get_string(v) : NULL;
	if (!str || json_object_get_string_len(v) != 18 ||
	    strncmp(str, "0x", 2) != 0 || !is_hex(str + 2, 16))
		return fail(why, whylen,
			    "registration %zu: key is not \"0x\" and 16 hex digits",
			    i);
	r->key = 0;
	for (int k = 2; k < 18; k++)
		r->key = r->key << 4 | hex_val(str[k]);
	v = member(o, "initiator_port", json_type_string);
	n = v ? (size_t)json_object_get_string_len(v) : 0;
	if (!v || !port_ok(json_object_get_string(v), n))
		return fail(why, whylen,
			    "registration %zu: initiator_port is not a name of 1..%d printable characters",
			    i, SCSI_PR_STATE_PORT_MAX - 1);
	memcpy(r->port, json_object_get_string(v), n);
	r->port[n] = '\0';
	if (!int_member(o, "relative_target_port", 1, 65535, &x))
		return fail(why, whylen,
			    "registration %zu: relative_target_port is not 1..65535",
			    i);
	r->rel_port_id = (uint16_t)x;
	v = member(o, "all_tg_pt", json_type_boolean);
	if (!v)
		return fail(why, whylen,
			    "registration %zu: all_tg_pt is not true or false",
			    i);
	r->all_tg_pt = json_object_get_boolean(v);
	return 0;
}

static int decode_regs(json_object *arr, struct scsi_pr_state *s, char *why,
		       size_t whylen)
{
	size_t n = json_object_array_length(arr);
	int rc;

	if (n > SCSI_PR_STATE_MAX_REGS)
		return fail(why, whylen, "%zu registrations, more than %d", n,
			    SCSI_PR_STATE_MAX_REGS);
	if (n == 0)
		return 0;
	s->regs = calloc(n, sizeof(*s->regs));
	if (!s->regs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rc = decode_reg(json_object_array_get_idx(arr, i), i,
				&s->regs[i], why, whylen);
		if (rc)
			return rc;
		s->n_regs = i + 1;
		/* one registration per I_T nexus (SPC-4 §5.13.7) */
		for (size_t j = 0; j < i; j++)
			if (s->regs[j].rel_port_id == s->regs[i].rel_port_id &&
			    strcmp(s->regs[j].port, s->regs[i].port) == 0)
				return fail(why, whylen,
					    "registrations %zu and %zu are the same I_T nexus",
					    j, i);
	}
	return 0;
}

static int decode_reservation(json_object *top, struct scsi_pr_state *s,
			      char *why, size_t whylen)
{
	json_object *o;
	int64_t holder, type, scope;

	if (!json_object_object_get_ex(top, "reservation", &o))
		return fail(why, whylen, "no member \"reservation\"");
	if (!o)
		return 0;	/* null: not reserved */
	if (!json_object_is_type(o, json_type_object))
		return fail(why, whylen, "reservation is neither null nor an object");
	if (!int_member(o, "type", 0, 15, &type) || !type_ok(type))
		return fail(why, whylen, "reservation type is not 1, 3, 5, 6, 7 or 8");
	/* SPC-4 §6.16.2: only LU_SCOPE (0) is defined */
	if (!int_member(o, "scope", 0, 0, &scope))
		return fail(why, whylen, "reservation scope is not 0 (LU_SCOPE)");
	if (!int_member(o, "holder", -1, (int64_t)s->n_regs - 1, &holder))
		return fail(why, whylen,
			    "reservation holder is not -1 or a registration index");
	if (all_registrants(type) ? holder != -1 : holder < 0)
		return fail(why, whylen,
			    "reservation holder %" PRId64 " does not fit type %" PRId64,
			    holder, type);
	if (s->n_regs == 0)
		return fail(why, whylen, "a reservation without registrations");
	s->reserved = true;
	s->type = (uint8_t)type;
	s->scope = (uint8_t)scope;
	s->holder = (int)holder;
	return 0;
}

static int decode_top(json_object *top, struct scsi_pr_state *s, char *why,
		      size_t whylen)
{
	json_object *v;
	const char *str;
	int64_t x;
	int rc;

	if (!json_object_is_type(top, json_type_object))
		return fail(why, whylen, "not a JSON object");
	v = member(top, "format", json_type_string);
	if (!v || strcmp(json_object_get_string(v), SCSI_PR_STATE_FORMAT) != 0)
		return fail(why, whylen, "\"format\" is not \"%s\"",
			    SCSI_PR_STATE_FORMAT);
	if (!int_member(top, "version", INT32_MIN, INT32_MAX, &x))
		return fail(why, whylen, "no integer \"version\"");
	if (x != SCSI_PR_STATE_VERSION)
		return fail(why, whylen, "version %" PRId64 ", expected %d", x,
			    SCSI_PR_STATE_VERSION);
	v = member(top, "naa", json_type_string);
	str = v ? json_object_get_string(v) : NULL;
	if (!str || json_object_get_string_len(v) != 32 || !is_hex(str, 32))
		return fail(why, whylen, "\"naa\" is not 32 hex digits");
	for (int i = 0; i < 16; i++)
		s->naa[i] = (uint8_t)(hex_val(str[2 * i]) << 4 |
				      hex_val(str[2 * i + 1]));
	v = member(top, "aptpl", json_type_boolean);
	if (!v)
		return fail(why, whylen, "\"aptpl\" is not true or false");
	s->aptpl = json_object_get_boolean(v);
	if (!int_member(top, "generation", 0, UINT32_MAX, &x))
		return fail(why, whylen, "\"generation\" is not 0..4294967295");
	s->generation = (uint32_t)x;
	v = member(top, "registrations", json_type_array);
	if (!v)
		return fail(why, whylen, "\"registrations\" is not an array");
	rc = decode_regs(v, s, why, whylen);
	if (rc)
		return rc;
	return decode_reservation(top, s, why, whylen);
}

int scsi_pr_state_decode(const char *text, size_t len,
			 struct scsi_pr_state *s, char *why, size_t whylen)
{
	struct json_tokener *tok;
	json_object *top = NULL;
	enum json_tokener_error jerr;
	int rc;

	memset(s, 0, sizeof(*s));
	s->holder = -1;
	if (len > SCSI_PR_STATE_FILE_MAX || len > INT32_MAX)
		return fail(why, whylen, "larger than %u bytes",
			    SCSI_PR_STATE_FILE_MAX);
	tok = json_tokener_new_ex(STATE_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	top = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		rc = fail(why, whylen, "truncated JSON");
		goto out;
	}
	if (jerr != json_tokener_success || !top) {
		rc = fail(why, whylen, "not JSON: %s",
			  json_tokener_error_desc(jerr));
		goto out;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' &&
		    text[i] != '\r') {
			rc = fail(why, whylen, "data after the JSON object");
			goto out;
		}
	}
	rc = decode_top(top, s, why, whylen);
out:
	if (rc)
		scsi_pr_state_free(s);
	json_object_put(top);
	json_tokener_free(tok);
	return rc;
}

/* --- files --------------------------------------------------------------- */

int scsi_pr_state_path(const char *dir, const uint8_t naa[16], char *out,
		       size_t outlen)
{
	char h[33];
	int n;

	hex(h, naa, 16);
	n = snprintf(out, outlen, "%s/pr-%s.json", dir, h);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* fsync of the directory holding @path (the rename or unlink in it). */
static int fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	int fd, rc = 0;

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (n == 0) {
		snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
	} else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int scsi_pr_state_write(const char *path, const char *text)
{
	char tmp[4200];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* a leftover of a crash may have another mode: start afresh */
	if (unlink(tmp) < 0 && errno != ENOENT && errno != EISDIR &&
	    errno != EPERM)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	/* the rename is durable only once the directory is */
	return fsync_dir_of(path);
}

int scsi_pr_state_remove(const char *path)
{
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync_dir_of(path);
}

int scsi_pr_state_read(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_size > SCSI_PR_STATE_FILE_MAX) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;	/* shrank meanwhile: parse what is there */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}
