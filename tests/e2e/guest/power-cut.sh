#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# The power-cut scenario, run in the guest by init.sh (E2E_SCENARIO=power-cut.sh in
# job.env) for tests/e2e/power-cut.sh. ringtgtd runs here, in the guest, and the initiator is
# the guest's own open-iscsi over 127.0.0.1; the LUs live on extra virtio disks (raw files
# on the host, not snapshots), which survive the guest's reboot.
#
# PHASE=1: two daemons, one per event loop (io_uring on 127.0.0.1:3260, epoll on :3261),
# each exporting the LUs of LU_SPECS; writers put a distinct pattern (run token, LU, block)
# into each 4 KiB block with sg_raw and record a block in /out/LU.acks (a writable 9p share:
# each write reaches the host before the next command) only once its durability promise was
# acknowledged: the FUA WRITE's GOOD status, or the GOOD status of a SYNCHRONIZE CACHE sent
# after it (or, with the write cache off, the plain WRITE's status). While they write, the
# guest reboots with `echo b > /proc/sysrq-trigger`: no sync, no unmount, the page cache and
# everything not on the virtio disks is gone, as in a power cut.
# PHASE=2: the same daemons on the same disks; every acknowledged block must read back
# through the target holding its pattern.
# PHASE=2 then re-exports a local SCSI disk with tgt-admin's direct-store (direct_store below).
# From job.env: PHASE, TOKEN (the run's token, part of every pattern), WRITE_SECS (how long
# the writers run before the cut), MIN_ACKED (the least number of acknowledged blocks a
# writer must reach), DS_VENDOR, DS_PRODUCT, DS_REV, DS_SERIAL (the INQUIRY identity the host
# gave the direct-store disk).
set -uo pipefail
source /job/lib.sh

IQN_BASE=iqn.2026-11.org.ringtgt:pcut
BS=4096                       # bytes per block of the pattern (one WRITE each)
FILES=/mnt/pcut               # the ext4 file system of the file store's images
FILE_SIZE=32M
# LU_SPECS: NAME DAEMON STORE MODE. Daemon u = io_uring, e = epoll. Store blk: the whole
# virtio disk virtio-pcut-blk-DAEMON (block device store, O_DIRECT); file: FILES/NAME.img
# (file store, buffered). Mode: fua (WRITE(10) with FUA=1), sync (3 WRITE(10)s, then
# SYNCHRONIZE CACHE(10)), mixed (the two in turn), wcoff (plain WRITE(10)s to an LU with the
# write cache off: --export PATH,write_cache=off), plain (plain WRITE(10)s, never synchronized: the canary, which shows
# that the cut loses what nobody made durable). A file store LU gets one mode, so that one
# promise cannot hide another's breakage (a SYNCHRONIZE CACHE flushes the whole file).
LU_SPECS=(
  "u-blk u blk mixed" "u-fua u file fua" "u-sync u file sync" "u-canary u file plain"
  "e-blk e blk mixed" "e-fua e file fua" "e-sync e file sync" "e-canary e file plain"
  "u-wcoff u file wcoff" "e-wcoff e file wcoff"
)

port_of() { [[ $1 == u ]] && echo 3260 || echo 3261; }
loop_of() { [[ $1 == u ]] && echo io_uring || echo epoll; }
lu_link() { echo "/dev/disk/by-path/ip-127.0.0.1:$(port_of "$2")-iscsi-$IQN_BASE-$1-lun-1"; }

# setup : phase 1 makes the file system and the sparse images and syncs them (before any
# promise is made). Both phases turn the kernel's periodic writeback off, so that nothing
# but what the target does reaches the disks by chance: a dirty page stays in the page cache
# until someone syncs it.
setup() {
  local n d s st mode
  sysctl -q -w vm.dirty_writeback_centisecs=0 vm.dirty_expire_centisecs=360000 \
    vm.dirty_background_ratio=90 vm.dirty_ratio=90 || return 1
  mkdir -p "$FILES" /run/ringtgt
  if ((PHASE == 1)); then
    mkfs.ext4 -q -F -L pcut-files /dev/disk/by-id/virtio-pcut-files || return 1
  fi
  mount -t ext4 /dev/disk/by-id/virtio-pcut-files "$FILES" || return 1
  if ((PHASE == 1)); then
    for s in "${LU_SPECS[@]}"; do
      read -r n d st mode <<<"$s"
      [[ $st == file ]] && { truncate -s "$FILE_SIZE" "$FILES/$n.img" || return 1; }
    done
    sync
  fi
  DETAIL="files=$(find "$FILES" -name '*.img' | wc -l) fs=$(findmnt -n -o FSTYPE "$FILES")"
}

