#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# The e2e scenario, run in the guest by init.sh: the open-iscsi initiator against the
# target on the host (reached through qemu's user network: host 127.0.0.1 = 10.0.2.2).
# From job.env: PORT, IQN, LUN (the disk; LUN 0 is the array controller), EXPECT_SIZE; for
# the CHAP part: CHAP, CHAP_IQN, CHAP_SIZE and the accounts (see chap_part); for the
# cluster part: CLUSTER, PORT2, CL_IQN, CL_SIZE; for the resize part: RESIZE, RESIZE_GROWN.
# Two full passes: 'plain' (no digests) and 'crc32c' (HeaderDigest + DataDigest = CRC32C),
# then 'reset': LOGICAL UNIT RESETs (sg_reset) while fio verifies, on the crc32c pass's files;
# then 'resize' (ringtgtd only): the host grows and shrinks the LU under the session;
# then 'cluster' (ringtgtd only): a third target through two portal groups, dm-multipath
# with ALUA, fence_scsi's persistent reservations from two initiators (cluster_part);
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

# --- online resize (ringtgtd only: RESIZE=1 in job.env) ----------------------------------
# The host changes the size of the LU under a logged-in session (ringtgtadm lun resize, on
# the guest's request); the kernel must see CAPACITY DATA HAS CHANGED (SBC-4 §4.10: the unit
# attention 2A/09 on every I_T nexus of the LU) and, after a rescan, the new size, on the
# same session: no logout, no new login.

# session_ids : the kernel's iSCSI session names (sessionN) for IQN, one per line.
session_ids() {
  local s
  for s in /sys/class/iscsi_session/session*; do
    [[ $(cat "$s/targetname" 2>/dev/null) == "$IQN" ]] && echo "${s##*/}"
  done
}

# request_host WHAT : ask the host for WHAT on the results channel and wait (60 s) for its
# answer in /job/WHAT.ack (9p, not cached). The answer's first word must be "ok".
request_host() {
  local what=$1 ack=
  emit "E2E request=$what"
  for _ in $(seq 600); do
    [[ -e /job/$what.ack ]] && { ack=$(cat "/job/$what.ack"); break; }
    sleep 0.1
  done
  [[ ${ack%% *} == ok ]] || { echo "the host did not do $what: ${ack:-no answer within 60 s}"; return 1; }
}

