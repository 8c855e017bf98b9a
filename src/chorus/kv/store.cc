#include "chorus/kv/store.h"

#include <algorithm>
#include <array>

#include "chorus/base/assert.h"
#include "chorus/kv/commands.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using Id = CommandId;

// Indexed by CommandId.
constexpr std::array<Handler, kCommandCount> kHandlers = [] {
  std::array<Handler, kCommandCount> h{};
  auto set = [&h](Id id, Handler f) { h[static_cast<size_t>(id)] = f; };
  set(Id::kAppend, cmd_append);
  set(Id::kCas, cmd_cas);
  set(Id::kDbsize, cmd_dbsize);
  set(Id::kDecr, cmd_decr);
  set(Id::kDecrby, cmd_decrby);
  set(Id::kDel, cmd_del);
  set(Id::kEcho, cmd_echo);
  set(Id::kExists, cmd_exists);
  set(Id::kExpire, cmd_expire);
  set(Id::kExpireat, cmd_expireat);
  set(Id::kExpiretime, cmd_expiretime);
  set(Id::kFlushall, cmd_flush);
  set(Id::kFlushdb, cmd_flush);
  set(Id::kGet, cmd_get);
  set(Id::kGetdel, cmd_getdel);
  set(Id::kGetex, cmd_getex);
  set(Id::kGetrange, cmd_getrange);
  set(Id::kGetrev, cmd_getrev);
  set(Id::kGetset, cmd_getset);
  set(Id::kHistory, cmd_history);
  set(Id::kIncr, cmd_incr);
  set(Id::kIncrby, cmd_incrby);
  set(Id::kIncrbyfloat, cmd_incrbyfloat);
  set(Id::kKeys, cmd_keys);
  set(Id::kMget, cmd_mget);
  set(Id::kMset, cmd_mset);
  set(Id::kMsetnx, cmd_msetnx);
  set(Id::kPersist, cmd_persist);
  set(Id::kPexpire, cmd_pexpire);
  set(Id::kPexpireat, cmd_pexpireat);
  set(Id::kPexpiretime, cmd_pexpiretime);
  set(Id::kPing, cmd_ping);
  set(Id::kPsetex, cmd_psetex);
  set(Id::kPttl, cmd_pttl);
  set(Id::kRandomkey, cmd_randomkey);
  set(Id::kRename, cmd_rename);
  set(Id::kRenamenx, cmd_renamenx);
  set(Id::kScan, cmd_scan);
  set(Id::kSet, cmd_set);
  set(Id::kSetex, cmd_setex);
  set(Id::kSetnx, cmd_setnx);
  set(Id::kSetrange, cmd_setrange);
  set(Id::kStrlen, cmd_strlen);
  set(Id::kSubstr, cmd_getrange);
  set(Id::kTouch, cmd_exists);
  set(Id::kTtl, cmd_ttl);
  set(Id::kType, cmd_type);
  set(Id::kUnlink, cmd_del);
  set(Id::kChorusExpire, cmd_chorus_expire);
  return h;
}();

}  // namespace

// ---- CommandContext and shared replies ----

Keyspace& CommandContext::ks() const {
  CHORUS_ASSERT(write != nullptr, "command '", spec.name, "' changes state outside apply()");
  return *write;
}

void CommandContext::emit(std::string_view event, std::string_view key) const {
  CHORUS_ASSERT(events != nullptr);
  events->push_back(Event{std::string(event), std::string(key)});
}

