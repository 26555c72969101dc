/*
 * ringtgt/ctl.h - client side of ringtgtd's control socket, for tools.
 *
 * The protocol is newline-delimited JSON, one request and one reply per
 * line (docs/control-protocol.md). This API hides the framing:
 *
 *	int fd = ringtgt_ctl_connect(NULL);
 *	json_object *args = json_object_new_object(), *res;
 *	json_object_object_add(args, "iqn", json_object_new_string(iqn));
 *	rc = ringtgt_ctl_call(fd, "target.add", args, &res, buf, sizeof(buf));
 *
 * Functions return 0 or -errno. Nothing here is thread-safe per fd.
 */
#ifndef RINGTGT_PUBLIC_CTL_H
#define RINGTGT_PUBLIC_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define RINGTGT_CTL_DEFAULT_PATH "/run/ringtgt/ringtgtd.sock"
/* Environment variable naming the socket when no path is given. */
#define RINGTGT_CTL_ENV "RINGTGT_SOCKET"

/*
 * Connects to the daemon's control socket at @path (NULL: $RINGTGT_SOCKET,
 * else RINGTGT_CTL_DEFAULT_PATH). Returns the fd, or -errno.
 */
int ringtgt_ctl_connect(const char *path);

/*
 * Sends {"v":1,"op":@op,"args":@args} and waits for the reply. @args may
 * be NULL and is not consumed (the caller still owns it).
 *
 * Returns 0 when the daemon said ok; *@result (if @result is non-NULL)
 * then holds the reply's result, owned by the caller (NULL for null).
 * Returns -errno when the daemon refused (the daemon's errno, its message
 * in @errbuf) or when talking to it failed (a description in @errbuf).
 */
int ringtgt_ctl_call(int fd, const char *op, json_object *args,
		     json_object **result, char *errbuf, size_t errlen);

/*
 * Parses a size: bytes, or a number with a binary suffix K, M, G, T or P
 * (case-insensitive, optionally followed by "iB" or "B"): "512", "4K",
 * "1G", "2TiB". Fractions are not accepted. Returns 0, -EINVAL or -ERANGE.
 */
int ringtgt_parse_size(const char *s, uint64_t *out);

/* LUNs a target serves: 0 .. RINGTGT_MAX_LUNS - 1 (LUN 0 included). */
#define RINGTGT_MAX_LUNS 256

/*
 * tgt 1.0.85's standard INQUIRY defaults (usr/spc.c, usr/sbc.c): what a
 * tool creating an LU as tgt would (tgtadm, tgt-admin) passes as
 * vendor_id / product_id / product_rev when none is configured, so that
 * udev's ID_VENDOR / ID_MODEL stay as they were under tgt.
 */
#define RINGTGT_TGT_VENDOR_ID "IET"
#define RINGTGT_TGT_PRODUCT_ID_DISK "VIRTUAL-DISK"
#define RINGTGT_TGT_PRODUCT_ID_CONTROLLER "Controller"
#define RINGTGT_TGT_PRODUCT_REV "0001"

/*
 * Adds one of tgt's LU parameters, "@name=@value" as tgtadm's --params
 * and targets.conf write it (scsi_id=..., removable=1), to @args of a
 * lun.add or lun.update request, with the name and JSON type the
 * protocol takes (docs/control-protocol.md, "LU parameters"). With
 * @tgt_cut, a string longer than tgt's field (scsi_id, scsi_sn: 36;
 * vendor_id 8, product_id 16, product_rev 4) is cut as tgt 1.0.85 cuts
 * it, which tgtadm and tgt-admin need to give an LU the identifiers tgt
 * gave it; without, it is refused. Returns 0, or -ENOENT (no such
 * parameter), -EOPNOTSUPP (one of tgt's that ringtgt does not
 * implement, or a value it does not support), -EINVAL (a bad value),
 * with a sentence naming the parameter in @errbuf.
 */
int ringtgt_lu_param_add(json_object *args, const char *name,
			 const char *value, int tgt_cut, char *errbuf,
			 size_t errlen);

/*
 * A set of tgt LU parameters built up from several sources (targets.conf
 * directives, `params` lines, a device's INQUIRY data), a later value of
 * a parameter replacing the earlier one, as tgt-admin applies them.
 * ringtgt_lu_params_set() takes "@name=@value" as ringtgt_lu_param_add()
 * does (same @tgt_cut, returns and @errbuf); ringtgt_lu_params_to_json()
 * adds every parameter set to @args of a lun.add or lun.update request,
 * always in the same order, whatever order they were set in.
 */
struct ringtgt_lu_params;

struct ringtgt_lu_params *ringtgt_lu_params_new(void);	/* NULL: ENOMEM */
void ringtgt_lu_params_free(struct ringtgt_lu_params *p);
int ringtgt_lu_params_set(struct ringtgt_lu_params *p, const char *name,
			  const char *value, int tgt_cut, char *errbuf,
			  size_t errlen);
/* Whether the parameter @name ("scsi_id") is set in @p. */
int ringtgt_lu_params_has(const struct ringtgt_lu_params *p,
			  const char *name);
void ringtgt_lu_params_to_json(const struct ringtgt_lu_params *p,
			       json_object *args);

#endif
