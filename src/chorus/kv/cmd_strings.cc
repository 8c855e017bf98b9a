// String commands that set or get whole values: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX
// MGET MSET MSETNX CAS (Redis t_string.c semantics).
#include <optional>

#include "chorus/kv/commands.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using resp::Value;
using Ttl = Keyspace::Ttl;

// The options of SET and GETEX (Redis's parseExtendedStringArgumentsOrReply).
enum ExtFlag : unsigned {
  kNx = 1 << 0,
  kXx = 1 << 1,
  kEx = 1 << 2,
  kPx = 1 << 3,
  kKeepTtl = 1 << 4,
  kGet = 1 << 5,
  kExAt = 1 << 6,
  kPxAt = 1 << 7,
  kPersist = 1 << 8,
};
constexpr unsigned kAnyExpiry = kEx | kPx | kExAt | kPxAt;

struct ExtArgs {
  unsigned flags = 0;
  std::optional<std::string_view> expire;  // the argument of EX/PX/EXAT/PXAT
};

// Options start at argv[first]. SET takes NX XX GET KEEPTTL, GETEX takes PERSIST; both take one of
// EX PX EXAT PXAT. Conflicting options, an unknown one or a missing value: false (syntax error).
// Repeating an option is allowed, the last value wins (as in Redis).
bool parse_ext(const std::vector<std::string>& argv, size_t first, bool is_set, ExtArgs* out) {
  unsigned& f = out->flags;
  for (size_t j = first; j < argv.size(); ++j) {
    const std::string& opt = argv[j];
    const bool has_next = j + 1 < argv.size();
    auto take_expiry = [&](unsigned flag) {
      f |= flag;
      out->expire = argv[++j];
    };
    if (is_set && iequals(opt, "nx") && !(f & kXx)) {
      f |= kNx;
    } else if (is_set && iequals(opt, "xx") && !(f & kNx)) {
      f |= kXx;
    } else if (is_set && iequals(opt, "get")) {
      f |= kGet;
    } else if (is_set && iequals(opt, "keepttl") && !(f & (kPersist | kAnyExpiry))) {
      f |= kKeepTtl;
    } else if (!is_set && iequals(opt, "persist") && !(f & (kAnyExpiry | kKeepTtl))) {
      f |= kPersist;
    } else if (iequals(opt, "ex") && has_next &&
               !(f & (kKeepTtl | kPersist | (kAnyExpiry & ~kEx)))) {
      take_expiry(kEx);
    } else if (iequals(opt, "px") && has_next &&
               !(f & (kKeepTtl | kPersist | (kAnyExpiry & ~kPx)))) {
      take_expiry(kPx);
    } else if (iequals(opt, "exat") && has_next &&
               !(f & (kKeepTtl | kPersist | (kAnyExpiry & ~kExAt)))) {
      take_expiry(kExAt);
    } else if (iequals(opt, "pxat") && has_next &&
               !(f & (kKeepTtl | kPersist | (kAnyExpiry & ~kPxAt)))) {
      take_expiry(kPxAt);
    } else {
      return false;
    }
  }
  return true;
}

// The absolute expiry time of an EX/PX/EXAT/PXAT-style argument (Redis's
// getExpireMillisecondsOrReply): it must be a positive integer, and must not overflow once
// converted to milliseconds and made absolute.
std::optional<int64_t> expire_time(const CommandContext& c, std::string_view arg, bool seconds,
                                   bool relative, Value* error) {
  std::optional<int64_t> v = int_arg(arg, error);
  if (!v) return std::nullopt;
  int64_t ms = *v;
  if (ms <= 0 || (seconds && ms > INT64_MAX / 1000)) {
    *error = invalid_expire_error(c);
    return std::nullopt;
  }
  if (seconds) ms *= 1000;
  if (relative) {
    if (ms > INT64_MAX - c.now_ms) {
      *error = invalid_expire_error(c);
      return std::nullopt;
    }
    ms += c.now_ms;
  }
  return ms;
}

std::optional<int64_t> ext_expire_time(const CommandContext& c, const ExtArgs& a, Value* error) {
  return expire_time(c, *a.expire, (a.flags & (kEx | kExAt)) != 0, (a.flags & (kEx | kPx)) != 0,
                     error);
}

Value bulk_or_nil(const Node* n) { return n ? Value::bulk(n->value) : Value::null(); }

// Sets key = value with an expiry (SETEX, PSETEX, SET ... EX): "set" then "expire"; an absolute
// time already past deletes the key at once ("expired"), as a later lookup would.
void set_with_expiry(CommandContext& c, const std::string& key, const std::string& value,
                     int64_t expire_at) {
  Node& n = c.ks().write(key, value, c.revision, Change::kSet, Ttl::kSet, expire_at);
  c.emit("set", key);
  c.emit("expire", key);
  if (expire_at <= c.now_ms) {
    c.ks().erase(n, c.revision, Change::kExpired);
    c.emit("expired", key);
  }
}

Value setex_generic(CommandContext& c, bool seconds) {
  Value error;
  std::optional<int64_t> at = expire_time(c, c.argv[2], seconds, /*relative=*/true, &error);
  if (!at) return error;
  set_with_expiry(c, c.argv[1], c.argv[3], *at);
  return Value::ok();
}

