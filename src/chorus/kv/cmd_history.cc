// chorus's history commands: HISTORY key [COUNT n] and GETREV key revision (see history.h for
// what is retained). Both read the recorded changes, so a key whose expiry time has passed but
// that no entry has deleted yet still shows its last value here.
#include <optional>
#include <string>

#include "chorus/kv/commands.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using resp::Value;

Value not_positive_error() { return Value::error("ERR value is out of range, must be positive"); }

// Calls fn(revision, change, value) on the key's states, newest first; false if the store keeps
// nothing about the key.
template <typename Fn>
bool walk_states(const Keyspace& ks, std::string_view key, Fn&& fn) {
  if (const Node* n = ks.find(key)) {
    for_each_state(n->revision, n->change, &n->value, n->older.get(), fn);
    return true;
  }
  if (const Tombstone* t = ks.find_tombstone(key)) {
    for_each_state(t->revision, t->change, nullptr, t->older.get(), fn);
    return true;
  }
  return false;
}

// Whether states before the oldest retained one were dropped: history disabled, trimmed to its
// bound, or forgotten with an evicted tombstone or a flush (the floor).
bool compacted_before_oldest(const Keyspace& ks, std::string_view key, uint64_t revision) {
  if (revision < ks.evicted_floor()) return true;
  const History* older = nullptr;
  if (const Node* n = ks.find(key)) {
    older = n->older.get();
  } else if (const Tombstone* t = ks.find_tombstone(key)) {
    older = t->older.get();
  } else {
    return false;
  }
  return ks.older_capacity() == 0 || (older != nullptr && older->trimmed);
}

}  // namespace

// HISTORY key [COUNT n]: [[revision, event, value], ...] newest first; value is nil where the
// change deleted the key.
Value cmd_history(CommandContext& c) {
  int64_t count = INT64_MAX;
  if (c.argv.size() != 2) {
    if (c.argv.size() != 4 || !iequals(c.argv[2], "count")) return syntax_error();
    Value error;
    std::optional<int64_t> n = int_arg(c.argv[3], &error);
    if (!n) return error;
    if (*n <= 0) return not_positive_error();
    count = *n;
  }
  std::vector<Value> out;
  walk_states(c.view, c.argv[1], [&](uint64_t revision, Change change, const std::string* value) {
    out.push_back(Value::array({Value::integer_of(static_cast<int64_t>(revision)),
                                Value::bulk(std::string(change_name(change))),
                                value ? Value::bulk(*value) : Value::null()}));
    return static_cast<int64_t>(out.size()) < count;
  });
  return Value::array(std::move(out));
}

// GETREV key revision: the value the key had once the entry at `revision` was applied (nil if it
// did not exist then), or "ERR revision compacted" when that is older than what is retained.
Value cmd_getrev(CommandContext& c) {
  Value error;
  std::optional<int64_t> r = int_arg(c.argv[2], &error);
  if (!r) return error;
  if (*r < 0) return not_positive_error();
  const auto revision = static_cast<uint64_t>(*r);
  std::optional<Value> found;
  walk_states(c.view, c.argv[1], [&](uint64_t state_revision, Change, const std::string* value) {
    if (state_revision > revision) return true;
    found = value ? Value::bulk(*value) : Value::null();
    return false;
  });
  if (found) return *found;
  if (compacted_before_oldest(c.view, c.argv[1], revision)) {
    return Value::error("ERR revision compacted");
  }
  return Value::null();
}

}  // namespace chorus::kv
