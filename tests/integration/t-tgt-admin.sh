#!/usr/bin/env bash
# tgt-admin against a running ringtgtd (issue 12, items 3 and 4): a tgt
# config directory with includes (Debian's targets.conf -> conf.d/*.conf ->
# Cinder's volumes/*), Cinder's per-volume files written as Cinder writes
# them (a temp directory inside volumes/, then rename), and Cinder's
# commands, unchanged:
#   - tgt-admin -e: the targets of the files (one LUN with write-cache
#     off), the discovery account (incomingdiscoveryuser: discovery then
#     needs CHAP), and a target the files do not have goes, as
#     tgt-admin's remove_targets does;
#   - a second volume: tgt-admin --update IQN;
#   - CHAP login to a volume with libiscsi (captool), a wrong secret refused;
#   - --update IQN without -f on a target with that live session: left
#     alone, says so, exit 0 (the file grew meanwhile: no UA, old size);
#   - --update IQN -f (Cinder's extend): the same session then sees
#     CAPACITY DATA HAS CHANGED (6h/2Ah/09h) once and the new size;
#   - --delete IQN without -f: refused while in use (exit 0, as tgt);
#     --delete IQN -f: gone; the other volume and the static target still
#     served;
#   - --offline ALL: logins refused (0x0300, target error) and the states
#     in target.list; --ready tid=N, --ready IQN, an unknown IQN refused;
#   - a target with initiator-address and initiator-name lines: admitted
#     on either (tgt 1.0.85), real logins by name, refused with 0x0202;
#   - the systemd ExecStop line, --update ALL -c /dev/null -f: no target;
#   - a target's own iSCSI parameter (MaxBurstLength in its block): a
#     login negotiates it; changed in the file, --update IQN -f applies it
#     to the next login while the open session stays.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tgt-lib.sh"

it_init "$@"
it_require python3 truncate iscsi-inq
captool=${RINGTGT_CAPTOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/captool}
[ -x "$captool" ] || it_fail "captool not found (set RINGTGT_CAPTOOL)"
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
tgtadmin=$(dirname "$adm")/tgt-admin
[ -x "$tgtadmin" ] || it_fail "$tgtadmin not found (the build makes it)"

CAPTOOL_PID=""
ST_PID=""
cleanup() {
    if [ -n "$ST_PID" ]; then
        kill -TERM "$ST_PID" 2>/dev/null || true
        wait "$ST_PID" 2>/dev/null || true
    fi
    if [ -n "$CAPTOOL_PID" ]; then
        kill -TERM "$CAPTOOL_PID" 2>/dev/null || true
        wait "$CAPTOOL_PID" 2>/dev/null || true
    fi
}
it_at_exit cleanup

it_make_image "$IT_TMP/export.img" 16M
it_start_daemon "$IT_TMP/export.img"
export RINGTGT_SOCKET=$IT_TMP/control.sock

# ta ARGS...: tgt-admin; output in TA_OUT, status in TA_RC
ta() {
    TA_RC=0
    TA_OUT=$(cd / && timeout -k 5 60 "$tgtadmin" "$@" 2>&1) || TA_RC=$?
    it_log "tgt-admin $*: exit $TA_RC"
    [ -z "$TA_OUT" ] || printf '%s\n' "$TA_OUT" | sed 's/^/    | /'
}
ta_ok() {
    ta "$@"
    [ "$TA_RC" = 0 ] || it_fail "tgt-admin $* exited $TA_RC"
}
# targets: "IQN LUN:PATH:SIZE ... acl=... in=..." a line per target (by name)
targets() {
    local out
    out=$(timeout -k 5 30 "$adm" target list --json) || it_fail "ringtgtadm target list failed"
    python3 -c 'import json, sys
for t in sorted(json.loads(sys.argv[1]), key=lambda t: t["iqn"]):
    print(t["iqn"], *("%d:%s:%d" % (l["lun"], l.get("path"), l.get("size") or 0) for l in t["luns"]),
          "acl=" + ",".join(t["acls"]), "in=" + ",".join(t["incoming_accounts"]))' "$out"
}
expect_targets() {
    local got
    got=$(targets)
    [ "$got" = "$1" ] || it_fail "targets:
$got
expected:
$1"
    it_log "targets as expected"
}

