/*
 * fuzz_conn.h - an iSCSI connection of the real server code (conn.c and
 * its handlers, login, sessions, tasks, the RAM store) driven in-process
 * for the login and Data-Out fuzz targets: conn_new() on one end of a
 * socketpair, an epoll reactor polled on the caller's thread (no reactor
 * thread, so a run is deterministic), and the other end read and written
 * by the fuzzer. One core registry for the process:
 *
 *   FC_TARGET   LUN 0 controller, LUN 1 a RAM disk of FC_LUN_SIZE bytes
 *               (512-byte blocks), open to FC_ALLOWED only;
 *   FC_OPEN     LUN 0 controller, open to all initiators.
 */
#ifndef RINGTGT_FUZZ_CONN_H
#define RINGTGT_FUZZ_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iscsi/iscsi.h"

#define FC_TARGET "iqn.2024-01.org.ringtgt:fuzz"
#define FC_OPEN "iqn.2024-01.org.ringtgt:open"
#define FC_ALLOWED "iqn.2024-01.org.ringtgt:allowed"
#define FC_LUN_SIZE (256u * 1024)
#define FC_BLK 512u

#define fc_fail(...)                                                   \
	do {                                                           \
		fprintf(stderr, "%s: ", fc_name);                      \
		fprintf(stderr, __VA_ARGS__);                          \
		fputc('\n', stderr);                                   \
		abort();                                               \
	} while (0)
extern const char *fc_name;	/* the target's name, for messages */

/* A PDU the target sent; data valid during the callback. */
typedef void fc_pdu_fn(void *ctx, const uint8_t bhs[48], const uint8_t *data,
		       uint32_t dsl);

struct fc;

/* Sets up the registry and the reactor, once per process. */
void fc_init(const char *name);
/* The RAM disk under FC_TARGET LUN 1 (read or written below SCSI). */
void fc_store_rw(bool write, uint64_t off, void *buf, uint32_t len);
/*
 * Opens a connection with @set (nop_interval is forced to 0); @fn gets
 * every PDU the target sends, in order, with digests checked and
 * stripped once the connection negotiated them.
 */
struct fc *fc_open(const struct iscsi_settings *set, fc_pdu_fn *fn, void *ctx);
/* Sends @len bytes as the initiator, running the target meanwhile. */
void fc_send(struct fc *f, const void *buf, size_t len);
/* Sends a BHS and its data segment, with digests when negotiated. */
void fc_send_pdu(struct fc *f, const uint8_t bhs[48], const void *data,
		 uint32_t dsl);
/* Runs the target until it has nothing left to do or say. */
void fc_run(struct fc *f);
/*
 * Lets @ms of the target's clock pass (its once-a-second tick runs, so
 * held-back answers and timeouts fire), then runs it (fc_run).
 */
void fc_advance(struct fc *f, uint64_t ms);
/* True once the target closed its end (after fc_run). */
bool fc_target_closed(struct fc *f);
/*
 * Closes the initiator's end, runs the target until the connection is
 * freed (asserts it is), and frees @f.
 */
void fc_close(struct fc *f);
/* The target's connection, or NULL once it was freed. */
struct iscsi_conn *fc_conn(struct fc *f);
/* Live connections of the harness (0 between inputs). */
int fc_live(void);

#endif
