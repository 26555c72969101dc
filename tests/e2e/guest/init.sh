#!/bin/bash
# shellcheck disable=SC2034  # DETAIL is read by step()
# Guest PID 1 (exec'd by /sbin/ringtgt-e2e-init of the image once the 9p share 'job' is
# mounted at /job). Brings up udev and the network, runs /job/scenario.sh (or the script
# E2E_SCENARIO of job.env names), powers off.
# Result lines go to /dev/ttyS1, which the host reads (qemu writes it to results.log);
# the console (/dev/ttyS0) gets them too, between the kernel's messages.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /run || mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /run/lock/iscsi /tmp/log && mount -t devpts devpts /dev/pts
mount -o remount,rw /

# The results channel: a second UART, opened once (no modem control, no CR insertion).
stty -F /dev/ttyS1 raw -echo clocal -hupcl 2>/dev/null
exec 9>/dev/ttyS1
export E2E_FD=9

set -a; source /job/job.env; set +a
source /job/lib.sh

boot() {
  # udevd makes the /dev/disk/by-path links of the iSCSI disks. Coldplug only block
  # devices: a full trigger costs seconds under TCG; modules are loaded explicitly.
  /lib/systemd/systemd-udevd --daemon &&
  udevadm trigger --action=add --subsystem-match=block && udevadm settle -t 10 &&
  modprobe -a virtio_net sd_mod iscsi_tcp crc32c_generic &&
  ip link set lo up && ip link set eth0 up &&
  ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || return 1
  for _ in $(seq 50); do [[ $(cat /sys/class/net/eth0/operstate) == up ]] && break; sleep 0.1; done
  [[ $(cat /sys/class/net/eth0/operstate) == up ]] || { echo "eth0 is not up"; return 1; }
  DETAIL="kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
}

if step boot boot; then
  bash "/job/${E2E_SCENARIO:-scenario.sh}" && rc=0 || rc=$?
else
  rc=1
fi
emit "E2E step=done ok=$((rc == 0)) uptime=$(cut -d' ' -f1 /proc/uptime)"
sync; sleep 0.5
echo o > /proc/sysrq-trigger; sleep 30