# --- the tgt configuration: Debian's layout with Cinder's include -----------------
ETC=$IT_TMP/etc/tgt
VOLS=$IT_TMP/cinder/volumes
mkdir -p "$ETC/conf.d" "$VOLS"
printf '# Empty targets configuration file\ninclude %s/conf.d/*.conf\n' "$ETC" >"$ETC/targets.conf"
printf 'include %s/*\n' "$VOLS" >"$ETC/conf.d/cinder_tgt.conf"
truncate -s 16M "$IT_TMP/static.img"
STATIC=iqn.2026-11.org.example:static
DISC_USER=discuser DISC_PASS=discsecret123
cat >"$ETC/conf.d/static.conf" <<EOF
default-driver iscsi
incomingdiscoveryuser $DISC_USER $DISC_PASS
<target $STATIC>
    <backing-store $IT_TMP/static.img>
        lun 3
        vendor_id ACME
        write-cache off
    </backing-store>
    initiator-address 127.0.0.1
    MaxBurstLength 131072
</target>
EOF

UUID_A=6a5b1c2e-0d7f-4f10-9a2b-3c4d5e6f7a8b
UUID_B=7b6c2d3f-1e80-4021-8b3c-4d5e6f708192
IQN_A=iqn.2010-10.org.openstack:volume-$UUID_A
IQN_B=iqn.2010-10.org.openstack:volume-$UUID_B
USER_A=Kx9sYq2Lm4Np6Rt8Vw0Z PASS_A=aB3dE5gH7jK9mN1p
USER_B=Zw0V8tR6pN4mL2qY9sxK PASS_B=p1Nm9Kj7Hg5Ed3Ba
truncate -s 16M "$IT_TMP/volume-a" "$IT_TMP/volume-b"

cinder_write "$UUID_A" "$USER_A" "$PASS_A" "$IT_TMP/volume-a"
# the bytes Cinder writes: a blank first line, the absent flags line is 4 spaces
[ "$(sed -n 1p "$VOLS/volume-$UUID_A")" = "" ] || it_fail "first line not blank"
[ "$(sed -n 6p "$VOLS/volume-$UUID_A")" = "    " ] || it_fail "line 6 not four spaces"

# --- tgt-admin -e ------------------------------------------------------------
ta_ok -p -e -c "$ETC/targets.conf"
# the export is tid 1: a new target gets the largest tid + 1, as tgt-admin gives it
it_expect_match "-p prints the requests" "$TA_OUT" "^target.add \{\"iqn\":\"$IQN_A\",\"tid\":2\}$"
it_expect_match "-p masks the secret" "$TA_OUT" "^account.add \{\"name\":\"$USER_A\",\"secret\":\"\*\*\*\"\}$"
grep -q -- "$PASS_A" <<<"$TA_OUT" && it_fail "the secret was printed"
expect_targets "$IT_IQN 0:None:0 1:$IT_TMP/export.img:16777216 acl=ALL in="	# -p changed nothing
ta_ok -e -c "$ETC/targets.conf"
expect_targets "$IQN_A 0:None:0 1:$IT_TMP/volume-a:16777216 acl=ALL in=$USER_A
$STATIC 0:None:0 3:$IT_TMP/static.img:16777216 acl=127.0.0.1 in="