resp::Value syntax_error() { return resp::Value::error("ERR syntax error"); }
resp::Value not_integer_error() {
  return resp::Value::error("ERR value is not an integer or out of range");
}
resp::Value not_float_error() { return resp::Value::error("ERR value is not a valid float"); }
resp::Value no_such_key_error() { return resp::Value::error("ERR no such key"); }
resp::Value invalid_expire_error(const CommandContext& c) {
  return resp::Value::error("ERR invalid expire time in '" + std::string(c.spec.name) +
                            "' command");
}
resp::Value string_too_long_error() {
  return resp::Value::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

std::optional<int64_t> int_arg(std::string_view s, resp::Value* error) {
  std::optional<int64_t> v = parse_int64(s);
  if (!v) *error = not_integer_error();
  return v;
}

// ---- Store ----

Store::Store(StoreOptions options) : ks_(std::make_unique<Keyspace>(options)) {
  // (Not a static_assert: comparing function pointers is not a constant expression under UBSan.)
  for (Handler h : kHandlers) CHORUS_ASSERT(h != nullptr, "a command without a handler");
}

Store::~Store() = default;

const StoreOptions& Store::options() const { return ks_->options(); }

resp::Value Store::apply(const Proposal& proposal, uint64_t revision, std::vector<Event>& events) {
  CHORUS_ASSERT(revision > last_revision_, "revisions must increase: ", revision, " after ",
                last_revision_);
  last_revision_ = revision;
  now_ms_ = std::max(now_ms_, proposal.now_ms);
  if (!proposal.exec) {
    // Entries come from the log: a malformed one is answered, never trusted.
    if (proposal.commands.size() != 1 || !proposal.watches.empty()) {
      return resp::Value::error("ERR malformed proposal: expected exactly one command");
    }
    return execute(proposal.commands.front(), events);
  }
  bool watched_key_changed = false;
  for (const auto& [key, seen] : proposal.watches) {
    // A watched key that expired since WATCH is a change (Redis 7 aborts EXEC too). Expiring it
    // here gives it this revision, so the comparison below catches it.
    if (Node* n = ks_->find(key); n != nullptr && Keyspace::is_expired(*n, now_ms_)) {
      ks_->erase(*n, revision, Change::kExpired);
      events.push_back(Event{"expired", key});
    }
    if (ks_->key_revision(key) != seen) watched_key_changed = true;
  }
  if (watched_key_changed) return resp::Value::null_array();
  std::vector<resp::Value> replies;
  replies.reserve(proposal.commands.size());
  for (const auto& argv : proposal.commands) replies.push_back(execute(argv, events));
  return resp::Value::array(std::move(replies));
}

resp::Value Store::execute(const std::vector<std::string>& argv, std::vector<Event>& events) {
  const CommandSpec* spec = argv.empty() ? nullptr : find_any_command(argv[0]);
  if (spec == nullptr) return unknown_command_error(argv);
  if (!arity_ok(*spec, argv.size())) return arity_error(*spec);
  // MSET's pairs: Redis checks them in the command, but with its arity error; checked here, an
  // entry with a wrong argument count changes nothing (not even a lazy expiry).
  if ((spec->id == CommandId::kMset || spec->id == CommandId::kMsetnx) && argv.size() % 2 == 0) {
    return arity_error(*spec);
  }
  // Lazy expiry: every key the command names is deleted first if its time has come ("expired"),
  // so commands only ever see live keys. Redis expires a key when the command looks it up, so a
  // command refused for its options leaves it; here it is gone either way, which nobody can tell
  // apart: the key was absent already. The internal expire command decides for itself.
  if (spec->id != CommandId::kChorusExpire && spec->first_key > 0) {
    const size_t last = spec->last_key < 0 ? argv.size() - 1 : static_cast<size_t>(spec->last_key);
    for (size_t i = static_cast<size_t>(spec->first_key); i <= last && i < argv.size();
         i += static_cast<size_t>(spec->key_step)) {
      if (Node* n = ks_->find(argv[i]); n != nullptr && Keyspace::is_expired(*n, now_ms_)) {
        ks_->erase(*n, last_revision_, Change::kExpired);
        events.push_back(Event{"expired", argv[i]});
      }
    }
  }
  CommandContext c{argv, *spec, *ks_, ks_.get(), now_ms_, last_revision_, &events};
  return kHandlers[static_cast<size_t>(spec->id)](c);
}

resp::Value Store::read(const std::vector<std::string>& argv, int64_t now_ms) const {
  const CommandSpec* spec = argv.empty() ? nullptr : find_command(argv[0]);
  if (spec == nullptr) return unknown_command_error(argv);
  if (!arity_ok(*spec, argv.size())) return arity_error(*spec);
  if ((spec->flags & kFlagWrite) != 0) {
    return resp::Value::error("ERR '" + std::string(spec->name) +
                              "' changes the state: it must be proposed, not read");
  }
  CommandContext c{argv, *spec, *ks_, nullptr, std::max(now_ms, now_ms_), last_revision_, nullptr};
  return kHandlers[static_cast<size_t>(spec->id)](c);
}

uint64_t Store::key_revision(std::string_view key) const { return ks_->key_revision(key); }

std::vector<std::string> Store::expired_keys(int64_t now_ms, size_t limit) const {
  return ks_->expired_keys(now_ms, limit);
}

size_t Store::size() const { return ks_->size(); }

uint64_t Store::memory_bytes() const { return ks_->memory_bytes() + sizeof(Store); }

void Store::check_invariants() const {
  CHORUS_ASSERT(now_ms_ >= 0);
  ks_->check_invariants(last_revision_);
}

}  // namespace chorus::kv
