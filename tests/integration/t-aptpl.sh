#!/usr/bin/env bash
# APTPL (SPC-4 §5.13.5): persistent reservations registered with APTPL=1
# survive a restart of ringtgtd with the same --state-dir; with APTPL=0
# they are gone after it; a corrupt state file is refused with a message
# naming it, and the LU serves without the state; deleting the LUN
# removes its file; without --state-dir APTPL=1 is refused. PR commands go through prtool (libiscsi), one
# session per invocation; two initiator names, A and B.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
PRTOOL=${RINGTGT_PRTOOL:-}
[ -n "$PRTOOL" ] && [ -x "$PRTOOL" ] || it_fail "prtool not found (set RINGTGT_PRTOOL)"
ADM=${RINGTGT_ADM:-}
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"

state="$IT_TMP/state"       # not there yet: the daemon creates it
IT_DAEMON_ARGS=(--state-dir "$state")
iqn="$IT_IQN_PREFIX:aptpl-test"
it_make_image "$IT_TMP/disk0" 64M
it_start_daemon "$IT_TMP/disk0" "$iqn"
url() { echo "iscsi://$IT_PORTAL/$iqn/1"; }

# pr WHO OP...: prtool as initiator WHO (a or b), bounded; prints its output
pr() {
    local who=$1
    shift
    timeout -k 5 30 "$PRTOOL" --initiator "$IT_IQN_PREFIX:init-$who" "$(url)" "$@" ||
        it_fail "prtool ($who) $* failed"
}
mode_of() { stat -c %a "$1"; }
state_files() { find "$state" -maxdepth 1 -name 'pr-*.json' | sort; }

[ -d "$state" ] || it_fail "--state-dir $state was not created"
[ "$(mode_of "$state")" = 700 ] || it_fail "state dir mode $(mode_of "$state"), expected 700"
[ "$(pr a caps)" = "caps 1 0" ] || it_fail "REPORT CAPABILITIES: $(pr a caps), expected PTPL_C=1 PTPL_A=0"
[ -z "$(state_files)" ] || it_fail "a state file before any APTPL=1: $(state_files)"

# A registers with APTPL=1 and reserves Write Exclusive; B registers too
pr a reg:a1:aptpl resv:a1:1 >/dev/null
pr b reg:b1:aptpl >/dev/null
[ "$(pr a caps)" = "caps 1 1" ] || it_fail "PTPL_A is not 1 after APTPL=1: $(pr a caps)"
file=$(state_files)
[ -n "$file" ] && [ "$(wc -l <<<"$file")" = 1 ] || it_fail "expected one state file, got: $file"
[ "$(mode_of "$file")" = 600 ] || it_fail "state file mode $(mode_of "$file"), expected 600"
before=$(pr b keys rsv)
it_log "before restart: $(tr '\n' ';' <<<"$before")"
[ "$before" = $'keys 2 0xa1 0xb1\nreservation 2 1 0xa1' ] ||
    it_fail "unexpected PR state before the restart: $before"

it_restart_daemon "$iqn"
after=$(pr b keys rsv)
it_log "after restart: $(tr '\n' ';' <<<"$after")"
[ "$after" = "$before" ] || it_fail "PR state changed across the restart: '$before' -> '$after'"
[ "$(pr b caps)" = "caps 1 1" ] || it_fail "PTPL_A not restored: $(pr b caps)"
grep -q "restored 2 registrations and the reservation" "$IT_LOG" ||
    it_fail "no 'restored' message in the daemon log"

# the holder is still A's I_T nexus: B's RELEASE does nothing, A's does
pr b rel:b1:1 >/dev/null
[ "$(pr b rsv)" = "reservation 2 1 0xa1" ] || it_fail "B released A's reservation: $(pr b rsv)"
pr a rel:a1:1 resv:a1:1 >/dev/null

# B registers again with APTPL=0: the state no longer persists
pr b reg:b2 >/dev/null
[ -z "$(state_files)" ] || it_fail "state file still there after APTPL=0: $(state_files)"
[ "$(pr a keys rsv)" = $'keys 3 0xa1 0xb2\nreservation 3 1 0xa1' ] ||
    it_fail "unexpected state before the second restart: $(pr a keys rsv)"
it_restart_daemon "$iqn"
gone=$(pr a keys rsv)
[ "$gone" = $'keys 0\nreservation 0 none' ] ||
    it_fail "APTPL=0, yet after the restart: $gone"

# a corrupt file: the daemon starts, says which file and why, LU serves
pr a reg:a5:aptpl >/dev/null
file=$(state_files)
[ -n "$file" ] || it_fail "no state file after APTPL=1"
printf '{"format": "ringtgt-pr-state", "version": 1, "naa": "60' >"$file"
it_restart_daemon "$iqn"
grep -q "$file: persistent reservation state refused: truncated JSON" "$IT_LOG" ||
    it_fail "no message naming $file and the cause in the daemon log"
[ "$(pr a keys rsv)" = $'keys 0\nreservation 0 none' ] ||
    it_fail "state taken from a corrupt file: $(pr a keys rsv)"
timeout -k 5 60 "$IT_RWTEST" --vpd 0x80 "$(url)" >/dev/null ||
    it_fail "the LU does not serve after a corrupt state file"

# the LUN deleted for good: its file goes (a shutdown keeps it: above)
pr a reg:a6:aptpl >/dev/null
[ -n "$(state_files)" ] || it_fail "no state file after APTPL=1"
timeout -k 5 30 "$ADM" -s "$IT_TMP/control.sock" lun remove "$iqn" 1 --force >/dev/null ||
    it_fail "ringtgtadm lun remove failed"
[ -z "$(state_files)" ] || it_fail "state file left after lun remove: $(state_files)"
# --export without --state-dir: no persistence, APTPL=1 refused
IT_DAEMON_ARGS=()
it_restart_daemon "$iqn"
[ "$(pr a caps)" = "caps 0 0" ] || it_fail "PTPL_C without a state directory: $(pr a caps)"
if timeout -k 5 30 "$PRTOOL" --initiator "$IT_IQN_PREFIX:init-a" "$(url)" reg:a7:aptpl 2>"$IT_TMP/prtool.err"; then
    it_fail "APTPL=1 accepted without a state directory"
fi
grep -q "sense 5/26/00" "$IT_TMP/prtool.err" ||
    it_fail "APTPL=1 without a state directory: $(cat "$IT_TMP/prtool.err"), expected INVALID FIELD IN PARAMETER LIST"
it_log "APTPL state persisted, removed with APTPL=0, corrupt file refused, deleted with the LUN, refused without --state-dir"
