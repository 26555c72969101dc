#!/usr/bin/env bash
# The image store end to end (issue 11, item 2, and the write cache of
# item 4):
#   - `ringtgtadm image create` (no daemon): sparse by default (no block
#     allocated, mode 0600, nothing printed); --preallocate allocates every
#     block (st_blocks covers the size) and prints a progress line per
#     percent on stderr; --block-size 4096 refuses a size that is not a
#     multiple; an existing file is refused (and left untouched) unless
#     --force replaces it; a failure leaves nothing behind: a file larger
#     than may be written, a preallocation larger than the free space,
#     one that fails half-way (RLIMIT_FSIZE), a missing directory, a file
#     system that cannot preallocate (ext2, root: a loop mount in a mount
#     namespace of its own);
#   - ringtgtd serves those images: `--export FILE,write_cache=off` reports
#     WCE=0 in the Caching mode page (and holds the file O_DSYNC), a plain
#     --export WCE=1, neither changeable; READ CAPACITY(16) reports the
#     file system's block as the physical block; ringtgtadm target show
#     says "Write cache: off".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

it_init "$@"
it_require iscsi-readcapacity16 stat
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
wcetool=${RINGTGT_WCETOOL:-$(dirname "$IT_RINGTGTD")/tests/integration/wcetool}
[ -x "$wcetool" ] || it_fail "wcetool not found (set RINGTGT_WCETOOL)"
GIB=$((1 << 30))

