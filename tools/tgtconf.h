/*
 * tgtconf.h - tgt's /etc/tgt/targets.conf, as tgt-admin reads it
 * (docs/tgt-compat.md). tgt-admin parses the file with Perl's
 * Config::General (UseApacheInclude, IncludeGlob, IncludeDirectories,
 * MergeDuplicateBlocks); this parser follows the same lexical rules
 * (# and C comments, backslash continuation, quoted values, `key value`
 * or `key = value`, `include` globs and directories, repeated blocks
 * merged) and tgt-admin's meaning of every directive: which may repeat,
 * which may stand inside <backing-store PATH> / <direct-store PATH>, and
 * how LUN numbers are assigned. Where tgt-admin silently ignores a line
 * (an unknown directive, a second value of a single-valued one), this
 * parser refuses the file, naming the file and line.
 *
 * The parser is pure: files are read through struct tgtconf_io, so tests
 * and the fuzzer parse from strings; tgtconf_io_files() is the real one.
 * It is part of tgt-admin (tools/), not of the daemon: ringtgtd never
 * reads targets.conf, tgt-admin turns it into control requests.
 */
#ifndef RINGTGT_TOOLS_TGTCONF_H
#define RINGTGT_TOOLS_TGTCONF_H

#include <stdbool.h>
#include <stddef.h>

/* tgt-admin's default, and what Debian's targets.conf holds */
#define TGTCONF_DEFAULT_PATH "/etc/tgt/targets.conf"
#define TGTCONF_DEBIAN_DEFAULT "include /etc/tgt/conf.d/*.conf\n"
/* Deepest include nesting accepted (Config::General has no bound). */
#define TGTCONF_MAX_DEPTH 16

/*
 * How the parser reaches files. Each callback returns 0 or -errno; on
 * success every string and array it hands back is malloc'd and becomes
 * the parser's. The real implementation resolves relative paths against
 * the working directory, as tgt-admin does.
 */
struct tgtconf_io {
	void *ctx;
	/*
	 * Reads @path whole into *@text (NUL-terminated). *@id names the
	 * file itself (its real path), so that a file reached under two
	 * names is recognised. -ENOENT when it does not exist, -EISDIR for
	 * a directory.
	 */
	int (*read)(void *ctx, const char *path, char **text, char **id);
	/*
	 * The regular files matching the glob @pattern (or, with @dir, the
	 * regular files in the directory @pattern, dot files included), in
	 * strcmp order. No match is not an error (0 files).
	 */
	int (*expand)(void *ctx, const char *pattern, bool dir, char ***paths,
		      size_t *n);
};

/* One `key value` line; @file points into tgtconf.files. */
struct tgtconf_opt {
	char *key;
	char *value;
	const char *file;
	int line;
};

/* A backing-store / direct-store: one LUN. */
struct tgtconf_store {
	char *path;
	bool direct;			/* direct-store */
	bool block;			/* given as <backing-store PATH> */
	unsigned lun;			/* assigned as tgt-admin does */
	struct tgtconf_opt *opts;	/* inside <backing-store PATH> */
	size_t nopts;
	const char *file;
	int line;
};

struct tgtconf_target {
	char *iqn;
	/* target-level options in file order (the stores are below) */
	struct tgtconf_opt *opts;
	size_t nopts;
	/* in tgt-admin's order: backing-stores by path, then direct-stores */
	struct tgtconf_store *stores;
	size_t nstores;
	const char *file;
	int line;
};

struct tgtconf {
	char *default_driver;		/* NULL: not given ("iscsi") */
	bool ignore_errors;		/* ignore-errors yes */
	int control_port;		/* control-port N; -1: not given */
	/* incomingdiscoveryuser / outgoingdiscoveryuser "USER SECRET" */
	struct tgtconf_opt *discovery_in, *discovery_out;
	/* sorted by name (strcmp), the order tgt-admin works in */
	struct tgtconf_target *targets;
	size_t ntargets;
	/* every file read, for the @file pointers above */
	char **files;
	size_t nfiles;
	/* things tgt-admin also only warns about (a file included twice) */
	char **warnings;
	size_t nwarnings;
};

/*
 * Parses @text, the contents of the file @name, reading includes through
 * @io. Returns 0 and *@out (free with tgtconf_free), or -EINVAL (bad
 * syntax or directive), -ELOOP (an include loop or nesting deeper than
 * TGTCONF_MAX_DEPTH), -ENOENT (an included file that does not exist),
 * -ENOMEM or another error of @io, with "FILE:LINE: problem" in @err.
 */
int tgtconf_parse(const char *name, const char *text,
		  const struct tgtconf_io *io, struct tgtconf **out,
		  char *err, size_t errlen);

/*
 * Reads and parses the file @path through @io. When @path is NULL, it is
 * TGTCONF_DEFAULT_PATH, and a missing one reads as Debian's default file
 * (TGTCONF_DEBIAN_DEFAULT); a @path given that does not exist is -ENOENT.
 */
int tgtconf_load(const char *path, const struct tgtconf_io *io,
		 struct tgtconf **out, char *err, size_t errlen);

void tgtconf_free(struct tgtconf *conf);

/* The first target-level option @key of @t, or NULL. */
const struct tgtconf_opt *tgtconf_target_opt(const struct tgtconf_target *t,
					     const char *key);
/*
 * The option @key as it applies to the LUN of @s: its own (inside the
 * <backing-store> block) else the target's, as tgt-admin resolves them.
 */
const struct tgtconf_opt *tgtconf_store_opt(const struct tgtconf_target *t,
					    const struct tgtconf_store *s,
					    const char *key);
const struct tgtconf_target *tgtconf_find(const struct tgtconf *conf,
					  const char *iqn);

/* The real files (glob(3), opendir, realpath). */
extern const struct tgtconf_io tgtconf_io_files;

#endif
