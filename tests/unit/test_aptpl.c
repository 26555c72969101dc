/*
 * test_aptpl.c - persistent reservations that persist through power loss
 * (APTPL, SPC-4 §5.13.5, §6.16.3): the state file's codec (round trip,
 * and a table of corrupt, truncated and foreign inputs, each refused
 * with a reason), the durable replace (content, mode 0600, no temporary
 * left, the old file intact when the write fails), the state directory
 * (created 0700, an existing one not chmod-ed), and PR OUT / PR IN on
 * RAM-backed LUs with a state directory: the file follows every change,
 * an LU created again restores keys, reservation and PRgeneration,
 * APTPL=0 removes the file, a failed write is HARDWARE ERROR, REPORT
 * CAPABILITIES' PTPL_C / PTPL_A, and a deleted LU's file goes.
 *
 * Most tests run without a reactor (task.r NULL): the file work runs
 * inline. lu/order runs PR OUTs from four reactor threads at once, the
 * writes on the worker pool, and checks after each completion that the
 * file holds that command's change (no older snapshot written last).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "core/core.h"
#include "reactor/reactor.h"
#include "scsi/pr_state.h"
#include "scsi/scsi.h"

#define TGT_NAME "iqn.2024-01.org.example:aptpl"
#define PORT_A "iqn.1994-05.com.redhat:a,i,0x23d000000001"
#define PORT_B "iqn.1994-05.com.redhat:b,i,0x23d000000001"

enum { REGISTER = 0, RESERVE = 1, RELEASE = 2, CLEAR = 3, PREEMPT = 4,
       PREEMPT_ABORT = 5, REGISTER_IGNORE = 6,
       REGISTER_MOVE = 7 };
enum { READ_KEYS = 0, READ_RESERVATION = 1, REPORT_CAPS = 2 };
enum { WE = 1, EA = 3, WE_RO = 5, WE_AR = 7 };
#define APTPL 0x01

/* --- helpers ---------------------------------------------------------- */

static char dir[256];

