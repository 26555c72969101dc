/*
 * fuzz_tgtadm_portal.c - fuzz target for tgtadm's `--mode portal --param`
 * list (tools/tgtadm_run.c tgtadm_portal_parse()), the portals tgtadm
 * asks ringtgtd to open or close.
 *
 * Input: the list, cut at the first NUL.
 * Properties:
 *   - it returns 1..max portals, -EINVAL or -EOPNOTSUPP;
 *   - each portal is "HOST:PORT" or "[HOST]:PORT" with a nonempty HOST
 *     (no ':' in it unless bracketed, no '[', ']' or ','), PORT a decimal
 *     number 1..65535 without leading zeros, shorter than
 *     TGTADM_PORTAL_LEN;
 *   - the portals, written back as "portal=P,portal=Q", parse to the
 *     same portals (what tgtadm sends is what it would read).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/tgtadm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 4

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: %s\n", __FILE__,        \
				__LINE__, #cond);                       \
			abort();                                        \
		}                                                       \
	} while (0)

static void check_portal(const char *p)
{
	size_t len = strnlen(p, TGTADM_PORTAL_LEN);
	const char *colon = strrchr(p, ':'), *port;
	unsigned long v;

	CHECK(len < TGTADM_PORTAL_LEN);
	CHECK(colon != NULL);
	port = colon + 1;
	CHECK(*port >= '1' && *port <= '9');
	CHECK(strspn(port, "0123456789") == strlen(port));
	v = strtoul(port, NULL, 10);
	CHECK(v >= 1 && v <= 65535);
	CHECK(!strchr(p, ','));
	if (p[0] == '[') {
		CHECK(colon > p + 2 && colon[-1] == ']');
		CHECK(memchr(p + 1, ']', (size_t)(colon - p - 2)) == NULL);
		CHECK(memchr(p + 1, '[', (size_t)(colon - p - 2)) == NULL);
	} else {
		CHECK(colon > p);
		CHECK(memchr(p, ':', (size_t)(colon - p)) == NULL);
		CHECK(!strchr(p, ']') && !strchr(p, '['));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[MAX][TGTADM_PORTAL_LEN], again[MAX][TGTADM_PORTAL_LEN];
	char *list = malloc(size + 1), joined[MAX * (TGTADM_PORTAL_LEN + 8)];
	size_t used = 0;
	int n, m;

	if (!list)
		return 0;
	memcpy(list, data, size);
	list[size] = '\0';
	n = tgtadm_portal_parse(list, out, MAX);
	free(list);
	CHECK(n == -EINVAL || n == -EOPNOTSUPP || (n >= 1 && n <= MAX));
	if (n < 1)
		return 0;
	for (int i = 0; i < n; i++) {
		check_portal(out[i]);
		used += (size_t)snprintf(joined + used, sizeof(joined) - used,
					 "%sportal=%s", i ? "," : "", out[i]);
	}
	m = tgtadm_portal_parse(joined, again, MAX);
	CHECK(m == n);
	for (int i = 0; i < n; i++)
		CHECK(strcmp(out[i], again[i]) == 0);
	return 0;
}
