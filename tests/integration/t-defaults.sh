#!/usr/bin/env bash
# Safe defaults (issue 9, item 5), in a network namespace the test creates
# (lo, plus a dummy or veth interface with 192.0.2.1/24, TEST-NET-1), so
# the daemon may listen on wildcard addresses and port 3260 without
# touching the host's network:
#
#  - a config without portals: one listener, [::]:3260 dual-stack, even
#    with net.ipv6.bindv6only=1 (IPV6_V6ONLY cleared explicitly); IPv4
#    discovery (iscsi-ls over 127.0.0.1 and 192.0.2.1) gets TargetAddress
#    as plain a.b.c.d:3260, IPv6 (::1) as [::1]:3260; no ::ffff: in the
#    log; a warning names the ALL-ACL target without CHAP, none names the
#    address-restricted one nor the ALL-ACL one with an incoming account;
#  - without IPv6 (socket(AF_INET6) failing EAFNOSUPPORT, as with
#    ipv6.disable=1: no_ipv6.py's seccomp filter) the default portal is
#    0.0.0.0:3260, said in an info line;
#  - an explicit "[::]:3261" stays IPv6 only (exactly as given);
#  - --export without --portal and without a config: 127.0.0.1:3260 only,
#    192.0.2.1:3260 refuses, no warning; with --portal 192.0.2.1:3260 the
#    warning names that portal;
#  - the control socket: mode 0600, root only; a non-root peer that gets
#    through the file mode (socket chmod 0666) is answered "permission
#    denied" and logged with its pid and uid; with control_group =
#    "nogroup" the socket is 0660 root:nogroup and a peer whose gid or a
#    supplementary group is nogroup is served, one without is refused;
#    an unknown group stops the daemon at start.
#
# core_targets_open()'s unit test (tests/unit/test_core_open.c) covers the
# other cases (outgoing account only, discovery CHAP, unbinding).
#
# Needs root (unshare -n, setpriv to another uid): without it, or when
# unshare is refused, the test fails (RINGTGT_IT_ALLOW_SKIP=1 skips).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "${RINGTGT_IT_IN_NETNS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] ||
        it_unavailable "t-defaults needs root (unshare -n for a network namespace, setpriv)"
    command -v unshare >/dev/null || it_unavailable "unshare (util-linux) is not installed"
    unshare -n true ||
        it_fail "unshare -n failed as root: cannot create a network namespace"
    RINGTGT_IT_IN_NETNS=1 exec unshare -n -- bash "$0" "$@"
fi

it_init "$@"
[ "$IT_TARGET" = ringtgtd ] || it_skip "t-defaults tests ringtgtd itself (RINGTGT_IT_TARGET=$IT_TARGET)"
it_require ip ss iscsi-ls setpriv stat getent sysctl python3

ADM=${RINGTGT_ADM:-}
if [ -z "$ADM" ]; then
    ADM="$(dirname "$IT_RINGTGTD")/tools/ringtgtadm"
    [ -x "$ADM" ] || ADM=$(command -v ringtgtadm || true)
fi
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"

# --- the namespace's network ---------------------------------------------
ip link set lo up
if ip link add d0 type dummy 2>/dev/null; then
    ip link set d0 up
    ip addr add 192.0.2.1/24 dev d0
else    # a kernel without the dummy driver: a veth pair does as well
    ip link add d0 type veth peer name d1 ||
        it_fail "cannot create a dummy or veth interface in the namespace"
    ip link set d0 up
    ip link set d1 up
    ip addr add 192.0.2.1/24 dev d0
fi
# IPv6 sockets default to IPv6 only here: the default portal must say so
sysctl -qw net.ipv6.bindv6only=1
it_log "namespace: $(ip -br addr | tr -s ' ' | paste -sd ';')"

