#!/usr/bin/env bash
# ringtgtadm against a running ringtgtd (started with --export, control
# socket in the temp dir):
#  - target add / lun add 0 --controller / lun add 1 --path --size --create /
#    acl add ALL -> the target shows in SendTargets with LUN 1 of the right
#    size; target show / target list / --json describe it;
#  - ACLs: no rule -> invisible in SendTargets and login refused; a CIDR not
#    containing 127.0.0.1 -> still refused; the initiator name of iscsi-inq
#    -> iscsi-inq admitted (iscsi-ls, another name, still not); 127.0.0.1
#    -> admitted;
#  - with a session logged in: session list shows it, lun remove and target
#    remove are refused (exit 1, message) until --force; a forced target
#    remove closes the session;
#  - portal-group list / set-state on the daemon's one portal (group 1);
#  - errors: unknown target -> exit 1 with a message, bad arguments -> 2,
#    no daemon at the socket -> 1 "is ringtgtd running?".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
[ "$IT_TARGET" = ringtgtd ] || it_skip "t-ringtgtadm needs ringtgtd (RINGTGT_IT_TARGET=$IT_TARGET)"
it_require iscsi-ls iscsi-inq iscsi-readcapacity16 iscsi-perf python3 timeout

ADM=${RINGTGT_ADM:-}
if [ -z "$ADM" ]; then
    ADM="$(dirname "$IT_RINGTGTD")/tools/ringtgtadm"
    [ -x "$ADM" ] || ADM=$(command -v ringtgtadm || true)
fi
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
CTL="$IT_TMP/control.sock"

it_make_image "$IT_TMP/disk0" 64M
it_start_daemon "$IT_TMP/disk0"

BG_PIDS=()
t_on_exit() {
    local rc=$? p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    (exit $rc)
    it_on_exit
}
trap t_on_exit EXIT

# adm ARGS...: ringtgtadm, bounded; output (stdout+stderr) in ADM_OUT,
# status in ADM_RC; never fails by itself
adm() {
    ADM_RC=0
    ADM_OUT=$(timeout -k 5 30 "$ADM" -s "$CTL" "$@" 2>&1) || ADM_RC=$?
    [ "$ADM_RC" != 124 ] || it_fail "ringtgtadm $* timed out"
}
# adm_ok ARGS...: must exit 0
adm_ok() {
    adm "$@"
    if [ "$ADM_RC" != 0 ]; then
        it_log "FAIL: 'ringtgtadm $*' exited $ADM_RC:" >&2
        printf '%s\n' "$ADM_OUT" | sed 's/^/    | /' >&2
        exit 1
    fi
}
# adm_rc WANT ERE ARGS...: must exit WANT with output matching ERE
adm_rc() {
    local want=$1 ere=$2
    shift 2
    adm "$@"
    [ "$ADM_RC" = "$want" ] ||
        it_fail "'ringtgtadm $*' exited $ADM_RC, expected $want; output: $ADM_OUT"
    it_expect_match "ringtgtadm $* message" "$ADM_OUT" "$ere"
    it_log "ringtgtadm $*: exit $ADM_RC: $(head -n 1 <<<"$ADM_OUT")"
}


