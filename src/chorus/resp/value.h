// resp::Value: one RESP reply or request, in the RESP3 data model (RESP2 is a projection of it).
//
// The key-value state machine (kv/) answers with Values; the server encodes them for each client
// in the protocol it chose (RESP2 by default, RESP3 after HELLO 3). How each type looks in RESP2:
//   kNull -> $-1 (null bulk)     kNullArray -> *-1     kMap -> flat array k1 v1 k2 v2 ...
//   kSet, kPush -> array         kDouble -> bulk string      kBoolean -> integer 0/1
//   kVerbatim -> bulk string (without the "txt:" prefix)
// Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chorus::resp {

enum class Type : uint8_t {
  kSimpleString,  // +OK
  kError,         // -ERR message (str holds "ERR message": the code is the first word)
  kInteger,       // :1
  kBulkString,    // $3 foo
  kNull,          // RESP2 $-1, RESP3 _
  kNullArray,     // RESP2 *-1, RESP3 _
  kArray,         // *n
  kMap,           // RESP3 %n; elements alternate key, value (elements.size() is even)
  kSet,           // RESP3 ~n
  kDouble,        // RESP3 ,1.5 (text in `str`, Redis formatting)
  kBoolean,       // RESP3 #t / #f (in `integer`: 0 or 1)
  kVerbatim,      // RESP3 =n txt:... (`str` holds the text without the "txt:" prefix)
  kPush,          // RESP3 >n (pub/sub messages)
};

struct Value {
  Type type = Type::kNull;
  std::string str;              // kSimpleString, kError, kBulkString, kDouble, kVerbatim
  int64_t integer = 0;          // kInteger, kBoolean
  std::vector<Value> elements;  // kArray, kMap, kSet, kPush

  static Value simple(std::string s) { return {Type::kSimpleString, std::move(s), 0, {}}; }
  static Value ok() { return simple("OK"); }
  // `message` starts with the error code: "ERR syntax error", "WRONGTYPE Operation ...".
  static Value error(std::string message) { return {Type::kError, std::move(message), 0, {}}; }
  static Value integer_of(int64_t n) { return {Type::kInteger, {}, n, {}}; }
  static Value bulk(std::string s) { return {Type::kBulkString, std::move(s), 0, {}}; }
  static Value null() { return {}; }
  static Value null_array() { return {Type::kNullArray, {}, 0, {}}; }
  static Value array(std::vector<Value> v) { return {Type::kArray, {}, 0, std::move(v)}; }
  static Value map(std::vector<Value> kv) { return {Type::kMap, {}, 0, std::move(kv)}; }
  static Value set(std::vector<Value> v) { return {Type::kSet, {}, 0, std::move(v)}; }
  static Value dbl(std::string text) { return {Type::kDouble, std::move(text), 0, {}}; }
  static Value boolean(bool b) { return {Type::kBoolean, {}, b ? 1 : 0, {}}; }
  static Value verbatim(std::string text) { return {Type::kVerbatim, std::move(text), 0, {}}; }
  static Value push(std::vector<Value> v) { return {Type::kPush, {}, 0, std::move(v)}; }

  bool is_error() const { return type == Type::kError; }
  friend bool operator==(const Value&, const Value&) = default;
};

}  // namespace chorus::resp

namespace chorus::resp {
// How redis-cli shows a reply, one line per element ("(integer) 1", "\"foo\"", "(nil)",
// "(error) ERR ...", "1) ..." for arrays with nested indentation): for tests' golden files and
// the chorus CLI.
std::string to_display(const Value& v);
}  // namespace chorus::resp
