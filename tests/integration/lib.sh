# shellcheck shell=bash
#
# Shared helpers for the ringtgt integration tests (t-*.sh).  Source it from
# a test script that runs under `set -euo pipefail`, then call
#
#     it_init "$@"                       # parse args, make temp dir, set traps
#     it_make_image "$IT_TMP/disk0" 256M # sparse backing file
#     it_start_daemon "$IT_TMP/disk0"    # sets IT_PORT IT_PID IT_IQN IT_URL ...
#
# The EXIT trap stops the daemon with SIGTERM, fails the test if it does not
# exit (with status 0) within 10 s, and dumps the daemon log on failure.
#
# Common test arguments:
#     --ringtgtd PATH            ringtgtd binary (required unless tgt mode)
#     --event-loop io_uring|epoll
#     --rwtest PATH              rwtest binary (else $RINGTGT_RWTEST, else it
#                                is compiled from rwtest.c into the temp dir)
#
# Environment:
#     RINGTGT_IT_TARGET=tgt      debugging mode: run the tests against tgtd
#                                (stgt) instead of ringtgtd; needs root.
#     RINGTGT_RWTEST=PATH        rwtest binary
#     RINGTGT_IT_KEEP=1          keep the temp dir (images, logs) afterwards
#     RINGTGT_IT_START_TIMEOUT   seconds to wait for the portal (default 20)
#     RINGTGT_IT_STOP_TIMEOUT    seconds to wait for exit on SIGTERM (default 10)
#     RINGTGT_IT_ALLOW_SKIP=1    a missing tool or host feature skips the test
#                                (exit 77, meson SKIP) instead of failing it
#
# Exit status convention (meson): 0 pass, 77 skip, anything else fail.
# A required tool (it_require) or host feature (it_unavailable*) that is
# missing fails the test: scripts/bootstrap.sh installs every tool the tests
# use, and the host features (/dev/shm tmpfs, O_DIRECT in the temp dir, ::1)
# are there on a stock Debian 12. Only RINGTGT_IT_ALLOW_SKIP=1 makes them a
# skip; a test with skipped parts then exits 77 at the end, never 0.

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=$(basename "$0" .sh)
IT_TARGET=${RINGTGT_IT_TARGET:-ringtgtd}
IT_RINGTGTD=""
IT_EVENT_LOOP="io_uring"
IT_RWTEST=${RINGTGT_RWTEST:-}
IT_TMP=""
IT_LOG=""
IT_PID=""
IT_PORT=""
IT_IQN=""
IT_URL=""
IT_PORTAL=""
IT_IMAGE=""
IT_CTL=""           # tgt mode: tgtd control port
IT_LOCK_FD=""
IT_START_TIMEOUT=${RINGTGT_IT_START_TIMEOUT:-20}
IT_STOP_TIMEOUT=${RINGTGT_IT_STOP_TIMEOUT:-10}
IT_IQN_PREFIX="iqn.2026-11.org.ringtgt"
IT_SKIPPED_PARTS=()     # parts skipped under RINGTGT_IT_ALLOW_SKIP=1
IT_EXIT_HOOKS=()        # functions it_on_exit runs first (it_at_exit)
IT_DAEMON_ARGS=()       # more ringtgtd options for it_launch (e.g. --state-dir)

it_log() { printf '[%s %s] %s\n' "$IT_NAME" "$(date +%T)" "$*"; }
it_fail() { it_log "FAIL: $*" >&2; exit 1; }
it_skip() { it_log "SKIP: $*"; exit 77; }

it_usage() {
    cat <<EOF
usage: $0 --ringtgtd PATH [--event-loop io_uring|epoll] [--rwtest PATH]
       RINGTGT_IT_TARGET=tgt $0 [--rwtest PATH]    (debug against tgtd)
EOF
}

