#!/usr/bin/env bash
# `meson install` puts the daemon, the tool, the example config and the
# systemd unit in place, and the installed daemon's default config path is
# where the config was installed.
set -euo pipefail
build=${1:?usage: t-install.sh BUILDDIR}
dest=$(mktemp -d "${TMPDIR:-/tmp}/ringtgt-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
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
# the daemon looks for its config where it was installed
want=${conf#"$dest"}
if "$dest$prefix/sbin/ringtgtd" --help | grep -qF "$want"; then
	echo "ok: default config path $want"
else
	echo "ringtgtd --help does not name $want as its default config"; fail=1
fi
exit $fail
