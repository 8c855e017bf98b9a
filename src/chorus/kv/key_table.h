// KeyTable: the keys of the store, in a chained hash table that iterates in (hash, key) order.
//
// The hash is XXH3-64 of the key (no seed: every node must order keys the same way, so a SCAN
// cursor means the same on every node). A bucket holds the keys whose hash has the bucket's
// number as its top bits, and each chain is sorted by (hash, key); walking the buckets in order
// therefore visits every key in (hash, key) order, whatever the table size or the order of
// inserts. That gives three things at once:
//   - SCAN's cursor is simply the next hash to visit, stable across resizes and across nodes,
//     and a key present for the whole scan is returned exactly once;
//   - iteration is canonical, so snapshots and state hashes are identical on every node;
//   - doubling splits each chain in two and halving concatenates two, both preserving order.
// The table doubles above one key per bucket and halves below one per eight (never below
// kMinBuckets). A resize rehashes everything at once (like std::unordered_map): O(n) on the
// applying thread, once per doubling.
//
// The hash is not keyed, so a client that crafts colliding keys can make chains long; a keyed
// hash would need the key to be part of the replicated state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/kv/history.h"

namespace chorus::kv {

inline constexpr int64_t kNoExpiry = 0;  // a real expiry time is always > 0

// One live key. Nodes never move once created (the expiry index points at them).
struct Node {
  Node* next = nullptr;  // the bucket chain, sorted by (hash, key)
  uint64_t hash = 0;
  std::string key;
  std::string value;
  int64_t expire_at_ms = kNoExpiry;
  uint64_t revision = 0;           // the revision of the key's latest change (WATCH compares it)
  std::unique_ptr<History> older;  // the changes before the latest one, newest first
  Change change = Change::kSet;    // what the latest change was

  LatestState latest() { return {revision, change, &value}; }
};

uint64_t key_hash(std::string_view key);

// (hash, key) order.
inline bool node_less(uint64_t ha, std::string_view ka, uint64_t hb, std::string_view kb) {
  return ha != hb ? ha < hb : ka < kb;
}

class KeyTable {
 public:
  static constexpr int kMinBits = 4;

  KeyTable();
  ~KeyTable();
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  size_t size() const { return size_; }
  size_t bucket_count() const { return buckets_.size(); }

  Node* find(std::string_view key, uint64_t hash) const;
  // Takes ownership; the key must be absent.
  void insert(std::unique_ptr<Node> node);
  // Gives the node back to the caller, out of the table.
  std::unique_ptr<Node> remove(Node* node);
  // Deletes every node.
  void clear();

  // Ordered iteration: the first node with hash >= `hash`, and the node after `n`.
  Node* lower_bound(uint64_t hash) const;
  Node* first() const { return lower_bound(0); }
  Node* next(const Node* n) const;

  void check_invariants() const;

 private:
  size_t bucket_of(uint64_t hash) const { return static_cast<size_t>(hash >> (64 - bits_)); }
  Node* first_from_bucket(size_t b) const;
  void resize(int bits);

  std::vector<Node*> buckets_;
  int bits_ = kMinBits;
  size_t size_ = 0;
};

}  // namespace chorus::kv
