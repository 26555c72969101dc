/*
 * test_core.c - the target registry: tids, LUNs on RAM stores, refusal
 * while sessions exist, references outliving removal, JSON snapshots.
 * Criterion forks per test, so each test starts with an empty registry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/core.h"

#define IQN "iqn.2026-11.org.ringtgt:unit"
#define IQN2 "iqn.2026-11.org.ringtgt:unit2"

static struct core_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	core_init();
}

static void teardown(void)
{
	core_shutdown();
}

TestSuite(core, .init = setup, .fini = teardown);

static const struct core_lun_spec ram_16m = {
	.type = SCSI_LU_DISK, .backing = "ram", .size = 16 << 20,
};
static const struct core_lun_spec controller = { .type = SCSI_LU_CONTROLLER };

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s in %s", k,
		  json_object_to_json_string(o));
	return v;
}

Test(core, tid_allocation)
{
	int tid = -1;

	cr_assert_eq(core_target_add(IQN, 0, &tid, &err), 0, "%s", err.msg);
	cr_expect_eq(tid, 1);
	cr_assert_eq(core_target_add(IQN2, 5, &tid, &err), 0, "%s", err.msg);
	cr_expect_eq(tid, 5);
	cr_assert_eq(core_target_add("iqn.2026-11.org.ringtgt:three", 0, &tid,
				     &err), 0);
	cr_expect_eq(tid, 2, "the lowest free tid");
	cr_expect_eq(core_target_add("iqn.2026-11.org.ringtgt:four", 5, &tid,
				     &err), -EEXIST);
	cr_expect_str_eq(err.msg, "tid 5 is already used by " IQN2);
	cr_expect_eq(core_target_add(IQN, 0, NULL, &err), -EEXIST);
	cr_expect_str_eq(err.msg, "target " IQN " already exists (tid 1)");
	/* Names compare case-insensitively (RFC 3722 normalises case). */
	cr_expect_eq(core_target_add("IQN.2026-11.org.ringtgt:UNIT", 0, NULL,
				     &err), -EEXIST);
	cr_expect_eq(core_target_add("not-an-iqn", 0, NULL, &err), -EINVAL);
	cr_expect(strstr(err.msg, "not an iSCSI name") != NULL, "%s", err.msg);
	cr_expect_eq(core_target_add("iqn.2026-11.org.ringtgt:neg", -3, NULL,
				     &err), -EINVAL);

	/* A freed tid is reused. */
	cr_assert_eq(core_target_remove(IQN, false, &err), 0, "%s", err.msg);
	cr_assert_eq(core_target_add("iqn.2026-11.org.ringtgt:again", 0, &tid,
				     &err), 0);
	cr_expect_eq(tid, 1);
}

