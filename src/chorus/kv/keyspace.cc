#include "chorus/kv/keyspace.h"

#include <algorithm>

#include "chorus/base/assert.h"

namespace chorus::kv {
namespace {

// Heap estimates for memory_bytes(): the allocator's per-block overhead and the nodes of the
// std::set / std::list / std::unordered_map entries that index a key (libstdc++, 64-bit).
constexpr size_t kMallocOverhead = 16;
constexpr size_t kSetNodeBytes = 40 + kMallocOverhead;
constexpr size_t kListNodeBytes = 16 + kMallocOverhead;
constexpr size_t kHashNodeBytes = 40 + kMallocOverhead;

size_t string_heap(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

Keyspace::Keyspace(StoreOptions options) : options_(options) {
  // Larger options could not be restored from the snapshots they produce.
  CHORUS_ASSERT(options.history_per_key <= kMaxHistoryPerKey, "history_per_key too large");
  CHORUS_ASSERT(options.history_deleted_keys <= kMaxHistoryDeletedKeys,
                "history_deleted_keys too large");
}

size_t Keyspace::older_capacity() const {
  return std::max<size_t>(options_.history_per_key, 1) - 1;
}

const Tombstone* Keyspace::find_tombstone(std::string_view key) const {
  auto it = tombstone_index_.find(key);
  return it == tombstone_index_.end() ? nullptr : &*it->second;
}

uint64_t Keyspace::key_revision(std::string_view key) const {
  if (const Node* n = find(key)) return n->revision;
  if (const Tombstone* t = find_tombstone(key)) return t->revision;
  return evicted_floor_;
}

// ---- Changes ----

void Keyspace::begin_change(Node& n, uint64_t rev, bool value_changes, bool may_move) {
  bytes_ -= node_bytes(n);
  retire_latest(n.older, older_capacity(), n.latest(), value_changes, may_move, rev);
}

void Keyspace::end_change(Node& n, uint64_t rev, Change change) {
  CHORUS_ASSERT(!is_deletion(change));
  n.revision = rev;
  n.change = change;
  bytes_ += node_bytes(n);
}

void Keyspace::set_expiry_field(Node& n, int64_t expire_at_ms) {
  if (n.expire_at_ms == expire_at_ms) return;
  if (n.expire_at_ms != kNoExpiry) expiry_.erase(&n);
  n.expire_at_ms = expire_at_ms;
  if (expire_at_ms != kNoExpiry) {
    CHORUS_ASSERT(expire_at_ms > 0, "expiry times are positive");
    expiry_.insert(&n);
  }
}

Node& Keyspace::write(std::string_view key, std::string value, uint64_t rev, Change change, Ttl ttl,
                      int64_t expire_at_ms) {
  CHORUS_ASSERT(ttl != Ttl::kSet || expire_at_ms > 0, "kSet needs an expiry time");
  if (Node* n = find(key)) {
    begin_change(*n, rev, /*value_changes=*/true, /*may_move=*/true);
    n->value = std::move(value);
    if (ttl == Ttl::kClear) set_expiry_field(*n, kNoExpiry);
    if (ttl == Ttl::kSet) set_expiry_field(*n, expire_at_ms);
    end_change(*n, rev, change);
    return *n;
  }
  auto node = std::make_unique<Node>();
  node->hash = key_hash(key);
  node->key = std::string(key);
  if (auto it = tombstone_index_.find(key); it != tombstone_index_.end()) {
    // The key comes back: its history continues from the tombstone's.
    Tombstone& t = *it->second;
    bytes_ -= tombstone_bytes(t);
    node->older = std::move(t.older);
    retire_latest(node->older, older_capacity(), t.latest(), true, false, rev);
    tombstones_.erase(it->second);
    tombstone_index_.erase(it);
  }
  node->value = std::move(value);
  node->revision = rev;
  node->change = change;
  Node& n = *node;
  table_.insert(std::move(node));
  if (ttl == Ttl::kSet) set_expiry_field(n, expire_at_ms);
  bytes_ += node_bytes(n);
  return n;
}

void Keyspace::set_expiry(Node& n, int64_t expire_at_ms, uint64_t rev) {
  CHORUS_ASSERT(expire_at_ms > 0);
  begin_change(n, rev, /*value_changes=*/false, /*may_move=*/false);
  set_expiry_field(n, expire_at_ms);
  end_change(n, rev, Change::kExpire);
}

bool Keyspace::persist(Node& n, uint64_t rev) {
  if (n.expire_at_ms == kNoExpiry) return false;
  begin_change(n, rev, /*value_changes=*/false, /*may_move=*/false);
  set_expiry_field(n, kNoExpiry);
  end_change(n, rev, Change::kPersist);
  return true;
}

void Keyspace::erase(Node& n, uint64_t rev, Change change) {
  CHORUS_ASSERT(is_deletion(change));
  begin_change(n, rev, /*value_changes=*/true, /*may_move=*/true);
  set_expiry_field(n, kNoExpiry);
  std::unique_ptr<Node> owned = table_.remove(&n);
  Tombstone t;
  t.key = std::move(owned->key);
  t.revision = rev;
  t.change = change;
  t.older = std::move(owned->older);
  add_tombstone(std::move(t));
}

void Keyspace::add_tombstone(Tombstone t) {
  CHORUS_ASSERT(!tombstone_index_.contains(t.key), "two tombstones for one key");
  if (options_.history_deleted_keys == 0) {
    evicted_floor_ = std::max(evicted_floor_, t.revision);
    return;
  }
  bytes_ += tombstone_bytes(t);
  tombstones_.push_back(std::move(t));
  auto it = std::prev(tombstones_.end());
  tombstone_index_.emplace(it->key, it);
  evict_tombstones();
}

void Keyspace::evict_tombstones() {
  while (tombstones_.size() > options_.history_deleted_keys) {
    Tombstone& oldest = tombstones_.front();
    evicted_floor_ = std::max(evicted_floor_, oldest.revision);
    bytes_ -= tombstone_bytes(oldest);
    tombstone_index_.erase(oldest.key);
    tombstones_.pop_front();
  }
}

void Keyspace::flush(uint64_t rev) {
  expiry_.clear();
  table_.clear();
  tombstone_index_.clear();
  tombstones_.clear();
  evicted_floor_ = std::max(evicted_floor_, rev);
  bytes_ = 0;
}

// ---- Expiry index ----

std::vector<std::string> Keyspace::expired_keys(int64_t now_ms, size_t limit) const {
  std::vector<std::string> out;
  for (auto it = expiry_.begin(); it != expiry_.end() && out.size() < limit; ++it) {
    if ((*it)->expire_at_ms > now_ms) break;
    out.push_back((*it)->key);
  }
  return out;
}

size_t Keyspace::count_expired(int64_t now_ms) const {
  size_t n = 0;
  for (auto it = expiry_.begin(); it != expiry_.end() && (*it)->expire_at_ms <= now_ms; ++it) ++n;
  return n;
}

// ---- Memory ----

size_t Keyspace::node_bytes(const Node& n) const {
  return sizeof(Node) + kMallocOverhead + string_heap(n.key) + string_heap(n.value) +
         history_bytes(n.older.get()) + (n.expire_at_ms != kNoExpiry ? kSetNodeBytes : 0);
}

size_t Keyspace::tombstone_bytes(const Tombstone& t) const {
  return sizeof(Tombstone) + kListNodeBytes + kHashNodeBytes + string_heap(t.key) +
         history_bytes(t.older.get());
}

uint64_t Keyspace::memory_bytes() const {
  return bytes_ + table_.bucket_count() * sizeof(Node*) + sizeof(Keyspace);
}

// ---- Restore ----

void Keyspace::restore_node(std::unique_ptr<Node> node) {
  Node& n = *node;
  const int64_t expire_at = n.expire_at_ms;
  n.expire_at_ms = kNoExpiry;
  table_.insert(std::move(node));
  set_expiry_field(n, expire_at);
  bytes_ += node_bytes(n);
}

void Keyspace::restore_tombstone(Tombstone t) { add_tombstone(std::move(t)); }

// ---- Invariants ----

void Keyspace::check_history(const History* older, const LatestState& latest, bool live) const {
  if (older == nullptr) return;
  CHORUS_ASSERT(!older->entries.empty(), "an empty history is kept as none");
  CHORUS_ASSERT(older->entries.size() <= older_capacity(), "history over its bound");
  CHORUS_ASSERT(!older->trimmed || older->entries.size() == older_capacity());
  uint64_t newer_revision = latest.revision;
  bool newer_live = live;
  size_t value_bytes = 0;
  for (const HistoryEntry& e : older->entries) {
    value_bytes += string_heap_bytes(e.value);
    CHORUS_ASSERT(e.revision < newer_revision, "history revisions must decrease");
    CHORUS_ASSERT(static_cast<uint8_t>(e.change) < kChangeCount);
    CHORUS_ASSERT(is_deletion(e.change) == (e.kind == ValueKind::kNone));
    CHORUS_ASSERT(e.kind != ValueKind::kSameAsNewer || newer_live,
                  "same-as-newer entry before a deletion");
    CHORUS_ASSERT(e.kind == ValueKind::kOwn || e.value.empty());
    newer_revision = e.revision;
    newer_live = e.kind != ValueKind::kNone;
  }
  CHORUS_ASSERT(value_bytes == older->value_bytes, "history value bytes ", older->value_bytes,
                " but ", value_bytes);
}

void Keyspace::check_invariants(uint64_t last_revision) const {
  table_.check_invariants();
  size_t bytes = 0;
  size_t volatile_keys = 0;
  for (Node* n = table_.first(); n != nullptr; n = table_.next(n)) {
    CHORUS_ASSERT(n->revision >= 1 && n->revision <= last_revision, "key revision out of range");
    CHORUS_ASSERT(!is_deletion(n->change), "a live key's latest change deletes it");
    if (n->expire_at_ms != kNoExpiry) {
      CHORUS_ASSERT(n->expire_at_ms > 0 && expiry_.contains(n), "expiry not indexed");
      ++volatile_keys;
    }
    CHORUS_ASSERT(!tombstone_index_.contains(n->key), "a live key has a tombstone");
    check_history(n->older.get(), n->latest(), true);
    bytes += node_bytes(*n);
  }
  CHORUS_ASSERT(volatile_keys == expiry_.size(), "expiry index has stale entries");
  CHORUS_ASSERT(tombstones_.size() == tombstone_index_.size());
  CHORUS_ASSERT(tombstones_.size() <= options_.history_deleted_keys);
  uint64_t previous = 0;
  for (const Tombstone& t : tombstones_) {
    CHORUS_ASSERT(is_deletion(t.change));
    CHORUS_ASSERT(
        t.revision >= previous && t.revision >= evicted_floor_ && t.revision <= last_revision,
        "tombstones out of deletion order");
    CHORUS_ASSERT(&*tombstone_index_.at(t.key) == &t, "tombstone index points elsewhere");
    check_history(t.older.get(), t.latest(), false);
    previous = t.revision;
    bytes += tombstone_bytes(t);
  }
  CHORUS_ASSERT(evicted_floor_ <= last_revision);
  CHORUS_ASSERT(bytes == bytes_, "memory estimate drifted: ", bytes_, " kept, ", bytes, " counted");
}

}  // namespace chorus::kv
