#!/bin/sh
# tool_includes.sh - tools/ use only include/ringtgt/ and the control
# socket (docs/architecture.md, layers). ringtgt_public_dep keeps src/ off
# the tools' include path, so `#include "core/core.h"` does not build;
# this catches what an include path cannot: a relative path out of tools/
# ("../src/core/core.h", <../src/...>) and a quoted header that is neither
# the tool's own nor a public one. Usage: tool_includes.sh SOURCE_ROOT
root=${1:?usage: tool_includes.sh SOURCE_ROOT}
bad=0
for f in "$root"/tools/*.c "$root"/tools/*.h; do
	grep -n '^[[:space:]]*#[[:space:]]*include' "$f" | while IFS= read -r line; do
		hdr=$(printf '%s\n' "$line" |
		      sed -n 's/.*include[[:space:]]*["<]\([^">]*\)[">].*/\1/p')
		case $line in
		*'"'*) quoted=1 ;;
		*) quoted=0 ;;
		esac
		case $hdr in
		*..*) ;;
		ringtgt/*) [ -f "$root/include/$hdr" ] && continue ;;
		*/*) [ "$quoted" = 0 ] && continue ;;
		*) [ "$quoted" = 0 ] || [ -f "$root/tools/$hdr" ] && continue ;;
		esac
		echo "${f#"$root"/}:$line: not a tools/ or include/ringtgt/ header"
	done
done > "${TMPDIR:-/tmp}/tool_includes.$$"
if [ -s "${TMPDIR:-/tmp}/tool_includes.$$" ]; then
	cat "${TMPDIR:-/tmp}/tool_includes.$$"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/tool_includes.$$"
[ "$bad" = 0 ] && echo "tools/: only their own and include/ringtgt/ headers"
exit "$bad"