static void mk_tmpdir(void)
{
	snprintf(dir, sizeof(dir), "%s/aptpl.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmpdir(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
	char *text;
	size_t len;

	if (scsi_pr_state_read(path, &text, &len) < 0)
		return NULL;
	return text;
}

/* --- codec ------------------------------------------------------------ */

static void state_eq(const struct scsi_pr_state *a,
		     const struct scsi_pr_state *b)
{
	cr_assert_eq(memcmp(a->naa, b->naa, 16), 0);
	cr_assert_eq(a->aptpl, b->aptpl);
	cr_assert_eq(a->generation, b->generation);
	cr_assert_eq(a->reserved, b->reserved);
	if (a->reserved) {
		cr_assert_eq(a->type, b->type);
		cr_assert_eq(a->scope, b->scope);
		cr_assert_eq(a->holder, b->holder);
	}
	cr_assert_eq(a->n_regs, b->n_regs);
	for (size_t i = 0; i < a->n_regs; i++) {
		cr_assert_eq(a->regs[i].key, b->regs[i].key);
		cr_assert_eq(a->regs[i].rel_port_id, b->regs[i].rel_port_id);
		cr_assert_eq(a->regs[i].all_tg_pt, b->regs[i].all_tg_pt);
		cr_assert_str_eq(a->regs[i].port, b->regs[i].port);
	}
}

static struct scsi_pr_state_reg three_regs[] = {
	{ .key = 0xffffffffffffffffull, .rel_port_id = 1, .port = PORT_A },
	{ .key = 0x1, .rel_port_id = 65535, .all_tg_pt = true, .port = PORT_A },
	{ .key = 0x0123456789abcdefull, .rel_port_id = 2, .port = PORT_B },
};

struct rt_case {
	uint32_t generation;
	size_t n_regs;
	bool reserved;
	uint8_t type;
	int holder;
};

static struct rt_case rt_cases[] = {
	{ 0, 0, false, 0, -1 },			/* nothing (after CLEAR) */
	{ 7, 3, false, 0, -1 },
	{ 8, 3, true, WE, 2 },			/* holder: the last one */
	{ 9, 1, true, EA, 0 },
	{ 0xffffffffu, 3, true, WE_AR, -1 },	/* all registrants */
	{ 5, 2, true, 6, 1 },			/* EA_RO */
};

ParameterizedTestParameters(codec, round_trip)
{
	return cr_make_param_array(struct rt_case, rt_cases,
				   ARRAY_SIZE(rt_cases));
}

ParameterizedTest(struct rt_case *c, codec, round_trip)
{
	struct scsi_pr_state s = {
		.naa = { 0x60, 0x01, 0x40, 0x5a, 0xbc, [15] = 0xff },
		.aptpl = true, .generation = c->generation,
		.reserved = c->reserved, .type = c->type, .holder = c->holder,
		.n_regs = c->n_regs, .regs = three_regs,
	};
	struct scsi_pr_state d;
	char why[200] = "";
	char *text = scsi_pr_state_encode(&s);

	cr_assert_not_null(text);
	cr_assert_eq(scsi_pr_state_decode(text, strlen(text), &d, why,
					  sizeof(why)), 0, "%s\n%s", why, text);
	state_eq(&s, &d);
	scsi_pr_state_free(&d);
	free(text);
}

#define NAA "6001405abc000000000000000000ffff"
#define HEAD "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"" NAA \
	     "\",\"aptpl\":true,\"generation\":3,"
#define REG(key, port, rel) \
	"{\"key\":\"" key "\",\"initiator_port\":\"" port \
	"\",\"relative_target_port\":" rel ",\"all_tg_pt\":false}"
#define REG_A REG("0x00000000000000a1", PORT_A, "1")
#define GOOD HEAD "\"registrations\":[" REG_A "],\"reservation\":" \
	     "{\"holder\":0,\"type\":1,\"scope\":0}}"

/* Arrays, not pointers: Criterion may run each case in a fresh process. */
struct bad_case {
	char text[640];
	char why[32];		/* words the reason must contain */
};

static struct bad_case bad_cases[] = {
	{ "", "truncated" },
	{ "{", "truncated" },
	{ "{\"format\":\"ringtgt-pr-st", "truncated" },
	{ "not json", "not JSON" },
	{ "[]", "object" },
	{ "{\"format\":\"lio-aptpl\",\"version\":1}", "format" },
	{ "{\"version\":1}", "format" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":2}", "version" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":\"1\"}", "version" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"60\"}",
	  "naa" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"" NAA
	  "\",\"generation\":1}", "aptpl" },
	{ HEAD "\"registrations\":{}}", "registrations" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"" NAA
	  "\",\"aptpl\":true,\"generation\":-1}", "generation" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"" NAA
	  "\",\"aptpl\":true,\"generation\":4294967296}", "generation" },
	{ "{\"format\":\"ringtgt-pr-state\",\"version\":1,\"naa\":\"" NAA
	  "\",\"aptpl\":true,\"generation\":18446744073709551615}",
	  "generation" },
	{ HEAD "\"registrations\":[" REG("0xa1", PORT_A, "1")
	  "],\"reservation\":null}", "key" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000g1", PORT_A, "1")
	  "],\"reservation\":null}", "key" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000a1", "", "1")
	  "],\"reservation\":null}", "initiator_port" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000a1", "a b", "1")
	  "],\"reservation\":null}", "initiator_port" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000a1", "a\\u0000b", "1")
	  "],\"reservation\":null}", "initiator_port" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000a1", PORT_A, "0")
	  "],\"reservation\":null}", "relative_target_port" },
	{ HEAD "\"registrations\":[" REG("0x00000000000000a1", PORT_A, "65536")
	  "],\"reservation\":null}", "relative_target_port" },
	{ HEAD "\"registrations\":[" REG_A "," REG("0x00000000000000b1",
	  PORT_A, "1") "],\"reservation\":null}", "same I_T nexus" },
	{ HEAD "\"registrations\":[1],\"reservation\":null}", "object" },
	{ HEAD "\"registrations\":[" REG_A "]}", "reservation" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":3}",
	  "reservation" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":"
	  "{\"holder\":1,\"type\":1,\"scope\":0}}", "holder" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":"
	  "{\"holder\":-1,\"type\":1,\"scope\":0}}", "holder" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":"
	  "{\"holder\":0,\"type\":7,\"scope\":0}}", "holder" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":"
	  "{\"holder\":0,\"type\":2,\"scope\":0}}", "type" },
	{ HEAD "\"registrations\":[" REG_A "],\"reservation\":"
	  "{\"holder\":0,\"type\":1,\"scope\":1}}", "scope" },
	{ HEAD "\"registrations\":[],\"reservation\":"
	  "{\"holder\":-1,\"type\":7,\"scope\":0}}", "without registrations" },
	{ GOOD "x", "JSON" },		/* json-c strict: trailing data */
	{ GOOD "{}", "JSON" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	  "not JSON" },
};

ParameterizedTestParameters(codec, refused)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   ARRAY_SIZE(bad_cases));
}

ParameterizedTest(struct bad_case *c, codec, refused)
{
	struct scsi_pr_state s;
	char why[200] = "";

	cr_assert_eq(scsi_pr_state_decode(c->text, strlen(c->text), &s, why,
					  sizeof(why)), -EINVAL,
		     "accepted: %s", c->text);
	cr_assert_not_null(strstr(why, c->why), "reason \"%s\" for %s", why,
			   c->text);
	cr_assert_eq(s.n_regs, 0);
	cr_assert_null(s.regs);
}

