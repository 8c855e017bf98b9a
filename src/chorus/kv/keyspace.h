// Keyspace: the replicated state of the key-value store and the primitive changes commands make
// to it. Every change takes the revision (log index) it happens at and keeps the history, the
// expiry index, the tombstones and the memory estimate consistent; the commands (cmd_*.cc) are
// written only in terms of these primitives.
//
// Parts:
//   - the keys (KeyTable), each with its value, expiry time, latest change and older history;
//   - the expiry index: the keys with a TTL ordered by (expire_at, hash, key), for active expiry
//     and to count expired keys;
//   - tombstones: the histories of the last `history_deleted_keys` deleted keys, oldest deletion
//     first. Evicting one raises `evicted_floor`, the revision Store::key_revision() reports for
//     any key it knows nothing about: a key whose deletion was forgotten still looks changed to a
//     WATCH that saw it before (a spurious EXEC abort is allowed, a missed one never).
//     FLUSHDB/FLUSHALL forget everything at once and raise the floor to their revision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chorus/kv/history.h"
#include "chorus/kv/key_table.h"

namespace chorus::kv {

struct StoreOptions {
  // How many changes of a key HISTORY and GETREV can see, the latest included (0 acts as 1: the
  // latest change is always known, it is the key's revision). Values are copied into the history
  // only when a later change replaces them, so a key written once costs nothing extra.
  size_t history_per_key = 8;
  // How many deleted keys keep their history (and exact revision, for WATCH).
  size_t history_deleted_keys = 10000;

  friend bool operator==(const StoreOptions&, const StoreOptions&) = default;
};

// Bounds on the options (a Store asserts them; restore() refuses a snapshot beyond them).
inline constexpr size_t kMaxHistoryPerKey = 1 << 16;
inline constexpr size_t kMaxHistoryDeletedKeys = size_t{1} << 32;

struct Tombstone {
  std::string key;
  uint64_t revision = 0;  // of the deletion
  Change change = Change::kDel;
  std::unique_ptr<History> older;

  LatestState latest() const { return {revision, change, nullptr}; }
};

class Keyspace {
 public:
  explicit Keyspace(StoreOptions options);
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  const StoreOptions& options() const { return options_; }
  // How many older entries a key keeps besides its latest change.
  size_t older_capacity() const;

  // ---- Lookup ----
  static bool is_expired(const Node& n, int64_t now_ms) {
    return n.expire_at_ms != kNoExpiry && n.expire_at_ms <= now_ms;
  }
  // The key's node, even if it is expired at some time.
  const Node* find(std::string_view key) const { return table_.find(key, key_hash(key)); }
  Node* find(std::string_view key) { return table_.find(key, key_hash(key)); }
  // The key's node if it is not expired at `now_ms`.
  const Node* find_live(std::string_view key, int64_t now_ms) const {
    const Node* n = find(key);
    return n != nullptr && !is_expired(*n, now_ms) ? n : nullptr;
  }
  Node* find_live(std::string_view key, int64_t now_ms) {
    Node* n = find(key);
    return n != nullptr && !is_expired(*n, now_ms) ? n : nullptr;
  }
  const Tombstone* find_tombstone(std::string_view key) const;
  // See Store::key_revision().
  uint64_t key_revision(std::string_view key) const;
  uint64_t evicted_floor() const { return evicted_floor_; }
  const KeyTable& table() const { return table_; }
  size_t size() const { return table_.size(); }
  const std::list<Tombstone>& tombstones() const { return tombstones_; }

  // ---- Changes at revision `rev` ----
  enum class Ttl { kClear, kKeep, kSet };
  // Creates the key or replaces its value; `ttl` says what happens to its expiry (kKeep on a new
  // key means none; kSet sets `expire_at_ms`).
  Node& write(std::string_view key, std::string value, uint64_t rev, Change change, Ttl ttl,
              int64_t expire_at_ms = kNoExpiry);
  // Changes the value in place (APPEND, SETRANGE); the expiry stays.
  template <typename Fn>
  void edit(Node& n, uint64_t rev, Change change, Fn&& fn) {
    begin_change(n, rev, /*value_changes=*/true, /*may_move=*/false);
    fn(n.value);
    end_change(n, rev, change);
  }
  void set_expiry(Node& n, int64_t expire_at_ms, uint64_t rev);
  // Removes the key's expiry; false (and no change) if it had none.
  bool persist(Node& n, uint64_t rev);
  // Deletes the key; `change` says why (del, expired, rename_from). `n` is gone afterwards.
  void erase(Node& n, uint64_t rev, Change change);
  // Deletes every key and forgets every history.
  void flush(uint64_t rev);

  // ---- Expiry index ----
  // Keys whose expiry is <= now_ms, in (expire_at, hash, key) order.
  std::vector<std::string> expired_keys(int64_t now_ms, size_t limit) const;
  size_t count_expired(int64_t now_ms) const;
  size_t volatile_count() const { return expiry_.size(); }

  uint64_t memory_bytes() const;
  void check_invariants(uint64_t last_revision) const;

  // ---- Restore (snapshot.cc): rebuilding a keyspace from canonical parts ----
  void restore_node(std::unique_ptr<Node> node);
  void restore_tombstone(Tombstone t);
  void restore_floor(uint64_t floor) { evicted_floor_ = floor; }

 private:
  struct ExpiryLess {
    bool operator()(const Node* a, const Node* b) const {
      if (a->expire_at_ms != b->expire_at_ms) return a->expire_at_ms < b->expire_at_ms;
      return node_less(a->hash, a->key, b->hash, b->key);
    }
  };

  void begin_change(Node& n, uint64_t rev, bool value_changes, bool may_move);
  void end_change(Node& n, uint64_t rev, Change change);
  void set_expiry_field(Node& n, int64_t expire_at_ms);
  void add_tombstone(Tombstone t);
  void evict_tombstones();
  size_t node_bytes(const Node& n) const;
  size_t tombstone_bytes(const Tombstone& t) const;
  void check_history(const History* older, const LatestState& latest, bool live) const;

  StoreOptions options_;
  KeyTable table_;
  std::set<const Node*, ExpiryLess> expiry_;
  std::list<Tombstone> tombstones_;  // oldest deletion first
  std::unordered_map<std::string_view, std::list<Tombstone>::iterator> tombstone_index_;
  uint64_t evicted_floor_ = 0;
  uint64_t bytes_ = 0;  // everything but the bucket array, kept current by every change
};

}  // namespace chorus::kv
