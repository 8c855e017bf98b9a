// Expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (with NX XX GT LT) TTL PTTL EXPIRETIME
// PEXPIRETIME PERSIST (Redis expire.c semantics), and the internal active-expiry command.
#include <optional>
#include <string>

#include "chorus/kv/commands.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

using resp::Value;

enum ExpireFlag : unsigned { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

// EXPIRE key time [NX | XX | GT | LT]: the options are checked before the time, as in Redis.
// `base_ms` is now for the relative forms and 0 for the absolute ones. A time already past
// deletes the key ("del" event, reply 1).
Value expire_generic(CommandContext& c, int64_t base_ms, bool seconds) {
  unsigned flags = 0;
  for (size_t j = 3; j < c.argv.size(); ++j) {
    const std::string& opt = c.argv[j];
    if (iequals(opt, "nx")) {
      flags |= kNx;
    } else if (iequals(opt, "xx")) {
      flags |= kXx;
    } else if (iequals(opt, "gt")) {
      flags |= kGt;
    } else if (iequals(opt, "lt")) {
      flags |= kLt;
    } else {
      return Value::error("ERR Unsupported option " + opt);
    }
  }
  if ((flags & kNx) && (flags & (kXx | kGt | kLt))) {
    return Value::error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if ((flags & kGt) && (flags & kLt)) {
    return Value::error("ERR GT and LT options at the same time are not compatible");
  }
  Value error;
  std::optional<int64_t> when = int_arg(c.argv[2], &error);
  if (!when) return error;
  int64_t at = *when;
  // Negative times are allowed (they delete the key); only overflow is refused.
  if (seconds) {
    if (at > INT64_MAX / 1000 || at < INT64_MIN / 1000) return invalid_expire_error(c);
    at *= 1000;
  }
  if (at > INT64_MAX - base_ms) return invalid_expire_error(c);
  at += base_ms;

  const std::string& key = c.argv[1];
  Node* n = c.get_mut(key);
  if (n == nullptr) return Value::integer_of(0);
  const bool has_ttl = n->expire_at_ms != kNoExpiry;
  // No TTL counts as an infinite one: GT never beats it, LT always does.
  if ((flags & kNx) && has_ttl) return Value::integer_of(0);
  if ((flags & kXx) && !has_ttl) return Value::integer_of(0);
  if ((flags & kGt) && (!has_ttl || at <= n->expire_at_ms)) return Value::integer_of(0);
  if ((flags & kLt) && has_ttl && at >= n->expire_at_ms) return Value::integer_of(0);

  if (at <= c.now_ms) {
    c.ks().erase(*n, c.revision, Change::kDel);
    c.emit("del", key);
  } else {
    c.ks().set_expiry(*n, at, c.revision);
    c.emit("expire", key);
  }
  return Value::integer_of(1);
}

// TTL and friends: -2 for a missing key, -1 for a key without expiry. Seconds round to nearest.
Value ttl_generic(CommandContext& c, bool ms, bool absolute) {
  const Node* n = c.get(c.argv[1]);
  if (n == nullptr) return Value::integer_of(-2);
  if (n->expire_at_ms == kNoExpiry) return Value::integer_of(-1);
  int64_t t = absolute ? n->expire_at_ms : n->expire_at_ms - c.now_ms;
  if (t < 0) t = 0;
  return Value::integer_of(ms ? t : (t + 500) / 1000);
}

}  // namespace

Value cmd_expire(CommandContext& c) { return expire_generic(c, c.now_ms, /*seconds=*/true); }
Value cmd_pexpire(CommandContext& c) { return expire_generic(c, c.now_ms, /*seconds=*/false); }
Value cmd_expireat(CommandContext& c) { return expire_generic(c, 0, /*seconds=*/true); }
Value cmd_pexpireat(CommandContext& c) { return expire_generic(c, 0, /*seconds=*/false); }

Value cmd_ttl(CommandContext& c) { return ttl_generic(c, /*ms=*/false, /*absolute=*/false); }
Value cmd_pttl(CommandContext& c) { return ttl_generic(c, /*ms=*/true, /*absolute=*/false); }
Value cmd_expiretime(CommandContext& c) { return ttl_generic(c, false, /*absolute=*/true); }
Value cmd_pexpiretime(CommandContext& c) { return ttl_generic(c, true, /*absolute=*/true); }

Value cmd_persist(CommandContext& c) {
  Node* n = c.get_mut(c.argv[1]);
  if (n == nullptr || !c.ks().persist(*n, c.revision)) return Value::integer_of(0);
  c.emit("persist", c.argv[1]);
  return Value::integer_of(1);
}

// __chorus_expire key...: the leader's active expiry. Deletes each key that is expired at the
// apply time (one that was rewritten since the leader looked is left alone); replies how many.
Value cmd_chorus_expire(CommandContext& c) {
  int64_t expired = 0;
  for (size_t j = 1; j < c.argv.size(); ++j) {
    Node* n = c.ks().find(c.argv[j]);
    if (n == nullptr || !Keyspace::is_expired(*n, c.now_ms)) continue;
    c.ks().erase(*n, c.revision, Change::kExpired);
    c.emit("expired", c.argv[j]);
    ++expired;
  }
  return Value::integer_of(expired);
}

}  // namespace chorus::kv