/* The table's base line is a good file: the cases above differ from it. */
Test(codec, good_base_and_every_truncation)
{
	const char *text = GOOD;
	size_t n = strlen(text);
	struct scsi_pr_state s;
	char why[200];

	cr_assert_eq(scsi_pr_state_decode(text, n, &s, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(s.n_regs, 1);
	cr_assert_eq(s.regs[0].key, 0xa1);
	cr_assert(s.reserved);
	scsi_pr_state_free(&s);
	/* an editor's final newline is fine */
	cr_assert_eq(scsi_pr_state_decode(GOOD "\n", n + 1, &s, why,
					  sizeof(why)), 0, "%s", why);
	scsi_pr_state_free(&s);
	/* a file cut anywhere (a crash before rename cannot, a disk can) */
	for (size_t len = 0; len < n; len++)
		cr_assert_eq(scsi_pr_state_decode(text, len, &s, why,
						  sizeof(why)), -EINVAL,
			     "prefix of %zu bytes accepted", len);
}

/* --- durable write ---------------------------------------------------- */

TestSuite(file, .init = mk_tmpdir, .fini = rm_tmpdir);

static mode_t mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

Test(file, write_replace_mode_and_no_temporary)
{
	char path[512], tmp[520];
	char *text;

	snprintf(path, sizeof(path), "%s/pr-x.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	umask(022);
	cr_assert_eq(scsi_pr_state_write(path, "first\n"), 0);
	cr_assert_eq(mode_of(path), 0600);
	cr_assert_eq(access(tmp, F_OK), -1, "temporary left behind");
	text = slurp(path);
	cr_assert_str_eq(text, "first\n");
	free(text);

	/* a leftover temporary (a crash mid-write) does not matter */
	cr_assert_eq(close(open(tmp, O_CREAT | O_WRONLY, 0644)), 0);
	cr_assert_eq(scsi_pr_state_write(path, "second\n"), 0);
	cr_assert_eq(mode_of(path), 0600);
	text = slurp(path);
	cr_assert_str_eq(text, "second\n");
	free(text);
	cr_assert_eq(access(tmp, F_OK), -1);
}

Test(file, failed_write_leaves_old_file)
{
	char path[512], tmp[520];
	char *text;

	snprintf(path, sizeof(path), "%s/pr-x.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(scsi_pr_state_write(path, "old\n"), 0);
	/* the temporary cannot be created: a directory is in the way */
	cr_assert_eq(mkdir(tmp, 0700), 0);
	cr_assert_lt(scsi_pr_state_write(path, "new\n"), 0);
	text = slurp(path);
	cr_assert_str_eq(text, "old\n", "the old state must stay");
	free(text);
	rmdir(tmp);
}

Test(file, remove_and_read_missing)
{
	char path[512], *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/pr-x.json", dir);
	cr_assert_eq(scsi_pr_state_remove(path), 0, "absent is fine");
	cr_assert_eq(scsi_pr_state_write(path, "x"), 0);
	cr_assert_eq(scsi_pr_state_remove(path), 0);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(scsi_pr_state_read(path, &text, &len), -ENOENT);
}

Test(file, state_dir_created_0700_existing_not_chmoded)
{
	struct core_err err = { "" };
	char sub[512], open_dir[512];

	snprintf(sub, sizeof(sub), "%s/state", dir);
	umask(022);
	cr_assert_eq(core_set_state_dir(sub, &err), 0, "%s", err.msg);
	cr_assert_eq(mode_of(sub), 0700);
	snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
	cr_assert_eq(mkdir(open_dir, 0755), 0);
	cr_assert_eq(core_set_state_dir(open_dir, &err), 0, "%s", err.msg);
	cr_assert_eq(mode_of(open_dir), 0755, "an existing directory is the admin's");
	/* a file in the way, or no parent: refused with a sentence */
	snprintf(sub, sizeof(sub), "%s/no/such", dir);
	cr_assert_lt(core_set_state_dir(sub, &err), 0);
	cr_assert_not_null(strstr(err.msg, sub), "%s", err.msg);
	cr_assert_eq(core_set_state_dir(NULL, &err), 0);
}

/* --- PR OUT / PR IN on an LU with a state directory ------------------- */

static struct scsi_target tgt;
static struct scsi_lu *disk;
static struct scsi_nexus na, nb;
static struct scsi_task task;

static void task_done(struct scsi_task *t)
{
	(void)t;
}

static void nexus_init(struct scsi_nexus *n, const char *port)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s", port);
	n->rel_port_id = 1;
	n->target = &tgt;
}

static struct scsi_lu *lu_new(const char *state_dir)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1,
		.bs = bs_open(&bs_ram_ops, NULL, &a), .block_size = 512,
		.target_name = TGT_NAME, .state_dir = state_dir,
	};
	struct scsi_lu *lu;

	cr_assert_not_null(cfg.bs);
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	return lu;
}

static void lu_setup(void)
{
	mk_tmpdir();
	scsi_target_init(&tgt, TGT_NAME);
	disk = lu_new(dir);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	nexus_init(&na, PORT_A);
	nexus_init(&nb, PORT_B);
}

static void lu_teardown(void)
{
	scsi_target_destroy(&tgt);
	rm_tmpdir();
}

/* What a daemon restart does to the LU: a new one from the same config. */
static void restart(void)
{
	scsi_target_destroy(&tgt);
	scsi_target_init(&tgt, TGT_NAME);
	disk = lu_new(dir);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
}

static uint8_t run(struct scsi_nexus *n, const uint8_t *cdb, uint8_t *buf,
		   uint32_t exp_len)
{
	memset(&task, 0, sizeof(task));
	task.nexus = n;
	task.lu = disk;
	memcpy(task.cdb, cdb, 10);
	task.exp_len = exp_len;
	task.done = task_done;
	if (scsi_task_prepare(&task) != SENSE_NONE)
		return task.status;
	task.buf = buf;
	task.buf_len = MIN(exp_len, task.data_len);
	scsi_task_exec(&task);
	return task.status;
}

static uint8_t pro(struct scsi_nexus *n, int sa, int type, uint64_t key,
		   uint64_t sa_key, uint8_t flags)
{
	uint8_t c[10] = { 0x5f, (uint8_t)sa, (uint8_t)type };
	uint8_t p[24] = { 0 };

	put_be32(c + 5, 24);
	put_be64(p, key);
	put_be64(p + 8, sa_key);
	p[20] = flags;
	return run(n, c, p, 24);
}

static uint8_t pri(struct scsi_nexus *n, int sa, uint8_t *buf, uint16_t alloc)
{
	uint8_t c[10] = { 0x5e, (uint8_t)sa };

	put_be16(c + 7, alloc);
	memset(buf, 0xee, alloc);
	return run(n, c, buf, alloc);
}

static void assert_sense(uint8_t key, uint8_t asc, uint8_t ascq)
{
	cr_assert_eq(task.status, SAM_STAT_CHECK_CONDITION, "status %#x",
		     task.status);
	cr_assert_eq(task.sense[2] & 0x0f, key, "key %x", task.sense[2]);
	cr_assert_eq(task.sense[12], asc, "asc %02x", task.sense[12]);
	cr_assert_eq(task.sense[13], ascq, "ascq %02x", task.sense[13]);
}

/* The one state file in dir (NULL if none); its path in @path. */
static char *state_file(char *path, size_t len)
{
	char cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls '%s'/pr-*.json 2>/dev/null", dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	path[0] = '\0';
	if (!fgets(path, (int)len, f))
		path[0] = '\0';
	pclose(f);
	path[strcspn(path, "\n")] = '\0';
	return path[0] ? path : NULL;
}

TestSuite(lu, .init = lu_setup, .fini = lu_teardown);

Test(lu, report_capabilities_ptpl)
{
	uint8_t b[8];

	cr_assert_eq(pri(&na, REPORT_CAPS, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x01, 0x01, "PTPL_C: a state directory");
	cr_assert_eq(b[3] & 0x01, 0, "PTPL_A: no APTPL=1 received");
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, REPORT_CAPS, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(b[3] & 0x01, 0x01, "PTPL_A after APTPL=1");
	/* SPC-4 §6.16.3: the last valid APTPL bit received applies */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, REPORT_CAPS, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(b[3] & 0x01, 0, "PTPL_A after APTPL=0");
}

Test(lu, no_state_dir_refuses_aptpl)
{
	uint8_t b[8];

	scsi_target_destroy(&tgt);
	scsi_target_init(&tgt, TGT_NAME);
	disk = lu_new(NULL);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	cr_assert_eq(pri(&na, REPORT_CAPS, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x01, 0, "PTPL_C = 0 without a state directory");
	pro(&na, REGISTER, 0, 0, 0xa1, APTPL);
	assert_sense(0x5, 0x26, 0x00);
}

Test(lu, restart_keeps_keys_reservation_generation)
{
	uint8_t keys[64], res[24], keys2[64], res2[24];
	char path[600];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER_IGNORE, 0, 0, 0xb1, APTPL),
		     SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0, 0), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	cr_assert_eq(mode_of(path), 0600);
	cr_assert_eq(pri(&na, READ_KEYS, keys, 64), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, READ_RESERVATION, res, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys), 2);

	restart();
	cr_assert_eq(pri(&nb, READ_KEYS, keys2, 64), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(keys, keys2, 8 + 16), 0,
		     "keys and PRgeneration after the restart");
	cr_assert_eq(pri(&nb, READ_RESERVATION, res2, 24), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(res, res2, 24), 0, "the reservation");
	cr_assert_eq(get_be64(res2 + 8), 0xa1);
	cr_assert_eq(res2[21], WE);
	/* the holder is the same I_T nexus: it releases, B cannot */
	cr_assert_eq(pro(&nb, RELEASE, WE, 0xb1, 0, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nb, READ_RESERVATION, res2, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res2 + 4), 16, "B's RELEASE is a no-op");
	cr_assert_eq(pro(&na, RELEASE, WE, 0xa1, 0, 0), SAM_STAT_GOOD);

	/* the release persisted too */
	restart();
	cr_assert_eq(pri(&nb, READ_RESERVATION, res2, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res2 + 4), 0, "released before the restart");
	cr_assert_eq(pri(&nb, READ_KEYS, keys2, 64), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys2 + 4), 16, "both keys");
}

