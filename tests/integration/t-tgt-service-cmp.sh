#!/usr/bin/env bash
# Debian's tgt.service sequence, step by step without systemd (issue 12,
# item 6 and Tests): the ExecStartPost, ExecReload and ExecStop commands of
# the installed tgt.service run against a real tgtd, and those of
# conf/ringtgt-tgt.service (as built) against ringtgtd started as its
# ExecStart starts it; both on a test port, tgtadm and tgt-admin given
# `-C N` (the daemon's own control port), /etc/tgt/targets.conf replaced
# by a test file (targets.conf -> conf.d/*.conf, two targets, CHAP).
#
# Checked: the two units run the same commands in the same order (program
# names aside); each command's stdout, stderr and status, the system state
# (tgtadm --mode sys --op show: State) and tgtadm --op show --mode target
# after it, and whether a new login works (refused while offline) are
# identical on both daemons, except the show lines docs/tgt-compat.md
# lists as ringtgt's own (masked where they are made); a session open
# across ExecStop ends; the last ExecStop command stops the daemon.
#
# Without tgt installed (or not root) the tgtd half cannot run: that fails
# the test when CI is set in the environment, else it is a skip (exit 77)
# after the ringtgtd half and its own checks passed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tgt-lib.sh"

it_init "$@"
it_require iscsi-inq truncate diff
unit_dir=${RINGTGT_UNIT_DIR:?run through meson test (RINGTGT_UNIT_DIR)}
sbindir=${RINGTGT_SBINDIR:?run through meson test (RINGTGT_SBINDIR)}
adm=${RINGTGT_ADM:?run through meson test (RINGTGT_ADM)}
captool=${RINGTGT_CAPTOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/captool}
[ -x "$captool" ] || it_fail "captool not found (set RINGTGT_CAPTOOL)"
tools=$(dirname "$adm")
[ -x "$tools/tgtadm" ] && [ -x "$tools/tgt-admin" ] || it_fail "tgtadm / tgt-admin not built in $tools"
TGT_UNIT=/lib/systemd/system/tgt.service
RINGTGT_UNIT=$unit_dir/ringtgt-tgt.service
RINGTGT_CONF=$(cd "$(dirname "$0")/../.." && pwd)/conf/ringtgt-tgt.conf
[ -r "$RINGTGT_UNIT" ] || it_fail "$RINGTGT_UNIT not built"

it_at_exit tgt_cleanup

# unit_cmds UNIT: its ExecStartPost / ExecReload / ExecStop lines, in order
unit_cmds() {
    grep -E '^Exec(StartPost|Reload|Stop)=' "$1"
}
# the same with the programs' directories dropped
unit_shape() {
    unit_cmds "$1" | sed -E 's#=[^ ]*/([^/ ]+)( |$)#=\1\2#'
}

# --- the two units run the same commands ----------------------------------
if [ -r "$TGT_UNIT" ]; then
    if ! diff <(unit_shape "$TGT_UNIT") <(unit_shape "$RINGTGT_UNIT") >"$IT_TMP/units.diff"; then
        sed 's/^/    /' "$IT_TMP/units.diff" >&2
        it_fail "ringtgt-tgt.service does not run tgt.service's commands (< tgt, > ringtgt)"
    fi
    it_log "ok: ringtgt-tgt.service runs $TGT_UNIT's $(unit_cmds "$TGT_UNIT" | wc -l) commands in its order"
fi

# norm: the run's own names out of a text
norm() {
    sed -e "s|$DIR|TMP|g" -e "s/127\.0\.0\.1:$PORT\b/127.0.0.1:PORT/g" -e 's/ *$//'
}

