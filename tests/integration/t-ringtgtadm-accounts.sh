#!/usr/bin/env bash
# ringtgtadm's CHAP account commands against a running ringtgtd (issue 9):
#  - account add with --secret S, --secret - (one line from stdin) and
#    --random (the secret printed once, on stdout, 16+ printable
#    characters, a new one each time); a short secret draws a warning on
#    stderr and still works;
#  - account bind / unbind (incoming and --outgoing) to the exported
#    target, discovery auth chap|mutual|none with --account / --outgoing,
#    target chap-algorithms;
#  - account list (table, --json), target show / list (text, --json) name
#    the accounts but never print a secret; only --show-secrets does; the
#    daemon's log (debug level) never holds one;
#  - refusals: account remove while bound (until --force), a second
#    outgoing account, unknown accounts and targets, bad modes/algorithms.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
[ "$IT_TARGET" = ringtgtd ] || it_skip "t-ringtgtadm-accounts needs ringtgtd (RINGTGT_IT_TARGET=$IT_TARGET)"
it_require python3 timeout

ADM=${RINGTGT_ADM:-}
if [ -z "$ADM" ]; then
    ADM="$(dirname "$IT_RINGTGTD")/tools/ringtgtadm"
    [ -x "$ADM" ] || ADM=$(command -v ringtgtadm || true)
fi
[ -n "$ADM" ] && [ -x "$ADM" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
CTL="$IT_TMP/control.sock"

it_make_image "$IT_TMP/disk0" 16M
it_start_daemon "$IT_TMP/disk0"
trap it_on_exit EXIT

# adm ARGS...: ringtgtadm, bounded; stdout in ADM_OUT, stderr in ADM_ERR,
# status in ADM_RC; never fails by itself
adm() {
    ADM_RC=0
    ADM_OUT=$(timeout -k 5 30 "$ADM" -s "$CTL" "$@" 2>"$IT_TMP/adm.err") || ADM_RC=$?
    ADM_ERR=$(cat "$IT_TMP/adm.err")
    [ "$ADM_RC" != 124 ] || it_fail "ringtgtadm $* timed out"
}
adm_ok() {
    adm "$@"
    [ "$ADM_RC" = 0 ] || it_fail "'ringtgtadm $*' exited $ADM_RC: $ADM_OUT $ADM_ERR"
}
# adm_rc WANT ERE ARGS...: must exit WANT with stderr matching ERE
adm_rc() {
    local want=$1 ere=$2
    shift 2
    adm "$@"
    [ "$ADM_RC" = "$want" ] ||
        it_fail "'ringtgtadm $*' exited $ADM_RC, expected $want; stderr: $ADM_ERR"
    it_expect_match "ringtgtadm $* message" "$ADM_ERR" "$ere"
}
json_check() {
    local expr=$1
    shift
    python3 - "$ADM_OUT" "$expr" "$@" <<'PY' || it_fail "JSON check failed: $expr ($*) on: $ADM_OUT"
import json, sys
j = json.loads(sys.argv[1])
a = sys.argv[3:]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
ere() { printf '%s' "${1//./\\.}"; }

S_ALICE="alice-secret-0123456789"
S_CAROL="carol-from-stdin-987654"
S_TGT="target-secret-abcdefghij"
S_SHORT="qz9short"
SECRETS=()
# no_secret WHAT: neither stdout nor stderr of the last call holds a secret
no_secret() {
    local s
    for s in "${SECRETS[@]}"; do
        case "$ADM_OUT$ADM_ERR" in
        *"$s"*) it_fail "$1 printed a secret without --show-secrets: $ADM_OUT $ADM_ERR" ;;
        esac
    done
}

# ===========================================================================
# account add
# ===========================================================================
adm_ok account add alice --secret "$S_ALICE"
[ -z "$ADM_OUT$ADM_ERR" ] || it_fail "account add --secret printed: $ADM_OUT $ADM_ERR"
ADM_RC=0
ADM_OUT=$(printf '%s\nnot this line\n' "$S_CAROL" |
          timeout -k 5 30 "$ADM" -s "$CTL" account add carol --secret - 2>&1) || ADM_RC=$?
[ "$ADM_RC" = 0 ] || it_fail "account add --secret - exited $ADM_RC: $ADM_OUT"
adm_ok account add tgt --secret "$S_TGT"
adm_ok account add shorty --secret "$S_SHORT"
it_expect_match "short secret warning on stderr" "$ADM_ERR" '^ringtgtadm: warning: account shorty: the secret is shorter than 12'
[ -z "$ADM_OUT" ] || it_fail "account add (short) printed on stdout: $ADM_OUT"
adm_ok account add rnd --random
S_RND=$ADM_OUT
[ "$(wc -l <<<"$S_RND")" = 1 ] || it_fail "--random printed more than one line: $S_RND"
[[ "$S_RND" =~ ^[[:graph:]]{16,}$ ]] || it_fail "--random secret '$S_RND' is not 16+ printable characters"
adm_ok account add rnd2 --random
[ "$ADM_OUT" != "$S_RND" ] || it_fail "two --random secrets are equal"
S_RND2=$ADM_OUT
SECRETS=("$S_ALICE" "$S_CAROL" "$S_TGT" "$S_SHORT" "$S_RND" "$S_RND2")
it_log "account add: --secret, --secret -, --random (${#S_RND} characters), short-secret warning"

adm_rc 1 'account alice already exists' account add alice --secret "$S_ALICE"
no_secret "account add (duplicate)"
adm_rc 2 'give --secret' account add nosecret
adm_rc 1 'account name' account add "bad,name" --secret "$S_ALICE"

# ===========================================================================
# bindings, discovery, algorithms
# ===========================================================================
adm_ok account bind "$IT_IQN" alice
adm_ok account bind "$IT_IQN" carol
adm_ok account bind "$IT_IQN" tgt --outgoing
adm_rc 1 'tgt is the outgoing account' account bind "$IT_IQN" rnd2 --outgoing
adm_rc 1 'no account nobody' account bind "$IT_IQN" nobody
adm_rc 1 "$(ere "$IT_IQN_PREFIX:nosuch")" account bind "$IT_IQN_PREFIX:nosuch" alice
adm_rc 1 'needs an incoming account' discovery auth chap
adm_ok discovery auth chap --account rnd --account shorty
adm_ok discovery auth mutual --account rnd --outgoing rnd2
adm_rc 2 'bad mode' discovery auth always
adm_ok target chap-algorithms "$IT_IQN" SHA256,sha3-256
adm_rc 1 "unknown CHAP algorithm 'SHA512'" target chap-algorithms "$IT_IQN" SHA512

# ===========================================================================
# what is shown: names always, secrets only with --show-secrets
# ===========================================================================
adm_ok target show "$IT_IQN"
no_secret "target show"
it_expect_match "target show: incoming accounts" "$ADM_OUT" '^ +Incoming accounts: alice, carol$'
it_expect_match "target show: outgoing account" "$ADM_OUT" '^ +Outgoing account: tgt$'
it_expect_match "target show: algorithms" "$ADM_OUT" '^ +Algorithms: SHA256,SHA3-256$'
adm_ok target list
no_secret "target list"
adm_ok target list --json
no_secret "target list --json"
json_check '[t for t in j if t["iqn"] == a[0] and t["incoming_accounts"] == ["alice", "carol"]
  and t["outgoing_account"] == "tgt" and t["chap_algorithms"] == "SHA256,SHA3-256"]' "$IT_IQN"