Test(lu, all_registrants_restored)
{
	uint8_t res[24];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE_AR, 0xb1, 0, 0), SAM_STAT_GOOD);
	restart();
	cr_assert_eq(pri(&na, READ_RESERVATION, res, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res + 4), 16);
	cr_assert_eq(res[21], WE_AR);
	/* every registrant holds it: A may release it */
	cr_assert_eq(pro(&na, RELEASE, WE_AR, 0xa1, 0, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, READ_RESERVATION, res, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res + 4), 0);
}

Test(lu, aptpl_zero_removes_the_file)
{
	uint8_t keys[16];
	char path[600];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	/* a later REGISTER with APTPL=0: the state no longer persists */
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_null(state_file(path, sizeof(path)), "file still there");
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys), 0, "PRgeneration starts afresh");
	cr_assert_eq(get_be32(keys + 4), 0, "no keys after the restart");
}

Test(lu, clear_persists_empty_state)
{
	uint8_t keys[16];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, CLEAR, 0, 0xa1, 0, 0), SAM_STAT_GOOD);
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys), 2, "PRgeneration of the CLEAR");
	cr_assert_eq(get_be32(keys + 4), 0, "cleared");
}

Test(lu, failed_write_is_hardware_error)
{
	uint8_t keys[16];
	char path[600], tmp[620];
	char *old;

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	old = slurp(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(mkdir(tmp, 0700), 0);
	pro(&nb, REGISTER, 0, 0, 0xb1, APTPL);
	assert_sense(0x4, 0x44, 0x00);	/* INTERNAL TARGET FAILURE */
	char *now = slurp(path);
	cr_assert_str_eq(now, old, "the file keeps the last good state");
	free(now);
	free(old);
	/* documented: the change itself stays in effect */
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 16);
	/* once the disk is fine again, the next PR OUT persists everything */
	cr_assert_eq(rmdir(tmp), 0);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0, 0), SAM_STAT_GOOD);
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 16, "both keys");
}

