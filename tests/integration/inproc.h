/*
 * inproc.h - the daemon's core, SCSI layer and iSCSI server started inside
 * a Criterion test process on a free 127.0.0.1 port, with one target
 * (LUN 0 controller, LUN 1 a 64 MiB RAM disk open to all initiators), and
 * blocking READ/WRITE helpers over the raw initiator (raw_initiator.h),
 * with or without digests. Criterion runs each test in its own process,
 * so each test starts its own server.
 */
#ifndef RINGTGT_INPROC_H
#define RINGTGT_INPROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "raw_initiator.h"
#include "reactor/reactor.h"

#define INPROC_IQN "iqn.2024-01.org.ringtgt:inproc"
#define INPROC_INITIATOR "iqn.2024-01.org.ringtgt:raw-initiator"
#define INPROC_BLK 512u
#define INPROC_LUN_SIZE (64u << 20)
/* login_timeout of the server inproc_up() starts (s) */
#define INPROC_LOGIN_TIMEOUT 5u

struct inproc {
	int port;
	struct bs *bs;		/* LUN 1's RAM store */
	bool up;
	/* settings, read by inproc_up(); 0: the daemon's defaults */
	unsigned tmf_timeout;
	uint32_t cmd_window;
	unsigned tx_stall_timeout;
	unsigned login_timeout;		/* 0: 5 s */
	unsigned max_connections, max_conns_per_source;
	unsigned max_conns_per_target, max_sessions_per_target;
	uint64_t buf_conn_max;		/* buffer budgets (budget.c) */
	uint64_t buf_total_max;
	bool no_tas;			/* LUN 1 with TAS=0 */
};

extern struct inproc inproc;

/*
 * Starts core + server with 2 reactors of @kind (nop_interval 0: no
 * pings). Skips the test when io_uring is unavailable; asserts otherwise.
 */
void inproc_up(enum ev_kind kind, unsigned nop_interval, unsigned nop_timeout);
/* Stops what inproc_up() started; safe to call when it did not run. */
void inproc_down(void);

/*
 * A 127.0.0.1 port that was free a moment ago (the server's own, and a
 * second portal's: called after inproc_up(), it differs from the server's).
 */
int inproc_free_port(void);

/* Logs in to the target, with the digests asked for; asserts success. */
void inproc_login(struct ri_dg *d, bool hd, bool dd);

/* Deterministic test data. */
void inproc_fill(uint8_t *b, size_t len, uint8_t seed);

/* WRITE(10) on LUN 1, all data immediate; asserts GOOD. */
void inproc_write(struct ri_dg *d, uint32_t lba, const uint8_t *buf,
		  uint16_t blocks);
/*
 * READ(10) on @lun into @buf (a unit attention is retried once); returns
 * the SAM status, and asserts the full length arrived on GOOD.
 */
int inproc_read(struct ri_dg *d, uint64_t lun, uint32_t lba, uint8_t *buf,
		uint16_t blocks);

/*
 * This process's descriptor of the server side of @ri's connection (the
 * server runs in this process); -1 when not found within 2 s.
 */
int inproc_server_fd(const struct ri *ri);

/*
 * Pins @ri's receive buffer and the server side's send buffer of its
 * connection to @bytes (the kernel doubles it), so autotuning cannot
 * grow them: while @ri reads nothing, the target can put only about
 * 4 * @bytes of answers on the wire; the rest stays queued in the target.
 */
void inproc_pin_socket_buffers(const struct ri *ri, int bytes);

/* Resident memory of this process (the server runs in it), KiB. */
long inproc_rss_kib(void);

/* Reads LUN 1's store directly, below the SCSI layer (no I/O in flight). */
void inproc_store_read(uint64_t off, void *buf, uint32_t len);

/*
 * A bystander: a thread with its own session (ISID qualifier 0xb5) that
 * writes a fresh pattern to its 8 blocks at @lba, reads them back and
 * compares, over and over, timing each command, until stopped. It
 * answers NOP-In pings. Hostile tests run one while they attack, to show
 * that the attack does not stall or corrupt anyone else's I/O.
 */
#define INPROC_BYSTANDER_MAX_MS 2000	/* what any one command may take */

struct inproc_bystander {
	pthread_t thread;
	uint32_t lba;
	atomic_bool stop;
	atomic_uint cmds;		/* commands completed and verified */
	atomic_uint max_ms;		/* the slowest of them */
	char error[256];		/* the first failure; "" if none */
	bool running;
};

/* Logs in (asserts it) and starts the thread. */
void inproc_bystander_start(struct inproc_bystander *b, uint32_t lba);
/* Commands verified so far (while it runs). */
unsigned inproc_bystander_cmds(struct inproc_bystander *b);
/*
 * Stops and joins it; asserts that it failed nothing, verified at least
 * one command, and that none took INPROC_BYSTANDER_MAX_MS or more.
 */
void inproc_bystander_stop(struct inproc_bystander *b);

#endif
