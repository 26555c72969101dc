/*
 * client.c - the control socket client in include/ringtgt/ctl.h: connect,
 * one request line out, one reply line back. Used by ringtgtadm and the
 * tests; blocking I/O.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sockio.h"
#include "core/core.h"
#include "ringtgt/ctl.h"
#include "scsi/scsi.h"

static_assert(RINGTGT_MAX_LUNS == SCSI_MAX_LUNS,
	      "the public LUN bound is the SCSI layer's");

/* Replies can be large (target lists); this only guards against garbage. */
#define CTL_MAX_REPLY (64u << 20)

__attribute__((format(printf, 4, 5)))
static int fail(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ringtgt_ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (!path)
		path = getenv(RINGTGT_CTL_ENV);
	if (!path || !*path)
		path = RINGTGT_CTL_DEFAULT_PATH;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Reads one line; returns it (caller frees, NUL instead of '\n') or NULL. */
static char *recv_line(int fd, int *rc)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;

	if (!buf) {
		*rc = -ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t n;
		char *nl;

		if (cap - len < 1024) {
			if (cap >= CTL_MAX_REPLY) {
				*rc = -E2BIG;
				goto err;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				*rc = -ENOMEM;
				goto err;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*rc = -errno;
			goto err;
		}
		if (n == 0) {
			*rc = -ECONNRESET;
			goto err;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
err:
	free(buf);
	return NULL;
}

int ringtgt_ctl_call(int fd, const char *op, json_object *args,
		     json_object **result, char *errbuf, size_t errlen)
{
	json_object *req = json_object_new_object(), *reply, *v;
	const char *text;
	char *line;
	int rc, rrc = 0;

	if (result)
		*result = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!req)
		return fail(errbuf, errlen, -ENOMEM, "out of memory");
	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "op", json_object_new_string(op));
	json_object_object_add(req, "args", args ? json_object_get(args) :
						   json_object_new_object());
	text = json_object_to_json_string_ext(req,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = send_all(fd, text, strlen(text));
	if (!rc)
		rc = send_all(fd, "\n", 1);
	json_object_put(req);
	/*
	 * A daemon that refuses the connection (permission denied) answers
	 * at once and closes it: the send may fail, the reply still be there.
	 */
	if (rc && rc != -EPIPE && rc != -ECONNRESET)
		return fail(errbuf, errlen, rc, "cannot send to the daemon: %s",
			    strerror(-rc));
	line = recv_line(fd, &rrc);
	if (!line && rc)
		return fail(errbuf, errlen, rc, "cannot send to the daemon: %s",
			    strerror(-rc));
	rc = rrc;
	if (!line)
		return fail(errbuf, errlen, rc, "%s",
			    rc == -ECONNRESET ?
			    "the daemon closed the connection without a reply" :
			    strerror(-rc));
	reply = json_tokener_parse(line);
	free(line);
	if (!reply || !json_object_is_type(reply, json_type_object)) {
		json_object_put(reply);
		return fail(errbuf, errlen, -EPROTO,
			    "the daemon sent a reply that is not a JSON object");
	}
	if (!json_object_object_get_ex(reply, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		rc = fail(errbuf, errlen, -EPROTO,
			  "the daemon's reply has no \"ok\"");
	} else if (json_object_get_boolean(v)) {
		rc = 0;
		if (result && json_object_object_get_ex(reply, "result", &v))
			*result = json_object_get(v);
	} else {
		int e = EIO;
		const char *msg = "request failed";

		if (json_object_object_get_ex(reply, "errno", &v) &&
		    json_object_get_int(v) > 0)
			e = json_object_get_int(v);
		if (json_object_object_get_ex(reply, "error", &v) &&
		    json_object_is_type(v, json_type_string))
			msg = json_object_get_string(v);
		rc = fail(errbuf, errlen, -e, "%s", msg);
	}
	json_object_put(reply);
	return rc;
}

int ringtgt_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case 'P': shift = 50; break;
	case 'B':
		if (end[1])
			return -EINVAL;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int ringtgt_lu_param_add(json_object *args, const char *name,
			 const char *value, int tgt_cut, char *errbuf,
			 size_t errlen)
{
	struct scsi_lu_params p = { 0 };
	char why[200] = "";
	int rc;

	rc = tgt_cut ? scsi_lu_param_parse_tgt(&p, name, value, why, sizeof(why))
		     : scsi_lu_param_parse(&p, name, value, why, sizeof(why));
	if (rc)
		return fail(errbuf, errlen, rc, "%s", why);
	/* a second mode_page adds its page to those given before */
	if (p.set & (1u << SCSI_LU_P_MODE_PAGE)) {
		json_object *had = NULL;

		if (json_object_object_get_ex(args, "mode_page", &had) &&
		    json_object_is_type(had, json_type_array)) {
			char s[128];

			for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++)
				if (p.mode_set & (1u << mp) &&
				    scsi_lu_mode_page_format(&p, mp, s, sizeof(s)) > 0)
					json_object_array_add(had,
							      json_object_new_string(s));
			return 0;
		}
	}
	core_lun_params_to_json(&p, args);
	return 0;
}

/* The public set of LU parameters is the SCSI layer's (scsi.h). */
struct ringtgt_lu_params {
	struct scsi_lu_params p;
};

struct ringtgt_lu_params *ringtgt_lu_params_new(void)
{
	return calloc(1, sizeof(struct ringtgt_lu_params));
}

void ringtgt_lu_params_free(struct ringtgt_lu_params *p)
{
	free(p);
}

int ringtgt_lu_params_set(struct ringtgt_lu_params *p, const char *name,
			  const char *value, int tgt_cut, char *errbuf,
			  size_t errlen)
{
	char why[200] = "";
	int rc;

	rc = tgt_cut ? scsi_lu_param_parse_tgt(&p->p, name, value, why, sizeof(why))
		     : scsi_lu_param_parse(&p->p, name, value, why, sizeof(why));
	if (rc)
		return fail(errbuf, errlen, rc, "%s", why);
	return 0;
}

int ringtgt_lu_params_has(const struct ringtgt_lu_params *p, const char *name)
{
	for (unsigned k = 0; k < SCSI_LU_P_COUNT; k++)
		if (!strcmp(name, scsi_lu_param_name((enum scsi_lu_param)k)))
			return (p->p.set & (1u << k)) != 0;
	return 0;
}

void ringtgt_lu_params_to_json(const struct ringtgt_lu_params *p,
			       json_object *args)
{
	core_lun_params_to_json(&p->p, args);
}
