#!/usr/bin/env bash
# tgtadm (build/tools/tgtadm: ringtgtadm invoked as tgtadm) driving a
# ringtgtd that started with no targets, and the same script driving a
# real tgtd (Debian's tgt, on a test port and its own control port): the
# two transcripts - each command's output, its stderr and its status -
# must be identical, except where docs/tgt-compat.md says ringtgt differs
# (those steps run against ringtgtd only, checked on their own).
#
# The script: targets with file LUs, LU parameters, CHAP accounts
# (incoming and outgoing), address and initiator-name ACLs, shows, a
# libiscsi login (captool: one session kept open) seen in the show, tgt's
# refusals (existing tid, LUN, rule, account; unknown target, LUN,
# account; a target with a session deleted without --force), sys State
# offline refusing a new login while the open session goes on, ready
# again, a target's own state offline (login refused with the same status
# as tgtd's; the open session's command BUSY, ringtgtd only) and ready
# again, sys debug on and off, a session's connection closed with --op
# delete --mode conn (and tgt's refusals for it), LU and target deletion, `--op delete --mode system` refused
# while targets are left and then stopping the daemon.
#
# Without tgtd (or not root) the comparison cannot run: that fails the
# test when CI is set in the environment; else it is skipped, saying why,
# and the ringtgtd run and its own checks still count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tgt-lib.sh"

it_init "$@"
it_require iscsi-inq truncate diff
captool=${RINGTGT_CAPTOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/captool}
[ -x "$captool" ] || it_fail "captool not found (set RINGTGT_CAPTOOL)"
wcetool=${RINGTGT_WCETOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/wcetool}
[ -x "$wcetool" ] || it_fail "wcetool not found (set RINGTGT_WCETOOL)"
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
TGTADM=$(dirname "$adm")/tgtadm
[ -x "$TGTADM" ] || it_fail "$TGTADM not built (the tgtadm link beside ringtgtadm)"

IQN1=iqn.2026-11.org.example:t1
IQN2=iqn.2026-11.org.example:t2
it_at_exit tgt_cleanup

# t ARGS...: one tgtadm call of the run, recorded in the transcript as
# "$ tgtadm ARGS", stdout, "stderr: ..." lines and "status N". Paths under
# the run's directory read as TMP, the portal's port as PORT; tgt's
# trailing spaces are dropped (the one layout difference docs/tgt-compat.md
# names).
t() {
    local rc=0 out err
    out=$(timeout -k 5 60 "${TOOL[@]}" --lld iscsi "$@" 2>"$DIR/err") || rc=$?
    err=$(cat "$DIR/err")
    {
        printf '$ tgtadm %s\n' "$*"
        [ -z "$out" ] || printf '%s\n' "$out"
        [ -z "$err" ] || printf '%s\n' "$err" | sed 's/^/stderr: /'
        printf 'status %s\n' "$rc"
    } | sed -e "s|$DIR|TMP|g" -e "s/127\.0\.0\.1:$PORT,/127.0.0.1:PORT,/" \
        -e 's/ *$//' >>"$DIR/transcript"
    T_OUT=$out T_ERR=$err T_RC=$rc
}

# session_answers WANT WHAT: the kept-open session (captool, fd 7) answers
# TEST UNIT READY on LUN 1 with WANT (captool's line: GOOD, STATUS 0x08)
# within 5 s; else the test fails with WHAT, the last answer and WANT
session_answers() {
    echo "tur 1" >&7
    for _ in $(seq 1 50); do
        [ "$(tail -n 1 "$DIR/cap.out")" = "$1" ] && break
        sleep 0.1
    done
    [ "$(tail -n 1 "$DIR/cap.out")" = "$1" ] ||
        it_fail "$2: $(tail -n 1 "$DIR/cap.out") (want $1)"
}

# login_ok / login_refused: a new libiscsi login to IQN2 LUN 1
login() {
    timeout -k 5 20 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN2/1" >"$DIR/inq" 2>&1
}

# cap_line CMD: the kept-open captool's one-line answer to CMD in CAP_LINE
cap_line() {
    local n
    n=$(wc -l <"$DIR/cap.out")
    echo "$1" >&7
    for _ in $(seq 1 100); do
        [ "$(wc -l <"$DIR/cap.out")" -gt "$n" ] && break
        sleep 0.1
    done
    CAP_LINE=$(tail -n 1 "$DIR/cap.out")
    [ "${CAP_LINE#DATA }" != "$CAP_LINE" ] || it_fail "captool '$1': $CAP_LINE"
}

