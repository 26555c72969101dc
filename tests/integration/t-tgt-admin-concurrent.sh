#!/usr/bin/env bash
# tgt-admin runs at once, and volume files written while tgt-admin reads
# them, as OpenStack Cinder does both (issue 12): Cinder's TgtAdm helper
# runs `tgt-admin --update IQN` for several volumes in parallel, and
# writes each volume's file with utils.robust_file_write (a
# tempfile.NamedTemporaryFile named after the volume, in the included
# directory itself, then os.rename over the final name).
#   1. the lock: 20 rounds of `--update A`, `--update B` and `-e` started
#      together from no target: every run exits 0 and the targets are
#      then exactly those of the files (without the lock two runs plan
#      target.add for the same target from the same state);
#   2. a lock held elsewhere: tgt-admin waits, then gives up after
#      RINGTGT_TGT_ADMIN_LOCK_TIMEOUT with a message naming the lock,
#      having changed nothing; once it is free, the run goes through;
#   3. a writer rewriting volume A's file Cinder's way, slowly (two
#      writes apart), in a loop, while `--update A` runs 20 times from no
#      target A, retried as Cinder retries: a run either makes target A
#      whole, or fails naming a file of the volumes directory (a temp file
#      read half written, or read beside the file it replaces), leaving no
#      target A at all; a temp file renamed away between the glob and
#      the read is no error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tgt-lib.sh"

it_init "$@"
it_require python3 truncate flock
adm=${RINGTGT_ADM:-$(dirname "$IT_RINGTGTD")/tools/ringtgtadm}
[ -x "$adm" ] || it_fail "ringtgtadm not found (set RINGTGT_ADM)"
tgtadmin=$(dirname "$adm")/tgt-admin
[ -x "$tgtadmin" ] || it_fail "$tgtadmin not found (the build makes it)"

