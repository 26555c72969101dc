#!/usr/bin/env bash
# End-to-end test: the Linux kernel's open-iscsi initiator, in a QEMU guest, against
# ringtgtd running on this host.
#
#   usage: run.sh --ringtgtd PATH [--ringtgtadm PATH] [--timeout SECS] [--keep]
#
# Builds or refreshes the cached guest image (build-image.sh), exports a 1 GiB sparse
# file with ringtgtd on 127.0.0.1:<free port>, boots the guest (it reaches the host's
# 127.0.0.1 as 10.0.2.2) and runs guest/scenario.sh in it: discovery, login, mkfs, files
# with checksums, re-login and verify, fio with crc32c verification, logout; once without
# digests and once with HeaderDigest/DataDigest = CRC32C. Then an error-handling pass:
# LOGICAL UNIT RESETs from the guest (sg_reset) while fio verifies, which ringtgtd must log.
# Then a CHAP part (ringtgtd only): a second target with CHAP accounts, set up with ringtgtadm
# (--ringtgtadm, default: tools/ringtgtadm in the build directory of --ringtgtd); logins with
# one-way CHAP, SHA-256, SHA3-256 and mutual CHAP, a wrong secret, and discovery CHAP, which
# the host switches on when the guest asks for it. The daemon's log must show the algorithms.
# Before it, a cluster part (ringtgtd only): a third target reached through two portal groups
# (127.0.0.1:PORT in group 1, active/optimized, 127.0.0.1:PORT2 in group 2,
# active/non-optimized); the guest's dm-multipath with the alua prioritizer, which must follow
# when the host swaps the states (ringtgtadm portal-group set-state, on the guest's request);
# then fence_scsi's sequence with sg_persist from two initiators (PREEMPT AND ABORT).
# Every step prints "E2E step=NAME ok=0|1 ...". Exit status: 0 when every step passed,
# 77 (skip) only when qemu-system-x86 cannot be installed, 1 otherwise, 2 for bad usage.
#
# Debugging aid: "--target tgt" (or RINGTGT_E2E_TARGET=tgt) runs the same scenario
# against tgtd from Debian's tgt package instead of ringtgtd (--ringtgtd is then not needed).
# Settings: RINGTGT_E2E_CACHE (image cache, default /var/cache/ringtgt-e2e),
# RINGTGT_E2E_ACCEL=kvm|tcg (default: kvm only when kvm_intel/kvm_amd is loaded),
# RINGTGT_E2E_KEEP=1 (same as --keep: keep the run directory even when all passed),
# RINGTGT_E2E_BUILD_TIMEOUT (bound of an image (re)build, default 1500 s; --timeout, default
# 900 s, bounds the rest of the run and starts when the image is ready).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
IQN=iqn.2026-11.org.ringtgt:e2e
CHAP_IQN=iqn.2026-11.org.ringtgt:e2e-chap    # the CHAP part's target: LUN 1 is a RAM disk
CHAP_SIZE=$((64 << 20))
CHAP_IN_USER=e2e-chap-in CHAP_OUT_USER=e2e-chap-out DISC_USER=e2e-disc
CL_IQN=iqn.2026-11.org.ringtgt:e2e-cluster   # the cluster part's target: LUN 1 is a RAM disk
CL_SIZE=$((64 << 20))
LUN=1                                # LUN 0 is the storage array controller (no block device)
DISK_SIZE=$((1 << 30))
RESIZE_GROW=$((64 << 20))           # the resize part grows the LU by this much, then shrinks it back
CACHE=${RINGTGT_E2E_CACHE:-/var/cache/ringtgt-e2e}
TARGET=${RINGTGT_E2E_TARGET:-ringtgtd}
KEEP=${RINGTGT_E2E_KEEP:-0}
TIMEOUT=900
RINGTGTD=
RINGTGTADM=

