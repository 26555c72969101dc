#!/usr/bin/env bash
# Build (once) the QEMU guest used by the ringtgt end-to-end test (tests/e2e/run.sh).
#
#   usage: build-image.sh [--force]
#
# Output in $RINGTGT_E2E_CACHE (default /var/cache/ringtgt-e2e):
#   rootfs/       debootstrap'ed Debian bookworm tree (kept for fast re-configuration)
#   rootfs.img    raw ext4 image of rootfs/ (booted with snapshot=on, never modified)
#   vmlinuz       the guest kernel (bzImage); vmlinux: the same kernel uncompressed
#                 (qemu boots it through PVH, which skips the slow in-guest xz unpacking)
#   initrd.img    a tiny busybox initrd: loads virtio + ext4, switch_root to the image
#   debs/         debootstrap's .deb cache
#   stamp         hash of the package list + this script: equal means up to date
#
# Idempotent: when the stamp matches it returns at once. Needs root to (re)build.
# Exit status: 0 ok, 77 (skip) only when qemu-system-x86 is missing and cannot be
# installed with apt-get, anything else is a failure.
# Settings: RINGTGT_E2E_CACHE, RINGTGT_E2E_MIRROR (default: the host's apt mirror).
set -euo pipefail

ME=$(readlink -f "$0")
CACHE=${RINGTGT_E2E_CACHE:-/var/cache/ringtgt-e2e}
SUITE=bookworm
PKGS=linux-image-amd64,open-iscsi,e2fsprogs,fio,udev,kmod,iproute2,util-linux,procps,busybox-static,sg3-utils,multipath-tools,liburing2,libaio1,libconfuse2,libjson-c5,libisal2,libssl3
FORCE=0
case ${1:-} in
  --force) FORCE=1 ;;
  "") ;;
  *) sed -n '4p' "$ME" >&2; exit 2 ;;
esac

log() { echo "build-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# apt_install PKG... : install with apt-get, waiting for the dpkg lock (another install may
# be running) and running 'apt-get update' once if the first attempt fails.
# On failure apt's output is on stderr and the status is non-zero.
APT_OUT=
apt_install() {
  local try rc=0
  APT_OUT=$(mktemp)
  for try in 1 2; do
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
      --no-install-recommends "$@" >"$APT_OUT" 2>&1 || rc=$?
    ((rc == 0)) && break
    ((try == 1)) || break
    log "apt-get install $* failed (rc=$rc); running apt-get update and retrying"
    apt_update || true
  done
  if ((rc)); then cat "$APT_OUT" >&2; fi
  rm -f "$APT_OUT"
  return $rc
}
# apt-get update takes the lists lock, which DPkg::Lock::Timeout does not cover: while
# another apt holds it, wait and retry (up to 15 min); any other failure is final.
apt_update() {
  local out
  for _ in $(seq 90); do
    out=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update 2>&1) && return 0
    grep -qi 'lock' <<<"$out" || { echo "$out" | tail -n 5 >&2; return 1; }
    sleep 10
  done
  return 1
}

# --- host tools ----------------------------------------------------------------------
# qemu is the one dependency whose absence is a SKIP (77); every other one is a failure.
if ! qemu-system-x86_64 --version >/dev/null 2>&1; then
  ((EUID == 0)) || { log "qemu-system-x86_64 is missing and we are not root (cannot apt-get install)"; exit 77; }
  log "installing qemu-system-x86"
  if ! apt_install qemu-system-x86 || ! qemu-system-x86_64 --version >/dev/null 2>&1; then
    log "SKIP: 'apt-get install qemu-system-x86' failed (apt's error above)"
    exit 77
  fi
fi

# The image is keyed on the package list, the suite and this script.
KEY=$( { echo "$SUITE $PKGS"; cat "$ME"; } | sha256sum | cut -c1-32)
PKGKEY=$(echo "$SUITE $PKGS" | sha256sum | cut -c1-32)
up_to_date() {
  [[ $(cat "$CACHE/stamp" 2>/dev/null) == "$KEY" && -f $CACHE/rootfs.img && -f $CACHE/initrd.img &&
     ( -f $CACHE/vmlinux || -f $CACHE/vmlinuz ) ]]
}
if ((!FORCE)) && up_to_date; then exit 0; fi

((EUID == 0)) || die "the guest image in $CACHE is missing or outdated; building it needs root (debootstrap, chroot)"
mkdir -p "$CACHE/debs"
# One builder at a time; a second caller waits, then finds the image up to date.
exec 8>"$CACHE/.lock"
flock -w 1800 8 || die "timed out waiting for the build lock $CACHE/.lock"
if ((!FORCE)) && up_to_date; then exit 0; fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v xz >/dev/null || need+=(xz-utils)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt_install "${need[@]}" || die "apt-get install ${need[*]} failed"
fi

# The Debian mirror: RINGTGT_E2E_MIRROR, else the first non-security source of the host's apt.
host_mirror() {
  local u
  u=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -v -e -security -e -updates | grep -i debian | head -n 1 || true)
  [[ -n $u ]] || u=$(awk '$1 == "deb" && $2 ~ /debian/ && $3 !~ /security|updates/ {print $2; exit}' \
                      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "${u:-http://deb.debian.org/debian}"
}
MIRROR=${RINGTGT_E2E_MIRROR:-$(host_mirror)}
ROOT=$CACHE/rootfs
t0=$SECONDS

