// IdMap: the store's index from record id to entry. An open-addressing hash table: a power-of-two
// array of (hash, node) slots, at most half full, linear probing, backward-shift deletion (no
// tombstones). Nodes are allocated one by one, so a V* stays valid until its id is erased.
//
// Why not std::unordered_map: with a million records a lookup there takes three or four
// dependent cache misses (bucket, the node before the bucket, the bucket's nodes) and a rehash
// walks every node; in docstore_bench that was a third of a set() and most of an open. Here a
// lookup reads one slot (and the node when the full 64-bit hash matches), and growing the table
// only moves slots.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chorus/base/assert.h"

namespace chorus::docstore {

template <typename V>
class IdMap {
  struct Slot;

 public:
  struct Node {
    const std::string id;
    V value;
  };

  IdMap() = default;
  IdMap(const IdMap&) = delete;
  IdMap& operator=(const IdMap&) = delete;
  ~IdMap() { clear(); }

  size_t size() const { return size_; }

  V* find(std::string_view id) {
    size_t i = slot_of(id, hash(id));
    return slots_.empty() || slots_[i].node == nullptr ? nullptr : &slots_[i].node->value;
  }
  const V* find(std::string_view id) const { return const_cast<IdMap*>(this)->find(id); }

  // The entry of id, created (value-initialized) when absent; second: whether it was created.
  std::pair<V*, bool> try_emplace(std::string_view id) {
    if ((size_ + 1) * 2 > slots_.size()) grow((size_ + 1) * 2);
    uint64_t h = hash(id);
    Slot& s = slots_[slot_of(id, h)];
    if (s.node != nullptr) return {&s.node->value, false};
    s = Slot{h, new Node{std::string(id), V{}}};
    ++size_;
    return {&s.node->value, true};
  }

  bool erase(std::string_view id) {
    if (slots_.empty()) return false;
    size_t i = slot_of(id, hash(id));
    if (slots_[i].node == nullptr) return false;
    delete slots_[i].node;
    --size_;
    // Backward shift: pull each following slot of the run into the hole when that moves it no
    // further from its home slot, so every lookup still finds its id before an empty slot.
    const size_t mask = slots_.size() - 1;
    for (size_t hole = i, j = (i + 1) & mask;; j = (j + 1) & mask) {
      if (slots_[j].node == nullptr) {
        slots_[hole] = Slot{};
        return true;
      }
      size_t home = slots_[j].hash & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
  }

  void reserve(size_t n) {
    if (n * 2 > slots_.size()) grow(n * 2);
  }

  void clear() {
    for (Slot& s : slots_) delete s.node;
    slots_.clear();
    size_ = 0;
  }

  // Iteration visits every node ({id, value}) in no particular order; no insert or erase
  // meanwhile.
  template <bool kConst>
  class Iterator {
   public:
    using SlotPtr = std::conditional_t<kConst, const Slot*, Slot*>;
    Iterator(SlotPtr at, SlotPtr end) : at_(at), end_(end) { skip_empty(); }
    std::conditional_t<kConst, const Node&, Node&> operator*() const { return *at_->node; }
    Iterator& operator++() {
      ++at_;
      skip_empty();
      return *this;
    }
    bool operator!=(const Iterator& o) const { return at_ != o.at_; }

   private:
    void skip_empty() {
      while (at_ != end_ && at_->node == nullptr) ++at_;
    }
    SlotPtr at_, end_;
  };
  Iterator<false> begin() { return {slots_.data(), slots_.data() + slots_.size()}; }
  Iterator<false> end() { return {slots_.data() + slots_.size(), slots_.data() + slots_.size()}; }
  Iterator<true> begin() const { return {slots_.data(), slots_.data() + slots_.size()}; }
  Iterator<true> end() const {
    return {slots_.data() + slots_.size(), slots_.data() + slots_.size()};
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    Node* node = nullptr;
  };

  static uint64_t hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  // The slot that holds id, or the empty slot where it would go. Requires a non-empty table.
  size_t slot_of(std::string_view id, uint64_t h) const {
    if (slots_.empty()) return 0;
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.node == nullptr || (s.hash == h && s.node->id == id)) return i;
    }
  }

  void grow(size_t min_slots) {
    std::vector<Slot> old(std::bit_ceil(std::max<size_t>(min_slots, 16)));
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.node == nullptr) continue;
      size_t i = s.hash & mask;
      while (slots_[i].node != nullptr) i = (i + 1) & mask;
      slots_[i] = s;
    }
    CHORUS_ASSERT(size_ * 2 <= slots_.size(), "id map over half full");
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace chorus::docstore
