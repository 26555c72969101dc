#!/usr/bin/env bash
# SPC-2 RESERVE(6) / RELEASE(6) with two initiators (issue 10 item 3):
# libiscsi's iscsi-test-cu Reserve6 family against ringtgtd, with the LU's
# URL twice (the second session is the second I_T nexus). Each test of
# the family must pass; a FAIL, a [SKIPPED] (libiscsi counts a skip as a
# pass) or a test that returned early without its second login fails
# this script.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-test-cu stdbuf awk

it_make_image "$IT_TMP/disk0" $((64 * 1024 * 1024))
it_start_daemon "$IT_TMP/disk0"

family=ALL.Reserve6
want=$(iscsi-test-cu -l 2>/dev/null | grep -c "^$family\\.") || true
[ "${want:-0}" -gt 0 ] || it_fail "iscsi-test-cu lists no $family tests"

# -V: libiscsi logs its [SKIPPED] lines at the verbose level; stdout
# unbuffered so CUnit's "Test: X ..." / "passed" interleave in order with
# the log lines on stderr.
out=$(timeout -k 5 180 stdbuf -o0 iscsi-test-cu -V -t "$family" \
      "$IT_URL" "$IT_URL" 2>&1) || true
printf '%s\n' "$out" | grep -E '^ +Test: |tests ' || true

# A [SKIPPED] between a test's "Test: X ..." and its verdict skips that
# test. (The suite's clean-up after the last test probes PERSISTENT
# RESERVE IN, which may log one too: that belongs to no test.)
bad=$(awk '
    /Test: / { cur = $0; sub(/^ *Test: /, "", cur); sub(/ \.\.\..*/, "", cur)
               intest = 1 }
    /^ *(passed|FAILED)/ { intest = 0 }	# the verdict of the test
    intest && /\[SKIPPED\]|Failed to login/ { print cur ": " $0 }' <<<"$out")
[ -z "$bad" ] || { printf '%s\n' "$out" | sed 's/^/    | /' >&2
                   it_fail "$family: $(head -n 1 <<<"$bad")"; }
# CUnit's verdicts (libiscsi's own "[FAILED]" log lines also mark commands
# it retries after a unit attention, so they are none): the run summary,
# "tests  TOTAL  RAN  PASSED  FAILED  INACTIVE".
read -r total ran passed failed _ < <(sed -n 's/^ *tests *//p' <<<"$out") || true
[ "${total:-}" = "$want" ] && [ "${ran:-}" = "$want" ] &&
    [ "${passed:-}" = "$want" ] && [ "${failed:-}" = 0 ] || {
    printf '%s\n' "$out" | sed 's/^/    | /' >&2
    it_fail "$family: $want tests expected to pass; CUnit says total=${total:-?} ran=${ran:-?} passed=${passed:-?} failed=${failed:-?}"
}
it_log "$family: $passed of $want passed, none skipped"
