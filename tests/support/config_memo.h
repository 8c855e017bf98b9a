// Internal to the linearizability checker: the memo of configurations the search has entered.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chorus/base/assert.h"
#include "chorus/base/rng.h"
#include "support/linearizability.h"

namespace chorus::lincheck::detail {

inline uint64_t mix64(uint64_t x) {
  uint64_t state = x;
  return splitmix64(state);
}

// The configurations the search has entered (Lowe 2017, section 3: the memo that makes Wing &
// Gong practical), kept in one arena of records:
//
//   +-------+-------+-----------+-------+-----------------+-----------+---------------+
//   | exact | group | has_value | value | begin<<32 | end | previous  | after_        |
//   | hash  | hash  |           |       |                 | in group  | optional      |
//   +-------+-------+-----------+-------+-----------------+-----------+---------------+
//   | definite[begin..end)      | optional[0..optional_words)                         |
//   +---------------------------+-----------------------------------------------------+
//
// Definite words before `begin` are all ones and from `end` on all zeros: in a long history
// that set is a solid prefix plus a few bits around the frontier, so thousands of bits shrink to
// a few words. Two open-addressing tables of arena offsets find records: by the whole
// configuration (exact), and by its group, the definite set and register value (the newest
// record of the group; older ones chain through `previous in group`, a table slot).
//
// Lowe's memo skips a configuration equal to one entered before. Here a configuration is also
// skipped when one entered before dominates it: the same group, having used a subset of its
// optional (indeterminate) operations, and not more restricted by after_optional (see
// KeySearch::worth_linearizing). Whatever can follow the dominated one can follow the
// dominating one, which still has those optional operations in hand. Without this, every
// combination of timed-out writes used so far is a separate state. Only the newest records of a
// group are compared, so that the cost of an insert stays bounded; skipping fewer is always
// sound.
class ConfigMemo {
 public:
  explicit ConfigMemo(size_t optional_words) : optional_words_(optional_words) {}

  // Adds the configuration unless it or a dominating one is present; says whether it did.
  bool insert(uint64_t group_hash, uint64_t optional_hash, const std::vector<uint64_t>& definite,
              const std::vector<uint64_t>& optional, const Value& state, bool after_optional) {
    CHORUS_ASSERT(optional.size() == optional_words_);
    const uint64_t flag = after_optional ? 1 : 0;
    // The flag stays out of the hash so that a configuration meets its unflagged twin, which
    // dominates it, in the same probe sequence.
    const uint64_t exact_hash = mix64(group_hash ^ optional_hash);
    size_t begin = 0;
    while (begin < definite.size() && definite[begin] == ~uint64_t{0}) ++begin;
    size_t end = definite.size();
    while (end > begin && definite[end - 1] == 0) --end;
    const uint64_t header[] = {exact_hash, group_hash, state.has_value() ? 1u : 0u,
                               state ? static_cast<uint64_t>(*state) : 0,
                               (uint64_t{begin} << 32) | end};
    auto same_group = [&](const uint64_t* rec) {
      return std::equal(header + 1, header + 5, rec + 1) &&
             std::equal(definite.begin() + begin, definite.begin() + end, rec + kHeaderWords);
    };
    const size_t optional_at = kHeaderWords + (end - begin);

    if ((records_ + 1) * 2 > exact_.size()) grow(exact_, 0);
    size_t e = exact_hash & (exact_.size() - 1);
    for (; exact_[e] != 0; e = (e + 1) & (exact_.size() - 1)) {
      if (fingerprint(exact_[e]) != fingerprint_of(exact_hash)) continue;
      const uint64_t* rec = &arena_[offset(exact_[e])];
      if (rec[0] == exact_hash && rec[6] <= flag && same_group(rec) &&
          std::equal(optional.begin(), optional.end(), rec + optional_at)) {
        return false;
      }
    }
    // Dominance only matters with optional operations; without, equality is all there is.
    size_t g = 0;
    uint64_t newest_in_group = 0;
    if (optional_words_ > 0) {
      if ((groups_ + 1) * 2 > group_.size()) grow(group_, 1);
      g = group_hash & (group_.size() - 1);
      for (; group_[g] != 0; g = (g + 1) & (group_.size() - 1)) {
        if (fingerprint(group_[g]) != fingerprint_of(group_hash)) continue;
        if (same_group(&arena_[offset(group_[g])])) break;
      }
      newest_in_group = group_[g];
      uint64_t older = newest_in_group;
      for (int i = 0; i < kDominanceScan && older != 0; ++i) {
        const uint64_t* rec = &arena_[offset(older)];
        if (rec[6] <= flag && is_subset(rec + optional_at, optional)) return false;
        older = rec[5];
      }
    }

    const uint64_t at = arena_.size();
    CHORUS_ASSERT(at < kOffsetMask, "memo arena over 2^40 words");
    arena_.insert(arena_.end(), header, header + 5);
    arena_.push_back(newest_in_group);
    arena_.push_back(flag);
    arena_.insert(arena_.end(), definite.begin() + begin, definite.begin() + end);
    arena_.insert(arena_.end(), optional.begin(), optional.end());
    exact_[e] = slot(at, exact_hash);
    if (optional_words_ > 0) {
      if (group_[g] == 0) ++groups_;
      group_[g] = slot(at, group_hash);
    }
    ++records_;
    return true;
  }

  uint64_t size() const { return records_; }

 private:
  static constexpr size_t kHeaderWords = 7;
  static constexpr int kDominanceScan = 16;
  // A table slot: the record's arena offset + 1 in the low 40 bits (0 = empty), and the top 24
  // bits of its hash above, so that most probes that miss never touch the arena.
  static constexpr uint64_t kOffsetMask = (uint64_t{1} << 40) - 1;

  static uint64_t slot(uint64_t at, uint64_t hash) { return (hash & ~kOffsetMask) | (at + 1); }
  static uint64_t offset(uint64_t slot) { return (slot & kOffsetMask) - 1; }
  static uint64_t fingerprint(uint64_t slot) { return slot & ~kOffsetMask; }
  static uint64_t fingerprint_of(uint64_t hash) { return hash & ~kOffsetMask; }

  bool is_subset(const uint64_t* used_before, const std::vector<uint64_t>& used_now) const {
    for (size_t w = 0; w < optional_words_; ++w) {
      if ((used_before[w] & ~used_now[w]) != 0) return false;
    }
    return true;
  }

  // Doubles a table whose records are hashed by header word `hash_word`.
  void grow(std::vector<uint64_t>& table, size_t hash_word) {
    std::vector<uint64_t> old = std::move(table);
    table.assign(old.empty() ? 1024 : old.size() * 2, 0);
    const size_t mask = table.size() - 1;
    for (uint64_t s : old) {
      if (s == 0) continue;
      size_t i = arena_[offset(s) + hash_word] & mask;
      while (table[i] != 0) i = (i + 1) & mask;
      table[i] = s;
    }
  }

  size_t optional_words_;
  std::vector<uint64_t> arena_;
  std::vector<uint64_t> exact_;  // a slot per record
  std::vector<uint64_t> group_;  // a slot per group: its newest record; older ones chain
  uint64_t records_ = 0;
  uint64_t groups_ = 0;
};

}  // namespace chorus::lincheck::detail
