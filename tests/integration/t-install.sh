#!/usr/bin/env bash
# `meson install` puts the daemon, the tool, the example config and the
# systemd unit in place, and the installed daemon's default config path is
# where the config was installed. Each command is bounded (`timeout`) and
# says what did not happen.
set -euo pipefail
build=${1:?usage: t-install.sh BUILDDIR}
dest=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
rc=0
out=$(timeout -k 5 90 meson install -C "$build" --destdir "$dest" --no-rebuild 2>&1) || rc=$?
if [ $rc != 0 ]; then
	printf '%s\n' "$out" >&2
	[ $rc = 124 ] && die "meson install into $dest did not finish within 90 s"
	die "meson install into $dest exited with status $rc"
fi
opts=$(timeout -k 5 60 meson introspect "$build" --buildoptions) ||
	die "meson introspect $build --buildoptions failed or took over 60 s (status $?)"
prefix=$(python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])' <<<"$opts")
fail=0
check() { if [ -e "$dest$1" ]; then echo "ok: $1"; else echo "missing: $1"; fail=1; fi; }
check "$prefix/sbin/ringtgtd"
check "$prefix/sbin/ringtgtadm"
conf=$(find "$dest" -path '*/ringtgt/ringtgt.conf' | head -n1)
[ -n "$conf" ] && echo "ok: config ${conf#"$dest"}" || { echo "missing: ringtgt.conf"; fail=1; }
unit=$(find "$dest" -name ringtgtd.service | head -n1)
if [ -n "$unit" ]; then
	grep -q "^ExecStart=$prefix/sbin/ringtgtd --foreground" "$unit" &&
		echo "ok: unit ${unit#"$dest"} starts $prefix/sbin/ringtgtd" ||
		{ echo "bad ExecStart in $unit"; grep ExecStart "$unit"; fail=1; }
else
	echo "missing: ringtgtd.service"; fail=1
fi
# tgt's tool names: links to ringtgtadm with -Dtgt_compat=true, else none
compat=$(python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="tgt_compat"][0])' <<<"$opts")
for alias in tgtadm tgt-admin; do
	link="$dest$prefix/sbin/$alias"
	if [ "$compat" = True ]; then
		[ "$(readlink "$link" 2>/dev/null)" = ringtgtadm ] &&
			echo "ok: $prefix/sbin/$alias -> ringtgtadm (tgt_compat)" ||
			{ echo "missing: $prefix/sbin/$alias -> ringtgtadm with tgt_compat=true"; fail=1; }
	elif [ -e "$link" ] || [ -L "$link" ]; then
		echo "$prefix/sbin/$alias installed although tgt_compat is false"; fail=1
	else
		echo "ok: no $prefix/sbin/$alias (tgt_compat false)"
	fi
done
# the daemon looks for its config where it was installed
want=${conf#"$dest"}
help=$(timeout -k 2 10 "$dest$prefix/sbin/ringtgtd" --help 2>&1) ||
	die "installed ringtgtd --help exited with status $? (124: did not return within 10 s): $help"
if grep -qF "$want" <<<"$help"; then
	echo "ok: default config path $want"
else
	echo "ringtgtd --help does not name $want as its default config"; fail=1
fi
exit $fail
