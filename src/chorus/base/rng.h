// Rng: a tiny deterministic PRNG (xoshiro256**, seeded through splitmix64), header-only.
//
// Used wherever a pure component needs randomness (the Raft core's randomized election timeouts,
// the simulator's fault schedule): the same seed gives the same sequence on every platform and
// every standard library, which <random>'s distributions do not promise.
#pragma once

#include <cstdint>

#include "chorus/base/assert.h"

namespace chorus {

// splitmix64 (Steele, Lea, Flood 2014): expands one 64-bit seed into well-mixed state words.
constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman, Vigna 2018).
class Rng {
 public:
  explicit constexpr Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = splitmix64(seed);
  }

  constexpr uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0. The modulo bias (< bound / 2^64) is irrelevant for
  // timeouts and fault schedules.
  constexpr uint64_t uniform(uint64_t bound) {
    CHORUS_ASSERT(bound > 0);
    return next() % bound;
  }

  // Uniform in [lo, hi], lo <= hi.
  constexpr uint64_t between(uint64_t lo, uint64_t hi) {
    CHORUS_ASSERT(lo <= hi);
    return lo + uniform(hi - lo + 1);
  }

  // True with probability numerator / denominator.
  constexpr bool chance(uint64_t numerator, uint64_t denominator) {
    return uniform(denominator) < numerator;
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4] = {};
};

}  // namespace chorus
