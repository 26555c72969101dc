/*
 * main.c - ringtgtd: parses the command line, loads the configuration,
 * starts the reactors, portals and the control socket, and waits for
 * SIGTERM/SIGINT to shut down cleanly.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "config/config.h"
#include "control/ctl.h"
#include "core/core.h"
#include "iscsi/iscsi.h"
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#define MAX_ITEMS 64

struct options {
	bool foreground;
	const char *config;
	const char *portals[MAX_ITEMS];
	int nportals;
	const char *exports[MAX_ITEMS];
	int nexports;
	const char *socket;
	const char *event_loop;
	int reactors;
	int log_level;
	int nop_interval, nop_timeout;
	const char *state_dir;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ringtgtd [OPTIONS]\n"
"A userspace iSCSI target (RFC 7143) serving files and block devices.\n"
"\n"
"  -f, --foreground           stay in the foreground, log to stderr\n"
"                             (default: detach and log to syslog)\n"
"  -c, --config FILE          configuration file (default %s;\n"
"                             not read when --export is given without -c;\n"
"                             when the default is missing, the daemon\n"
"                             starts with no targets, as tgtd does)\n"
"  -p, --portal ADDR:PORT     listen here (IPv4 or [IPv6]; repeatable);\n"
"                             replaces the config's portals (default: the\n"
"                             config's, else 127.0.0.1:3260 with --export,\n"
"                             else [::]:3260 for IPv6 and IPv4)\n"
"  -x, --export PATH[,iqn=IQN][,buffered][,shared][,write_cache=on|off]\n"
"                             export a file or block device as LUN 1 of a\n"
"                             target open to all initiators (repeatable;\n"
"                             default IQN iqn.2026-11.org.ringtgt:<name>);\n"
"                             only on 127.0.0.1:3260 unless --portal says\n"
"                             otherwise. A block device is opened O_DIRECT\n"
"                             (buffered: through the page cache) and\n"
"                             O_EXCL (shared: without). write_cache=off:\n"
"                             every write durable before GOOD (WCE=0)\n"
"  -s, --control-socket PATH  control socket (default %s)\n"
"  -e, --event-loop LOOP      io_uring or epoll (default: io_uring when\n"
"                             the kernel allows it, else epoll)\n"
"  -r, --reactors N           event loop threads (default: one per CPU in\n"
"                             the process's affinity mask)\n"
"  -l, --log-level LEVEL      error, warn, info (default) or debug\n"
"      --nop-interval SECS    idle time before a NOP-In ping (0: off)\n"
"      --nop-timeout SECS     time to wait for the ping's answer\n"
"      --state-dir DIR        where persistent reservations with APTPL are\n"
"                             kept (default %s with a\n"
"                             config file; with --export and no config,\n"
"                             none: APTPL is refused)\n"
"  -h, --help                 this text\n"
"  -V, --version              the version\n"
"\n"
"Environment: RINGTGT_NO_IO_URING=1 acts as if the kernel had no io_uring\n"
"(the automatic epoll fallback, for testing).\n",
		CONFIG_DEFAULT_PATH, CTL_DEFAULT_PATH, CONFIG_DEFAULT_STATE_DIR);
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_NOP_INTERVAL = 256, OPT_NOP_TIMEOUT, OPT_STATE_DIR };
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "portal", required_argument, NULL, 'p' },
		{ "export", required_argument, NULL, 'x' },
		{ "control-socket", required_argument, NULL, 's' },
		{ "event-loop", required_argument, NULL, 'e' },
		{ "reactors", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "nop-interval", required_argument, NULL, OPT_NOP_INTERVAL },
		{ "nop-timeout", required_argument, NULL, OPT_NOP_TIMEOUT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "fc:p:x:s:e:r:l:hV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'f':
			o->foreground = true;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'p':
		case 'x':
			if ((opt == 'p' ? o->nportals : o->nexports) == MAX_ITEMS) {
				fprintf(stderr, "ringtgtd: too many -%c options\n",
					opt);
				return 2;
			}
			if (opt == 'p')
				o->portals[o->nportals++] = optarg;
			else
				o->exports[o->nexports++] = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'e':
			if (strcmp(optarg, "io_uring") && strcmp(optarg, "epoll")) {
				fprintf(stderr, "ringtgtd: --event-loop: expected "
					"io_uring or epoll, got \"%s\"\n", optarg);
				return 2;
			}
			o->event_loop = optarg;
			break;
		case 'r':
			if (parse_int(optarg, 1, 64, &o->reactors) < 0) {
				fprintf(stderr, "ringtgtd: --reactors: expected "
					"1..64, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'l':
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "ringtgtd: --log-level: expected "
					"error, warn, info or debug\n");
				return 2;
			}
			break;
		case OPT_NOP_INTERVAL:
		case OPT_NOP_TIMEOUT:
			if (parse_int(optarg, 0, 3600, opt == OPT_NOP_INTERVAL ?
				      &o->nop_interval : &o->nop_timeout) < 0) {
				fprintf(stderr, "ringtgtd: --%s: expected 0..3600 "
					"seconds\n", opt == OPT_NOP_INTERVAL ?
					"nop-interval" : "nop-timeout");
				return 2;
			}
			break;
		case OPT_STATE_DIR:
			if (!*optarg) {
				fprintf(stderr, "ringtgtd: --state-dir: expected a "
					"directory\n");
				return 2;
			}
			o->state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("ringtgtd %s\n", RINGTGT_VERSION);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringtgtd: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* Builds an IQN from a file name: lower case, [a-z0-9.-] only. */
