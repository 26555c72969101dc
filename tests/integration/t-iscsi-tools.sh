#!/usr/bin/env bash
# libiscsi command line tools against ringtgtd: discovery + REPORT LUNS,
# standard INQUIRY of LUN 0 and LUN 1, VPD pages 0x00/0x80/0x83, and
# READ CAPACITY(16) matching the backing file size.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-ls iscsi-inq iscsi-readcapacity16

size=$((256 * 1024 * 1024))
it_make_image "$IT_TMP/disk0" "$size"
it_start_daemon "$IT_TMP/disk0"

lun0="iscsi://$IT_PORTAL/$IT_IQN/0"
lun1="iscsi://$IT_PORTAL/$IT_IQN/1"


# --- discovery (SendTargets) + login + REPORT LUNS -------------------------
out=$(it_capture iscsi-ls -s "iscsi://$IT_PORTAL") || exit 1
printf '%s\n' "$out"
ere_iqn=${IT_IQN//./\\.}
it_expect_match "iscsi-ls target/portal" "$out" "^Target:$ere_iqn Portal:127\\.0\\.0\\.1:$IT_PORT(,[0-9]+)?\$"
it_expect_match "iscsi-ls LUN 0" "$out" '^Lun:0 +Type:STORAGE_ARRAY_CONTROLLER'
it_expect_match "iscsi-ls LUN 1" "$out" '^Lun:1 +Type:DIRECT_ACCESS'
ntargets=$(grep -c '^Target:' <<<"$out" || true)
[ "$ntargets" = 1 ] || it_fail "iscsi-ls listed $ntargets targets, expected exactly 1"

# --- standard INQUIRY ---------------------------------------------------------
out=$(it_capture iscsi-inq "$lun1") || exit 1
printf '%s\n' "$out" | head -n 3
it_expect_match "INQUIRY LUN 1 qualifier" "$out" '^Peripheral Qualifier:CONNECTED$'
it_expect_match "INQUIRY LUN 1 device type 0" "$out" '^Peripheral Device Type:DIRECT_ACCESS$'
it_expect_match "INQUIRY LUN 1 vendor" "$out" '^Vendor:.*[^ ]'
it_expect_match "INQUIRY LUN 1 product" "$out" '^Product:.*[^ ]'

out=$(it_capture iscsi-inq "$lun0") || exit 1
it_expect_match "INQUIRY LUN 0 device type 0x0c" "$out" '^Peripheral Device Type:STORAGE_ARRAY_CONTROLLER$'

# --- VPD pages.  NB: iscsi-inq parses -c with atoi(), so "0x80" would
# silently mean page 0; the page codes must be given in decimal. -------------
out=$(it_capture iscsi-inq -e 1 -c 0 "$lun1") || exit 1
it_expect_match "VPD 0x00 lists 0x80" "$out" '^Page:0x80 '
it_expect_match "VPD 0x00 lists 0x83" "$out" '^Page:0x83 '

out=$(it_capture iscsi-inq -e 1 -c 128 "$lun1") || exit 1
printf '%s\n' "$out"
it_expect_match "VPD 0x80 unit serial number" "$out" '^Unit Serial Number:\[ *[^] ][^]]*\]$'

out=$(it_capture iscsi-inq -e 1 -c 131 "$lun1") || exit 1
printf '%s\n' "$out" | head -n 12
it_expect_match "VPD 0x83 page code" "$out" '^Page Code:\(0x83\) DEVICE_IDENTIFICATION'
it_expect_match "VPD 0x83 has a designator" "$out" '^DEVICE DESIGNATOR #0'
it_expect_match "VPD 0x83 has a logical-unit designator" "$out" '^Association:\(0\) LOGICAL_UNIT'

# --- READ CAPACITY(16) --------------------------------------------------------
out=$(it_capture iscsi-readcapacity16 "$lun1") || exit 1
printf '%s\n' "$out"
last_lba=$(sed -n 's/^RETURNED LOGICAL BLOCK ADDRESS:\([0-9]*\)$/\1/p' <<<"$out")
bs=$(sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES:\([0-9]*\)$/\1/p' <<<"$out")
total=$(sed -n 's/^Total size:\([0-9]*\)$/\1/p' <<<"$out")
[ -n "$last_lba" ] && [ -n "$bs" ] && [ "$bs" -gt 0 ] ||
    it_fail "cannot parse iscsi-readcapacity16 output"
blocks=$((last_lba + 1))
[ $((size % bs)) = 0 ] || it_fail "file size $size is not a multiple of block size $bs"
[ "$blocks" = $((size / bs)) ] ||
    it_fail "READ CAPACITY(16): $blocks blocks of $bs bytes, expected $((size / bs)) (file size $size)"
[ -z "$total" ] || [ "$total" = "$size" ] ||
    it_fail "iscsi-readcapacity16 total size $total != file size $size"
it_log "READ CAPACITY(16): $blocks blocks x $bs bytes = file size $size"