# json_check PYTHON-EXPR ARGS...: evaluate with j = parsed ADM_OUT,
# a = sys.argv[1:]; fail unless true
json_check() {
    local expr=$1
    shift
    python3 - "$ADM_OUT" "$expr" "$@" <<'EOF' || it_fail "JSON check failed: $expr ($*) on: $ADM_OUT"
import json, sys
j = json.loads(sys.argv[1])
a = sys.argv[3:]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

ere() { printf '%s' "${1//./\\.}"; }

# sessions_of IQN: number of normal sessions on IQN (session list --json)
sessions_of() {
    adm_ok session list --json
    python3 -c 'import json, sys
print(sum(1 for s in json.loads(sys.argv[1]) if s["target"] == sys.argv[2]))' "$ADM_OUT" "$1"
}

# wait_sessions IQN N: up to 15 s for N sessions on IQN
wait_sessions() {
    local deadline=$((SECONDS + 15)) n
    while :; do
        n=$(sessions_of "$1")
        [ "$n" = "$2" ] && return 0
        [ $SECONDS -lt $deadline ] || it_fail "expected $2 session(s) on $1, session list shows $n"
        sleep 0.2
    done
}

# ===========================================================================
# target / LUN / ACL creation
# ===========================================================================
NEW="$IT_IQN_PREFIX:adm-vol1"
vol="$IT_TMP/vol1.img"
adm_ok target add "$NEW"
it_expect_match "target add output" "$ADM_OUT" "$(ere "$NEW")"
adm_ok lun add "$NEW" 0 --controller
adm_ok lun add "$NEW" 1 --path "$vol" --size 32M --create
adm_ok acl add "$NEW" ALL
[ -f "$vol" ] && [ "$(stat -c %s "$vol")" = $((32 << 20)) ] ||
    it_fail "lun add --create --size 32M did not create $vol with 32 MiB"

out=$(it_capture iscsi-ls -s "iscsi://$IT_PORTAL") || exit 1
printf '%s\n' "$out"
it_expect_match "iscsi-ls: new target" "$out" "^Target:$(ere "$NEW") Portal:127\\.0\\.0\\.1:$IT_PORT"
it_expect_match "iscsi-ls: export target still there" "$out" "^Target:$(ere "$IT_IQN") "
# LUN lines of the new target only
new_luns=$(awk -v t="Target:$NEW " 'index($0, "Target:") == 1 { on = (index($0, t) == 1) } on && /^Lun:/' <<<"$out")
it_expect_match "iscsi-ls: LUN 0 controller on the new target" "$new_luns" '^Lun:0 +Type:STORAGE_ARRAY_CONTROLLER'
it_expect_match "iscsi-ls: LUN 1 disk on the new target" "$new_luns" '^Lun:1 +Type:DIRECT_ACCESS'
out=$(it_capture iscsi-readcapacity16 "iscsi://$IT_PORTAL/$NEW/1") || exit 1
it_expect_match "new LUN 1 is 32 MiB" "$out" "^Total size:$((32 << 20))\$"
it_log "new target $NEW visible with LUN 1 of 32 MiB"

adm_ok target show "$NEW"
it_expect_match "target show: name" "$ADM_OUT" "$(ere "$NEW")"
it_expect_match "target show: LUN 1 size" "$ADM_OUT" "$((32 << 20))"
it_expect_match "target show: LUN 1 path" "$ADM_OUT" "$(ere "$vol")"
it_expect_match "target show: ACL ALL" "$ADM_OUT" '^ +ALL$'
if grep -q "$(ere "$IT_IQN")" <<<"$ADM_OUT"; then
    it_fail "target show $NEW also shows $IT_IQN"
fi
# the target's own iSCSI parameters: set, listed, negotiated by the next
# login (libiscsi offers MaxBurstLength=262144 and prints the answer: the
# smaller, RFC 7143 §13.13), put back, a value ringtgt cannot honour refused
adm_ok target set-param "$NEW" MaxBurstLength 65536
adm_ok target params "$NEW"
it_expect_match "target params: the target's own" "$ADM_OUT" '^MaxBurstLength=65536 \(this target.s\)$'
it_expect_match "target params: the daemon's" "$ADM_OUT" '^FirstBurstLength=262144$'
out=$(LIBISCSI_DEBUG=10 timeout -k 5 30 iscsi-inq "iscsi://127.0.0.1:$IT_PORT/$NEW/1" 2>&1) ||
    it_fail "iscsi-inq after set-param: $out"
it_expect_match "login negotiates the target's MaxBurstLength" "$out" 'TargetLoginReply: MaxBurstLength=65536 '
adm_ok target unset-param "$NEW" MaxBurstLength
adm_ok target params "$NEW"
it_expect_match "target params: back to the daemon's" "$ADM_OUT" '^MaxBurstLength=1048576$'
adm_rc 1 'ErrorRecoveryLevel=1: ringtgt supports error recovery level 0 only' \
    target set-param "$NEW" ErrorRecoveryLevel 1

adm_ok target list
it_expect_match "target list: new target" "$ADM_OUT" "$(ere "$NEW")"
it_expect_match "target list: export target" "$ADM_OUT" "$(ere "$IT_IQN")"
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0] and t["acls"] == ["ALL"] and t["sessions"] == 0
  and [(l["lun"], l["type"]) for l in t["luns"]] == [(0, "controller"), (1, "disk")]
  and t["luns"][1]["size"] == 32 << 20 and t["luns"][1]["path"] == a[1]
  and t["luns"][1]["backing"] == "file"]' "$NEW" "$vol"
