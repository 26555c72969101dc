/*
 * tgtconf_io.c - the file side of the targets.conf parser (tgtconf.h):
 * reading a file whole, expanding an include glob or directory into its
 * regular files, as Perl's bsd_glob and Config::General's directory
 * include do (symbolic links followed, strcmp order). Relative paths
 * are relative to the working directory, as in tgt-admin.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tgtconf.h"

/* A targets.conf larger than this is surely not one. */
#define TGTCONF_FILE_MAX (16u << 20)

static int files_read(void *ctx, const char *path, char **text, char **id)
{
	size_t len = 0, cap = 4096;
	struct stat st;
	char *buf = NULL, *nb, *real;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			if (cap >= TGTCONF_FILE_MAX) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	real = realpath(path, NULL);
	*id = real ? real : strdup(path);
	if (!*id) {
		rc = -ENOMEM;
		goto out;
	}
	*text = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_regular(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

static int add(char ***paths, size_t *n, const char *dir, const char *name)
{
	char *s, **np;
	size_t dl = dir ? strlen(dir) : 0;

	s = malloc(dl + strlen(name) + 2);
	if (!s)
		return -ENOMEM;
	if (dir)
		strcpy(stpcpy(stpcpy(s, dir), dl && dir[dl - 1] == '/' ? "" : "/"),
		       name);
	else
		strcpy(s, name);
	np = realloc(*paths, (*n + 1) * sizeof(*np));
	if (!np) {
		free(s);
		return -ENOMEM;
	}
	np[(*n)++] = s;
	*paths = np;
	return 0;
}

static int files_expand(void *ctx, const char *pattern, bool dir,
			char ***paths, size_t *n)
{
	int rc = 0;

	*paths = NULL;
	*n = 0;
	if (dir) {
		DIR *d = opendir(pattern);
		struct dirent *e;

		if (!d)
			return -errno;
		while (!rc && (e = readdir(d))) {
			char full[PATH_MAX];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if ((size_t)snprintf(full, sizeof(full), "%s/%s", pattern,
					     e->d_name) >= sizeof(full) ||
			    !is_regular(full))
				continue;
			rc = add(paths, n, pattern, e->d_name);
		}
		closedir(d);
	} else {
		glob_t g = { 0 };
		int grc = glob(pattern, GLOB_BRACE, NULL, &g);

		if (grc == GLOB_NOSPACE)
			rc = -ENOMEM;
		else if (grc == GLOB_ABORTED)
			rc = -EIO;
		for (size_t i = 0; !grc && !rc && i < g.gl_pathc; i++)
			if (is_regular(g.gl_pathv[i]))
				rc = add(paths, n, NULL, g.gl_pathv[i]);
		globfree(&g);
	}
	if (rc) {
		for (size_t i = 0; i < *n; i++)
			free((*paths)[i]);
		free(*paths);
		*paths = NULL;
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(*paths, *n, sizeof(**paths), cmp_str);
	return 0;
}

const struct tgtconf_io tgtconf_io_files = {
	.read = files_read,
	.expand = files_expand,
};