# --- stage 1: debootstrap (minutes), keyed on the package list -------------------------
if ((FORCE)) || [[ $(cat "$CACHE/debootstrap.stamp" 2>/dev/null) != "$PKGKEY" ]]; then
  log "debootstrap $SUITE from $MIRROR into $ROOT"
  rm -rf "$ROOT" "$CACHE/debootstrap.stamp" "$CACHE/stamp"
  debootstrap --variant=minbase --include="$PKGS" --cache-dir="$CACHE/debs" \
    "$SUITE" "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  echo "$PKGKEY" > "$CACHE/debootstrap.stamp"
  log "debootstrap done in $((SECONDS - t0)) s"
fi

# --- stage 2: guest configuration, kernel, initrd, ext4 image (seconds) ----------------
log "configuring the guest"
rm -f "$CACHE/stamp"
KVER=$(basename "$(readlink -f "$ROOT/vmlinuz")"); KVER=${KVER#vmlinuz-}
[[ -d $ROOT/lib/modules/$KVER ]] || die "no kernel modules for '$KVER' in $ROOT"
echo ringtgt-e2e > "$ROOT/etc/hostname"
echo "127.0.0.1 localhost ringtgt-e2e" > "$ROOT/etc/hosts"
rm -f "$ROOT"/var/cache/apt/archives/*.deb
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/*

# PID 1 after switch_root. Everything else comes from the per-run 9p share 'job' (the
# guest/ scripts of the harness), so the scenario can change without rebuilding the image.
cat > "$ROOT/sbin/ringtgt-e2e-init" <<'EOF'
#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
modprobe -a 9pnet_virtio 9p
mkdir -p /job && mount -t 9p -o trans=virtio,version=9p2000.L,ro job /job && exec /bin/bash /job/init.sh
echo "E2E step=boot ok=0 error=no-9p-job-share" | tee /dev/ttyS1
echo o > /proc/sysrq-trigger; sleep 30
EOF
chmod 755 "$ROOT/sbin/ringtgt-e2e-init"

# Tiny initrd: the static busybox of the image plus the modules needed to mount the root.
I=$CACHE/initrd.d; rm -rf "$I"; mkdir -p "$I"/{bin,dev,proc,sys,root,lib/modules}
cp "$ROOT/bin/busybox" "$I/bin/busybox"
for m in virtio_pci virtio_blk crc32c_generic ext4; do   # one name per call (the rest would be parameters)
  chroot "$ROOT" /sbin/modprobe -S "$KVER" --show-depends "$m" || die "modprobe --show-depends $m failed"
done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' > "$I/mods.txt"
[[ -s $I/mods.txt ]] || die "could not resolve the initrd modules for $KVER"
: > "$I/modules"
while read -r m; do
  f=${m##*/}
  case $f in
    *.ko) cp "$ROOT$m" "$I/lib/modules/$f" ;;
    *.ko.xz) xz -dc "$ROOT$m" > "$I/lib/modules/${f%.xz}"; f=${f%.xz} ;;
    *) die "unsupported module file $m" ;;
  esac
  echo "/lib/modules/$f" >> "$I/modules"
done < "$I/mods.txt"
rm "$I/mods.txt"
cat > "$I/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev; mount -t proc proc /proc
for m in $(cat /modules); do insmod "$m"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if ! mount -t ext4 -o rw /dev/vda /root; then
  echo "E2E step=boot ok=0 error=cannot-mount-root" | tee /dev/ttyS1; poweroff -f
fi
mount -o move /dev /root/dev; umount /proc
exec switch_root /root /sbin/ringtgt-e2e-init
EOF
chmod 755 "$I/init"
(cd "$I" && find . | "$ROOT/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$CACHE/initrd.img.tmp"
mv "$CACHE/initrd.img.tmp" "$CACHE/initrd.img"
rm -rf "$I"

# Kernel: keep the bzImage, and unpack its xz payload into an ELF vmlinux for PVH boot.
cp -L "$ROOT/vmlinuz" "$CACHE/vmlinuz"
rm -f "$CACHE/vmlinux"
off=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ\x00' "$CACHE/vmlinuz" | cut -d: -f1 || true)
if [[ -n $off ]]; then
  tail -c +$((off + 1)) "$CACHE/vmlinuz" | xz -dcq > "$CACHE/vmlinux.tmp" 2>/dev/null || true
  if [[ $(head -c4 "$CACHE/vmlinux.tmp") == $'\x7fELF' ]]; then mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"; fi
  rm -f "$CACHE/vmlinux.tmp"
fi
[[ -f $CACHE/vmlinux ]] || log "note: no PVH vmlinux could be extracted; the guest boots the bzImage (slower)"

# Root file system image: the tree plus headroom (the guest writes little: /tmp is tmpfs).
mb=$(( $(du -sm "$ROOT" | cut -f1) + 256 ))
rm -f "$CACHE/rootfs.img.tmp"
mkfs.ext4 -q -F -L ringtgt-e2e -d "$ROOT" "$CACHE/rootfs.img.tmp" "${mb}M" >/dev/null
mv "$CACHE/rootfs.img.tmp" "$CACHE/rootfs.img"
echo "$KEY" > "$CACHE/stamp"
log "image ready in $CACHE (kernel $KVER, $((SECONDS - t0)) s)"
