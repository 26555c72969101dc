#!/usr/bin/env bash
# Portal groups from the config file (docs/config.md, "Portal groups and
# ALUA"), with the real daemon and libiscsi's tools: the top-level portal
# is group 1, a portal_group 2 section adds a second portal on another
# 127.0.0.1 port in active/non-optimized state;
#  - SendTargets through either portal reports both, each with its tag
#    (iscsi-ls);
#  - INQUIRY VPD 0x83 through port 2 has the relative target port and
#    target port group designators (iscsi-inq);
#  - ringtgtadm portal-group list shows both groups, their states and
#    portals; set-state 2 standby: a session through port 2 is refused
#    media access (NOT READY, 04/0B), port 1 still serves; back to
#    active/optimized and port 2 serves again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
[ "$IT_TARGET" = ringtgtd ] || it_skip "t-portal-groups needs ringtgtd"
it_require iscsi-ls iscsi-inq iscsi-readcapacity16 timeout

ADM=${RINGTGT_ADM:-}
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
CTL="$IT_TMP/control.sock"
IQN="$IT_IQN_PREFIX:groups"

adm() { timeout -k 5 30 "$ADM" -s "$CTL" "$@" 2>&1; }

it_lock
P1=$(it_find_port)
P2=$(it_find_port)
while [ "$P2" = "$P1" ]; do P2=$(it_find_port); done
cat >"$IT_TMP/ringtgt.conf" <<EOF
portal = {"127.0.0.1:$P1"}
portal_group 2 {
  portal = {"127.0.0.1:$P2"}
  alua_state = "active/non-optimized"
}
target "$IQN" {
  lun 1 { backing = "ram" size = "16M" }
  acl = {"ALL"}
}
EOF
"$IT_RINGTGTD" --foreground --config "$IT_TMP/ringtgt.conf" \
    --control-socket "$CTL" --event-loop "$IT_EVENT_LOOP" \
    --log-level debug >>"$IT_LOG" 2>&1 {IT_LOCK_FD}>&- &
IT_PID=$!
for p in "$P1" "$P2"; do
    deadline=$((SECONDS + 20))
    until it_port_accepts "$p"; do
        it_pid_running "$IT_PID" || it_fail "ringtgtd exited during startup"
        [ $SECONDS -lt $deadline ] || it_fail "no portal on 127.0.0.1:$p within 20 s"
        sleep 0.1
    done
done
it_unlock
it_log "ringtgtd pid $IT_PID, portals 127.0.0.1:$P1 (group 1), 127.0.0.1:$P2 (group 2)"

# SendTargets through either portal: TargetAddress=ADDR:PORT,TAG of every
# portal (RFC 7143 App. C), so an initiator finds both paths from one
for via in "$P1" "$P2"; do
    out=$(it_capture iscsi-ls "iscsi://127.0.0.1:$via") || exit 1
    it_expect_match "SendTargets via $via lists group 1" "$out" "Portal:127\\.0\\.0\\.1:$P1,1\$"
    it_expect_match "SendTargets via $via lists group 2" "$out" "Portal:127\\.0\\.0\\.1:$P2,2\$"
done

# VPD 0x83 names the target port and its group
out=$(it_capture iscsi-inq -e 1 -c 131 "iscsi://127.0.0.1:$P2/$IQN/1") || exit 1
it_expect_match "VPD 0x83 target port group" "$out" 'Designator Type:\(5\) TARGET_PORT_GROUP'
it_expect_match "VPD 0x83 relative target port" "$out" 'Designator Type:\(4\) RELATIVE_TARGET_PORT'

out=$(adm portal-group list) || it_fail "portal-group list: $out"
it_expect_match "group 1 listed" "$out" "^1 +active/optimized +127\\.0\\.0\\.1:$P1\$"
it_expect_match "group 2 listed" "$out" "^2 +active/non-optimized +127\\.0\\.0\\.1:$P2\$"

# standby: media access through port 2 refused, port 1 unaffected
out=$(adm portal-group set-state 2 standby) || it_fail "set-state: $out"
rc=0
out=$(timeout -k 5 30 iscsi-readcapacity16 "iscsi://127.0.0.1:$P2/$IQN/1" 2>&1) || rc=$?
[ $rc != 0 ] || it_fail "READ CAPACITY through a standby port succeeded: $out"
it_expect_match "standby: NOT READY 04/0B" "$out" 'NOT READY.*0x040b'
out=$(it_capture iscsi-readcapacity16 "iscsi://127.0.0.1:$P1/$IQN/1") || exit 1
it_expect_match "group 1 still serves" "$out" "^Total size:$((16 << 20))\$"
out=$(adm portal-group set-state 2 active/optimized) || it_fail "set-state: $out"
out=$(it_capture iscsi-readcapacity16 "iscsi://127.0.0.1:$P2/$IQN/1") || exit 1
it_expect_match "group 2 serves again" "$out" "^Total size:$((16 << 20))\$"
it_log "portal groups from the config: SendTargets tags, VPD 0x83, states"