# write-cache off: the LUN's write cache is off (WCE=0), Cinder's "on" stays on
wc=$(timeout -k 5 30 "$adm" target list --json | python3 -c 'import json, sys
print(*("%s/%d=%s" % (t["iqn"], l["lun"], l["write_cache"]) for t in json.load(sys.stdin)
        for l in t["luns"] if l["lun"]))')
[ "$wc" = "$IQN_A/1=True $STATIC/3=False" ] || [ "$wc" = "$STATIC/3=False $IQN_A/1=True" ] ||
    it_fail "write caches: $wc"
it_log "write caches: $wc"

# discovery now asks for CHAP with the discovery account
rc=0
timeout -k 5 30 iscsi-ls "iscsi://$IT_PORTAL" >"$IT_TMP/out" 2>&1 || rc=$?
[ $rc != 0 ] && ! grep -q "^Target:" "$IT_TMP/out" ||
    it_fail "discovery without CHAP listed targets: $(cat "$IT_TMP/out")"
out=$(timeout -k 5 30 iscsi-ls "iscsi://$DISC_USER%$DISC_PASS@$IT_PORTAL" 2>&1) ||
    it_fail "discovery with incomingdiscoveryuser's account failed: $out"
it_expect_match "discovery CHAP lists the static target" "$out" "^Target:${STATIC//./\\.} "

# --- the static target's own MaxBurstLength ------------------------------------
# tgt-admin passes it to tgtadm --mode target --op update; a login offering
# 262144 (libiscsi, which prints the target's answer) gets the smaller
# (RFC 7143 §13.13)
static_burst() {
    LIBISCSI_DEBUG=10 timeout -k 5 30 iscsi-inq "iscsi://$IT_PORTAL/$STATIC/3" >"$IT_TMP/inq" 2>&1 ||
        it_fail "login to $STATIC: $(tail -n 3 "$IT_TMP/inq")"
    grep -o 'TargetLoginReply: MaxBurstLength=[0-9]*' "$IT_TMP/inq" | cut -d= -f2
}
static_sessions() {
    timeout -k 5 30 "$adm" session list --json | python3 -c 'import json, sys
print(*sorted(s["tsih"] for s in json.load(sys.stdin) if s["target"] == sys.argv[1]))' "$STATIC"
}
burst=$(static_burst)
[ "$burst" = 131072 ] || it_fail "$STATIC: MaxBurstLength $burst at login, want 131072"
rc=0
cap_start "$IT_TMP/st" "iscsi://$IT_PORTAL/$STATIC/3" 8 "tur 3" || rc=$?
ST_PID=$CAP_STARTED
[ $rc = 0 ] || it_fail "captool on $STATIC: $(cat "$IT_TMP/st.out")"
st_before=$(static_sessions)
[ -n "$st_before" ] || it_fail "no session on $STATIC"
sed -i 's/MaxBurstLength 131072/MaxBurstLength 65536/' "$ETC/conf.d/static.conf"
ta_ok --update "$STATIC" -f -c "$ETC/targets.conf"
burst=$(static_burst)
[ "$burst" = 65536 ] || it_fail "$STATIC: MaxBurstLength $burst after --update -f, want 65536"
[ "$(static_sessions)" = "$st_before" ] || it_fail "$STATIC's session changed: $(static_sessions), was $st_before"
echo "tur 3" >&8
sleep 0.5
[ "$(tail -n 1 "$IT_TMP/st.out")" = GOOD ] || it_fail "the open session on $STATIC: $(tail -n 1 "$IT_TMP/st.out")"
exec 8>&-
wait "$ST_PID" 2>/dev/null || true
ST_PID=""
it_log "$STATIC: MaxBurstLength 131072, then 65536 after --update -f; session $st_before stayed"

# --- a second volume: tgt-admin --update IQN -----------------------------------
cinder_write "$UUID_B" "$USER_B" "$PASS_B" "$IT_TMP/volume-b"
ta_ok --update "$IQN_B" -c "$ETC/targets.conf"
expect_targets "$IQN_A 0:None:0 1:$IT_TMP/volume-a:16777216 acl=ALL in=$USER_A
$IQN_B 0:None:0 1:$IT_TMP/volume-b:16777216 acl=ALL in=$USER_B
$STATIC 0:None:0 3:$IT_TMP/static.img:16777216 acl=127.0.0.1 in="

# Cinder's _get_target / _verify_backing_lun: tgt-admin --show runs the
# tgtadm beside it
[ -x "$(dirname "$adm")/tgtadm" ] || it_fail "$(dirname "$adm")/tgtadm not found (the build makes it)"
ta_ok --show
it_expect_match "--show: the target line" "$TA_OUT" "^Target [0-9]+: $IQN_B\$"
it_expect_match "--show: LUN 1" "$TA_OUT" "^        LUN: 1\$"

# --- CHAP: the right secret logs in, a wrong one does not -------------------------
out=$(iscsi-inq "iscsi://$USER_B%$PASS_B@$IT_PORTAL/$IQN_B/1" 2>&1) ||
    it_fail "CHAP login to volume B failed: $out"
if out=$(iscsi-inq "iscsi://$USER_B%not-$PASS_B@$IT_PORTAL/$IQN_B/1" 2>&1); then
    it_fail "a wrong CHAP secret logged in: $out"
fi
it_log "CHAP: right secret admitted, wrong one refused"

# --- one session on volume A across the updates ------------------------------------
coproc CAP { exec "$captool" "iscsi://$USER_A%$PASS_A@$IT_PORTAL/$IQN_A/1" 2>&1; }
CAPTOOL_PID=$CAP_PID
cap_do() {
    printf '%s\n' "$1" >&"${CAP[1]}"
    read -r -t 30 REPLY <&"${CAP[0]}" || it_fail "captool: no answer to '$1' within 30 s"
}
cap_expect() {
    cap_do "$1"
    [ "$REPLY" = "$2" ] || it_fail "captool '$1': '$REPLY', expected '$2'"
    it_log "captool '$1': $REPLY"
}
read -r -t 30 REPLY <&"${CAP[0]}" || it_fail "captool did not log in within 30 s"
[ "$REPLY" = READY ] || it_fail "captool: $REPLY"
cap_expect "tur 1" GOOD
cap_expect "cap 1" "CAP 32768 512"
session_id() {
    local out
    out=$(timeout -k 5 30 "$adm" session list --json) || it_fail "session list failed"
    python3 -c 'import json, sys
s = [s for s in json.loads(sys.argv[1]) if s["target"] == sys.argv[2]]
print(len(s), *("%s %s" % (x["tsih"], x["peer"]) for x in s))' "$out" "$IQN_A"
}
sess_before=$(session_id)
case "$sess_before" in "1 "*) ;; *) it_fail "expected one session on A: $sess_before" ;; esac