WRITER_PID="" HOLDER_PID=""
cleanup() {
    local p
    for p in $WRITER_PID $HOLDER_PID; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
it_at_exit cleanup

it_make_image "$IT_TMP/export.img" 16M
it_start_daemon "$IT_TMP/export.img"
export RINGTGT_SOCKET=$IT_TMP/control.sock
LOCK=$RINGTGT_SOCKET.tgt-admin.lock

ETC=$IT_TMP/etc/tgt
VOLS=$IT_TMP/cinder/volumes
mkdir -p "$ETC" "$VOLS"
printf 'include %s/*\n' "$VOLS" >"$ETC/targets.conf"
UUID_A=1c0e5a52-8d0b-4b8e-a1c4-9f3e2d1b0a01
UUID_B=2d1f6b63-9e1c-4c9f-b2d5-a04f3e2c1b02
IQN_A=iqn.2010-10.org.openstack:volume-$UUID_A
IQN_B=iqn.2010-10.org.openstack:volume-$UUID_B
USER_A=Qw3eR5tY7uI9oP1aS3dF PASS_A=z1X3c5V7b9N1m3Q5
USER_B=Lk8jH6gF4dS2aP0oI8uY PASS_B=t2Y4u6I8o0P2a4S6
truncate -s 16M "$IT_TMP/volume-a" "$IT_TMP/volume-b"

cinder_volume "$UUID_A" "$USER_A" "$PASS_A" "$IT_TMP/volume-a" >"$IT_TMP/text-a"
cinder_volume "$UUID_B" "$USER_B" "$PASS_B" "$IT_TMP/volume-b" >"$IT_TMP/text-b"

# robust_write NAME TEXTFILE [COUNT PAUSE]: cinder.utils.robust_file_write,
# COUNT times (default once), PAUSE seconds apart, each time the text in
# two writes 20 ms apart, so that a reader can find it half written
cat >"$IT_TMP/writer.py" <<'EOF'
import os, sys, tempfile, time
directory, filename, textfile = sys.argv[1:4]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0
data = open(textfile, 'rb').read()
half = len(data) // 2
dirfd = os.open(directory, os.O_DIRECTORY)
for i in range(count):
    with tempfile.NamedTemporaryFile(prefix=filename, dir=directory,
                                     delete=False) as tf:
        tf.write(data[:half])
        tf.flush()
        if count > 1:
            time.sleep(0.02)
        tf.write(data[half:])
        tf.flush()
        os.fdatasync(tf.fileno())
        os.fsync(dirfd)
        os.rename(tf.name, os.path.join(directory, filename))
        os.fsync(dirfd)
    time.sleep(pause)
EOF
robust_write() {
    python3 "$IT_TMP/writer.py" "$VOLS" "$@"
}

# targets: "IQN LUN:PATH ... in=USERS" a line per target (by name)
targets() {
    local out
    out=$(timeout -k 5 30 "$adm" target list --json) || it_fail "ringtgtadm target list failed"
    python3 -c 'import json, sys
for t in sorted(json.loads(sys.argv[1]), key=lambda t: t["iqn"]):
    print(t["iqn"], *("%d:%s:%s" % (l["lun"], l.get("path"), l.get("scsi_sn")) for l in t["luns"]),
          "in=" + ",".join(t["incoming_accounts"]))' "$out"
}
# scsi_sn volume-UUID: the first 36 characters, as tgt keeps them
WANT_A="$IQN_A 0:None:None 1:$IT_TMP/volume-a:volume-${UUID_A:0:29} in=$USER_A"
WANT_B="$IQN_B 0:None:None 1:$IT_TMP/volume-b:volume-${UUID_B:0:29} in=$USER_B"
expect_targets() {
    local got
    got=$(targets)
    [ "$got" = "$1" ] || it_fail "$2: targets:
$got
expected:
$1"
}

# ta NAME ARGS...: tgt-admin in the background, output in $IT_TMP/NAME.out
ta_bg() {
    local name=$1
    shift
    (cd / && exec timeout -k 5 90 "$tgtadmin" "$@") >"$IT_TMP/$name.out" 2>&1 &
}

# --- 1. three runs at once, 20 rounds ----------------------------------------
robust_write "volume-$UUID_A" "$IT_TMP/text-a"
robust_write "volume-$UUID_B" "$IT_TMP/text-b"
for round in $(seq 1 20); do
    # tgt.service's ExecStop: no target left
    (cd / && timeout -k 5 60 "$tgtadmin" --update ALL -c /dev/null -f) >/dev/null ||
        it_fail "round $round: --update ALL -c /dev/null -f failed"
    expect_targets "" "round $round, emptied"
    ta_bg a --update "$IQN_A" -c "$ETC/targets.conf"; pa=$!
    ta_bg b --update "$IQN_B" -c "$ETC/targets.conf"; pb=$!
    ta_bg e -e -c "$ETC/targets.conf"; pe=$!
    for run in a:$pa b:$pb e:$pe; do
        rc=0
        wait "${run#*:}" || rc=$?
        [ "$rc" = 0 ] || it_fail "round $round: tgt-admin (${run%%:*}) exited $rc: $(cat "$IT_TMP/${run%%:*}.out")"
    done
    expect_targets "$WANT_A
$WANT_B" "round $round"
done
it_log "20 rounds of --update A, --update B and -e at once: each made the files' targets"

# --- 2. the lock held elsewhere -----------------------------------------------
[ -f "$LOCK" ] || it_fail "no lock file $LOCK"
(cd / && timeout -k 5 60 "$tgtadmin" --delete "$IQN_B" -f) >/dev/null || it_fail "--delete B failed"
flock -x "$LOCK" sleep 4 &
HOLDER_PID=$!
for _ in $(seq 1 50); do
    flock -n -x "$LOCK" true || break
    sleep 0.1
done
rc=0
out=$(cd / && RINGTGT_TGT_ADMIN_LOCK_TIMEOUT=1 timeout -k 5 30 "$tgtadmin" \
      --update "$IQN_B" -c "$ETC/targets.conf" 2>&1) || rc=$?
[ "$rc" = 1 ] || it_fail "a held lock: exit $rc, expected 1 ($out)"
it_expect_match "the timeout names the lock" "$out" \
    "^tgt-admin: another tgt-admin is running \(it holds $LOCK\); gave up waiting after 1 s$"
expect_targets "$WANT_A" "after the lock timeout"
# the default wait outlasts the holder: the run goes through after it
out=$(cd / && timeout -k 5 60 "$tgtadmin" --update "$IQN_B" -c "$ETC/targets.conf" 2>&1) ||
    it_fail "--update B once the lock is free: $out"
wait "$HOLDER_PID" || true
HOLDER_PID=""
expect_targets "$WANT_A
$WANT_B" "after waiting for the lock"
it_log "a held lock: waited for, or given up on with a message after the timeout"

# --- 3. a writer renaming temp files while --update runs ---------------------
# a rewrite every ~0.1 s: a temp file stands beside the file a fifth of
# the time (Cinder rewrites a volume's file once per export)
robust_write "volume-$UUID_A" "$IT_TMP/text-a" 3000 0.1 &
WRITER_PID=$!
refusals=0
for round in $(seq 1 20); do
    (cd / && timeout -k 5 60 "$tgtadmin" --delete "$IQN_A" -f) >/dev/null ||
        it_fail "round $round: --delete A -f failed"
    expect_targets "$WANT_B" "round $round, A deleted"
    done_ok=""
    # Cinder retries (@utils.retry(ProcessExecutionError): 3 attempts, a
    # second or more apart); the writer here never stops: 10, 10..99 ms apart
    for attempt in $(seq 1 10); do
        rc=0
        out=$(cd / && timeout -k 5 60 "$tgtadmin" --update "$IQN_A" -c "$ETC/targets.conf" 2>&1) || rc=$?
        if [ "$rc" = 0 ]; then
            done_ok=1
            break
        fi
        [ "$rc" = 1 ] || it_fail "round $round: --update A exited $rc: $out"
        # a refusal names a file of the volumes directory and changes nothing
        grep -Eq "^tgt-admin: $VOLS/volume-$UUID_A[^:]*:[0-9]+: (<target> is not closed before the end of the file|[a-z_-]+ given twice)" <<<"$out" ||
            it_fail "round $round: not a half-written file's refusal: $out"
        expect_targets "$WANT_B" "round $round, after a refusal"
        refusals=$((refusals + 1))
        sleep "0.$((RANDOM % 90 + 10))"
    done
    [ -n "$done_ok" ] || it_fail "round $round: --update A failed 10 times: $out"
    expect_targets "$WANT_A
$WANT_B" "round $round"
done
kill -TERM "$WRITER_PID" 2>/dev/null || true
wait "$WRITER_PID" 2>/dev/null || true
WRITER_PID=""
left=$(find "$VOLS" -type f | sort)
it_log "20 rounds of --update A with the writer running: whole each time ($refusals refusals retried); files: $(echo $left)"

it_stop_daemon || it_fail "daemon did not stop cleanly"