# start_daemons : one ringtgtd per event loop, exporting that daemon's LUs (LUN 1 of a target
# each). Their logs go to the writable share, so that they survive the cut.
start_daemons() {
  local d s n dd st mode args pid p opt
  install -m 755 /job/bin/ringtgtd /usr/sbin/ringtgtd || return 1   # the host's build
  for d in u e; do
    args=()
    for s in "${LU_SPECS[@]}"; do
      read -r n dd st mode <<<"$s"
      [[ $dd == "$d" ]] || continue
      if [[ $st == blk ]]; then p=$(readlink -f "/dev/disk/by-id/virtio-pcut-blk-$d"); else p=$FILES/$n.img; fi
      [[ -e $p ]] || { echo "no $p for $n"; return 1; }
      opt=; [[ $mode == wcoff ]] && opt=,write_cache=off
      args+=(--export "$p,iqn=$IQN_BASE-$n$opt")
    done
    echo "+ ringtgtd --foreground --event-loop $(loop_of "$d") --portal 127.0.0.1:$(port_of "$d") --control-socket /run/ringtgt/$d.sock ${args[*]}" \
      >> "/out/ringtgtd-$d.phase$PHASE.log"
    ringtgtd --foreground --event-loop "$(loop_of "$d")" --portal "127.0.0.1:$(port_of "$d")" \
      --control-socket "/run/ringtgt/$d.sock" "${args[@]}" </dev/null >> "/out/ringtgtd-$d.phase$PHASE.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
      ss -Hltn "sport = :$(port_of "$d")" | grep -q . && break
      [[ -e /proc/$pid ]] || { echo "ringtgtd ($d) exited:"; tail -n 20 "/out/ringtgtd-$d.phase$PHASE.log"; return 1; }
      sleep 0.1
    done
    ss -Hltn "sport = :$(port_of "$d")" | grep -q . || { echo "ringtgtd ($d) does not listen after 30 s"; return 1; }
  done
  DETAIL="daemons=$(pgrep -c -x ringtgtd) io_uring=127.0.0.1:3260 epoll=127.0.0.1:3261 lus=${#LU_SPECS[@]}"
}

login_all() {
  local d s n dd st mode l missing=0
  echo "InitiatorName=iqn.2026-11.org.ringtgt:pcut-guest" > /etc/iscsi/initiatorname.iscsi
  iscsid || return 1
  for _ in $(seq 50); do pgrep -x iscsid >/dev/null && break; sleep 0.1; done
  for d in u e; do
    timeout 60 iscsiadm -m discovery -t sendtargets -p "127.0.0.1:$(port_of "$d")" || return 1
  done
  # every record: short retries; then one login per node
  iscsiadm -m node -o update -n node.session.initial_login_retry_max -v 2 || return 1
  timeout 180 iscsiadm -m node --login || return 1
  for s in "${LU_SPECS[@]}"; do
    read -r n dd st mode <<<"$s"
    l=$(lu_link "$n" "$dd")
    for _ in $(seq 300); do [[ -b $l ]] && break; sleep 0.1; done
    [[ -b $l ]] || { echo "no $l"; missing=$((missing + 1)); }
  done
  ls -l /dev/disk/by-path/
  DETAIL="sessions=$(iscsiadm -m session | wc -l) missing=$missing"
  ((missing == 0))
}

# pattern NAME I : block I of LU NAME: one 64-byte line (63 characters and a newline) 64 times.
pattern() {
  local one
  printf -v one '%-63s\n' "ringtgt-pcut $TOKEN $1 block=$2"
  printf "$one%.0s" {1..64}
}

# cdb10 VAR OP FLAGS LBA COUNT : a 10-byte CDB as sg_raw's hex arguments, into VAR (no fork:
# under TCG every process costs).
cdb10() {
  printf -v "$1" '%02x %02x %02x %02x %02x %02x 00 %02x %02x 00' "$2" "$3" \
    $(($4 >> 24 & 255)) $(($4 >> 16 & 255)) $(($4 >> 8 & 255)) $(($4 & 255)) $(($5 >> 8 & 255)) $(($5 & 255))
}