adm_ok --json target show "$IT_IQN"
no_secret "target show --json"
adm_ok account list
no_secret "account list"
it_expect_match "account list: alice bound to the target" "$ADM_OUT" "^alice +$(ere "$IT_IQN") +- +-\$"
it_expect_match "account list: discovery" "$ADM_OUT" '^Discovery auth: mutual \(incoming: rnd, shorty; outgoing: rnd2\)$'
adm_ok account list --json
no_secret "account list --json"
json_check '(j["discovery"] == {"auth": "mutual", "incoming": ["rnd", "shorty"], "outgoing": "rnd2"}
  and all("secret" not in x for x in j["accounts"])
  and [x["outgoing"] for x in j["accounts"] if x["name"] == "tgt"] == [[a[0]]])' "$IT_IQN"
adm_ok status
no_secret "status"
adm_ok session list --json
no_secret "session list --json"

adm_ok account list --show-secrets
for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" <<<"$ADM_OUT" || it_fail "account list --show-secrets lacks a secret: $ADM_OUT"
done
adm_ok account list --json --show-secrets
json_check '{x["name"]: x["secret"] for x in j["accounts"]} == dict(zip(["alice", "carol", "tgt", "shorty", "rnd", "rnd2"], a))' \
    "${SECRETS[@]}"
it_log "target show / list / account list: names only; --show-secrets: all six secrets"

# ===========================================================================
# unbind and remove
# ===========================================================================
adm_rc 1 'account alice is bound 1 time; unbind it or use --force' account remove alice
adm_rc 1 'bound' account remove rnd
adm_ok account unbind "$IT_IQN" carol
adm_rc 1 'not bound' account unbind "$IT_IQN" carol
adm_ok account remove carol
adm_ok account remove alice --force
adm_ok account unbind "$IT_IQN" tgt --outgoing
adm_ok target show "$IT_IQN"
it_expect_match "target show after unbinding" "$ADM_OUT" '^ +Incoming accounts: \(none: CHAP not required\)$'
it_expect_match "target show after unbinding" "$ADM_OUT" '^ +Outgoing account: -$'
adm_ok discovery auth none
adm_ok account list --json
json_check 'j["discovery"]["auth"] == "none" and sorted(x["name"] for x in j["accounts"]) == ["rnd", "rnd2", "shorty", "tgt"]'
adm_rc 1 'no account alice' account remove alice

# the daemon never logged a secret (it logs at debug level here)
for s in "${SECRETS[@]}"; do
    if grep -qF -- "$s" "$IT_LOG"; then it_fail "the daemon's log holds a secret"; fi
done
it_expect_match "the daemon logged the short-secret warning" "$(cat "$IT_LOG")" 'account shorty added with a secret shorter than 12'
it_pid_running "$IT_PID" || it_fail "daemon died"
it_log "accounts: all commands behave, no secret leaked"
