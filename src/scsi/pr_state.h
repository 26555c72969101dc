/*
 * pr_state.h - the persistent reservation state of one LU as a plain
 * value (struct scsi_pr_state), its file format, and the durable file
 * operations behind APTPL (SPC-4 §5.13.5, §6.16.3: "activate persist
 * through power loss"). pr.c takes a snapshot under the PR lock and has
 * it written on a worker thread; lu.c restores the file when the LU is
 * created.
 *
 * The file is JSON (docs/clusters.md, "APTPL storage"):
 *
 *   { "format": "ringtgt-pr-state", "version": 1,
 *     "naa": "<32 hex digits: the LU's NAA designator>",
 *     "aptpl": true, "generation": 7,
 *     "registrations": [ { "key": "0x<16 hex>",
 *                          "initiator_port": "<iqn>,i,0x<isid>",
 *                          "relative_target_port": 1,
 *                          "all_tg_pt": false }, ... ],
 *     "reservation": null | { "holder": <index or -1>, "type": 1..8,
 *                             "scope": 0 } }
 *
 * holder is -1 for the all registrants types (every registrant holds
 * them), else the index of the holder's registration. Members not named
 * here are ignored, so a later version-1 writer may add some.
 */
#ifndef RINGTGT_PR_STATE_H
#define RINGTGT_PR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCSI_PR_STATE_FORMAT "ringtgt-pr-state"
#define SCSI_PR_STATE_VERSION 1
/* A file with more registrations is refused (far beyond any cluster). */
#define SCSI_PR_STATE_MAX_REGS 4096
/* "<iqn>,i,0x<isid>": as struct scsi_nexus.initiator_port, NUL included */
#define SCSI_PR_STATE_PORT_MAX 256
/* Bytes of a state file read at most; a bigger one is refused. */
#define SCSI_PR_STATE_FILE_MAX (4u << 20)

struct scsi_pr_state_reg {
	uint64_t key;
	uint16_t rel_port_id;
	bool all_tg_pt;
	char port[SCSI_PR_STATE_PORT_MAX];
};

struct scsi_pr_state {
	uint8_t naa[16];		/* the LU this state belongs to */
	bool aptpl;			/* the last valid APTPL bit */
	uint32_t generation;		/* PRgeneration */
	bool reserved;
	uint8_t type, scope;		/* if reserved */
	int holder;			/* index in regs; -1: all registrants */
	size_t n_regs;
	struct scsi_pr_state_reg *regs;	/* owned (malloc) */
};

/* Frees s->regs and zeroes @s. */
void scsi_pr_state_free(struct scsi_pr_state *s);

/*
 * The JSON text of @s, NUL terminated, malloc-ed (the caller frees it);
 * NULL when out of memory.
 */
char *scsi_pr_state_encode(const struct scsi_pr_state *s);

/*
 * Parses @len bytes of @text (no NUL needed) into @s. Pure: no I/O, no
 * global state. Returns 0, or -EINVAL with a sentence in @why (the
 * first problem found: not JSON, another format or version, a missing
 * or out-of-range member, a duplicate registration, a holder that is
 * not a registration) and @s empty; -ENOMEM.
 */
int scsi_pr_state_decode(const char *text, size_t len,
			 struct scsi_pr_state *s, char *why, size_t whylen);

/* "<dir>/pr-<32 hex of naa>.json" into @out; 0 or -ENAMETOOLONG. */
int scsi_pr_state_path(const char *dir, const uint8_t naa[16], char *out,
		       size_t outlen);

/*
 * Replaces the file @path with @text durably: writes "<path>.tmp" (mode
 * 0600), fsync, renames it over @path, fsyncs the directory. On failure
 * @path is left as it was. Blocking: never on a reactor thread.
 * 0 or -errno.
 */
int scsi_pr_state_write(const char *path, const char *text);

/* Removes @path and fsyncs its directory; 0 (also when absent) or -errno. */
int scsi_pr_state_remove(const char *path);

/*
 * Reads @path whole (at most SCSI_PR_STATE_FILE_MAX bytes) into a
 * malloc-ed buffer; 0, -ENOENT, -EFBIG or another -errno.
 */
int scsi_pr_state_read(const char *path, char **text, size_t *len);

#endif
