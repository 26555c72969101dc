#!/usr/bin/env bash
# Issue 9 with a real initiator library: libiscsi's iscsi-inq / iscsi-ls
# log in with CHAP from the URL (iscsi://user%secret@host:port/IQN/LUN,
# mutual with ?target_user=U&target_password=P) against accounts set up
# with ringtgtadm. A wrong secret is refused with 0x0201, an initiator
# outside the ACL gets 0x0202 and does not see the target in SendTargets,
# and discovery needs the discovery account once discovery auth is on.
# libiscsi speaks CHAP_A=5 (MD5) only; the other algorithms are covered
# by it-auth and the kernel initiator (tests/e2e).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-ls iscsi-inq

ADM=${RINGTGT_ADM:-}
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
adm() { it_capture "$ADM" --control-socket "$IT_TMP/control.sock" "$@"; }

it_make_image "$IT_TMP/disk0" $((16 * 1024 * 1024))
it_start_daemon "$IT_TMP/disk0"

USER=alice
SECRET=correct-horse-battery
OUT_USER=target-side
OUT_SECRET=another-long-secret
DISCO=disco
DISCO_SECRET=discovery-secret-1
INITIATOR=iqn.2026-11.org.ringtgt:t-chap-initiator
OTHER_IQN=$IT_IQN_PREFIX:t-chap-other
lun1() { echo "iscsi://$1@$IT_PORTAL/$IT_IQN/1${2:-}"; }

# iscsi-inq must fail with login status $2 (libiscsi prints it in decimal;
# the daemon's log lines are rate-limited per source, so not used here)
refused() {
    local what=$1 status=$2 url=$3 rc=0
    timeout -k 5 30 iscsi-inq -i "$INITIATOR" "$url" >"$IT_TMP/out" 2>&1 || rc=$?
    [ $rc != 0 ] || it_fail "$what: iscsi-inq succeeded: $(cat "$IT_TMP/out")"
    grep -q "Status: .*($((status)))" "$IT_TMP/out" ||
        it_fail "$what: not refused with $status: $(cat "$IT_TMP/out")"
    it_log "$what: refused with $status"
}

adm account add "$USER" --secret "$SECRET" >/dev/null
adm account bind "$IT_IQN" "$USER" >/dev/null

# --- one-way CHAP ---------------------------------------------------------------
out=$(it_capture iscsi-inq -i "$INITIATOR" "$(lun1 "$USER%$SECRET")")
it_expect_match "one-way CHAP: INQUIRY of LUN 1" "$out" '^Peripheral Device Type:DIRECT_ACCESS$'
refused "a wrong secret" 0x0201 "$(lun1 "$USER%correct-horse-batterz")"
refused "no credentials" 0x0201 "iscsi://$IT_PORTAL/$IT_IQN/1"
refused "an unknown user" 0x0201 "$(lun1 "mallory%$SECRET")"
if grep -q -e "$SECRET" -e correct-horse-batterz "$IT_LOG"; then
    it_fail "a secret appears in the daemon log"
fi

# --- mutual CHAP ----------------------------------------------------------------
adm account add "$OUT_USER" --secret "$OUT_SECRET" >/dev/null
adm account bind "$IT_IQN" "$OUT_USER" --outgoing >/dev/null
out=$(it_capture iscsi-inq -i "$INITIATOR" \
    "$(lun1 "$USER%$SECRET" "?target_user=$OUT_USER&target_password=$OUT_SECRET")")
it_expect_match "mutual CHAP: INQUIRY of LUN 1" "$out" '^Peripheral Device Type:DIRECT_ACCESS$'
# the initiator refuses a target that does not know the password it expects
rc=0
timeout -k 5 30 iscsi-inq -i "$INITIATOR" \
    "$(lun1 "$USER%$SECRET" "?target_user=$OUT_USER&target_password=not-$OUT_SECRET")" \
    >"$IT_TMP/out" 2>&1 || rc=$?
[ $rc != 0 ] || it_fail "libiscsi accepted a target answering with another secret"

# --- ACL: 0x0202, and not listed by SendTargets --------------------------------
adm target add "$OTHER_IQN" >/dev/null
adm lun add "$OTHER_IQN" 1 --backing ram --size 1M >/dev/null
adm acl add "$OTHER_IQN" iqn.2026-11.org.ringtgt:someone-else >/dev/null
out=$(it_capture iscsi-ls -i "$INITIATOR" "iscsi://$IT_PORTAL")
it_expect_match "SendTargets lists the open target" "$out" "^Target:${IT_IQN//./\\.} "
if grep -q "$OTHER_IQN" <<<"$out"; then
    it_fail "SendTargets listed a target whose ACL leaves the initiator out"
fi
refused "outside the ACL" 0x0202 "iscsi://$IT_PORTAL/$OTHER_IQN/1"

# --- discovery CHAP -------------------------------------------------------------
adm account add "$DISCO" --secret "$DISCO_SECRET" >/dev/null
adm discovery auth chap --account "$DISCO" >/dev/null
rc=0
timeout -k 5 30 iscsi-ls -i "$INITIATOR" "iscsi://$IT_PORTAL" >"$IT_TMP/out" 2>&1 || rc=$?
[ $rc != 0 ] && ! grep -q "^Target:" "$IT_TMP/out" ||
    it_fail "discovery without CHAP listed targets: $(cat "$IT_TMP/out")"
rc=0
timeout -k 5 30 iscsi-ls -i "$INITIATOR" "iscsi://$USER%$SECRET@$IT_PORTAL" >"$IT_TMP/out" 2>&1 || rc=$?
[ $rc != 0 ] && ! grep -q "^Target:" "$IT_TMP/out" ||
    it_fail "a target's account opened a discovery session"
out=$(it_capture iscsi-ls -i "$INITIATOR" "iscsi://$DISCO%$DISCO_SECRET@$IT_PORTAL")
it_expect_match "discovery CHAP lists the target" "$out" "^Target:${IT_IQN//./\\.} "
adm discovery auth none >/dev/null
out=$(it_capture iscsi-ls -i "$INITIATOR" "iscsi://$IT_PORTAL")
it_expect_match "discovery auth none again" "$out" "^Target:${IT_IQN//./\\.} "

# --- nothing shows a secret without --show-secrets -----------------------------
for cmd in "account list" "account list --json" "target show $IT_IQN" "target list --json"; do
    # shellcheck disable=SC2086
    out=$(adm $cmd)
    if grep -q -e "$SECRET" -e "$OUT_SECRET" -e "$DISCO_SECRET" <<<"$out"; then
        it_fail "'ringtgtadm $cmd' printed a secret"
    fi
done
out=$(adm account list --show-secrets)
grep -q "$SECRET" <<<"$out" || it_fail "'account list --show-secrets' did not show the secret"
it_log "CHAP with libiscsi: all checks passed"