usage() { sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --ringtgtd) (($# >= 2)) || usage; RINGTGTD=$2; shift 2 ;;
    --ringtgtadm) (($# >= 2)) || usage; RINGTGTADM=$2; shift 2 ;;
    --timeout) (($# >= 2)) || usage; TIMEOUT=$2; shift 2 ;;
    --target) (($# >= 2)) || usage; TARGET=$2; shift 2 ;;   # debugging aid: ringtgtd|tgt
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] && ((TIMEOUT >= 60)) || { echo "run.sh: --timeout must be a number of seconds >= 60" >&2; exit 2; }
case $TARGET in
  ringtgtd)
    [[ -n $RINGTGTD ]] || { echo "run.sh: --ringtgtd PATH is required" >&2; usage; }
    RINGTGTD=$(readlink -f "$RINGTGTD")
    [[ -f $RINGTGTD && -x $RINGTGTD ]] || { echo "run.sh: ringtgtd '$RINGTGTD' is not an executable file" >&2; exit 1; }
    RINGTGTADM=$(readlink -f "${RINGTGTADM:-$(dirname "$RINGTGTD")/tools/ringtgtadm}")
    [[ -f $RINGTGTADM && -x $RINGTGTADM ]] || { echo "run.sh: ringtgtadm '$RINGTGTADM' is not an executable file (--ringtgtadm PATH)" >&2; exit 1; } ;;
  tgt) ;;
  *) echo "run.sh: --target must be ringtgtd or tgt" >&2; exit 2 ;;
esac

BUILD_TIMEOUT=${RINGTGT_E2E_BUILD_TIMEOUT:-1500}
DEADLINE=$((SECONDS + TIMEOUT))
E2E_HERE=$HERE
source "$HERE/host-lib.sh"

RUN='' QPID='' TPID='' TAILPID='' PASS=0 TARGET_STOPPED=0 PORT2=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $QPID ]] && alive "$QPID" && stop_pid "$QPID" 5 >/dev/null
  ((TARGET_STOPPED)) || stop_target >/dev/null 2>&1
  [[ -n $TAILPID ]] && alive "$TAILPID" && kill "$TAILPID" 2>/dev/null
  if [[ -n $RUN && -d $RUN ]]; then
    if ((PASS && !KEEP)); then rm -rf "$RUN"
    else
      ((KEEP)) || rm -f "$RUN/disk.img"
      echo "e2e: logs kept in $RUN"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "e2e: interrupted" >&2; exit 130' INT
trap 'echo "e2e: terminated" >&2; exit 143' TERM

# --- the guest image --------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-e2e.XXXXXX") || exit 1
log "run dir $RUN, target $TARGET, timeout ${TIMEOUT}s"
ensure_image

# --- the target on the host -------------------------------------------------------------
truncate -s "$DISK_SIZE" "$RUN/disk.img" || exit 1

ensure_tgt() {
  command -v tgtd >/dev/null && command -v tgtadm >/dev/null && return 0
  log "installing tgt (debugging target)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends tgt
}
tgtadm_() { tgtadm -C "$PORT" --lld iscsi "$@"; }

# start_target : start the daemon on PORT in the background (TPID), wait for the port.
start_target() {
  : > "$RUN/target.log"
  case $TARGET in
    ringtgtd)
      # Two portal groups for the cluster part: PORT is group 1 (active/optimized), PORT2
      # group 2; every target is served on both (docs/config.md).
      PORT2=$(free_port) || return 1
      while [[ $PORT2 == "$PORT" ]]; do PORT2=$(free_port) || return 1; done
      printf '%s\n' "portal = {\"127.0.0.1:$PORT\"}" "portal_group 2 {" \
        "  portal = {\"127.0.0.1:$PORT2\"}" '  alua_state = "active/non-optimized"' "}" > "$RUN/ringtgt.conf"
      { echo "+ $RINGTGTD --foreground --config $RUN/ringtgt.conf --control-socket $RUN/ctl.sock --export $RUN/disk.img,iqn=$IQN"
        sed 's/^/  | /' "$RUN/ringtgt.conf"; } >> "$RUN/target.log"
      "$RINGTGTD" --foreground --config "$RUN/ringtgt.conf" --control-socket "$RUN/ctl.sock" \
        --export "$RUN/disk.img,iqn=$IQN" </dev/null >>"$RUN/target.log" 2>&1 &
      TPID=$! ;;
    tgt)
      # The control port (-C) is the iSCSI port, so that no other tgtd is touched.
      tgtd -f -C "$PORT" --iscsi "portal=127.0.0.1:$PORT" </dev/null >>"$RUN/target.log" 2>&1 &
      TPID=$! ;;
  esac
  for p in "$PORT" ${PORT2:+"$PORT2"}; do
    for ((i = 0; i < 300; i++)); do
      listening "$p" && break
      alive "$TPID" || return 1
      sleep 0.1
    done
    listening "$p" || { echo "e2e: port $p does not accept connections after 30 s" >> "$RUN/target.log"; return 1; }
  done
  if [[ $TARGET == tgt ]]; then
    { tgtadm_ --mode target --op new --tid 1 -T "$IQN" &&
      tgtadm_ --mode logicalunit --op new --tid 1 --lun "$LUN" -b "$RUN/disk.img" &&
      tgtadm_ --mode target --op bind --tid 1 -I ALL &&
      # tgt's default is "None" only; accept both so that each pass gets what it asks for.
      tgtadm_ --mode target --op update --tid 1 -n HeaderDigest -v None,CRC32C &&
      tgtadm_ --mode target --op update --tid 1 -n DataDigest -v None,CRC32C; } >> "$RUN/target.log" 2>&1 || return 1
  fi
}