/* A removal that failed (APTPL=0) is retried by the next PR OUT. */
Test(lu, failed_removal_retried)
{
	char path[600], aside[620];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	/* a directory in the file's place: unlink fails (EISDIR) */
	snprintf(aside, sizeof(aside), "%s.aside", path);
	cr_assert_eq(rename(path, aside), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	pro(&nb, REGISTER, 0, 0, 0xb1, 0);
	assert_sense(0x4, 0x44, 0x00);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(rename(aside, path), 0);
	/* APTPL still zero: the file must go now, or it would come back */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2, 0), SAM_STAT_GOOD);
	cr_assert_null(state_file(path, sizeof(path)),
		       "the stale file %s survived", path);
}

Test(lu, corrupt_file_refused_lu_serves)
{
	uint8_t keys[16], b[8];
	char path[600];
	FILE *f;

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"format\":\"ringtgt-pr-state\",\"vers", f);	/* truncated */
	fclose(f);
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 0, "no state from a corrupt file");
	/* the LU serves, and still persists */
	cr_assert_eq(pri(&na, REPORT_CAPS, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x01, 0x01);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa3, APTPL), SAM_STAT_GOOD);
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 8);
}

Test(lu, foreign_file_refused)
{
	struct scsi_lu_config cfg;
	uint8_t keys[16];
	char path[600], other[2000];
	struct scsi_lu *lu2;
	struct bs_open_args a = { .size = 1 << 20 };

	/* LU 2's state copied over LU 1's file name */
	memset(&cfg, 0, sizeof(cfg));
	cfg.type = SCSI_LU_DISK;
	cfg.lun = 2;
	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	cfg.target_name = TGT_NAME;
	cfg.state_dir = dir;
	lu2 = scsi_lu_new(&cfg);
	cr_assert_not_null(lu2);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	disk = lu2;
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xc1, APTPL), SAM_STAT_GOOD);
	scsi_lu_put(lu2);
	/* now two files: move LU 2's over LU 1's */
	snprintf(other, sizeof(other),
		 "for f in '%s'/pr-*.json; do [ \"$f\" = '%s' ] || mv \"$f\" '%s'; done",
		 dir, path, path);
	cr_assert_eq(system(other), 0);
	restart();
	cr_assert_eq(pri(&na, READ_KEYS, keys, 16), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 0, "another LU's state was taken");
}

Test(lu, deleted_lu_file_removed_shutdown_keeps_it)
{
	char path[600];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	/* shutdown: the target destroyed, the file stays */
	restart();
	cr_assert_not_null(state_file(path, sizeof(path)));
	/* deleted for good */
	scsi_target_forget_state(&tgt);
	cr_assert_null(state_file(path, sizeof(path)));
	/* a PR OUT still running on the deleted LU writes nothing */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2, APTPL), SAM_STAT_GOOD);
	cr_assert_null(state_file(path, sizeof(path)));
}

