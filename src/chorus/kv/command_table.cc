#include "chorus/kv/command_table.h"

#include <algorithm>
#include <array>

#include "chorus/base/assert.h"

namespace chorus::kv {
namespace {

constexpr uint32_t kW = kFlagWrite;
constexpr uint32_t kR = kFlagReadonly;
constexpr uint32_t kM = kFlagDenyOom;
constexpr uint32_t kF = kFlagFast;

using Id = CommandId;

// Sorted by name (find_command binary-searches it); the ids follow the same order. Arity, flags
// and key positions are Redis 7's (src/commands/*.json), so clients that read COMMAND see the
// commands they know.
constexpr std::array<CommandSpec, kCommandCount - 1> kCommands = {{
    {"append", 3, kW | kM | kF, 1, 1, 1, "string", "2.0.0",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "key value",
     Id::kAppend},
    {"cas", 4, kW | kM | kF, 1, 1, 1, "chorus", "0.1.0",
     "Replaces the value of a key only if it equals an expected value.", "key expected new",
     Id::kCas},
    {"dbsize", 1, kR | kF, 0, 0, 0, "server", "1.0.0",
     "Returns the number of keys in the database.", "", Id::kDbsize},
    {"decr", 2, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "key", Id::kDecr},
    {"decrby", 3, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "key decrement", Id::kDecrby},
    {"del", -2, kW, 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys.", "key [key ...]",
     Id::kDel},
    // PING and ECHO run here only inside MULTI/EXEC (Redis queues them); a session answers them
    // itself otherwise.
    {"echo", 2, kR | kF, 0, 0, 0, "connection", "1.0.0", "Returns the given string.", "message",
     Id::kEcho},
    {"exists", -2, kR | kF, 1, -1, 1, "generic", "1.0.0",
     "Determines whether one or more keys exist.", "key [key ...]", Id::kExists},
    {"expire", -3, kW | kF, 1, 1, 1, "generic", "1.0.0",
     "Sets the expiration time of a key in seconds.", "key seconds [NX | XX | GT | LT]",
     Id::kExpire},
    {"expireat", -3, kW | kF, 1, 1, 1, "generic", "1.2.0",
     "Sets the expiration time of a key to a Unix timestamp.",
     "key unix-time-seconds [NX | XX | GT | LT]", Id::kExpireat},
    {"expiretime", 2, kR | kF, 1, 1, 1, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix timestamp.", "key", Id::kExpiretime},
    {"flushall", -1, kW, 0, 0, 0, "server", "1.0.0", "Removes all keys from all databases.",
     "[ASYNC | SYNC]", Id::kFlushall},
    {"flushdb", -1, kW, 0, 0, 0, "server", "1.0.0", "Remove all keys from the current database.",
     "[ASYNC | SYNC]", Id::kFlushdb},
    {"get", 2, kR | kF, 1, 1, 1, "string", "1.0.0", "Returns the string value of a key.", "key",
     Id::kGet},
    {"getdel", 2, kW | kF, 1, 1, 1, "string", "6.2.0",
     "Returns the string value of a key after deleting the key.", "key", Id::kGetdel},
    {"getex", -2, kW | kF, 1, 1, 1, "string", "6.2.0",
     "Returns the string value of a key after setting its expiration time.",
     "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | "
     "PERSIST]",
     Id::kGetex},
    {"getrange", 4, kR, 1, 1, 1, "string", "2.4.0",
     "Returns a substring of the string stored at a key.", "key start end", Id::kGetrange},
    {"getrev", 3, kR, 1, 1, 1, "chorus", "0.1.0",
     "Returns the value of a key as of a revision (log index).", "key revision", Id::kGetrev},
    {"getset", 3, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Returns the previous string value of a key after setting it to a new value.", "key value",
     Id::kGetset},
    {"history", -2, kR, 1, 1, 1, "chorus", "0.1.0",
     "Returns the recent changes of a key, newest first: revision, event, value.",
     "key [COUNT count]", Id::kHistory},
    {"incr", 2, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "key", Id::kIncr},
    {"incrby", 3, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "key increment", Id::kIncrby},
    {"incrbyfloat", 3, kW | kM | kF, 1, 1, 1, "string", "2.6.0",
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "key increment", Id::kIncrbyfloat},
    {"keys", 2, kR, 0, 0, 0, "generic", "1.0.0", "Returns all key names that match a pattern.",
     "pattern", Id::kKeys},
    {"mget", -2, kR | kF, 1, -1, 1, "string", "1.0.0",
     "Atomically returns the string values of one or more keys.", "key [key ...]", Id::kMget},
    {"mset", -3, kW | kM, 1, -1, 2, "string", "1.0.1",
     "Atomically creates or modifies the string values of one or more keys.",
     "key value [key value ...]", Id::kMset},
    {"msetnx", -3, kW | kM, 1, -1, 2, "string", "1.0.1",
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "key value [key value ...]", Id::kMsetnx},
    {"persist", 2, kW | kF, 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key.",
     "key", Id::kPersist},
    {"pexpire", -3, kW | kF, 1, 1, 1, "generic", "2.6.0",
     "Sets the expiration time of a key in milliseconds.", "key milliseconds [NX | XX | GT | LT]",
     Id::kPexpire},
    {"pexpireat", -3, kW | kF, 1, 1, 1, "generic", "2.6.0",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.",
     "key unix-time-milliseconds [NX | XX | GT | LT]", Id::kPexpireat},
    {"pexpiretime", 2, kR | kF, 1, 1, 1, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix milliseconds timestamp.", "key",
     Id::kPexpiretime},
    {"ping", -1, kR | kF, 0, 0, 0, "connection", "1.0.0",
     "Returns the server's liveliness response.", "[message]", Id::kPing},
    {"psetex", 4, kW | kM, 1, 1, 1, "string", "2.6.0",
     "Sets both string value and expiration time in milliseconds of a key. The key is created if "
     "it doesn't exist.",
     "key milliseconds value", Id::kPsetex},
    {"pttl", 2, kR | kF, 1, 1, 1, "generic", "2.6.0",
     "Returns the expiration time in milliseconds of a key.", "key", Id::kPttl},
    {"randomkey", 1, kR, 0, 0, 0, "generic", "1.0.0",
     "Returns a random key name from the database.", "", Id::kRandomkey},
    {"rename", 3, kW, 1, 2, 1, "generic", "1.0.0", "Renames a key and overwrites the destination.",
     "key newkey", Id::kRename},
    {"renamenx", 3, kW | kF, 1, 2, 1, "generic", "1.0.0",
     "Renames a key only when the target key name doesn't exist.", "key newkey", Id::kRenamenx},
    {"scan", -2, kR, 0, 0, 0, "generic", "2.8.0", "Iterates over the key names in the database.",
     "cursor [MATCH pattern] [COUNT count] [TYPE type]", Id::kScan},
    {"set", -3, kW | kM, 1, 1, 1, "string", "1.0.0",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT "
     "unix-time-milliseconds | KEEPTTL]",
     Id::kSet},
    {"setex", 4, kW | kM, 1, 1, 1, "string", "2.0.0",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "key seconds value", Id::kSetex},
    {"setnx", 3, kW | kM | kF, 1, 1, 1, "string", "1.0.0",
     "Set the string value of a key only when the key doesn't exist.", "key value", Id::kSetnx},
    {"setrange", 4, kW | kM, 1, 1, 1, "string", "2.2.0",
     "Overwrites a part of a string value with another by an offset. Creates the key if it "
     "doesn't exist.",
     "key offset value", Id::kSetrange},
    {"strlen", 2, kR | kF, 1, 1, 1, "string", "2.2.0", "Returns the length of a string value.",
     "key", Id::kStrlen},
    {"substr", 4, kR, 1, 1, 1, "string", "1.0.0", "Returns a substring from a string value.",
     "key start end", Id::kSubstr},
    {"touch", -2, kR | kF, 1, -1, 1, "generic", "3.2.1",
     "Returns the number of existing keys out of those specified.", "key [key ...]", Id::kTouch},
    {"ttl", 2, kR | kF, 1, 1, 1, "generic", "1.0.0",
     "Returns the expiration time in seconds of a key.", "key", Id::kTtl},
    {"type", 2, kR | kF, 1, 1, 1, "generic", "1.0.0",
     "Determines the type of value stored at a key.", "key", Id::kType},
    {"unlink", -2, kW | kF, 1, -1, 1, "generic", "4.0.0",
     "Asynchronously deletes one or more keys.", "key [key ...]", Id::kUnlink},
}};

constexpr CommandSpec kChorusExpire = {
    kExpireCommandName,
    -2,
    kW | kFlagInternal,
    1,
    -1,
    1,
    "chorus",
    "0.1.0",
    "Internal: deletes each key that has expired (active expiry, proposed by the leader).",
    "key [key ...]",
    Id::kChorusExpire};

constexpr bool table_is_consistent() {
  for (size_t i = 0; i < kCommands.size(); ++i) {
    if (static_cast<size_t>(kCommands[i].id) != i) return false;
    if (i > 0 && !(kCommands[i - 1].name < kCommands[i].name)) return false;
  }
  return true;
}
static_assert(table_is_consistent(), "kCommands must be sorted by name, in CommandId order");

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive three-way compare of `name` with a lowercase table name.
int compare_name(std::string_view name, std::string_view table_name) {
  const size_t n = std::min(name.size(), table_name.size());
  for (size_t i = 0; i < n; ++i) {
    const char a = lower(name[i]);
    if (a != table_name[i])
      return static_cast<unsigned char>(a) < static_cast<unsigned char>(table_name[i]) ? -1 : 1;
  }
  if (name.size() == table_name.size()) return 0;
  return name.size() < table_name.size() ? -1 : 1;
}

// Redis formats user bytes into the error with printf("%.*s"): each argument is cut at its first
// NUL byte and to the space left in a 128-byte budget; CR and LF become spaces so the reply stays
// one protocol line (server.c, commandCheckExistence).
std::string c_string_prefix(std::string_view s, size_t max) {
  const size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  return std::string(s.substr(0, std::min(max, s.size())));
}

}  // namespace

const CommandSpec* find_command(std::string_view name) {
  size_t lo = 0;
  size_t hi = kCommands.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int c = compare_name(name, kCommands[mid].name);
    if (c == 0) return &kCommands[mid];
    if (c < 0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return nullptr;
}

std::span<const CommandSpec> all_commands() { return kCommands; }

const CommandSpec* find_any_command(std::string_view name) {
  if (const CommandSpec* spec = find_command(name)) return spec;
  return compare_name(name, kChorusExpire.name) == 0 ? &kChorusExpire : nullptr;
}

std::vector<std::string_view> flag_names(uint32_t flags) {
  std::vector<std::string_view> out;
  if (flags & kFlagWrite) out.push_back("write");
  if (flags & kFlagReadonly) out.push_back("readonly");
  if (flags & kFlagDenyOom) out.push_back("denyoom");
  if (flags & kFlagFast) out.push_back("fast");
  return out;
}

bool arity_ok(const CommandSpec& spec, size_t argc) {
  if (spec.arity >= 0) return argc == static_cast<size_t>(spec.arity);
  return argc >= static_cast<size_t>(-spec.arity);
}

std::vector<size_t> key_positions(const CommandSpec& spec, size_t argc) {
  std::vector<size_t> out;
  if (spec.first_key <= 0 || argc == 0) return out;
  const size_t last = spec.last_key < 0 ? argc - 1 : static_cast<size_t>(spec.last_key);
  for (size_t i = static_cast<size_t>(spec.first_key); i <= last && i < argc;
       i += static_cast<size_t>(spec.key_step)) {
    out.push_back(i);
  }
  return out;
}

resp::Value unknown_command_error(const std::vector<std::string>& argv) {
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    args += "'" + c_string_prefix(argv[i], 128 - args.size()) + "' ";
  }
  std::string msg = "ERR unknown command '" +
                    c_string_prefix(argv.empty() ? std::string_view() : argv[0], 128) +
                    "', with args beginning with: " + args;
  std::replace_if(
      msg.begin(), msg.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return resp::Value::error(std::move(msg));
}

resp::Value arity_error(const CommandSpec& spec) {
  return resp::Value::error("ERR wrong number of arguments for '" + std::string(spec.name) +
                            "' command");
}

std::optional<resp::Value> check(const std::vector<std::string>& argv) {
  const CommandSpec* spec = argv.empty() ? nullptr : find_command(argv[0]);
  if (spec == nullptr) return unknown_command_error(argv);
  if (!arity_ok(*spec, argv.size())) return arity_error(*spec);
  return std::nullopt;
}

bool is_write(const std::vector<std::string>& argv) {
  const CommandSpec* spec = argv.empty() ? nullptr : find_command(argv[0]);
  return spec != nullptr && (spec->flags & kFlagWrite) != 0;
}

}  // namespace chorus::kv