# stop_target : ask the daemon to stop, and wait (SIGKILL after 10 s). STOP_INFO says how
# it went; the status is 0 unless it needed SIGKILL.
STOP_INFO=
stop_target() {
  local how st via=signal
  [[ -n $TPID ]] || { STOP_INFO=not-started; return 0; }
  TARGET_STOPPED=1
  if [[ $TARGET == tgt ]] && alive "$TPID"; then
    via=tgtadm
    # tgtd ignores SIGTERM while it has targets: delete them, then the daemon.
    tgtadm_ --mode target --op delete --tid 1 --force >> "$RUN/target.log" 2>&1
    tgtadm -C "$PORT" --mode system --op delete >> "$RUN/target.log" 2>&1
    for ((i = 0; i < 50; i++)); do alive "$TPID" || break; sleep 0.1; done
  fi
  how=$(stop_pid "$TPID" 10)
  st=0; wait "$TPID" 2>/dev/null || st=$?
  STOP_INFO="via=$via signal=$how status=$st"
  [[ $how != KILL ]]
}

[[ $TARGET == tgt ]] && { ensure_tgt || { log "cannot install tgt"; exit 1; }; }
t0=$(now)
ok=0
for _ in 1 2 3; do
  PORT=$(free_port) || { log "no free TCP port found"; break; }
  if start_target; then ok=1; break; fi
  if alive "$TPID"; then break; fi
  wait "$TPID" 2>/dev/null; echo "e2e: the target exited with status $? before the port accepted connections" >> "$RUN/target.log"
  grep -qi 'in use' "$RUN/target.log" || break    # retry only when the port was taken meanwhile
  log "port $PORT was taken, retrying"
done
if ((!ok)); then
  host_step target-start 0 "$t0" "target=$TARGET port=${PORT:-none}"
  echo "e2e: ---- target log ($RUN/target.log) ----"; tail -n 200 "$RUN/target.log"
  exit 1
fi
host_step target-start 1 "$t0" "target=$TARGET pid=$TPID portal=127.0.0.1:$PORT${PORT2:+ portal2=127.0.0.1:$PORT2} iqn=$IQN"

# --- the CHAP part's target (ringtgtd only) -----------------------------------------------
# adm ARGS... : ringtgtadm on the daemon's control socket; the command goes to the daemon's
# log, its messages too, its standard output (the secrets of --random) does not.
adm() {
  echo "+ ringtgtadm $*" >> "$RUN/target.log"
  "$RINGTGTADM" --control-socket "$RUN/ctl.sock" "$@" 2>> "$RUN/target.log"
}
CHAP=0 CHAP_IN_SECRET='' CHAP_OUT_SECRET='' DISC_SECRET=''
if [[ $TARGET == ringtgtd ]]; then
  t0=$(now)
  # Accounts with secrets from --random (printed once); the incoming one for the initiator,
  # the outgoing one for mutual CHAP. The discovery account is bound when the guest asks.
  if adm target add "$CHAP_IQN" >/dev/null && adm lun add "$CHAP_IQN" 0 --controller >/dev/null &&
     adm lun add "$CHAP_IQN" "$LUN" --backing ram --size "$CHAP_SIZE" >/dev/null &&
     adm acl add "$CHAP_IQN" ALL >/dev/null &&
     CHAP_IN_SECRET=$(adm account add "$CHAP_IN_USER" --random) &&
     CHAP_OUT_SECRET=$(adm account add "$CHAP_OUT_USER" --random) &&
     DISC_SECRET=$(adm account add "$DISC_USER" --random) &&
     adm account bind "$CHAP_IQN" "$CHAP_IN_USER" >/dev/null &&
     adm account bind "$CHAP_IQN" "$CHAP_OUT_USER" --outgoing >/dev/null &&
     [[ -n $CHAP_IN_SECRET && -n $CHAP_OUT_SECRET && -n $DISC_SECRET ]]; then
    CHAP=1
    host_step target-chap-setup 1 "$t0" "iqn=$CHAP_IQN lun=$LUN size=$CHAP_SIZE incoming=$CHAP_IN_USER outgoing=$CHAP_OUT_USER"
  else
    host_step target-chap-setup 0 "$t0" "iqn=$CHAP_IQN error=ringtgtadm-failed"
    echo "e2e: ---- target log ($RUN/target.log) ----"; tail -n 50 "$RUN/target.log"
    exit 1
  fi
