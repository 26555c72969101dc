#!/usr/bin/env bash
# tgt's LU parameters end to end, over one libiscsi session (captool: one
# I_T nexus):
#   - a LUN added with scsi_id / scsi_sn (Cinder's values, cut to 36 as
#     tgt cuts them) answers VPD 0x80 and the T10 and NAA designators of
#     VPD 0x83 with the bytes tgt 1.0.85 gives;
#   - `ringtgtadm lun update` changes vendor and product on the live LUN:
#     the session gets INQUIRY DATA HAS CHANGED (6h/3Fh/03h) once on that
#     LUN (SPC-4 §5.14), none on the other, and INQUIRY shows the change;
#   - where tgtd is installed (root), the same parameters on a tgtd of our
#     own (free port, own control port, ended by its PID) give the same
#     bytes, compared live.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
captool=${RINGTGT_CAPTOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/captool}
[ -x "$captool" ] || it_fail "captool not found (set RINGTGT_CAPTOOL)"
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"

VOLUME=volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3c4d5e6f	# what Cinder writes
ID36=${VOLUME:0:36}					# what tgt keeps
# tgtd 1.0.85 with scsi_id=scsi_sn=$VOLUME (tests/unit/test_lu_params.c)
TGT_VPD80="00 80 00 24 $(printf '%s' "$ID36" | od -An -tx1 | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"
TGT_T10="02 01 00 24 $(printf '%s' "$ID36" | od -An -tx1 | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"
TGT_NAA6="01 03 00 10 6e 05 c1 d7 d6 e0 3b 2a 04 f0 e0 9c 8d 01 a2 b3"

CAP_PIDS=()
TGTD_PID=""
TGTD_CTL=""
cleanup() {
    local p
    for p in "${CAP_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$TGTD_PID" ]; then
        kill -KILL "$TGTD_PID" 2>/dev/null || true
        wait "$TGTD_PID" 2>/dev/null || true
        rm -f "/var/run/tgtd/socket.$TGTD_CTL" "/var/run/tgtd/socket.$TGTD_CTL.lock"
    fi
}
it_at_exit cleanup

it_make_image "$IT_TMP/disk0" 16M
it_start_daemon "$IT_TMP/disk0"

adm_ok() {
    local out rc=0
    out=$(timeout -k 5 60 "$adm" -s "$IT_TMP/control.sock" "$@" 2>&1) || rc=$?
    [ "$rc" = 0 ] || it_fail "ringtgtadm $* exited $rc: $out"
    it_log "ringtgtadm $*: ok"
}
adm_ok lun add "$IT_IQN" 2 --backing ram --size 8M \
    --param "scsi_id=$ID36" --param "scsi_sn=$ID36"

# cap_start NAME URL: a captool session as coprocess NAME, logged in
# cap_do NAME LINE: its one-line answer to LINE in REPLY
cap_start() {
    local name=$1 url=$2
    eval "coproc $name { exec \"$captool\" \"$url\" 2>&1; }"
    eval "CAP_PIDS+=(\${${name}_PID})"
    cap_read "$name" "log in"
    [ "$REPLY" = READY ] || it_fail "captool $url: $REPLY"
}
cap_read() {
    local fd
    eval "fd=\${$1[0]}"
    read -r -t 30 REPLY <&"$fd" || it_fail "captool $1: no answer to '$2' within 30 s"
}
cap_do() {
    local fd
    eval "fd=\${$1[1]}"
    printf '%s\n' "$2" >&"$fd"
    cap_read "$1" "$2"
}
cap_expect() {
    cap_do "$1" "$2"
    [ "$REPLY" = "$3" ] || it_fail "captool $1 '$2': '$REPLY', expected '$3'"
    it_log "captool $1 '$2': $REPLY"
}
# bytes FROM LEN: bytes FROM.. of the DATA line in REPLY, space separated
bytes() {
    local -a b
    read -r -a b <<<"${REPLY#DATA }"
    echo "${b[*]:$1:$2}"
}

cap_start R "$IT_URL"
cap_expect R "tur 1" GOOD
cap_expect R "tur 2" GOOD

