#!/bin/bash
# compare-ringtgt.sh - run the shared side-by-side benchmark (compare.sh, see
# the README.md next to it) with ringtgtd added as a target next to tgt,
# tgt-aio and istgt.
#
#   bench/compare-ringtgt.sh --bench-dir DIR [compare.sh options...]
#     e.g. --bench-dir DIR --rounds 1 --secs 3 --targets tgt   (smoke run)
#          --bench-dir DIR --out OUTDIR                         (full default run)
#
#   --bench-dir DIR  the shared benchmark: a directory with compare.sh (or set
#                    BENCH_DIR). Not part of this repository, so there is no
#                    default: without it the script stops and says so.
#
# Environment: RINGTGTD (default: build-bench/ringtgtd of this repository, a
# release build: meson setup build-bench --buildtype=release -Dtests=false &&
# ninja -C build-bench), BENCH_DIR, RINGTGT_PORT (default 3270), RINGTGT_ARGS
# (extra ringtgtd options, e.g. "--reactors 2"; default none).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
me=compare-ringtgt.sh
die() { echo "$me: $*" >&2; exit 2; }

BENCH_DIR=${BENCH_DIR:-}
case "${1:-}" in
--bench-dir) [ $# -ge 2 ] || die "--bench-dir needs a directory"; BENCH_DIR=$2; shift 2 ;;
--bench-dir=*) BENCH_DIR=${1#*=}; shift ;;
esac
[ -n "$BENCH_DIR" ] ||
  die "no shared benchmark given: pass --bench-dir DIR (or set BENCH_DIR) naming the directory that holds compare.sh"
[ -x "$BENCH_DIR/compare.sh" ] ||
  die "no executable compare.sh in '$BENCH_DIR' (--bench-dir / BENCH_DIR must name the shared benchmark directory)"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

RINGTGTD=${RINGTGTD:-$repo/build-bench/ringtgtd}
[ -x "$RINGTGTD" ] || die "ringtgtd '$RINGTGTD' is not built; build it with:
  meson setup '$repo/build-bench' '$repo' --buildtype=release -Dtests=false && ninja -C '$repo/build-bench'
or point RINGTGTD at a ringtgtd binary"
RINGTGTD=$(cd "$(dirname "$RINGTGTD")" && pwd)/$(basename "$RINGTGTD")

PORT=${RINGTGT_PORT:-3270}
IQN=iqn.2026-11.org.ringtgt:bench
command -v ss >/dev/null 2>&1 || die "ss (iproute2) is needed to check that port $PORT is free"
if ss -Htln "sport = :$PORT" | grep -q .; then
  die "127.0.0.1:$PORT already in use (set RINGTGT_PORT)"
fi
ctl_dir=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-bench.XXXXXX")
trap 'rm -rf "$ctl_dir"' EXIT
uptime
cd "$BENCH_DIR"
rc=0
./compare.sh "$@" \
  --target ringtgt="$RINGTGTD --foreground --portal 127.0.0.1:$PORT --control-socket $ctl_dir/ctl.sock ${RINGTGT_ARGS:-} --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:$PORT/$IQN/1" || rc=$?
exit $rc
