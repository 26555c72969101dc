#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# The e2e scenario, run in the guest by init.sh: the open-iscsi initiator against the
# target on the host (reached through qemu's user network: host 127.0.0.1 = 10.0.2.2).
# From job.env: PORT, IQN, LUN (the disk; LUN 0 is the array controller), EXPECT_SIZE; for
# the CHAP part: CHAP, CHAP_IQN, CHAP_SIZE and the accounts (see chap_part).
# Two full passes: 'plain' (no digests) and 'crc32c' (HeaderDigest + DataDigest = CRC32C),
# then 'reset': LOGICAL UNIT RESETs (sg_reset) while fio verifies, on the crc32c pass's files;
# then 'chap' (ringtgtd only): CHAP logins to a second target, discovery with CHAP.
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

# --- the CHAP part (ringtgtd only: CHAP=1 in job.env) -------------------------------------
# A second target, CHAP_IQN, whose LUN 1 is a RAM disk of CHAP_SIZE bytes, with the incoming
# account CHAP_IN_USER / CHAP_IN_SECRET and the outgoing (mutual) account CHAP_OUT_USER /
# CHAP_OUT_SECRET; discovery auth is switched on by the host when the guest asks for it (its
# account: DISC_USER / DISC_SECRET), after the passes above, which discover without CHAP.
CHAP_LINK=/dev/disk/by-path/ip-$PORTAL-iscsi-${CHAP_IQN:-}-lun-$LUN
CHAP_REGIONS=0
# The daemon logs at most 10 lines per source address in 10 s (src/iscsi/server.c), and
# every connection of this guest comes from the same address. run.sh reads the CHAP_A of the
# logins after this many quiet seconds in the daemon's log, so none of them can be dropped.
CHAP_LOG_QUIET=11

chap_node() { iscsiadm -m node -T "$CHAP_IQN" -p "$PORTAL" "$@"; }
chap_set() { chap_node -o update -n "$1" -v "$2"; }
disc_db() { iscsiadm -m discoverydb -t sendtargets -p "$PORTAL" "$@"; }

# request_discovery_auth : discovery auth is a global setting of the daemon, which only the
# host can change (control socket). Ask for it on the results channel and wait for the
# host's answer, a file in the job share (9p, not cached: cache=none).
request_discovery_auth() {
  local ack=
  emit "E2E request=discovery-auth"
  for _ in $(seq 600); do
    [[ -e /job/discovery-auth.ack ]] && { ack=$(cat /job/discovery-auth.ack); break; }
    sleep 0.1
  done
  [[ $ack == ok ]] || { echo "the host did not switch discovery auth on: ${ack:-no answer within 60 s}"; return 1; }
  DETAIL="mode=chap account=$DISC_USER"
}

# discover_chap_refused : with discovery auth on, a SendTargets session without CHAP must be
# refused (RFC 7143 §11.13.5: 0x0201, which iscsiadm reports as exit status 24,
# ISCSI_ERR_LOGIN_AUTH_FAILED) and must list nothing.
discover_chap_refused() {
  local out rc=0
  disc_db -o delete >/dev/null 2>&1
  disc_db -o new && disc_db -o update -n discovery.sendtargets.auth.authmethod -v None || return 1
  out=$(timeout 60 iscsiadm -m discoverydb -t sendtargets -p "$PORTAL" --discover 2>&1) || rc=$?
  echo "$out"
  DETAIL="authmethod=None discover_rc=$rc"
  ((rc == 24)) || { echo "expected exit status 24 (authentication failure), got $rc"; return 1; }
  ! grep -q "$CHAP_IQN\|$IQN" <<<"$out" || { echo "targets listed without authentication"; return 1; }
}

# discover_chap : SendTargets with discovery.sendtargets.auth.* (one-way CHAP) lists both targets.
discover_chap() {
  local out
  disc_db -o update -n discovery.sendtargets.auth.authmethod -v CHAP &&
  disc_db -o update -n discovery.sendtargets.auth.username -v "$DISC_USER" &&
  disc_db -o update -n discovery.sendtargets.auth.password -v "$DISC_SECRET" || return 1
  out=$(timeout 60 iscsiadm -m discoverydb -t sendtargets -p "$PORTAL" --discover) || { echo "$out"; return 1; }
  echo "$out"
  grep -q " $CHAP_IQN\$" <<<"$out" && grep -q " $IQN\$" <<<"$out" || { echo "$CHAP_IQN or $IQN not listed"; return 1; }
  DETAIL="authmethod=CHAP user=$DISC_USER targets=$(awk '{print $2}' <<<"$out" | sort -u | paste -sd,)"
}

# chap_node_setup : the node record of the CHAP target, for the portal we reach, with one-way
# CHAP and the open-iscsi default algorithms (chap_algs unset: MD5).
chap_node_setup() {
  chap_node >/dev/null 2>&1 || chap_node -o new || return 1
  chap_set node.session.auth.authmethod CHAP &&
  chap_set node.session.auth.username "$CHAP_IN_USER" &&
  chap_set node.session.auth.password "$CHAP_IN_SECRET" &&
  chap_set node.session.initial_login_retry_max 2 &&
  chap_set node.session.timeo.replacement_timeout 30 || return 1
  chap_node | grep -E '^node.session.auth' # iscsiadm masks the passwords
  DETAIL="authmethod=CHAP user=$CHAP_IN_USER"
}