static void default_iqn(const char *path, char *out, size_t len)
{
	char tmp[256], *base;
	size_t n;

	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	n = (size_t)snprintf(out, len, "iqn.2026-11.org.ringtgt:");
	for (const char *p = base; *p && n + 1 < len; p++) {
		char ch = (char)tolower((unsigned char)*p);

		out[n++] = isalnum((unsigned char)ch) || ch == '.' || ch == '-' ?
				   ch : '-';
	}
	out[n] = '\0';
}

/* True when the config names a portal (top level or in a portal_group). */
static bool config_has_portals(const struct ringtgt_config *cfg)
{
	bool any = cfg->nportals > 0;

	for (size_t i = 0; i < cfg->ngroups; i++)
		any = any || cfg->groups[i].nportals > 0;
	return any;
}

/*
 * Opens the config's portals: the top-level list in group 1, each
 * portal_group's in its group (config_apply() defined the groups).
 */
static int open_config_portals(const struct ringtgt_config *cfg)
{
	char err[256];
	int rc = 0;

	for (size_t i = 0; !rc && i < cfg->nportals; i++)
		rc = iscsi_portal_add(cfg->portals[i], err, sizeof(err));
	for (size_t i = 0; !rc && i < cfg->ngroups; i++) {
		const struct config_portal_group *g = &cfg->groups[i];

		for (size_t j = 0; !rc && j < g->nportals; j++)
			rc = iscsi_portal_add_group(g->portals[j], g->tag, err,
						    sizeof(err));
	}
	if (rc < 0)
		log_err("%s", err);
	return rc;
}

static int add_export(const char *arg)
{
	struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };
	struct core_lun_spec disk = { .type = SCSI_LU_DISK, .backing = "file" };
	char path[4096], iqn[4200];
	struct core_err err = { "" };
	char *comma, *opt;

	if (strlen(arg) >= sizeof(path)) {
		log_err("--export: path too long");
		return -EINVAL;
	}
	memcpy(path, arg, strlen(arg) + 1);
	comma = strchr(path, ',');
	iqn[0] = '\0';
	if (comma)
		*comma = '\0';
	/* the options after PATH, comma-separated */
	for (opt = comma ? comma + 1 : NULL; opt; opt = comma ? comma + 1 : NULL) {
		comma = strchr(opt, ',');
		if (comma)
			*comma = '\0';
		if (strncmp(opt, "iqn=", 4) == 0 && opt[4]) {
			snprintf(iqn, sizeof(iqn), "%s", opt + 4);
		} else if (strcmp(opt, "buffered") == 0) {
			disk.buffered = true;
		} else if (strcmp(opt, "shared") == 0) {
			disk.shared = true;
		} else if (strcmp(opt, "write_cache=off") == 0) {
			disk.no_write_cache = true;
		} else if (strcmp(opt, "write_cache=on") == 0) {
			disk.no_write_cache = false;
		} else {
			log_err("--export %s: expected PATH[,iqn=IQN][,buffered][,shared][,write_cache=on|off]",
				arg);
			return -EINVAL;
		}
	}
	if (!iqn[0])
		default_iqn(path, iqn, sizeof(iqn));
	disk.path = path;
	if (core_target_add(iqn, 0, NULL, &err) < 0 ||
	    core_lun_add(iqn, 0, &ctl, &err) < 0 ||
	    core_lun_add(iqn, 1, &disk, &err) < 0 ||
	    core_acl_add(iqn, "ALL", &err) < 0) {
		log_err("--export %s: %s", arg, err.msg);
		return -EINVAL;
	}
	log_info("exporting %s as %s LUN 1", path, iqn);
	return 0;
}

