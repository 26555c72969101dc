#!/usr/bin/env bash
# qemu-img (its libiscsi block driver, many requests in flight) copies a
# random 64 MiB file onto a 64 MiB LUN and back; everything must be
# byte-identical, including the backing file after the daemon stopped.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require cmp
it_require_qemu_iscsi

size=$((64 * 1024 * 1024))
it_make_image "$IT_TMP/lun64" "$size"
head -c "$size" /dev/urandom >"$IT_TMP/src.raw"
it_start_daemon "$IT_TMP/lun64"

info=$(timeout -k 5 60 qemu-img info --output=json "$IT_URL") ||
    it_fail "qemu-img info $IT_URL failed"
vsize=$(sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p' <<<"$info" | head -n 1)
[ "$vsize" = "$size" ] || it_fail "qemu-img info: virtual size '$vsize', expected $size"

# write: 16 coroutines, out-of-order writes allowed
it_run "qemu-img convert file -> LUN" 180 \
    qemu-img convert -n -m 16 -W -f raw -O raw "$IT_TMP/src.raw" "$IT_URL"

# read back through the URL syntax
it_run "qemu-img convert LUN -> file" 180 \
    qemu-img convert -m 16 -f raw -O raw "$IT_URL" "$IT_TMP/back.raw"
cmp "$IT_TMP/src.raw" "$IT_TMP/back.raw" ||
    it_fail "data read back from the LUN differs from what was written"
rm -f "$IT_TMP/back.raw"

# read back again with CRC32C header digests (qemu's --image-opts)
it_run "qemu-img convert LUN (header-digest=crc32c) -> file" 180 \
    qemu-img convert -O raw --image-opts \
    "driver=iscsi,transport=tcp,portal=$IT_PORTAL,target=$IT_IQN,lun=1,header-digest=crc32c" \
    "$IT_TMP/back2.raw"
cmp "$IT_TMP/src.raw" "$IT_TMP/back2.raw" ||
    it_fail "data read back with header digest differs from what was written"
rm -f "$IT_TMP/back2.raw"

# after a clean shutdown the backing file must hold exactly the data
it_stop_daemon || it_fail "daemon did not stop cleanly"
cmp "$IT_TMP/src.raw" "$IT_TMP/lun64" ||
    it_fail "backing file differs from the data written through iSCSI"
it_log "64 MiB round trip through qemu-img is byte-identical (LUN, digest read, backing file)"