Test(core, find_and_references)
{
	struct tgt_target *t;

	cr_assert_eq(core_target_add(IQN, 7, NULL, &err), 0);
	cr_expect_null(core_target_find(IQN2));
	t = core_target_find("IQN.2026-11.ORG.RINGTGT:UNIT");
	cr_assert_not_null(t);
	cr_expect_str_eq(core_target_iqn(t), IQN);
	cr_expect_eq(core_target_tid(t), 7);
	cr_expect_str_eq(core_target_scsi(t)->name, IQN);
	cr_assert_eq(core_lun_add(IQN, 1, &ram_16m, &err), 0, "%s", err.msg);

	/* Removal unlinks; our reference keeps the LUN table alive. */
	cr_assert_eq(core_target_remove(IQN, false, &err), 0, "%s", err.msg);
	cr_expect_null(core_target_find(IQN));
	struct scsi_lu *lu = scsi_target_get_lu(core_target_scsi(t), 1);
	cr_assert_not_null(lu, "the LU is still there for our reference");
	cr_expect_eq(scsi_lu_bs(lu)->size, 16u << 20);
	scsi_lu_put(lu);
	core_target_put(t);
	cr_expect_eq(core_target_remove(IQN, false, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "no target " IQN);
}

Test(core, lun_add_remove)
{
	struct core_lun_spec spec = ram_16m;
	struct tgt_target *t;
	struct scsi_lu *lu;
	uint64_t luns[8];

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 0, &controller, &err), 0, "%s", err.msg);
	spec.serial = "SER123";
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), 0, "%s", err.msg);
	cr_assert_eq(core_lun_add(IQN, 255, &ram_16m, &err), 0, "%s", err.msg);

	t = core_target_find(IQN);
	cr_assert_not_null(t);
	cr_assert_eq(scsi_target_list_luns(core_target_scsi(t), luns, 8), 3);
	cr_expect_eq(luns[0], 0);
	cr_expect_eq(luns[1], 1);
	cr_expect_eq(luns[2], 255);
	lu = scsi_target_get_lu(core_target_scsi(t), 0);
	cr_assert_not_null(lu);
	cr_expect_eq(scsi_lu_type(lu), SCSI_LU_CONTROLLER);
	scsi_lu_put(lu);
	lu = scsi_target_get_lu(core_target_scsi(t), 1);
	cr_assert_not_null(lu);
	cr_expect_eq(scsi_lu_type(lu), SCSI_LU_DISK);
	cr_expect_str_eq(scsi_lu_serial(lu), "SER123");
	scsi_lu_put(lu);

	cr_expect_eq(core_lun_add(IQN, 1, &ram_16m, &err), -EEXIST);
	cr_expect_str_eq(err.msg, "target " IQN " already has LUN 1");
	cr_expect_eq(core_lun_add(IQN, 256, &ram_16m, &err), -ERANGE);
	cr_expect_str_eq(err.msg, "LUN 256 out of range 0..255");
	cr_expect_eq(core_lun_add(IQN2, 2, &ram_16m, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "no target " IQN2);

	cr_assert_eq(core_lun_remove(IQN, 1, false, &err), 0, "%s", err.msg);
	cr_expect_null(scsi_target_get_lu(core_target_scsi(t), 1));
	cr_expect_eq(core_lun_remove(IQN, 1, false, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "target " IQN " has no LUN 1");
	core_target_put(t);
}

Test(core, lun_spec_errors)
{
	struct core_lun_spec s;

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);

	s = ram_16m;
	s.size = 0;
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "LUN 1: a ram LUN needs a size");

	s = (struct core_lun_spec){ .type = SCSI_LU_DISK };
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "LUN 1: a file LUN needs a path");

	s = ram_16m;
	s.backing = "tape";
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "LUN 1: unknown backing store 'tape' (use file or ram)");

	s = ram_16m;
	s.block_size = 1024;
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "LUN 1: block size 1024 not supported (512 or 4096)");

	s = ram_16m;
	s.size = 1000;
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect(strstr(err.msg, "not a multiple of the block size 512"), "%s", err.msg);

	s = ram_16m;
	s.serial = "has space";
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -EINVAL);
	cr_expect(strstr(err.msg, "serial 'has space'"), "%s", err.msg);

	s = (struct core_lun_spec){ .type = SCSI_LU_DISK,
				    .path = "/nonexistent/dir/disk.img" };
	cr_expect_eq(core_lun_add(IQN, 1, &s, &err), -ENOENT);
	cr_expect_str_eq(err.msg,
		"LUN 1: cannot open /nonexistent/dir/disk.img: No such file or directory");

	/* Nothing half-added. */
	struct tgt_target *t = core_target_find(IQN);
	uint64_t luns[4];
	cr_expect_eq(scsi_target_list_luns(core_target_scsi(t), luns, 4), 0);
	core_target_put(t);
}

Test(core, file_lun_created_sparse)
{
	char dir[] = "/tmp/ringtgt-core-XXXXXX", path[64];
	struct core_lun_spec s = { .type = SCSI_LU_DISK, .create = true,
				   .size = 8 << 20 };
	json_object *arr, *lun;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	s.path = path;
	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 3, &s, &err), 0, "%s", err.msg);
	cr_expect_eq(access(path, F_OK), 0);

	arr = core_targets_json();
	lun = json_object_array_get_idx(jget(json_object_array_get_idx(arr, 0),
					     "luns"), 0);
	cr_expect_str_eq(json_object_get_string(jget(lun, "backing")), "file");
	cr_expect_str_eq(json_object_get_string(jget(lun, "path")), path);
	cr_expect_eq(json_object_get_int64(jget(lun, "size")), 8 << 20);
	json_object_put(arr);

	cr_assert_eq(core_lun_remove(IQN, 3, false, &err), 0);
	unlink(path);
	rmdir(dir);
}

