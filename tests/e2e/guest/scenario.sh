#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# The e2e scenario, run in the guest by init.sh: the open-iscsi initiator against the
# target on the host (reached through qemu's user network: host 127.0.0.1 = 10.0.2.2).
# From job.env: PORT, IQN, LUN (the disk; LUN 0 is the array controller), EXPECT_SIZE.
# Two full passes: 'plain' (no digests) and 'crc32c' (HeaderDigest + DataDigest = CRC32C),
# then 'reset': LOGICAL UNIT RESETs (sg_reset) while fio verifies, on the crc32c pass's files.
set -uo pipefail
source /job/lib.sh

PORTAL=10.0.2.2:$PORT
MNT=/mnt/e2e
LINK=/dev/disk/by-path/ip-$PORTAL-iscsi-$IQN-lun-$LUN
DEV=

start_iscsid() {
  echo "InitiatorName=iqn.2026-11.org.ringtgt:e2e-guest-$(cut -c1-8 /proc/sys/kernel/random/boot_id)" \
    > /etc/iscsi/initiatorname.iscsi
  iscsid || return 1
  for _ in $(seq 50); do pgrep -x iscsid >/dev/null && break; sleep 0.1; done
  pgrep -x iscsid || return 1
  DETAIL="initiator=$(cut -d= -f2 /etc/iscsi/initiatorname.iscsi) version=$(iscsiadm --version | awk '{print $3}')"
}

discovery() {
  local out
  out=$(timeout 60 iscsiadm -m discovery -t sendtargets -p "$PORTAL") || { echo "$out"; return 1; }
  echo "$out"
  grep -q " $IQN\$" <<<"$out" || { echo "target $IQN not in the SendTargets answer"; return 1; }
  DETAIL="advertised=$(awk -v q="$IQN" '$2 == q {print $1}' <<<"$out" | paste -sd,)"
}

# node_setup DIGEST : the node record for the portal we can reach (the target may advertise
# its own 127.0.0.1, and a new discovery may drop our record), digests, short timeouts.
node_setup() {
  local want=$1 n=(iscsiadm -m node -T "$IQN" -p "$PORTAL") rec
  "${n[@]}" >/dev/null 2>&1 || "${n[@]}" -o new || return 1
  "${n[@]}" -o update -n 'node.conn[0].iscsi.HeaderDigest' -v "$want" &&
  "${n[@]}" -o update -n 'node.conn[0].iscsi.DataDigest' -v "$want" &&
  "${n[@]}" -o update -n node.session.initial_login_retry_max -v 2 &&
  "${n[@]}" -o update -n node.session.timeo.replacement_timeout -v 30 || return 1
  rec=$("${n[@]}") || return 1
  grep -E 'Digest|retry|replacement' <<<"$rec"
  grep -qx "node.conn\[0\].iscsi.HeaderDigest = $want" <<<"$rec" &&
  grep -qx "node.conn\[0\].iscsi.DataDigest = $want" <<<"$rec" || { echo "record not updated"; return 1; }
  DETAIL="portal=$PORTAL HeaderDigest=$want DataDigest=$want"
}

login() {
  local size luns
  timeout 120 iscsiadm -m node -T "$IQN" -p "$PORTAL" --login || return 1
  for _ in $(seq 300); do [[ -b $LINK ]] && break; sleep 0.1; done
  luns=$(iscsiadm -m session -P 3 | awk '/Lun: /{print $NF}' | paste -sd,)
  if [[ ! -b $LINK ]]; then
    echo "no block device $LINK"; ls -l /dev/disk/by-path; lsblk; iscsiadm -m session -P 3; return 1
  fi
  DEV=$(readlink -f "$LINK")
  size=$(blockdev --getsize64 "$DEV") || return 1
  DETAIL="dev=$DEV lun=$LUN luns=$luns size=$size"
  [[ $size == "$EXPECT_SIZE" ]] || { echo "size $size, expected $EXPECT_SIZE"; return 1; }
}

# check_digests WANT : what the kernel negotiated for the connection (None or CRC32C).
check_digests() {
  local want=$1 bit=0 c nconn=0 hd dd info
  [[ $want == CRC32C ]] && bit=1
  for c in /sys/class/iscsi_connection/connection*; do
    [[ -e $c/header_digest ]] || continue
    nconn=$((nconn + 1))
    echo "$c: header_digest=$(cat "$c/header_digest") data_digest=$(cat "$c/data_digest")"
    [[ $(cat "$c/header_digest") == "$bit" && $(cat "$c/data_digest") == "$bit" ]] || return 1
  done
  ((nconn == 1)) || { echo "expected one connection, found $nconn"; return 1; }
  info=$(iscsiadm -m session -P 3) || return 1
  hd=$(awk '/HeaderDigest:/ {print $2; exit}' <<<"$info")
  dd=$(awk '/DataDigest:/ {print $2; exit}' <<<"$info")
  echo "iscsiadm: HeaderDigest=$hd DataDigest=$dd"
  DETAIL="HeaderDigest=$hd DataDigest=$dd sysfs=$bit,$bit"
  [[ $hd == "$want" && $dd == "$want" ]]
}

