#!/bin/bash
# One compare.sh run: tgt (reference) + ringtgt-old + ringtgt-new, default cells.
# Usage: BENCH_DIR=<shared bench dir> OLD=<old ringtgtd> NEW=<new ringtgtd> run.sh OUT [compare.sh options]
# (this run: OLD = 2aabc40, NEW = 2d5a432, both release builds:
#  meson setup build-bench --buildtype=release -Dtests=false && ninja -C build-bench)
set -u
OUT=${1:?out dir}; shift
: "${BENCH_DIR:?the shared bench directory (compare.sh)}" "${OLD:?old ringtgtd}" "${NEW:?new ringtgtd}"
for p in 3271 3272; do ss -Htln "sport = :$p" | grep -q . && { echo "port $p busy" >&2; exit 2; }; done
IQN=iqn.2026-11.org.ringtgt:bench
CTL=$(mktemp -d)
cd "$BENCH_DIR"
uptime
exec ./compare.sh --out "$OUT" --targets tgt "$@" \
  --target ringtgt-old="$OLD --foreground --portal 127.0.0.1:3271 --control-socket $CTL/old.sock --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:3271/$IQN/1" \
  --target ringtgt-new="$NEW --foreground --portal 127.0.0.1:3272 --control-socket $CTL/new.sock --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:3272/$IQN/1"