# Cinder's extend: lvextend (here: the file grows), then --update IQN -f.
truncate -s 32M "$IT_TMP/volume-a"
# first without -f: tgt leaves a target in use alone, says so, exits 0
ta_ok --update "$IQN_A" -c "$ETC/targets.conf"
it_expect_match "--update without -f" "$TA_OUT" "^# Target with tid [0-9]+ \($IQN_A\) is in use, it won't be updated\.$"
cap_expect "tur 1" GOOD			# nothing changed: no unit attention
cap_expect "cap 1" "CAP 32768 512"
ta_ok --update "$IQN_A" -f -c "$ETC/targets.conf"
cap_expect "tur 1" "CHECK 6/2a/09"	# CAPACITY DATA HAS CHANGED, once
cap_expect "tur 1" GOOD
cap_expect "cap 1" "CAP 65536 512"
cap_expect "write 1 65535" GOOD
[ "$(session_id)" = "$sess_before" ] || it_fail "the session changed: $(session_id), was $sess_before"
it_log "the session stayed across --update -f: ${sess_before#1 }"

# --- delete ------------------------------------------------------------------------
ta_ok --delete "$IQN_A"
it_expect_match "--delete without -f" "$TA_OUT" "^# Target with tid [0-9]+ \($IQN_A\) is in use, it won't be deleted\.$"
cap_expect "tur 1" GOOD
rm "$VOLS/volume-$UUID_A"		# Cinder's remove_iscsi_target
ta_ok --delete "$IQN_A" -f
cap_do "tur 1"
# the connection is gone: libiscsi reports an error or a cancelled task
case "$REPLY" in ERROR*|"STATUS 0xf000000") it_log "captool after the delete: $REPLY" ;;
    *) it_fail "the session on the deleted target answered: $REPLY" ;; esac
printf 'quit\n' >&"${CAP[1]}" 2>/dev/null || true
wait "$CAPTOOL_PID" 2>/dev/null || true
CAPTOOL_PID=""
expect_targets "$IQN_B 0:None:0 1:$IT_TMP/volume-b:16777216 acl=ALL in=$USER_B
$STATIC 0:None:0 3:$IT_TMP/static.img:16777216 acl=127.0.0.1 in="
out=$(iscsi-inq "iscsi://$USER_B%$PASS_B@$IT_PORTAL/$IQN_B/1" 2>&1) ||
    it_fail "volume B is not served after A went: $out"
out=$(iscsi-inq "iscsi://$IT_PORTAL/$STATIC/3" 2>&1) || it_fail "the static target is not served: $out"
it_expect_match "static LUN 3 INQUIRY" "$out" "ACME"
# a second delete: Cinder tolerates "does not exist"
ta_ok --delete "$IQN_A" -f

# --- --offline / --ready (Debian's tgt.service ExecStop: --offline ALL) -------------
states() {
    timeout -k 5 30 "$adm" target list --json | python3 -c 'import json, sys
print(*("%s=%s" % (t["iqn"], t["state"]) for t in sorted(json.load(sys.stdin), key=lambda t: t["iqn"])))'
}
ta_ok --offline ALL
[ "$(states)" = "$IQN_B=offline $STATIC=offline" ] || it_fail "after --offline ALL: $(states)"
if out=$(timeout -k 5 30 iscsi-inq "iscsi://$USER_B%$PASS_B@$IT_PORTAL/$IQN_B/1" 2>&1); then
    it_fail "a login to an offline target succeeded: $out"
