#include "chorus/kv/history.h"

#include <array>

#include "chorus/base/assert.h"

namespace chorus::kv {
namespace {

constexpr std::array<std::string_view, kChangeCount> kChangeNames = {
    "set",    "del",         "expire", "expired",  "rename_from", "rename_to",
    "incrby", "incrbyfloat", "append", "setrange", "persist",
};

}  // namespace

size_t string_heap_bytes(const std::string& s) {
  // libstdc++ keeps up to 15 bytes inline.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

std::string_view change_name(Change c) { return kChangeNames[static_cast<size_t>(c)]; }

bool is_deletion(Change c) {
  return c == Change::kDel || c == Change::kExpired || c == Change::kRenameFrom;
}

void retire_latest(std::unique_ptr<History>& older, size_t capacity, const LatestState& latest,
                   bool value_changes, bool may_move, uint64_t revision) {
  CHORUS_ASSERT(latest.revision <= revision, "history goes back in time: ", latest.revision, " > ",
                revision);
  if (latest.revision == revision) {
    // Collapse. The front entry may lean on the latest value, which is about to change: give it
    // its own copy first.
    if (value_changes && older && !older->entries.empty() &&
        older->entries.front().kind == ValueKind::kSameAsNewer) {
      CHORUS_ASSERT(latest.value != nullptr, "same-as-newer entry before a deletion");
      HistoryEntry& front = older->entries.front();
      older->value_bytes -= string_heap_bytes(front.value);
      front.kind = ValueKind::kOwn;
      front.value = *latest.value;
      older->value_bytes += string_heap_bytes(front.value);
    }
    return;
  }
  if (capacity == 0) return;
  if (!older) older = std::make_unique<History>();
  HistoryEntry e;
  e.revision = latest.revision;
  e.change = latest.change;
  if (latest.value == nullptr) {
    e.kind = ValueKind::kNone;
  } else if (!value_changes) {
    e.kind = ValueKind::kSameAsNewer;
  } else {
    e.kind = ValueKind::kOwn;
    e.value = may_move ? std::move(*latest.value) : *latest.value;
  }
  auto& entries = older->entries;
  CHORUS_ASSERT(entries.empty() || entries.front().revision < e.revision);
  older->value_bytes += string_heap_bytes(e.value);
  entries.insert(entries.begin(), std::move(e));
  while (entries.size() > capacity) {
    older->value_bytes -= string_heap_bytes(entries.back().value);
    entries.pop_back();
    older->trimmed = true;
  }
}

size_t history_bytes(const History* h) {
  if (h == nullptr) return 0;
  return sizeof(History) + h->entries.capacity() * sizeof(HistoryEntry) + h->value_bytes;
}

}  // namespace chorus::kv
