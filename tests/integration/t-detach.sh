#!/usr/bin/env bash
# Without --foreground ringtgtd detaches: the command returns at once with
# status 0, the daemon keeps serving, and its log goes to syslog rather
# than to the terminal. Stopped by the PID it reports over the control
# socket.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-ls python3
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found at $adm (set RINGTGT_ADM)"

it_make_image "$IT_TMP/disk0" 64M
port=$(it_find_port)
sock="$IT_TMP/ctl.sock"
dpid=""
# on a failure: stop the detached daemon we started (SIGTERM, then after
# 10 s SIGKILL). Before it told us its pid, it is the listener on our port
# whose command line names our temp dir.
cleanup_detached() {
    local p
    if [ -z "$dpid" ]; then
        for p in $(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2); do
            if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--control-socket $IT_TMP/"; then
                dpid=$p
                break
            fi
        done
    fi
    [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null || return 0
    it_log "stopping the detached daemon (pid $dpid)"
    kill -TERM "$dpid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || return 0; sleep 0.1; done
    it_log "detached daemon $dpid still running 10 s after SIGTERM; sending SIGKILL"
    kill -KILL "$dpid" 2>/dev/null || true
}
it_at_exit cleanup_detached

start=$(date +%s)
rc=0
timeout -k 2 10 "$IT_RINGTGTD" --portal "127.0.0.1:$port" --control-socket "$sock" \
    --event-loop "$IT_EVENT_LOOP" --export "$IT_TMP/disk0,iqn=iqn.2026-11.org.ringtgt:detach" \
    >"$IT_TMP/stdout" 2>"$IT_TMP/stderr" || rc=$?
[ "$rc" = 0 ] || it_fail "ringtgtd without --foreground exited with $rc: $(cat "$IT_TMP/stderr")"
[ $(( $(date +%s) - start )) -le 5 ] || it_fail "ringtgtd without --foreground did not return at once"

for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.2; done
[ -S "$sock" ] || it_fail "the detached daemon did not create its control socket $sock within 10 s"
status=$(timeout -k 2 10 "$adm" -s "$sock" --json status) ||
    it_fail "no answer to 'ringtgtadm status' on $sock within 10 s (status $?)"
dpid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' <<<"$status")
it_log "detached daemon pid $dpid"
kill -0 "$dpid" || it_fail "reported pid $dpid is not running"

out=$(timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$port" 2>&1) || it_fail "iscsi-ls failed: $out"
it_expect_match "detached daemon serves" "$out" '^Lun:1 +Type:DIRECT_ACCESS'

# the terminal got nothing: the log went to syslog
[ ! -s "$IT_TMP/stdout" ] || it_fail "detached daemon wrote to stdout: $(cat "$IT_TMP/stdout")"
[ ! -s "$IT_TMP/stderr" ] || it_fail "detached daemon wrote to stderr: $(cat "$IT_TMP/stderr")"

kill -TERM "$dpid"
for _ in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$dpid" 2>/dev/null && it_fail "detached daemon still running 10 s after SIGTERM"
[ ! -e "$sock" ] || it_fail "control socket $sock left behind"
dpid=""
