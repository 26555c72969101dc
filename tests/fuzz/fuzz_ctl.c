/*
 * fuzz_ctl.c - fuzz target for the control protocol's request handling:
 * ctl_handle_line() (JSON parsing, envelope, op table, argument checks,
 * the handlers against a real core registry and control server).
 *
 * An input is up to 16 request lines, handled in order as the control
 * thread does, so one input can add a target, then LUNs and ACLs to it.
 * Properties, for every line:
 *   - the reply is one line of JSON: an object with "v": 1 and "ok";
 *     ok true has "result" and no "error"; ok false has a non-empty
 *     "error" string and a positive "errno", and no "result";
 *   - a line that is not a JSON object gets ok false, errno EPROTO;
 *   - a request's "id" comes back unchanged;
 *   - a target.add that succeeds leaves the target listed, a
 *     target.remove that succeeds leaves it gone.
 * Between inputs every target is removed, so each input starts clean.
 *
 * lun.add may create files: a request naming a "path" is rewritten to a
 * file in a scratch directory (under $TMPDIR, else the current one), and
 * sizes are kept under 1 MiB so a RAM LUN cannot exhaust memory. Those
 * inputs are handled re-serialized; all others byte for byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/base.h"
#include "base/log.h"
#include "control/ctl.h"
#include "control/ctl_internal.h"
#include "core/core.h"
#include "ringtgt/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16
#define SIZE_CAP (1u << 20)

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_ctl: %s:%d: %s\n",        \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

static struct ctl_server *srv;
static char scratch[4096];
static char sock_path[4200];
static char img_path[4200];

static void cleanup(void)
{
	if (srv)
		ctl_server_stop(srv);
	srv = NULL;
	core_shutdown();
	unlink(img_path);
	rmdir(scratch);
}

static void setup_once(void)
{
	const char *tmp = getenv("TMPDIR");

	if (srv)
		return;
	snprintf(scratch, sizeof(scratch), "%s/ringtgt-fuzz-ctl-XXXXXX",
		 tmp && *tmp ? tmp : ".");
	CHECK(mkdtemp(scratch));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", scratch);
	snprintf(img_path, sizeof(img_path), "%s/lun.img", scratch);
	/* warnings and errors only: a line per target added is just noise */
	log_init("fuzz_ctl", true, LOG_LVL_WARN);
	core_init();
	CHECK(ctl_server_start(sock_path, &srv) == 0);
	atexit(cleanup);
}

/* Parses @line as ctl_handle_line() does (trailing blanks dropped). */
static json_object *parse_like_server(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *o;

	CHECK(tok);
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * Makes a parsed request safe to run: a "path" argument points into the
 * scratch directory, a "size" stays below SIZE_CAP (keeping its remainder
 * modulo the block size). Returns true when it changed anything.
 */
static bool sanitize(json_object *req)
{
	json_object *args, *v;
	bool changed = false;

	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "args", &args) ||
	    !json_object_is_type(args, json_type_object))
		return false;
	if (json_object_object_get_ex(args, "path", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    *json_object_get_string(v)) {
		json_object_object_add(args, "path",
				       json_object_new_string(img_path));
		changed = true;
	}
	if (json_object_object_get_ex(args, "size", &v)) {
		uint64_t n = 0;

		if (json_object_is_type(v, json_type_int))
			n = (uint64_t)json_object_get_int64(v);
		else if (json_object_is_type(v, json_type_string) &&
			 ringtgt_parse_size(json_object_get_string(v), &n))
			n = 0;	/* rejected by the daemon anyway */
		if (n > SIZE_CAP) {
			json_object_object_add(args, "size",
				json_object_new_int64((int64_t)(n % SIZE_CAP)));
			changed = true;
		}
	}
	return changed;
}

static bool target_listed(const char *iqn)
{
	json_object *list = core_targets_json(), *t, *name;
	bool found = false;

	CHECK(list);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		t = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(t, "iqn", &name) &&
		    strcmp(json_object_get_string(name), iqn) == 0)
			found = true;
	}
	json_object_put(list);
	return found;
}

static void check_reply(json_object *req, json_object *reply)
{
	json_object *back, *v, *ok, *id, *rid, *op, *args, *iqn;
	const char *text;

	CHECK(reply);
	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	CHECK(text && !strchr(text, '\n'));	/* one reply line */
	back = json_tokener_parse(text);
	CHECK(back && json_object_is_type(back, json_type_object));
	CHECK(json_object_object_get_ex(back, "v", &v) &&
	      json_object_is_type(v, json_type_int) &&
	      json_object_get_int(v) == CTL_PROTO_VERSION);
	CHECK(json_object_object_get_ex(back, "ok", &ok) &&
	      json_object_is_type(ok, json_type_boolean));
	if (json_object_get_boolean(ok)) {
		CHECK(json_object_object_get_ex(back, "result", &v));
		CHECK(!json_object_object_get_ex(back, "error", &v));
	} else {
		CHECK(json_object_object_get_ex(back, "error", &v) &&
		      json_object_is_type(v, json_type_string) &&
		      json_object_get_string_len(v) > 0);
		CHECK(json_object_object_get_ex(back, "errno", &v) &&
		      json_object_is_type(v, json_type_int) &&
		      json_object_get_int(v) > 0);
		CHECK(!json_object_object_get_ex(back, "result", &v));
	}
	if (!req || !json_object_is_type(req, json_type_object)) {
		CHECK(!json_object_get_boolean(ok));
		CHECK(json_object_object_get_ex(back, "errno", &v) &&
		      json_object_get_int(v) == EPROTO);
		json_object_put(back);
		return;
	}
	if (json_object_object_get_ex(req, "id", &id)) {
		CHECK(json_object_object_get_ex(reply, "id", &rid));
		CHECK(json_object_equal(id, rid));
	}
	if (json_object_get_boolean(ok) &&
	    json_object_object_get_ex(req, "op", &op) &&
	    json_object_object_get_ex(req, "args", &args) &&
	    json_object_object_get_ex(args, "iqn", &iqn)) {
		const char *name = json_object_get_string(op);

		if (strcmp(name, "target.add") == 0)
			CHECK(target_listed(json_object_get_string(iqn)));
		else if (strcmp(name, "target.remove") == 0)
			CHECK(!target_listed(json_object_get_string(iqn)));
	}
	json_object_put(back);
}

static void handle(const char *line, size_t len)
{
	json_object *req = parse_like_server(line, len), *reply;

	if (req && sanitize(req)) {
		const char *safe = json_object_to_json_string_ext(
			req, JSON_C_TO_STRING_PLAIN);

		reply = ctl_handle_line(srv, safe, strlen(safe));
	} else {
		reply = ctl_handle_line(srv, line, len);
	}
	check_reply(req, reply);
	json_object_put(reply);
	json_object_put(req);
}

static void remove_all_targets(void)
{
	json_object *list = core_targets_json(), *t, *iqn;

	CHECK(list);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		t = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(t, "iqn", &iqn))
			CHECK(core_target_remove(json_object_get_string(iqn),
						 true, NULL) == 0);
	}
	json_object_put(list);
	unlink(img_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	int lines = 0;

	setup_once();
	/* Lines as server.c cuts them: at '\n'; blank ones get no reply. */
	while (p < end && lines < MAX_LINES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = malloc(len + 1);

		CHECK(line);
		memcpy(line, p, len);
		line[len] = '\0';
		if (line[strspn(line, " \t\r")] != '\0') {	/* as server.c */
			handle(line, len);
			lines++;
		}
		free(line);
		p += len + (nl != NULL);
	}
	remove_all_targets();
	return 0;
}
