/*
 * fuzz_tparams.c - fuzz target for a target's own iSCSI parameters
 * (src/iscsi/tparams.c): the names and values tgtadm, the control socket
 * and the config hand to tparam_check().
 *
 * Input: "Name=Value" (or "Name" alone: the name check of a reset); the
 * first '=' splits, a NUL ends the input's text.
 *
 * Properties:
 *   - tparam_check() returns 0, -ENOENT, -EINVAL or -EOPNOTSUPP; every
 *     refusal comes with a sentence;
 *   - an accepted pair has a canonical name and value that fit their
 *     fields, and checks again to the same canonical pair;
 *   - applied to a target, tgt's list shows exactly that value under that
 *     name (the value a login starts from is the one set).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/iscsi.h"
#include "iscsi/tparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_tparams: %s:%d: %s\n",    \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

struct seen {
	const char *name;
	char value[CORE_PARAM_VALUE_MAX];
	int count;
};

static void list_one(void *ctx, const char *name, const char *value)
{
	struct seen *s = ctx;

	if (strcmp(name, s->name))
		return;
	s->count++;
	snprintf(s->value, sizeof(s->value), "%s", value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_param out, again;
	struct iscsi_settings set;
	char text[256], why[256], *eq;
	const char *value = NULL;
	struct seen seen;
	int rc;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	eq = strchr(text, '=');
	if (eq) {
		*eq = '\0';
		value = eq + 1;
	}
	why[0] = '\0';
	rc = tparam_check(text, value, &out, why, sizeof(why));
	CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL || rc == -EOPNOTSUPP);
	if (rc) {
		CHECK(why[0] && strlen(why) < sizeof(why));
		return 0;
	}
	CHECK(strlen(out.name) < sizeof(out.name));
	CHECK(strlen(out.value) < sizeof(out.value));
	CHECK(strcasecmp(out.name, text) == 0);
	if (!value)
		return 0;
	CHECK(tparam_check(out.name, out.value, &again, why, sizeof(why)) == 0);
	CHECK(strcmp(again.name, out.name) == 0);
	CHECK(strcmp(again.value, out.value) == 0);
	iscsi_settings_default(&set);
	seen = (struct seen){ .name = out.name };
	tparams_list(&set, &out, 1, list_one, &seen);
	CHECK(seen.count == 1);
	CHECK(strcmp(seen.value, out.value) == 0);
	return 0;
}