fi

# --- the cluster part's target (ringtgtd only) --------------------------------------------
# One LU reached through both portal groups, for dm-multipath with ALUA and for fence_scsi's
# persistent reservations; a RAM disk, so the reservations start from nothing.
CLUSTER=0
if [[ $TARGET == ringtgtd ]]; then
  t0=$(now)
  if adm target add "$CL_IQN" >/dev/null && adm lun add "$CL_IQN" 0 --controller >/dev/null &&
     adm lun add "$CL_IQN" "$LUN" --backing ram --size "$CL_SIZE" >/dev/null &&
     adm acl add "$CL_IQN" ALL >/dev/null; then
    CLUSTER=1
    host_step target-cluster-setup 1 "$t0" "iqn=$CL_IQN lun=$LUN size=$CL_SIZE groups=1:127.0.0.1:$PORT,2:127.0.0.1:$PORT2"
  else
    host_step target-cluster-setup 0 "$t0" "iqn=$CL_IQN error=ringtgtadm-failed"
    echo "e2e: ---- target log ($RUN/target.log) ----"; tail -n 50 "$RUN/target.log"
    exit 1
  fi
fi

# The resize part (ringtgtd only: tgt has no online resize) grows and shrinks IQN's LU.
RESIZE=0
[[ $TARGET == ringtgtd ]] && RESIZE=1