# --- a uid and the files it needs ------------------------------------------
# The control socket's directory and a copy of ringtgtadm must be
# reachable by uid 65534 (the checkout may be in a private home).
chmod 0711 "$IT_TMP"
mkdir -m 0755 "$IT_TMP/run" "$IT_TMP/bin"
cp "$ADM" "$IT_TMP/bin/ringtgtadm"
chmod 0755 "$IT_TMP/bin/ringtgtadm"
CTL="$IT_TMP/run/ctl.sock"
NOGROUP=$(getent group nogroup | cut -d: -f3) ||
    it_unavailable "group nogroup does not exist"

adm() { timeout -k 5 30 "$ADM" -s "$CTL" "$@"; }
# as_user SETPRIV-ARGS... -- ringtgtadm status as uid 65534
as_user() {
    timeout -k 5 30 setpriv --reuid=65534 "$@" "$IT_TMP/bin/ringtgtadm" -s "$CTL" status 2>&1
}

IMG="$IT_TMP/disk0"
it_make_image "$IMG" 64M
OPEN=$IT_IQN_PREFIX:open
LAN=$IT_IQN_PREFIX:lan
CHAP=$IT_IQN_PREFIX:chap

# df_start ARGS...: starts ringtgtd (IT_PID: lib.sh stops it at exit) and
# waits for its "ready" line; DF_LOGSTART marks where its log begins.
# DF_PREFIX=(...) goes before the command (reset afterwards).
DF_PREFIX=()
df_start() {
    local deadline
    [ -z "$IT_PID" ] || it_fail "df_start: daemon already running (pid $IT_PID)"
    DF_LOGSTART=$(wc -l <"$IT_LOG")
    printf '\n===== %s: starting ringtgtd %s =====\n' "$(date +%T)" "$*" >>"$IT_LOG"
    "${DF_PREFIX[@]}" "$IT_RINGTGTD" --foreground --event-loop "$IT_EVENT_LOOP" \
        --log-level debug --control-socket "$CTL" "$@" >>"$IT_LOG" 2>&1 &
    IT_PID=$!
    DF_PREFIX=()
    deadline=$((SECONDS + IT_START_TIMEOUT))
    until df_log | grep -q ': ringtgtd .* ready$'; do
        it_pid_running "$IT_PID" || it_fail "ringtgtd exited during startup: $*"
        [ $SECONDS -lt $deadline ] ||
            it_fail "ringtgtd not ready within ${IT_START_TIMEOUT}s: $*"
        sleep 0.1
    done
    it_log "started ringtgtd pid $IT_PID: $*"
}
df_stop() {
    it_stop_daemon || it_fail "ringtgtd did not stop cleanly on SIGTERM"
}
df_log() { tail -n "+$((DF_LOGSTART + 1))" "$IT_LOG"; }

# listeners: the local address of every TCP listener, one a line
listeners() { ss -Hltn | awk '{ print $4 }' | sort; }

expect_listeners() {
    local want=$1 got
    got=$(listeners | paste -sd ' ')
    [ "$got" = "$want" ] ||
        it_fail "$2: listening on '$got', expected exactly '$want' (ss -ltn: $(ss -ltn))"
}

connects() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# discover URL: iscsi-ls -s output (SendTargets, then a login to each)
discover() { it_capture iscsi-ls -s "$1"; }

# ===========================================================================
it_log "--- a config without portals: [::]:3260, dual-stack"
cat >"$IT_TMP/noportal.conf" <<EOF
target "$OPEN" {
  lun 1 { path = "$IMG" }
  acl = {"ALL"}
}
target "$LAN" {
  lun 1 { path = "$IMG" }
  acl = {"192.0.2.0/24", "127.0.0.1", "::1"}
}
EOF
df_start --config "$IT_TMP/noportal.conf"
# ss shows a dual-stack [::] listener as "*", an IPv6-only one as "[::]"
expect_listeners "*:3260" "config without portals"

