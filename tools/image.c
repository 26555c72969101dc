/*
 * image.c - `ringtgtadm image create`: a new flat image file for the file
 * store, made locally (no daemon), like tgt's tgtimg.
 *
 * The image is built under a temporary name in the target directory
 * (mkstemp: mode 0600) and only put in place once whole: link(2), which
 * refuses an existing name atomically, or rename(2) over it with
 * --force. Any failure unlinks the temporary file, so nothing half-made
 * is ever left under either name.
 *
 * Sparse by default: ftruncate sets the size and allocates nothing (no
 * zero is written). --preallocate allocates every block with
 * fallocate(2) mode 0 in chunks of PREALLOC_CHUNK, printing the progress
 * on @progress; never posix_fallocate(), which writes zeroes where the
 * file system cannot allocate: such a file system is refused instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "image.h"

#define PREALLOC_CHUNK (1ull << 30)

/* Formats @n bytes as "10 GiB", "72.4 GiB" or "512 bytes" into @buf. */
static const char *human(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB",
					    "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* Writes the sentence for the user; returns -EINVAL for the caller. */
__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* fallocate in chunks, printing "NN%" lines; 0 or -errno. */
static int preallocate(int fd, uint64_t size, const char *path,
		       FILE *progress)
{
	int last = -1;

	for (uint64_t off = 0; off < size; off += PREALLOC_CHUNK) {
		uint64_t n = size - off < PREALLOC_CHUNK ? size - off
							 : PREALLOC_CHUNK;
		int pct;

		if (fallocate(fd, 0, (off_t)off, (off_t)n) < 0)
			return -errno;
		pct = (int)((off + n) * 100 / size);
		if (progress && pct != last) {
			fprintf(progress, "preallocating %s: %d%%\n", path, pct);
			fflush(progress);
			last = pct;
		}
	}
	return 0;
}

int image_create(const struct image_spec *s, FILE *progress, char *err,
		 size_t errlen)
{
	char tmp[PATH_MAX], hs[32], hf[32];
	const char *slash;
	struct statvfs vfs;
	struct stat st;
	int fd, rc;

	if (s->size == 0 || (s->block_size && s->size % s->block_size))
		return fail(err, errlen,
			    "%s: size %" PRIu64 " is not a positive multiple of the block size %u",
			    s->path, s->size, s->block_size ? s->block_size : 512);
	if (!s->force && lstat(s->path, &st) == 0)
		return fail(err, errlen,
			    "%s exists; use --force to replace it", s->path);
	if (s->force && lstat(s->path, &st) == 0 && !S_ISREG(st.st_mode))
		return fail(err, errlen,
			    "%s exists and is not a regular file; not replaced",
			    s->path);
	slash = strrchr(s->path, '/');
	rc = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX",
		      slash ? (int)(slash - s->path + 1) : 0, s->path,
		      slash ? slash + 1 : s->path);
	if (rc < 0 || (size_t)rc >= sizeof(tmp))
		return fail(err, errlen, "%s: path too long", s->path);
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return fail(err, errlen, "cannot create %s: %s", s->path,
			    strerror(errno));

	if (s->preallocate && fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < s->size) {
		fail(err, errlen,
		     "cannot preallocate %s for %s: the file system has %s free",
		     human(s->size, hs, sizeof(hs)), s->path,
		     human((uint64_t)vfs.f_bavail * vfs.f_frsize, hf,
			   sizeof(hf)));
		goto err_unlink;
	}
	/* fallocate mode 0 extends the file as it goes */
	if (!s->preallocate && ftruncate(fd, (off_t)s->size) < 0) {
		fail(err, errlen, "cannot make %s %s long: %s", s->path,
		     human(s->size, hs, sizeof(hs)), strerror(errno));
		goto err_unlink;
	}
	if (s->preallocate) {
		rc = preallocate(fd, s->size, s->path, progress);
		if (rc == -EOPNOTSUPP) {
			fail(err, errlen,
			     "the file system of %s cannot preallocate (fallocate is not supported); create it without --preallocate",
			     s->path);
			goto err_unlink;
		}
		if (rc < 0) {
			fail(err, errlen, "cannot preallocate %s for %s: %s",
			     human(s->size, hs, sizeof(hs)), s->path,
			     strerror(-rc));
			goto err_unlink;
		}
	}
	/* the allocation and the size are on disk before the name is */
	if (fsync(fd) < 0) {
		fail(err, errlen, "cannot write %s: %s", s->path,
		     strerror(errno));
		goto err_unlink;
	}
	if (s->force ? rename(tmp, s->path) : link(tmp, s->path)) {
		if (errno == EEXIST)
			fail(err, errlen, "%s exists; use --force to replace it",
			     s->path);
		else
			fail(err, errlen, "cannot create %s: %s", s->path,
			     strerror(errno));
		goto err_unlink;
	}
	if (!s->force)
		unlink(tmp);
	close(fd);
	return 0;

err_unlink:
	unlink(tmp);
	close(fd);
	return -EIO;
}