# state: after a step, what the daemon serves (nothing once it stopped)
state() {
    local out
    if ! it_pid_running "$PID"; then
        echo "(daemon exited)" >>"$DIR/transcript"
        return 0
    fi
    out=$(timeout -k 5 30 "${TGTADM[@]}" -C "$CTL" --op show --mode sys 2>&1) ||
        it_fail "$NAME: tgtadm --op show --mode sys: $out"
    # docs/tgt-compat.md "What each request does", --mode sys --op show:
    # the State line is tgt's, the rest lists ringtgtd's own drivers
    grep -E '^ *State:' <<<"$out" | norm >>"$DIR/transcript"
    out=$(timeout -k 5 30 "${TGTADM[@]}" -C "$CTL" --op show --mode target 2>&1) ||
        it_fail "$NAME: tgtadm --op show --mode target: $out"
    printf '%s\n' "$out" | mask_show | norm >>"$DIR/transcript"
    if [ -z "$out" ]; then
        # docs/tgt-compat.md "A daemon that starts empty": with no target
        # tgtd closes every connection, ringtgtd answers the login
        echo "no target: the login is not compared" >>"$DIR/transcript"
        return 0
    fi
    printf 'new login to %s: %s\n' "$IQN1" "$(login)" >>"$DIR/transcript"
}

# login: a new CHAP login to IQN1's LUN 1; "ok" or the refusal's status
login() {
    local out
    if out=$(timeout -k 5 30 iscsi-inq "iscsi://$USER1%$PASS1@127.0.0.1:$PORT/$IQN1/1" 2>&1); then
        echo ok
    else
        printf 'refused: %s\n' "$(grep -o 'Status: [^(]*' <<<"$out" | head -n 1)"
    fi
}

# step LINE: one Exec line of the unit, with -C N after the program and
# /etc/tgt/targets.conf the test's; recorded as the line without the
# program's directory
step() {
    local line=$1 cmd prog out err rc=0
    cmd=${line#*=}
    prog=${cmd%% *}
    read -r -a args <<<"${cmd#"$prog"}"
    args=("${args[@]//\/etc\/tgt\/targets.conf/$DIR/etc/tgt/targets.conf}")
    case "$(basename "$prog")" in
    tgtadm) prog=("${TGTADM[@]}") ;;
    tgt-admin) prog=("${TGTADMIN[@]}") ;;
    *) it_fail "$NAME: $line: a program this test does not know" ;;
    esac
    out=$(cd / && timeout -k 5 60 "${prog[@]}" -C "$CTL" "${args[@]}" 2>"$DIR/err") || rc=$?
    err=$(cat "$DIR/err")
    {
        printf '$ %s\n' "$(sed -E 's#=[^ ]*/([^/ ]+)( |$)#=\1\2#' <<<"$line")"
        [ -z "$out" ] || printf '%s\n' "$out"
        [ -z "$err" ] || printf '%s\n' "$err" | sed 's/^/stderr: /'
        printf 'status %s\n' "$rc"
    } | norm >>"$DIR/transcript"
}

IQN1=iqn.2026-11.org.example:svc1
IQN2=iqn.2026-11.org.example:svc2
IQN3=iqn.2026-11.org.example:svc3
USER1=svcuser1 PASS1=svc-secret-0001

