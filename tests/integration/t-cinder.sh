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
# (exit 77) saying why, after the checks that fail it (missing tgt front
# ends in the build dir). .ci/run installs it beforehand.
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

# no_cinder REASON: go on with the first python3; cinder_tgt.py checks its
# arguments and the build (missing tgt front ends fail), then skips (exit
# 77) where it cannot import Cinder
no_cinder() {
    log "python3-cinder is not installed and $*"
    py=$(command -v python3) || { log "SKIP: no python3"; exit 77; }
}

if ! py=$(find_python); then
    if [ "$(id -u)" != 0 ]; then
        no_cinder "installing it needs root"
    elif ! command -v apt-get >/dev/null; then
        no_cinder "there is no apt-get to install it"
    else
        log "python3-cinder is not installed: apt-get install python3-cinder (a few minutes)"
        rc=0
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
            --no-install-recommends python3-cinder >/dev/null 2>&1 || rc=$?
        if [ $rc != 0 ]; then
            DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >/dev/null 2>&1 || true
            rc=0
            DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
                --no-install-recommends python3-cinder >/dev/null 2>&1 || rc=$?
        fi
        py=$(find_python) || no_cinder "apt-get install python3-cinder failed (status $rc)"
    fi
fi
log "Cinder $("$py" -c 'import pbr.version; print(pbr.version.VersionInfo("cinder").version_string())' 2>/dev/null || echo 'not importable') for $py"
exec "$py" "$here/cinder_tgt.py" "$@"
