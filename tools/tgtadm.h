/*
 * tgtadm.h - tgt 1.0.85's `tgtadm` command line over ringtgtd's control
 * socket (tools/tgtadm.c, docs/tgt-compat.md). ringtgtadm runs
 * tgtadm_main() when it is invoked under the name tgtadm; tgt-admin and
 * the unit tests call in through the rest.
 */
#ifndef RINGTGT_TOOLS_TGTADM_H
#define RINGTGT_TOOLS_TGTADM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* tgt's usr/tgtadm.h, in its order (error messages print op numbers) */
enum tgtadm_op {
	TGTADM_OP_NEW, TGTADM_OP_DELETE, TGTADM_OP_SHOW, TGTADM_OP_BIND,
	TGTADM_OP_UNBIND, TGTADM_OP_UPDATE, TGTADM_OP_STATS, TGTADM_OP_START,
	TGTADM_OP_STOP,
};

enum tgtadm_mode {
	TGTADM_MODE_SYSTEM, TGTADM_MODE_TARGET, TGTADM_MODE_DEVICE,
	TGTADM_MODE_PORTAL, TGTADM_MODE_LLD, TGTADM_MODE_SESSION,
	TGTADM_MODE_CONNECTION, TGTADM_MODE_ACCOUNT,
};

/* tgt's -Y/--device-type names (usr/tgtadm.c str_to_device_type) */
enum tgtadm_dev_type {
	TGTADM_DEV_DISK, TGTADM_DEV_TAPE, TGTADM_DEV_CD, TGTADM_DEV_CHANGER,
	TGTADM_DEV_OSD, TGTADM_DEV_PT,
};

/* One tgtadm command line, parsed. Strings point into argv. */
struct tgtadm_req {
	int op;				/* enum tgtadm_op, -1: not given */
	const char *op_name;
	int mode;			/* enum tgtadm_mode, -1: not given */
	const char *lld;		/* -L; NULL: the first driver (iscsi) */
	int tid;			/* -1: not given */
	uint64_t sid;
	uint32_t cid;
	uint64_t lun;			/* UINT64_MAX: not given */
	uint32_t hostno;		/* -H / -B; 0: not given */
	const char *name, *value, *path, *bstype, *bsopts, *bsoflags;
	const char *blocksize, *targetname, *address, *iqnname, *user;
	const char *password, *params, *portal_params;
	bool force, outgoing, debug;
	enum tgtadm_dev_type dev_type;
	int control_port;		/* -C; 0: the default socket */
};

/*
 * Parses @argv as tgt 1.0.85's tgtadm does, with its checks of which
 * options each mode and operation takes. Messages go to @err (usage
 * errors) or @out (--help, --version) exactly as tgt words them.
 * Returns -1 when @r is ready to run, else the exit status tgt gives
 * (0 after --help/--version; 22 EINVAL or 1 on errors).
 */
int tgtadm_parse(int argc, char **argv, struct tgtadm_req *r, FILE *out,
		 FILE *err);

/*
 * Prints `--op show --mode target` in tgt 1.0.85's layout from
 * target.list's and session.list's results (docs/control-protocol.md),
 * without trailing spaces.
 */
void tgtadm_show_targets(json_object *targets, json_object *sessions,
			 FILE *out);

/* What `--op stat` found (tgtadm_stat.c); the caller words a refusal. */
enum tgtadm_stat_rc {
	TGTADM_STAT_OK, TGTADM_STAT_NO_TARGET, TGTADM_STAT_NO_LUN,
	TGTADM_STAT_NO_SESSION, TGTADM_STAT_NO_CONNECTION,
	TGTADM_STAT_UNSUPPORTED,
};

/*
 * Prints `--op stat` for @r's mode in tgt 1.0.85's layout from
 * target.list's and session.list {"stats": true} results.
 */
enum tgtadm_stat_rc tgtadm_stat_print(const struct tgtadm_req *r,
				      json_object *targets,
				      json_object *sessions, FILE *out);

/* tgt's size column: its print_disksize() "N MB" (usr/target.c). */
uint64_t tgtadm_disk_mb(uint64_t bytes);

/*
 * The control socket for `-C N`: $RINGTGT_SOCKET or ringtgtd's default,
 * with ".N" appended when N > 0 (as tgt appends it to its own socket).
 */
void tgtadm_socket_path(int control_port, char *buf, size_t len);

/*
 * The portals of `--mode portal --op new|delete --param LIST`, read as
 * tgt's iscsi_param_parse_portals() reads them: comma-separated items
 * `portal=ADDR[:PORT]` / `portal=[IPV6][:PORT]` (port 3260 when none).
 * Each becomes ringtgtd's "ADDR:PORT" / "[IPV6]:PORT" in @out (up to
 * @max, @len bytes each). Returns how many (at least 1), -EINVAL for a
 * list without a portal, an item of another name, a malformed address
 * or port, more than @max, or -EOPNOTSUPP for tgt's nop_interval /
 * nop_count items (global NOP settings ringtgtd sets at start).
 */
#define TGTADM_PORTAL_LEN 80
int tgtadm_portal_parse(const char *list, char (*out)[TGTADM_PORTAL_LEN],
			int max);

/* The whole tool: parse, talk to ringtgtd, print; returns the status. */
int tgtadm_main(int argc, char **argv);

#endif