# --- the guest ----------------------------------------------------------------------------
mkdir -p "$RUN/job"
cp "$HERE"/guest/*.sh "$RUN/job/"
{
  printf 'PORT=%q\n' "$PORT"
  printf 'IQN=%q\n' "$IQN"
  printf 'LUN=%q\n' "$LUN"
  printf 'EXPECT_SIZE=%q\n' "$DISK_SIZE"
  printf 'CHAP=%q\n' "$CHAP"
  printf 'CLUSTER=%q\n' "$CLUSTER"
  printf 'RESIZE=%q\n' "$RESIZE"
  printf 'RESIZE_GROWN=%q\n' "$((DISK_SIZE + RESIZE_GROW))"
  if ((CLUSTER)); then
    printf 'PORT2=%q\n' "$PORT2"
    printf 'CL_IQN=%q\n' "$CL_IQN"
    printf 'CL_SIZE=%q\n' "$CL_SIZE"
  fi
  if ((CHAP)); then
    printf 'CHAP_IQN=%q\n' "$CHAP_IQN"
    printf 'CHAP_SIZE=%q\n' "$CHAP_SIZE"
    printf 'CHAP_IN_USER=%q\nCHAP_IN_SECRET=%q\n' "$CHAP_IN_USER" "$CHAP_IN_SECRET"
    printf 'CHAP_OUT_USER=%q\nCHAP_OUT_SECRET=%q\n' "$CHAP_OUT_USER" "$CHAP_OUT_SECRET"
    printf 'DISC_USER=%q\nDISC_SECRET=%q\n' "$DISC_USER" "$DISC_SECRET"
  fi
} > "$RUN/job/job.env"

pick_accel
log "booting the guest (accel $ACCEL)"
t0=$(now)
start_guest "$RUN/job" ''

# Show the guest's result lines as they come.
tail -n +1 -F --pid="$QPID" "$RUN/results.log" 2>/dev/null | tr -d '\r' &
TAILPID=$!

# discovery_auth_on : the guest asked (on its results channel) for discovery auth, a global
# setting that only the control socket changes. Switch it on and answer through the share.
discovery_auth_on() {
  local t1 ack=failed
  t1=$(now)
  adm discovery auth chap --account "$DISC_USER" >/dev/null && ack=ok
  host_step discovery-auth "$([[ $ack == ok ]] && echo 1 || echo 0)" "$t1" "mode=chap account=$DISC_USER"
  echo "$ack" > "$RUN/job/discovery-auth.tmp" && mv "$RUN/job/discovery-auth.tmp" "$RUN/job/discovery-auth.ack"
}

# alua_swap : the guest's dm-multipath has grouped the paths by ALUA state; it asks (on its
# results channel) for the states of the two portal groups to be swapped, as an administrator
# does with ringtgtadm. Answer through the share.
alua_swap() {
  local t1 ack=failed
  t1=$(now)
  adm portal-group set-state 1 active/non-optimized >/dev/null &&
    adm portal-group set-state 2 active/optimized >/dev/null && ack=ok
  host_step alua-swap "$([[ $ack == ok ]] && echo 1 || echo 0)" "$t1" "group1=active/non-optimized group2=active/optimized"
  echo "$ack" > "$RUN/job/alua-swap.tmp" && mv "$RUN/job/alua-swap.tmp" "$RUN/job/alua-swap.ack"
}

# lun_resize WHAT : the guest, logged in to IQN, asks for its LU to be resized under the
# session: "lun-resize-grow" extends the file by RESIZE_GROW (as an administrator would with
# truncate or lvextend) and has the daemon re-read its size; "lun-resize-shrink" gives the
# size back with --size and --force (the daemon truncates the file). Answer through the share.
lun_resize() {
  local what=$1 t1 ack=failed want
  t1=$(now)
  case $what in
    lun-resize-grow) want=$((DISK_SIZE + RESIZE_GROW))
      truncate -s "$want" "$RUN/disk.img" && adm lun resize "$IQN" "$LUN" >/dev/null && ack=ok ;;
    lun-resize-shrink) want=$DISK_SIZE
      adm lun resize "$IQN" "$LUN" --size "$want" --force >/dev/null && ack=ok ;;
  esac
  [[ $ack == ok && $(stat -c %s "$RUN/disk.img") == "$want" ]] || ack=failed
  host_step "$what" "$([[ $ack == ok ]] && echo 1 || echo 0)" "$t1" "iqn=$IQN lun=$LUN size=$want file_size=$(stat -c %s "$RUN/disk.img")"
  echo "$ack $want" > "$RUN/job/$what.tmp" && mv "$RUN/job/$what.tmp" "$RUN/job/$what.ack"
}
qemu_deadline=$((DEADLINE - 20)) timed_out=0 target_died=0 disc_auth_asked=0 alua_swap_asked=0
grow_asked=0 shrink_asked=0
while alive "$QPID"; do
  if ((SECONDS >= qemu_deadline)); then timed_out=1; break; fi
  if ((CHAP && !disc_auth_asked)) && grep -q '^E2E request=discovery-auth' "$RUN/results.log"; then
    disc_auth_asked=1; discovery_auth_on
  fi
  if ((CLUSTER && !alua_swap_asked)) && grep -q '^E2E request=alua-swap' "$RUN/results.log"; then
    alua_swap_asked=1; alua_swap
  fi
  if ((RESIZE && !grow_asked)) && grep -q '^E2E request=lun-resize-grow' "$RUN/results.log"; then
    grow_asked=1; lun_resize lun-resize-grow
  fi
  if ((RESIZE && !shrink_asked)) && grep -q '^E2E request=lun-resize-shrink' "$RUN/results.log"; then
    shrink_asked=1; lun_resize lun-resize-shrink
  fi
  if ((!target_died)) && ! alive "$TPID"; then
    # Give the guest a little time to report the step that fails, then stop it.
    target_died=1; ((qemu_deadline > SECONDS + 45)) && qemu_deadline=$((SECONDS + 45))
  fi
  sleep 1
done
if ((timed_out)); then stop_pid "$QPID" 5 >/dev/null; fi
wait "$QPID"; qrc=$?
QPID=
wait "$TAILPID" 2>/dev/null; TAILPID=
tr -d '\r' < "$RUN/results.log" > "$RUN/results.txt"
guest_done=0; grep -q '^E2E step=done ok=1' "$RUN/results.txt" && guest_done=1
if ((timed_out)); then
  host_step guest 0 "$t0" "qemu_rc=$qrc error=timeout-after-${TIMEOUT}s"
elif ((target_died)); then
  host_step guest 0 "$t0" "qemu_rc=$qrc error=target-exited-during-the-run"
else
  host_step guest $((qrc == 0 && guest_done)) "$t0" "qemu_rc=$qrc accel=$ACCEL"
fi

t0=$(now)
stop_target; src=$?
host_step target-stop $((src == 0)) "$t0" "$STOP_INFO"

# The reset pass: ringtgtd must have logged one LOGICAL UNIT RESET for each reset the
# guest sent (no more: an extra one would be the kernel's own error handling, after a
# command timed out). tgtd does not log them, so only ringtgtd is checked.
if [[ $TARGET == ringtgtd ]]; then
  t0=$(now)
  sent=$(sed -n 's/^E2E step=reset\.fio-lun-reset .* resets=\([0-9]*\).*/\1/p' "$RUN/results.txt" | tail -n 1)
  logged=$(grep -c "LOGICAL UNIT RESET of LUN $LUN\$" "$RUN/target.log")
  if [[ -z $sent ]]; then
    host_step target-lun-reset 0 "$t0" "logged=$logged error=the-guest-did-not-report-step-reset.fio-lun-reset"
  else
    host_step target-lun-reset $((sent > 0 && logged == sent)) "$t0" "sent=$sent logged=$logged"
  fi
