#!/usr/bin/env bash
# Randomized write/read-back data integrity test (rwtest) against ringtgtd:
# once without digests, once with HeaderDigest=CRC32C (verified on the
# wire), and once with CRC32C + ImmediateData=No/InitialR2T=Yes (every
# Data-Out solicited by R2T); then pipelined (--queue-depth: 32 and 64
# commands in flight, overlapping and adjacent ranges).  Data digest:
# libiscsi only ever offers DataDigest=None, so it cannot be exercised
# with this client.
#
# RINGTGT_IT_ITERATIONS (default 200) and RINGTGT_IT_SEED (default random,
# printed by rwtest) tune the runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_need_rwtest

it_make_image "$IT_TMP/disk0" 256M
it_start_daemon "$IT_TMP/disk0"

iters=${RINGTGT_IT_ITERATIONS:-200}
seed_args=()
[ -n "${RINGTGT_IT_SEED:-}" ] && seed_args=(--seed "$RINGTGT_IT_SEED")

it_run "rwtest (no digest)" 300 \
    "$IT_RWTEST" --iterations "$iters" "${seed_args[@]}" "$IT_URL"
it_run "rwtest --header-digest" 300 \
    "$IT_RWTEST" --header-digest --iterations "$iters" "${seed_args[@]}" "$IT_URL"
it_run "rwtest --header-digest --r2t-only" 300 \
    "$IT_RWTEST" --header-digest --r2t-only --iterations "$((iters / 2))" \
    --max-blocks 1536 "${seed_args[@]}" "$IT_URL"
it_run "rwtest --queue-depth 32" 300 \
    "$IT_RWTEST" --queue-depth 32 --iterations "$((iters * 10))" \
    --span-mib 8 --max-blocks 256 "${seed_args[@]}" "$IT_URL"
it_run "rwtest --queue-depth 64 --header-digest --r2t-only" 300 \
    "$IT_RWTEST" --queue-depth 64 --header-digest --r2t-only \
    --iterations "$((iters * 5))" --span-mib 8 --max-blocks 1536 \
    "${seed_args[@]}" "$IT_URL"

# the daemon must still be healthy after all that
it_pid_running "$IT_PID" || it_fail "daemon died during the test"