/* --- the registry: lun.remove / target.remove delete the file ---------- */

/* Registers with APTPL=1 on LUN 1 of @iqn (made by the registry). */
static void core_register_aptpl(const char *iqn)
{
	struct tgt_target *t = core_target_find(iqn);
	struct scsi_lu *lu;

	cr_assert_not_null(t);
	lu = scsi_target_get_lu(core_target_scsi(t), 1);
	cr_assert_not_null(lu);
	disk = lu;
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	scsi_lu_put(lu);
	core_target_put(t);
}

Test(file, registry_remove_deletes_state)
{
	const struct core_lun_spec ram = {
		.type = SCSI_LU_DISK, .backing = "ram", .size = 1 << 20,
	};
	const char *iqn = "iqn.2026-11.org.ringtgt:aptpl-core";
	struct core_err err = { "" };
	char path[600];

	nexus_init(&na, PORT_A);
	cr_assert_eq(core_set_state_dir(dir, &err), 0, "%s", err.msg);
	cr_assert_eq(core_target_add(iqn, 0, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(core_lun_add(iqn, 1, &ram, &err), 0, "%s", err.msg);
	core_register_aptpl(iqn);
	cr_assert_not_null(state_file(path, sizeof(path)));
	cr_assert_eq(core_lun_remove(iqn, 1, false, &err), 0, "%s", err.msg);
	cr_assert_null(state_file(path, sizeof(path)), "lun remove left %s",
		       path);

	cr_assert_eq(core_lun_add(iqn, 1, &ram, &err), 0, "%s", err.msg);
	core_register_aptpl(iqn);
	cr_assert_not_null(state_file(path, sizeof(path)));
	cr_assert_eq(core_target_remove(iqn, false, &err), 0, "%s", err.msg);
	cr_assert_null(state_file(path, sizeof(path)), "target remove left %s",
		       path);
	core_set_state_dir(NULL, &err);
}

/* --- four reactors, one LU: the file never goes back to an older state -- */

#define ORDER_ROUNDS 150

struct driver {
	enum ev_kind kind;
	int index;
	struct reactor *r;
	pthread_t loop, thread;
	sem_t ready, done;
	struct scsi_nexus n;
	struct scsi_task t;
	uint8_t param[24];
	char failure[256];
};

static void *driver_loop(void *arg)
{
	struct driver *d = arg;

	d->r = reactor_new(d->kind, d->index);
	sem_post(&d->ready);
	if (d->r)
		reactor_run(d->r);
	return NULL;
}

static void driver_task_done(struct scsi_task *t)
{
	sem_post(&container_of(t, struct driver, t)->done);
}

/* On the driver's reactor: run the prepared PR OUT (completes later). */
static void driver_exec(void *arg)
{
	struct driver *d = arg;

	if (scsi_task_prepare(&d->t) != SENSE_NONE) {
		sem_post(&d->done);
		return;
	}
	d->t.buf = d->param;
	d->t.buf_len = 24;
	scsi_task_exec(&d->t);
}

/* The key of @port in the state file, 0 if none. */
static uint64_t file_key(const char *path, const char *port)
{
	struct scsi_pr_state s;
	char why[200];
	uint64_t key = 0;
	char *text;
	size_t len;

	if (scsi_pr_state_read(path, &text, &len) < 0)
		return 0;
	if (scsi_pr_state_decode(text, len, &s, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < s.n_regs; i++)
			if (strcmp(s.regs[i].port, port) == 0)
				key = s.regs[i].key;
		scsi_pr_state_free(&s);
	}
	free(text);
	return key;
}

static void *driver_main(void *arg)
{
	struct driver *d = arg;
	char path[600];

	for (int i = 1; i <= ORDER_ROUNDS && !d->failure[0]; i++) {
		uint64_t key = (uint64_t)(d->index + 1) << 32 | (uint64_t)i;
		struct timespec until;

		memset(&d->t, 0, sizeof(d->t));
		d->t.nexus = &d->n;
		d->t.lu = disk;
		d->t.r = d->r;
		d->t.done = driver_task_done;
		d->t.cdb[0] = 0x5f;
		d->t.cdb[1] = REGISTER_IGNORE;
		put_be32(d->t.cdb + 5, 24);
		d->t.exp_len = 24;
		memset(d->param, 0, sizeof(d->param));
		put_be64(d->param + 8, key);
		d->param[20] = APTPL;
		if (reactor_post(d->r, driver_exec, d) < 0) {
			snprintf(d->failure, sizeof(d->failure), "reactor_post");
			break;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		if (sem_timedwait(&d->done, &until) < 0) {
			snprintf(d->failure, sizeof(d->failure),
				 "round %d: no completion within 10 s", i);
			break;
		}
		if (d->t.status != SAM_STAT_GOOD) {
			snprintf(d->failure, sizeof(d->failure),
				 "round %d: status %#x", i, d->t.status);
			break;
		}
		/* completed: the file holds this change, and keeps it */
		if (!state_file(path, sizeof(path)) ||
		    file_key(path, d->n.initiator_port) != key)
			snprintf(d->failure, sizeof(d->failure),
				 "round %d: the file has key %#llx for %s, not %#llx",
				 i, (unsigned long long)file_key(path,
								 d->n.initiator_port),
				 d->n.initiator_port, (unsigned long long)key);
	}
	return NULL;
}

struct order_case {
	enum ev_kind kind;
};

static struct order_case order_cases[] = { { EV_IO_URING }, { EV_EPOLL } };

ParameterizedTestParameters(lu, order)
{
	return cr_make_param_array(struct order_case, order_cases,
				   ARRAY_SIZE(order_cases));
}

#define ORDER_DRIVERS 4

ParameterizedTest(struct order_case *c, lu, order)
{
	static const char *const ports[ORDER_DRIVERS] = {
		PORT_A, PORT_B, "iqn.1994-05.com.redhat:c,i,0x1",
		"iqn.1994-05.com.redhat:d,i,0x1",
	};
	static struct driver drv[ORDER_DRIVERS];

	if (c->kind == EV_IO_URING && !reactor_uring_available())
		cr_skip_test("io_uring unavailable");
	for (int i = 0; i < ORDER_DRIVERS; i++) {
		struct driver *d = &drv[i];

		memset(d, 0, sizeof(*d));
		d->kind = c->kind;
		d->index = i;
		nexus_init(&d->n, ports[i]);
		sem_init(&d->ready, 0, 0);
		sem_init(&d->done, 0, 0);
		cr_assert_eq(pthread_create(&d->loop, NULL, driver_loop, d), 0);
		sem_wait(&d->ready);
		cr_assert_not_null(d->r, "reactor_new: %s", strerror(errno));
	}
	for (int i = 0; i < ORDER_DRIVERS; i++)
		cr_assert_eq(pthread_create(&drv[i].thread, NULL, driver_main,
					    &drv[i]), 0);
	for (int i = 0; i < ORDER_DRIVERS; i++)
		pthread_join(drv[i].thread, NULL);
	for (int i = 0; i < ORDER_DRIVERS; i++) {
		reactor_stop(drv[i].r);
		pthread_join(drv[i].loop, NULL);
		reactor_free(drv[i].r);
	}
	for (int i = 0; i < ORDER_DRIVERS; i++)
		cr_assert_eq(drv[i].failure[0], '\0', "%s", drv[i].failure);
}

/* --- PREEMPT AND ABORT with APTPL ---------------------------------------- */

/*
 * A transport that records the continuation PREEMPT AND ABORT hands it
 * (struct scsi_transport_ops); the test calls it when "the aborted
 * commands are gone".
 */
static void (*pa_done)(struct scsi_task *t, bool expired);
static struct scsi_task *pa_task;
static int pa_completed;

static int pa_prepare(struct scsi_task *t, unsigned n)
{
	(void)t;
	(void)n;
	return 0;
}

static void pa_abort(struct scsi_task *t, const struct scsi_itn *ids,
		     unsigned n, void (*done)(struct scsi_task *t, bool expired))
{
	(void)ids;
	(void)n;
	pa_task = t;
	pa_done = done;
}

static void pa_task_done(struct scsi_task *t)
{
	(void)t;
	pa_completed++;
}

static const struct scsi_transport_ops pa_ops = {
	.preempt_prepare = pa_prepare,
	.preempt_abort = pa_abort,
};

/*
 * SPC-4 §5.13.5 and §5.13.11.2.6 together: the preemption is on disk
 * when PREEMPT AND ABORT completes (after its aborts), so a restart
 * right after the GOOD never brings the fenced node's key back.
 */
Test(lu, preempt_and_abort_persists_before_completing)
{
	uint8_t c[10] = { 0x5f, PREEMPT_ABORT, WE_RO };
	uint8_t p[24] = { 0 }, keys[64];
	char path[600];

	na.ops = nb.ops = &pa_ops;
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE_RO, 0xb1, 0, 0), SAM_STAT_GOOD);
	cr_assert_not_null(state_file(path, sizeof(path)));
	cr_assert_eq(file_key(path, PORT_A), 0xa1);

	/* B fences A */
	memset(&task, 0, sizeof(task));
	task.nexus = &nb;
	task.lu = disk;
	memcpy(task.cdb, c, sizeof(c));
	put_be32(task.cdb + 5, 24);
	put_be64(p, 0xb1);
	put_be64(p + 8, 0xa1);
	task.exp_len = 24;
	task.done = pa_task_done;
	pa_completed = 0;
	cr_assert_eq(scsi_task_prepare(&task), SENSE_NONE);
	task.buf = p;
	task.buf_len = 24;
	scsi_task_exec(&task);
	cr_assert_not_null(pa_done, "the transport was not asked to abort");
	cr_assert_eq(pa_completed, 0, "completed before the aborts");
	pa_done(pa_task, false);
	cr_assert_eq(pa_completed, 1, "completed once");
	cr_assert_eq(task.status, SAM_STAT_GOOD);
	cr_assert_eq(file_key(path, PORT_A), 0,
		     "A's preempted key is still in the state file");
	cr_assert_eq(file_key(path, PORT_B), 0xb1);

	restart();
	cr_assert_eq(pri(&nb, READ_KEYS, keys, 64), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(keys + 4), 8, "only B's key after the restart");
	cr_assert_eq(get_be64(keys + 8), 0xb1);
}

/* --- REGISTER AND MOVE and ALL_TG_PT with APTPL ------------------------- */

/*
 * SPC-4 §6.16.4: REGISTER AND MOVE carries its own APTPL bit; the moved
 * reservation survives a restart with its new holder.
 */
Test(lu, register_and_move_persists)
{
	static const char tid_b[] = PORT_B;
	uint8_t c[10] = { 0x5f, REGISTER_MOVE, WE };
	uint8_t p[24 + 64] = { 0 }, res[24];
	uint16_t addlen = (uint16_t)((sizeof(tid_b) + 3) & ~3u);

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0, 0), SAM_STAT_GOOD);

	/* §6.16.4 table 218, the TransportID of §7.6.4.6 format 01b */
	put_be64(p, 0xa1);
	put_be64(p + 8, 0xb1);
	p[17] = APTPL;
	put_be16(p + 18, 1);
	put_be32(p + 20, 4u + addlen);
	p[24] = 0x45;
	put_be16(p + 26, addlen);
	memcpy(p + 28, tid_b, sizeof(tid_b));
	put_be32(c + 5, 28u + addlen);
	cr_assert_eq(run(&na, c, p, 28u + addlen), SAM_STAT_GOOD,
		     "REGISTER AND MOVE: sense %x/%02x/%02x", task.sense[2],
		     task.sense[12], task.sense[13]);

	restart();
	cr_assert_eq(pri(&na, READ_RESERVATION, res, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res + 4), 16, "a reservation after the restart");
	cr_assert_eq(get_be64(res + 8), 0xb1,
		     "the moved reservation came back with key %#llx",
		     (unsigned long long)get_be64(res + 8));
	/* B is the holder: its RELEASE ends the reservation */
	cr_assert_eq(pro(&nb, RELEASE, WE, 0xb1, 0, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, READ_RESERVATION, res, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(res + 4), 0, "B's RELEASE released it");
}

