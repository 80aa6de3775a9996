#!/usr/bin/env bash
# Runs one libFuzzer harness over a seed corpus without writing into it.
# Usage: run_fuzzer.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
# New inputs go to WORK_DIR/corpus (emptied first), crash artifacts to WORK_DIR/; every seed is
# run first, so a regression seed that crashes fails the test. Exit status: the fuzzer's.
set -euo pipefail
fuzzer="$1"
seeds="$2"
work="$3"
shift 3
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
exec "$fuzzer" -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus" "$seeds"
