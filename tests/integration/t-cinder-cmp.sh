#!/usr/bin/env bash
# OpenStack Cinder's TgtAdm helper against a real tgtd and against ringtgtd,
# compared (issue 12, Tests, third bullet): t-cinder.sh runs Cinder's
# sequence (cinder_tgt.py: create two CHAP volumes, logins right / wrong /
# none, the shows with a live session, extend, remove with a session,
# remove over a stale file, the other volume still served) once with
# --impl tgt (Debian's tgtd, tgtadm, tgt-admin) and once with --impl
# ringtgt, each writing a transcript of what Cinder sees (--transcript:
# every command Cinder runs with its stdout, stderr and status, the show
# blocks, the logins' outcomes; see cinder_tgt.py). The transcripts must
# be identical, except the lines docs/tgt-compat.md says differ (masked
# below, each citing its paragraph). What ringtgt does better on purpose
# (the attached session survives extend_target) is checked by the ringtgt
# run itself, as in it-cinder-*.
#
#   t-cinder-cmp.sh --build BUILD_DIR
#
# Without tgt (or not root) the comparison cannot run: a failure when CI
# is set in the environment, else a skip (exit 77). Without python3-cinder
# (t-cinder.sh installs it when it can): the same.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[t-cinder-cmp %s] %s\n' "$(date +%T)" "$*"; }
build=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 --build BUILD_DIR" >&2; exit 2 ;;
    esac
done
[ -n "$build" ] || { echo "usage: $0 --build BUILD_DIR" >&2; exit 2; }

# unavailable REASON: fail under CI, else skip
unavailable() {
    if [ -n "${CI:-}" ]; then
        log "FAIL: CI is set and $*: the comparison with tgt cannot run"
        exit 1
    fi
    log "SKIP: $*"
    exit 77
}

if ! command -v tgtd >/dev/null || ! command -v tgtadm >/dev/null || ! command -v tgt-admin >/dev/null; then
    unavailable "tgt is not installed (Debian: apt-get install tgt)"
fi
[ "$(id -u)" = 0 ] || unavailable "not root: tgtd, loop devices and a mount namespace need it"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-it-cinder-cmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run IMPL ARGS...: one Cinder sequence, its transcript in $tmp/IMPL.txt
run() {
    local impl=$1 rc=0
    shift
    log "Cinder's sequence with --impl $impl"
    timeout -k 10 300 bash "$here/t-cinder.sh" --impl "$impl" --build "$build" \
        --transcript "$tmp/$impl.txt" "$@" >"$tmp/$impl.log" 2>&1 || rc=$?
    if [ $rc = 77 ]; then
        grep -E 'SKIP|python3-cinder' "$tmp/$impl.log" | sed 's/^/    /'
        unavailable "the Cinder sequence was skipped with --impl $impl (above)"
    fi
    if [ $rc != 0 ]; then
        sed 's/^/    /' "$tmp/$impl.log"
        log "FAIL: the Cinder sequence with --impl $impl failed (status $rc)"
        exit 1
    fi
    [ -s "$tmp/$impl.txt" ] || { log "FAIL: --impl $impl wrote no transcript"; exit 1; }
}
run tgt
run ringtgt --event-loop io_uring

# docs/tgt-compat.md "Where ringtgt differs from tgt-admin", the item on notes:
# ringtgt's tgt-admin prints its notes ("# Target with name X does not
# exist!", on remove_iscsi_target over a stale file) always, tgt-admin
# only with -v. Cinder does not read tgt-admin's stdout there.
for impl in tgt ringtgt; do
    sed -E '/^    # Target with name [^ ]+ does not exist!$/d' "$tmp/$impl.txt" >"$tmp/$impl.cmp"
done
if ! diff -u "$tmp/tgt.cmp" "$tmp/ringtgt.cmp"; then
    log "FAIL: what Cinder sees from ringtgt differs from what it sees from tgt (diff above: - tgt, + ringtgt)"
    exit 1
fi
grep -q '^\$ tgt-admin --update ' "$tmp/tgt.cmp" && grep -q '^login to .*wrong secret: refused' "$tmp/tgt.cmp" ||
    { log "FAIL: the transcripts lack Cinder's commands or the logins"; exit 1; }
log "what Cinder sees: identical from tgt and ringtgt ($(wc -l <"$tmp/tgt.cmp") lines, $(grep -c '^\$ ' "$tmp/tgt.cmp") commands)"
log "PASS"
