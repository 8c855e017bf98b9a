// Shared by the randomized crash and fault suites: how many trials to run, and how to report a
// figure they measured.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace chorus::test {

// The number of trials for a randomized suite: `n` in the release run, which reports the figures;
// scaled down by CHORUS_TEST_SCALE (0 < s <= 1) under the sanitizers, which look for races and
// memory errors, not for rare crash points (scripts/test.sh sets it).
inline uint64_t scaled(uint64_t n) {
  const char* env = std::getenv("CHORUS_TEST_SCALE");
  double s = env != nullptr ? std::atof(env) : 1.0;
  if (!(s > 0 && s <= 1)) s = 1;
  return std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(n) * s));
}

// Prints a figure and records it as a test property (shows up in the XML report).
inline void report(const char* key, int64_t value) {
  std::printf("  %-28s %lld\n", key, static_cast<long long>(value));
  ::testing::Test::RecordProperty(key, std::to_string(value));
}

}  // namespace chorus::test
