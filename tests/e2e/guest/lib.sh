# shellcheck shell=bash disable=SC2034
# Guest helpers (sourced): result lines and steps.

# emit LINE : one result line, to the host's results channel (fd 9 = /dev/ttyS1) and the console.
emit() {
  printf '%s\n' "$*" >&9
  printf '%s\n' "$*"
}

# step NAME CMD... : run CMD (a command or a shell function, which may set DETAIL) with its
# output in /tmp/log/NAME.log, then emit "E2E step=NAME ok=0|1 secs=T [DETAIL]".
# On failure the end of the log and of the kernel log follow, as "  | " lines.
step() {
  local name=$1 rc=0 t0 t1 line; shift
  DETAIL=
  t0=$(date +%s.%N)
  "$@" >"/tmp/log/$name.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  emit "E2E step=$name ok=$((rc == 0)) secs=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")${DETAIL:+ $DETAIL}"
  if ((rc)); then
    {
      echo "exit status $rc; last lines of its output:"
      tail -n 40 "/tmp/log/$name.log"
      echo "last kernel messages:"
      dmesg | tail -n 15
    } | while IFS= read -r line; do emit "  | $line"; done
  fi
  return $rc
}