# run NAME UNIT: the sequence of UNIT against the daemon at PORT/PID/CTL
run() {
    NAME=$1
    local unit=$2 line
    DIR=$IT_TMP/$NAME
    mkdir -p "$DIR/etc/tgt/conf.d"
    : >"$DIR/transcript"
    truncate -s 16M "$DIR/d1.img" "$DIR/d2.img" "$DIR/d3.img"
    printf 'include %s/etc/tgt/conf.d/*.conf\n' "$DIR" >"$DIR/etc/tgt/targets.conf"
    cat >"$DIR/etc/tgt/conf.d/svc.conf" <<EOF
default-driver iscsi
<target $IQN1>
    backing-store $DIR/d1.img
    incominguser $USER1 $PASS1
    scsi_id svc-1
    scsi_sn sn-svc-1
</target>
<target $IQN2>
    backing-store $DIR/d2.img
    scsi_id svc-2
    scsi_sn sn-svc-2
    initiator-address 127.0.0.1
</target>
EOF
    echo "daemon started" >>"$DIR/transcript"
    state
    while read -r line; do
        step "$line"
        state
    done < <(grep -E '^ExecStartPost=' "$unit")

    # systemctl reload after the file changed: a third target, one gone
    cat >>"$DIR/etc/tgt/conf.d/svc.conf" <<EOF
<target $IQN3>
    backing-store $DIR/d3.img
    scsi_id svc-3
    scsi_sn sn-svc-3
</target>
EOF
    sed -i "/<target ${IQN2//./\\.}>/,/<\/target>/d" "$DIR/etc/tgt/conf.d/svc.conf"
    while read -r line; do
        step "$line"
        state
    done < <(grep -E '^ExecReload=' "$unit")

    # systemctl stop with a session open on IQN1
    cap_start "$DIR/cap" "iscsi://$USER1%$PASS1@127.0.0.1:$PORT/$IQN1/1" 7 || it_fail "$NAME: captool did not log in: $(cat "$DIR/cap.out")"
    while read -r line; do
        step "$line"
        # tgtadm --op delete --mode system: tgt's returns at once, the
        # daemon exits soon after (bounded)
        if [[ "$line" == *"--op delete --mode system"* ]]; then
            for _ in $(seq 1 100); do it_pid_running "$PID" || break; sleep 0.1; done
        fi
        # the session's I_T nexus shows until --update ALL -c /dev/null -f
        state
    done < <(grep -E '^ExecStop=' "$unit")
    for _ in $(seq 1 100); do it_pid_running "$PID" || break; sleep 0.1; done
    it_pid_running "$PID" && it_fail "$NAME: the daemon still runs after the last ExecStop command"
    echo "tur 1" >&7 2>/dev/null || true
    sleep 0.5
    case "$(tail -n 1 "$DIR/cap.out")" in
    ERROR*|"STATUS 0xf000000"|READY) echo "the open session: gone" >>"$DIR/transcript" ;;
    *) it_fail "$NAME: the session answered after ExecStop: $(tail -n 1 "$DIR/cap.out")" ;;
    esac
    stop_captool
}

# --- ringtgtd, as ringtgt-tgt.service's ExecStart starts it -----------------
exec_start=$(sed -n 's/^ExecStart=//p' "$RINGTGT_UNIT")
[ "$exec_start" = "$sbindir/ringtgtd --foreground --config ${RINGTGT_SYSCONFDIR:-?}/ringtgt/ringtgt-tgt.conf" ] ||
    it_log "note: ExecStart is '$exec_start'"
# its config (conf/ringtgt-tgt.conf, the daemon settings only); portal,
# control socket and state directory the test's
start_ringtgtd -C --config "$RINGTGT_CONF"
TGTADM=(env RINGTGT_SOCKET="$IT_TMP/control.sock" "$tools/tgtadm")
TGTADMIN=(env RINGTGT_SOCKET="$IT_TMP/control.sock" "$tools/tgt-admin")
PORT=$IT_PORT PID=$IT_PID
run ringtgt "$RINGTGT_UNIT"
ringtgtd_exited "the ExecStop commands"

# ringtgt's own checks: offline while the config loads, ready after
tr=$(cat "$IT_TMP/ringtgt/transcript")
it_expect_match "State offline after the first ExecStartPost" "$tr" '^ *State: offline$'
it_expect_match "a login refused while offline" "$tr" '^new login to .*: refused: '
it_expect_match "a login once ready" "$tr" '^new login to .*: ok$'
it_expect_match "the reload added $IQN3" "$tr" "^Target [0-9]+: ${IQN3//./\\.}$"

# --- tgtd, the same sequence from tgt.service --------------------------------
tgt_available tgtd tgtadm tgt-admin "$TGT_UNIT" ||
    it_skip "$TGT_WHY: the comparison with tgt is skipped (the ringtgtd half passed)"
# tgt.service's ExecStart is `tgtd -f`: the same, on the test portal
start_tgtd
TGTADM=(tgtadm) TGTADMIN=(tgt-admin)
CTL=$TGTD_CTL PORT=$TGTD_PORT PID=$TGTD_PID
run tgt "$TGT_UNIT"
reap_tgtd
if ! diff -u "$IT_TMP/tgt/transcript" "$IT_TMP/ringtgt/transcript"; then
    it_fail "tgt.service's sequence on ringtgtd differs from it on tgtd (diff above: - tgt, + ringtgt)"
fi
it_log "tgt.service's sequence: ringtgtd and tgtd transcripts identical ($(wc -l <"$IT_TMP/tgt/transcript") lines)"