# write_block DEV SS NAME I FUA : WRITE(10) of block I (FUA=1 when FUA is 1, SBC-4 §5.40).
write_block() {
  local dev=$1 ss=$2 f=/tmp/pcut-$3.blk cdb
  pattern "$3" "$4" > "$f"
  cdb10 cdb 0x2a $(($5 ? 0x08 : 0)) $(($4 * BS / ss)) $((BS / ss))
  # shellcheck disable=SC2086  # one argument per CDB byte
  sg_raw -s "$BS" -i "$f" "$dev" $cdb 2>>"/tmp/pcut-$3.err"
}
# sync_cache DEV : SYNCHRONIZE CACHE(10) of the whole LU (SBC-4 §5.24: LBA 0, 0 blocks).
sync_cache() {
  local cdb
  cdb10 cdb 0x35 0 0 0
  # shellcheck disable=SC2086
  sg_raw "$1" $cdb 2>>/tmp/pcut-sync.err
}

# writer NAME DEV MODE : writes blocks 0, 1, 2 ... in MODE until the cut (or the LU is full),
# appending each block's number to /out/NAME.acks once its durability was acknowledged
# (mode plain: once its WRITE completed, which promises nothing).
writer() {
  local n=$1 dev=$2 mode=$3 ss i=0 j max k turn=0 m fua
  ss=$(blockdev --getss "$dev") || return 1
  max=$(($(blockdev --getsize64 "$dev") / BS))
  exec 3>>"/out/$n.acks"
  while ((i + 4 <= max)); do
    m=$mode
    if [[ $mode == mixed ]]; then
      m=sync; ((turn++ % 2)) || m=fua
    fi
    case $m in
      fua|wcoff|plain)
        fua=0; [[ $m == fua ]] && fua=1
        write_block "$dev" "$ss" "$n" "$i" "$fua" || break
        echo "$i" >&3; i=$((i + 1)) ;;
      sync)
        k=0
        for ((j = i; j < i + 3; j++)); do write_block "$dev" "$ss" "$n" "$j" 0 || { k=1; break; }; done
        ((k == 0)) && sync_cache "$dev" || break
        for ((j = i; j < i + 3; j++)); do echo "$j" >&3; done
        i=$((i + 3)) ;;
    esac
  done
  echo "writer $n stopped at block $i" >> "/out/$n.acks.stopped"
}