out=$(discover iscsi://127.0.0.1:3260)
it_expect_match "IPv4 discovery ($OPEN)" "$out" "^Target:$OPEN Portal:127\.0\.0\.1:3260,1$"
it_expect_match "IPv4 discovery ($LAN)" "$out" "^Target:$LAN Portal:127\.0\.0\.1:3260,1$"
out=$(discover iscsi://192.0.2.1:3260)
it_expect_match "IPv4 discovery on 192.0.2.1" "$out" "^Target:$OPEN Portal:192\.0\.2\.1:3260,1$"
out=$(discover "iscsi://[::1]:3260")
it_expect_match "IPv6 discovery" "$out" "^Target:$OPEN Portal:\[::1\]:3260,1$"
it_expect_match "IPv6 discovery" "$out" "^Target:$LAN Portal:\[::1\]:3260,1$"
it_expect_match "daemon log: IPv4 peer" "$(df_log)" "session [0-9]+: .* from 127\.0\.0\.1:[0-9]+ on 127\.0\.0\.1:3260"
! df_log | grep -n 'ffff:' ||
    it_fail "the daemon log shows an IPv4 address as IPv4-mapped IPv6 (lines above)"

it_expect_match "warning for the ALL target" "$(df_log)" \
    "warn: portal \[::\]:3260 is reachable from other hosts and serves $OPEN to ALL initiators without CHAP; bind accounts \(ringtgtadm account bind\) or restrict the ACL"
! df_log | grep -n "warn: portal .* serves $LAN " ||
    it_fail "a warning names $LAN, whose ACL does not admit ALL"
df_stop

# (no discovery here: iscsi-ls -s would log in to the CHAP target too)
it_log "--- an ALL target with an incoming account: no warning"
(umask 077 && cat >"$IT_TMP/chap.conf") <<EOF
target "$OPEN" {
  lun 1 { path = "$IMG" }
  acl = {"ALL"}
}
account "alice" { secret = "alice-secret-0123" }
target "$CHAP" {
  lun 1 { path = "$IMG" }
  acl = {"ALL"}
  incoming = {"alice"}
}
EOF
df_start --config "$IT_TMP/chap.conf"
expect_listeners "*:3260" "config without portals"
it_expect_match "warning for the ALL target" "$(df_log)" \
    "warn: portal \[::\]:3260 is reachable from other hosts and serves $OPEN to ALL initiators without CHAP"
! df_log | grep -n "warn: portal .* serves $CHAP " ||
    it_fail "a warning names $CHAP, which requires CHAP (incoming account alice)"
df_stop

it_log "--- without IPv6: the default portal is 0.0.0.0:3260"
DF_PREFIX=(python3 "$IT_DIR/no_ipv6.py")
df_start --config "$IT_TMP/noportal.conf"
expect_listeners "0.0.0.0:3260" "config without portals, no IPv6"
it_expect_match "fallback logged" "$(df_log)" \
    "info: IPv6 is not available \(Address family not supported by protocol\): listening on IPv4 only"
out=$(discover iscsi://192.0.2.1:3260)
it_expect_match "IPv4 discovery without IPv6" "$out" "^Target:$OPEN Portal:192\.0\.2\.1:3260,1$"
it_expect_match "warning for 0.0.0.0:3260" "$(df_log)" \
    "warn: portal 0\.0\.0\.0:3260 is reachable from other hosts and serves $OPEN to ALL initiators without CHAP"
df_stop

it_log "--- an explicit [::]:3261 stays IPv6 only"
cat >"$IT_TMP/v6only.conf" <<EOF
portal = {"[::]:3261"}
EOF
df_start --config "$IT_TMP/v6only.conf"
expect_listeners "[::]:3261" "explicit [::]:3261"
connects ::1 3261 || it_fail "[::]:3261 does not accept ::1"
! connects 127.0.0.1 3261 || it_fail "an explicit [::]:3261 accepts IPv4 (it must stay IPv6 only)"
df_stop

# ===========================================================================
it_log "--- --export without --portal: 127.0.0.1:3260 only"
df_start --export "$IMG,iqn=$OPEN"
expect_listeners "127.0.0.1:3260" "--export without --portal"
! connects 192.0.2.1 3260 || it_fail "--export without --portal accepts on 192.0.2.1:3260"
out=$(discover iscsi://127.0.0.1:3260)
it_expect_match "--export discovery" "$out" "^Target:$OPEN Portal:127\.0\.0\.1:3260,1$"
! df_log | grep -n 'warn: portal ' || it_fail "a warning for a loopback-only portal"
df_stop

it_log "--- --export on 192.0.2.1: the warning"
df_start --export "$IMG,iqn=$OPEN" --portal 192.0.2.1:3260
it_expect_match "warning for --export on 192.0.2.1" "$(df_log)" \
    "warn: portal 192\.0\.2\.1:3260 is reachable from other hosts and serves $OPEN to ALL initiators without CHAP"
df_stop

# ===========================================================================
it_log "--- control socket: root only by default"
printf 'portal = {"127.0.0.1:3260"}\n' >"$IT_TMP/nogroup.conf"
df_start --config "$IT_TMP/nogroup.conf"
mode=$(stat -c '%a %U %G' "$CTL")
[ "$mode" = "600 root root" ] || it_fail "control socket is '$mode', expected '600 root root'"
adm status >/dev/null || it_fail "root cannot use the control socket"
rc=0; out=$(as_user --regid=65534 --clear-groups) || rc=$?
[ $rc != 0 ] || it_fail "uid 65534 used a 0600 root control socket: $out"
# past the file mode (as a chmod by hand would let it): the daemon says no
chmod 0666 "$CTL"
rc=0; out=$(as_user --regid=65534 --clear-groups) || rc=$?
[ $rc = 1 ] && [ "$out" = "ringtgtadm: permission denied" ] ||
    it_fail "uid 65534 through a 0666 socket: status $rc, '$out' (expected 1, 'ringtgtadm: permission denied')"
it_expect_match "refusal logged" "$(df_log)" \
    "warn: control socket: refused pid [0-9]+ uid 65534 gid 65534: not root and no control_group set"
adm status >/dev/null || it_fail "root cannot use the control socket after a refusal"
df_stop

it_log "--- control socket: control_group = \"nogroup\""
cat >"$IT_TMP/group.conf" <<EOF
portal = {"127.0.0.1:3260"}
control_group = "nogroup"
EOF
df_start --config "$IT_TMP/group.conf"
mode=$(stat -c '%a %U %G' "$CTL")
[ "$mode" = "660 root nogroup" ] || it_fail "control socket is '$mode', expected '660 root nogroup'"
out=$(as_user --regid="$NOGROUP" --clear-groups) ||
    it_fail "uid 65534 gid nogroup refused by a control_group = nogroup daemon: $out"
it_expect_match "status as gid nogroup" "$out" "^ringtgtd "
out=$(as_user --regid=12345 --groups="4,$NOGROUP") ||
    it_fail "uid 65534 with nogroup as a supplementary group refused: $out"
it_expect_match "status as member of nogroup" "$out" "^ringtgtd "
chmod 0666 "$CTL"
# other supplementary groups, none of them nogroup
rc=0; out=$(as_user --regid=12345 --groups=4,5) || rc=$?
[ $rc = 1 ] && [ "$out" = "ringtgtadm: permission denied" ] ||
    it_fail "uid 65534 outside nogroup: status $rc, '$out' (expected 1, 'ringtgtadm: permission denied')"
it_expect_match "refusal logged" "$(df_log)" \
    "warn: control socket: refused pid [0-9]+ uid 65534 gid 12345: not root nor in control_group"
df_stop

it_log "--- control socket: an unknown control_group stops the daemon"
printf 'portal = {"127.0.0.1:3260"}\ncontrol_group = "no-such-group-9z"\n' >"$IT_TMP/badgroup.conf"
rc=0
out=$(timeout -k 5 30 "$IT_RINGTGTD" --foreground --config "$IT_TMP/badgroup.conf" \
    --control-socket "$CTL" 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "unknown control_group: exit status $rc, expected 1; output: $out"
it_expect_match "unknown control_group" "$out" 'control_group "no-such-group-9z": no such group'
[ ! -e "$CTL" ] || it_fail "the control socket is left behind after a failed start"

it_log "all parts passed"
