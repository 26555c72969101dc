#!/usr/bin/env bash
# libiscsi's persistent reservation families (iscsi-test-cu ALL.Prin* and
# ALL.Prout*, SPC-4 §5.13) and its MultipathIO family (two sessions to one
# LU: the same data, COMPARE AND WRITE, a reset on one path) against
# ringtgtd, with the URL twice (the Ownership / Access and MultipathIO
# tests use the second session). Fails on any FAILED
# test, on any [SKIPPED] test not listed in NOT_IMPLEMENTED below, and
# when a test of the families did not run at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-test-cu

# Tests that may SKIP because the feature is not implemented yet, each
# with the reason; the list shrinks as the work goes on (issue 10).
# Empty today: all 20 Prin*/Prout* tests of libiscsi 1.19 pass.
declare -A NOT_IMPLEMENTED=(
)

it_make_image "$IT_TMP/disk0" $((64 * 1024 * 1024))
it_start_daemon "$IT_TMP/disk0"
url="iscsi://$IT_PORTAL/$IT_IQN/1"

# The tests of one family, as "Suite.Test" (iscsi-test-cu -l)
expected=$(iscsi-test-cu -l 2>/dev/null |
    sed -n 's/^ *ALL\.\(\(Pr\(in\|out\)[A-Za-z]*\|MultipathIO\)\.[A-Za-z0-9]*\)$/\1/p' |
    sort -u)
[ -n "$expected" ] || it_fail "iscsi-test-cu -l lists no Prin*/Prout*/MultipathIO test"
grep -q '^MultipathIO\.' <<<"$expected" ||
    it_fail "iscsi-test-cu -l lists no MultipathIO test"

ran=""
fails=0
for family in 'ALL.Prin*' 'ALL.Prout*' 'ALL.MultipathIO*'; do
    # exit status 1 when a test failed: the per-test lines say which
    rc=0
    out=$(timeout -k 5 300 iscsi-test-cu -d -v --test="$family" "$url" "$url" 2>&1) || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 1 ] ||
        it_fail "iscsi-test-cu $family exited with status $rc: $out"
    grep -q '^Run Summary' <<<"$out" ||
        it_fail "iscsi-test-cu $family did not run its tests: $out"
    while IFS=$'\t' read -r name outcome msg; do
        ran+="$name"$'\n'
        case "$outcome" in
        PASS) it_log "PASS $name" ;;
        SKIP)
            if [ -n "${NOT_IMPLEMENTED[$name]+x}" ]; then
                it_log "SKIP $name (not implemented: ${NOT_IMPLEMENTED[$name]})"
            else
                it_log "FAIL: $name skipped and not listed as not implemented: $msg" >&2
                fails=$((fails + 1))
            fi ;;
        *)
            it_log "FAIL: $name: $msg" >&2
            fails=$((fails + 1)) ;;
        esac
    done < <(it_cu_outcomes "$out")
done

missing=$(comm -23 <(printf '%s\n' "$expected") <(printf '%s' "$ran" | sort -u))
[ -z "$missing" ] || it_fail "did not run: $(tr '\n' ' ' <<<"$missing")"
[ "$fails" = 0 ] || it_fail "$fails Prin*/Prout*/MultipathIO test(s) failed or skipped"
it_log "all $(wc -l <<<"$expected") Prin*/Prout*/MultipathIO tests passed"
