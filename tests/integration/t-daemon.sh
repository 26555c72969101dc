#!/usr/bin/env bash
# ringtgtd as a program: command line, defaults, fallbacks and signals.
#
#  - reactors default to the CPUs in the affinity mask (taskset -> 1, plain ->
#    nproc), --reactors 3 -> 3 (ringtgtadm status --json + the log line);
#  - a LUN backed by a tmpfs file (/dev/shm: the file store's inline path):
#    rwtest + a qemu-img write whose bytes are compared with the backing
#    file; an O_DIRECT LUN added with ringtgtadm (libaio under epoll,
#    io_uring otherwise) + rwtest;
#  - SIGHUP does not kill the daemon; SIGTERM stops it with status 0 within
#    10 s (checked by lib.sh at every stop);
#  - RINGTGT_NO_IO_URING=1: automatic epoll fallback ("using epoll", status
#    event_loop epoll, I/O works); with an explicit --event-loop io_uring
#    the daemon exits non-zero with a message;
#  - an IPv6 portal [::1]:PORT;
#  - a config file (portal, target, controller, lun 1 create=true size 64M,
#    acl ALL); config errors name the file and the line;
#  - --help / --version exit 0, an unknown option exits 2.
#
# The loop under test (--event-loop) is used wherever the test does not
# deliberately leave the choice to the daemon. /dev/shm must be a writable
# tmpfs, O_DIRECT must work in the temp dir and ::1 must be configured (all
# true on a stock Debian 12): if one is not, the test fails, or, with
# RINGTGT_IT_ALLOW_SKIP=1, goes on without that part and ends as SKIP.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
[ "$IT_TARGET" = ringtgtd ] || it_skip "t-daemon tests ringtgtd itself (RINGTGT_IT_TARGET=$IT_TARGET)"
it_require iscsi-ls iscsi-readcapacity16 python3 taskset timeout cmp dd stat
it_require_qemu_iscsi
it_need_rwtest

ADM=${RINGTGT_ADM:-}
if [ -z "$ADM" ]; then
    ADM="$(dirname "$IT_RINGTGTD")/tools/ringtgtadm"
    [ -x "$ADM" ] || ADM=$(command -v ringtgtadm || true)
fi
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"

CTL="$IT_TMP/control.sock"
SHM_DIR=""

# remove our /dev/shm directory too, then run lib.sh's exit handler with
# the original status
d_on_exit() {
    local rc=$?
    [ -z "$SHM_DIR" ] || rm -rf "$SHM_DIR"
    (exit $rc)
    it_on_exit
}
trap d_on_exit EXIT

adm() { timeout -k 5 30 "$ADM" -s "$CTL" "$@"; }

# status_field KEY - one key of `ringtgtadm status --json`
status_field() {
    local out
    out=$(adm status --json) || it_fail "ringtgtadm status --json failed"
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$out" "$1" ||
        it_fail "cannot parse 'ringtgtadm status --json' output: $out"
}

IT_CAPTURE_TIMEOUT=60

# ---------------------------------------------------------------------------
# daemon launcher with knobs (lib.sh's it_start_daemon has a fixed command
# line).  Settings, reset by d_reset:
#   D_PREFIX=(...)   command prefix (taskset -c 0, env VAR=VALUE)
#   D_HOST           portal host (127.0.0.1 or ::1)
#   D_LOOP=1         pass --event-loop $IT_EVENT_LOOP
#   D_CONFIG         config template: @PORT@ is replaced by the port, the
#                    result is passed with --config and no --portal is given
# d_start ARGS... starts it (IT_PID, IT_PORT set, so lib.sh stops it), and
# records the log offset in D_LOGSTART for d_log.
# ---------------------------------------------------------------------------
d_reset() {
    D_PREFIX=()
    D_HOST=127.0.0.1
    D_LOOP=1
    D_CONFIG=""
}
d_reset

d_port_accepts() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$D_HOST/$1" 2>/dev/null
}

