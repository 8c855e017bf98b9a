// Per-key change history: what HISTORY and GETREV read, and what WATCH's revisions come from.
//
// A key's latest change is not stored here: it is the key's own (revision, change, value), so a
// key written once costs nothing extra. When a later change replaces the latest state, that state
// moves to the front of the key's older entries (newest first), bounded by the store's
// history_per_key; a deleted key keeps its history in a tombstone (see keyspace.h).
//
// An older entry holds the value the key had after that change:
//   kNone        the key did not exist (the change deleted it),
//   kOwn         a copy in `value`,
//   kSameAsNewer the same value as the next newer state: a change that left the value alone
//                (EXPIRE, PERSIST) stores no copy.
//
// Changes within one revision (a MULTI/EXEC block touching a key twice) collapse into one state:
// nothing between them is observable at any revision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::kv {

// What a change did, named as the Redis keyspace event it emits.
enum class Change : uint8_t {
  kSet,
  kDel,
  kExpire,
  kExpired,
  kRenameFrom,
  kRenameTo,
  kIncrby,
  kIncrbyfloat,
  kAppend,
  kSetrange,
  kPersist,
};
inline constexpr uint8_t kChangeCount = static_cast<uint8_t>(Change::kPersist) + 1;

std::string_view change_name(Change c);
// The change removes the key ("del", "expired", "rename_from").
bool is_deletion(Change c);

enum class ValueKind : uint8_t { kNone = 0, kOwn = 1, kSameAsNewer = 2 };
inline constexpr uint8_t kValueKindCount = 3;

struct HistoryEntry {
  uint64_t revision = 0;
  Change change = Change::kSet;
  ValueKind kind = ValueKind::kNone;
  std::string value;  // kOwn only
};

struct History {
  // Entries were dropped to respect the bound: revisions before the oldest entry are compacted.
  bool trimmed = false;
  std::vector<HistoryEntry> entries;  // newest first, revisions strictly decreasing
  // The heap bytes of the entries' values, kept by whoever changes them (retire_latest, restore)
  // so that history_bytes() does not walk the entries on every write.
  size_t value_bytes = 0;
};

// The latest state of a key (live or tombstone), the input of retire_latest().
struct LatestState {
  uint64_t revision;
  Change change;
  std::string* value;  // nullptr when the latest state is a deletion
};

// Before a change at `revision` replaces `latest`, moves `latest` to the front of `older`
// (keeping at most `capacity` entries), or, when `latest` is at `revision` too, collapses the two.
// `value_changes`: the change alters the value or deletes the key. `may_move`: the caller replaces
// *latest.value wholesale afterwards, so it may be moved from instead of copied.
void retire_latest(std::unique_ptr<History>& older, size_t capacity, const LatestState& latest,
                   bool value_changes, bool may_move, uint64_t revision);

// The heap bytes a history holds (estimate, for Store::memory_bytes()).
size_t history_bytes(const History* h);
// The heap bytes of one string's buffer (0 while it fits inline).
size_t string_heap_bytes(const std::string& s);

// Walks a key's states newest first: the latest (`revision`, `change`, `value`; value nullptr
// for a deleted key), then each older entry, with its value resolved (nullptr: the key did not
// exist). `fn(revision, change, value)` returns false to stop.
template <typename Fn>
void for_each_state(uint64_t revision, Change change, const std::string* value,
                    const History* older, Fn&& fn) {
  if (!fn(revision, change, value)) return;
  if (older == nullptr) return;
  for (const HistoryEntry& e : older->entries) {
    if (e.kind == ValueKind::kNone) value = nullptr;
    if (e.kind == ValueKind::kOwn) value = &e.value;
    if (!fn(e.revision, e.change, value)) return;
  }
}

}  // namespace chorus::kv