# nothing but FILE itself may be in DIR: no temporary left over
only_files() {
    local dir=$1; shift
    local got want
    got=$(cd "$dir" && ls -A | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || it_fail "in $dir: expected '$want', found '$got'"
}

# --- sparse ------------------------------------------------------------------
img=$IT_TMP/img
mkdir "$img"
out=$("$adm" image create "$img/sparse.img" --size 4G 2>&1) ||
    it_fail "image create --size 4G failed: $out"
[ -z "$out" ] || it_fail "a sparse image printed something: $out"
read -r size blocks mode <<<"$(stat -c '%s %b %a' "$img/sparse.img")"
[ "$size" = $((4 * GIB)) ] || it_fail "sparse.img is $size bytes, not 4 GiB"
[ "$blocks" -le 8 ] || it_fail "sparse.img has $blocks blocks allocated: not sparse"
[ "$mode" = 600 ] || it_fail "sparse.img has mode $mode, not 600"
it_log "sparse 4 GiB image: $blocks blocks, mode $mode"

# --- preallocated, 4096-byte blocks, with progress ------------------------------
out=$("$adm" image create "$img/full.img" --size 2G --preallocate \
    --block-size 4096 2>&1) || it_fail "image create --preallocate failed: $out"
printf '%s\n' "$out"
it_expect_match "progress half-way" "$out" "^preallocating ${img//\//\\/}/full.img: 50%$"
it_expect_match "progress at the end" "$out" "^preallocating ${img//\//\\/}/full.img: 100%$"
read -r size blocks mode <<<"$(stat -c '%s %b %a' "$img/full.img")"
[ "$size" = $((2 * GIB)) ] || it_fail "full.img is $size bytes, not 2 GiB"
[ $((blocks * 512)) -ge $((2 * GIB)) ] ||
    it_fail "full.img has only $((blocks * 512)) bytes allocated of 2 GiB"
[ "$mode" = 600 ] || it_fail "full.img has mode $mode, not 600"
rm "$img/full.img"

rc=0
out=$("$adm" image create "$img/odd.img" --size 1001 --block-size 4096 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "a size not a multiple of 4096: status $rc ($out)"
it_expect_match "odd size" "$out" "not a positive multiple of the block size 4096"

# --- an existing file: refused, untouched; --force replaces it --------------
ino=$(stat -c %i "$img/sparse.img")
rc=0
out=$("$adm" image create "$img/sparse.img" --size 1G 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "image create over an existing file: status $rc ($out)"
it_expect_match "existing file" "$out" "sparse.img exists; use --force to replace it"
[ "$(stat -c '%i %s' "$img/sparse.img")" = "$ino $((4 * GIB))" ] ||
    it_fail "the existing image was changed by a refused create"
"$adm" image create "$img/sparse.img" --size 1G --force ||
    it_fail "image create --force failed"
[ "$(stat -c %s "$img/sparse.img")" = "$GIB" ] || it_fail "--force did not replace the image"
only_files "$img" sparse.img

# --- failures leave nothing behind --------------------------------------------
# a file larger than may be written (RLIMIT_FSIZE, as a file system's
# maximum file size would): EFBIG at the truncate, SIGXFSZ ignored
rc=0
out=$(trap '' XFSZ; ulimit -f $((GIB / 1024))
      "$adm" image create "$img/big.img" --size 2G 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "a sparse image beyond the file size limit: status $rc ($out)"
it_expect_match "too large" "$out" "cannot make .*big.img 2 GiB long: File too large"
rc=0
out=$("$adm" image create "$img/huge.img" --size 1000T --preallocate 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "preallocating 1000 TiB: status $rc ($out)"
it_expect_match "more than the free space" "$out" \
    "cannot preallocate 1000 TiB for .*huge.img: the file system has .* free"
# half-way: the first 1 GiB chunk is allocated, the second passes
# RLIMIT_FSIZE (EFBIG)
rc=0
out=$(trap '' XFSZ; ulimit -f $((3 * GIB / 2 / 1024))
      "$adm" image create "$img/half.img" --size 2G --preallocate 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "preallocation failing half-way: status $rc ($out)"
it_expect_match "half-way failure" "$out" "cannot preallocate 2 GiB for .*half.img: File too large"
it_expect_match "progress before the failure" "$out" "half.img: 50%$"
rc=0
out=$("$adm" image create "$img/no/such/dir.img" --size 1G 2>&1) || rc=$?
[ $rc = 1 ] || it_fail "a missing directory: status $rc ($out)"
it_expect_match "missing directory" "$out" "cannot create .*dir.img: No such file or directory"
only_files "$img" sparse.img

# a file system that cannot preallocate (ext2: no extents, fallocate is
# EOPNOTSUPP) is refused, never emulated by writing zeroes; mounted in a
# mount namespace of its own, so nobody else sees it and it goes with us
if [ "$(id -u)" != 0 ] || [ ! -e /dev/loop-control ]; then
    it_unavailable_part "an ext2 loop mount needs root and loop devices"
elif ! command -v mkfs.ext2 >/dev/null || ! command -v unshare >/dev/null; then
    it_unavailable_part "mkfs.ext2 and unshare (e2fsprogs, util-linux) are missing"
else
    truncate -s 16M "$IT_TMP/ext2.fs"
    mkfs.ext2 -q -F "$IT_TMP/ext2.fs" || it_fail "mkfs.ext2 failed"
    mkdir "$IT_TMP/ext2"
    rc=0
    out=$(unshare -m --propagation private sh -c '
        mount -o loop "$1" "$2" || exit 3
        "$3" image create "$2/p.img" --size 4M --preallocate 2>&1
        rc=$?
        echo "left: $(ls -A "$2" | tr "\n" " ")"
        exit $rc' sh "$IT_TMP/ext2.fs" "$IT_TMP/ext2" "$adm") || rc=$?
    [ $rc = 1 ] || it_fail "preallocating on ext2: status $rc ($out)"
    it_expect_match "ext2 cannot preallocate" "$out" \
        "the file system of .*p.img cannot preallocate \(fallocate is not supported\); create it without --preallocate"
    it_expect_match "nothing left on ext2" "$out" '^left: lost\+found $'
fi
it_log "failed creates left nothing behind"

# --- served: write cache on and off ---------------------------------------------
"$adm" image create "$img/wt.img" --size 64M || it_fail "image create wt.img failed"
iqn_wt="$IT_IQN_PREFIX:wt"
IT_DAEMON_ARGS=(--export "$img/wt.img,iqn=$iqn_wt,write_cache=off")
it_start_daemon "$img/sparse.img"
url_wt="iscsi://$IT_PORTAL/$iqn_wt/1"

out=$(it_capture "$wcetool" "$IT_URL") || exit 1
[ "$out" = "wce 1 0 1" ] ||
    it_fail "default export: Caching page WCE current/changeable/default '$out', expected 'wce 1 0 1'"
out=$(it_capture "$wcetool" "$url_wt") || exit 1
[ "$out" = "wce 0 0 0" ] ||
    it_fail "write_cache=off: Caching page WCE current/changeable/default '$out', expected 'wce 0 0 0'"
it_log "WCE: 1 by default, 0 with write_cache=off; not changeable"

# the daemon's fds: O_DSYNC (010000 octal on x86 and arm64) on wt.img only
fd_flags() {
    local fd
    for fd in /proc/"$IT_PID"/fd/*; do
        if [ "$(readlink "$fd" 2>/dev/null)" = "$1" ]; then
            sed -n 's/^flags:[[:space:]]*//p' "/proc/$IT_PID/fdinfo/${fd##*/}"
            return
        fi
    done
    it_fail "ringtgtd (pid $IT_PID) has no fd open on $1"
}
f=$(fd_flags "$img/wt.img")
(( (8#$f & 8#010000) != 0 )) || it_fail "write_cache=off: $img/wt.img open without O_DSYNC (flags $f)"
f=$(fd_flags "$img/sparse.img")
(( (8#$f & 8#010000) == 0 )) || it_fail "write cache on: $img/sparse.img open O_DSYNC (flags $f)"

out=$(RINGTGT_SOCKET=$IT_TMP/control.sock it_capture "$adm" target show "$iqn_wt") || exit 1
it_expect_match "target show" "$out" '^ +Write cache: off$'

# the physical block: the file system's block size
fsbs=$(stat -f -c %S "$img")
exp=0
while [ $((512 << exp)) -lt "$fsbs" ]; do exp=$((exp + 1)); done
out=$(it_capture iscsi-readcapacity16 "$url_wt") || exit 1
printf '%s\n' "$out"
it_expect_match "physical block exponent of $fsbs-byte file system blocks" "$out" \
    "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:$exp\$"
