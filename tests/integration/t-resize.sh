#!/usr/bin/env bash
# Online resize end to end (issue 11, item 3): one libiscsi session
# (captool: one I_T nexus, automatic reconnection off) stays logged in
# while `ringtgtadm lun resize` changes its LUNs, and sees on each LUN
# that changed, on its next command, CAPACITY DATA HAS CHANGED (6h/2Ah/
# 09h, SBC-4 §4.6) once, then READ CAPACITY (16) with the new size and
# the LBA range that goes with it:
#   - LUN 1, a file: grown with --size (the file follows);
#   - LUN 2, RAM: a shrink refused without --force (message with the bytes
#     it would cut; no UA), then forced; an unaligned size refused;
#   - LUN 3, a loop device (root): a --size other than the device's is
#     refused; after its file grew and `losetup -c`, `lun resize` without
#     --size takes the device's new size;
#   - the session is the same one throughout (TSIH and peer address in
#     session list, and its connection keeps answering).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require python3 truncate
captool=${RINGTGT_CAPTOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/captool}
[ -x "$captool" ] || it_fail "captool not found (set RINGTGT_CAPTOOL)"
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"

LOOP=""
CAPTOOL_PID=""
cleanup() {
    if [ -n "$CAPTOOL_PID" ]; then
        kill -TERM "$CAPTOOL_PID" 2>/dev/null || true
        wait "$CAPTOOL_PID" 2>/dev/null || true
    fi
    it_stop_daemon || true	# it holds the loop device (O_EXCL)
    if [ -n "$LOOP" ]; then
        losetup -d "$LOOP" || it_log "could not detach $LOOP"
    fi
}
it_at_exit cleanup

it_make_image "$IT_TMP/disk0" 16M
it_start_daemon "$IT_TMP/disk0"

# adm ARGS...: ringtgtadm on our daemon; output in ADM_OUT, status in ADM_RC
adm() {
    ADM_RC=0
    ADM_OUT=$(timeout -k 5 60 "$adm" -s "$IT_TMP/control.sock" "$@" 2>&1) || ADM_RC=$?
}
adm_ok() {
    adm "$@"
    [ "$ADM_RC" = 0 ] || it_fail "ringtgtadm $* exited $ADM_RC: $ADM_OUT"
    it_log "ringtgtadm $*: $ADM_OUT"
}
adm_refused() {
    local ere=$1
    shift
    adm "$@"
    [ "$ADM_RC" = 1 ] || it_fail "ringtgtadm $* exited $ADM_RC, expected 1: $ADM_OUT"
    it_expect_match "ringtgtadm $*" "$ADM_OUT" "$ere"
    it_log "ringtgtadm $* refused: $ADM_OUT"
}

adm_ok lun add "$IT_IQN" 2 --backing ram --size 4M
if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] && command -v losetup >/dev/null; then
    truncate -s 8M "$IT_TMP/loop.img"
    LOOP=$(losetup -f --show "$IT_TMP/loop.img") || it_fail "losetup $IT_TMP/loop.img failed"
    adm_ok lun add "$IT_IQN" 3 --path "$LOOP"
else
    it_unavailable_part "loop devices need root and /dev/loop-control: LUN 3 (block device) not tested"
fi

# --- the session -------------------------------------------------------------
coproc CAP { exec "$captool" "$IT_URL" 2>&1; }
CAPTOOL_PID=$CAP_PID
# cap_do LINE: sends LINE to captool, its one-line answer in REPLY
cap_do() {
    printf '%s\n' "$1" >&"${CAP[1]}"
    read -r -t 30 REPLY <&"${CAP[0]}" || it_fail "captool: no answer to '$1' within 30 s"
}
# cap_expect LINE WANT: the answer to LINE must be WANT
cap_expect() {
    cap_do "$1"
    [ "$REPLY" = "$2" ] || it_fail "captool '$1': '$REPLY', expected '$2'"
    it_log "captool '$1': $REPLY"
}
read -r -t 30 REPLY <&"${CAP[0]}" || it_fail "captool did not log in within 30 s"
[ "$REPLY" = READY ] || it_fail "captool: $REPLY"

