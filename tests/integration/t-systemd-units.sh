#!/usr/bin/env bash
# The systemd units of conf/ (built into $RINGTGT_UNIT_DIR):
#  - `systemd-analyze verify` accepts ringtgtd.service and
#    ringtgt-tgt.service without a word (skipped, saying so, only where
#    systemd-analyze is not installed);
#  - ringtgt-tgt.service runs what Debian's tgt.service runs, in its order
#    (docs/migrating-from-tgt.md), with the installed tools;
#  - both are Type=notify, and ringtgtd sends READY=1 only once its control
#    socket answers, so their ExecStartPost commands find the daemon.
. "$(dirname "$0")/lib.sh"
it_init "$@"

unit_dir=${RINGTGT_UNIT_DIR:?run through meson test (RINGTGT_UNIT_DIR)}
sbindir=${RINGTGT_SBINDIR:?run through meson test (RINGTGT_SBINDIR)}
sysconfdir=${RINGTGT_SYSCONFDIR:?run through meson test (RINGTGT_SYSCONFDIR)}
adm=${RINGTGT_ADM:?run through meson test (RINGTGT_ADM)}

# --- what ringtgt-tgt.service runs: Debian's tgt.service sequence ---------
want=$(cat <<WANT
Type=notify
ExecStart=$sbindir/ringtgtd --foreground --config $sysconfdir/ringtgt/ringtgt-tgt.conf
ExecStartPost=$sbindir/tgtadm --op update --mode sys --name State -v offline
ExecStartPost=$sbindir/tgt-admin -e -c /etc/tgt/targets.conf
ExecStartPost=$sbindir/tgtadm --op update --mode sys --name State -v ready
ExecStop=$sbindir/tgtadm --op update --mode sys --name State -v offline
ExecStop=$sbindir/tgt-admin --offline ALL
ExecStop=$sbindir/tgt-admin --update ALL -c /dev/null -f
ExecStop=$sbindir/tgtadm --op delete --mode system
ExecReload=$sbindir/tgt-admin --update ALL -c /etc/tgt/targets.conf
WANT
)
got=$(grep -E '^(Type|Exec[A-Za-z]*)=' "$unit_dir/ringtgt-tgt.service")
if [ "$got" != "$want" ]; then
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/    /' >&2
    it_fail "ringtgt-tgt.service does not run Debian's tgt.service sequence (< wanted, > found)"
fi
grep -qx 'Conflicts=tgt.service ringtgtd.service' "$unit_dir/ringtgt-tgt.service" ||
    it_fail "ringtgt-tgt.service does not conflict with tgt.service and ringtgtd.service"
grep -qx 'Type=notify' "$unit_dir/ringtgtd.service" ||
    it_fail "ringtgtd.service is not Type=notify"
it_log "ok: ringtgt-tgt.service runs tgt.service's commands in its order"

# --- ringtgtd's readiness notification -------------------------------------
command -v python3 >/dev/null || it_unavailable "python3 is not installed (the notification listener)"
notify="$IT_TMP/notify.sock"
python3 - "$notify" >"$IT_TMP/notified" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
try:
    print(s.recv(4096).decode())
except socket.timeout:
    print("nothing within 30 s")
    sys.exit(1)
PY
listener=$!
for _ in $(seq 1 100); do [ -S "$notify" ] && break; sleep 0.1; done
[ -S "$notify" ] || it_fail "the notification listener did not bind $notify within 10 s"
it_lock
IT_PORT=$(it_find_port)
printf 'portal = {"127.0.0.1:%s"}\n' "$IT_PORT" >"$IT_TMP/empty.conf"
NOTIFY_SOCKET=$notify "$IT_RINGTGTD" --foreground --config "$IT_TMP/empty.conf" \
    --control-socket "$IT_TMP/control.sock" --state-dir "$IT_TMP/state" \
    --event-loop "$IT_EVENT_LOOP" >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
IT_PID=$!
rc=0
timeout -k 2 35 tail --pid="$listener" -f /dev/null || rc=$?
[ $rc = 0 ] || it_fail "no notification from ringtgtd within 35 s"
wait "$listener" || it_fail "no READY=1 from ringtgtd: $(cat "$IT_TMP/notified")"
it_unlock
[ "$(cat "$IT_TMP/notified")" = "READY=1" ] ||
    it_fail "ringtgtd sent '$(cat "$IT_TMP/notified")', not READY=1"
# at READY=1 the control socket answers already
out=$(timeout -k 2 10 "$adm" -s "$IT_TMP/control.sock" status 2>&1) ||
    it_fail "READY=1 came, but ringtgtadm status failed: $out"
it_log "ok: READY=1 once the control socket answers"

# --- systemd-analyze verify -------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
    it_skip "systemd-analyze is not installed: the units were not verified"
fi
# The units name the installed programs; verify wants ExecStart's to be
# executable. They go to a directory of their own with the built daemon
# in place of the installed one; tgtadm and tgt-admin are never run by
# verify and only have to exist there.
mkdir -p "$IT_TMP/sbin" "$IT_TMP/units"
ln -s "$IT_RINGTGTD" "$IT_TMP/sbin/ringtgtd"
for tool in tgtadm tgt-admin; do
    printf '#!/bin/sh\nexit 1\n' >"$IT_TMP/sbin/$tool"
    chmod +x "$IT_TMP/sbin/$tool"
done
for unit in ringtgtd.service ringtgt-tgt.service; do
    sed "s#$sbindir/#$IT_TMP/sbin/#g" "$unit_dir/$unit" >"$IT_TMP/units/$unit"
    rc=0
    out=$(timeout -k 5 60 systemd-analyze verify --man=no "$IT_TMP/units/$unit" 2>&1) || rc=$?
    if [ $rc != 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out" | sed 's/^/    | /' >&2
        it_fail "systemd-analyze verify $unit: status $rc, and the output above"
    fi
    it_log "ok: systemd-analyze verify $unit"
done