/* A registration made with ALL_TG_PT says so again after a restart. */
Test(lu, all_tg_pt_persists)
{
	uint8_t full[256];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL | 0x04),
		     SAM_STAT_GOOD);
	restart();
	cr_assert_eq(pri(&nb, 3 /* READ FULL STATUS */, full, sizeof(full)),
		     SAM_STAT_GOOD);
	cr_assert_geq(get_be32(full + 4), 24, "a descriptor");
	cr_assert_eq(get_be64(full + 8), 0xa1);
	/* SPC-4 table 202: ALL_TG_PT is byte 12 bit 1 */
	cr_assert(full[8 + 12] & 0x02, "ALL_TG_PT lost across the restart");
}

/*
 * The state file is keyed by the LU's NAA designator: a live scsi_id or
 * scsi_sn change that would give the LU another one is refused while the
 * LU keeps state there (it would not be found after a restart); one that
 * leaves the NAA alone, or once APTPL is off, goes through.
 */
Test(lu, identity_change_kept_from_moving_aptpl_state)
{
	struct scsi_lu_params id = { 0 }, vendor = { 0 };
	char why[200] = "";

	cr_assert_eq(scsi_lu_param_parse(&id, "scsi_id", "vol-2", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_param_parse(&vendor, "vendor_id", "IET", why,
					 sizeof(why)), 0);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1, APTPL), SAM_STAT_GOOD);
	cr_assert_eq(scsi_lu_update(disk, &id, why, sizeof(why)), -EBUSY);
	cr_assert_str_eq(why, "scsi_id: LUN 1 keeps persistent reservations (APTPL) under its NAA designator, which this would change; clear them first");
	cr_assert_eq(scsi_lu_update(disk, &vendor, why, sizeof(why)), 0, "%s",
		     why);
	/* the vendor change is reported to the nexus (SPC-4 §5.14) */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2, 0),
		     SAM_STAT_CHECK_CONDITION);
	assert_sense(0x6, 0x3f, 0x03);
	/* APTPL=0 removes the file (SPC-4 §5.13.5): nothing kept any more */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2, 0), SAM_STAT_GOOD);
	cr_assert_eq(scsi_lu_update(disk, &id, why, sizeof(why)), 0, "%s", why);
}
