#!/bin/bash
# compare-ringtgt.sh - run the shared side-by-side benchmark (compare.sh, see
# its README.md) with ringtgtd added as a target next to tgt, tgt-aio and istgt.
#
#   bench/compare-ringtgt.sh [compare.sh options...]
#     e.g. --rounds 1 --secs 3 --targets tgt      (smoke run)
#          --out /tmp/bench-ringtgt               (full default run)
#
# Environment: RINGTGTD (default: ringtgtd of a release build in /tmp/bld-bench),
# BENCH_DIR (default /work/shared/bench), RINGTGT_PORT (default 3270),
# RINGTGT_ARGS (extra ringtgtd options, e.g. "--reactors 2"; default none).
# Build: meson setup /tmp/bld-bench . --buildtype=release -Dtests=false && ninja -C /tmp/bld-bench
set -eu
RINGTGTD=${RINGTGTD:-/tmp/bld-bench/ringtgtd}
BENCH_DIR=${BENCH_DIR:-/work/shared/bench}
PORT=${RINGTGT_PORT:-3270}
IQN=iqn.2026-11.org.ringtgt:bench
CTL=/tmp/bench-ctl-$PORT.sock
[ -x "$RINGTGTD" ] || { echo "compare-ringtgt.sh: $RINGTGTD not built" >&2; exit 2; }
if ss -Htln "sport = :$PORT" | grep -q .; then
  echo "compare-ringtgt.sh: 127.0.0.1:$PORT already in use (set RINGTGT_PORT)" >&2; exit 2
fi
uptime
cd "$BENCH_DIR"
exec ./compare.sh "$@" \
  --target ringtgt="$RINGTGTD --foreground --portal 127.0.0.1:$PORT --control-socket $CTL ${RINGTGT_ARGS:-} --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:$PORT/$IQN/1"