json_check 'len([t for t in j if t["iqn"] == a[0]]) == 1' "$IT_IQN"
adm_ok --json target show "$NEW"
json_check '(j if isinstance(j, list) else [j])[0]["iqn"] == a[0]' "$NEW"
adm_ok status --json
json_check 'j["targets"] == 2 and j["control_socket"] == a[0]' "$CTL"
it_log "target show / list / --json describe $NEW"

# ===========================================================================
# ACLs
# ===========================================================================
ACL="$IT_IQN_PREFIX:adm-acl"
INQ_NAME="iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq"
adm_ok target add "$ACL"
adm_ok lun add "$ACL" 0 --controller
adm_ok lun add "$ACL" 1 --backing ram --size 16M
acl_url="iscsi://$IT_PORTAL/$ACL/1"

# expect_acl DESC VISIBLE(0/1) INQ_OK(0/1)
expect_acl() {
    local desc=$1 visible=$2 inq_ok=$3 out rc=0
    out=$(it_capture iscsi-ls -s "iscsi://$IT_PORTAL") || exit 1
    # the other targets are listed in any case (the check can tell)
    it_expect_match "$desc: iscsi-ls lists $NEW" "$out" "^Target:$(ere "$NEW") "
    if grep -Eq "^Target:$(ere "$ACL") " <<<"$out"; then
        [ "$visible" = 1 ] || it_fail "$desc: $ACL is visible to iscsi-ls (SendTargets)"
    else
        [ "$visible" = 0 ] || it_fail "$desc: $ACL is not visible to iscsi-ls (SendTargets): $out"
    fi
    out=$(timeout -k 5 30 iscsi-inq "$acl_url" 2>&1) || rc=$?
    [ $rc != 124 ] || it_fail "$desc: iscsi-inq timed out"
    if [ "$inq_ok" = 1 ]; then
        [ $rc = 0 ] || it_fail "$desc: iscsi-inq login refused (status $rc): $out"
        it_expect_match "$desc: iscsi-inq LUN 1" "$out" '^Peripheral Device Type:DIRECT_ACCESS$'
    else
        [ $rc != 0 ] || it_fail "$desc: iscsi-inq logged in to $ACL although it should be refused"
    fi
    it_log "ACL $desc: SendTargets visible=$visible, iscsi-inq login=$inq_ok"
}

expect_acl "no rule" 0 0
adm_ok acl add "$ACL" 10.0.0.0/8
expect_acl "10.0.0.0/8" 0 0
adm_ok acl add "$ACL" "$INQ_NAME"
expect_acl "initiator name of iscsi-inq" 0 1
adm_ok acl remove "$ACL" "$INQ_NAME"
expect_acl "name rule removed" 0 0
adm_ok acl add "$ACL" 127.0.0.1
expect_acl "127.0.0.1" 1 1
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0] and sorted(t["acls"]) == sorted(["10.0.0.0/8", "127.0.0.1"])]' "$ACL"
adm_rc 1 '.' acl remove "$ACL" "$INQ_NAME"     # no such rule any more

# ===========================================================================
# sessions: refuse removals while logged in, --force closes the session
# ===========================================================================
adm_ok lun add "$NEW" 2 --backing ram --size 16M
# iscsi-perf keeps a session on LUN 2 busy for up to 60 s; -x 0: no reconnects
timeout -k 5 90 iscsi-perf -x 0 -t 60 "iscsi://$IT_PORTAL/$NEW/2" >"$IT_TMP/perf.out" 2>&1 &
perf_pid=$!
BG_PIDS+=("$perf_pid")
wait_sessions "$NEW" 1
adm_ok session list
it_expect_match "session list shows the session" "$ADM_OUT" "$(ere "$NEW") +iqn\\.2010-11\\.libiscsi:iscsi-perf "
adm_ok session list --json
json_check '[s for s in j if s["target"] == a[0] and s["type"] == "normal"
  and s["initiator"] == "iqn.2010-11.libiscsi:iscsi-perf" and s["peer"].startswith("127.0.0.1:")
  and s["local"] == a[1]]' "$NEW" "$IT_PORTAL"
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0] and t["sessions"] == 1]' "$NEW"

