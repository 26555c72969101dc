/*
 * bs.c - backing store registry and the generic open/close wrappers.
 *
 * Store types are listed in one explicit table (no constructor-time
 * registration), so the set of types is visible in one place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backing/bs.h"
#include "base/base.h"

static const struct bs_ops *const bs_types[] = {
	&bs_file_ops,
	&bs_blk_ops,
	&bs_ram_ops,
	&bs_null_ops,
};

const struct bs_ops *bs_type_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bs_types); i++)
		if (strcmp(bs_types[i]->name, name) == 0)
			return bs_types[i];
	return NULL;
}

const struct bs_ops *bs_type_pick(const char *name, const char *path)
{
	struct stat st;

	if (!name || strcmp(name, "file") == 0) {
		/* stat, not lstat: /dev/vg0/lv is a symlink to /dev/dm-N */
		if (path && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
			return &bs_blk_ops;
		/*
		 * A missing /dev/vg0/lv is a missing device ("no such
		 * device"), never a file to create in /dev; /dev/shm is the
		 * one file system for files there.
		 */
		if (path && strncmp(path, "/dev/", 5) == 0 &&
		    strncmp(path, "/dev/shm/", 9) != 0 &&
		    (stat(path, &st) < 0 || !S_ISREG(st.st_mode)))
			return &bs_blk_ops;
		return &bs_file_ops;
	}
	return bs_type_find(name);
}

const char *bs_open_strerror(const struct bs_ops *type, int err)
{
	if (type == &bs_blk_ops) {
		switch (err) {
		case EBUSY:
			return "the device is in use (mounted, held by LVM, "
			       "device-mapper or md, or opened exclusively by "
			       "another program); set shared to export it "
			       "anyway";
		case ENOENT:
			return "no such device";
		case ENOTBLK:
			return "not a block device";
		}
	}
	return strerror(err);
}

struct bs *bs_open(const struct bs_ops *type, const char *path,
		   const struct bs_open_args *args)
{
	static const struct bs_open_args no_args;
	struct bs *bs;
	int rc;

	if (!type) {
		errno = EINVAL;
		return NULL;
	}
	if (!args)
		args = &no_args;

	bs = calloc(1, sizeof(*bs));
	if (!bs) {
		errno = ENOMEM;
		return NULL;
	}
	bs->ops = type;
	if (path) {
		bs->path = strdup(path);
		if (!bs->path) {
			rc = -ENOMEM;
			goto err_free;
		}
	}
	rc = type->open(bs, path, args);
	if (rc < 0)
		goto err_free;
	return bs;

err_free:
	free(bs->path);
	free(bs);
	errno = -rc;
	return NULL;
}

void bs_close(struct bs *bs)
{
	if (!bs)
		return;
	bs->ops->close(bs);
	free(bs->path);
	free(bs);
}

int bs_probe_size(struct bs *bs, uint64_t *size)
{
	if (!bs->ops->probe_size) {
		*size = bs_size(bs);
		return 0;
	}
	return bs->ops->probe_size(bs, size);
}

int bs_resize(struct bs *bs, uint64_t size)
{
	if (!bs->ops->resize)
		return -EOPNOTSUPP;
	if (size == 0)
		return -EINVAL;
	return bs->ops->resize(bs, size);
}
