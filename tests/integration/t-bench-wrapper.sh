#!/usr/bin/env bash
# bench/compare-ringtgt.sh, the wrapper around the shared benchmark (which
# is not part of this repository):
#
#  - without --bench-dir / BENCH_DIR, or with a directory that has no
#    compare.sh, it stops with status 2 and says what is missing;
#  - with no RINGTGTD it uses build-bench/ringtgtd of the repository it
#    lives in (checked on a copy of the script in a scratch repository
#    layout), and says how to build it when that is missing;
#  - it runs compare.sh in the benchmark directory with a ringtgt --target
#    and --url that work: a stand-in compare.sh runs that command the way
#    the real one does (bash -c "exec CMD", BENCH_BACKING set) and reads
#    the capacity of the --url LUN with iscsi-readcapacity16.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-readcapacity16 uptime
wrapper="$IT_DIR/../../bench/compare-ringtgt.sh"
[ -x "$wrapper" ] || it_fail "$wrapper is not executable"

# run_wrapper SCRIPT ARGS...: sets W_RC, W_OUT
run_wrapper() {
    W_RC=0
    W_OUT=$(timeout -k 5 60 "$@" 2>&1) || W_RC=$?
}
expect_stop() {   # WHAT ERE: status 2 and a message matching ERE
    [ "$W_RC" = 2 ] || it_fail "$1: status $W_RC, expected 2; output: $W_OUT"
    it_expect_match "$1" "$W_OUT" "$2"
}

# --- no benchmark directory ---------------------------------------------------
(unset BENCH_DIR; run_wrapper "$wrapper" --rounds 1
 expect_stop "no --bench-dir" 'pass --bench-dir DIR \(or set BENCH_DIR\)')
mkdir "$IT_TMP/empty"
run_wrapper env -u BENCH_DIR "$wrapper" --bench-dir "$IT_TMP/empty"
expect_stop "--bench-dir without compare.sh" "no executable compare\\.sh in '$IT_TMP/empty'"
it_log "no benchmark directory: status 2 with a message"

# --- a stand-in compare.sh ----------------------------------------------------
bench="$IT_TMP/bench"
mkdir "$bench"
cat >"$bench/compare.sh" <<'FIXTURE'
#!/usr/bin/env bash
# stand-in for the shared compare.sh: start the --target as compare.sh does,
# read the capacity of its --url, stop it by PID
set -eu
pwd >"$FIX_OUT/cwd"
cmd="" url=""
while [ $# -gt 0 ]; do
    case "$1" in
    --target) cmd=${2#*=}; shift 2 ;;
    --url) url=$2; shift 2 ;;
    *) shift ;;
    esac
done
printf '%s\n' "$cmd" >"$FIX_OUT/target"
printf '%s\n' "$url" >"$FIX_OUT/url"
truncate -s 64M "$FIX_OUT/backing.img"
BENCH_BACKING="$FIX_OUT/backing.img" bash -c "exec $cmd" >"$FIX_OUT/target.log" 2>&1 &
pid=$!
ok=1
for _ in $(seq 1 100); do
    if timeout 5 iscsi-readcapacity16 "$url" >"$FIX_OUT/readcap" 2>&1; then ok=0; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
done
kill -TERM $pid 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null || true
exit $ok
FIXTURE
chmod +x "$bench/compare.sh"
export FIX_OUT="$IT_TMP/out"
mkdir "$FIX_OUT"

# a scratch repository layout: bench/compare-ringtgt.sh + build-bench/ringtgtd
repo="$IT_TMP/repo"
mkdir -p "$repo/bench"
cp "$wrapper" "$repo/bench/"
run_wrapper env -u RINGTGTD "$repo/bench/compare-ringtgt.sh" --bench-dir "$bench"
expect_stop "no build-bench/ringtgtd" "'$repo/build-bench/ringtgtd' is not built; build it with:"
it_expect_match "build command" "$W_OUT" "meson setup '$repo/build-bench' '$repo' --buildtype=release"
mkdir "$repo/build-bench"
ln -s "$(cd "$(dirname "$IT_RINGTGTD")" && pwd)/$(basename "$IT_RINGTGTD")" "$repo/build-bench/ringtgtd"

it_lock
port=$(it_find_port)
mkdir "$IT_TMP/wtmp"
run_wrapper env -u RINGTGTD RINGTGT_PORT="$port" RINGTGT_ARGS="--event-loop $IT_EVENT_LOOP" \
    TMPDIR="$IT_TMP/wtmp" "$repo/bench/compare-ringtgt.sh" --bench-dir "$bench" --rounds 1 \
    {IT_LOCK_FD}>&-
it_unlock
if [ "$W_RC" != 0 ]; then
    it_log "FAIL: the wrapper with a stand-in compare.sh exited $W_RC; output:" >&2
    printf '%s\n' "$W_OUT" | sed 's/^/    | /' >&2
    for f in target url readcap target.log; do
        [ -f "$FIX_OUT/$f" ] && { echo "--- $f"; cat "$FIX_OUT/$f"; } >&2
    done
    exit 1
fi
[ "$(cat "$FIX_OUT/cwd")" = "$bench" ] || it_fail "compare.sh ran in $(cat "$FIX_OUT/cwd"), not in $bench"
it_expect_match "target command uses the repository's build-bench/ringtgtd" "$(cat "$FIX_OUT/target")" \
    "^${repo//./\\.}/build-bench/ringtgtd --foreground --portal 127\\.0\\.0\\.1:$port "
it_expect_match "url" "$(cat "$FIX_OUT/url")" "^iscsi://127\\.0\\.0\\.1:$port/iqn\\.2026-11\\.org\\.ringtgt:bench/1\$"
it_expect_match "the LUN is the benchmark's backing file" "$(cat "$FIX_OUT/readcap")" "^Total size:$((64 * 1024 * 1024))\$"
[ -z "$(ls -A "$IT_TMP/wtmp")" ] ||
    it_fail "the wrapper left files in its TMPDIR: $(ls -A "$IT_TMP/wtmp")"
it_log "wrapper: repository's build-bench/ringtgtd, run in the benchmark dir, the target serves its --url"