Test(core, refusal_while_sessions)
{
	struct core_session s = { .tsih = 1 };
	struct tgt_target *t;

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 1, &ram_16m, &err), 0, "%s", err.msg);
	t = core_target_find(IQN);
	s.target = t;
	strcpy(s.initiator, "iqn.1993-08.org.debian:01:x");
	core_session_register(&s);
	cr_expect_eq(core_target_sessions(t), 1);

	cr_expect_eq(core_target_remove(IQN, false, &err), -EBUSY);
	cr_expect_str_eq(err.msg, "target " IQN " has 1 session; use --force to remove it anyway");
	cr_expect_eq(core_lun_remove(IQN, 1, false, &err), -EBUSY);
	cr_expect_str_eq(err.msg, "target " IQN " has 1 session; use --force to remove LUN 1 anyway");

	/* Force on the LUN works; the target is still there. */
	cr_expect_eq(core_lun_remove(IQN, 1, true, &err), 0, "%s", err.msg);
	cr_expect_null(scsi_target_get_lu(core_target_scsi(t), 1));
	cr_expect_not_null(core_target_find(IQN) ? t : NULL);
	core_target_put(t);	/* the find above */

	core_session_unregister(&s);
	cr_expect_eq(core_target_sessions(t), 0);
	cr_expect_eq(core_target_remove(IQN, false, &err), 0, "%s", err.msg);
	core_target_put(t);
}

static int evicted;
static const char *evicted_why;

static void evict(struct core_session *s, const char *why)
{
	evicted_why = why;
	evicted += s->tsih;
}

Test(core, force_remove_evicts_sessions)
{
	struct core_session a = { .tsih = 1, .evict = evict };
	struct core_session b = { .tsih = 10, .evict = evict };
	struct core_session disc = { .tsih = 100, .evict = evict };
	struct tgt_target *t;

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_target_add(IQN2, 0, NULL, &err), 0);
	t = core_target_find(IQN);
	a.target = t;
	b.target = core_target_find(IQN2);
	core_session_register(&a);
	core_session_register(&b);
	core_session_register(&disc);

	evicted = 0;
	cr_assert_eq(core_target_remove(IQN, true, &err), 0, "%s", err.msg);
	cr_expect_eq(evicted, 1, "only the removed target's session");
	cr_expect_null(core_target_find(IQN));

	/* A login that lost the race is asked to leave at once. */
	struct core_session late = { .tsih = 1000, .evict = evict, .target = t,
				     .isid = "800000000001" };
	core_target_get(t);
	core_session_register(&late);
	cr_expect_eq(evicted, 1001);

	core_session_unregister(&late);
	core_target_put(t);
	core_session_unregister(&a);
	core_target_put(t);
	core_session_unregister(&b);
	core_target_put(b.target);
	core_session_unregister(&disc);
}