adm_rc 1 'session.*--force' lun remove "$NEW" 1
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0] and 1 in [l["lun"] for l in t["luns"]]]' "$NEW"
adm_ok lun remove "$NEW" 1 --force
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0] and [l["lun"] for l in t["luns"]] == [0, 2]]' "$NEW"
adm_rc 1 'no LUN 1|LUN 1' lun remove "$NEW" 1 --force   # gone now
it_pid_running "$perf_pid" || it_fail "iscsi-perf on LUN 2 ended when LUN 1 was removed: $(cat "$IT_TMP/perf.out")"
[ "$(sessions_of "$NEW")" = 1 ] || it_fail "the session ended when LUN 1 was removed"

adm_rc 1 'session.*--force' target remove "$NEW"
adm_ok target list --json
json_check '[t for t in j if t["iqn"] == a[0]]' "$NEW"
it_pid_running "$perf_pid" || it_fail "iscsi-perf ended after a refused target remove"
t0=$SECONDS
adm_ok target remove "$NEW" --force
# the daemon closes the session: the client ends well before its 60 s
deadline=$((SECONDS + 15))
while it_pid_running "$perf_pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
it_pid_running "$perf_pid" && it_fail "iscsi-perf still running 15 s after target remove --force"
wait "$perf_pid" 2>/dev/null || true
BG_PIDS=()
[ "$(sessions_of "$NEW")" = 0 ] || it_fail "session list still shows sessions of the removed target"
adm_ok target list --json
json_check 'not [t for t in j if t["iqn"] == a[0]]' "$NEW"
it_log "target remove --force closed the session (client ended after $((SECONDS - t0)) s)"
out=$(it_capture iscsi-ls -s "iscsi://$IT_PORTAL") || exit 1
if grep -q "$(ere "$NEW")" <<<"$out"; then it_fail "removed target still in SendTargets"; fi

# ===========================================================================
# portal groups: the --portal of it_start_daemon is in group 1; set-state
# changes its ALUA state (an initiator sees it in INQUIRY VPD 0x83 / RTPG
# and gets a unit attention: it-alua and unit-alua check that)
# ===========================================================================
adm_ok portal-group list
it_expect_match "portal-group list" "$ADM_OUT" "^1 +active/optimized +127\.0\.0\.1:$IT_PORT\$"
adm_ok portal-group set-state 1 active/non-optimized
adm_ok portal-group list --json
json_check 'j[0]["tag"] == 1 and j[0]["state"] == "active/non-optimized"'
adm_rc 1 'no portal group 9' portal-group set-state 9 standby
adm_rc 1 "bad state 'offline'" portal-group set-state 1 offline
adm_rc 2 'bad portal group tag' portal-group set-state 0 standby
adm_ok portal-group set-state 1 active/optimized

# ===========================================================================
# errors
# ===========================================================================
NOSUCH="$IT_IQN_PREFIX:no-such-target"
adm_rc 1 "$(ere "$NOSUCH")" target remove "$NOSUCH"
adm_rc 1 "$(ere "$NOSUCH")" target show "$NOSUCH"
adm_rc 1 "$(ere "$NOSUCH")" lun add "$NOSUCH" 1 --backing ram --size 1M
adm_rc 1 "$(ere "$NOSUCH")" acl add "$NOSUCH" ALL
adm_rc 1 '.' target add "$IT_IQN"                    # exists already
adm_rc 2 '.' target add                              # missing IQN
adm_rc 2 '.' lun add "$IT_IQN" notanumber --controller
adm_rc 2 '.' frobnicate
adm_rc 2 '.' target frobnicate
adm_rc 2 'bogus' target list --bogus
# no daemon at the socket
rc=0
out=$(timeout -k 5 30 "$ADM" -s "$IT_TMP/nothing-here.sock" status 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "ringtgtadm with no daemon exited $rc, expected 1: $out"
it_expect_match "no daemon message" "$out" 'is ringtgtd running\?'
rc=0
out=$(RINGTGT_SOCKET="$IT_TMP/nothing-here.sock" timeout -k 5 30 "$ADM" target list 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "ringtgtadm (RINGTGT_SOCKET, no daemon) exited $rc, expected 1: $out"
it_expect_match "no daemon message (RINGTGT_SOCKET)" "$out" 'nothing-here\.sock.*is ringtgtd running\?'

# the daemon is still fine and still serves the export
it_pid_running "$IT_PID" || it_fail "daemon died"
out=$(it_capture iscsi-readcapacity16 "$IT_URL") || exit 1
it_expect_match "export still served" "$out" "^Total size:$((64 << 20))\$"