d_start() {
    local attempt rc deadline hostport args
    [ -z "$IT_PID" ] || it_fail "d_start: daemon already running (pid $IT_PID)"
    D_LOGSTART=$(wc -l <"$IT_LOG")
    it_lock
    for attempt in 1 2 3 4 5; do
        IT_PORT=$(it_find_port) || it_fail "could not find a free TCP port"
        if [ "$D_HOST" = ::1 ]; then hostport="[::1]:$IT_PORT"; else hostport="$D_HOST:$IT_PORT"; fi
        args=(--foreground --control-socket "$CTL" --log-level debug)
        [ "$D_LOOP" = 1 ] && args+=(--event-loop "$IT_EVENT_LOOP")
        if [ -n "$D_CONFIG" ]; then
            sed "s/@PORT@/$IT_PORT/g" "$D_CONFIG" >"$IT_TMP/ringtgt.conf"
            args+=(--config "$IT_TMP/ringtgt.conf")
        else
            args+=(--portal "$hostport")
        fi
        printf '\n===== %s: starting %s %s %s =====\n' "$(date +%T)" "${D_PREFIX[*]}" \
            "$IT_RINGTGTD" "${args[*]} $*" >>"$IT_LOG"
        "${D_PREFIX[@]}" "$IT_RINGTGTD" "${args[@]}" "$@" >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
        IT_PID=$!
        it_log "started ringtgtd pid $IT_PID on $hostport: ${D_PREFIX[*]} ${args[*]} $*"
        rc=2
        deadline=$((SECONDS + IT_START_TIMEOUT))
        while [ $SECONDS -lt $deadline ]; do
            it_pid_running "$IT_PID" || { rc=1; break; }
            if d_port_accepts "$IT_PORT"; then
                if it_port_owned_by "$IT_PORT" "$IT_PID"; then rc=0; else rc=1; fi
                break
            fi
            sleep 0.1
        done
        [ $rc = 0 ] && break
        if [ $rc = 2 ]; then
            it_unlock
            it_fail "ringtgtd did not accept connections on $hostport within ${IT_START_TIMEOUT}s"
        fi
        local status=0
        if it_pid_running "$IT_PID"; then kill -KILL "$IT_PID" 2>/dev/null || true; fi
        wait "$IT_PID" 2>/dev/null || status=$?
        IT_PID=""
        if it_port_in_use "$IT_PORT"; then
            it_log "port $IT_PORT was taken by another process, retrying ($attempt/5)"
            continue
        fi
        it_unlock
        it_fail "ringtgtd exited during startup with status $status (port $IT_PORT)"
    done
    it_unlock
    [ -n "$IT_PID" ] || it_fail "could not start ringtgtd after 5 attempts"
    IT_PORTAL="$hostport"
}

d_stop() {
    it_stop_daemon || it_fail "ringtgtd did not stop cleanly on SIGTERM (status 0 within ${IT_STOP_TIMEOUT}s)"
}

# d_log: the daemon log since the last d_start
d_log() { tail -n "+$((D_LOGSTART + 1))" "$IT_LOG"; }

nproc_n=$(nproc)

# ===========================================================================
# 1. default reactors, tmpfs LUN, O_DIRECT LUN, SIGHUP, SIGTERM
# ===========================================================================
it_log "--- default reactors / tmpfs LUN / O_DIRECT LUN / SIGHUP ---"
shm_ok=0
shm_fs=$(stat -f -c %T /dev/shm 2>&1) || true
if [ "$shm_fs" = tmpfs ] && SHM_DIR=$(mktemp -d /dev/shm/ringtgt-it-daemon.XXXXXX); then
    shm_ok=1
    shm_img="$SHM_DIR/shmdisk"
    it_make_image "$shm_img" 64M
    d_start --export "$shm_img"
else
    it_unavailable_part "/dev/shm is not a writable tmpfs (stat -f: $shm_fs); the tmpfs LUN (inline path) is not tested"
    it_make_image "$IT_TMP/plain" 64M
    d_start --export "$IT_TMP/plain"
