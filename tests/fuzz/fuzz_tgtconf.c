/*
 * fuzz_tgtconf.c - fuzz target for the targets.conf parser (tgtconf.c:
 * the Config::General lexer, the directives, includes, LUN numbering).
 *
 * Includes go to a small in-memory file system (a good file, a bad one,
 * one that includes itself, a directory), so globs, loops and nesting are
 * reached. Properties:
 * - an error says "FILE:LINE: problem", FILE a file that exists and LINE
 *   inside it, and leaves nothing allocated;
 * - a parsed config holds what tgt-admin's rules allow: targets in strict
 *   name order with no spaces in names, each target's stores backing
 *   first then by path, with distinct LUNs (one store when a target-level
 *   lun gives it), every option non-empty and its file:line real;
 * - parsing is deterministic (the same text gives the same digest);
 * - a text that parses was read to its end, lines counted right: with a
 *   blank line and an unknown directive after it, it fails naming that
 *   line.
 * ASan/LSan catch memory errors and leaks.
 *
 * Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * plain test that replays corpus/tgtconf (standalone_main.c).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgtconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz_tgtconf: %s:%d: %s\n",    \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

#define TOP "fuzz.conf"

static const struct {
	const char *path, *text;
} files[] = {
	{ "/f/a.conf", "<target iqn.a>\n  backing-store /dev/a\n</target>\n" },
	{ "/f/b.conf", "\n<target iqn.b>\n  incominguser u s3cr3tsecret\n  bad\n</target>\n" },
	{ "/f/loop.conf", "include /f/*.conf\n" },
	{ "/d/x", "default-driver iscsi\n" },
	{ "/d/y", "<target iqn.a>\n  lun 3\n</target>\n" },
};

static int mem_read(void *ctx, const char *path, char **text, char **id)
{
	size_t pl = strlen(path);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(files[i].path, path)) {
			*text = strdup(files[i].text);
			*id = strdup(path);
			if (!*text || !*id) {
				free(*text);
				free(*id);
				return -ENOMEM;
			}
			return 0;
		}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strncmp(files[i].path, path, pl) && files[i].path[pl] == '/')
			return -EISDIR;
	return -ENOENT;
}

static int mem_expand(void *ctx, const char *pattern, bool dir, char ***paths,
		      size_t *n)
{
	size_t pl = strlen(pattern);

	*n = 0;
	*paths = calloc(sizeof(files) / sizeof(files[0]), sizeof(char *));
	if (!*paths)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *f = files[i].path;

		if (dir ? !strncmp(f, pattern, pl) && f[pl] == '/'
			: !fnmatch(pattern, f, FNM_PATHNAME | FNM_PERIOD))
			(*paths)[(*n)++] = strdup(f);
	}
	return 0;
}

static const struct tgtconf_io io = { NULL, mem_read, mem_expand };

static int nlines(const char *text)
{
	int n = 1;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static int lines_of(const char *file, const char *top)
{
	if (!strcmp(file, TOP))
		return nlines(top);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(files[i].path, file))
			return nlines(files[i].text);
	return -1;
}

static void check_error(const char *err, const char *text)
{
	const char *colon = strchr(err, ':');
	char file[64];
	char *end;
	long line;
	int max;

	CHECK(colon && colon - err < (long)sizeof(file));
	memcpy(file, err, (size_t)(colon - err));
	file[colon - err] = '\0';
	max = lines_of(file, text);
	CHECK(max > 0);
	line = strtol(colon + 1, &end, 10);
	CHECK(line >= 1 && line <= max);
	CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
}

static bool file_known(const char *f)
{
	return f && lines_of(f, "") > 0;
}

/* A digest of the parsed config, for the determinism check. */
static uint64_t mix(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static uint64_t check_conf(const struct tgtconf *c, const char *text)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = mix(h, c->default_driver);
	h = mix(h, c->ignore_errors ? "y" : "n");
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct tgtconf_target *t = &c->targets[i];
		unsigned char used[65536 / 8] = { 0 };

		CHECK(t->iqn[0] && !strpbrk(t->iqn, " \t"));
		if (i)
			CHECK(strcmp(c->targets[i - 1].iqn, t->iqn) < 0);
		CHECK(file_known(t->file) &&
		      t->line >= 1 && t->line <= lines_of(t->file, text));
		h = mix(h, t->iqn);
		for (size_t j = 0; j < t->nopts; j++) {
			CHECK(t->opts[j].value[0]);
			CHECK(file_known(t->opts[j].file));
			CHECK(t->opts[j].line >= 1 &&
			      t->opts[j].line <= lines_of(t->opts[j].file, text));
			h = mix(mix(h, t->opts[j].key), t->opts[j].value);
		}
		if (tgtconf_target_opt(t, "lun"))
			CHECK(t->nstores <= 1);
		for (size_t j = 0; j < t->nstores; j++) {
			const struct tgtconf_store *s = &t->stores[j];

			CHECK(s->path[0]);
			if (j) {
				const struct tgtconf_store *p = &t->stores[j - 1];

				CHECK(p->direct < s->direct ||
				      (p->direct == s->direct &&
				       strcmp(p->path, s->path) < 0));
			}
			CHECK(s->lun < 65536);
			CHECK(!(used[s->lun / 8] & (1u << (s->lun % 8))));
			used[s->lun / 8] |= (unsigned char)(1u << (s->lun % 8));
			CHECK(s->nopts == 0 || s->block);
			for (size_t k = 0; k < s->nopts; k++)
				CHECK(s->opts[k].value[0] &&
				      file_known(s->opts[k].file));
			h = mix(h, s->path);
			h = mix(h, s->direct ? "d" : "b");
			h += s->lun;
		}
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *more;
	struct tgtconf *c = NULL, *c2 = NULL;
	char err[512], err2[512];
	int rc, rc2;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = tgtconf_parse(TOP, text, &io, &c, err, sizeof(err));
	rc2 = tgtconf_parse(TOP, text, &io, &c2, err2, sizeof(err2));
	CHECK(rc == rc2);
	if (rc) {
		CHECK(rc < 0 && !c && !c2);
		CHECK(!strcmp(err, err2));
		check_error(err, text);
		free(text);
		return 0;
	}
	CHECK(check_conf(c, text) == check_conf(c2, text));
	tgtconf_free(c);
	tgtconf_free(c2);

	more = malloc(strlen(text) + 32);
	if (more) {
		char want[64];

		snprintf(want, sizeof(want), TOP ":%d: unknown directive 'frobnicate'",
			 nlines(text) + 2);
		strcpy(more, text);
		strcat(more, "\n\nfrobnicate 1\n");
		rc = tgtconf_parse(TOP, more, &io, &c, err, sizeof(err));
		CHECK(rc == -EINVAL && !c);
		if (strcmp(err, want))
			fprintf(stderr, "fuzz_tgtconf: want '%s', got '%s'\n", want, err);
		CHECK(!strcmp(err, want));
		free(more);
	}
	free(text);
	return 0;
}