it_parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
        --ringtgtd) [ $# -ge 2 ] || { it_usage >&2; exit 2; }; IT_RINGTGTD=$2; shift 2 ;;
        --ringtgtd=*) IT_RINGTGTD=${1#*=}; shift ;;
        --event-loop) [ $# -ge 2 ] || { it_usage >&2; exit 2; }; IT_EVENT_LOOP=$2; shift 2 ;;
        --event-loop=*) IT_EVENT_LOOP=${1#*=}; shift ;;
        --rwtest) [ $# -ge 2 ] || { it_usage >&2; exit 2; }; IT_RWTEST=$2; shift 2 ;;
        --rwtest=*) IT_RWTEST=${1#*=}; shift ;;
        -h|--help) it_usage; exit 0 ;;
        *) it_usage >&2; echo "unknown argument: $1" >&2; exit 2 ;;
        esac
    done
    case "$IT_EVENT_LOOP" in
    io_uring|epoll) ;;
    *) echo "invalid --event-loop '$IT_EVENT_LOOP' (io_uring|epoll)" >&2; exit 2 ;;
    esac
    case "$IT_TARGET" in
    ringtgtd)
        [ -n "$IT_RINGTGTD" ] || { it_usage >&2; echo "--ringtgtd is required" >&2; exit 2; }
        [ -x "$IT_RINGTGTD" ] || it_fail "ringtgtd binary '$IT_RINGTGTD' is not executable"
        ;;
    tgt)
        command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
            it_fail "RINGTGT_IT_TARGET=tgt but tgtd/tgtadm are not installed"
        [ "$(id -u)" = 0 ] || it_fail "RINGTGT_IT_TARGET=tgt needs root (tgtd)"
        ;;
    *) it_fail "RINGTGT_IT_TARGET must be 'ringtgtd' (default) or 'tgt', not '$IT_TARGET'" ;;
    esac
}

it_init() {
    it_parse_args "$@"
    IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-it-$IT_NAME.XXXXXX")
    IT_LOG="$IT_TMP/daemon.log"
    : >"$IT_LOG"
    trap it_on_exit EXIT
    trap 'it_log "FAIL: unexpected failure (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
    trap 'it_log "interrupted"; exit 130' INT
    trap 'it_log "terminated (timeout?)"; exit 143' TERM
    it_log "target=$IT_TARGET event-loop=$IT_EVENT_LOOP tmp=$IT_TMP"
    # lib.sh itself: the port lock, bounded commands, who owns a port
    it_require flock timeout ss
}

# it_capture CMD...   run CMD (bounded by IT_CAPTURE_TIMEOUT seconds, default
# 30) and print its output; on a nonzero exit or timeout, fail the test
# showing the output.
it_capture() {
    local out rc=0
    out=$(timeout -k 5 "${IT_CAPTURE_TIMEOUT:-30}" "$@" 2>&1) || rc=$?
    if [ $rc != 0 ]; then
        it_log "FAIL: '$*' exited with status $rc; output:" >&2
        printf '%s\n' "$out" | sed 's/^/    | /' >&2
        exit 1
    fi
    printf '%s\n' "$out"
}

# Debian package that provides command $1 (for messages)
it_package_of() {
    case "$1" in
    iscsi-*) echo libiscsi-bin ;;
    qemu-img) echo "qemu-utils and qemu-block-extra" ;;
    ss) echo iproute2 ;;
    flock|taskset) echo util-linux ;;
    cmp|diff) echo diffutils ;;
    python3) echo python3 ;;
    *) echo "the package providing $1" ;;
    esac
}

# it_unavailable REASON: the test cannot run its subject here. Fails the
# test, unless RINGTGT_IT_ALLOW_SKIP=1, which makes it a skip (exit 77).
it_unavailable() {
    [ "${RINGTGT_IT_ALLOW_SKIP:-0}" != 1 ] || it_skip "$* (RINGTGT_IT_ALLOW_SKIP=1)"
    it_fail "$* (set RINGTGT_IT_ALLOW_SKIP=1 to skip instead)"
}