fi

n=$(status_field reactors)
[ "$n" = "$nproc_n" ] || it_fail "default reactors: status says $n, expected nproc = $nproc_n"
sfx=s; [ "$nproc_n" = 1 ] && sfx=""
it_expect_match "log: default reactor count" "$(d_log)" "(^|[^0-9])$nproc_n reactor$sfx on $IT_EVENT_LOOP"
el=$(status_field event_loop)
[ "$el" = "$IT_EVENT_LOOP" ] || it_fail "status event_loop '$el', expected $IT_EVENT_LOOP"
it_log "default: $n reactors (nproc $nproc_n), event loop $el"

if [ $shm_ok = 1 ]; then
    shm_iqn=$(it_default_iqn "$shm_img")
    shm_url="iscsi://$IT_PORTAL/$shm_iqn/1"
    it_run "rwtest on a tmpfs-backed LUN" 120 \
        "$IT_RWTEST" --iterations 100 --span-mib 32 "$shm_url"
    # known bytes in, compare with the backing file and read back
    head -c $((16 * 1024 * 1024)) /dev/urandom >"$IT_TMP/pattern"
    it_run "qemu-img write to the tmpfs LUN" 120 \
        qemu-img convert -n -f raw -O raw "$IT_TMP/pattern" "$shm_url"
    cmp -n $((16 * 1024 * 1024)) "$IT_TMP/pattern" "$shm_img" ||
        it_fail "tmpfs backing file differs from the data written through iSCSI"
    it_run "qemu-img read from the tmpfs LUN" 120 \
        qemu-img convert -f raw -O raw "$shm_url" "$IT_TMP/readback"
    cmp "$shm_img" "$IT_TMP/readback" ||
        it_fail "data read through iSCSI differs from the tmpfs backing file"
    it_log "tmpfs LUN: 16 MiB written through iSCSI equal the backing file and read back equal"
fi

# O_DIRECT LUN through ringtgtadm
direct_iqn="$IT_IQN_PREFIX:direct"
direct_img="$IT_TMP/direct.img"
if probe_err=$(dd if=/dev/zero of="$IT_TMP/odirect-probe" bs=4096 count=1 oflag=direct status=none 2>&1); then
    rm -f "$IT_TMP/odirect-probe"
    adm target add "$direct_iqn" >/dev/null || it_fail "ringtgtadm target add $direct_iqn failed"
    adm lun add "$direct_iqn" 0 --controller >/dev/null || it_fail "lun add 0 --controller failed"
    adm lun add "$direct_iqn" 1 --path "$direct_img" --size 64M --create --direct >/dev/null ||
        it_fail "lun add --direct on $(stat -f -c %T "$IT_TMP") failed although O_DIRECT works there"
    adm acl add "$direct_iqn" ALL >/dev/null || it_fail "acl add failed"
    js=$(adm target list --json) || it_fail "target list --json failed"
    python3 - "$js" "$direct_iqn" <<'EOF' || it_fail "target list --json does not show LUN 1 of $direct_iqn as direct"
import json, sys
t = [t for t in json.loads(sys.argv[1]) if t["iqn"] == sys.argv[2]]
assert len(t) == 1, t
l = [l for l in t[0]["luns"] if l["lun"] == 1]
assert len(l) == 1 and l[0]["direct"] is True and l[0]["size"] == 64 << 20, l
EOF
    it_run "rwtest on an O_DIRECT LUN ($IT_EVENT_LOOP)" 180 \
        "$IT_RWTEST" --iterations 100 --span-mib 32 "iscsi://$IT_PORTAL/$direct_iqn/1"
    it_log "O_DIRECT LUN under $IT_EVENT_LOOP: rwtest ok"
else
    it_unavailable_part "O_DIRECT does not work in $IT_TMP ($(stat -f -c %T "$IT_TMP"): $probe_err; set TMPDIR elsewhere); the O_DIRECT LUN is not tested"
fi

