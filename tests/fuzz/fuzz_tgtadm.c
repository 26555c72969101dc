/*
 * fuzz_tgtadm.c - fuzz target for the command lines of tgt's tools:
 * tgtadm_parse() (tools/tgtadm.c) and tga_parse_args() (tools/
 * tgt_admin.c), both getopt_long() over tgt 1.0.85's options.
 *
 * The input is argv: its first byte picks the tool (even: tgtadm, odd:
 * tgt-admin), the rest is the arguments, NUL-separated (argv[0] is the
 * tool's name). Properties:
 * - a command line is accepted (-1) with nothing said on stderr, and a
 *   request whose fields hold together: tgtadm's op and mode in range,
 *   op_name the word of op, a tid for what needs one (target mode but
 *   show, logicalunit mode) and a LUN for logicalunit mode, the control
 *   port within tgt's range, and every string one of argv's own;
 * - or it ends with tgt's status: 0 after --help / --version with the
 *   text on stdout and nothing on stderr; else tgtadm's 1 (an unknown
 *   operation or mode) or 22 (EINVAL), tgt-admin's 2, with stdout empty
 *   and on stderr whole lines, each "tgtadm: ...", "tgt-admin: ...",
 *   tgtadm's "-X argument value ..." or its "Try `tgtadm --help' ..." hint
 *   (tgt-admin: one line; "unknown option X" names -Z or an argument;
 *   tgtadm's "option 'X' doesn't allow an argument" a --long=value one);
 * - parsing holds no state between calls: a fresh copy of the same argv
 *   parsed again gives the same status and the same messages (getopt's
 *   state is reset by each call).
 * ASan/LSan catch memory errors and leaks.
 *
 * Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * plain test that replays corpus/tgtadm (standalone_main.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgt_admin.h"
#include "tgtadm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_tgtadm: %s:%d: %s\n",     \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

#define MAX_ARGS 64

/* argv over a private copy of the input, the strings NUL-terminated. */
struct args {
	char *buf;
	size_t len;
	int argc;
	char *argv[MAX_ARGS + 2];
	bool newline;			/* an argument holds a '\n' */
};

static void args_make(struct args *a, const char *tool, const uint8_t *data,
		      size_t size)
{
	size_t off = 0;

	a->len = size + 1;
	a->buf = malloc(a->len);
	CHECK(a->buf);
	memcpy(a->buf, data, size);
	a->buf[size] = '\0';
	a->argc = 0;
	a->argv[a->argc++] = (char *)tool;
	while (off < a->len && size && a->argc <= MAX_ARGS) {
		a->argv[a->argc++] = a->buf + off;
		off += strlen(a->buf + off) + 1;
	}
	a->argv[a->argc] = NULL;
	a->newline = memchr(data, '\n', size) != NULL;
}

/* Whether @s is NULL or points into @a's strings. */
static bool in_args(const struct args *a, const char *s)
{
	return !s || (s >= a->buf && s < a->buf + a->len);
}

/* Every line of @text (ending in '\n') starts with one of @prefixes. */
static bool lines_start_with(const char *text, const char *const *prefixes)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		bool ok = false;

		if (!nl)
			return false;
		for (size_t i = 0; prefixes[i] && !ok; i++)
			ok = !strncmp(p, prefixes[i], strlen(prefixes[i]));
		if (!ok)
			return false;
		p = nl + 1;
	}
	return true;
}

struct capture {
	char *out, *err;
	size_t outlen, errlen;
	FILE *fout, *ferr;
};

static void capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->fout = open_memstream(&c->out, &c->outlen);
	c->ferr = open_memstream(&c->err, &c->errlen);
	CHECK(c->fout && c->ferr);
}

static void capture_close(struct capture *c)
{
	fclose(c->fout);
	fclose(c->ferr);
}

static void capture_free(struct capture *c)
{
	free(c->out);
	free(c->err);
}

static const char *const op_words[] = {
	[TGTADM_OP_NEW] = "new", [TGTADM_OP_DELETE] = "delete",
	[TGTADM_OP_SHOW] = "show", [TGTADM_OP_BIND] = "bind",
	[TGTADM_OP_UNBIND] = "unbind", [TGTADM_OP_UPDATE] = "update",
	[TGTADM_OP_STATS] = "stat", [TGTADM_OP_START] = "start",
	[TGTADM_OP_STOP] = "stop",
};

/*
 * tgtadm's "option 'X' doesn't allow an argument": X is a long option
 * given with "=value" (an argument as given, "--" first).
 */
static bool names_a_long_option(const struct args *a, const char *msg)
{
	static const char head[] = "tgtadm: option '";
	const char *end;

	if (!strstr(msg, "' doesn't allow an argument\n") ||
	    strncmp(msg, head, sizeof(head) - 1))
		return true;
	msg += sizeof(head) - 1;
	end = strstr(msg, "' doesn't allow an argument\n");
	for (int i = 1; i < a->argc; i++)
		if (!strncmp(a->argv[i], "--", 2) &&
		    strlen(a->argv[i]) == (size_t)(end - msg) &&
		    !memcmp(a->argv[i], msg, (size_t)(end - msg)))
			return true;
	return false;
}