luns="1 2"
[ -n "$LOOP" ] && luns="1 2 3"
for l in $luns; do
    cap_expect "tur $l" GOOD	# the nexus uses every LUN before
done
cap_expect "cap 1" "CAP 32768 512"
cap_expect "cap 2" "CAP 8192 512"
[ -z "$LOOP" ] || cap_expect "cap 3" "CAP 16384 512"

# session_id: "TSIH PEER" of the one session on our target
session_id() {
    adm session list --json
    [ "$ADM_RC" = 0 ] || it_fail "ringtgtadm session list exited $ADM_RC: $ADM_OUT"
    python3 -c 'import json, sys
s = [s for s in json.loads(sys.argv[1]) if s["target"] == sys.argv[2]]
print(len(s), *("%s %s" % (x["tsih"], x["peer"]) for x in s))' "$ADM_OUT" "$IT_IQN"
}
sess_before=$(session_id)
case "$sess_before" in "1 "*) ;; *) it_fail "expected one session, session list: $sess_before" ;; esac

# --- LUN 1, a file: grown ------------------------------------------------------
adm_ok lun resize "$IT_IQN" 1 --size 64M
it_expect_match "resize output" "$ADM_OUT" '^LUN 1: 16777216 -> 67108864 bytes$'
[ "$(stat -c %s "$IT_TMP/disk0")" = 67108864 ] ||
    it_fail "the file of LUN 1 is $(stat -c %s "$IT_TMP/disk0") bytes, not 64 MiB"
cap_expect "tur 2" GOOD		# LUN 2 did not change
cap_expect "tur 1" "CHECK 6/2a/09"
cap_expect "tur 1" GOOD		# reported once
cap_expect "cap 1" "CAP 131072 512"
cap_expect "write 1 131071" GOOD
cap_expect "read 1 131071" GOOD
cap_expect "read 1 131072" "CHECK 5/21/00"

# --- LUN 2, RAM: shrink needs --force; unaligned sizes refused -----------------
adm_refused 'cuts off the last 3145728 bytes; use --force' lun resize "$IT_IQN" 2 --size 1M
adm_refused 'not a positive multiple of the block size 512' lun resize "$IT_IQN" 2 --size 1000
cap_expect "tur 2" GOOD		# nothing changed: no UA
cap_expect "cap 2" "CAP 8192 512"
adm_ok lun resize "$IT_IQN" 2 --size 1M --force
cap_expect "tur 2" "CHECK 6/2a/09"
cap_expect "cap 2" "CAP 2048 512"
cap_expect "read 2 2047" GOOD
cap_expect "read 2 2048" "CHECK 5/21/00"
cap_expect "write 2 4000" "CHECK 5/21/00"

# --- LUN 3, a loop device: picked up after losetup -c --------------------------
if [ -n "$LOOP" ]; then
    adm_refused "holds 8388608 bytes, not 16777216; resize the device with its own tools" \
        lun resize "$IT_IQN" 3 --size 16M
    cap_expect "tur 3" GOOD
    truncate -s 32M "$IT_TMP/loop.img"
    losetup -c "$LOOP" || it_fail "losetup -c $LOOP failed"
    adm_ok lun resize "$IT_IQN" 3
    it_expect_match "resize output" "$ADM_OUT" '^LUN 3: 8388608 -> 33554432 bytes$'
    cap_expect "tur 3" "CHECK 6/2a/09"
    cap_expect "cap 3" "CAP 65536 512"
    cap_expect "write 3 65535" GOOD
    cap_expect "read 3 65535" GOOD
fi

# --- the same session all along ------------------------------------------------
cap_expect "tur 1" GOOD
sess_after=$(session_id)
[ "$sess_after" = "$sess_before" ] ||
    it_fail "the session changed: before '$sess_before', after '$sess_after'"
printf 'quit\n' >&"${CAP[1]}"
wait "$CAPTOOL_PID" || it_fail "captool exited with status $?"
CAPTOOL_PID=""
it_log "one session (tsih and peer: ${sess_after#1 }) across every resize"

it_stop_daemon || it_fail "ringtgtd did not stop cleanly"
