/*
 * tgt_admin.h - tgt 1.0.85's `tgt-admin` over ringtgtd's control socket
 * (tools/tgt_admin.c, docs/tgt-compat.md). ringtgtadm runs
 * tgt_admin_main() when invoked under the name tgt-admin. The option
 * parser and the planner (targets.conf + the daemon's state -> control
 * requests) are pure, for the unit tests.
 */
#ifndef RINGTGT_TOOLS_TGT_ADMIN_H
#define RINGTGT_TOOLS_TGT_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "tgtconf.h"

/* The command line, as tgt-admin's GetOptions reads it. */
struct tga_opts {
	bool execute, show, force, pretend, dump, verbose, ignore_errors;
	const char *update, *delete_, *offline, *ready;	/* NULL: not given */
	const char *conf;		/* -c; NULL: the default file */
	int control_port;		/* -C; 0: the default socket */
};

/*
 * Parses @argv. Returns -1 when @o is ready to act on, else the exit
 * status (0 after --help or with no argument at all, as tgt-admin prints
 * its usage then; 2 for a bad option, with a message on @err).
 */
int tga_parse_args(int argc, char **argv, struct tga_opts *o, FILE *out,
		   FILE *err);

/* One control request: @op with @args (owned). */
struct tga_action {
	char *op;
	json_object *args;
};

/* What to do for one target. */
struct tga_plan {
	struct tga_action *acts;
	size_t nacts;
	/*
	 * "# ..." lines tgt-admin prints: the first @nquiet ("# Adding
	 * target: ...") only with -v or -p, the others ("is in use, it won't
	 * be updated") always
	 */
	char **notes;
	size_t nnotes;
	size_t nquiet;
	bool adds_target;		/* starts with target.add: undo on failure */
};

/* A device's standard INQUIRY data and unit serial number (VPD 0x80). */
struct tga_inquiry {
	char vendor[9], product[17], rev[5];
	char serial[256];		/* "" when the device has none */
};

/* What the planner asks about files (the real one stats them). */
struct tga_env {
	void *ctx;
	/*
	 * For direct-store: the INQUIRY data of the device @path, as tgt-admin
	 * reads it with sg_inq. -ENODATA when it has none (not a SCSI device);
	 * NULL: never any.
	 */
	int (*inquiry)(void *ctx, const char *path, struct tga_inquiry *out);
	/* The size in bytes of the file or block device @path: 0 / -errno. */
	int (*size)(void *ctx, const char *path, uint64_t *bytes);
	/* Whether @a and @b name the same file (symbolic links followed). */
	bool (*same)(void *ctx, const char *a, const char *b);
	bool force;			/* -f */
	/*
	 * The tid of a target the plan adds (tgt-admin gives the largest tid
	 * it has seen + 1, so a deleted target's tid is not reused at once);
	 * 0: the daemon's choice. A controller_tid in the file wins.
	 */
	int tid;
};

/*
 * Plans target @t of @conf against the daemon's state: @cur is its entry
 * in target.list (NULL: not defined) and @accounts account.list's result.
 * A new target: target.add, LUN 0 as controller (as tgt makes it), the
 * LUNs, CHAP accounts and bindings, then the ACL. An existing one with
 * sessions and no @env->force: nothing but a note ("is in use, it won't
 * be updated"). Otherwise the difference, live: LUNs whose store and
 * settings are unchanged stay (a grown file or device becomes
 * lun.resize, changed tgt parameters lun.update), others are removed and
 * added; bindings and ACL rules follow the file. Returns 0, or
 * -EOPNOTSUPP / -EINVAL with a sentence in @err naming the file, line and
 * directive when the target asks for what ringtgt cannot do (nothing is
 * planned then). An account the plan creates is added to @accounts, so
 * that planning the next target (-p) does not create it again.
 */
int tga_plan_target(const struct tgtconf *conf, const struct tgtconf_target *t,
		    json_object *cur, json_object *accounts,
		    const struct tga_env *env, struct tga_plan *plan,
		    char *err, size_t errlen);

/*
 * Plans the discovery accounts of @conf (incomingdiscoveryuser,
 * outgoingdiscoveryuser) against account.list's result @accounts: each
 * account made when missing and bound to discovery, and, with an
 * incoming one, discovery.auth chap when discovery needs no
 * authentication yet (tgt then asks discovery sessions for CHAP). An
 * empty plan when the file has none. 0 or -ENOMEM.
 */
int tga_plan_discovery(const struct tgtconf *conf, json_object *accounts,
		       struct tga_plan *plan);

/*
 * Plans removing the target @cur (a target.list entry; NULL: @name does
 * not exist): refused with a note while it has sessions, unless @force.
 * @update only changes the note's wording ("won't be updated").
 */
int tga_plan_delete(const char *name, json_object *cur, bool force,
		    bool update, struct tga_plan *plan);

void tga_plan_free(struct tga_plan *plan);

/* @a as one line for -p / -v: "op {json}", secrets replaced by "***". */
void tga_action_print(const struct tga_action *a, FILE *out);

int tgt_admin_main(int argc, char **argv);

#endif