chap_sessions() { iscsiadm -m session 2>/dev/null | grep -c " $CHAP_IQN "; }

# chap_wrong_secret : a login with a wrong secret fails with 0x0201 (exit status 24) and
# leaves no session and no disk.
chap_wrong_secret() {
  local rc=0 n
  chap_set node.session.auth.password "not-$CHAP_IN_SECRET" || return 1
  timeout 120 iscsiadm -m node -T "$CHAP_IQN" -p "$PORTAL" --login || rc=$?
  chap_set node.session.auth.password "$CHAP_IN_SECRET" || return 1
  sleep 1
  n=$(chap_sessions)
  DETAIL="login_rc=$rc sessions=$n"
  ((rc == 24)) || { echo "expected exit status 24 (ISCSI_ERR_LOGIN_AUTH_FAILED), got $rc"; return 1; }
  ((n == 0)) || { echo "a session exists after the refused login"; iscsiadm -m session; return 1; }
  [[ ! -e $CHAP_LINK ]] || { echo "$CHAP_LINK exists after the refused login"; return 1; }
}

# chap_login VARIANT : oneway (default algorithms), sha256 / sha3-256 (chap_algs = only that
# one), mutual (username_in / password_in, chap_algs = all four, SHA3-256 first); then the
# login and the disk.
chap_login() {
  local v=$1 size algs
  case $v in
    oneway) ;;
    sha256) chap_set node.session.auth.chap_algs SHA256 || return 1 ;;
    sha3-256) chap_set node.session.auth.chap_algs SHA3-256 || return 1 ;;
    mutual)
      chap_set node.session.auth.chap_algs SHA3-256,SHA256,SHA1,MD5 &&
      chap_set node.session.auth.username_in "$CHAP_OUT_USER" &&
      chap_set node.session.auth.password_in "$CHAP_OUT_SECRET" || return 1 ;;
    *) echo "unknown variant $v"; return 1 ;;
  esac
  [[ $v == oneway ]] || sleep "$CHAP_LOG_QUIET"
  algs=$(chap_node | sed -n 's/^node.session.auth.chap_algs = //p')
  DETAIL="chap_algs=${algs:-default}"
  timeout 120 iscsiadm -m node -T "$CHAP_IQN" -p "$PORTAL" --login || return 1
  for _ in $(seq 300); do [[ -b $CHAP_LINK ]] && break; sleep 0.1; done
  [[ -b $CHAP_LINK ]] || { echo "no block device $CHAP_LINK"; ls -l /dev/disk/by-path; return 1; }
  DEV=$(readlink -f "$CHAP_LINK")
  size=$(blockdev --getsize64 "$DEV") || return 1
  DETAIL+=" dev=$DEV size=$size"
  [[ $size == "$CHAP_SIZE" ]] || { echo "size $size, expected $CHAP_SIZE"; return 1; }
}

# chap_io : writes 4 MiB of random data to the next region of the disk (direct I/O) and
# reads back every region written so far, in this session and the earlier ones.
chap_io() {
  local r sum
  head -c 4M /dev/urandom > /tmp/chap.dat || return 1
  dd if=/tmp/chap.dat of="$DEV" bs=1M seek=$((CHAP_REGIONS * 4)) oflag=direct conv=fsync status=none || return 1
  echo "$CHAP_REGIONS $(sha256sum < /tmp/chap.dat | cut -d' ' -f1)" >> /tmp/chap.sums
  CHAP_REGIONS=$((CHAP_REGIONS + 1))
  while read -r r sum; do
    [[ $(dd if="$DEV" bs=1M skip=$((r * 4)) count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1) == "$sum" ]] ||
      { echo "region $r (4 MiB at $((r * 4)) MiB) reads back wrong"; return 1; }
  done < /tmp/chap.sums
  DETAIL="written=4MiB verified=$((CHAP_REGIONS * 4))MiB"
}

chap_logout() {
  timeout 60 iscsiadm -m node -T "$CHAP_IQN" -p "$PORTAL" --logout || return 1
  for _ in $(seq 300); do [[ -e $CHAP_LINK ]] || return 0; sleep 0.1; done
  echo "$CHAP_LINK still exists"; return 1
}

chap_cleanup() { timeout 60 iscsiadm -m node -T "$CHAP_IQN" -p "$PORTAL" --logout >/dev/null 2>&1; true; }

# chap_part : discovery CHAP (refused without it), a wrong secret, then one login with
# I/O for each variant. run.sh checks the daemon's log for the algorithm of each variant.
chap_part() {
  local v rc=0
  step chap.discovery-auth request_discovery_auth &&
  step chap.discovery-refused discover_chap_refused &&
  step chap.discovery discover_chap &&
  step chap.node chap_node_setup &&
  step chap.wrong-secret chap_wrong_secret || { chap_cleanup; return 1; }
  for v in oneway sha256 sha3-256 mutual; do
    step "chap.$v.login" chap_login "$v" &&
    step "chap.$v.io" chap_io &&
    step "chap.$v.logout" chap_logout || { rc=1; chap_cleanup; }
  done
  return $rc
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
if ((${CHAP:-0})); then chap_part || rc=1; fi
exit $rc
