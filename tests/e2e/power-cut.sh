#!/usr/bin/env bash
# End-to-end test: writes that ringtgtd acknowledged as durable survive a power cut.
#
#   usage: power-cut.sh --ringtgtd PATH [--ringtgtadm PATH] [--timeout SECS] [--keep]
#
# ringtgtd runs inside the QEMU guest (the image carries its runtime libraries; this
# host's build comes in through the read-only 9p share 'job'), and the initiator is the
# guest's open-iscsi over 127.0.0.1. The LUs live on extra virtio disks, raw files in the run
# directory (not snapshots): the whole disk virtio-pcut-blk-u and -e (block device store,
# O_DIRECT) and images on the ext4 disk virtio-pcut-files (file store, buffered).
# Phase 1 (guest/power-cut.sh, PHASE=1): two daemons, io_uring and epoll; a writer per LU
# with FUA writes, writes followed by SYNCHRONIZE CACHE, both in turn, or plain writes to
# an LU with write_cache=off; each block acknowledged as durable goes to the writable
# 9p share 'out'. Then `echo b > /proc/sysrq-trigger` while they write: qemu (-no-reboot)
# exits. Phase 2 boots the guest again on the same disks; every acknowledged block must
# read back through the target. Phase 2 also has a SCSI disk of QEMU's own (virtio-scsi,
# scsi-hd with a vendor, product, revision and serial of its own), which tgt-admin's
# direct-store re-exports from a third, empty ringtgtd (--ringtgtadm: the build's
# ringtgtadm, run in the guest as tgt-admin; default tools/ringtgtadm next to ringtgtd).
# Result lines as in run.sh ("E2E step=NAME ok=0|1 ...").
# Exit status: 0 when every step passed, 77 (skip) only when qemu-system-x86 cannot be
# installed, 1 otherwise, 2 for bad usage.
# Settings: RINGTGT_E2E_CACHE, RINGTGT_E2E_ACCEL, RINGTGT_E2E_KEEP, RINGTGT_E2E_BUILD_TIMEOUT
# as in run.sh; RINGTGT_E2E_WRITE_SECS (how long the writers run before the cut, default 10).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CACHE=${RINGTGT_E2E_CACHE:-/var/cache/ringtgt-e2e}
KEEP=${RINGTGT_E2E_KEEP:-0}
WRITE_SECS=${RINGTGT_E2E_WRITE_SECS:-10}
MIN_ACKED=6                       # each writer acknowledges at least this many blocks
BLK_SIZE=$((64 << 20))            # each block device store LU: a whole virtio disk
FILES_SIZE=$((512 << 20))         # the ext4 disk of the file store's images
TIMEOUT=600
RINGTGTD='' RINGTGTADM=''
# The direct-store disk's INQUIRY identity (scsi-hd vendor, product, ver, serial): a vendor
# with a leading blank and a serial with trailing ones, which tgt-admin (sg_inq) keeps.
DS_VENDOR=' RTGT' DS_PRODUCT='DirectStore Disk' DS_REV='1.2a' DS_SERIAL='RTGT-DS-0042  '

usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --ringtgtd) (($# >= 2)) || usage; RINGTGTD=$2; shift 2 ;;
    --ringtgtadm) (($# >= 2)) || usage; RINGTGTADM=$2; shift 2 ;;
    --timeout) (($# >= 2)) || usage; TIMEOUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    *) echo "power-cut.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] && ((TIMEOUT >= 60)) || { echo "power-cut.sh: --timeout must be a number of seconds >= 60" >&2; exit 2; }
[[ -n $RINGTGTD ]] || { echo "power-cut.sh: --ringtgtd PATH is required" >&2; usage; }
RINGTGTD=$(readlink -f "$RINGTGTD")
[[ -f $RINGTGTD && -x $RINGTGTD ]] || { echo "power-cut.sh: ringtgtd '$RINGTGTD' is not an executable file" >&2; exit 1; }
RINGTGTADM=$(readlink -f "${RINGTGTADM:-$(dirname "$RINGTGTD")/tools/ringtgtadm}")
[[ -f $RINGTGTADM && -x $RINGTGTADM ]] || { echo "power-cut.sh: ringtgtadm '$RINGTGTADM' is not an executable file" >&2; exit 1; }
[[ $WRITE_SECS =~ ^[0-9]+$ ]] && ((WRITE_SECS >= 2)) || { echo "power-cut.sh: RINGTGT_E2E_WRITE_SECS must be a number >= 2" >&2; exit 2; }

BUILD_TIMEOUT=${RINGTGT_E2E_BUILD_TIMEOUT:-1500}
DEADLINE=$((SECONDS + TIMEOUT))
E2E_HERE=$HERE
source "$HERE/host-lib.sh"

RUN='' QPID='' TAILPID='' PASS=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $QPID ]] && alive "$QPID" && stop_pid "$QPID" 5 >/dev/null
  [[ -n $TAILPID ]] && alive "$TAILPID" && kill "$TAILPID" 2>/dev/null
  if [[ -n $RUN && -d $RUN ]]; then
    if ((PASS && !KEEP)); then rm -rf "$RUN"
    else
      ((KEEP)) || rm -f "$RUN"/disk-*.img
      echo "e2e: logs kept in $RUN"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "e2e: interrupted" >&2; exit 130' INT
trap 'echo "e2e: terminated" >&2; exit 143' TERM

RUN=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-e2e-pcut.XXXXXX") || exit 1
log "run dir $RUN, timeout ${TIMEOUT}s"
ensure_image
pick_accel

mkdir -p "$RUN/job/bin" "$RUN/out"
cp "$HERE/guest/init.sh" "$HERE/guest/lib.sh" "$HERE/guest/power-cut.sh" "$RUN/job/" &&
  cp "$RINGTGTD" "$RUN/job/bin/ringtgtd" && cp "$RINGTGTADM" "$RUN/job/bin/ringtgtadm" || exit 1
truncate -s "$BLK_SIZE" "$RUN/disk-blk-u.img" "$RUN/disk-blk-e.img" &&
  truncate -s "$FILES_SIZE" "$RUN/disk-files.img" && truncate -s 16M "$RUN/disk-direct.img" || exit 1
TOKEN=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
DISKS=()
for d in blk-u blk-e files; do
  DISKS+=(-drive "file=$RUN/disk-$d.img,format=raw,if=none,id=$d"
          -device "virtio-blk-pci,drive=$d,serial=pcut-$d")
done

# Phase 2 only: the direct-store disk, a SCSI disk on QEMU's virtio-scsi controller.
DIRECT=(-device "virtio-scsi-pci,id=vscsi"
        -drive "file=$RUN/disk-direct.img,format=raw,if=none,id=direct"
        -device "scsi-hd,bus=vscsi.0,drive=direct,vendor=$DS_VENDOR,product=$DS_PRODUCT,ver=$DS_REV,serial=$DS_SERIAL")

# phase N : boot the guest with PHASE=N and wait for qemu to exit (bounded by the deadline).
# Sets QRC and TIMED_OUT.
QRC=0 TIMED_OUT=0 done_ok=0
phase() {
  local n=$1
  {
    printf 'E2E_SCENARIO=power-cut.sh\n'
    printf 'PHASE=%q\nTOKEN=%q\nWRITE_SECS=%q\nMIN_ACKED=%q\n' "$n" "$TOKEN" "$WRITE_SECS" "$MIN_ACKED"
    printf 'DS_VENDOR=%q\nDS_PRODUCT=%q\nDS_REV=%q\nDS_SERIAL=%q\n' "$DS_VENDOR" "$DS_PRODUCT" "$DS_REV" "$DS_SERIAL"
  } > "$RUN/job/job.env"
  log "phase $n: booting the guest (accel $ACCEL)"
  local extra=(); ((n == 2)) && extra=("${DIRECT[@]}")
  start_guest "$RUN/job" "$n" "${DISKS[@]}" "${extra[@]}" \
    -virtfs "local,path=$RUN/out,mount_tag=out,security_model=none"
  tail -n +1 -F --pid="$QPID" "$RUN/results$n.log" 2>/dev/null | tr -d '\r' &
  TAILPID=$!
  TIMED_OUT=0
  while alive "$QPID"; do
    if ((SECONDS >= DEADLINE - 10)); then TIMED_OUT=1; stop_pid "$QPID" 5 >/dev/null; break; fi
    sleep 1
  done
  wait "$QPID"; QRC=$?
  QPID=
  wait "$TAILPID" 2>/dev/null; TAILPID=
  tr -d '\r' < "$RUN/results$n.log" > "$RUN/results$n.txt"
}

# Phase 1: the guest must have reached the cut with every writer running, and gone at once.
t0=$(now)
phase 1
ok=0 why=
if ((TIMED_OUT)); then why="error=timeout-after-${TIMEOUT}s"
elif ! grep -q '^E2E step=pcut1.write ok=1' "$RUN/results1.txt"; then why="error=the-writers-did-not-run"
elif [[ ! -e $RUN/out/cut ]] || ! tr -d '\r' < "$RUN/console1.log" | grep -q 'sysrq: Resetting'; then
  why="error=no-cut"       # the guest's marker, and the kernel's own line on the console
elif grep -q '^E2E step=\(done\|pcut.cut\) ' "$RUN/results1.txt"; then why="error=the-guest-did-not-reboot-at-the-cut"
else ok=1
fi
acks=$(for f in "$RUN"/out/*.acks; do [[ -e $f ]] && echo "$(basename "$f" .acks)=$(wc -l < "$f")"; done | paste -sd' ')
host_step power-cut "$ok" "$t0" "qemu_rc=$QRC accel=$ACCEL recorded: ${acks:-none}${why:+ $why}"

# Phase 2: the same disks, every acknowledged block back.
if ((ok)); then
  t0=$(now)
  phase 2
  done_ok=0; grep -q '^E2E step=done ok=1' "$RUN/results2.txt" && done_ok=1
  host_step reboot-verify $((!TIMED_OUT && done_ok)) "$t0" "qemu_rc=$QRC$( ((TIMED_OUT)) && echo " error=timeout-after-${TIMEOUT}s")"
fi

passed=$(cat "$RUN"/results[12].txt "$RUN/host-results.log" 2>/dev/null | grep -c '^E2E step=.* ok=1')
failed=$(cat "$RUN"/results[12].txt "$RUN/host-results.log" 2>/dev/null | grep -c '^E2E step=.* ok=0')
if ((failed == 0 && ok && done_ok)); then PASS=1; fi
if ((!PASS)); then
  for f in "$RUN"/out/ringtgtd-*.log; do
    [[ -e $f ]] && { echo "e2e: ---- $f (last 15 lines) ----"; tail -n 15 "$f"; }
  done
  for n in 1 2; do
    [[ -e $RUN/console$n.log ]] || continue
    echo "e2e: ---- guest console, phase $n ($RUN/console$n.log, last 30 lines other than results) ----"
    tr -d '\r' < "$RUN/console$n.log" | grep -vE '^(E2E |  \| )' | tail -n 30
    [[ -s $RUN/qemu$n.log ]] && { echo "e2e: ---- qemu, phase $n ----"; tail -n 20 "$RUN/qemu$n.log"; }
  done
fi
echo "e2e: $passed passed, $failed failed"
log "$( ((PASS)) && echo PASS || echo FAIL ) in $((SECONDS)) s"
((PASS)) && exit 0 || exit 1