# it_unavailable_part REASON: one part of the test cannot run here. Fails
# the test, unless RINGTGT_IT_ALLOW_SKIP=1: then the caller goes on without
# that part and the test ends with status 77 (SKIP) instead of 0.
it_unavailable_part() {
    [ "${RINGTGT_IT_ALLOW_SKIP:-0}" = 1 ] ||
        it_fail "$* (set RINGTGT_IT_ALLOW_SKIP=1 to skip that part instead)"
    it_log "SKIP (part, RINGTGT_IT_ALLOW_SKIP=1): $*"
    IT_SKIPPED_PARTS+=("$*")
}

# it_require CMD...: every command must exist (see it_unavailable).
it_require() {
    local c missing=() pkgs=()
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            missing+=("$c")
            pkgs+=("$(it_package_of "$c")")
        fi
    done
    [ ${#missing[@]} = 0 ] ||
        it_unavailable "required command(s) not found: ${missing[*]} (install: ${pkgs[*]};" \
            "scripts/bootstrap.sh installs them)"
}

# qemu-img with its libiscsi block driver (Debian: qemu-block-extra)
it_require_qemu_iscsi() {
    local help
    it_require qemu-img
    help=$(timeout 30 qemu-img --help 2>&1) || true
    grep -q '^Supported formats:.* iscsi' <<<"$help" ||
        it_unavailable "qemu-img lacks the iscsi block driver (install qemu-block-extra;" \
            "scripts/bootstrap.sh installs it)"
}

# it_make_image PATH SIZE   - sparse file
it_make_image() {
    rm -f "$1"
    truncate -s "$2" "$1"
}

# Locate or build rwtest; sets IT_RWTEST.
it_need_rwtest() {
    if [ -n "$IT_RWTEST" ]; then
        [ -x "$IT_RWTEST" ] || it_fail "rwtest '$IT_RWTEST' is not executable"
        return 0
    fi
    local cc=${CC:-cc}
    command -v "$cc" >/dev/null || it_fail "no --rwtest/RINGTGT_RWTEST given and no C compiler to build it"
    it_log "building rwtest from $IT_DIR/rwtest.c"
    "$cc" -std=c11 -O2 -g -Wall -Wextra -o "$IT_TMP/rwtest" "$IT_DIR/rwtest.c" -liscsi -lpthread ||
        it_fail "cannot build rwtest (is libiscsi-dev installed?)"
    IT_RWTEST="$IT_TMP/rwtest"
}

# ---------------------------------------------------------------------------
# process helpers
# ---------------------------------------------------------------------------

# true if PID exists and is not a zombie
it_pid_running() {
    local pid=$1 stat
    [ -r "/proc/$pid/stat" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# true if something listens on PORT (any address); ss is required (it_init)
it_port_in_use() {
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# true if a TCP connection to 127.0.0.1:PORT is accepted
it_port_accepts() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Print a free port (below the Linux ephemeral range, to avoid clashing
# with outgoing connections).  Callers hold the port lock.
it_find_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        # tgt mode uses the port number as tgtd's control port too:
        # skip ports whose management socket exists (another tgtd)
        if [ "$IT_TARGET" = tgt ] && [ -e "/var/run/tgtd/socket.$port" ]; then
            continue
        fi
        if ! it_port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    it_fail "could not find a free TCP port"
}

# Serialize port selection + daemon startup across parallel tests.
it_lock() {
    [ -z "$IT_LOCK_FD" ] || return 0    # already held (restart)
    exec {IT_LOCK_FD}>"${TMPDIR:-/tmp}/ringtgt-it-ports.lock"
    flock -w 120 "$IT_LOCK_FD" || it_fail "timed out waiting for the port lock"
}
it_unlock() {
    if [ -n "$IT_LOCK_FD" ]; then
        flock -u "$IT_LOCK_FD" || true
        exec {IT_LOCK_FD}>&-
        IT_LOCK_FD=""
    fi
}

# ---------------------------------------------------------------------------
# daemon start / stop
# ---------------------------------------------------------------------------

it_default_iqn() {
    echo "$IT_IQN_PREFIX:$(basename "$1")"
}

# Launch the daemon in the background on $IT_PORT (no waiting).
it_launch() {
    local image=$1 iqn_opt=$2
    printf '\n===== %s: starting %s on 127.0.0.1:%s =====\n' "$(date +%T)" "$IT_TARGET" "$IT_PORT" >>"$IT_LOG"
    if [ "$IT_TARGET" = tgt ]; then
        IT_CTL=$IT_PORT
        tgtd -f -C "$IT_CTL" --iscsi "portal=127.0.0.1:$IT_PORT" >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
        IT_PID=$!
    else
        local export_arg=$image
        [ -n "$iqn_opt" ] && export_arg="$image,iqn=$iqn_opt"
        "$IT_RINGTGTD" --foreground \
            --portal "127.0.0.1:$IT_PORT" \
            --control-socket "$IT_TMP/control.sock" \
            --export "$export_arg" \
            --event-loop "$IT_EVENT_LOOP" \
            "${IT_DAEMON_ARGS[@]}" \
            --log-level debug >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
        IT_PID=$!
    fi
    it_log "started $IT_TARGET pid $IT_PID on 127.0.0.1:$IT_PORT"
}

# true if PID is ANCESTOR or one of its descendants
it_pid_descends_from() {
    local pid=$1 ancestor=$2 stat _
    for _ in $(seq 1 64); do
        [ "$pid" = "$ancestor" ] && return 0
        [ "$pid" -gt 1 ] 2>/dev/null || return 1
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        read -r _ pid _ <<<"$stat"
    done
    return 1
}

# true if the listener on PORT is PID (or a descendant). Fails the test
# when ss (iproute2) is missing: without it nobody can tell.
it_port_owned_by() {
    local port=$1 pid=$2 owners p
    command -v ss >/dev/null 2>&1 ||
        it_fail "ss (iproute2) is needed to tell which process listens on port $port"
    owners=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
    # shellcheck disable=SC2013
    for p in $(grep -o 'pid=[0-9]*' <<<"$owners" | cut -d= -f2); do
        it_pid_descends_from "$p" "$pid" && return 0
    done
    return 1
}

# Wait until the portal accepts connections; 0 ok, 1 daemon died, 2 timeout
it_wait_portal() {
    local deadline=$((SECONDS + IT_START_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        it_pid_running "$IT_PID" || return 1
        if it_port_accepts "$IT_PORT"; then
            # make sure it is *our* daemon listening there
            if ! it_port_owned_by "$IT_PORT" "$IT_PID"; then
                it_log "port $IT_PORT accepts connections but the listener is not pid $IT_PID" \
                    "or one of its descendants: $(ss -Hltnp "sport = :$IT_PORT" 2>&1)"
                return 1
            fi
            return 0
        fi
        sleep 0.1
    done
    return 2
}

it_tgtadm() {
    tgtadm -C "$IT_CTL" --lld iscsi "$@"
}

it_configure_tgt() {
    local image=$1
    # the management socket may appear slightly after the portal
    for _ in $(seq 1 50); do
        it_tgtadm --mode target --op show >/dev/null 2>&1 && break
        sleep 0.1
    done
    it_tgtadm --mode target --op new --tid 1 --targetname "$IT_IQN" &&
    it_tgtadm --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$image" &&
    it_tgtadm --mode target --op bind --tid 1 --initiator-address ALL &&
    it_tgtadm --mode target --op update --tid 1 --name HeaderDigest --value CRC32C,None &&
    it_tgtadm --mode target --op update --tid 1 --name DataDigest --value CRC32C,None ||
        it_fail "tgtadm configuration failed"
}

# it_start_daemon IMAGE [IQN]
#   Exports IMAGE as LUN 1.  Without IQN the daemon's default
#   (iqn.2026-11.org.ringtgt:<basename>) is used; with IQN it is passed as
#   --export IMAGE,iqn=IQN.  Sets IT_PORT IT_PID IT_IQN IT_URL IT_PORTAL.
#   If IT_PORT is already set (restart), that port is reused.
it_start_daemon() {
    local image=$1 iqn=${2:-} attempt rc reuse_port=${IT_PORT:-}
    case "$image" in *,*) it_fail "image path '$image' must not contain ','" ;; esac
    [ -z "$IT_PID" ] || it_fail "it_start_daemon: daemon already running (pid $IT_PID)"
    IT_IMAGE=$image
    IT_IQN=${iqn:-$(it_default_iqn "$image")}

    it_lock
    for attempt in 1 2 3 4 5; do
        if [ -n "$reuse_port" ]; then
            IT_PORT=$reuse_port
        else
            IT_PORT=$(it_find_port) || it_fail "could not find a free TCP port"
        fi
        it_launch "$image" "$iqn"
        rc=0
        it_wait_portal || rc=$?
        if [ $rc = 0 ]; then
            break
        fi
        if [ $rc = 2 ]; then
            it_unlock
            it_fail "$IT_TARGET did not accept connections on 127.0.0.1:$IT_PORT within ${IT_START_TIMEOUT}s"
        fi
        # daemon died (or someone else owns the port): reap it, maybe retry
        local status=0
        if it_pid_running "$IT_PID"; then kill -KILL "$IT_PID" 2>/dev/null || true; fi
        wait "$IT_PID" 2>/dev/null || status=$?
        IT_PID=""
        it_tgt_cleanup
        if [ -z "$reuse_port" ] && it_port_in_use "$IT_PORT"; then
            it_log "port $IT_PORT was taken by another process, retrying ($attempt/5)"
            continue
        fi
        it_unlock
        it_fail "$IT_TARGET exited during startup with status $status (port $IT_PORT)"
    done
    it_unlock
    [ -n "$IT_PID" ] || it_fail "could not start $IT_TARGET after 5 attempts"

    if [ "$IT_TARGET" = tgt ]; then
        it_configure_tgt "$image"
    fi
    IT_PORTAL="127.0.0.1:$IT_PORT"
    IT_URL="iscsi://$IT_PORTAL/$IT_IQN/1"
    it_log "portal $IT_PORTAL ready, LUN 1 url $IT_URL"
}

# tgt mode: remove the management socket files of *our* (exited) tgtd
it_tgt_cleanup() {
    if [ "$IT_TARGET" = tgt ] && [ -n "$IT_CTL" ]; then
        rm -f "/var/run/tgtd/socket.$IT_CTL" "/var/run/tgtd/socket.$IT_CTL.lock"
    fi
}

# Stop the daemon: SIGTERM (tgt: tgtadm system delete), wait up to
# IT_STOP_TIMEOUT s, check the exit status.  Returns nonzero on failure
# (and SIGKILLs the daemon if it hung).
it_stop_daemon() {
    [ -n "$IT_PID" ] || return 0
    local pid=$IT_PID status=0 deadline
    IT_PID=""
    if [ "$IT_TARGET" = tgt ]; then
        # tgtd ignores SIGTERM while targets exist; this is its clean shutdown
        it_tgtadm --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
        tgtadm -C "$IT_CTL" --op delete --mode system >/dev/null 2>&1 ||
            kill -TERM "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    deadline=$((SECONDS + IT_STOP_TIMEOUT))
    while it_pid_running "$pid" && [ $SECONDS -lt $deadline ]; do
        sleep 0.1
    done
    if it_pid_running "$pid"; then
        it_log "FAIL: $IT_TARGET (pid $pid) did not exit within ${IT_STOP_TIMEOUT}s of SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        it_tgt_cleanup
        return 1
    fi
    wait "$pid" 2>/dev/null || status=$?
    it_tgt_cleanup
    if [ "$status" != 0 ]; then
        it_log "FAIL: $IT_TARGET (pid $pid) exited with status $status after SIGTERM (expected 0)" >&2
        return 1
    fi
    it_log "$IT_TARGET (pid $pid) stopped cleanly"
    return 0
}

# Stop and start again with the same image, IQN argument and port.
it_restart_daemon() {
    local image=$IT_IMAGE iqn=${1:-}
    # hold the port lock so no parallel test grabs our port in between
    it_lock
    it_stop_daemon || it_fail "daemon did not stop cleanly before restart"
    it_start_daemon "$image" "$iqn"
}

it_dump_log() {
    [ -n "$IT_LOG" ] && [ -s "$IT_LOG" ] || { it_log "(daemon log is empty)"; return 0; }
    local lines
    lines=$(wc -l <"$IT_LOG")
    echo "----- daemon log ($IT_LOG, last 300 of $lines lines) -----"
    tail -n 300 "$IT_LOG"
    echo "----- end of daemon log -----"
}

# it_at_exit FUNC: it_on_exit calls FUNC (e.g. to stop a process the test
# started itself) before stopping the daemon, keeping the test's status.
# Use it instead of a trap of your own, which would lose that status.
it_at_exit() {
    IT_EXIT_HOOKS+=("$1")
}

it_on_exit() {
    local rc=$? hook
    set +e
    trap - INT TERM
    for hook in "${IT_EXIT_HOOKS[@]}"; do
        "$hook"
    done
    it_unlock
    if [ -n "$IT_PID" ]; then
        if ! it_stop_daemon && [ $rc = 0 ]; then
            rc=1
        fi
    fi
    if [ $rc = 0 ] && [ ${#IT_SKIPPED_PARTS[@]} -gt 0 ]; then
        it_log "SKIP: passed, but without ${#IT_SKIPPED_PARTS[@]} part(s):"
        printf '    - %s\n' "${IT_SKIPPED_PARTS[@]}"
        rc=77
    fi
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        it_log "test failed (status $rc)" >&2
        it_dump_log >&2
    elif [ $rc = 0 ]; then
        it_log "PASS"
    fi
    if [ -n "$IT_TMP" ] && [ -d "$IT_TMP" ]; then
        if [ "${RINGTGT_IT_KEEP:-0}" = 1 ]; then
            it_log "keeping $IT_TMP"
        else
            rm -rf "$IT_TMP"
        fi
    fi
    exit $rc
}

# it_run DESCRIPTION TIMEOUT CMD...  - run with a time bound, fail on error
it_run() {
    local desc=$1 tmo=$2 rc=0
    shift 2
    it_log "running: $*"
    timeout -k 5 "$tmo" "$@" || rc=$?
    if [ $rc = 124 ]; then
        it_fail "$desc: timed out after ${tmo}s"
    elif [ $rc != 0 ]; then
        it_fail "$desc: exited with status $rc"
    fi
}

# Fail with a clear message unless TEXT contains a line matching ERE.
it_expect_match() {
    local what=$1 text=$2 ere=$3
    if ! grep -Eq -- "$ere" <<<"$text"; then
        it_log "FAIL: $what: no line matches /$ere/ in output:" >&2
        printf '%s\n' "$text" | sed 's/^/    | /' >&2
        exit 1
    fi
}

# it_cu_outcomes OUTPUT: the tests of an `iscsi-test-cu -v` run, one line
# each: "Suite.Test<TAB>PASS|SKIP|FAIL<TAB>first message". CUnit verbose
# prints "Suite: S", then "  Test: T ..." with the test's messages and
# "passed" or "FAILED"; libiscsi marks a skip "[SKIPPED]". A test with
# neither ending counts as FAIL.
it_cu_outcomes() {
    awk '
        function flush() {
            if (test == "") return
            outcome = failed ? "FAIL" : skipped ? "SKIP" : passed ? "PASS" : "FAIL"
            printf "%s.%s\t%s\t%s\n", suite, test, outcome, msg
            test = ""
        }
        /^Suite: / { flush(); suite = $2; next }
        /^  Test: / {
            flush(); test = $2; failed = skipped = passed = 0; msg = ""
        }
        test != "" && /\[SKIPPED\]/ { skipped = 1; if (msg == "") msg = $0 }
        test != "" && /\[FAILED\]/ { if (msg == "") msg = $0 }
        test != "" && /FAILED$/ { failed = 1 }
        test != "" && /passed$/ { passed = 1 }
        /^Run Summary/ { flush() }
        END { flush() }' <<<"$1"
}
