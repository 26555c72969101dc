#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# The e2e scenario, run in the guest by init.sh: the open-iscsi initiator against the
# target on the host (reached through qemu's user network: host 127.0.0.1 = 10.0.2.2).
# From job.env: PORT, IQN, LUN (the disk; LUN 0 is the array controller), EXPECT_SIZE.
# Two full passes: 'plain' (no digests) and 'crc32c' (HeaderDigest + DataDigest = CRC32C).
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

mkdir -p "$MNT"
step iscsid start_iscsid || exit 1
rc=0
pass plain None || rc=1
pass crc32c CRC32C || rc=1
exit $rc