fi
it_expect_match "an offline target's login status" "$out" "Status: Target error\(768\)"
tid_b=$(timeout -k 5 30 "$adm" target list --json | python3 -c 'import json, sys
print(*(t["tid"] for t in json.load(sys.stdin) if t["iqn"] == sys.argv[1]))' "$IQN_B")
ta_ok --ready "tid=$tid_b"
[ "$(states)" = "$IQN_B=ready $STATIC=offline" ] || it_fail "after --ready tid=$tid_b: $(states)"
out=$(timeout -k 5 30 iscsi-inq "iscsi://$USER_B%$PASS_B@$IT_PORTAL/$IQN_B/1" 2>&1) ||
    it_fail "no login to volume B once ready: $out"
ta --ready iqn.2026-11.org.example:nosuch
[ "$TA_RC" = 1 ] || it_fail "--ready of an unknown target: exit $TA_RC, expected 1"
it_expect_match "--ready of an unknown target" "$TA_OUT" '^There is no target with name "iqn\.2026-11\.org\.example:nosuch", can.t ready it!$'
ta_ok --ready "$STATIC"
[ "$(states)" = "$IQN_B=ready $STATIC=ready" ] || it_fail "after --ready $STATIC: $(states)"
out=$(timeout -k 5 30 iscsi-inq "iscsi://$IT_PORTAL/$STATIC/3" 2>&1) || it_fail "the static target once ready: $out"

# --- what ringtgt cannot do is refused, the other targets untouched ------------------
printf '<target iqn.2026-11.org.example:bad>\n    backing-store %s\n    mode_page 0x1c:0:10:8:0:0:0:0:0:0:0:0:0\n</target>\n' \
    "$IT_TMP/static.img" >"$ETC/conf.d/zz-bad.conf"
ta --update iqn.2026-11.org.example:bad -c "$ETC/targets.conf"
[ "$TA_RC" = 1 ] || it_fail "a mode_page 1Ch target: exit $TA_RC, expected 1"
it_expect_match "refusal" "$TA_OUT" "zz-bad.conf:3: target iqn.2026-11.org.example:bad: mode_page: ringtgt serves mode pages 01h .*; not page 1Ch subpage 00h$"
rm "$ETC/conf.d/zz-bad.conf"

# --- initiator-address and initiator-name together: tgt 1.0.85 admits an initiator
# whose address OR name matches (usr/iscsi/iscsid.c login_start), ringtgt alike ------
ACL_IQN=iqn.2026-11.org.example:acl
NAMED=iqn.2026-12.org.example:named
truncate -s 8M "$IT_TMP/acl.img"
acl_conf() {
    printf '<target %s>\n    backing-store %s\n    initiator-address %s\n    initiator-name %s\n</target>\n' \
        "$ACL_IQN" "$IT_TMP/acl.img" "$1" "$NAMED" >"$ETC/conf.d/acl.conf"
}
# acl_login NAME: a login to the target as NAME from 127.0.0.1 (status 0 or not)
acl_login() {
    timeout -k 5 30 iscsi-inq -i "$1" "iscsi://$IT_PORTAL/$ACL_IQN/1" >"$IT_TMP/acl.out" 2>&1
}
acl_conf 192.0.2.1
ta_ok --update "$ACL_IQN" -c "$ETC/targets.conf"
expect_targets "$IQN_B 0:None:0 1:$IT_TMP/volume-b:16777216 acl=ALL in=$USER_B
$ACL_IQN 0:None:0 1:$IT_TMP/acl.img:8388608 acl=192.0.2.1,$NAMED in=
$STATIC 0:None:0 3:$IT_TMP/static.img:16777216 acl=127.0.0.1 in="
acl_login "$NAMED" || it_fail "the named initiator from another address was refused: $(cat "$IT_TMP/acl.out")"
if acl_login iqn.2026-12.org.example:other; then
    it_fail "an initiator matching neither rule logged in"
fi
# RFC 7143 §11.13.5: 0x0202, the initiator is not allowed access
grep -q 'Status: Authorization failure(514)' "$IT_TMP/acl.out" ||
    it_fail "the refusal's status: $(cat "$IT_TMP/acl.out")"
# the address now matches: any name gets in
acl_conf 127.0.0.1
ta_ok --update "$ACL_IQN" -c "$ETC/targets.conf"
acl_login iqn.2026-12.org.example:other ||
    it_fail "an initiator from the allowed address was refused: $(cat "$IT_TMP/acl.out")"
it_log "initiator-address and initiator-name: admitted on either, as tgt 1.0.85"
rm "$ETC/conf.d/acl.conf"

# --- systemd's ExecStop: tgt-admin --update ALL -c /dev/null -f --------------------------
ta_ok --update ALL -c /dev/null -f
expect_targets ""

it_stop_daemon || it_fail "ringtgtd did not stop cleanly"