# run NAME: the script, against the daemon TOOL talks to (PORT, PID)
run() {
    DIR="$IT_TMP/$1"
    mkdir -p "$DIR"
    : >"$DIR/transcript"
    truncate -s 64M "$DIR/lun1.img"
    truncate -s 10M "$DIR/lun2.img"
    truncate -s 20M "$DIR/lun3.img"

    t --op show --mode target
    t --op new --mode target --tid 1 --targetname "$IQN1"
    t --op new --mode target --tid 2 -T "$IQN2"
    t --op new --mode logicalunit --tid 1 --lun 1 --backing-store "$DIR/lun1.img"
    t --op new --mode logicalunit --tid 1 --lun 2 -b "$DIR/lun2.img" --bsoflags direct
    t --op new --mode logicalunit --tid 2 --lun 1 -b "$DIR/lun3.img"
    # tgt's null store: 1 TiB that keeps nothing
    t --op new --mode logicalunit --tid 2 --lun 2 -b /dev/null --bstype null
    t --op update --mode logicalunit --tid 2 --lun 2 --params scsi_id=null-1,scsi_sn=sn22
    # ringtgt's own identifiers differ from tgt's tid-derived ones: both
    # daemons are given the same (LUN 0 too). ringtgt provisions a
    # writable file thinly, tgt only when told: told here
    t --op update --mode logicalunit --tid 1 --lun 0 --params scsi_id=ctl1,scsi_sn=sn10
    t --op update --mode logicalunit --tid 1 --lun 1 --params scsi_id=vol-1,scsi_sn=sn11,vendor_id=ACME,readonly=1
    t --op update --mode logicalunit --tid 1 --lun 2 --params scsi_id=vol-2,scsi_sn=sn12,removable=1,thin_provisioning=1
    t --op update --mode logicalunit --tid 2 --lun 0 --params scsi_id=ctl2,scsi_sn=sn20
    t --op update --mode logicalunit --tid 2 --lun 1 --params scsi_id=vol-3,scsi_sn=sn21,thin_provisioning=1
    # tgt's geometry and a mode page (checked over the session below)
    t --op update --mode logicalunit --tid 2 --lun 1 --params lbppbe=3,la_lba=1,optimal_xfer_gran=8,optimal_xfer_len=2048
    t --op update --mode logicalunit --tid 2 --lun 1 --params mode_page=1:0:10:0:5:0:0:0:0:5:0:0:0x64
    # --op stat before any session: tgt's table headers, and its refusals
    t --op stat --mode sys
    t --op stat --mode target --tid 1
    t --op stat --mode target --tid 9
    t --op stat --mode logicalunit --tid 1 --lun 1
    t --op stat --mode logicalunit --tid 1 --lun 9
    t --op stat --mode session --tid 1 --sid 99
    t --op stat --mode conn --tid 1 --sid 99 --cid 0
    t --op new --mode account --user alice --password alice-secret-1
    t --op new --mode account --user tgt-out --password target-secret-2
    t --op bind --mode account --tid 1 --user alice
    t --op bind --mode account --tid 1 --user tgt-out --outgoing
    t --op bind --mode target --tid 1 --initiator-address 192.168.7.0/24
    t --op bind --mode target --tid 1 --initiator-name iqn.1993-08.org.debian:01:abc
    t --op bind --mode target --tid 1 -I 127.0.0.1
    t --op bind --mode target --tid 2 -I ALL
    t --op show --mode account
    t --op show --mode portal
    # refusals
    t --op new --mode target --tid 1 -T iqn.2026-11.org.example:other
    t --op new --mode target --tid 3 -T "$IQN1"
    t --op delete --mode target --tid 9
    t --op new --mode logicalunit --tid 9 --lun 3 -b "$DIR/lun1.img"
    t --op new --mode logicalunit --tid 1 --lun 1 -b "$DIR/lun2.img"
    t --op new --mode logicalunit --tid 1 --lun 4 -b "$DIR/missing.img"
    t --op delete --mode logicalunit --tid 1 --lun 7
    t --op delete --mode logicalunit --tid 1 --lun 0
    t --op update --mode logicalunit --tid 1 --lun 9 --params vendor_id=X
    t --op update --mode logicalunit --tid 1 --lun 1 --params nosuch=1
    t --op new --mode account --user alice --password again-and-again
    t --op delete --mode account --user nobody
    t --op bind --mode account --tid 1 --user nobody
    t --op bind --mode account --tid 1 --user alice
    t --op bind --mode account --tid 9 --user alice
    t --op unbind --mode account --tid 2 --user alice
    t --op bind --mode target --tid 1 -I 127.0.0.1
    t --op unbind --mode target --tid 1 -I 10.9.9.9
    t --op bind --mode target --tid 9 -I ALL
    t --op update --mode sys --name State -v bogus

    # a target's own iSCSI parameters (tgt's per-target session
    # parameters): the keys whose defaults differ between the daemons set
    # alike, then tgt's list of them compared line for line
    t --op update --mode target --tid 1 --name MaxRecvDataSegmentLength --value 65536
    t --op update --mode target --tid 1 --name maxburstlength --value 131072
    t --op update --mode target --tid 1 --name FirstBurstLength --value 0x8000
    t --op update --mode target --tid 1 --name MaxOutstandingR2T --value 4
    t --op update --mode target --tid 1 --name InitialR2T --value Yes
    t --op update --mode target --tid 1 --name ImmediateData --value No
    t --op update --mode target --tid 1 --name HeaderDigest --value CRC32C
    t --op update --mode target --tid 1 --name DataDigest --value None
    t --op update --mode target --tid 1 --name DefaultTime2Wait --value 5
    t --op update --mode target --tid 1 --name DefaultTime2Retain --value 0
    t --op update --mode target --tid 1 --name RDMAExtensions --value No
    t --op update --mode target --tid 1 --name MaxXmitDataSegmentLength --value 16384
    t --op update --mode target --tid 1 --name ErrorRecoveryLevel --value 0
    t --op update --mode target --tid 1 --name MaxConnections --value 1
    t --op update --mode target --tid 1 --name DataPDUInOrder --value Yes
    t --op show --mode target --tid 1
    t --op update --mode target --tid 1 --name NoSuchKey --value 1
    t --op update --mode target --tid 1 --name MaxBurstLength --value 100
    t --op update --mode target --tid 1 --name MaxBurstLength --value abc
    t --op update --mode target --tid 1 --name InitialR2T --value maybe
    t --op update --mode target --tid 1 --name HeaderDigest --value bogus
    t --op update --mode target --tid 1 --name DefaultTime2Wait --value 4000
    t --op update --mode target --tid 9 --name MaxBurstLength --value 65536
    t --op update --mode target --tid 1 --name MaxBurstLength
    t --op show --mode target --tid 9
    if [ "$1" = ringtgt ]; then
        # values tgtd would store and ringtgtd cannot honour: refused,
        # naming the key and the value (docs/tgt-compat.md); not in the
        # transcript
        lines=$(wc -l <"$DIR/transcript")
        t --op update --mode target --tid 1 --name ErrorRecoveryLevel --value 2
        [ "$T_RC" = 22 ] && [ "${T_ERR#*ErrorRecoveryLevel=2: }" != "$T_ERR" ] ||
            it_fail "$1: ErrorRecoveryLevel=2 not refused with its reason: $T_RC $T_ERR"
        t --op update --mode target --tid 1 --name MaxConnections --value 4
        [ "$T_RC" = 22 ] && [ "${T_ERR#*MaxConnections=4: }" != "$T_ERR" ] ||
            it_fail "$1: MaxConnections=4 not refused with its reason: $T_RC $T_ERR"
        head -n "$lines" "$DIR/transcript" >"$DIR/transcript.new"
        mv "$DIR/transcript.new" "$DIR/transcript"
    fi
    # sys debug: tgt's is_debug, ringtgtd's log level (debug, then the
    # level it started with, or info); show says so on both daemons
    t --op update --mode sys --name debug --value on
    "${TOOL[@]}" --lld iscsi --op show --mode sys | grep -qx '    debug: on' ||
        it_fail "$1: --op show --mode sys does not say debug: on"
    t --op update --mode sys --name debug --value bogus
    t --op update --mode sys --name debug -v off
    "${TOOL[@]}" --lld iscsi --op show --mode sys | grep -qx '    debug: off' ||
        it_fail "$1: --op show --mode sys does not say debug: off"
    t --lld nosuch --op show --mode target
    t --op show --mode session --tid 2 --sid 1

    # portals at run time: a second portal, a session through it, the
    # portal deleted (new connections refused, the session goes on, as
    # tgt keeps it), a duplicate, a missing one, an address this host
    # does not have (RFC 5737); its port reads as PORT2 in the transcript
    it_lock
    PORT2=$(it_find_port)
    it_unlock
    t --op new --mode portal --param "portal=127.0.0.1:$PORT2"
    t --op show --mode portal
    t --op new --mode portal --param "portal=127.0.0.1:$PORT2"
    t --op new --mode portal --param "portal=192.0.2.1:$PORT2"
    cap_start "$DIR/cap2" "iscsi://127.0.0.1:$PORT2/$IQN2/1" 8 "tur 1" ||
        it_fail "$1: no session through 127.0.0.1:$PORT2: $(cat "$DIR/cap2.out")"
    CAP2_PID=$CAP_STARTED
    t --op delete --mode portal --param "portal=127.0.0.1:$PORT2"
    t --op show --mode portal
    t --op delete --mode portal --param "portal=127.0.0.1:$PORT2"
    if timeout -k 5 20 iscsi-inq "iscsi://127.0.0.1:$PORT2/$IQN2/1" >"$DIR/inq" 2>&1; then
        it_fail "$1: a login through the deleted portal succeeded"
    fi
    it_port_accepts "$PORT2" && it_fail "$1: the deleted portal 127.0.0.1:$PORT2 still accepts"
    echo "tur 1" >&8
    for _ in $(seq 1 50); do [ "$(grep -c '^GOOD' "$DIR/cap2.out")" -ge 2 ] && break; sleep 0.1; done
    [ "$(tail -n 1 "$DIR/cap2.out")" = GOOD ] ||
        it_fail "$1: the session through the deleted portal: $(tail -n 1 "$DIR/cap2.out") (want GOOD)"
    echo "portal deleted: new connection refused, its session GOOD" >>"$DIR/transcript"
    { exec 8>&-; } 2>/dev/null || true
    for _ in $(seq 1 50); do it_pid_running "$CAP2_PID" || break; sleep 0.1; done
    kill -TERM "$CAP2_PID" 2>/dev/null || true
    wait "$CAP2_PID" 2>/dev/null || true
    sed -i "s/127\.0\.0\.1:$PORT2\b/127.0.0.1:PORT2/g; s/192\.0\.2\.1:$PORT2\b/192.0.2.1:PORT2/g" "$DIR/transcript"

    # a session on target 2, kept open (one I_T nexus)
    cap_start "$DIR/cap" "iscsi://127.0.0.1:$PORT/$IQN2/1" 7 "tur 1" ||
        it_fail "$1: captool did not log in: $(cat "$DIR/cap.out")"
    # what lbppbe, la_lba, optimal_xfer_* and mode_page gave: READ
    # CAPACITY(16) LBPPBE and LOWEST ALIGNED LBA (SBC-4 §5.20.2), VPD
    # 0xB0 OPTIMAL TRANSFER LENGTH GRANULARITY / LENGTH (§6.6.4), the
    # Read-Write Error Recovery page after MODE SENSE(6)'s header
    local -a b
    cap_line "rc16 1"
    read -r -a b <<<"${CAP_LINE#DATA }"
    echo "rc16: lbppbe $(( 0x${b[13]} & 0xf )) la_lba $(( (0x${b[14]} & 0x3f) << 8 | 0x${b[15]} ))" >>"$DIR/transcript"
    cap_line "vpd 1 176"
    read -r -a b <<<"${CAP_LINE#DATA }"
    echo "vpd b0: gran ${b[*]:6:2} len ${b[*]:12:4}" >>"$DIR/transcript"
    cap_line "msense 1 1"
    read -r -a b <<<"${CAP_LINE#DATA }"
    echo "mode page 01h: ${b[*]:4:12}" >>"$DIR/transcript"
    t --op show --mode target
    t --op show --mode conn --tid 2
    t --op delete --mode target --tid 2

    # offline: a new login is refused, the open session goes on
    t --op update --mode sys --name State --value offline
    if login; then
        it_fail "$1: a login succeeded while the system state is offline"
    fi
    echo "tur 1" >&7
    sleep 0.5
    [ "$(tail -n 1 "$DIR/cap.out")" = GOOD ] ||
        it_fail "$1: the logged-in session failed while offline: $(tail -n 1 "$DIR/cap.out")"
    echo "offline: new login refused, open session GOOD" >>"$DIR/transcript"
    t --op update --mode sys --name State -v ready
    login || it_fail "$1: no login once ready again: $(cat "$DIR/inq")"
    echo "ready: login ok" >>"$DIR/transcript"

    # target 2's own state: offline refuses logins to it with 0x0300
    # (target error), as tgtd does; the open session's commands end with
    # BUSY on ringtgtd, while tgtd leaves them unanswered (docs/tgt-compat.md:
    # that step runs against ringtgtd only)
    t --op update --mode target --tid 2 --name state --value offline
    t --op show --mode target
    if login; then
        it_fail "$1: a login succeeded while target 2 is offline"
    fi
    printf 'login: %s\n' "$(grep -o 'Status: .*' "$DIR/inq")" >>"$DIR/transcript"
    if [ "$1" = ringtgt ]; then
        # BUSY: captool's STATUS 0x08 (SAM-5 status code)
        session_answers "STATUS 0x08" "$1: the open session's command while its target is offline"
    fi
    t --op update --mode target --tid 2 --name state --value bogus
    t --op update --mode target --tid 9 --name state --value offline
    t --op update --mode target --tid 2 --name state --value ready
    login || it_fail "$1: no login once target 2 is ready again: $(cat "$DIR/inq")"
    echo "target ready: login ok" >>"$DIR/transcript"
    session_answers GOOD "$1: the open session once its target is ready"

    # target 2's own MaxBurstLength, set while a session is open: the next
    # login negotiates it (the min of the two offers, RFC 7143 §13.13;
    # libiscsi offers 262144 and prints the target's answer)
    login_keys() {
        LIBISCSI_DEBUG=10 timeout -k 5 20 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN2/1" >"$DIR/inq" 2>&1 ||
            it_fail "$1: no login to target 2: $(tail -n 3 "$DIR/inq")"
        printf 'login: %s\n' "$(grep -o 'TargetLoginReply: MaxBurstLength=[0-9]*' "$DIR/inq")" >>"$DIR/transcript"
    }
    login_keys "$1"
    t --op update --mode target --tid 2 --name MaxBurstLength --value 65536
    login_keys "$1"
    session_answers GOOD "$1: the open session after target 2's MaxBurstLength changed"
    stop_captool

    # --op delete --mode conn (tgt's conn_close_admin): refusals, then the
    # connection of a session kept open is closed and its session goes
    t --op delete --mode conn --tid 9 --sid 1 --cid 0
    "$captool" "iscsi://127.0.0.1:$PORT/$IQN2/1" <"$DIR/cap.in" >"$DIR/cap.out" 2>&1 &
    CAP_PID=$!
    exec 7>"$DIR/cap.in"
    echo "tur 1" >&7
    for _ in $(seq 1 100); do grep -q '^GOOD' "$DIR/cap.out" && break; sleep 0.1; done
    grep -q '^GOOD' "$DIR/cap.out" || it_fail "$1: captool did not log in again: $(cat "$DIR/cap.out")"
    t --op show --mode conn --tid 2
    sid=$(printf '%s\n' "$T_OUT" | sed -n 's/^Session: //p' | head -n 1)
    [ -n "$sid" ] || it_fail "$1: no session in --op show --mode conn"
    t --op delete --mode conn --tid 2 --sid 999 --cid 0
    t --op delete --mode conn --tid 2 --sid "$sid" --cid 7
    t --op delete --mode conn --tid 2 --sid "$sid" --cid 0
    for _ in $(seq 1 50); do
        "${TOOL[@]}" --lld iscsi --op show --mode conn --tid 2 | grep -q "^Session: $sid\$" || break
        sleep 0.1
    done
    t --op show --mode conn --tid 2
    stop_captool

    # --bsoflags sync (tgt: the file opened O_SYNC) is the write cache off
    # on ringtgtd: MODE SENSE's Caching page says WCE=0. Not in the
    # transcript: tgt shows "Backing store flags: sync", ringtgt nothing
    # (docs/tgt-compat.md)
    if [ "$1" = ringtgt ]; then
        "${TOOL[@]}" --lld iscsi --op new --mode logicalunit --tid 2 --lun 3 \
            -b "$DIR/lun2.img" --bsoflags sync ||
            it_fail "$1: --bsoflags sync refused"
        wce=$(timeout -k 5 30 "$wcetool" "iscsi://127.0.0.1:$PORT/$IQN2/3") ||
            it_fail "$1: wcetool on the --bsoflags sync LUN failed"
        [ "${wce#wce }" != "$wce" ] && [ "$(echo "$wce" | cut -d' ' -f2)" = 0 ] ||
            it_fail "$1: --bsoflags sync: the Caching page says $wce (want WCE 0)"
        it_log "--bsoflags sync: $wce"
        "${TOOL[@]}" --lld iscsi --op delete --mode logicalunit --tid 2 --lun 3 ||
            it_fail "$1: the --bsoflags sync LUN could not be deleted"
        # -E aio is rdwr here (docs/tgt-compat.md); tgt's show would
        # name it aio, so not in the transcript
        "${TOOL[@]}" --lld iscsi --op new --mode logicalunit --tid 2 --lun 3 \
            -b "$DIR/lun2.img" -E aio || it_fail "$1: --bstype aio refused"
        timeout -k 5 30 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN2/3" >/dev/null 2>&1 ||
            it_fail "$1: the --bstype aio LUN does not answer INQUIRY"
        "${TOOL[@]}" --lld iscsi --op delete --mode logicalunit --tid 2 --lun 3 ||
            it_fail "$1: the --bstype aio LUN could not be deleted"
        if "${TOOL[@]}" --lld iscsi --op new --mode logicalunit --tid 2 --lun 3 \
            -b "$DIR/lun2.img" -E rbd 2>"$DIR/err"; then
            it_fail "$1: --bstype rbd accepted"
        fi
        it_log "--bstype aio served, rbd refused: $(cat "$DIR/err")"
        # what ringtgt cannot serve is refused; tgt would add the page
        # (-d: ringtgtd's sentence after tgt's message)
        if "${TOOL[@]}" --lld iscsi -d --op update --mode logicalunit --tid 2 --lun 1 \
            --params mode_page=0x1c:0:10:8:0:0:0:0:0:0:0:0:0 2>"$DIR/err"; then
            it_fail "$1: mode_page of page 1Ch accepted"
        fi
        grep -q "not page 1Ch subpage 00h" "$DIR/err" ||
            it_fail "$1: mode_page 1Ch refused with: $(cat "$DIR/err")"
    fi

    t --op delete --mode logicalunit --tid 1 --lun 2
    t --op unbind --mode target --tid 1 -I 127.0.0.1
    t --op unbind --mode account --tid 1 --user tgt-out --outgoing
    t --op show --mode target
    t --op delete --mode system
    t --op delete --mode target --tid 1
    t --op delete --mode target --tid 2 --force
    t --op delete --mode account --user alice
    t --op show --mode account
    t --op show --mode target
    t --op delete --mode system
    for _ in $(seq 1 100); do it_pid_running "$PID" || break; sleep 0.1; done
    it_pid_running "$PID" && it_fail "$1: the daemon still runs after --op delete --mode system"
    echo "daemon stopped" >>"$DIR/transcript"
}