Test(core, targets_json)
{
	struct core_lun_spec ro = ram_16m;
	json_object *arr, *t, *luns, *l0, *l1, *acls;

	ro.readonly = true;
	ro.block_size = 4096;
	cr_assert_eq(core_target_add(IQN, 4, NULL, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 0, &controller, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 1, &ro, &err), 0, "%s", err.msg);
	cr_assert_eq(core_acl_add(IQN, "ALL", &err), 0);
	cr_assert_eq(core_acl_add(IQN, "10.0.0.0/8", &err), 0);

	arr = core_targets_json();
	cr_assert_eq(json_object_array_length(arr), 1);
	t = json_object_array_get_idx(arr, 0);
	cr_expect_eq(json_object_get_int(jget(t, "tid")), 4);
	cr_expect_str_eq(json_object_get_string(jget(t, "iqn")), IQN);
	cr_expect_eq(json_object_get_int(jget(t, "sessions")), 0);
	acls = jget(t, "acls");
	cr_assert_eq(json_object_array_length(acls), 2);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(acls, 0)), "ALL");
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(acls, 1)), "10.0.0.0/8");

	luns = jget(t, "luns");
	cr_assert_eq(json_object_array_length(luns), 2);
	l0 = json_object_array_get_idx(luns, 0);
	cr_expect_eq(json_object_get_int(jget(l0, "lun")), 0);
	cr_expect_str_eq(json_object_get_string(jget(l0, "type")), "controller");
	cr_expect_null(jget(l0, "backing"));
	cr_expect_null(jget(l0, "path"));
	l1 = json_object_array_get_idx(luns, 1);
	cr_expect_eq(json_object_get_int(jget(l1, "lun")), 1);
	cr_expect_str_eq(json_object_get_string(jget(l1, "type")), "disk");
	cr_expect_str_eq(json_object_get_string(jget(l1, "backing")), "ram");
	cr_expect_eq(json_object_get_int64(jget(l1, "size")), 16 << 20);
	cr_expect_eq(json_object_get_int(jget(l1, "block_size")), 4096);
	cr_expect(json_object_get_boolean(jget(l1, "readonly")));
	/* The default serial is derived from IQN and LUN: stable, 16 hex. */
	char serial[64];
	snprintf(serial, sizeof(serial), "%s",
		 json_object_get_string(jget(l1, "serial")));
	cr_expect_eq(strlen(serial), 16, "%s", serial);
	cr_expect_eq(strspn(serial, "0123456789abcdef"), 16, "%s", serial);
	json_object_put(arr);

	/* Same IQN and LUN after re-creation: same serial. */
	cr_assert_eq(core_target_remove(IQN, false, &err), 0);
	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_lun_add(IQN, 1, &ram_16m, &err), 0);
	arr = core_targets_json();
	l0 = json_object_array_get_idx(jget(json_object_array_get_idx(arr, 0),
					    "luns"), 0);
	cr_expect_str_eq(json_object_get_string(jget(l0, "serial")), serial);
	json_object_put(arr);
}

Test(core, sessions_json)
{
	struct core_session s = {
		.tsih = 0x12, .reactor = 2, .connections = 1,
		.header_digest = true, .data_digest = false,
	};
	struct core_session d = { .tsih = 0x13 };
	json_object *arr, *o;

	cr_assert_eq(core_target_add(IQN, 3, NULL, &err), 0);
	s.target = core_target_find(IQN);
	strcpy(s.initiator, "iqn.1993-08.org.debian:01:x");
	strcpy(s.isid, "23d000000001");
	strcpy(s.peer, "127.0.0.1:40000");
	strcpy(s.local, "127.0.0.1:3260");
	strcpy(d.initiator, "iqn.1993-08.org.debian:01:y");
	core_session_register(&s);
	core_session_register(&d);

	arr = core_sessions_json();
	cr_assert_eq(json_object_array_length(arr), 2);
	o = json_object_array_get_idx(arr, 0);
	cr_expect_str_eq(json_object_get_string(jget(o, "target")), IQN);
	cr_expect_eq(json_object_get_int(jget(o, "tid")), 3);
	cr_expect_str_eq(json_object_get_string(jget(o, "type")), "normal");
	cr_expect_str_eq(json_object_get_string(jget(o, "initiator")),
			 "iqn.1993-08.org.debian:01:x");
	cr_expect_str_eq(json_object_get_string(jget(o, "isid")), "23d000000001");
	cr_expect_eq(json_object_get_int(jget(o, "tsih")), 0x12);
	cr_expect_str_eq(json_object_get_string(jget(o, "peer")), "127.0.0.1:40000");
	cr_expect_str_eq(json_object_get_string(jget(o, "local")), "127.0.0.1:3260");
	cr_expect_eq(json_object_get_int(jget(o, "reactor")), 2);
	cr_expect_str_eq(json_object_get_string(jget(o, "header_digest")), "CRC32C");
	cr_expect_str_eq(json_object_get_string(jget(o, "data_digest")), "None");
	o = json_object_array_get_idx(arr, 1);
	cr_expect_null(jget(o, "target"));
	cr_expect_str_eq(json_object_get_string(jget(o, "type")), "discovery");
	json_object_put(arr);

	arr = core_targets_json();
	cr_expect_eq(json_object_get_int(jget(json_object_array_get_idx(arr, 0),
					      "sessions")), 1);
	json_object_put(arr);

	core_session_unregister(&s);
	core_session_unregister(&d);
	core_target_put(s.target);
}

