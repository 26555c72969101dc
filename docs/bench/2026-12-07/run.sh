#!/bin/bash
# one compare.sh run: tgt (reference) + ringtgt-old (2aabc40) + ringtgt-new (2d5a432), default cells
set -u
OUT=${1:?out dir}; shift
for p in 3271 3272; do ss -Htln "sport = :$p" | grep -q . && { echo "port $p busy" >&2; exit 2; }; done
IQN=iqn.2026-11.org.ringtgt:bench
cd /work/shared/bench
uptime
exec ./compare.sh --out "$OUT" --targets tgt "$@" \
  --target ringtgt-old="/work/wt-old/build-bench/ringtgtd --foreground --portal 127.0.0.1:3271 --control-socket /tmp/bench-h8-ctl/old.sock --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:3271/$IQN/1" \
  --target ringtgt-new="/work/wt-new/build-bench/ringtgtd --foreground --portal 127.0.0.1:3272 --control-socket /tmp/bench-h8-ctl/new.sock --export \"\$BENCH_BACKING,iqn=$IQN\"" \
  --url "iscsi://127.0.0.1:3272/$IQN/1"