static int run_tgtadm(const uint8_t *data, size_t size, struct capture *c)
{
	static const char *const err_lines[] = {
		"tgtadm: ", "Try `tgtadm --help' for more information.\n",
		"-", NULL,
	};
	struct tgtadm_req r;
	struct args a;
	int rc;

	args_make(&a, "tgtadm", data, size);
	capture_open(c);
	rc = tgtadm_parse(a.argc, a.argv, &r, c->fout, c->ferr);
	capture_close(c);
	if (rc == -1) {
		CHECK(c->errlen == 0 && c->outlen == 0);
		CHECK(r.op >= TGTADM_OP_NEW && r.op <= TGTADM_OP_STOP);
		CHECK(r.mode >= TGTADM_MODE_SYSTEM && r.mode <= TGTADM_MODE_ACCOUNT);
		CHECK(r.op_name && !strcmp(r.op_name, op_words[r.op]));
		if (r.mode == TGTADM_MODE_TARGET && r.op != TGTADM_OP_SHOW)
			CHECK(r.tid > 0);
		if (r.mode == TGTADM_MODE_DEVICE)
			CHECK(r.tid > 0 && r.lun != UINT64_MAX);
		CHECK(r.tid >= -1);
		CHECK(r.control_port >= 0 && r.control_port <= 32767);
		CHECK(r.dev_type >= TGTADM_DEV_DISK && r.dev_type <= TGTADM_DEV_PT);
		CHECK(in_args(&a, r.op_name) && in_args(&a, r.lld) &&
		      in_args(&a, r.name) && in_args(&a, r.value) &&
		      in_args(&a, r.path) && in_args(&a, r.bstype) &&
		      in_args(&a, r.bsopts) && in_args(&a, r.bsoflags) &&
		      in_args(&a, r.blocksize) && in_args(&a, r.targetname) &&
		      in_args(&a, r.address) && in_args(&a, r.iqnname) &&
		      in_args(&a, r.user) && in_args(&a, r.password) &&
		      in_args(&a, r.params) && in_args(&a, r.portal_params));
		/* what tgt requires of the operations it checks */
		if (r.mode == TGTADM_MODE_TARGET && r.op == TGTADM_OP_NEW)
			CHECK(r.targetname);
		if (r.mode == TGTADM_MODE_ACCOUNT && r.op == TGTADM_OP_NEW)
			CHECK(r.user && r.password);
		if ((r.mode == TGTADM_MODE_SYSTEM || r.mode == TGTADM_MODE_TARGET) &&
		    r.op == TGTADM_OP_UPDATE)
			CHECK(r.name && r.value);
	} else if (rc == 0) {
		CHECK(c->errlen == 0 && c->outlen > 0);
	} else {
		CHECK(rc == 1 || rc == 22);
		CHECK(c->outlen == 0 && c->errlen > 0);
		CHECK(c->err[c->errlen - 1] == '\n');
		if (!a.newline) {
			CHECK(lines_start_with(c->err, err_lines));
			CHECK(names_a_long_option(&a, c->err));
		}
	}
	free(a.buf);
	return rc;
}

/* "unknown option X": X is "-c" or one of the arguments, as given. */
static bool names_an_argument(const struct args *a, const char *msg)
{
	static const char head[] = "tgt-admin: unknown option ";
	size_t n = strlen(msg) - 1;	/* without the '\n' */

	if (strncmp(msg, head, sizeof(head) - 1))
		return true;
	msg += sizeof(head) - 1;
	n -= sizeof(head) - 1;
	if (n == 2 && msg[0] == '-')
		return true;
	for (int i = 1; i < a->argc; i++)
		if (strlen(a->argv[i]) == n && !memcmp(a->argv[i], msg, n))
			return true;
	return false;
}

static int run_tgt_admin(const uint8_t *data, size_t size, struct capture *c)
{
	static const char *const err_lines[] = { "tgt-admin: ", NULL };
	struct tga_opts o;
	struct args a;
	int rc;

	args_make(&a, "tgt-admin", data, size);
	capture_open(c);
	rc = tga_parse_args(a.argc, a.argv, &o, c->fout, c->ferr);
	capture_close(c);
	if (rc == -1) {
		CHECK(a.argc >= 2);
		CHECK(c->errlen == 0 && c->outlen == 0);
		CHECK(o.control_port >= 0 && o.control_port <= 65535);
		CHECK(in_args(&a, o.update) && in_args(&a, o.delete_) &&
		      in_args(&a, o.offline) && in_args(&a, o.ready) &&
		      in_args(&a, o.conf));
	} else if (rc == 0) {
		CHECK(c->errlen == 0 && c->outlen > 0);
	} else {
		CHECK(rc == 2);
		CHECK(c->outlen == 0 && c->errlen > 0);
		CHECK(!strncmp(c->err, err_lines[0], strlen(err_lines[0])));
		CHECK(c->err[c->errlen - 1] == '\n');
		/* one message */
		if (!a.newline)
			CHECK(strchr(c->err, '\n') == c->err + c->errlen - 1);
		CHECK(names_an_argument(&a, c->err));
	}
	free(a.buf);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int (*run)(const uint8_t *, size_t, struct capture *);
	struct capture c1, c2;
	int rc1, rc2;

	if (size < 1)
		return 0;
	run = data[0] & 1 ? run_tgt_admin : run_tgtadm;
	rc1 = run(data + 1, size - 1, &c1);
	rc2 = run(data + 1, size - 1, &c2);
	CHECK(rc1 == rc2);
	CHECK(c1.outlen == c2.outlen && !memcmp(c1.out, c2.out, c1.outlen));
	CHECK(c1.errlen == c2.errlen && !memcmp(c1.err, c2.err, c1.errlen));
	capture_free(&c1);
	capture_free(&c2);
	return 0;
}
