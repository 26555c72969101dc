/*
 * config.h - the daemon's configuration file (docs/config.md): portals,
 * daemon settings, CHAP accounts, discovery authentication and the targets
 * to create at start. Loading only parses and validates (every error names
 * the file, line and problem, never a secret); applying creates the
 * accounts and targets through core.h.
 */
#ifndef RINGTGT_CONFIG_H
#define RINGTGT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"

/* Where `meson install` puts the config: /etc with --prefix=/usr */
#ifndef RINGTGT_SYSCONFDIR
#define RINGTGT_SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH RINGTGT_SYSCONFDIR "/ringtgt/ringtgt.conf"
/* Where runtime state (APTPL files) lives when a config file is used. */
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/ringtgt"
#define CONFIG_DEFAULT_PORT 3260
/* Longest state_dir (the files in it get a 42-byte name). */
#define CONFIG_STATE_DIR_MAX 4000
/* Longest control_group name. */
#define CONFIG_GROUP_MAX 32
/* Largest value of a connection or session limit. */
#define CONFIG_LIMIT_MAX 65536

struct config_lun {
	uint64_t lun;
	struct core_lun_spec spec;	/* strings owned by the config */
	/* tgt's LU parameters (scsi_id, ...); spec.params points here
	 * when any is set, at apply time */
	struct scsi_lu_params params;
	int line;			/* where "lun N {" is */
};

/* An "account NAME { secret = ... }" section. */
struct config_account {
	char *name;
	char *secret;			/* wiped by config_free() */
	int line;			/* where "account NAME {" is */
};

struct config_target {
	char *iqn;
	int tid;			/* 0: next free */
	bool controller;		/* LUN 0 = storage array controller */
	struct config_lun *luns;
	size_t nluns;
	char **acls;
	size_t nacls;
	char **incoming;		/* account names bound as incoming */
	size_t nincoming;
	char *outgoing;			/* account name, or NULL */
	unsigned chap_algs;		/* CORE_CHAP_* bits; default all */
	char **params;			/* iscsi_params: "Key=Value" */
	size_t nparams;
	int line;			/* where "target ... {" is */
};

/* portal_group TAG { portal = {...} alua_state = ... } */
struct config_portal_group {
	uint16_t tag;			/* 1..65535 */
	enum scsi_alua_state state;	/* default active/optimized */
	char **portals;
	size_t nportals;
	int line;
};

struct ringtgt_config {
	char *file;			/* name used in messages */
	/*
	 * "addr:port" / "[addr6]:port", portal group 1; 0 and no group with
	 * portals: none given, the daemon's default
	 */
	char **portals;
	size_t nportals;
	struct config_portal_group *groups;
	size_t ngroups;
	int nop_interval;		/* seconds between NOP-Ins; 0 = off */
	int nop_timeout;		/* seconds to wait for NOP-Out; 0 = off */
	int login_timeout;		/* seconds for a login to finish */
	int tmf_timeout;		/* seconds a TMF waits for aborted I/O */
	int tx_stall_timeout;		/* seconds output may stay unread */
	/* limits, 1..CONFIG_LIMIT_MAX (docs/robustness.md, "Limits") */
	int max_connections;		/* connections overall */
	int max_conns_per_source;	/* from one address */
	int max_conns_per_target;	/* naming one target, login or not */
	int max_sessions_per_target;	/* normal sessions of one target */
	uint64_t buffer_per_connection;	/* bytes; 0: the daemon's default */
	uint64_t buffer_total;		/* bytes; 0: the daemon's default */
	int reactors;			/* 0: one per CPU in the affinity mask */
	char *event_loop;		/* "auto", "io_uring" or "epoll" */
	char *control_group;		/* NULL: control socket 0600, root only */
	char *state_dir;		/* NULL: not set (CONFIG_DEFAULT_STATE_DIR) */
	struct config_account *accounts;
	size_t naccounts;
	enum core_disc_auth discovery_auth;
	char **discovery_incoming;	/* account names */
	size_t ndiscovery_incoming;
	char *discovery_outgoing;	/* account name, or NULL */
	int discovery_line;		/* of discovery_auth; 0 when unset */
	struct config_target *targets;
	size_t ntargets;
};

/*
 * Parses and validates @path into @cfg (zeroed first). Returns 0, or
 * -errno with "file:line: problem" in @err. On error @cfg holds nothing
 * to free. A file that holds account secrets is refused (-EACCES) when
 * other users may read it, and logged with a warning when its group may.
 */
int config_load(const char *path, struct ringtgt_config *cfg, char *err,
		size_t errlen);
/* Same for a string; messages name the file "<config>". For tests. */
int config_parse_buf(const char *text, struct ringtgt_config *cfg, char *err,
		     size_t errlen);
void config_free(struct ringtgt_config *cfg);

/*
 * Defines every portal group of @cfg (core_port_group_define), then
 * creates every account, target, LUN, ACL and account binding of @cfg
 * through core.h, then sets discovery authentication (unless none). For
 * LUNs with create = true, missing parent directories of the image are
 * created (0755). A short secret is logged with a warning. On failure,
 * the targets and accounts this call created are removed again and
 * err->msg names the file and line. Returns 0 or -errno.
 */
int config_apply(const struct ringtgt_config *cfg, struct core_err *err);

/*
 * Parses a portal "1.2.3.4:3260", "[::1]:3260", "1.2.3.4" or "[::]"
 * (port 3260 when absent) into @ss / @len. Returns 0 or -EINVAL.
 */
int config_portal_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *len);

#endif
