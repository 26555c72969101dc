#!/usr/bin/env bash
# Runs the libFuzzer targets for longer than CI does:
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]
#
# TARGET is pdu, config, ctl, scsi, rx, login, dataout, chap, aptpl,
# transport_id, tgtconf, tgtadm_portal, tparams or tgtadm (default: all, one after the other);
# SECONDS per target (default 600). $FUZZ_RUNS caps the executions too
# (default: no cap); $FUZZ_TIMEOUT is the seconds one input may take
# before it counts as a hang (default 10; a loaded machine can stall a
# process longer than that). Builds ./build-fuzz on first use: clang, ASan+UBSan,
# the whole library instrumented for coverage (needs clang and its
# libFuzzer runtime, Debian's clang + libclang-rt-dev). Inputs that add
# coverage go to build-fuzz/corpus/TARGET (the checked-in seeds in
# tests/fuzz/corpus are read, never written); a crashing input is saved
# as build-fuzz/artifacts/TARGET/crash-*, and replays with
#   build-fuzz/tests/fuzz/fuzz_TARGET_libfuzzer FILE
# Exits non-zero when a target crashed, leaked or broke its property.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${1:-all}
secs=${2:-600}
all=(pdu config ctl scsi rx login dataout chap aptpl transport_id tgtconf tgtadm_portal tparams tgtadm lu_params)

if [ "$target" = all ]; then
	targets=("${all[@]}")
else
	case " ${all[*]} " in
	*" $target "*) targets=("$target") ;;
	*) echo "fuzz: unknown target '$target' (use: ${all[*]} or all)" >&2; exit 2 ;;
	esac
fi
if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (apt-get install clang)" >&2
	exit 2
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -De2e=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
bins=()
for t in "${targets[@]}"; do bins+=("tests/fuzz/fuzz_${t}_libfuzzer"); done
ninja -C build-fuzz "${bins[@]}" >/dev/null || exit 1

seeds() {
	case $1 in
	pdu) echo "$root/tests/fuzz/corpus/pdu $root/tests/fuzz/corpus/text" ;;
	*) echo "$root/tests/fuzz/corpus/$1" ;;
	esac
}

status=0
for t in "${targets[@]}"; do
	work=$root/build-fuzz/corpus/$t
	art=$root/build-fuzz/artifacts/$t
	log=$root/build-fuzz/fuzz-$t.log
	mkdir -p "$work" "$art" "$root/build-fuzz/tmp"
	echo "fuzz: $t for ${secs}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs} (log: build-fuzz/fuzz-$t.log)"
	# shellcheck disable=SC2046
	TMPDIR=$root/build-fuzz/tmp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"build-fuzz/tests/fuzz/fuzz_${t}_libfuzzer" -max_total_time="$secs" \
		${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -max_len=8192 -timeout="${FUZZ_TIMEOUT:-10}" \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$work" $(seeds "$t") >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	tsecs=$(grep -o 'Done.*in [0-9]* second' "$log" | grep -o '[0-9]* second' | cut -d' ' -f1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	echo "fuzz: $t: rc=$rc, ${runs:-?} executions in ${tsecs:-?} s, $cov"
	if [ $rc -ne 0 ]; then
		status=1
		grep -E 'ERROR|fuzz_[a-z]+: |SUMMARY|Test unit written' "$log" | head -20
	fi
done
exit $status
