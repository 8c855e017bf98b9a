// String commands that read or change part of a value: APPEND STRLEN GETRANGE SETRANGE and the
// counters INCR DECR INCRBY DECRBY INCRBYFLOAT (Redis t_string.c semantics). Changing part of a
// value keeps the key's expiry.
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "chorus/kv/commands.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using resp::Value;
using Ttl = Keyspace::Ttl;

Value incr_by(CommandContext& c, int64_t incr) {
  const std::string& key = c.argv[1];
  const Node* n = c.get(key);
  int64_t value = 0;
  if (n != nullptr) {
    std::optional<int64_t> v = parse_int64(n->value);
    if (!v) return not_integer_error();
    value = *v;
  }
  if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
      (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
    return Value::error("ERR increment or decrement would overflow");
  }
  value += incr;
  c.ks().write(key, std::to_string(value), c.revision, Change::kIncrby, Ttl::kKeep);
  c.emit("incrby", key);
  return Value::integer_of(value);
}

}  // namespace

Value cmd_append(CommandContext& c) {
  const std::string& key = c.argv[1];
  const std::string& tail = c.argv[2];
  Node* n = c.get_mut(key);
  if (n == nullptr) {
    c.ks().write(key, tail, c.revision, Change::kAppend, Ttl::kClear);
  } else {
    if (n->value.size() + tail.size() > kMaxStringBytes) return string_too_long_error();
    c.ks().edit(*n, c.revision, Change::kAppend, [&](std::string& v) { v.append(tail); });
  }
  c.emit("append", key);
  return Value::integer_of(static_cast<int64_t>(c.get(key)->value.size()));
}

Value cmd_strlen(CommandContext& c) {
  const Node* n = c.get(c.argv[1]);
  return Value::integer_of(n ? static_cast<int64_t>(n->value.size()) : 0);
}

// GETRANGE key start end (and SUBSTR): inclusive, negative indexes count from the end.
Value cmd_getrange(CommandContext& c) {
  Value error;
  std::optional<int64_t> start = int_arg(c.argv[2], &error);
  if (!start) return error;
  std::optional<int64_t> end = int_arg(c.argv[3], &error);
  if (!end) return error;
  const Node* n = c.get(c.argv[1]);
  if (n == nullptr) return Value::bulk("");
  const auto len = static_cast<int64_t>(n->value.size());
  int64_t s = *start;
  int64_t e = *end;
  if ((s < 0 && e < 0 && s > e) || len == 0) return Value::bulk("");
  if (s < 0) s += len;
  if (e < 0) e += len;
  if (s < 0) s = 0;
  if (e < 0) e = 0;
  if (e >= len) e = len - 1;
  if (s > e) return Value::bulk("");
  return Value::bulk(n->value.substr(static_cast<size_t>(s), static_cast<size_t>(e - s + 1)));
}

// SETRANGE key offset value: zero-pads up to offset. An empty value changes nothing (and does not
// create the key).
Value cmd_setrange(CommandContext& c) {
  Value error;
  std::optional<int64_t> offset = int_arg(c.argv[2], &error);
  if (!offset) return error;
  if (*offset < 0) return Value::error("ERR offset is out of range");
  const std::string& key = c.argv[1];
  const std::string& patch = c.argv[3];
  Node* n = c.get_mut(key);
  if (patch.empty()) return Value::integer_of(n ? static_cast<int64_t>(n->value.size()) : 0);
  const auto at = static_cast<uint64_t>(*offset);
  if (at > kMaxStringBytes || at + patch.size() > kMaxStringBytes) return string_too_long_error();
  auto splice = [&](std::string& v) {
    if (v.size() < at + patch.size()) v.resize(at + patch.size(), '\0');
    std::memcpy(v.data() + at, patch.data(), patch.size());
  };
  if (n == nullptr) {
    std::string v;
    splice(v);
    c.ks().write(key, std::move(v), c.revision, Change::kSetrange, Ttl::kClear);
  } else {
    c.ks().edit(*n, c.revision, Change::kSetrange, splice);
  }
  c.emit("setrange", key);
  return Value::integer_of(static_cast<int64_t>(c.get(key)->value.size()));
}

Value cmd_incr(CommandContext& c) { return incr_by(c, 1); }
Value cmd_decr(CommandContext& c) { return incr_by(c, -1); }

Value cmd_incrby(CommandContext& c) {
  Value error;
  std::optional<int64_t> incr = int_arg(c.argv[2], &error);
  return incr ? incr_by(c, *incr) : error;
}

Value cmd_decrby(CommandContext& c) {
  Value error;
  std::optional<int64_t> decr = int_arg(c.argv[2], &error);
  if (!decr) return error;
  if (*decr == INT64_MIN) return Value::error("ERR decrement would overflow");
  return incr_by(c, -*decr);
}

// The sum is computed in long double and printed like Redis ("10.5" + "0.1" gives "10.6").
Value cmd_incrbyfloat(CommandContext& c) {
  const std::string& key = c.argv[1];
  const Node* n = c.get(key);
  long double value = 0;
  if (n != nullptr) {
    std::optional<long double> v = parse_long_double(n->value);
    if (!v) return not_float_error();
    value = *v;
  }
  std::optional<long double> incr = parse_long_double(c.argv[2]);
  if (!incr) return not_float_error();
  value += *incr;
  if (std::isnan(value) || std::isinf(value)) {
    return Value::error("ERR increment would produce NaN or Infinity");
  }
  std::string text = format_long_double(value);
  c.ks().write(key, text, c.revision, Change::kIncrbyfloat, Ttl::kKeep);
  c.emit("incrbyfloat", key);
  return Value::bulk(std::move(text));
}

}  // namespace chorus::kv
