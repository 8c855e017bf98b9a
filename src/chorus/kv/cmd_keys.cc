// Generic key commands: DEL UNLINK EXISTS TOUCH TYPE KEYS SCAN RENAME RENAMENX RANDOMKEY DBSIZE
// FLUSHDB FLUSHALL (Redis db.c semantics, one database).
#include <optional>
#include <string>

#include "chorus/base/rng.h"
#include "chorus/kv/commands.h"
#include "chorus/kv/glob.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using resp::Value;
using Ttl = Keyspace::Ttl;

constexpr int64_t kDefaultScanCount = 10;

Value rename_generic(CommandContext& c, bool nx) {
  const std::string& from = c.argv[1];
  const std::string& to = c.argv[2];
  Node* src = c.get_mut(from);
  if (src == nullptr) return no_such_key_error();
  if (from == to) return nx ? Value::integer_of(0) : Value::ok();
  if (nx && c.get(to) != nullptr) return Value::integer_of(0);
  // Copied, not moved: the source's history keeps its last value.
  std::string value = src->value;
  const int64_t expire_at = src->expire_at_ms;
  c.ks().erase(*src, c.revision, Change::kRenameFrom);
  c.ks().write(to, std::move(value), c.revision, Change::kRenameTo,
               expire_at != kNoExpiry ? Ttl::kSet : Ttl::kClear, expire_at);
  c.emit("rename_from", from);
  c.emit("rename_to", to);
  return nx ? Value::integer_of(1) : Value::ok();
}

}  // namespace

// DEL and UNLINK: the number of keys removed (a key named twice counts once).
Value cmd_del(CommandContext& c) {
  int64_t removed = 0;
  for (size_t j = 1; j < c.argv.size(); ++j) {
    if (Node* n = c.get_mut(c.argv[j])) {
      c.ks().erase(*n, c.revision, Change::kDel);
      c.emit("del", c.argv[j]);
      ++removed;
    }
  }
  return Value::integer_of(removed);
}

// EXISTS and TOUCH: a key named twice counts twice.
Value cmd_exists(CommandContext& c) {
  int64_t found = 0;
  for (size_t j = 1; j < c.argv.size(); ++j) found += c.get(c.argv[j]) != nullptr ? 1 : 0;
  return Value::integer_of(found);
}

Value cmd_type(CommandContext& c) {
  return Value::simple(c.get(c.argv[1]) != nullptr ? "string" : "none");
}

// KEYS pattern: in (hash, key) order, the order SCAN visits them in.
Value cmd_keys(CommandContext& c) {
  const std::string& pattern = c.argv[1];
  const bool all = pattern == "*";
  std::vector<Value> out;
  const KeyTable& t = c.view.table();
  for (const Node* n = t.first(); n != nullptr; n = t.next(n)) {
    if (Keyspace::is_expired(*n, c.now_ms)) continue;
    if (all || glob_match(pattern, n->key)) out.push_back(Value::bulk(n->key));
  }
  return Value::array(std::move(out));
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
//
// The cursor is the hash of the next key to visit (0: start, and end). Each call visits about
// COUNT keys in (hash, key) order, never stopping between two keys of equal hash, and returns
// those that pass the filters. Visiting in hash order over a range that only moves forward means
// a key present from the first call to the last is returned exactly once, however keys come and
// go in between, and the cursor means the same on every node.
Value cmd_scan(CommandContext& c) {
  std::optional<uint64_t> cursor = parse_uint64(c.argv[1]);
  if (!cursor) return Value::error("ERR invalid cursor");
  int64_t count = kDefaultScanCount;
  std::optional<std::string_view> pattern;
  std::optional<std::string_view> type;
  for (size_t i = 2; i < c.argv.size(); i += 2) {
    const std::string& opt = c.argv[i];
    const bool has_value = i + 1 < c.argv.size();
    if (iequals(opt, "count") && has_value) {
      Value error;
      std::optional<int64_t> v = int_arg(c.argv[i + 1], &error);
      if (!v) return error;
      if (*v < 1) return syntax_error();
      count = *v;
    } else if (iequals(opt, "match") && has_value) {
      pattern = c.argv[i + 1];
      if (*pattern == "*") pattern.reset();
    } else if (iequals(opt, "type") && has_value) {
      type = c.argv[i + 1];
    } else {
      return syntax_error();
    }
  }
  // Every key is a string; an unknown type name matches nothing (Redis 7 does not reject it).
  const bool type_matches = !type || iequals(*type, "string");
  std::vector<Value> keys;
  const KeyTable& t = c.view.table();
  const Node* n = t.lower_bound(*cursor);
  int64_t visited = 0;
  uint64_t last_hash = 0;
  while (n != nullptr && (visited < count || n->hash == last_hash)) {
    last_hash = n->hash;
    ++visited;
    if (type_matches && !Keyspace::is_expired(*n, c.now_ms) &&
        (!pattern || glob_match(*pattern, n->key))) {
      keys.push_back(Value::bulk(n->key));
    }
    n = t.next(n);
  }
  const uint64_t next_cursor = n != nullptr ? n->hash : 0;
  return Value::array({Value::bulk(std::to_string(next_cursor)), Value::array(std::move(keys))});
}

Value cmd_rename(CommandContext& c) { return rename_generic(c, /*nx=*/false); }
Value cmd_renamenx(CommandContext& c) { return rename_generic(c, /*nx=*/true); }

// A deterministic pick (every node answers the same at the same revision and time): the first
// live key at or after a hash drawn from the revision and the time.
Value cmd_randomkey(CommandContext& c) {
  const KeyTable& t = c.view.table();
  if (t.size() == 0) return Value::null();
  uint64_t seed = c.revision * 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(c.now_ms);
  const Node* start = t.lower_bound(splitmix64(seed));
  if (start == nullptr) start = t.first();
  const Node* n = start;
  do {
    if (!Keyspace::is_expired(*n, c.now_ms)) return Value::bulk(n->key);
    n = t.next(n);
    if (n == nullptr) n = t.first();
  } while (n != start);
  return Value::null();
}

// The keys that have not expired (Redis also counts expired keys it has not deleted yet).
Value cmd_ping(CommandContext& c) {
  if (c.argv.size() > 2) return arity_error(*find_command("ping"));
  return c.argv.size() == 2 ? Value::bulk(c.argv[1]) : Value::simple("PONG");
}

Value cmd_echo(CommandContext& c) { return Value::bulk(c.argv[1]); }

Value cmd_dbsize(CommandContext& c) {
  return Value::integer_of(static_cast<int64_t>(c.view.size() - c.view.count_expired(c.now_ms)));
}

// FLUSHDB / FLUSHALL [ASYNC | SYNC]: both mean the same here (one database, freed at once). No
// keyspace events (Redis sends none either); every history is forgotten.
Value cmd_flush(CommandContext& c) {
  if (c.argv.size() > 2) return syntax_error();
  if (c.argv.size() == 2 && !iequals(c.argv[1], "sync") && !iequals(c.argv[1], "async")) {
    return syntax_error();
  }
  c.ks().flush(c.revision);
  return Value::ok();
}

}  // namespace chorus::kv