# SIGHUP must not kill it
kill -HUP "$IT_PID"
sleep 1
it_pid_running "$IT_PID" || it_fail "ringtgtd died on SIGHUP"
out=$(it_capture iscsi-ls "iscsi://$IT_PORTAL") || exit 1
it_expect_match "iscsi-ls after SIGHUP" "$out" '^Target:'
it_log "SIGHUP: daemon still running and serving"
d_stop

# ===========================================================================
# 2. affinity mask -> 1 reactor; --reactors 3
# ===========================================================================
it_log "--- reactors: taskset, --reactors ---"
it_make_image "$IT_TMP/disk0" 64M
cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
D_PREFIX=(taskset -c "$cpu")
d_start --export "$IT_TMP/disk0"
n=$(status_field reactors)
[ "$n" = 1 ] || it_fail "under taskset -c $cpu: status says $n reactors, expected 1"
it_expect_match "log: 1 reactor" "$(d_log)" "(^|[^0-9])1 reactor on $IT_EVENT_LOOP"
out=$(it_capture iscsi-readcapacity16 "iscsi://$IT_PORTAL/$(it_default_iqn "$IT_TMP/disk0")/1") || exit 1
it_log "taskset -c $cpu: 1 reactor"
d_stop
d_reset

d_start --export "$IT_TMP/disk0" --reactors 3
n=$(status_field reactors)
[ "$n" = 3 ] || it_fail "--reactors 3: status says $n reactors"
it_expect_match "log: 3 reactors" "$(d_log)" "(^|[^0-9])3 reactors on $IT_EVENT_LOOP"
it_log "--reactors 3: 3 reactors"
d_stop

# ===========================================================================
# 3. RINGTGT_NO_IO_URING: automatic epoll fallback
# ===========================================================================
it_log "--- RINGTGT_NO_IO_URING=1 ---"
D_PREFIX=(env RINGTGT_NO_IO_URING=1)
D_LOOP=0
d_start --export "$IT_TMP/disk0"
it_expect_match "log: fallback to epoll" "$(d_log)" 'using epoll'
el=$(status_field event_loop)
[ "$el" = epoll ] || it_fail "RINGTGT_NO_IO_URING=1: status event_loop '$el', expected epoll"
url="iscsi://$IT_PORTAL/$(it_default_iqn "$IT_TMP/disk0")/1"
out=$(it_capture iscsi-readcapacity16 "$url") || exit 1
it_expect_match "readcapacity16 under the fallback" "$out" "^Total size:$((64 * 1024 * 1024))\$"
it_run "rwtest under the epoll fallback" 120 "$IT_RWTEST" --iterations 50 --span-mib 16 "$url"
it_log "epoll fallback: event loop epoll, I/O ok"
d_stop
d_reset

# explicit io_uring while io_uring is "unavailable": refuse to start
it_lock
port=$(it_find_port)
rc=0
RINGTGT_NO_IO_URING=1 timeout -k 5 15 "$IT_RINGTGTD" --foreground --portal "127.0.0.1:$port" \
    --control-socket "$IT_TMP/ctl-uring.sock" --export "$IT_TMP/disk0" --event-loop io_uring \
    >"$IT_TMP/uring.out" 2>"$IT_TMP/uring.err" {IT_LOCK_FD}>&- || rc=$?
it_unlock
cat "$IT_TMP/uring.err"
[ $rc != 124 ] && [ $rc -lt 128 ] || it_fail "--event-loop io_uring + RINGTGT_NO_IO_URING=1: hung or crashed (status $rc)"
[ $rc != 0 ] || it_fail "--event-loop io_uring + RINGTGT_NO_IO_URING=1: exited 0, expected an error"
it_expect_match "--event-loop io_uring refused with a message" "$(cat "$IT_TMP/uring.err")" 'io_uring.*(not available|unavailable)'
it_log "explicit io_uring without io_uring: exit $rc with a message"

