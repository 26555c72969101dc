#!/usr/bin/env bash
# lib.sh's own guarantees, which every other integration test relies on:
#
#  - it_require: a missing command fails the test (status 1, the command
#    and its package named), and is a skip (77) only with
#    RINGTGT_IT_ALLOW_SKIP=1;
#  - it_unavailable_part: without the opt-in it fails; with it, the test
#    goes on and ends with 77 even though everything else passed;
#  - it_at_exit: the hook runs and a failing test still exits 1;
#  - it_port_owned_by: true for the process that listens, false for an
#    unrelated one, and a failure (not "true") when ss is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require python3

# run_lib NAME SCRIPT...: runs SCRIPT in a fresh bash that has sourced
# lib.sh and called it_init (its EXIT trap included); sets RL_RC, RL_OUT
run_lib() {
    local name=$1
    shift
    RL_RC=0
    RL_OUT=$(timeout -k 2 30 bash -c '
        set -euo pipefail
        . "$1/lib.sh"
        it_init --ringtgtd "$2"
        eval "$3"' "$name" "$IT_DIR" "$IT_RINGTGTD" "$*" 2>&1) || RL_RC=$?
}

# expect_rc WHAT WANT: RL_RC must be WANT
expect_rc() {
    if [ "$RL_RC" != "$2" ]; then
        it_log "FAIL: $1: exit status $RL_RC, expected $2; output:" >&2
        printf '%s\n' "$RL_OUT" | sed 's/^/    | /' >&2
        exit 1
    fi
}

# --- it_require -------------------------------------------------------------
missing=ringtgt-no-such-tool-$$
(unset RINGTGT_IT_ALLOW_SKIP; run_lib require "it_require cat $missing; exit 0"
 expect_rc "it_require with a missing command" 1
 it_expect_match "it_require names the command" "$RL_OUT" "FAIL: .*$missing"
 it_expect_match "it_require names the opt-in" "$RL_OUT" 'RINGTGT_IT_ALLOW_SKIP=1')
RINGTGT_IT_ALLOW_SKIP=1 run_lib require "it_require cat $missing; exit 0"
expect_rc "it_require with a missing command and RINGTGT_IT_ALLOW_SKIP=1" 77
it_expect_match "skip names the command" "$RL_OUT" "SKIP: .*$missing"
(unset RINGTGT_IT_ALLOW_SKIP; run_lib require "it_require cat; exit 0"
 expect_rc "it_require with present commands" 0)
it_log "it_require: missing -> status 1, opt-in -> 77, present -> 0"

# --- it_unavailable_part ----------------------------------------------------
(unset RINGTGT_IT_ALLOW_SKIP; run_lib part 'it_unavailable_part "no frobnicator"; echo went-on; exit 0'
 expect_rc "it_unavailable_part" 1
 it_expect_match "it_unavailable_part says why" "$RL_OUT" 'FAIL: no frobnicator'
 ! grep -q went-on <<<"$RL_OUT" || it_fail "it_unavailable_part without the opt-in did not stop the test")
RINGTGT_IT_ALLOW_SKIP=1 run_lib part 'it_unavailable_part "no frobnicator"; echo went-on; exit 0'
expect_rc "it_unavailable_part with RINGTGT_IT_ALLOW_SKIP=1, rest passed" 77
it_expect_match "the test went on" "$RL_OUT" '^went-on$'
it_expect_match "the skipped part is listed at the end" "$RL_OUT" '^    - no frobnicator$'
it_log "it_unavailable_part: status 1, opt-in -> goes on and ends 77"

# --- it_at_exit -------------------------------------------------------------
run_lib at_exit 'hook() { echo hook-ran; true; }; it_at_exit hook; it_fail "deliberate"'
expect_rc "it_fail after it_at_exit (a hook that returns 0)" 1
it_expect_match "the exit hook ran" "$RL_OUT" '^hook-ran$'
it_log "it_at_exit: hook runs, the test's status is kept"

# --- it_port_owned_by -------------------------------------------------------
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$IT_TMP/listener.port" &
lpid=$!
sleep 60 &
other=$!
cleanup() { kill "$lpid" "$other" 2>/dev/null || true; }
it_at_exit cleanup
for _ in $(seq 1 100); do [ -s "$IT_TMP/listener.port" ] && break; sleep 0.1; done
port=$(cat "$IT_TMP/listener.port")
[ -n "$port" ] || it_fail "the python3 listener did not report its port within 10 s"

it_port_in_use "$port" || it_fail "it_port_in_use: port $port of pid $lpid not seen as in use"
it_port_owned_by "$port" "$lpid" || it_fail "it_port_owned_by: port $port not seen as owned by its listener pid $lpid"
it_port_owned_by "$port" $$ || it_fail "it_port_owned_by: port $port not seen as owned by pid $$, the listener's parent"
! it_port_owned_by "$port" "$other" || it_fail "it_port_owned_by: port $port seen as owned by pid $other, which does not listen"

# without ss: a PATH that has what the helpers use except ss
mkdir "$IT_TMP/bin"
for c in bash cat cut date grep seq sed timeout flock; do
    ln -s "$(command -v "$c")" "$IT_TMP/bin/$c"
done
rc=0
out=$(PATH="$IT_TMP/bin"; it_port_owned_by "$port" "$lpid" 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "it_port_owned_by without ss: status $rc, expected a failure (1); output: $out"
it_expect_match "it_port_owned_by without ss names ss" "$out" 'FAIL: ss \(iproute2\)'
rc=0
RL_OUT=$(PATH="$IT_TMP/bin"; it_require ss 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "it_require ss without ss: status $rc, expected 1"
it_log "it_port_owned_by: owner and its parent yes, another pid no, no ss -> failure"
cleanup