/*
 * The APTPL state directory: --state-dir, else the config's state_dir,
 * else with a config file the default, which may be missing on a host
 * where it cannot be created (not root): then APTPL is refused, with a
 * warning. With --export and no config: none unless --state-dir.
 */
static int set_state_dir(const struct options *o,
			 const struct ringtgt_config *cfg)
{
	struct core_err err = { "" };
	const char *dir = o->state_dir;
	bool fallback = false;

	if (!dir && cfg)
		dir = cfg->state_dir;
	if (!dir && cfg) {
		dir = CONFIG_DEFAULT_STATE_DIR;
		fallback = true;
	}
	if (!dir || core_set_state_dir(dir, &err) == 0)
		return 0;
	if (!fallback) {
		log_err("%s", err.msg);
		return -1;
	}
	log_warn("%s; persistent reservations will not persist (APTPL is "
		 "refused); give --state-dir", err.msg);
	return 0;
}

/* ctl_server_set_shutdown(): the sigwait() loop in main() takes it */
static void stop_self(void *arg)
{
	(void)arg;
	kill(getpid(), SIGTERM);
}

int main(int argc, char **argv)
{
	struct options o = { .log_level = LOG_LVL_INFO, .nop_interval = -1,
			     .nop_timeout = -1 };
	struct ringtgt_config cfg;
	struct iscsi_settings set;
	struct ctl_server *ctl = NULL;
	struct core_err cerr = { "" };
	bool have_cfg = false, no_config_file = false;
	char err[512];
	sigset_t sigs;
	int rc, sig;

	memset(&cfg, 0, sizeof(cfg));
	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	log_init("ringtgtd", true, (enum log_level)o.log_level);
	signal(SIGPIPE, SIG_IGN);

	if (o.config || o.nexports == 0) {
		const char *path = o.config ? o.config : CONFIG_DEFAULT_PATH;

		rc = config_load(path, &cfg, err, sizeof(err));
		/*
		 * As tgtd: without --config, a missing default file is an
		 * empty configuration (every setting at its default, no
		 * targets), for tgtadm / tgt-admin / ringtgtadm to fill.
		 * A file named with --config must exist.
		 */
		if (rc == -ENOENT && !o.config) {
			no_config_file = true;
			rc = config_parse_buf("", &cfg, err, sizeof(err));
		}
		if (rc < 0) {
			fprintf(stderr, "ringtgtd: %s\n", err);
			return 1;
		}
		have_cfg = true;
	}
	iscsi_settings_default(&set);
	if (have_cfg) {
		set.nop_interval = (unsigned)cfg.nop_interval;
		set.nop_timeout = (unsigned)cfg.nop_timeout;
		set.login_timeout = (unsigned)cfg.login_timeout;
		set.tmf_timeout = (unsigned)cfg.tmf_timeout;
		set.tx_stall_timeout = (unsigned)cfg.tx_stall_timeout;
		set.max_connections = (unsigned)cfg.max_connections;
		set.max_conns_per_source = (unsigned)cfg.max_conns_per_source;
		set.max_conns_per_target = (unsigned)cfg.max_conns_per_target;
		set.max_sessions_per_target =
			(unsigned)cfg.max_sessions_per_target;
		set.buf_conn_max = cfg.buffer_per_connection;
		set.buf_total_max = cfg.buffer_total;
		set.reactors = cfg.reactors;
		if (cfg.event_loop && strcmp(cfg.event_loop, "epoll") == 0)
			set.event_loop = EV_EPOLL;
	}
	if (o.nop_interval >= 0)
		set.nop_interval = (unsigned)o.nop_interval;
	if (o.nop_timeout >= 0)
		set.nop_timeout = (unsigned)o.nop_timeout;
	if (o.reactors)
		set.reactors = o.reactors;
	if (o.event_loop)
		set.event_loop = strcmp(o.event_loop, "epoll") == 0 ? EV_EPOLL :
								       EV_IO_URING;
	if (set.event_loop == EV_IO_URING && !reactor_uring_available()) {
		if (o.event_loop || (have_cfg && cfg.event_loop &&
				     strcmp(cfg.event_loop, "io_uring") == 0)) {
			fprintf(stderr, "ringtgtd: io_uring is not available "
				"(kernel too old, or kernel.io_uring_disabled); "
				"use --event-loop=epoll\n");
			return 1;
		}
		set.event_loop = EV_EPOLL;
	}
	if (!o.foreground) {
		/* keep the cwd until relative paths are opened (chdir below) */
		if (daemon(1, 0) < 0) {
			perror("ringtgtd: daemon");
			return 1;
		}
		log_init("ringtgtd", false, (enum log_level)o.log_level);
	}
	if (set.event_loop == EV_EPOLL && !o.event_loop)
		log_info("io_uring is not available here; using epoll");
	if (no_config_file)
		log_info("no configuration file %s: starting with no targets",
			 CONFIG_DEFAULT_PATH);

	core_init();
	/* before the config: its targets may set iSCSI parameters */
	iscsi_target_params_register(&set);
	/* first, so a second daemon on the same socket stops here */
	rc = ctl_server_start_group(o.socket ? o.socket : CTL_DEFAULT_PATH,
				    have_cfg ? cfg.control_group : NULL, &ctl);
	if (rc < 0) {
		rc = 1;
		goto out_core;
	}
	/* daemon.shutdown: the signal loop below stops the daemon */
	ctl_server_set_shutdown(ctl, stop_self, NULL);
	if (set_state_dir(&o, have_cfg ? &cfg : NULL) < 0) {
		rc = 1;
		goto out_core;
	}
	if (have_cfg && config_apply(&cfg, &cerr) < 0) {
		log_err("%s", cerr.msg);
		rc = 1;
		goto out_core;
	}
	for (int i = 0; i < o.nexports; i++) {
		if (add_export(o.exports[i]) < 0) {
			rc = 1;
			goto out_core;
		}
	}
	/* the main thread only waits for signals; the others never see them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	rc = iscsi_start(&set);
	if (rc < 0) {
		rc = 1;
		goto out_core;
	}
	if (o.nportals) {
		for (int i = 0; i < o.nportals; i++)
			if (iscsi_portal_add(o.portals[i], err, sizeof(err)) < 0) {
				log_err("%s", err);
				rc = 1;
				goto out_iscsi;
			}
	} else if (have_cfg && config_has_portals(&cfg)) {
		if (open_config_portals(&cfg) < 0) {
			rc = 1;
			goto out_iscsi;
		}
	} else if (o.nexports) {
		/* --export alone serves to this host only (issue 9, item 5) */
		if (iscsi_portal_add("127.0.0.1:3260", err, sizeof(err)) < 0) {
			log_err("%s", err);
			rc = 1;
			goto out_iscsi;
		}
	} else if (iscsi_portal_add_any(CONFIG_DEFAULT_PORT, err,
					sizeof(err)) < 0) {
		log_err("%s", err);
		rc = 1;
		goto out_iscsi;
	}
	iscsi_warn_open_portals();
	{
		json_object *st = json_object_new_object();

		json_object_object_add(st, "version",
				       json_object_new_string(RINGTGT_VERSION));
		json_object_object_add(st, "pid", json_object_new_int(getpid()));
		json_object_object_add(st, "reactors",
				       json_object_new_int(iscsi_reactor_count()));
		json_object_object_add(st, "event_loop",
				       json_object_new_string(iscsi_event_loop_name()));
		ctl_server_set_status(ctl, st);
	}
	if (!o.foreground && chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
	log_info("ringtgtd %s ready", RINGTGT_VERSION);
	/* Type=notify units: their ExecStartPost may use the socket now */
	rc = sd_notify(0, "READY=1");
	if (rc < 0)
		log_warn("cannot notify the service manager (NOTIFY_SOCKET=%s): "
			 "%s", getenv("NOTIFY_SOCKET"), strerror(-rc));
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: configuration reload is not supported "
				 "yet; use ringtgtadm");
			continue;
		}
		log_info("%s: shutting down", strsignal(sig));
		break;
	}
	rc = 0;
out_iscsi:
	iscsi_stop();
out_core:
	if (ctl)
		ctl_server_stop(ctl);
	core_shutdown();
	if (have_cfg)
		config_free(&cfg);
	log_info("stopped");
	return rc;
}
