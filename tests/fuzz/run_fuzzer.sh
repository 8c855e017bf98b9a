#!/usr/bin/env bash
# run_fuzzer.sh <fuzzer> <work-corpus-dir> <seed-corpus-dir>: a bounded libFuzzer run.
set -euo pipefail
fuzzer=$1 work=$2 seeds=$3
mkdir -p "$work"
args=("$work")
[ -d "$seeds" ] && args+=("$seeds")
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=1 "${args[@]}"