/* RFC 7143 §6.3.5: same initiator, ISID and target replaces the old one. */
Test(core, session_reinstatement_evicts_same_nexus)
{
	struct core_session old = { .tsih = 1, .evict = evict,
				    .initiator = "iqn.1994-05.com.example:a",
				    .isid = "80aabbcc0000" };
	struct core_session other_isid = { .tsih = 10, .evict = evict,
					   .initiator = "iqn.1994-05.com.example:a",
					   .isid = "80aabbcc0001" };
	struct core_session other_init = { .tsih = 100, .evict = evict,
					   .initiator = "iqn.1994-05.com.example:b",
					   .isid = "80aabbcc0000" };
	struct core_session fresh = { .tsih = 1000, .evict = evict,
				      .initiator = "IQN.1994-05.com.example:A",
				      .isid = "80aabbcc0000" };
	struct tgt_target *t;

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	t = core_target_find(IQN);
	old.target = other_isid.target = other_init.target = fresh.target = t;
	cr_assert_eq(core_session_register(&old), 0);
	cr_assert_eq(core_session_register(&other_isid), 0);
	cr_assert_eq(core_session_register(&other_init), 0);
	evicted = 0;
	cr_expect_eq(core_session_register(&fresh), 1);
	cr_expect_eq(evicted, 1, "only the session with the same nexus");
	core_session_unregister(&fresh);
	core_session_unregister(&other_init);
	core_session_unregister(&other_isid);
	core_session_unregister(&old);
	core_target_put(t);
}

/* tgtadm --op delete --mode conn: the one session's evict, or -ENOENT. */
Test(core, connection_close)
{
	struct core_session a = { .tsih = 1, .cid = 0, .evict = evict,
				  .isid = "800000000001" };
	struct core_session b = { .tsih = 10, .cid = 3, .evict = evict,
				  .isid = "800000000002" };
	struct core_session disc = { .tsih = 100, .evict = evict };

	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0);
	cr_assert_eq(core_target_add(IQN2, 0, NULL, &err), 0);
	a.target = core_target_find(IQN);
	b.target = core_target_find(IQN);
	core_session_register(&a);
	core_session_register(&b);
	core_session_register(&disc);

	evicted = 0;
	cr_expect_eq(core_connection_close(IQN, 10, 3, &err), 0, "%s", err.msg);
	cr_expect_eq(evicted, 10, "only session 10");
	cr_expect(evicted_why && strstr(evicted_why, "connection.close"));
	evicted = 0;
	cr_expect_eq(core_connection_close(IQN, 10, 0, &err), -ENOENT);
	cr_expect(strstr(err.msg, "session 10 of target " IQN " has no connection 0"),
		  "%s", err.msg);
	cr_expect_eq(core_connection_close(IQN, 2, 0, &err), -ENOENT);
	cr_expect(strstr(err.msg, "has no session 2"), "%s", err.msg);
	/* a session of another target, a discovery session: not there */
	cr_expect_eq(core_connection_close(IQN2, 1, 0, &err), -ENOENT);
	cr_expect_eq(core_connection_close(IQN, 100, 0, &err), -ENOENT);
	cr_expect_eq(core_connection_close("iqn.2026-11.org.ringtgt:none", 1, 0,
					   &err), -ENOENT);
	cr_expect(strstr(err.msg, "no target"), "%s", err.msg);
	cr_expect_eq(evicted, 0, "a refused close evicted a session");

	core_session_unregister(&a);
	core_session_unregister(&b);
	core_session_unregister(&disc);
	core_target_put(a.target);
	core_target_put(b.target);
}
