#!/usr/bin/env bash
# Runs every test suite: the release build, then the sanitizer builds of the core suites.
# Ends with one line "N passed, N failed" over all suites; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
passed=0
failed=0
status=0

# ctest prints "X% tests passed, F tests failed out of N"; add it to the totals.
run_ctest() {
  local out
  out=$(mktemp)
  ctest "$@" --output-on-failure -j "$jobs" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -1)
  if [ -n "$line" ]; then
    local f n
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    n=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + n - f))
    failed=$((failed + f))
  elif [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
  fi
  rm -f "$out"
  [ "$rc" -eq 0 ] || status=1
}

build() {  # build <preset> [targets...]
  local preset=$1
  shift
  cmake --preset "$preset" >/dev/null || return 1
  if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" --target "$@"
  else
    cmake --build --preset "$preset"
  fi
}

echo "== release: every suite"
if build release; then
  run_ctest --test-dir build/release
else
  echo "release build failed"; failed=$((failed + 1)); status=1
fi

# The sanitizers run on the suites that matter most; only those targets are built.
sanitized=()
for t in unit_base unit_log unit_raft unit_net unit_node unit_resp unit_kv; do
  [ -d "tests/unit/${t#unit_}" ] && sanitized+=("$t")
done
regex="^($(IFS='|'; echo "${sanitized[*]}"))$"
echo "== asan+ubsan: ${sanitized[*]}"
if build asan "${sanitized[@]}"; then
  CHORUS_TEST_SCALE=0.25 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest --test-dir build/asan -R "$regex"
else
  echo "asan build failed"; failed=$((failed + 1)); status=1
fi

tsan_targets=()
for t in unit_log unit_net unit_node; do
  [ -d "tests/unit/${t#unit_}" ] && tsan_targets+=("$t")
done
regex="^($(IFS='|'; echo "${tsan_targets[*]}"))$"
echo "== tsan: ${tsan_targets[*]}"
if build tsan "${tsan_targets[@]}"; then
  CHORUS_TEST_SCALE=0.05 TSAN_OPTIONS=halt_on_error=1 run_ctest --test-dir build/tsan -R "$regex"
else
  echo "tsan build failed"; failed=$((failed + 1)); status=1
fi

# libFuzzer (clang) on every decoder, bounded by FUZZ_SECONDS per target.
echo "== fuzz: every decoder, ${FUZZ_SECONDS:-20}s each"
if build fuzz fuzzers; then
  run_ctest --test-dir build/fuzz -L fuzz
else
  echo "fuzz build failed"; failed=$((failed + 1)); status=1
fi

echo
echo "${passed} passed, ${failed} failed"
exit $status
