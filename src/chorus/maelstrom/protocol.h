// Maelstrom's wire protocol (../shared/maelstrom-lin-kv.md, Maelstrom's doc/protocol.md): every
// message is one JSON object per line, {"src", "dest", "body": {"type", "msg_id", ...}}.
// Helpers to build replies and errors, and the error codes with their definiteness. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace chorus::maelstrom {

using Json = nlohmann::json;

// Maelstrom's error codes. Definite ones promise the operation did not happen (or, for 20/22,
// happened as a no-op); the others leave the outcome open.
enum class ErrorCode : int {
  kTimeout = 0,  // indefinite
  kNodeNotFound = 1,
  kNotSupported = 10,
  kTemporarilyUnavailable = 11,
  kMalformedRequest = 12,
  kCrash = 13,  // indefinite
  kAbort = 14,
  kKeyDoesNotExist = 20,
  kKeyAlreadyExists = 21,
  kPreconditionFailed = 22,
  kTxnConflict = 30,
};

// Codes 0, 13 and 1000 and up are indefinite: the client must assume it may have happened.
bool is_definite(int code);

// Parses one line; nullopt unless it is an object with string src/dest and an object body.
std::optional<Json> parse_message(std::string_view line);

// A message from `src` to `dest` with `body`.
Json make_message(std::string_view src, std::string_view dest, Json body);

// The reply to `request` (from its dest back to its src) with `body`; sets in_reply_to from the
// request's msg_id when it has one.
Json make_reply(const Json& request, Json body);

Json error_body(ErrorCode code, std::string_view text);

// Keys and values are arbitrary JSON in Maelstrom (small integers in lin-kv). The KV store holds
// their canonical JSON text, so equal JSON values are equal strings (what CAS compares).
std::string to_store_string(const Json& value);
// The JSON value back from a stored string; nullopt if it is not JSON (never written by us).
std::optional<Json> from_store_string(std::string_view text);

}  // namespace chorus::maelstrom