logout() {
  timeout 60 iscsiadm -m node -T "$IQN" -p "$PORTAL" --logout || return 1
  for _ in $(seq 300); do [[ -e $LINK ]] || return 0; sleep 0.1; done
  echo "$LINK still exists"; return 1
}

write_files() {
  local i n bytes=0
  for i in $(seq 100); do
    n=$(( (RANDOM * 32768 + RANDOM) % (1 << (RANDOM % 4 * 4 + 8)) + 1 ))   # 1 B .. 1 MiB
    head -c "$n" /dev/urandom > "$MNT/f$i" || return 1
    bytes=$((bytes + n))
  done
  (cd "$MNT" && sha256sum f*) > /tmp/manifest && sync || return 1
  DETAIL="files=$(wc -l < /tmp/manifest) bytes=$bytes"
}

verify_files() {
  echo 3 > /proc/sys/vm/drop_caches
  (cd "$MNT" && sha256sum -c --quiet /tmp/manifest) || return 1
  DETAIL="files=$(wc -l < /tmp/manifest)"
}

run_fio() {
  local out rc=0
  out=$(timeout 300 fio --name=verify --filename="$MNT/fio.dat" --rw=randwrite --bs=4k --size=64M \
    --verify=crc32c --iodepth=16 --ioengine=libaio --direct=1 2>&1) || rc=$?
  echo "$out"
  ((rc == 0)) && grep -q 'err= 0' <<<"$out" || return 1
  DETAIL=$(grep -m1 -o 'IOPS=[^,]*, BW=[^ ]*' <<<"$out" | tr -d ' ' | tr ',' ' ' | tr 'A-Z' 'a-z')
}