# --- the identifiers tgt derives --------------------------------------------
cap_do R "vpd 2 128"
[ "$(bytes 0 40)" = "$TGT_VPD80" ] ||
    it_fail "VPD 0x80: '$REPLY', tgt has 'DATA $TGT_VPD80'"
R_VPD80=$(bytes 0 40)
cap_do R "vpd 2 131"
[ "$(bytes 4 40)" = "$TGT_T10" ] ||
    it_fail "VPD 0x83 T10 designator: '$(bytes 4 40)', tgt has '$TGT_T10'"
[ "$(bytes 44 20)" = "$TGT_NAA6" ] ||
    it_fail "VPD 0x83 NAA designator: '$(bytes 44 20)', tgt has '$TGT_NAA6'"
R_T10=$(bytes 4 40)
R_NAA6=$(bytes 44 20)
it_log "ok: VPD 0x80 and 0x83 carry tgt's identifiers"

# --- a live change -----------------------------------------------------------
adm_ok lun update "$IT_IQN" 2 --param vendor_id=IET --param product_id=MOVED
cap_expect R "tur 2" "CHECK 6/3f/03"
cap_expect R "tur 2" GOOD
cap_expect R "tur 1" GOOD	# LUN 1 did not change
cap_do R "std 2"
want="49 45 54 20 20 20 20 20 4d 4f 56 45 44 20 20 20 20 20 20 20 20 20 20 20"
[ "$(bytes 8 24)" = "$want" ] ||
    it_fail "INQUIRY vendor and product after the update: '$(bytes 8 24)', expected '$want' (IET, MOVED)"
it_log "ok: lun update reported once, INQUIRY shows it"

# --- the same against a live tgtd ---------------------------------------------
if ! command -v tgtd >/dev/null || ! command -v tgtadm >/dev/null; then
    it_unavailable_part "tgtd is not installed: not compared with a live tgtd"
elif [ "$(id -u)" != 0 ]; then
    it_unavailable_part "tgtd needs root: not compared with a live tgtd"
else
    it_lock
    TPORT=$(it_find_port)
    TGTD_CTL=$TPORT
    tgtd -f -C "$TGTD_CTL" --iscsi "portal=127.0.0.1:$TPORT" >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
    TGTD_PID=$!
    for _ in $(seq 1 100); do
        tgtadm -C "$TGTD_CTL" --lld iscsi --mode target --op show >/dev/null 2>&1 && break
        it_pid_running "$TGTD_PID" || break
        sleep 0.1
    done
    it_unlock
    tgtadm -C "$TGTD_CTL" --lld iscsi --mode target --op show >/dev/null 2>&1 ||
        it_fail "tgtd (pid $TGTD_PID) did not answer tgtadm on control port $TGTD_CTL within 10 s"
    it_make_image "$IT_TMP/tgt.img" 8M
    T="tgtadm -C $TGTD_CTL --lld iscsi"
    $T --op new --mode target --tid 1 -T "$IT_IQN" &&
    $T --op new --mode logicalunit --tid 1 --lun 1 -b "$IT_TMP/tgt.img" &&
    $T --op update --mode logicalunit --tid 1 --lun 1 \
        --params "scsi_id=$VOLUME,scsi_sn=$VOLUME" &&
    $T --op bind --mode target --tid 1 -I ALL ||
        it_fail "tgtadm could not configure tgtd"
    cap_start T "iscsi://127.0.0.1:$TPORT/$IT_IQN/1"
    cap_do T "vpd 1 128"
    [ "$(bytes 0 40)" = "$R_VPD80" ] ||
        it_fail "VPD 0x80: tgtd '$REPLY', ringtgtd 'DATA $R_VPD80'"
    cap_do T "vpd 1 131"
    # tgt: T10, NAA locally assigned (tid, LUN), NAA 6
    [ "$(bytes 4 40)" = "$R_T10" ] ||
        it_fail "VPD 0x83 T10: tgtd '$(bytes 4 40)', ringtgtd '$R_T10'"
    [ "$(bytes 56 20)" = "$R_NAA6" ] ||
        it_fail "VPD 0x83 NAA 6: tgtd '$(bytes 56 20)', ringtgtd '$R_NAA6'"
    it_log "ok: a live tgtd gives the same VPD 0x80 and T10 / NAA 6 designators"
fi
