#!/usr/bin/env bash
# Identity stability: the unit serial number (VPD 0x80) and device
# identification (VPD 0x83) of LUN 1 must be byte-identical after the
# daemon is restarted with the same export.  Uses an explicit
# --export FILE,iqn=IQN and restarts on the same port.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-inq
it_need_rwtest

iqn="iqn.2026-11.org.ringtgt:restart-test"
it_make_image "$IT_TMP/disk0" 256M
it_start_daemon "$IT_TMP/disk0" "$iqn"
[ "$IT_IQN" = "$iqn" ] || it_fail "internal: IQN not applied"

snapshot() {
    local tag=$1 page
    for page in 0x80 0x83; do
        timeout -k 5 60 "$IT_RWTEST" --vpd "$page" "$IT_URL" >"$IT_TMP/vpd$page.$tag" ||
            it_fail "reading VPD page $page failed ($tag)"
    done
    # decimal page codes: iscsi-inq parses -c with atoi()
    timeout -k 5 60 iscsi-inq -e 1 -c 128 "$IT_URL" >"$IT_TMP/inq80.$tag" ||
        it_fail "iscsi-inq VPD 0x80 failed ($tag)"
    timeout -k 5 60 iscsi-inq -e 1 -c 131 "$IT_URL" >"$IT_TMP/inq83.$tag" ||
        it_fail "iscsi-inq VPD 0x83 failed ($tag)"
}

snapshot before
it_log "VPD 0x80 before restart:"; cat "$IT_TMP/vpd0x80.before"
it_log "VPD 0x83 before restart:"; cat "$IT_TMP/vpd0x83.before"
# the serial must contain something besides spaces / NULs
read -r -a b80 <<<"$(tr '\n' ' ' <"$IT_TMP/vpd0x80.before")"
serial_ok=0
for b in "${b80[@]:4}"; do
    case "$b" in 00|20) ;; *) serial_ok=1 ;; esac
done
[ "$serial_ok" = 1 ] || it_fail "VPD 0x80 unit serial number is empty/blank"
read -r -a b83 <<<"$(tr '\n' ' ' <"$IT_TMP/vpd0x83.before")"
[ $((16#${b83[2]} * 256 + 16#${b83[3]})) -gt 0 ] || it_fail "VPD 0x83 has no designators"

old_port=$IT_PORT
it_restart_daemon "$iqn"
[ "$IT_PORT" = "$old_port" ] || it_fail "internal: port changed across restart"

snapshot after
for f in vpd0x80 vpd0x83 inq80 inq83; do
    if ! cmp -s "$IT_TMP/$f.before" "$IT_TMP/$f.after"; then
        it_log "FAIL: $f differs after restart:" >&2
        diff -u "$IT_TMP/$f.before" "$IT_TMP/$f.after" >&2 || true
        exit 1
    fi
done
it_log "VPD 0x80 and 0x83 are identical across the restart"