Value mset_generic(CommandContext& c, bool nx) {
  if (c.argv.size() % 2 == 0) return arity_error(c.spec);
  if (nx) {
    for (size_t j = 1; j < c.argv.size(); j += 2) {
      if (c.get(c.argv[j]) != nullptr) return Value::integer_of(0);
    }
  }
  for (size_t j = 1; j < c.argv.size(); j += 2) {
    c.ks().write(c.argv[j], c.argv[j + 1], c.revision, Change::kSet, Ttl::kClear);
    c.emit("set", c.argv[j]);
  }
  return nx ? Value::integer_of(1) : Value::ok();
}

}  // namespace

Value cmd_get(CommandContext& c) { return bulk_or_nil(c.get(c.argv[1])); }

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
Value cmd_set(CommandContext& c) {
  ExtArgs a;
  if (!parse_ext(c.argv, 3, /*is_set=*/true, &a)) return syntax_error();
  Value error;
  std::optional<int64_t> at;
  if (a.expire) {
    at = ext_expire_time(c, a, &error);
    if (!at) return error;
  }
  const std::string& key = c.argv[1];
  const Node* old = c.get(key);
  const bool get = (a.flags & kGet) != 0;
  Value reply = get ? bulk_or_nil(old) : Value::ok();
  if (((a.flags & kNx) && old != nullptr) || ((a.flags & kXx) && old == nullptr)) {
    return get ? reply : Value::null();
  }
  if (at) {
    set_with_expiry(c, key, c.argv[2], *at);
  } else {
    c.ks().write(key, c.argv[2], c.revision, Change::kSet,
                 (a.flags & kKeepTtl) ? Ttl::kKeep : Ttl::kClear);
    c.emit("set", key);
  }
  return reply;
}

Value cmd_setnx(CommandContext& c) {
  if (c.get(c.argv[1]) != nullptr) return Value::integer_of(0);
  c.ks().write(c.argv[1], c.argv[2], c.revision, Change::kSet, Ttl::kClear);
  c.emit("set", c.argv[1]);
  return Value::integer_of(1);
}

Value cmd_setex(CommandContext& c) { return setex_generic(c, /*seconds=*/true); }
Value cmd_psetex(CommandContext& c) { return setex_generic(c, /*seconds=*/false); }

Value cmd_getset(CommandContext& c) {
  Value reply = bulk_or_nil(c.get(c.argv[1]));
  c.ks().write(c.argv[1], c.argv[2], c.revision, Change::kSet, Ttl::kClear);
  c.emit("set", c.argv[1]);
  return reply;
}

Value cmd_getdel(CommandContext& c) {
  Node* n = c.get_mut(c.argv[1]);
  if (n == nullptr) return Value::null();
  Value reply = Value::bulk(n->value);
  c.ks().erase(*n, c.revision, Change::kDel);
  c.emit("del", c.argv[1]);
  return reply;
}

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]. As in Redis 7, a missing key answers
// nil before the expiry argument is checked.
Value cmd_getex(CommandContext& c) {
  ExtArgs a;
  if (!parse_ext(c.argv, 2, /*is_set=*/false, &a)) return syntax_error();
  const std::string& key = c.argv[1];
  Node* n = c.get_mut(key);
  if (n == nullptr) return Value::null();
  Value error;
  std::optional<int64_t> at;
  if (a.expire) {
    at = ext_expire_time(c, a, &error);
    if (!at) return error;
  }
  Value reply = Value::bulk(n->value);
  if (at && (a.flags & (kExAt | kPxAt)) && *at <= c.now_ms) {
    c.ks().erase(*n, c.revision, Change::kDel);
    c.emit("del", key);
  } else if (at) {
    c.ks().set_expiry(*n, *at, c.revision);
    c.emit("expire", key);
  } else if ((a.flags & kPersist) && c.ks().persist(*n, c.revision)) {
    c.emit("persist", key);
  }
  return reply;
}

Value cmd_mget(CommandContext& c) {
  std::vector<Value> out;
  out.reserve(c.argv.size() - 1);
  for (size_t j = 1; j < c.argv.size(); ++j) out.push_back(bulk_or_nil(c.get(c.argv[j])));
  return Value::array(std::move(out));
}

Value cmd_mset(CommandContext& c) { return mset_generic(c, /*nx=*/false); }
Value cmd_msetnx(CommandContext& c) { return mset_generic(c, /*nx=*/true); }

// CAS key expected new: one log entry, so atomic on every node. The expiry is kept: CAS changes
// the value of a key, it does not replace the key.
Value cmd_cas(CommandContext& c) {
  Node* n = c.get_mut(c.argv[1]);
  if (n == nullptr) return no_such_key_error();
  if (n->value != c.argv[2]) return Value::integer_of(0);
  c.ks().write(c.argv[1], c.argv[3], c.revision, Change::kSet, Ttl::kKeep);
  c.emit("set", c.argv[1]);
  return Value::integer_of(1);
}

}  // namespace chorus::kv
