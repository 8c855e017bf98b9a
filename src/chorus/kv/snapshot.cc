// Store::snapshot(), restore() and state_hash(): the format is in snapshot.h.
#include "chorus/kv/snapshot.h"

#include <cstring>
#include <optional>

#include "chorus/base/checksum.h"
#include "chorus/kv/store.h"
#include "chorus/kv/wire.h"

namespace chorus::kv {
namespace {

// Where the body goes: a string (snapshot) or, in chunks, a running hash (state_hash).
class BodySink {
 public:
  explicit BodySink(std::string& out, Checksummer* hash = nullptr) : out_(out), hash_(hash) {}
  wire::Writer& w() { return w_; }
  // Called between records: a hashing sink never holds more than one chunk.
  void record_done() {
    if (hash_ != nullptr && out_.size() >= kChunkBytes) flush();
  }
  void flush() {
    if (hash_ == nullptr) return;
    hash_->update(as_bytes(out_));
    out_.clear();
  }

 private:
  static constexpr size_t kChunkBytes = 64 * 1024;
  std::string& out_;
  Checksummer* hash_;
  wire::Writer w_{out_};
};

void write_history(wire::Writer& w, const std::string* latest_value, const History* h) {
  if (h == nullptr) {
    w.varint(0);
    return;
  }
  w.varint(h->entries.size());
  w.u8(h->trimmed ? 1 : 0);
  const std::string* newer = latest_value;
  for (const HistoryEntry& e : h->entries) {
    const std::string* value = e.kind == ValueKind::kNone  ? nullptr
                               : e.kind == ValueKind::kOwn ? &e.value
                                                           : newer;
    w.varint(e.revision);
    w.u8(static_cast<uint8_t>(e.change));
    if (value == nullptr) {
      w.u8(static_cast<uint8_t>(ValueKind::kNone));
    } else if (newer != nullptr && *value == *newer) {
      w.u8(static_cast<uint8_t>(ValueKind::kSameAsNewer));
    } else {
      w.u8(static_cast<uint8_t>(ValueKind::kOwn));
      w.string(*value);
    }
    newer = value;
  }
}

void write_body(const Keyspace& ks, uint64_t last_revision, int64_t now_ms, BodySink& sink) {
  wire::Writer& w = sink.w();
  w.varint(ks.options().history_per_key);
  w.varint(ks.options().history_deleted_keys);
  w.varint(last_revision);
  w.fixed64(static_cast<uint64_t>(now_ms));
  w.varint(ks.evicted_floor());
  w.varint(ks.size());
  const KeyTable& t = ks.table();
  for (const Node* n = t.first(); n != nullptr; n = t.next(n)) {
    w.string(n->key);
    w.string(n->value);
    w.varint(static_cast<uint64_t>(n->expire_at_ms));
    w.varint(n->revision);
    w.u8(static_cast<uint8_t>(n->change));
    write_history(w, &n->value, n->older.get());
    sink.record_done();
  }
  w.varint(ks.tombstones().size());
  for (const Tombstone& tomb : ks.tombstones()) {
    w.string(tomb.key);
    w.varint(tomb.revision);
    w.u8(static_cast<uint8_t>(tomb.change));
    write_history(w, nullptr, tomb.older.get());
    sink.record_done();
  }
  sink.flush();
}

Status corrupt(const char* what) { return Status::Corruption(std::string("kv snapshot: ") + what); }

std::optional<Change> read_change(wire::Reader& r) {
  const uint8_t c = r.u8();
  if (!r.ok() || c >= kChangeCount) return std::nullopt;
  return static_cast<Change>(c);
}

// Reads a history whose newest state is (`newer_revision`, `latest_value`: nullptr if deleted).
Status read_history(wire::Reader& r, size_t capacity, uint64_t newer_revision,
                    const std::string* latest_value, std::unique_ptr<History>* out) {
  const uint64_t n = r.count(3);  // an entry is at least 3 bytes
  if (!r.ok()) return corrupt("truncated history");
  if (n == 0) return Status::Ok();
  if (n > capacity) return corrupt("history longer than history_per_key allows");
  auto h = std::make_unique<History>();
  const uint8_t trimmed = r.u8();
  if (trimmed > 1) return corrupt("bad trimmed flag");
  h->trimmed = trimmed == 1;
  if (h->trimmed && n != capacity) return corrupt("trimmed history below its bound");
  h->entries.reserve(n);  // `newer` points into it: no reallocation below
  const std::string* newer = latest_value;
  for (uint64_t i = 0; i < n; ++i) {
    HistoryEntry e;
    e.revision = r.varint();
    std::optional<Change> change = read_change(r);
    const uint8_t kind = r.u8();
    if (!r.ok() || !change) return corrupt("truncated history entry");
    if (e.revision >= newer_revision) return corrupt("history revisions must decrease");
    if (kind >= kValueKindCount) return corrupt("bad value kind");
    e.change = *change;
    e.kind = static_cast<ValueKind>(kind);
    if (is_deletion(e.change) != (e.kind == ValueKind::kNone)) {
      return corrupt("history value does not match its change");
    }
    if (e.kind == ValueKind::kSameAsNewer && newer == nullptr) {
      return corrupt("same-as-newer value after a deletion");
    }
    if (e.kind == ValueKind::kOwn) {
      e.value = std::string(r.string());
      if (!r.ok()) return corrupt("truncated history value");
      if (newer != nullptr && e.value == *newer) return corrupt("non-canonical history value");
    }
    newer_revision = e.revision;
    h->value_bytes += string_heap_bytes(e.value);
    h->entries.push_back(std::move(e));
    const HistoryEntry& back = h->entries.back();
    newer = back.kind == ValueKind::kNone  ? nullptr
            : back.kind == ValueKind::kOwn ? &back.value
                                           : newer;
  }
  *out = std::move(h);
  return Status::Ok();
}

}  // namespace

std::string Store::snapshot() const {
  std::string out(kSnapshotHeaderBytes, '\0');
  BodySink sink(out);
  write_body(*ks_, last_revision_, now_ms_, sink);
  const uint64_t body_bytes = out.size() - kSnapshotHeaderBytes;
  auto* header = reinterpret_cast<std::byte*>(out.data());
  store_le<uint64_t>(header, kSnapshotMagic);
  store_le<uint32_t>(header + 8, kSnapshotVersion);
  store_le<uint32_t>(header + 12, 0);
  store_le<uint64_t>(header + 16, body_bytes);
  wire::Writer(out).fixed64(checksum64(out));
  return out;
}

uint64_t Store::state_hash() const {
  Checksummer hash;
  std::string buffer;
  BodySink sink(buffer, &hash);
  write_body(*ks_, last_revision_, now_ms_, sink);
  return hash.digest();
}

Status Store::restore(std::string_view snapshot) {
  if (snapshot.size() < kSnapshotHeaderBytes + kSnapshotChecksumBytes) return corrupt("too short");
  const auto* bytes = reinterpret_cast<const std::byte*>(snapshot.data());
  if (load_le<uint64_t>(bytes) != kSnapshotMagic) return corrupt("bad magic");
  if (load_le<uint32_t>(bytes + 8) != kSnapshotVersion) return corrupt("unknown version");
  if (load_le<uint32_t>(bytes + 12) != 0) return corrupt("unknown flags");
  const size_t body_bytes = snapshot.size() - kSnapshotHeaderBytes - kSnapshotChecksumBytes;
  if (load_le<uint64_t>(bytes + 16) != body_bytes) return corrupt("body length mismatch");
  const size_t checked = snapshot.size() - kSnapshotChecksumBytes;
  if (checksum64(snapshot.substr(0, checked)) != load_le<uint64_t>(bytes + checked)) {
    return corrupt("checksum mismatch");
  }

  wire::Reader r(snapshot.substr(kSnapshotHeaderBytes, body_bytes));
  StoreOptions options;
  options.history_per_key = r.varint();
  options.history_deleted_keys = r.varint();
  const uint64_t last_revision = r.varint();
  const auto now_ms = static_cast<int64_t>(r.fixed64());
  const uint64_t floor = r.varint();
  if (!r.ok()) return corrupt("truncated header fields");
  if (options.history_per_key > kMaxHistoryPerKey ||
      options.history_deleted_keys > kMaxHistoryDeletedKeys) {
    return corrupt("retention options out of range");
  }
  if (now_ms < 0 || floor > last_revision) return corrupt("time or floor out of range");
  auto ks = std::make_unique<Keyspace>(options);
  ks->restore_floor(floor);
  const size_t capacity = ks->older_capacity();

  const uint64_t nkeys = r.count(6);  // the smallest key record is 6 bytes
  const Node* previous = nullptr;
  for (uint64_t i = 0; i < nkeys && r.ok(); ++i) {
    auto n = std::make_unique<Node>();
    n->key = std::string(r.string());
    n->value = std::string(r.string());
    const uint64_t expire_at = r.varint();
    n->revision = r.varint();
    std::optional<Change> change = read_change(r);
    if (!r.ok() || !change) return corrupt("truncated key");
    if (expire_at > static_cast<uint64_t>(INT64_MAX)) return corrupt("expiry out of range");
    if (n->revision == 0 || n->revision > last_revision) return corrupt("key revision");
    if (is_deletion(*change)) return corrupt("a live key's change is a deletion");
    n->expire_at_ms = static_cast<int64_t>(expire_at);
    n->change = *change;
    n->hash = key_hash(n->key);
    if (previous != nullptr && !node_less(previous->hash, previous->key, n->hash, n->key)) {
      return corrupt("keys out of order");
    }
    CHORUS_TRY(read_history(r, capacity, n->revision, &n->value, &n->older));
    previous = n.get();
    ks->restore_node(std::move(n));
  }

  const uint64_t ntombs = r.count(4);  // the smallest tombstone record is 4 bytes
  if (!r.ok()) return corrupt("truncated keys");
  if (ntombs > options.history_deleted_keys) return corrupt("more tombstones than retained");
  uint64_t previous_revision = floor;
  for (uint64_t i = 0; i < ntombs && r.ok(); ++i) {
    Tombstone t;
    t.key = std::string(r.string());
    t.revision = r.varint();
    std::optional<Change> change = read_change(r);
    if (!r.ok() || !change) return corrupt("truncated tombstone");
    if (!is_deletion(*change)) return corrupt("a tombstone's change is not a deletion");
    if (t.revision == 0 || t.revision < previous_revision || t.revision > last_revision) {
      return corrupt("tombstone revision out of order");
    }
    if (ks->find(t.key) != nullptr || ks->find_tombstone(t.key) != nullptr) {
      return corrupt("duplicate tombstone");
    }
    t.change = *change;
    CHORUS_TRY(read_history(r, capacity, t.revision, nullptr, &t.older));
    previous_revision = t.revision;
    ks->restore_tombstone(std::move(t));
  }
  if (!r.ok()) return corrupt("truncated tombstones");
  if (!r.done()) return corrupt("trailing bytes in body");

  ks->check_invariants(last_revision);
  ks_ = std::move(ks);
  last_revision_ = last_revision;
  now_ms_ = now_ms;
  return Status::Ok();
}

}  // namespace chorus::kv
