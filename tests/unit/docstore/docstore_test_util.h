// Helpers shared by the docstore tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "chorus/base/sim_file_system.h"
#include "chorus/docstore/store.h"
#include "support/test_scale.h"

namespace chorus::docstore::test {

inline const std::string kDir = "/db";

// A clock the test moves by hand, so timestamps are deterministic.
class ManualClock final : public Clock {
 public:
  uint64_t now_ns() const override { return ns; }
  uint64_t wall_ms() const override { return ms; }
  uint64_t ns = 1'000'000'000, ms = 1'700'000'000'000;
};

inline Options sim_options(SimFileSystem* fs, WriteMode mode = WriteMode::kImmediate) {
  Options o;
  o.fs = fs;
  o.write_mode = mode;
  o.segment_bytes = 64 << 10;
  o.background_threads = false;
  return o;
}

class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}
  uint64_t below(uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  uint64_t in(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  bool one_in(uint64_t n) { return below(n) == 0; }

 private:
  std::mt19937_64 gen_;
};

using chorus::test::report;  // support/test_scale.h
using chorus::test::scaled;

// The store's records as an ordered map, for comparisons.
inline std::map<std::string, Json> snapshot_of(const Store& s) {
  std::map<std::string, Json> out;
  for (auto& [id, v] : s.entries()) out[id] = v;
  return out;
}

inline std::string hash_of(const std::map<std::string, Json>& m) {
  std::string text;
  for (const auto& [id, v] : m) text += id + "=" + v.dump() + ";";
  return text;
}

}  // namespace chorus::docstore::test
