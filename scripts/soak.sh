#!/usr/bin/env bash
# Soak test (issue 8 item 14): start ringtgtd on 127.0.0.1 (a free port,
# a sparse file LUN in a temp dir), run the soak driver
# (tests/integration/soak.c: N sessions of verified random I/O of mixed
# sizes for D seconds while a chaos loop kills random connections and the
# sessions log in again with the same ISID; an abandoned connection makes
# the target reinstate the session), and sample the daemon's RSS
# and open descriptors every few seconds into a CSV. Then check:
#
#   - the driver: I/O done, 0 mismatches, 0 errors, sessions reconnected;
#   - the daemon still runs, and stops cleanly on SIGTERM (lib.sh);
#   - RSS flat after warm-up: the last sample during the load is at most
#     the warm-up sample + a margin;
#   - descriptors back to the baseline taken before the first session,
#     within 15 s of the driver's end.
#
# Prints a summary; exits non-zero on any violation.
#
# usage: scripts/soak.sh [--sessions N] [--duration S] [--chaos-ms MS]
#            [--sample S] [--warmup S] [--rss-margin-mib M] [--csv FILE]
#            [--driver PATH] [--ringtgtd PATH] [--event-loop io_uring|epoll]
# Defaults: 64 sessions, 600 s, a kill every ~500 ms, samples every 5 s,
# warm-up max(10 s, D/6), margin 16 MiB, build/ringtgtd and
# build/tests/integration/soak; the CSV stays in the temp dir unless
# --csv names a file.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
sessions=64
duration=600
chaos_ms=500
sample=5
warmup=""
margin_mib=16
csv=""
driver="$ROOT/build/tests/integration/soak"
lib_args=()
have_ringtgtd=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
    --sessions) sessions=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --chaos-ms) chaos_ms=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rss-margin-mib) margin_mib=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    --driver) driver=$2; shift 2 ;;
    --ringtgtd) lib_args+=("$1" "$2"); have_ringtgtd=1; shift 2 ;;
    --event-loop) lib_args+=("$1" "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for v in sessions duration chaos_ms sample margin_mib; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "--${v//_/-} must be a number" >&2; exit 2; }
done
[ "$have_ringtgtd" = 1 ] || lib_args+=(--ringtgtd "$ROOT/build/ringtgtd")
[ -n "$warmup" ] || warmup=$(( duration / 6 > 10 ? duration / 6 : 10 ))
[ -x "$driver" ] || { echo "soak driver '$driver' not built (ninja -C build)" >&2; exit 2; }

. "$ROOT/tests/integration/lib.sh"
IT_NAME=soak
it_init "${lib_args[@]}"

# An ASan build keeps freed memory in quarantine (256 MiB by default),
# which would read as growth: keep it small. Other builds ignore this.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

blocks=8192     # per session: 4 MiB
it_make_image "$IT_TMP/soak.img" "$(( sessions * blocks / 2048 + 1 ))M"
it_start_daemon "$IT_TMP/soak.img"
[ -n "$csv" ] || csv="$IT_TMP/soak.csv"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$IT_PID/status"; }
fd_count() { find "/proc/$IT_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

base_fds=$(fd_count)
base_rss=$(rss_kib)
it_log "baseline before the first session: $base_fds descriptors, RSS $base_rss KiB"
echo "t_s,rss_kib,fds" >"$csv"
echo "0,$base_rss,$base_fds" >>"$csv"

driver_out="$IT_TMP/driver.out"
stop_driver() {
    if [ -n "${driver_pid:-}" ] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null || true
        wait "$driver_pid" 2>/dev/null || true
    fi
}
it_at_exit stop_driver

start=$SECONDS
timeout -k 5 $(( duration + 120 )) "$driver" --port "$IT_PORT" --target "$IT_IQN" \
    --sessions "$sessions" --duration "$duration" --blocks-per-session "$blocks" \
    --chaos-ms "$chaos_ms" --seed "${SOAK_SEED:-$RANDOM}" >"$driver_out" 2>&1 &
driver_pid=$!
it_log "driver pid $driver_pid: $sessions sessions for $duration s, a kill every ~$chaos_ms ms"

warm_rss=""
last_rss=""
next=$(( start + sample ))
while kill -0 "$driver_pid" 2>/dev/null; do
    if [ $SECONDS -ge $next ]; then
        it_pid_running "$IT_PID" || break
        t=$(( SECONDS - start ))
        r=$(rss_kib) f=$(fd_count)
        echo "$t,$r,$f" >>"$csv"
        last_rss=$r
        [ -z "$warm_rss" ] && [ "$t" -ge "$warmup" ] && warm_rss=$r
        next=$(( next + sample ))
    fi
    sleep 0.2
done
driver_rc=0
wait "$driver_pid" || driver_rc=$?
driver_pid=""
fails=()
it_pid_running "$IT_PID" || fails+=("the daemon died during the soak")

# descriptors back to the baseline once every session is gone
end_fds=""
for _ in $(seq 1 75); do
    it_pid_running "$IT_PID" || break
    end_fds=$(fd_count)
    [ "$end_fds" -le "$base_fds" ] && break
    sleep 0.2
done
end_rss=$(rss_kib 2>/dev/null || echo 0)
echo "$(( SECONDS - start )),$end_rss,$end_fds" >>"$csv"

summary=$(grep '^soak:' "$driver_out" | tail -1 || true)
[ "$driver_rc" = 0 ] || fails+=("the driver failed (status $driver_rc)")
[ -n "$summary" ] || fails+=("the driver printed no summary")
case "$summary" in *" mismatches=0 "*) ;; *) fails+=("data mismatches") ;; esac
if [ -z "$warm_rss" ]; then
    fails+=("no RSS sample after the ${warmup} s warm-up")
elif [ "$last_rss" -gt $(( warm_rss + margin_mib * 1024 )) ]; then
    fails+=("RSS grew from $warm_rss KiB after warm-up to $last_rss KiB (margin $margin_mib MiB)")
fi
[ "${end_fds:-x}" = "$base_fds" ] ||
    fails+=("${end_fds:-?} descriptors open at the end, $base_fds before the first session")

echo "===== soak summary ($IT_EVENT_LOOP, $sessions sessions, $duration s) ====="
echo "driver:      ${summary:-<none>}"
echo "RSS KiB:     baseline $base_rss, after warm-up (${warmup} s) ${warm_rss:-?}, end of load ${last_rss:-?}, after $end_rss"
echo "descriptors: baseline $base_fds, end $end_fds"
echo "csv:         $csv ($(( $(wc -l <"$csv") - 1 )) samples)"
if [ ${#fails[@]} -gt 0 ]; then
    sed 's/^/    | /' "$driver_out" | tail -n 40 >&2
    for f in "${fails[@]}"; do it_log "FAIL: $f" >&2; done
    exit 1
fi
it_log "soak passed"