# lun_resize WHAT WANT : the host resizes the LU to WANT bytes (request WHAT); then the
# guest reads until the kernel logs "Capacity data has changed" (the unit attention of the
# next command), rescans the device and must find WANT in /sys/block/sdX/size, with the
# session it had before.
lun_resize() {
  local what=$1 want=$2 d=${DEV#/dev/} hctl sid0 sid1 ua0 ua1 i size0 size1
  sid0=$(session_ids | paste -sd,)
  [[ -n $sid0 && $sid0 != *,* ]] || { echo "expected one session to $IQN, found '$sid0'"; return 1; }
  size0=$(($(cat "/sys/block/$d/size") * 512))
  # the midlayer logs the unit attention as "sd H:C:T:L: Capacity data has changed"
  hctl=$(basename "$(readlink -f "/sys/block/$d/device")")
  ua0=$(dmesg | grep -c "sd $hctl: Capacity data has changed")
  request_host "$what" || return 1
  for ((i = 0; i < 30; i++)); do
    dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct status=none
    ua1=$(dmesg | grep -c "sd $hctl: Capacity data has changed")
    ((ua1 > ua0)) && break
    sleep 1
  done
  echo 1 > "/sys/block/$d/device/rescan" || return 1
  for ((i = 0; i < 50; i++)); do
    size1=$(($(cat "/sys/block/$d/size") * 512))
    ((size1 == want)) && break
    sleep 0.1
  done
  sid1=$(session_ids | paste -sd,)
  dmesg | grep -e "$d" -e "$hctl" | tail -n 5
  DETAIL="dev=$DEV hctl=$hctl size_before=$size0 size_after=$size1 want=$want capacity_changed_ua=$((ua1 - ua0)) session_before=$sid0 session_after=$sid1"
  ((ua1 > ua0)) || { echo "no 'Capacity data has changed' in the kernel log within 30 s"; return 1; }
  ((size1 == want)) || { echo "after the rescan /sys/block/$d/size says $size1 bytes, expected $want"; return 1; }
  [[ $sid1 == "$sid0" ]] || { echo "the session changed: $sid0 before, $sid1 after"; return 1; }
}

resize_part() {
  local p=resize
  step "$p.node" node_setup None &&
  step "$p.login" login &&
  step "$p.grow" lun_resize lun-resize-grow "$RESIZE_GROWN" &&
  step "$p.shrink" lun_resize lun-resize-shrink "$EXPECT_SIZE" &&
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

# --- the cluster part (ringtgtd only: CLUSTER=1 in job.env) -------------------------------
# The target CL_IQN, whose LUN 1 (a RAM disk of CL_SIZE bytes) the host serves through two
# portal groups: 127.0.0.1:PORT is group 1 (active/optimized at first), 127.0.0.1:PORT2
# group 2 (active/non-optimized); the guest reaches them as PORTAL and PORTAL2.
# ALUA: one initiator, a session through each portal, dm-multipath (multipathd) with the
# alua prioritizer and group_by_prio; the host swaps the states on the guest's request.
# Fencing: two initiators, as Pacemaker's fence_scsi uses them (sg_persist), each with a
# dm-multipath device over both portals; node 2 fences node 1 with PREEMPT AND ABORT.
PORTAL2=10.0.2.2:${PORT2:-0}
CL_WWID=
CL_KEY1=0xe2e1 CL_KEY2=0xe2e2        # the nodes' reservation keys (fence_scsi: one per node)
CL_IFACES=(e2e-node1 e2e-node2)      # open-iscsi ifaces, one initiator name each
CL_REGIONS=0

cl_node() { iscsiadm -m node -T "$CL_IQN" "$@"; }

# cl_paths [IFACE] : one line "IFACE PORT TPGT DEV INITIATOR" for each session to CL_IQN
# whose LUN has a disk, from sysfs (IFACE: only that iface's sessions).
cl_paths() {
  local s d port
  for s in /sys/class/iscsi_session/session*; do
    [[ $(cat "$s/targetname" 2>/dev/null) == "$CL_IQN" ]] || continue
    [[ -z ${1:-} || $(cat "$s/ifacename") == "$1" ]] || continue
    port=$(cat "$s"/device/connection*/iscsi_connection/connection*/persistent_port 2>/dev/null | head -n 1)
    d=$(ls "$s"/device/target*/*:*:*:"$LUN"/block 2>/dev/null | head -n 1)
    [[ -n $d ]] || continue
    echo "$(cat "$s/ifacename") $port $(cat "$s/tpgt") $d $(cat "$s/initiatorname")"
  done | sort -k1,1 -k3,3n
}
# cl_dev IFACE PORT : the disk of IFACE's session through PORT.
cl_dev() { cl_paths "$1" | awk -v p="$2" '$2 == p {print $4}'; }

# cl_login IFACE : a session through each portal with open-iscsi's iface IFACE; both disks.
cl_login() {
  local i=$1 p n
  for p in "$PORTAL" "$PORTAL2"; do
    n=(iscsiadm -m node -T "$CL_IQN" -p "$p" -I "$i")
    "${n[@]}" >/dev/null 2>&1 || "${n[@]}" -o new >/dev/null || return 1
    "${n[@]}" -o update -n node.session.initial_login_retry_max -v 2 &&
    "${n[@]}" -o update -n node.session.timeo.replacement_timeout -v 30 &&
    timeout 120 "${n[@]}" --login || return 1
  done
  for _ in $(seq 300); do
    [[ -n $(cl_dev "$i" "$PORT") && -n $(cl_dev "$i" "$PORT2") ]] && break
    sleep 0.1
  done
  udevadm settle -t 10
  cl_paths "$i"
  [[ -b /dev/$(cl_dev "$i" "$PORT") && -b /dev/$(cl_dev "$i" "$PORT2") ]] ||
    { echo "iface $i: no disk through both portals"; iscsiadm -m session -P 3; return 1; }
}

# cl_discovery : SendTargets through either portal lists both portals of the target, each
# with its portal group tag (RFC 7143 App. C). The target names the addresses it listens on
# (the host's 127.0.0.1), so the guest connects to 10.0.2.2 with the ports it was told.
cl_discovery() {
  local p out
  for p in "$PORTAL" "$PORTAL2"; do
    out=$(timeout 60 iscsiadm -m discovery -t sendtargets -p "$p") || { echo "$out"; return 1; }
    echo "via $p:"; echo "$out"
    grep -q ":$PORT,1 $CL_IQN\$" <<<"$out" && grep -q ":$PORT2,2 $CL_IQN\$" <<<"$out" ||
      { echo "via $p: $CL_IQN is not listed with both portals (:$PORT,1 and :$PORT2,2)"; return 1; }
  done
  DETAIL="advertised=$(awk -v q="$CL_IQN" '$2 == q {print $1}' <<<"$out" | paste -sd,)"
}

# cl_alua_login : the default iface (this guest's initiator name) through both portals; the
# login answers each portal's TargetPortalGroupTag.
cl_alua_login() {
  local t1 t2
  cl_login default || return 1
  t1=$(cl_paths default | awk -v p="$PORT" '$2 == p {print $3}')
  t2=$(cl_paths default | awk -v p="$PORT2" '$2 == p {print $3}')
  DETAIL="dev1=$(cl_dev default "$PORT") tpgt1=$t1 dev2=$(cl_dev default "$PORT2") tpgt2=$t2"
  [[ $t1 == 1 && $t2 == 2 ]] || { echo "TargetPortalGroupTag: $t1 through $PORT, $t2 through $PORT2 (want 1, 2)"; return 1; }
}

# mpath_groups : "GROUP PRIO STATUS DEV" for each path of the map, from multipath -ll.
mpath_groups() {
  multipath -ll "$CL_WWID" 2>/dev/null | awk '
    /prio=/ { g++; match($0, /prio=[0-9-]+/); p = substr($0, RSTART + 5, RLENGTH - 5)
              match($0, /status=[a-z]+/); st = substr($0, RSTART + 7, RLENGTH - 7) }
    / sd[a-z]+ [0-9]+:[0-9]+ / { for (i = 1; i <= NF; i++) if ($i ~ /^sd[a-z]+$/) print g, p, st, $i }'
}
# mpath_prio DEV / mpath_status DEV : the priority / the status (active: the group the
# kernel uses now) of DEV's path group.
mpath_prio() { mpath_groups | awk -v d="$1" '$4 == d {print $2}'; }
mpath_status() { mpath_groups | awk -v d="$1" '$4 == d {print $3}'; }
# mpathd_stop : multipathd asked to stop, then SIGTERM by its pid file if it is still there.
mpathd_stop() {
  local pid
  pid=$(cat /run/multipathd.pid 2>/dev/null)
  [[ -n $pid ]] && alive "$pid" || return 0
  multipathd shutdown >/dev/null 2>&1
  for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.1; done
  kill "$pid"
}

# cl_multipath : multipathd with the alua prioritizer (as docs/clusters.md shows) builds one
# map of the two paths, in two path groups: prio 50 (active/optimized, group 1's portal) and
# 10 (active/non-optimized).
cl_multipath() {
  local d1 d2 p1 p2 n
  d1=$(cl_dev default "$PORT") d2=$(cl_dev default "$PORT2")
  modprobe -a dm_multipath dm_round_robin dm_service_time scsi_dh_alua || return 1
  CL_WWID=$(udevadm info -q property -n "/dev/$d1" | sed -n 's/^ID_SERIAL=//p')
  [[ -n $CL_WWID && $CL_WWID == $(udevadm info -q property -n "/dev/$d2" | sed -n 's/^ID_SERIAL=//p') ]] ||
    { echo "no common WWID for $d1 and $d2"; udevadm info -q property -n "/dev/$d1"; return 1; }
  mkdir -p /etc/multipath
  # Only this LU; the paths are checked every 2 s (at most every 4 s when they are stable).
  cat > /etc/multipath.conf <<EOF
defaults {
    user_friendly_names no
    find_multipaths off
    polling_interval 2
    max_polling_interval 4
}
blacklist {
    wwid ".*"
}
blacklist_exceptions {
    wwid "^$CL_WWID\$"
}
devices {
    device {
        vendor "RINGTGT"
        product ".*"
        path_grouping_policy group_by_prio
        prio alua
        hardware_handler "1 alua"
        path_checker tur
        failback immediate
        no_path_retry fail
    }
}
EOF
  multipathd || return 1
  for _ in $(seq 300); do
    n=$(mpath_groups | wc -l)
    ((n == 2)) && [[ -b /dev/mapper/$CL_WWID ]] && break
    sleep 0.1
  done
  multipath -ll
  mpath_groups
  p1=$(mpath_prio "$d1") p2=$(mpath_prio "$d2")
  DETAIL="map=$CL_WWID groups=$(mpath_groups | awk '{print $1}' | sort -u | wc -l) prio($d1)=$p1 prio($d2)=$p2"
  ((n == 2)) || { echo "the map has $n paths, expected 2"; return 1; }
  # SPC-4 §5.15.2; multipath's alua prioritizer: 50 active/optimized, 10 active/non-optimized
  [[ $p1 == 50 && $p2 == 10 ]] || { echo "priorities $p1 ($d1, group 1) and $p2 ($d2, group 2), expected 50 and 10"; return 1; }
  (($(mpath_groups | awk '{print $1}' | sort -u | wc -l) == 2)) || { echo "expected two path groups"; return 1; }
}

# sectors_written DEV : sectors written to DEV so far (/sys/block/DEV/stat, field 7).
sectors_written() { awk '{print $7}' "/sys/block/$1/stat"; }

# cl_mpath_io OPTIMIZED : 4 MiB of random data to the next region of the map (direct I/O),
# every region written so far read back; the writes must have gone through the path
# OPTIMIZED (dm-multipath uses the path group with the highest priority).
cl_mpath_io() {
  local opt=$1 other r sum w0 w1 o0 o1 map=/dev/mapper/$CL_WWID
  other=$(mpath_groups | awk -v d="$opt" '$4 != d {print $4}')
  w0=$(sectors_written "$opt") o0=$(sectors_written "$other")
  head -c 4M /dev/urandom > /tmp/cl.dat || return 1
  dd if=/tmp/cl.dat of="$map" bs=1M seek=$((CL_REGIONS * 4)) oflag=direct conv=fsync status=none || return 1
  echo "$CL_REGIONS $(sha256sum < /tmp/cl.dat | cut -d' ' -f1)" >> /tmp/cl.sums
  CL_REGIONS=$((CL_REGIONS + 1))
  while read -r r sum; do
    [[ $(dd if="$map" bs=1M skip=$((r * 4)) count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1) == "$sum" ]] ||
      { echo "region $r reads back wrong"; return 1; }
  done < /tmp/cl.sums
  w1=$(sectors_written "$opt") o1=$(sectors_written "$other")
  DETAIL="verified=$((CL_REGIONS * 4))MiB written_via_$opt=$(((w1 - w0) / 2))KiB written_via_$other=$(((o1 - o0) / 2))KiB"
  ((w1 - w0 >= 8192)) || { echo "the 4 MiB were not written through $opt (the optimized path)"; return 1; }
  ((o1 == o0)) || { echo "writes went through $other (non-optimized)"; return 1; }
}

# cl_alua_swap : the host swaps the groups' states (ringtgtadm portal-group set-state); the
# next command of each path gets ASYMMETRIC ACCESS STATE CHANGED, and multipathd's path
# checker reads the new states: the priorities swap and the map regroups.
cl_alua_swap() {
  local ack='' d1 d2 p1='' p2='' st='' i t0
  d1=$(cl_dev default "$PORT") d2=$(cl_dev default "$PORT2")
  emit "E2E request=alua-swap"
  for _ in $(seq 600); do
    [[ -e /job/alua-swap.ack ]] && { ack=$(cat /job/alua-swap.ack); break; }
    sleep 0.1
  done
  [[ $ack == ok ]] || { echo "the host did not swap the states: ${ack:-no answer within 60 s}"; return 1; }
  t0=$(cut -d' ' -f1 /proc/uptime)
  for ((i = 0; i < 60; i++)); do
    dd if="/dev/mapper/$CL_WWID" of=/dev/null bs=64k count=1 iflag=direct status=none
    p1=$(mpath_prio "$d1") p2=$(mpath_prio "$d2") st=$(mpath_status "$d2")
    [[ $p1 == 10 && $p2 == 50 && $st == active ]] && break
    sleep 1
  done
  multipath -ll
  dmesg | grep -i alua | tail -n 5
  DETAIL="prio($d1)=$p1 prio($d2)=$p2 group($d2)=$st after=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f", b - a}')s"
  [[ $p1 == 10 && $p2 == 50 ]] || { echo "after 60 s: priorities $p1 ($d1, group 1) and $p2 ($d2, group 2), expected 10 and 50"; return 1; }
  [[ $st == active ]] || { echo "after 60 s the kernel still uses the group of $d1"; return 1; }
}

# cl_alua_stop : multipathd and its map gone, the sessions logged out.
cl_alua_stop() {
  mpathd_stop
  multipath -F
  rm -f /etc/multipath.conf /etc/multipath/wwids
  timeout 60 iscsiadm -m node -T "$CL_IQN" -I default --logout || return 1
  [[ -z $(cl_paths default) ]] || { echo "sessions left"; cl_paths default; return 1; }
}

# --- fencing as Pacemaker's fence_scsi does it, with sg_persist ---------------------------
# Two cluster nodes need two initiator ports. This guest plays both: two open-iscsi ifaces,
# each with its own iface.initiatorname, so each node's sessions carry another initiator
# name (and the target sees other I_T nexuses). multipathd would put the four paths of the
# one LU into one map (one WWID), so each node's dm-multipath device is made with dmsetup:
# the multipath target over its two paths, as multipathd would load it.
cl_fence_login() {
  local i n=0 sz d1 d2 names
  modprobe -a dm_multipath dm_round_robin || return 1
  for i in 1 2; do
    iscsiadm -m iface -I "${CL_IFACES[i - 1]}" >/dev/null 2>&1 || iscsiadm -m iface -I "${CL_IFACES[i - 1]}" -o new || return 1
    iscsiadm -m iface -I "${CL_IFACES[i - 1]}" -o update -n iface.initiatorname -v "iqn.2026-11.org.ringtgt:e2e-node$i" || return 1
    cl_login "${CL_IFACES[i - 1]}" || return 1
  done
  names=$(cl_paths | awk '{print $5}' | sort -u | paste -sd,)
  [[ $(cl_paths | awk '{print $5}' | sort -u | wc -l) == 2 ]] || { echo "initiator names: $names (want two)"; return 1; }
  for i in 1 2; do
    d1=$(cl_dev "${CL_IFACES[i - 1]}" "$PORT") d2=$(cl_dev "${CL_IFACES[i - 1]}" "$PORT2")
    # sd's command timeout: a command a PREEMPT AND ABORT aborted gets no answer (SAM-5
    # §5.6, TAS=0); the kernel's error handling starts after this long
    echo 20 > "/sys/block/$d1/device/timeout"; echo 20 > "/sys/block/$d2/device/timeout"
    sz=$(blockdev --getsz "/dev/$d1") || return 1
    # the multipath target: no features, no hardware handler, one round-robin path group
    timeout 30 dmsetup create "e2e-fence$i" --table \
      "0 $sz multipath 0 0 1 1 round-robin 0 2 1 $(cat "/sys/block/$d1/dev") 1 $(cat "/sys/block/$d2/dev") 1" || return 1
    n=$((n + 2))
  done
  udevadm settle -t 10
  dmsetup table | grep e2e-fence
  [[ -b /dev/mapper/e2e-fence1 && -b /dev/mapper/e2e-fence2 ]] || { echo "no /dev/mapper/e2e-fence1 or 2"; return 1; }
  DETAIL="initiators=$names paths=$n node1=$(cl_dev "${CL_IFACES[0]}" "$PORT"),$(cl_dev "${CL_IFACES[0]}" "$PORT2") node2=$(cl_dev "${CL_IFACES[1]}" "$PORT"),$(cl_dev "${CL_IFACES[1]}" "$PORT2")"
}

# node_devs N : node N's path disks (sdX), one per portal.
node_devs() { cl_paths "${CL_IFACES[$1 - 1]}" | awk '{print $4}'; }
pr_keys() { sg_persist -n --in --read-keys "/dev/$1" | awk '$1 ~ /^0x[0-9a-f]+$/ {print $1}' | sort | paste -sd,; }
pr_holder() { sg_persist -n --in --read-reservation "/dev/$1" | sed -n 's/^ *Key=\(0x[0-9a-f]*\).*/\1/p'; }
pr_type() { sg_persist -n --in --read-reservation "/dev/$1" | sed -n 's/.*type: *//p'; }

# cl_fence_register : fence_scsi's "on": each node REGISTER AND IGNORE EXISTING KEY on every
# path of its device; READ KEYS then lists each key once for each I_T nexus.
cl_fence_register() {
  local i d keys
  for i in 1 2; do
    for d in $(node_devs "$i"); do
      sg_persist -n --out --register-ignore --param-sark="$(eval echo "\$CL_KEY$i")" "/dev/$d" || return 1
    done
  done
  keys=$(pr_keys "$(node_devs 1 | head -n 1)")
  DETAIL="keys=$keys"
  [[ $keys == "$CL_KEY1,$CL_KEY1,$CL_KEY2,$CL_KEY2" ]] || { echo "READ KEYS: $keys"; return 1; }
}

# write_ok DEV / write_conflict DEV : one 4 KiB WRITE(10) with sg_raw, straight to a path
# (no multipath, no retry), at 2 MiB; it must succeed / end in RESERVATION CONFLICT.
sg_write() {
  local d=$1 ss n lba
  ss=$(blockdev --getss "/dev/$d") || return 1
  n=$((4096 / ss)) lba=$((2097152 / ss))
  head -c 4096 /dev/urandom > /tmp/blk.dat
  # shellcheck disable=SC2046  # one argument per CDB byte
  sg_raw -s 4096 -i /tmp/blk.dat "/dev/$d" 2a 00 $(printf '%02x ' $((lba >> 24 & 255)) $((lba >> 16 & 255)) \
    $((lba >> 8 & 255)) $((lba & 255))) 00 00 "$(printf '%02x' "$n")" 00 2>&1
}
write_ok() {
  local out rc=0
  out=$(sg_write "$1") || rc=$?
  echo "$1: rc=$rc $out"
  ((rc == 0)) && ! grep -qi 'conflict' <<<"$out"
}
write_conflict() {
  local out rc=0
  out=$(sg_write "$1") || rc=$?
  echo "$1: rc=$rc $out"
  ((rc != 0)) && grep -qi 'reservation conflict' <<<"$out"
}

# cl_fence_reserve : node 1 takes the reservation, WRITE EXCLUSIVE - REGISTRANTS ONLY (type
# 5, fence_scsi's); both nodes, registrants, still write through their devices.
cl_fence_reserve() {
  local d t h
  d=$(node_devs 1 | head -n 1)
  sg_persist -n --out --reserve --param-rk="$CL_KEY1" --prout-type=5 "/dev/$d" || return 1
  h=$(pr_holder "$d") t=$(pr_type "$d")
  DETAIL="holder=$h type=\"$t\""
  [[ $h == "$CL_KEY1" && $t == *"Write Exclusive, registrants only"* ]] || { echo "READ RESERVATION: $h $t"; return 1; }
  for d in $(node_devs 1) $(node_devs 2); do write_ok "$d" || { echo "a registrant cannot write through $d"; return 1; }; done
  dd if=/dev/urandom of=/dev/mapper/e2e-fence1 bs=4k count=16 seek=1024 oflag=direct status=none &&
    dd if=/dev/urandom of=/dev/mapper/e2e-fence2 bs=4k count=16 seek=1024 oflag=direct status=none
}

# cl_fence_preempt : node 1 writes through its device (fio, 8 in flight) while node 2 fences
# it as fence_scsi "off" does: PREEMPT AND ABORT of node 1's key, keeping the type. Node 1's
# writer must fail; then node 2 overwrites the region node 1 wrote, and after a pause reads
# back its own data: no write of node 1 that was in flight lands after the PREEMPT AND ABORT.
cl_fence_preempt() {
  local fio_pid frc=0 d keys h t log=/tmp/log/fence-writer.fio alive_at_fence=0 t0 t1 t2
  timeout 150 fio --name=node1 --filename=/dev/mapper/e2e-fence1 --rw=write --bs=64k --offset=8M \
    --size=4M --iodepth=8 --ioengine=libaio --direct=1 --time_based --runtime=120 \
    --buffer_pattern=0xaa >"$log" 2>&1 &
  fio_pid=$!
  sleep 2
  alive "$fio_pid" && alive_at_fence=1
  d=$(node_devs 2 | head -n 1)
  t0=$(cut -d' ' -f1 /proc/uptime)
  sg_persist -n --out --preempt-abort --param-rk="$CL_KEY2" --param-sark="$CL_KEY1" --prout-type=5 "/dev/$d" ||
    { kill "$fio_pid" 2>/dev/null; wait "$fio_pid"; return 1; }
  t1=$(cut -d' ' -f1 /proc/uptime)
  wait "$fio_pid" || frc=$?
  t2=$(cut -d' ' -f1 /proc/uptime)
  cat "$log"
  head -c 4M /dev/zero | tr '\0' '\125' > /tmp/survivor.dat
  dd if=/tmp/survivor.dat of=/dev/mapper/e2e-fence2 bs=1M seek=8 oflag=direct conv=fsync status=none || return 1
  sleep 2
  keys=$(pr_keys "$d") h=$(pr_holder "$d") t=$(pr_type "$d")
  DETAIL="writer_running=$alive_at_fence writer_rc=$frc fence_secs=$(awk "BEGIN{print $t1 - $t0}") writer_stopped_secs=$(awk "BEGIN{print $t2 - $t0}") keys=$keys holder=$h type=\"$t\""
  ((alive_at_fence)) || { echo "node 1's writer had stopped before the fence"; return 1; }
  ((frc != 0 && frc != 124)) || { echo "node 1's writer did not fail (status $frc)"; return 1; }
  [[ $keys == "$CL_KEY2,$CL_KEY2" ]] || { echo "READ KEYS after the preemption: $keys"; return 1; }
  [[ $h == "$CL_KEY2" && $t == *"Write Exclusive, registrants only"* ]] || { echo "READ RESERVATION: $h $t"; return 1; }
  dd if=/dev/mapper/e2e-fence2 of=/tmp/readback.dat bs=1M skip=8 count=4 iflag=direct status=none || return 1
  cmp /tmp/readback.dat /tmp/survivor.dat || { echo "node 1's data landed after node 2's writes"; return 1; }
}

# cl_fenced_io : node 1's writes end in RESERVATION CONFLICT on every path (and through its
# dm device); node 2's succeed on every path and through its device.
cl_fenced_io() {
  local d rc=0 out
  for d in $(node_devs 1); do write_conflict "$d" || { echo "node 1 ($d) is not fenced"; return 1; }; done
  out=$(dd if=/dev/urandom of=/dev/mapper/e2e-fence1 bs=4k count=1 seek=2048 oflag=direct 2>&1) && rc=0 || rc=$?
  echo "node 1, dm device: rc=$rc $out"
  ((rc != 0)) || { echo "node 1 wrote through its dm device after the fence"; return 1; }
  for d in $(node_devs 2); do write_ok "$d" || { echo "node 2 cannot write through $d"; return 1; }; done
  dd if=/dev/urandom of=/dev/mapper/e2e-fence2 bs=4k count=16 seek=2048 oflag=direct status=none || return 1
  DETAIL="node1=conflict:$(node_devs 1 | paste -sd,) node2=good:$(node_devs 2 | paste -sd,) node1_dm=\"$(grep -m1 'error' <<<"$out" | sed 's/^dd: //')\""
}

# cl_cleanup : everything the cluster part set up goes, whatever failed: the reservation
# (CLEAR, by node 2 or node 1), the dm devices, multipathd, the sessions, the ifaces.
cl_cleanup() {
  local d i
  for i in 2 1; do
    for d in $(node_devs "$i"); do
      sg_persist -n --out --clear --param-rk="$(eval echo "\$CL_KEY$i")" "/dev/$d" >/dev/null 2>&1 && break 2
    done
  done
  dmsetup remove e2e-fence1 >/dev/null 2>&1; dmsetup remove e2e-fence2 >/dev/null 2>&1
  mpathd_stop
  multipath -F >/dev/null 2>&1
  rm -f /etc/multipath.conf /etc/multipath/wwids
  timeout 60 iscsiadm -m node -T "$CL_IQN" --logout >/dev/null 2>&1
  iscsiadm -m node -T "$CL_IQN" -o delete >/dev/null 2>&1
  for i in "${CL_IFACES[@]}"; do iscsiadm -m iface -I "$i" -o delete >/dev/null 2>&1; done
  [[ -z $(cl_paths) ]] || { echo "sessions to $CL_IQN are left"; cl_paths; return 1; }
}

cluster_part() {
  local rc=0
  step cluster.discovery cl_discovery || rc=1
  step cluster.alua.login cl_alua_login &&
  step cluster.alua.multipath cl_multipath &&
  step cluster.alua.io cl_mpath_io "$(cl_dev default "$PORT")" &&
  step cluster.alua.swap cl_alua_swap &&
  step cluster.alua.io2 cl_mpath_io "$(cl_dev default "$PORT2")" &&
  step cluster.alua.stop cl_alua_stop || { rc=1; cl_cleanup >/dev/null 2>&1; }
  step cluster.fence.login cl_fence_login &&
  step cluster.fence.register cl_fence_register &&
  step cluster.fence.reserve cl_fence_reserve &&
  step cluster.fence.preempt-abort cl_fence_preempt &&
  step cluster.fence.fenced-io cl_fenced_io || rc=1
  step cluster.cleanup cl_cleanup || rc=1
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
if ((${RESIZE:-0})); then resize_part || rc=1; fi
if ((${CLUSTER:-0})); then cluster_part || rc=1; fi
if ((${CHAP:-0})); then chap_part || rc=1; fi
exit $rc
