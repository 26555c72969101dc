# Helpers of the scripts that drive ringtgtd the way tgt's users do and
# compare it with a real tgtd (Debian's tgt): t-tgtadm.sh,
# t-tgt-admin-cmp.sh, t-tgt-service-cmp.sh, t-tgt-admin.sh,
# t-tgt-admin-concurrent.sh. Sourced after lib.sh (it uses it_lock,
# it_find_port, it_pid_running, it_port_accepts, it_fail, it_log). It only
# defines functions and the variables below; a script that starts tgtd or
# a kept-open captool registers tgt_cleanup with it_at_exit itself.
#
# A real tgtd runs only on a free test port (IT_TARGET=tgt it_find_port)
# with its own control port (-C N, /var/run/tgtd/socket.N), never on 3260
# or control port 0, and is ended by its PID.

CAP_PID=""	# the kept-open captool (its stdin on fd 7), see cap_start
TGTD_PID=""
TGTD_PORT=""
TGTD_CTL=""

# wait_up PORT PID: the portal on PORT accepts, while PID still runs
# (bounded by IT_START_TIMEOUT)
wait_up() {
    local deadline=$((SECONDS + IT_START_TIMEOUT))
    while ! it_port_accepts "$1"; do
        it_pid_running "$2" || return 1
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# start_ringtgtd [-C] [ARG...]: ringtgtd with no targets on a free test
# port (IT_PORT, IT_PID), its control socket $IT_TMP/control.sock; with -C
# CTL is the port and the socket $IT_TMP/control.sock.CTL, where the tools
# given `-C CTL` find it. ARGs go to ringtgtd as they are (--config FILE,
# --nop-interval 0, ...).
start_ringtgtd() {
    local sock=$IT_TMP/control.sock
    it_lock
    IT_PORT=$(it_find_port)
    if [ "${1:-}" = -C ]; then
        shift
        CTL=$IT_PORT
        sock=$sock.$CTL
    fi
    "$IT_RINGTGTD" --foreground --portal "127.0.0.1:$IT_PORT" \
        --control-socket "$sock" --state-dir "$IT_TMP/state" \
        --event-loop "$IT_EVENT_LOOP" --log-level debug "$@" >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
    IT_PID=$!
    wait_up "$IT_PORT" "$IT_PID" || { it_unlock; it_fail "ringtgtd did not start on $IT_PORT"; }
    it_unlock
    it_log "ringtgtd pid $IT_PID on 127.0.0.1:$IT_PORT, control socket $sock, no targets"
}

# ringtgtd_exited AFTER: the run stopped ringtgtd (IT_PID) with its last
# command, AFTER naming it: it must have exited with status 0; its
# transcript ($IT_TMP/ringtgt/transcript) goes to the log
ringtgtd_exited() {
    local rc=0
    wait "$IT_PID" || rc=$?
    [ $rc = 0 ] || it_fail "ringtgtd exited with status $rc after $1"
    IT_PID=""
    it_log "ringtgtd transcript:"
    sed 's/^/    | /' "$IT_TMP/ringtgt/transcript"
}

# tgt_available ITEM...: whether the real tgt can run here: each ITEM, a
# program (tgtd, tgtadm, tgt-admin) installed or a file (a path) there,
# and root. If not, TGT_WHY says why and it returns 1; and the test fails
# when CI is set in the environment (there the comparison must run).
tgt_available() {
    local item
    TGT_WHY=""
    for item in "$@"; do
        case "$item" in
        */*) [ -r "$item" ] || TGT_WHY="$item is not there (Debian's tgt package installs it)" ;;
        *) command -v "$item" >/dev/null || TGT_WHY="$item is not installed (Debian: apt-get install tgt)" ;;
        esac
        [ -z "$TGT_WHY" ] || break
    done
    [ -n "$TGT_WHY" ] || [ "$(id -u)" = 0 ] || TGT_WHY="not root: tgtd cannot run here"
    [ -n "$TGT_WHY" ] || return 0
    [ -z "${CI:-}" ] || it_fail "CI is set and $TGT_WHY: the comparison with tgt cannot run"
    return 1
}

# start_tgtd: a real tgtd (tgt.service's ExecStart, `tgtd -f`) on a free
# test port TGTD_PORT, control port TGTD_CTL (the same number, below 32768:
# tgt's control port is a short), pid TGTD_PID; waits until tgtadm reaches
# it (bounded)
start_tgtd() {
    it_lock
    TGTD_PORT=$(IT_TARGET=tgt it_find_port)
    TGTD_CTL=$TGTD_PORT
    tgtd -f -C "$TGTD_CTL" --iscsi "portal=127.0.0.1:$TGTD_PORT" >>"$IT_TMP/tgtd.log" 2>&1 {IT_LOCK_FD}>&- &
    TGTD_PID=$!
    wait_up "$TGTD_PORT" "$TGTD_PID" || { it_unlock; it_fail "tgtd did not start on $TGTD_PORT"; }
    it_unlock
    for _ in $(seq 1 50); do
        tgtadm -C "$TGTD_CTL" --op show --mode target >/dev/null 2>&1 && break
        sleep 0.1
    done
    it_log "tgtd pid $TGTD_PID on 127.0.0.1:$TGTD_PORT, control port $TGTD_CTL"
}

# reap_tgtd: tgtd has stopped (or was stopped): wait for it, remove its
# control socket and lock file
reap_tgtd() {
    [ -n "$TGTD_PID" ] || return 0
    wait "$TGTD_PID" 2>/dev/null || true
    rm -f "/var/run/tgtd/socket.$TGTD_CTL" "/var/run/tgtd/socket.$TGTD_CTL.lock"
    TGTD_PID=""
}

# stop_tgtd: if tgtd still runs, every target deleted (--force) and
# `--op delete --mode system`, then KILL after 5 s; then reaped
stop_tgtd() {
    [ -n "$TGTD_PID" ] || return 0
    if it_pid_running "$TGTD_PID"; then
        local tid
        for tid in $(tgtadm -C "$TGTD_CTL" --op show --mode target 2>/dev/null |
                     sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
            tgtadm -C "$TGTD_CTL" --op delete --mode target --tid "$tid" --force >/dev/null 2>&1 || true
        done
        tgtadm -C "$TGTD_CTL" --op delete --mode system >/dev/null 2>&1 || true
        for _ in $(seq 1 50); do it_pid_running "$TGTD_PID" || break; sleep 0.1; done
        it_pid_running "$TGTD_PID" && kill -KILL "$TGTD_PID" 2>/dev/null
    fi
    reap_tgtd
}

# cap_start BASE URL FD [CMD]: captool logged in to URL and kept open, its
# commands written to fd FD (a fifo BASE.in), its answers in BASE.out, its
# pid in CAP_STARTED, and in CAP_PID when FD is 7 (the kept-open session
# stop_captool ends). Without CMD, waits for its READY (30 s); with CMD
# (e.g. "tur 1"), sends it and waits for GOOD (10 s). Returns 1 if that
# did not come.
cap_start() {
    rm -f "$1.in"
    mkfifo "$1.in"
    "$captool" "$2" <"$1.in" >"$1.out" 2>&1 &
    CAP_STARTED=$!
    [ "$3" != 7 ] || CAP_PID=$CAP_STARTED
    eval "exec $3>\"\$1.in\""
    if [ $# -lt 4 ]; then
        for _ in $(seq 1 300); do grep -q '^READY' "$1.out" && break; sleep 0.1; done
        grep -q '^READY' "$1.out"
    else
        echo "$4" >&"$3"
        for _ in $(seq 1 100); do grep -q '^GOOD' "$1.out" && break; sleep 0.1; done
        grep -q '^GOOD' "$1.out"
    fi
}

# stop_captool: the kept-open captool (CAP_PID, stdin on fd 7) ended
stop_captool() {
    if [ -n "$CAP_PID" ]; then
        { exec 7>&-; } 2>/dev/null || true
        kill -TERM "$CAP_PID" 2>/dev/null || true
        wait "$CAP_PID" 2>/dev/null || true
        CAP_PID=""
    fi
}

# tgt_cleanup: the it_at_exit hook: captool and tgtd ended
tgt_cleanup() {
    stop_captool
    stop_tgtd
}

# mask_show: a `tgtadm --op show --mode target` on stdin without what
# docs/tgt-compat.md ("--op show --mode target") lists as ringtgt's own:
# SCSI ID / SCSI SN of the controller, LUN 0 (tgt derives them from the
# tid, ringtgt has its own); Thin-provisioning (ringtgt provisions a
# writable file thinly untold)
mask_show() {
    awk '
        /^        LUN: / { lun = $2 }
        lun == "0" && /^            SCSI (ID|SN):/ { sub(/:.*/, ": (LUN 0: masked)") }
        /^            Thin-provisioning:/ { $0 = "            Thin-provisioning: (masked)" }
        { print }'
}

# cinder_volume UUID USER PASS PATH: the volume file Cinder's tgt.py
# writes (the bytes: a blank first line, the absent flags line 4 spaces)
cinder_volume() {
    printf '\n<target iqn.2010-10.org.openstack:volume-%s>\n    backing-store %s\n    driver iscsi\n    incominguser %s %s\n    \n    write-cache on\n    scsi_sn volume-%s\n    scsi_id volume-%s\n</target>\n' \
        "$1" "$4" "$2" "$3" "$1" "$1"
}

# cinder_write UUID USER PASS PATH: that file put into $VOLS Cinder's way
# (utils.robust_file_write: a temp dir in volumes/, then os.rename)
cinder_write() {
    local tmp
    tmp=$(mktemp -d "$VOLS/tmpXXXXXX")
    cinder_volume "$@" >"$tmp/volume-$1"
    mv "$tmp/volume-$1" "$VOLS/volume-$1"
    rmdir "$tmp"
}