alive() { [[ -e /proc/$1 && $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }

# fio_lun_resets : fio writes then verifies (crc32c, direct I/O) a file while the guest
# sends RESETS LOGICAL UNIT RESETs to the disk (sg_reset --device --no-esc, RESET_GAP s
# apart). Passes when fio passed, every reset was sent while fio ran and succeeded, and the
# kernel log shows each LU reset answered (libiscsi: "dev reset result = SUCCESS", only
# after the target's TMF response "Function complete"), one reset unit attention for each
# and no connection error. run.sh checks that ringtgtd logged the same number of LOGICAL
# UNIT RESETs.
RESETS=3 RESET_GAP=3
fio_lun_resets() {
  local eh=/sys/module/libiscsi/parameters/debug_libiscsi_eh fio_pid frc=0 out r i sent=0 ok=0 during=0
  local n0 n1 f0 f1 c0 c1 u0 u1 rd wr log=/tmp/log/fio-lun-reset.fio
  command -v sg_reset >/dev/null || { echo "sg_reset is missing (sg3-utils is not in the image)"; return 1; }
  [[ -w $eh ]] || { echo "$eh is missing: the reset cannot be seen in the kernel log"; return 1; }
  echo 1 > "$eh"    # libiscsi logs its error handling (KERN_INFO) while this step runs
  n0=$(dmesg | grep -c 'dev reset result = SUCCESS')
  f0=$(dmesg | grep -c 'dev reset result = FAILED')
  c0=$(dmesg | grep -c 'detected conn error')
  u0=$(dmesg | grep -c 'Power-on or device reset occurred')
  # 32 MiB of 8k random writes, then their verification (reads). rate_iops (writes only:
  # fio does not pace its verify reads) keeps the write phase at 10 s or more even with KVM,
  # so that all the resets land while fio runs.
  timeout 150 fio --name=lun-reset --filename="$MNT/lun-reset.dat" --rw=randwrite --bs=8k \
    --size=32M --verify=crc32c --verify_fatal=1 --iodepth=16 --ioengine=libaio --direct=1 \
    --rate_iops=400 >"$log" 2>&1 &
  fio_pid=$!
  sleep 2
  for ((i = 1; i <= RESETS; i++)); do
    alive "$fio_pid" && during=$((during + 1))
    sent=$((sent + 1))
    r=0; out=$(timeout 60 sg_reset --device --no-esc --verbose "$DEV" 2>&1) || r=$?
    echo "reset $i at $(cut -d' ' -f1 /proc/uptime): sg_reset rc=$r: $out"
    ((r == 0)) && ok=$((ok + 1))
    DETAIL="resets=$sent reset_ok=$ok during_io=$during"
    ((i < RESETS)) && sleep "$RESET_GAP"
  done
  wait "$fio_pid" || frc=$?
  echo 0 > "$eh"
  cat "$log"
  n1=$(dmesg | grep -c 'dev reset result = SUCCESS')
  f1=$(dmesg | grep -c 'dev reset result = FAILED')
  c1=$(dmesg | grep -c 'detected conn error')
  u1=$(dmesg | grep -c 'Power-on or device reset occurred')
  echo "kernel log during the step:"; dmesg | grep -E 'iscsi|session[0-9]|connection[0-9]|sd [0-9]' | tail -n 20
  DETAIL="resets=$sent reset_ok=$ok during_io=$during eh_success=$((n1 - n0)) eh_failed=$((f1 - f0)) conn_errors=$((c1 - c0)) unit_attentions=$((u1 - u0)) fio_rc=$frc"
  rd=$(sed -n 's/^ *READ: .* io=\([^ ,]*\).*/\1/p' "$log")
  wr=$(sed -n 's/^ *WRITE: .* io=\([^ ,]*\).*/\1/p' "$log")
  DETAIL+=" written=$wr verified=$rd $(sed -n 's/^ *write: IOPS=\([^,]*\), BW=\([^ ]*\).*/write_iops=\1 write_bw=\2/p' "$log")"
  ((frc == 0)) && grep -q 'err= 0' "$log" || { echo "fio failed (status $frc)"; return 1; }
  [[ -n $wr && $rd == "$wr" ]] || { echo "fio verified $rd of the $wr it wrote"; return 1; }
  ((ok == RESETS)) || { echo "only $ok of $RESETS resets succeeded"; return 1; }
  ((during == RESETS)) || { echo "only $during of $RESETS resets were sent while fio ran"; return 1; }
  ((n1 - n0 == RESETS)) || { echo "the kernel log shows $((n1 - n0)) successful LU resets, expected $RESETS"; return 1; }
  ((f1 == f0 && c1 == c0)) || { echo "the kernel log shows failed resets or connection errors"; return 1; }
  # SAM-5 §6.3: after each reset the next command of our (only) I_T nexus gets the unit
  # attention 29/03, which the kernel logs as "Power-on or device reset occurred".
  ((u1 - u0 == RESETS)) || { echo "the kernel saw $((u1 - u0)) reset unit attentions (29/xx), expected $RESETS"; return 1; }
}

cleanup() {
  umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
  timeout 60 iscsiadm -m node -T "$IQN" -p "$PORTAL" --logout >/dev/null 2>&1
  true
}

# pass NAME DIGEST : the full initiator scenario once.
pass() {
  local p=$1 d=$2
  step "$p.discovery" discovery &&
  step "$p.node" node_setup "$d" &&
  step "$p.login" login &&
  step "$p.digests" check_digests "$d" &&
  step "$p.mkfs" mkfs.ext4 -q -F "$DEV" &&
  step "$p.mount" mount "$DEV" "$MNT" &&
  step "$p.write" write_files &&
  step "$p.umount" umount "$MNT" &&
  step "$p.logout" logout &&
  step "$p.login2" login &&
  step "$p.digests2" check_digests "$d" &&
  step "$p.mount2" mount "$DEV" "$MNT" &&
  step "$p.verify" verify_files &&
  step "$p.fio" run_fio &&
  step "$p.umount2" umount "$MNT" &&
  step "$p.fsck" fsck.ext4 -n -f "$DEV" &&
  step "$p.logout2" logout && return 0
  cleanup; return 1
}

# reset_pass : error handling. The file system and files of the previous pass; LOGICAL UNIT
# RESETs while fio runs; then the files are read back and the file system checked.
reset_pass() {
  local p=reset
  step "$p.node" node_setup None &&
  step "$p.login" login &&
  step "$p.mount" mount "$DEV" "$MNT" &&
  step "$p.fio-lun-reset" fio_lun_resets &&
  step "$p.verify" verify_files &&
  step "$p.umount" umount "$MNT" &&
  step "$p.fsck" fsck.ext4 -n -f "$DEV" &&
  step "$p.logout" logout && return 0
  cleanup; return 1
}

mkdir -p "$MNT"
step iscsid start_iscsid || exit 1
rc=0
pass plain None || rc=1
if pass crc32c CRC32C; then
  reset_pass || rc=1
else
  rc=1; emit "E2E step=reset.skipped ok=0 error=the-crc32c-pass-failed"
fi
exit $rc