fi

# The CHAP part: every step of it passed (none may be missing), and the daemon logged the
# algorithm that each variant asked for. chap_algs = SHA256 must give CHAP_A=7, SHA3-256
# CHAP_A=8 (RFC 7143 §12.1.3; the numbers open-iscsi uses), and the mutual login, whose
# chap_algs lists SHA3-256 first, CHAP_A=8 with mutual authentication, in this order. The
# guest logs in to these after a quiet time, so that the daemon's per-source log limit
# cannot drop their lines. No secret may appear in the daemon's log.
if ((CHAP)); then
  t0=$(now)
  missing=()
  for s in discovery-auth discovery-refused discovery node wrong-secret \
           {oneway,sha256,sha3-256,mutual}.{login,io,logout}; do
    grep -q "^E2E step=chap\.$s ok=1 " "$RUN/results.txt" || missing+=("chap.$s")
  done
  pat="authenticated as \"$CHAP_IN_USER\" by CHAP (CHAP_A="
  seen=$(grep -F "$pat" "$RUN/target.log" | sed 's/.*(CHAP_A=\([^)]*\)).*/\1/' | tr -d ' ' | paste -sd';')
  want='7;8;8,mutual'
  leaked=0
  for sec in "$CHAP_IN_SECRET" "$CHAP_OUT_SECRET" "$DISC_SECRET"; do
    grep -qF -- "$sec" "$RUN/target.log" && leaked=$((leaked + 1))
  done
  ok=1 why=
  ((${#missing[@]} == 0)) || { ok=0; why+=" error=guest-steps-missing-or-failed:$(IFS=,; echo "${missing[*]}")"; }
  [[ ";$seen" == *";$want" ]] || { ok=0; why+=" error=chap_a-should-end-with:$want"; }
  ((leaked == 0)) || { ok=0; why+=" error=secrets-in-the-daemon-log"; }
  host_step target-chap "$ok" "$t0" "chap_a=${seen:-none} secrets_in_log=$leaked$why"
fi

passed=$(grep -hc '^E2E step=.* ok=1' "$RUN/results.txt" "$RUN/host-results.log" | awk '{s += $1} END {print s}')
failed=$(grep -hc '^E2E step=.* ok=0' "$RUN/results.txt" "$RUN/host-results.log" | awk '{s += $1} END {print s}')
if ((failed == 0 && guest_done)); then PASS=1; fi
if ((!PASS)); then
  echo "e2e: ---- target log ($RUN/target.log, last 200 lines) ----"; tail -n 200 "$RUN/target.log"
  echo "e2e: ---- guest console ($RUN/console.log, last 40 lines other than results) ----"
  tr -d '\r' < "$RUN/console.log" | grep -vE '^(E2E |  \| )' | tail -n 40
  [[ -s $RUN/qemu.log ]] && { echo "e2e: ---- qemu ----"; tail -n 20 "$RUN/qemu.log"; }
fi
echo "e2e: $passed passed, $failed failed"
log "$( ((PASS)) && echo PASS || echo FAIL ) in $((SECONDS)) s"
((PASS)) && exit 0 || exit 1
