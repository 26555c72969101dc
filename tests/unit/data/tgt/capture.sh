#!/bin/bash
# capture.sh - records what tgt 1.0.85's tgtadm prints, as golden files for
# tests/unit/test_tgtadm.c (the show formatter, byte for byte) and
# tests/integration/t-tgtadm.sh. Not run by the test suite: run it by hand
# (as root, where Debian's tgt package is installed) when the captures must
# be made again, and review the diff.
#
#   capture.sh CAPTOOL [PORT] [CONTROL_PORT]
#
# CAPTOOL is build/tests/integration/captool (holds one libiscsi session
# open while the show is taken). A tgtd of its own is started on
# 127.0.0.1:PORT (default 23261) and control port CONTROL_PORT (default
# 47), never 3260 or 0, and ended with `tgtadm --op delete --mode system`.
# The state each capture shows is written down in its .json fixture.
set -euo pipefail
captool=$1 port=${2:-23261} cport=${3:-47}
here=$(cd "$(dirname "$0")" && pwd)
[ "$port" != 3260 ] && [ "$cport" != 0 ] || { echo "not on tgt's own ports" >&2; exit 2; }
tmp=$(mktemp -d /tmp/tgt-capture.XXXXXX)
T=(tgtadm -C "$cport" --lld iscsi)
tgtd -f --iscsi "portal=127.0.0.1:$port" -C "$cport" >"$tmp/tgtd.log" 2>&1 &
tgtd_pid=$!
cap_pid=
cleanup() {
	[ -z "$cap_pid" ] || kill "$cap_pid" 2>/dev/null || true
	if kill -0 "$tgtd_pid" 2>/dev/null; then
		"${T[@]}" --op delete --mode target --tid 1 --force 2>/dev/null || true
		"${T[@]}" --op delete --mode target --tid 3 --force 2>/dev/null || true
		"${T[@]}" --op delete --mode system 2>/dev/null || kill "$tgtd_pid"
	fi
	wait "$tgtd_pid" 2>/dev/null || true
	rm -f "/var/run/tgtd/socket.$cport" "/var/run/tgtd/socket.$cport.lock"
	rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 50); do [ -S "/var/run/tgtd/socket.$cport" ] && break; sleep 0.1; done

# run NAME ARGS...: one tgtadm call; "ARGS<TAB>status<TAB>stderr" into
# errors.tsv (the file the parser tests read), stdout kept in $out
run() {
	local err rc=0
	out=$("${T[@]}" "$@" 2>"$tmp/err") || rc=$?
	err=$(tr '\n' '|' <"$tmp/err")
	printf '%s\t%s\t%s\n' "$*" "$rc" "$err" >>"$tmp/errors.tsv"
}
: >"$tmp/errors.tsv"

run --op show --mode target
printf '%s' "$out" >"$here/show-target-empty.txt"
truncate -s 64M "$tmp/lun1.img"
truncate -s 10M "$tmp/lun2.img"
run --op new --mode target --tid 1 -T iqn.2026-11.org.example:t1
run --op new --mode logicalunit --tid 1 --lun 1 -b "$tmp/lun1.img"
run --op new --mode logicalunit --tid 1 --lun 2 -b "$tmp/lun2.img" --bsoflags sync
run --op new --mode target --tid 3 -T iqn.2026-11.org.example:t3
run --op new --mode account --user alice --password secret12345678
run --op new --mode account --user bob --password secret8765432100
run --op bind --mode account --tid 1 --user alice
run --op bind --mode account --tid 1 --user bob --outgoing
run --op bind --mode target --tid 1 -I ALL
run --op bind --mode target --tid 1 -I 192.168.1.0/24
run --op bind --mode target --tid 1 -Q iqn.1993-08.org.debian:01:abc
run --op bind --mode target --tid 3 -I ALL
# one session on target 3, kept open while the shows are taken
mkfifo "$tmp/cap.in"
"$captool" "iscsi://127.0.0.1:$port/iqn.2026-11.org.example:t3/0" <"$tmp/cap.in" >"$tmp/cap.out" &
cap_pid=$!
exec 7>"$tmp/cap.in"
echo "tur 0" >&7
for _ in $(seq 50); do grep -q GOOD "$tmp/cap.out" && break; sleep 0.1; done
grep -q GOOD "$tmp/cap.out" || { echo "captool: no session" >&2; exit 1; }
run --op show --mode target
printf '%s\n' "$out" >"$here/show-target.txt"
run --op show --mode account
printf '%s\n' "$out" >"$here/show-account.txt"
run --op show --mode conn --tid 3
printf '%s\n' "$out" >"$here/show-conn.txt"
run --op show --mode lld
printf '%s\n' "$out" >"$here/show-lld.txt"
run --op show --mode portal
printf '%s\n' "$out" >"$here/show-portal.txt"
run --op show --mode sys
printf '%s\n' "$out" >"$here/show-sys.txt"