# no NOP-In pings, as tgtd's default (its nop_interval=0 in the target's
# parameter list)
start_ringtgtd --nop-interval 0
TOOL=(env RINGTGT_SOCKET="$IT_TMP/control.sock" "$TGTADM") PORT=$IT_PORT PID=$IT_PID
run ringtgt
ringtgtd_exited "--op delete --mode system"

# ringtgt's own checks on what it printed
tr=$(cat "$IT_TMP/ringtgt/transcript")
it_expect_match "the session in the show" "$tr" '^            Initiator: iqn\.2026-12\.org\.ringtgt:captool alias: none$'
it_expect_match "LUN 1's size" "$tr" '^            Size: 67 MB, Block size: 512$'
it_expect_match "readonly from --params" "$tr" '^            Readonly: Yes$'
it_expect_match "tgt's refusal of a busy target" "$tr" '^stderr: tgtadm: this target is still active$'
if grep -n ' $' "$IT_TMP/ringtgt/transcript"; then
    it_fail "trailing spaces in ringtgt's output"
fi

# the same against tgtd
if ! tgt_available tgtd tgtadm; then
    it_log "$TGT_WHY: the comparison with tgt is skipped"
else
    start_tgtd
    TOOL=(tgtadm -C "$TGTD_CTL") PORT=$TGTD_PORT PID=$TGTD_PID
    run tgt
    reap_tgtd
    if ! diff -u "$IT_TMP/tgt/transcript" "$IT_TMP/ringtgt/transcript"; then
        it_fail "tgtadm on ringtgtd differs from tgtadm on tgtd (diff above: - tgt, + ringtgt)"
    fi
    it_log "tgtadm transcripts of ringtgtd and tgtd are identical ($(wc -l <"$IT_TMP/tgt/transcript") lines)"
fi
