// Internal to kv/: what a command implementation sees, and the implementations (cmd_*.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/kv/command_table.h"
#include "chorus/kv/keyspace.h"
#include "chorus/kv/store.h"
#include "chorus/resp/value.h"

namespace chorus::kv {

// One command's execution. In Store::apply() `write` is the keyspace and every key argument that
// had expired is already deleted; in Store::read() `write` is null and only `view` is used.
struct CommandContext {
  const std::vector<std::string>& argv;
  const CommandSpec& spec;
  const Keyspace& view;
  Keyspace* write;
  int64_t now_ms;
  uint64_t revision;           // of the entry being applied; in reads, the last applied one
  std::vector<Event>* events;  // null in reads

  // The key if it exists and has not expired.
  const Node* get(std::string_view key) const { return view.find_live(key, now_ms); }
  // Writers only.
  Keyspace& ks() const;
  Node* get_mut(std::string_view key) const { return ks().find_live(key, now_ms); }
  void emit(std::string_view event, std::string_view key) const;
};

using Handler = resp::Value (*)(CommandContext&);

// The 512 MB limit on a string value (Redis's proto-max-bulk-len default).
inline constexpr uint64_t kMaxStringBytes = 512ull * 1024 * 1024;

// Redis's shared error replies.
resp::Value syntax_error();
resp::Value not_integer_error();
resp::Value not_float_error();
resp::Value no_such_key_error();
resp::Value invalid_expire_error(const CommandContext& c);  // names the command
resp::Value string_too_long_error();

// An integer argument, or nullopt after setting *error to Redis's reply.
std::optional<int64_t> int_arg(std::string_view s, resp::Value* error);

// The handlers, one per command (see the command table for what each does).
resp::Value cmd_get(CommandContext& c);
resp::Value cmd_set(CommandContext& c);
resp::Value cmd_setnx(CommandContext& c);
resp::Value cmd_setex(CommandContext& c);
resp::Value cmd_psetex(CommandContext& c);
resp::Value cmd_getset(CommandContext& c);
resp::Value cmd_getdel(CommandContext& c);
resp::Value cmd_getex(CommandContext& c);
resp::Value cmd_mget(CommandContext& c);
resp::Value cmd_mset(CommandContext& c);
resp::Value cmd_msetnx(CommandContext& c);
resp::Value cmd_cas(CommandContext& c);
resp::Value cmd_append(CommandContext& c);
resp::Value cmd_strlen(CommandContext& c);
resp::Value cmd_getrange(CommandContext& c);
resp::Value cmd_setrange(CommandContext& c);
resp::Value cmd_incr(CommandContext& c);
resp::Value cmd_decr(CommandContext& c);
resp::Value cmd_incrby(CommandContext& c);
resp::Value cmd_decrby(CommandContext& c);
resp::Value cmd_incrbyfloat(CommandContext& c);

resp::Value cmd_del(CommandContext& c);     // also UNLINK
resp::Value cmd_exists(CommandContext& c);  // also TOUCH
resp::Value cmd_type(CommandContext& c);
resp::Value cmd_keys(CommandContext& c);
resp::Value cmd_scan(CommandContext& c);
resp::Value cmd_rename(CommandContext& c);
resp::Value cmd_renamenx(CommandContext& c);
resp::Value cmd_randomkey(CommandContext& c);
resp::Value cmd_dbsize(CommandContext& c);
resp::Value cmd_ping(CommandContext& c);
resp::Value cmd_echo(CommandContext& c);
resp::Value cmd_flush(CommandContext& c);  // FLUSHDB and FLUSHALL (one database)

resp::Value cmd_expire(CommandContext& c);
resp::Value cmd_pexpire(CommandContext& c);
resp::Value cmd_expireat(CommandContext& c);
resp::Value cmd_pexpireat(CommandContext& c);
resp::Value cmd_ttl(CommandContext& c);
resp::Value cmd_pttl(CommandContext& c);
resp::Value cmd_expiretime(CommandContext& c);
resp::Value cmd_pexpiretime(CommandContext& c);
resp::Value cmd_persist(CommandContext& c);
resp::Value cmd_chorus_expire(CommandContext& c);

resp::Value cmd_history(CommandContext& c);
resp::Value cmd_getrev(CommandContext& c);

}  // namespace chorus::kv
