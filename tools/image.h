/*
 * image.h - creating image files for the file store (ringtgtadm image
 * create); local file operations, no daemon.
 */
#ifndef RINGTGT_TOOLS_IMAGE_H
#define RINGTGT_TOOLS_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct image_spec {
	const char *path;
	uint64_t size;		/* bytes; a multiple of block_size */
	uint32_t block_size;	/* 512 or 4096; 0: 512 */
	bool preallocate;	/* allocate every block (fallocate mode 0) */
	bool force;		/* replace an existing regular file */
};

/*
 * Creates @s->path (mode 0600), sparse unless s->preallocate, in which
 * case a line per percent of progress goes to @progress (NULL: none).
 * Returns 0, or a negative value with a sentence naming the file and the
 * cause in @err; then nothing was created and an existing file is
 * untouched.
 */
int image_create(const struct image_spec *s, FILE *progress, char *err,
		 size_t errlen);

#endif
