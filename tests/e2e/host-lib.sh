# shellcheck shell=bash disable=SC2034  # DEADLINE, KERNEL, ACCEL, ACCEL_ARGS and QPID are for the caller
# Host-side helpers of the end-to-end tests (sourced by run.sh and power-cut.sh): result
# lines, process control, free ports, the guest image and the QEMU command line.
# The caller sets RUN (its run directory), CACHE (the image cache), TIMEOUT and
# BUILD_TIMEOUT; these helpers set DEADLINE, KERNEL, ACCEL, ACCEL_ARGS and QPID.

log() { echo "e2e: $*"; }
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.2f\", $(now) - $1}"; }
remaining() { echo $((DEADLINE - SECONDS)); }

# host_step NAME OK T0 [DETAIL...] : a result line for a step run on the host.
host_step() {
  local name=$1 ok=$2 t0=$3; shift 3
  local line
  line="E2E step=$name ok=$ok secs=$(since "$t0")${*:+ $*}"
  echo "$line"; echo "$line" >> "$RUN/host-results.log"
}

# alive PID : the process exists and is not a zombie.
alive() {
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z ]]
}
# stop_pid PID GRACE : SIGTERM, then SIGKILL after GRACE seconds. Prints TERM or KILL.
stop_pid() {
  local pid=$1 grace=$2 i
  alive "$pid" || { echo none; return 0; }   # it had already exited
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || { echo TERM; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null; echo KILL
}

# free_port : a random TCP port in 20000-31999 on which nothing listens or connects
# (below 32768: tgtd's -C, which the tgt mode sets to the same number, must be < 32768).
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
  done
  return 1
}
# listening PORT : something listens on PORT.
listening() {
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# ensure_image : build or check the cached guest image (build-image.sh, bounded by
# BUILD_TIMEOUT), then start the run's DEADLINE (TIMEOUT seconds from now) and set KERNEL.
# Exits 77 when qemu cannot be installed, 1 when the build failed (host step "image").
ensure_image() {
  local t0 brc=0
  t0=$(now)
  # A cold build (debootstrap) takes minutes and has its own bound; --timeout counts from
  # the moment the image is ready (a no-op check when it is up to date).
  RINGTGT_E2E_CACHE=$CACHE timeout -k 10 "$BUILD_TIMEOUT" "$E2E_HERE/build-image.sh" || brc=$?
  DEADLINE=$((SECONDS + TIMEOUT))
  if ((brc == 77)); then echo "e2e: SKIP: qemu-system-x86 is not available"; rm -rf "$RUN"; RUN=; exit 77; fi
  if ((brc)); then host_step image 0 "$t0" "cache=$CACHE rc=$brc$( ((brc == 124)) && echo " error=build-timeout-after-${BUILD_TIMEOUT}s")"; exit 1; fi
  KERNEL=$CACHE/vmlinux; [[ -f $KERNEL ]] || KERNEL=$CACHE/vmlinuz
  host_step image 1 "$t0" "cache=$CACHE kernel=${KERNEL##*/}"
}

# pick_accel : ACCEL and ACCEL_ARGS from RINGTGT_E2E_ACCEL (kvm|tcg), by default KVM only
# when kvm_intel or kvm_amd is loaded. Exits 2 on a bad setting.
pick_accel() {
  ACCEL=${RINGTGT_E2E_ACCEL:-auto}
  if [[ $ACCEL == auto ]]; then
    # /dev/kvm alone is not enough: e.g. kvm_pvm cannot run a stock kernel. Only real VT-x/SVM.
    ACCEL=tcg
    [[ -w /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]] && ACCEL=kvm
  fi
  case $ACCEL in
    kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
    tcg) ACCEL_ARGS=(-accel 'tcg,thread=multi' -cpu max) ;;
    *) log "RINGTGT_E2E_ACCEL must be kvm or tcg"; exit 2 ;;
  esac
}

# start_guest JOBDIR TAG [QEMU ARGS...] : boot the guest in the background (QPID): 2 vCPUs,
# 2 GiB, the cached root file system (snapshot=on: never modified), JOBDIR as the read-only
# 9p share 'job' (init.sh, the scenario, job.env), user networking. The console goes to
# RUN/consoleTAG.log, the result lines (second UART) to RUN/resultsTAG.log, qemu's own
# messages to RUN/qemuTAG.log. -no-reboot: a guest reboot (or power-off) ends qemu. The root
# disk is the first virtio disk (/dev/vda, which the initrd mounts): its -device comes before
# any disk in QEMU ARGS (a -drive if=virtio would be placed after them).
start_guest() {
  local job=$1 tag=$2; shift 2
  : > "$RUN/results$tag.log"
  : > "$RUN/console$tag.log"
  qemu-system-x86_64 "${ACCEL_ARGS[@]}" -M q35 -m 2048 -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$KERNEL" -initrd "$CACHE/initrd.img" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 net.ifnames=0" \
    -drive "file=$CACHE/rootfs.img,format=raw,if=none,id=root,snapshot=on" \
    -device virtio-blk-pci,drive=root \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    -virtfs "local,path=$job,mount_tag=job,security_model=none,readonly=on" \
    -chardev "file,id=con,path=$RUN/console$tag.log" -serial chardev:con \
    -chardev "file,id=res,path=$RUN/results$tag.log" -serial chardev:res \
    "$@" </dev/null >"$RUN/qemu$tag.log" 2>&1 &
  QPID=$!
}
