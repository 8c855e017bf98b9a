// The command table of the key-value state machine: every command kv::Store executes, with the
// metadata Redis publishes for it (arity, flags, key positions), so the server can validate a
// command before proposing or queueing it and answer COMMAND COUNT / INFO / DOCS from one place.
//
// Arity follows Redis: N means exactly N arguments counting the name, -N means at least N.
// Key positions are 1-based argv indexes: first_key..last_key stepping key_step (last_key -1 is
// the last argument); first_key 0 means the command takes no key.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/resp/value.h"

namespace chorus::kv {

// Stable identifiers, in the order of the table (alphabetical), then the internal commands.
enum class CommandId : uint8_t {
  kAppend,
  kCas,
  kDbsize,
  kDecr,
  kDecrby,
  kDel,
  kEcho,
  kExists,
  kExpire,
  kExpireat,
  kExpiretime,
  kFlushall,
  kFlushdb,
  kGet,
  kGetdel,
  kGetex,
  kGetrange,
  kGetrev,
  kGetset,
  kHistory,
  kIncr,
  kIncrby,
  kIncrbyfloat,
  kKeys,
  kMget,
  kMset,
  kMsetnx,
  kPersist,
  kPexpire,
  kPexpireat,
  kPexpiretime,
  kPing,
  kPsetex,
  kPttl,
  kRandomkey,
  kRename,
  kRenamenx,
  kScan,
  kSet,
  kSetex,
  kSetnx,
  kSetrange,
  kStrlen,
  kSubstr,
  kTouch,
  kTtl,
  kType,
  kUnlink,
  kChorusExpire,  // internal: active expiry, proposed by the leader only
};
inline constexpr size_t kCommandCount = static_cast<size_t>(CommandId::kChorusExpire) + 1;

// The internal active-expiry command (see Store::expired_keys()). Clients cannot send it:
// check() and find_command() treat it as unknown.
inline constexpr std::string_view kExpireCommandName = "__chorus_expire";

enum CommandFlag : uint32_t {
  kFlagWrite = 1 << 0,     // changes the state: goes through the log
  kFlagReadonly = 1 << 1,  // answered by Store::read()
  kFlagDenyOom = 1 << 2,   // may grow memory: refused when over maxmemory
  kFlagFast = 1 << 3,      // O(1) or O(log n)
  kFlagInternal = 1 << 4,  // proposed by the server itself, never by a client
};

struct CommandSpec {
  std::string_view name;  // lowercase, as COMMAND INFO reports it
  int arity;
  uint32_t flags;  // CommandFlag bits
  int first_key;
  int last_key;
  int key_step;
  std::string_view group;    // COMMAND DOCS group: "string", "generic", "server", "chorus"
  std::string_view since;    // first version with the command (Redis's, or chorus's for ours)
  std::string_view summary;  // one line, for COMMAND DOCS
  std::string_view syntax;   // the arguments after the name, for COMMAND DOCS and HELP
  CommandId id;
};

// The command named `name` (any case), or nullptr. Internal commands are not found.
const CommandSpec* find_command(std::string_view name);
// Every client-visible command, sorted by name (COMMAND COUNT is its size).
std::span<const CommandSpec> all_commands();
// Also finds internal commands: for the state machine, which applies what the log holds.
const CommandSpec* find_any_command(std::string_view name);

// The flag names COMMAND INFO lists ("write", "readonly", "denyoom", "fast").
std::vector<std::string_view> flag_names(uint32_t flags);
bool arity_ok(const CommandSpec& spec, size_t argc);
// The argv indexes of the keys of a command with `argc` arguments (arity already checked).
std::vector<size_t> key_positions(const CommandSpec& spec, size_t argc);

// Checks a command before it is proposed, read or queued in MULTI, as Redis does before it runs
// one: an unknown command gives "ERR unknown command 'x', with args beginning with: 'a' 'b' ",
// a wrong argument count "ERR wrong number of arguments for 'get' command". nullopt when fine.
std::optional<resp::Value> check(const std::vector<std::string>& argv);
// Whether the command changes the state (so goes through the log). False for unknown commands.
bool is_write(const std::vector<std::string>& argv);

// The two errors check() gives, for the state machine's own use.
resp::Value unknown_command_error(const std::vector<std::string>& argv);
resp::Value arity_error(const CommandSpec& spec);

}  // namespace chorus::kv