# acked NAME : ACKED = the number of blocks recorded for LU NAME (no fork: while the writers
# run, the guest's CPUs are busy, and each process costs seconds under TCG).
acked() {
  local a=()
  [[ -e /out/$1.acks ]] && mapfile -t a < "/out/$1.acks"
  ACKED=${#a[@]}
}

# write_all : start a writer on every LU; after WRITE_SECS, wait (120 s at most) until each
# has acknowledged MIN_ACKED blocks, and check that all are still writing. The caller then
# cuts the power.
WRITER_PIDS=()
write_all() {
  local s n dd st mode counts low dead=0 p t0 devs=()
  for s in "${LU_SPECS[@]}"; do
    read -r n dd st mode <<<"$s"
    devs+=("$(readlink -f "$(lu_link "$n" "$dd")")")
    : > "/out/$n.acks"
  done
  t0=$SECONDS
  for s in "${LU_SPECS[@]}"; do
    read -r n dd st mode <<<"$s"
    writer "$n" "${devs[${#WRITER_PIDS[@]}]}" "$mode" &
    WRITER_PIDS+=($!)
  done
  sleep "$WRITE_SECS"
  while :; do
    low=0 counts=
    for s in "${LU_SPECS[@]}"; do
      read -r n dd st mode <<<"$s"
      acked "$n"
      counts+=" $n=$ACKED"
      ((ACKED >= MIN_ACKED)) || low=$((low + 1))
    done
    ((low == 0 || SECONDS - t0 > WRITE_SECS + 120)) && break
    sleep 1
  done
  for p in "${WRITER_PIDS[@]}"; do [[ -e /proc/$p ]] || dead=$((dead + 1)); done
  DETAIL="acked:${counts} after=$((SECONDS - t0))s stopped_writers=$dead"
  ((dead == 0)) || { echo "$dead writers stopped before the cut"; cat /out/*.acks.stopped /tmp/pcut-*.err; return 1; }
  ((low == 0)) || { echo "$low writers acknowledged fewer than $MIN_ACKED blocks in $((SECONDS - t0)) s"; return 1; }
}

# verify NAME DAEMON MODE : every block in /out/NAME.acks reads back through the target with
# its pattern. The writers write blocks in order and record them in order, so the acked
# blocks are 0 .. K-1. For the canary (mode plain) it counts what survived instead.
verify() {
  local n=$1 d=$2 mode=$3 dev k bad first=-1 got=/tmp/pcut-$1.got want=/tmp/pcut-$1.want i
  dev=$(readlink -f "$(lu_link "$n" "$d")")
  acked "$n"; k=$ACKED
  awk '$1 != NR - 1 {exit 1}' "/out/$n.acks" || { echo "/out/$n.acks is not 0 .. K-1"; return 1; }
  ((k > 0)) || { echo "no acknowledged block for $n"; return 1; }
  dd if="$dev" of="$got" bs="$BS" count="$k" iflag=direct status=none || return 1
  for ((i = 0; i < k; i++)); do pattern "$n" "$i"; done > "$want"
  bad=0
  if ! cmp -s "$want" "$got"; then
    # one hexadecimal line per block, compared line by line
    od -An -v -tx1 -w"$BS" "$want" | tr -d ' ' > "$want.hex"
    od -An -v -tx1 -w"$BS" "$got" | tr -d ' ' > "$got.hex"
    bad=$(awk 'NR == FNR {w[FNR] = $0; next} w[FNR] != $0 {n++; if (!f) f = FNR} END {print n + 0, f - 1}' \
      "$want.hex" "$got.hex")
    first=${bad#* } bad=${bad% *}
  fi
  DETAIL="lu=$n loop=$(loop_of "$d") mode=$mode dev=$dev"
  if [[ $mode == plain ]]; then
    DETAIL+=" written=$k survived=$((k - bad))"
    # Nothing promised these blocks; if all of them survived, the cut did not drop the page
    # cache and this run proves nothing.
    ((bad > 0)) || { echo "all $k never-synchronized blocks of the canary survived: the cut was not a power cut"; return 1; }
    return 0
  fi
  DETAIL+=" acked=$k intact=$((k - bad)) lost=$bad"
  if ((bad)); then
    echo "$bad of $k acknowledged blocks do not hold their pattern; the first is block $first:"
    dd if="$got" bs="$BS" skip="$first" count=1 status=none | head -c 64 | od -c | head -n 4
    return 1
  fi
}

# ---- direct-store (issue 12): tgt-admin re-exports a local SCSI disk, as tgt does ----
DS_PORT=3262
DS_SOCK=/run/ringtgt/direct.sock
DS_IQN=$IQN_BASE-direct            # `direct-store DEV`: the device's identity
DS_IQN_OWN=$IQN_BASE-direct-own    # the file gives product_id and scsi_id, which win
DS_OWN_PRODUCT=OwnProduct
DS_SCSI_ID=0123456789abcdef0123456789abcdef

# inq_hex DEV EVPD PAGE : the INQUIRY data (SPC-4 §6.6) of DEV through SG_IO, as hex.
inq_hex() {
  sg_raw -R -r 255 -o /tmp/ds.inq "$1" 12 "$2" "$3" 00 ff 00 2>/tmp/ds.inq.err ||
    { cat /tmp/ds.inq.err >&2; return 1; }
  od -An -v -tx1 < /tmp/ds.inq | tr -d ' \n'
}
hex_of() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# desig_hex HEX TYPE : the designator of TYPE (SPC-4 §7.8.6: 1 T10 vendor ID, 3 NAA) with
# LU association in the VPD page 0x83 HEX, as hex ("" when there is none).
desig_hex() {
  local h=$1 off=8 end b1 len
  end=$((8 + 2 * 16#${h:4:4}))
  while ((off + 8 <= end && off + 8 <= ${#h})); do
    b1=$((16#${h:off+2:2})) len=$((16#${h:off+6:2}))
    if (((b1 & 15) == $2 && (b1 >> 4 & 3) == 0)); then echo "${h:off+8:2*len}"; return 0; fi
    off=$((off + 8 + 2 * len))
  done
}

# check WHAT GOT WANT : one comparison, printed; counts them in CHECKS, mismatches in BAD.
check() {
  CHECKS=$((CHECKS + 1))
  if [[ $2 == "$3" ]]; then echo "ok   $1: $2"
  else echo "FAIL $1: got  $2"; echo "     $1: want $3"; BAD=$((BAD + 1)); fi
}

# direct_store : the disk of QEMU's virtio-scsi (DS_*) is the device; what tgt-admin would
# copy from it is what tgt-admin's add_backing_direct() matches in `sg_inq DEV` (vendor after
# one space, the product, revision and unit serial number with their leading blanks dropped,
# trailing ones kept). An empty ringtgtd (no configuration: it starts with no targets, as tgtd
# does) gets the two targets from `tgt-admin -e`; through the guest's initiator, LUN 1 of
# each must answer INQUIRY as tgt lays these parameters out (usr/spc.c): vendor, product and
# revision padded with spaces, VPD 0x80 the serial right-aligned in 36 bytes; VPD 0x83 the T10
# vendor ID designator scsi_id (NUL-padded to 36 bytes) and NAA 6 from its hex digits when
# the file gives scsi_id, else ringtgt's own (the vendor field and the serial).
direct_store() {
  local d dev='' sgi tv tp tr ts got want h80 h83 l s nul f=()
  BAD=0 CHECKS=0
  modprobe virtio_scsi || return 1
  for _ in $(seq 100); do
    for d in /sys/block/sd*; do
      [[ -e $d/device/model && $(<"$d/device/model") == "$(printf '%-16s' "$DS_PRODUCT")" ]] && dev=/dev/${d##*/}
    done
    [[ -n $dev && -b $dev ]] && break
    sleep 0.1
  done
  [[ -n $dev && -b $dev ]] || { echo "no SCSI disk with model '$DS_PRODUCT'"; ls -l /sys/block; return 1; }
  # what tgt-admin takes: its own patterns on sg_inq's output
  sgi=$(sg_inq "$dev") || return 1
  printf '%s\n' "$sgi"
  # (through a file: the guest's /dev has no /dev/fd for a process substitution)
  printf '%s\n' "$sgi" | perl -0777 -ne '
    if (m{Vendor\ identification:\s+?(.*?)\n
          \s+Product\ identification:\s+(.*?)\n
          \s+Product\ revision\ level:\s+(.*?)\n
          (?:\s+Unit\ serial\ number:\s+(.*?)\n)?}xs) { print "$1\0$2\0$3\0$4\0" }' > /tmp/ds.fields
  mapfile -d '' -t f < /tmp/ds.fields
  ((${#f[@]} == 4)) || { echo "tgt-admin's pattern does not match sg_inq's output"; return 1; }
  tv=${f[0]} tp=${f[1]} tr=${f[2]} ts=${f[3]}
  DETAIL="device=$dev vendor='$tv' product='$tp' revision='$tr' serial='$ts'"
  # the device is the one the host made (so that the expectations below are not empty)
  check "device vendor" "$tv" "$(printf '%-8s' "$DS_VENDOR")"
  check "device product" "$tp" "$DS_PRODUCT"
  check "device revision" "$tr" "$DS_REV"
  check "device serial" "$ts" "$DS_SERIAL"
  ((BAD == 0)) || return 1

  install -m 755 /job/bin/ringtgtadm /usr/sbin/tgt-admin || return 1   # ringtgt's, by its name
  mkdir -p /etc/tgt
  cat > /etc/tgt/direct.conf <<EOC
<target $DS_IQN>
    direct-store $dev
</target>
<target $DS_IQN_OWN>
    <direct-store $dev>
        product_id $DS_OWN_PRODUCT
        scsi_id $DS_SCSI_ID
    </direct-store>
    allow-in-use yes
</target>
EOC
  ringtgtd --foreground --portal "127.0.0.1:$DS_PORT" --control-socket "$DS_SOCK" \
    </dev/null >> /out/ringtgtd-direct.log 2>&1 &
  for _ in $(seq 300); do [[ -S $DS_SOCK ]] && ss -Hltn "sport = :$DS_PORT" | grep -q . && break; sleep 0.1; done
  RINGTGT_SOCKET=$DS_SOCK tgt-admin -e -v -c /etc/tgt/direct.conf || return 1
  timeout 60 iscsiadm -m discovery -t sendtargets -p "127.0.0.1:$DS_PORT" || return 1
  for s in "$DS_IQN" "$DS_IQN_OWN"; do
    timeout 60 iscsiadm -m node -T "$s" -p "127.0.0.1:$DS_PORT" --login || return 1
  done
  for s in "$DS_IQN" "$DS_IQN_OWN"; do
    l=/dev/disk/by-path/ip-127.0.0.1:$DS_PORT-iscsi-$s-lun-1
    for _ in $(seq 300); do [[ -b $l ]] && break; sleep 0.1; done
    [[ -b $l ]] || { echo "no $l"; return 1; }
    case $s in
      "$DS_IQN") tp=${f[1]} ;;
      *) tp=$DS_OWN_PRODUCT ;;
    esac
    # standard INQUIRY bytes 8..35: T10 VENDOR IDENTIFICATION, PRODUCT IDENTIFICATION,
    # PRODUCT REVISION LEVEL (tgt: "%-*s" of each, cut to its field)
    got=$(inq_hex "$l" 0 0) || return 1
    printf -v want '%-8.8s%-16.16s%-4.4s' "$tv" "$tp" "$tr"
    check "$s INQUIRY vendor/product/revision" "${got:16:56}" "$(hex_of "$want")"
    # VPD 0x80 (SPC-4 §7.8.16): tgt's 36 bytes, the serial right-aligned
    h80=$(inq_hex "$l" 1 0x80) || return 1
    printf -v want '%36.36s' "$ts"
    check "$s VPD 0x80" "$h80" "00800024$(hex_of "$want")"
    h83=$(inq_hex "$l" 1 0x83) || return 1
    if [[ $s == "$DS_IQN_OWN" ]]; then
      nul=$(printf '%*s' $((2 * (36 - ${#DS_SCSI_ID}))) '' | tr ' ' 0)
      check "$s VPD 0x83 T10 vendor ID (scsi_id)" "$(desig_hex "$h83" 1)" "$(hex_of "$DS_SCSI_ID")$nul"
      check "$s VPD 0x83 NAA (scsi_id)" "$(desig_hex "$h83" 3)" "6${DS_SCSI_ID:1}"
    else
      printf -v want '%-8.8s%s' "$tv" "$ts"
      check "$s VPD 0x83 T10 vendor ID (vendor, serial)" "$(desig_hex "$h83" 1)" "$(hex_of "$want")"
    fi
  done
  iscsiadm -m node -T "$DS_IQN" -p "127.0.0.1:$DS_PORT" --logout >/dev/null
  iscsiadm -m node -T "$DS_IQN_OWN" -p "127.0.0.1:$DS_PORT" --logout >/dev/null
  DETAIL+=" checks=$CHECKS mismatches=$BAD"
  ((BAD == 0))
}

# cut_power : the marker goes to the share (a 9p write reaches the host before it returns;
# a line on the results UART may still sit in its buffer when the guest resets).
cut_power() {
  echo "cut uptime=$(cut -d' ' -f1 /proc/uptime)" > /out/cut
  emit "E2E cut uptime=$(cut -d' ' -f1 /proc/uptime)"
  echo b > /proc/sysrq-trigger
  sleep 30
  emit "E2E step=pcut.cut ok=0 error=still-running-30s-after-sysrq-b"
}

mkdir -p /out
mount -t 9p -o trans=virtio,version=9p2000.L out /out || { emit "E2E step=pcut.out-share ok=0"; exit 1; }
rc=0
step "pcut$PHASE.setup" setup &&
step "pcut$PHASE.daemons" start_daemons &&
step "pcut$PHASE.login" login_all || exit 1
if ((PHASE == 1)); then
  step pcut1.write write_all || exit 1
  cut_power
  exit 1
fi
for s in "${LU_SPECS[@]}"; do
  read -r n d st mode <<<"$s"
  step "pcut2.verify.$n" verify "$n" "$d" "$mode" || rc=1
done
step pcut2.direct-store direct_store || rc=1
exit $rc
