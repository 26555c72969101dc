/*
 * tgtadm_show.c - tgt 1.0.85's `--op show --mode target` layout, line for
 * line (usr/target.c tgt_target_show_all(), usr/iscsi/session.c for the
 * I_T nexus lines), printed from ringtgtd's target.list and session.list
 * results, and the JSON accessors the tool shares. No line ends with a
 * space (tgt's "Backing store flags: " does).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tgtadm.h"
#include "tgtadm_internal.h"

const char *tgtadm_jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

int64_t tgtadm_jint(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

bool tgtadm_jbool(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v &&
	       json_object_get_boolean(v);
}

size_t tgtadm_jlen(json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ?
		       json_object_array_length(arr) : 0;
}

json_object *tgtadm_jarr(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, key, &v);
	return v;
}

/*
 * tgt's print_disksize(): its own rounding of sectors to "MB" (about
 * 10^6 bytes), kept as it is so sizes read the same in both.
 */
uint64_t tgtadm_disk_mb(uint64_t bytes)
{
	uint64_t s = bytes / 512;

	return (s - (s / 625 - 974)) / 1950;
}

/* "Label: value", the line ending without a trailing space. */
static void tgtadm_field(FILE *out, const char *indent, const char *label,
			 const char *value)
{
	fprintf(out, "%s%s:%s%s\n", indent, label, value && *value ? " " : "",
		value ? value : "");
}

static const char *tgtadm_yes(bool v)
{
	return v ? "Yes" : "No";
}

