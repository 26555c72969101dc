/*
 * tgtadm_internal.h - between the parts of tgtadm (tgtadm.c, the command
 * line; tgtadm_run.c, the requests; tgtadm_show.c, the layouts).
 */
#ifndef RINGTGT_TOOLS_TGTADM_INTERNAL_H
#define RINGTGT_TOOLS_TGTADM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define PROG "tgtadm"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* tgt's status for a usage error and for every refusal by the daemon */
#define TGTADM_EXIT_INVAL 22
/* tgt's status when no daemon answers (its write() after a failed connect) */
#define TGTADM_EXIT_NOTCONN 107

/*
 * tgt's str_to_int(): strtoull with base 0; nothing parsed or ULLONG_MAX
 * ("-1") is EINVAL, above @max ERANGE (positive errno values, as tgt).
 */
int tgtadm_strtou(const char *s, uint64_t max, uint64_t *out);

/* Members of a control reply; NULL / 0 / false when absent or null. */
const char *tgtadm_jstr(json_object *o, const char *key);
int64_t tgtadm_jint(json_object *o, const char *key);
bool tgtadm_jbool(json_object *o, const char *key);
json_object *tgtadm_jarr(json_object *o, const char *key);
/* The length of an array (0 for anything else). */
size_t tgtadm_jlen(json_object *arr);
/* A session's peer "ADDR:PORT" / "[ADDR]:PORT" as tgt shows it: "ADDR". */
void tgtadm_peer_ip(const char *peer, char *buf, size_t len);

#endif
