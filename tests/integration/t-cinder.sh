#!/usr/bin/env bash
# OpenStack Cinder's TgtAdm target helper, unchanged, against the target
# (issue 12 item 4): runs cinder_tgt.py, which imports Cinder's own
# cinder.volume.targets.tgt and drives create_iscsi_target, extend_target
# and remove_iscsi_target for two CHAP volumes on loop devices, in a private
# mount namespace (see cinder_tgt.py for the sequence).
#
#   t-cinder.sh --impl ringtgt --build BUILD_DIR [--event-loop LOOP]
#   t-cinder.sh --impl tgt [--build BUILD_DIR]     (against real tgtd, to
#                                                  check the harness itself)
#   t-cinder.sh ... --capture DIR    also write the tgt tools' outputs there
#
# Cinder comes from Debian's python3-cinder, for the system Python. When no
# python3 on PATH can import it, this installs it (root with apt-get, a few
# minutes: some 350 packages); if that cannot be done the test is skipped
# (exit 77) saying why. .ci/run installs it beforehand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[t-cinder %s] %s\n' "$(date +%T)" "$*"; }

# the python3 that has Cinder: the system one, which may not be the first
# python3 on PATH (pyenv, a virtualenv)
find_python() {
    local py
    while read -r py; do
        if "$py" -c 'import cinder.volume.targets.tgt' >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done < <(type -ap python3 | awk '!seen[$0]++')
    return 1
}

if ! py=$(find_python); then
    if [ "$(id -u)" != 0 ]; then
        log "SKIP: python3-cinder is not installed and installing it needs root"
        exit 77
    fi
    if ! command -v apt-get >/dev/null; then
        log "SKIP: python3-cinder is not installed and there is no apt-get to install it"
        exit 77
    fi
    log "python3-cinder is not installed: apt-get install python3-cinder (a few minutes)"
    rc=0
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q python3-cinder \
        >/dev/null 2>&1 || rc=$?
    if [ $rc != 0 ]; then
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >/dev/null 2>&1 || true
        rc=0
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q python3-cinder \
            >/dev/null 2>&1 || rc=$?
    fi
    if [ $rc != 0 ] || ! py=$(find_python); then
        log "SKIP: python3-cinder is not installed and apt-get install python3-cinder" \
            "failed (status $rc)"
        exit 77
    fi
fi
log "Cinder $("$py" -c 'import pbr.version; print(pbr.version.VersionInfo("cinder").version_string())' 2>/dev/null || echo '?') for $py"
exec "$py" "$here/cinder_tgt.py" "$@"