/* tgt's address without the port: "127.0.0.1", "::1" (getnameinfo). */
void tgtadm_peer_ip(const char *peer, char *buf, size_t len)
{
	const char *colon = peer ? strrchr(peer, ':') : NULL;
	size_t n = colon ? (size_t)(colon - peer) : (peer ? strlen(peer) : 0);

	if (n && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	snprintf(buf, len, "%.*s", (int)n, peer ? peer : "");
}

/* An ACL rule naming an initiator rather than addresses. */
static bool tgtadm_rule_is_name(const char *rule)
{
	return !strncasecmp(rule, "iqn.", 4) || !strncasecmp(rule, "eui.", 4) ||
	       !strncasecmp(rule, "naa.", 4);
}

/*
 * tgt's Backing store type: its name for the store the LU reads and
 * writes through: a file or block device is tgt's default "rdwr", a
 * controller (no store) "null"; stores tgt has no name for keep ours.
 */
static const char *tgtadm_bs_name(json_object *l)
{
	const char *type = tgtadm_jstr(l, "type");
	const char *b = tgtadm_jstr(l, "bstype");

	if (b)
		return b;
	if (type && strcmp(type, "disk") != 0)
		return "null";
	b = tgtadm_jstr(l, "backing");
	if (!b || !strcmp(b, "file") || !strcmp(b, "blk"))
		return "rdwr";
	return b;
}

/* tgt's open_flags_to_str(): "sync", "direct", "sync:direct" or "". */
static void tgtadm_bs_flags(json_object *l, char *buf, size_t len)
{
	const char *f = tgtadm_jstr(l, "bsoflags");

	if (f) {
		snprintf(buf, len, "%s", f);
		return;
	}
	snprintf(buf, len, "%s%s%s", tgtadm_jbool(l, "sync") ? "sync" : "",
		 tgtadm_jbool(l, "sync") && tgtadm_jbool(l, "direct") ? ":" : "",
		 tgtadm_jbool(l, "direct") ? "direct" : "");
}

static void tgtadm_show_lun(json_object *l, FILE *out)
{
	static const char t3[] = "            ";
	const char *type = tgtadm_jstr(l, "type");
	bool disk = type && !strcmp(type, "disk");
	const char *sn = tgtadm_jstr(l, "scsi_sn");
	char buf[256];

	fprintf(out, "        LUN: %" PRId64 "\n", tgtadm_jint(l, "lun"));
	tgtadm_field(out, t3, "Type", disk ? "disk" : type ? type : "");
	tgtadm_field(out, t3, "SCSI ID", tgtadm_jstr(l, "scsi_id"));
	tgtadm_field(out, t3, "SCSI SN", sn ? sn : tgtadm_jstr(l, "serial"));
	/* a controller has no blocks: tgt shows its block size as 1 */
	fprintf(out, "%sSize: %" PRIu64 " MB, Block size: %" PRId64 "\n", t3,
		tgtadm_disk_mb((uint64_t)tgtadm_jint(l, "size")),
		disk ? tgtadm_jint(l, "block_size") : 1);
	tgtadm_field(out, t3, "Online", tgtadm_yes(
		!json_object_object_get_ex(l, "online", NULL) ||
		tgtadm_jbool(l, "online")));
	tgtadm_field(out, t3, "Removable media",
		     tgtadm_yes(tgtadm_jbool(l, "removable")));
	tgtadm_field(out, t3, "Prevent removal",
		     tgtadm_yes(tgtadm_jbool(l, "prevent_removal")));
	tgtadm_field(out, t3, "Readonly", tgtadm_yes(tgtadm_jbool(l, "readonly")));
	tgtadm_field(out, t3, "SWP", tgtadm_yes(tgtadm_jbool(l, "swp")));
	tgtadm_field(out, t3, "Thin-provisioning",
		     tgtadm_yes(tgtadm_jbool(l, "thin_provisioning")));
	tgtadm_field(out, t3, "Backing store type", tgtadm_bs_name(l));
	tgtadm_field(out, t3, "Backing store path",
		     tgtadm_jstr(l, "path") ? tgtadm_jstr(l, "path") : "None");
	tgtadm_bs_flags(l, buf, sizeof(buf));
	tgtadm_field(out, t3, "Backing store flags", buf);
}

/* tgt's session info (usr/iscsi/session.c): one I_T nexus per session. */
static void tgtadm_show_nexus(json_object *s, FILE *out)
{
	const char *alias = tgtadm_jstr(s, "alias");
	const char *name = tgtadm_jstr(s, "initiator");
	char ip[80];

	tgtadm_peer_ip(tgtadm_jstr(s, "peer"), ip, sizeof(ip));
	fprintf(out, "        I_T nexus: %" PRId64 "\n", tgtadm_jint(s, "tsih"));
	fprintf(out, "            Initiator: %s alias: %s\n", name ? name : "",
		alias && *alias ? alias : "none");
	fprintf(out, "            Connection: %" PRId64 "\n", tgtadm_jint(s, "cid"));
	fprintf(out, "                IP Address: %s\n", ip);
}

void tgtadm_show_targets(json_object *targets, json_object *sessions,
			 FILE *out)
{
	for (size_t i = 0; i < tgtadm_jlen(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i);
		json_object *luns = tgtadm_jarr(t, "luns");
		json_object *in = tgtadm_jarr(t, "incoming_accounts");
		json_object *acls = tgtadm_jarr(t, "acls");
		const char *outgoing = tgtadm_jstr(t, "outgoing_account");
		const char *state = tgtadm_jstr(t, "state");
		const char *iqn = tgtadm_jstr(t, "iqn");
		int64_t tid = tgtadm_jint(t, "tid");

		fprintf(out, "Target %" PRId64 ": %s\n", tid, iqn ? iqn : "");
		fprintf(out, "    System information:\n");
		fprintf(out, "        Driver: iscsi\n");
		fprintf(out, "        State: %s\n", state ? state : "ready");
		fprintf(out, "    I_T nexus information:\n");
		for (size_t j = 0; j < tgtadm_jlen(sessions); j++) {
			json_object *s = json_object_array_get_idx(sessions, j);

			if (tgtadm_jstr(s, "tid") && tgtadm_jint(s, "tid") == tid)
				tgtadm_show_nexus(s, out);
		}
		fprintf(out, "    LUN information:\n");
		for (size_t j = 0; j < tgtadm_jlen(luns); j++)
			tgtadm_show_lun(json_object_array_get_idx(luns, j), out);
		fprintf(out, "    Account information:\n");
		for (size_t j = 0; j < tgtadm_jlen(in); j++)
			fprintf(out, "        %s\n", json_object_get_string(
				json_object_array_get_idx(in, j)));
		if (outgoing)
			fprintf(out, "        %s (outgoing)\n", outgoing);
		/* tgt lists address rules, then initiator-name rules */
		fprintf(out, "    ACL information:\n");
		for (int names = 0; names < 2; names++)
			for (size_t j = 0; j < tgtadm_jlen(acls); j++) {
				const char *rule = json_object_get_string(
					json_object_array_get_idx(acls, j));

				if (tgtadm_rule_is_name(rule) == (bool)names)
					fprintf(out, "        %s\n", rule);
			}
	}
}