# refusals the daemon gives
run --op new --mode target --tid 1 -T iqn.2026-11.org.example:other
run --op new --mode target --tid 4 -T iqn.2026-11.org.example:t1
run --op new --mode target --tid 5 -T 'iqn.2026-11.org.example:bad_name'
run --op delete --mode target --tid 9
run --op delete --mode target --tid 3
run --op new --mode logicalunit --tid 9 --lun 1 -b "$tmp/lun1.img"
run --op new --mode logicalunit --tid 1 --lun 1 -b "$tmp/lun2.img"
run --op new --mode logicalunit --tid 1 --lun 5 -b "$tmp/missing.img"
run --op delete --mode logicalunit --tid 1 --lun 7
run --op delete --mode logicalunit --tid 1 --lun 0
run --op new --mode account --user alice --password again
run --op delete --mode account --user nobody
run --op bind --mode account --tid 1 --user nobody
run --op bind --mode account --tid 1 --user alice
run --op unbind --mode account --tid 3 --user alice
run --op bind --mode account --tid 3 --user alice --outgoing
run --op bind --mode target --tid 1 -I ALL
run --op unbind --mode target --tid 1 -I 10.9.9.9
run --op bind --mode target --tid 9 -I ALL
run --op update --mode sys --name State -v bogus
run --op update --mode sys --name Nope -v 1
run --op delete --mode system
run --op show --mode target --tid 9
run --op show --mode session --tid 3 --sid 99
run --op show --mode conn --tid 9
run --op update --mode logicalunit --tid 1 --lun 9 --params vendor_id=X
run --op update --mode logicalunit --tid 1 --lun 1 --params nosuch=1
run --lld nosuch --op show --mode target
run --op start --mode lld
# sys State offline: new connections refused, the session stays
run --op update --mode sys --name State -v offline
run --op show --mode sys
printf '%s\n' "$out" | head -n 3 >"$here/show-sys-offline.txt"
rc=0; timeout 10 iscsi-inq "iscsi://127.0.0.1:$port/iqn.2026-11.org.example:t3/0" >/dev/null 2>&1 || rc=$?
echo "tur 0" >&7
sleep 0.5
printf 'new login while offline: iscsi-inq status %s\nsession logged in before: %s\n' \
	"$rc" "$(tail -n 1 "$tmp/cap.out")" >"$here/offline.txt"
run --op update --mode sys --name State -v ready
rc=0; timeout 10 iscsi-inq "iscsi://127.0.0.1:$port/iqn.2026-11.org.example:t3/0" >/dev/null 2>&1 || rc=$?
printf 'new login when ready again: iscsi-inq status %s\n' "$rc" >>"$here/offline.txt"
echo quit >&7
exec 7>&-
wait "$cap_pid" || true
cap_pid=
# the daemon's refusals, without a daemon, and the tool's own checks
run --op delete --mode target --tid 1 --force
run --op delete --mode target --tid 3 --force
run --op delete --mode account --user alice
run --op delete --mode system
for _ in $(seq 50); do kill -0 "$tgtd_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$tgtd_pid" 2>/dev/null && { echo "tgtd still running after delete system" >&2; exit 1; }
run --op show --mode target
# the tool's own checks (no daemon needed)
run --op show
run --mode target
run --op nosuch --mode target
run --op show --mode nosuch
run --op new --mode target --tid 1
run --op new --mode target -T iqn.2026-11.org.example:x
run --op new --mode target --tid 0 -T iqn.2026-11.org.example:x
run --op new --mode target --tid x -T iqn.2026-11.org.example:x
run --op new --mode target --tid 1 -T iqn.2026-11.org.example:x --lun 1
run --op delete --mode target
run --op bind --mode target --tid 1
run --op update --mode target --tid 1 --name x
run --op start --mode target --tid 1
run --op new --mode logicalunit --tid 1
run --op new --mode logicalunit --lun 1
run --op new --mode logicalunit --tid 1 --lun 1 -Y nosuch
run --op new --mode logicalunit --tid 1 --lun 1 -b x -u bob
run --op delete --mode logicalunit --tid 1 --lun 1 -b x
run --op update --mode logicalunit --tid 1 --lun 1 -b x
run --op show --mode logicalunit --tid 1 --lun 1
run --op new --mode account --user bob
run --op delete --mode account --user bob --tid 1
run --op bind --mode account --tid 1
run --op show --mode account --tid 1
run --op update --mode account --user bob
run --op update --mode sys --name State
run --op update --mode sys --name State -v offline --tid 1
run --op new --mode sys
run --op new --mode portal
run --op show --mode portal --tid 1
run --op stat --mode lld
run --op new --mode lld
run --op show --mode target extra
run --op show --mode target --nosuch
run --op show --mode target -F
run --op show --mode target --force
run --op show --mode target --lun x
run --op show --mode target -C x
# the temp dir's name changes from run to run
sed "s|$tmp|TMP|g" "$tmp/errors.tsv" >"$here/errors.tsv"
sed -i "s|$tmp|TMP|g" "$here/show-target.txt"
echo "captured into $here"