# ===========================================================================
# 4. IPv6 portal
# ===========================================================================
it_log "--- IPv6 portal ---"
if v6_err=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>&1); then
    D_HOST=::1
    d_start --export "$IT_TMP/disk0"
    it_expect_match "log: listening on [::1]" "$(d_log)" "listening on \\[::1\\]:$IT_PORT"
    out=$(it_capture iscsi-ls -s "iscsi://[::1]:$IT_PORT") || exit 1
    printf '%s\n' "$out"
    iqn_ere=$(it_default_iqn "$IT_TMP/disk0"); iqn_ere=${iqn_ere//./\\.}
    it_expect_match "iscsi-ls over IPv6" "$out" "^Target:$iqn_ere Portal:\\[::1\\]:$IT_PORT"
    it_expect_match "iscsi-ls over IPv6: LUN 1" "$out" '^Lun:1 +Type:DIRECT_ACCESS'
    it_log "IPv6 portal [::1]:$IT_PORT ok"
    d_stop
    d_reset
else
    it_unavailable_part "cannot bind to ::1 (${v6_err##*$'\n'}); the IPv6 portal is not tested"
fi

# ===========================================================================
# 5. configuration file
# ===========================================================================
it_log "--- config file ---"
cfg_iqn="$IT_IQN_PREFIX:cfgdisk"
cfg_img="$IT_TMP/cfg/sub/cfgdisk.img"     # directories created by create=true
cat >"$IT_TMP/good.conf.in" <<EOF
# written by t-daemon.sh
portal = {"127.0.0.1:@PORT@"}
nop_interval = 5

target "$cfg_iqn" {
  controller = true
  lun 1 { path = "$cfg_img" size = "64M" create = true }
  acl = {"ALL"}
}
EOF
D_CONFIG="$IT_TMP/good.conf.in"
d_start
out=$(it_capture iscsi-ls -s "iscsi://$IT_PORTAL") || exit 1
printf '%s\n' "$out"
it_expect_match "config target in iscsi-ls" "$out" "^Target:${cfg_iqn//./\\.} Portal:127\\.0\\.0\\.1:$IT_PORT"
it_expect_match "config LUN 0 controller" "$out" '^Lun:0 +Type:STORAGE_ARRAY_CONTROLLER'
it_expect_match "config LUN 1 disk" "$out" '^Lun:1 +Type:DIRECT_ACCESS'
out=$(it_capture iscsi-readcapacity16 "iscsi://$IT_PORTAL/$cfg_iqn/1") || exit 1
it_expect_match "config LUN 1 size 64M" "$out" "^Total size:$((64 * 1024 * 1024))\$"
[ -f "$cfg_img" ] && [ "$(stat -c %s "$cfg_img")" = $((64 * 1024 * 1024)) ] ||
    it_fail "config: $cfg_img was not created with 64 MiB"
it_log "config file: target, controller, created 64 MiB LUN 1"
d_stop
d_reset

# bad_config NAME LINE CONTENT: the daemon must refuse it naming NAME:LINE
bad_config() {
    local name=$1 line=$2 want=$3 file="$IT_TMP/$1" rc=0 err port
    cat >"$file"
    it_lock
    port=$(it_find_port)
    timeout -k 5 15 "$IT_RINGTGTD" --foreground --config "$file" --portal "127.0.0.1:$port" \
        --control-socket "$IT_TMP/ctl-bad.sock" >"$IT_TMP/bad.out" 2>"$IT_TMP/bad.err" {IT_LOCK_FD}>&- || rc=$?
    it_unlock
    err=$(cat "$IT_TMP/bad.err")
    printf '%s\n' "$err" | sed 's/^/    | /'
    [ $rc != 124 ] && [ $rc -lt 128 ] || it_fail "$name: daemon hung or crashed (status $rc)"
    [ $rc != 0 ] || it_fail "$name: daemon exited 0 on a bad config"
    it_expect_match "$name: error names file and line $line" "$err" "${file//./\\.}:$line: .*$want"
    it_log "$name: refused (exit $rc) naming $file:$line"
}

bad_config lun300.conf 5 '300' <<EOF
portal = {"127.0.0.1:3260"}
target "$cfg_iqn" {
  controller = true
  acl = {"ALL"}
  lun 300 { backing = "ram" size = "1M" }
}
EOF

bad_config badsize.conf 4 '12Q' <<EOF
portal = {"127.0.0.1:3260"}

target "$cfg_iqn" {
  lun 1 { backing = "ram" size = "12Q" }
  acl = {"ALL"}
}
EOF

# No --config: a missing default file means no targets (as tgtd), ready
# for ringtgtadm / tgtadm; a file named with --config must exist.
it_log "--- no config file ---"
rc=0; out=$(timeout -k 5 15 "$IT_RINGTGTD" --foreground --config "$IT_TMP/no-such.conf" \
    --portal 127.0.0.1:1 --control-socket "$IT_TMP/ctl-bad.sock" 2>&1) || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && [ $rc -lt 128 ] ||
    it_fail "--config of a missing file: exited $rc, want a refusal"
it_expect_match "--config missing file refused" "$out" "cannot open ${IT_TMP//./\\.}/no-such\\.conf"
default_conf=$("$IT_RINGTGTD" --help | sed -n 's/.*configuration file (default \([^;]*\);.*/\1/p')
[ -n "$default_conf" ] || it_fail "ringtgtd --help does not name its default config"
if [ -e "$default_conf" ]; then
    it_unavailable_part "$default_conf exists on this host; the start without a config file is not tested"
else
    d_start --state-dir "$IT_TMP/state-empty"
    it_expect_match "notice: no config file" "$(d_log)" "no configuration file ${default_conf//./\\.}: starting with no targets"
    out=$("$ADM" -s "$CTL" target list) || it_fail "target list failed on an empty daemon"
    it_expect_match "empty daemon has no targets" "$out" '^No targets\.$'
    "$ADM" -s "$CTL" target add "$IT_IQN_PREFIX:filled" >/dev/null || it_fail "target add on an empty daemon"
    "$ADM" -s "$CTL" lun add "$IT_IQN_PREFIX:filled" 1 --backing ram --size 1M >/dev/null ||
        it_fail "lun add on an empty daemon"
    "$ADM" -s "$CTL" acl add "$IT_IQN_PREFIX:filled" ALL || it_fail "acl add on an empty daemon"
    out=$(it_capture iscsi-inq "iscsi://$IT_PORTAL/$IT_IQN_PREFIX:filled/1") || exit 1
    it_expect_match "a target added to an empty daemon serves" "$out" 'Peripheral Device Type'
    it_log "no config file: started empty, filled by ringtgtadm"
    d_stop
    d_reset
fi

# ===========================================================================
# 6. --help, --version, unknown option
# ===========================================================================
it_log "--- command line ---"
rc=0; out=$(timeout 10 "$IT_RINGTGTD" --help 2>&1) || rc=$?
[ $rc = 0 ] || it_fail "--help exited $rc"
it_expect_match "--help text" "$out" '--event-loop'
rc=0; out=$(timeout 10 "$IT_RINGTGTD" -h 2>&1) || rc=$?
[ $rc = 0 ] || it_fail "-h exited $rc"
rc=0; out=$(timeout 10 "$IT_RINGTGTD" --version 2>&1) || rc=$?
[ $rc = 0 ] || it_fail "--version exited $rc"
it_expect_match "--version text" "$out" '[0-9]+\.[0-9]+'
rc=0; out=$(timeout 10 "$IT_RINGTGTD" --no-such-option 2>&1) || rc=$?
[ $rc = 2 ] || it_fail "unknown option exited $rc, expected 2; output: $out"
it_expect_match "unknown option message" "$out" 'no-such-option'
rc=0; out=$(timeout 10 "$IT_RINGTGTD" --reactors 2>&1) || rc=$?
[ $rc = 2 ] || it_fail "--reactors without a value exited $rc, expected 2"
it_log "--help/--version exit 0, bad options exit 2"
