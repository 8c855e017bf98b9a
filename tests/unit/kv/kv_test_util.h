// Helpers shared by the kv property tests: random commands over a small key space, so that
// commands collide on keys, histories fill up and tombstones get evicted.
#pragma once

#include <rapidcheck.h>

#include <string>
#include <vector>

#include "chorus/kv/store.h"

namespace chorus::kv::testing {

inline rc::Gen<std::string> gen_key() {
  return rc::gen::map(rc::gen::inRange(0, 12), [](int i) { return "k" + std::to_string(i); });
}

inline rc::Gen<std::string> gen_value() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange(-3, 20), [](int i) { return std::to_string(i); }),
      rc::gen::element<std::string>("", "a", "abc", "1.5", "x\0y"), rc::gen::string<std::string>());
}

// A command (sometimes malformed) from most of the command table.
inline rc::Gen<std::vector<std::string>> gen_command() {
  using V = std::vector<std::string>;
  return rc::gen::exec([]() -> V {
    const std::string k = *gen_key();
    const std::string k2 = *gen_key();
    const std::string v = *gen_value();
    const std::string n = std::to_string(*rc::gen::inRange(-5, 200));
    switch (*rc::gen::inRange(0, 36)) {
      case 0:
        return {"SET", k, v};
      case 1:
        return {"SET", k, v, "PX", n};
      case 2:
        return {"SET", k, v, *rc::gen::element<std::string>("NX", "XX", "GET", "KEEPTTL")};
      case 3:
        return {"GET", k};
      case 4:
        return {"DEL", k, k2};
      case 5:
        return {"INCR", k};
      case 6:
        return {"INCRBY", k, n};
      case 7:
        return {"INCRBYFLOAT", k, *rc::gen::element<std::string>("0.5", "-1", "1e3")};
      case 8:
        return {"APPEND", k, v};
      case 9:
        return {"SETRANGE", k, std::to_string(*rc::gen::inRange(0, 20)), v};
      case 10:
        return {"PEXPIRE", k, n};
      case 11:
        return {"EXPIRE", k, n, *rc::gen::element<std::string>("NX", "XX", "GT", "LT")};
      case 12:
        return {"PERSIST", k};
      case 13:
        return {"RENAME", k, k2};
      case 14:
        return {"RENAMENX", k, k2};
      case 15:
        return {"GETDEL", k};
      case 16:
        return {"GETEX", k, "PX", n};
      case 17:
        return {"GETSET", k, v};
      case 18:
        return {"MSET", k, v, k2, v};
      case 19:
        return {"MSETNX", k, v, k2, v};
      case 20:
        return {"CAS", k, v, *gen_value()};
      case 21:
        return {"SETNX", k, v};
      case 22:
        return {"PSETEX", k, n, v};
      case 23:
        return {"GETRANGE", k, n, "-1"};
      case 24:
        return {"TTL", k};
      case 25:
        return {"PTTL", k};
      case 26:
        return {"EXISTS", k, k2};
      case 27:
        return {"HISTORY", k};
      case 28:
        return {"GETREV", k, n};
      case 29:
        return {"SCAN", "0", "COUNT", "5"};
      case 30:
        return {"KEYS", "k1*"};
      case 31:
        return {"DBSIZE"};
      case 32:
        return {"RANDOMKEY"};
      case 33:
        return {"FLUSHDB"};
      case 34:
        return {"__chorus_expire", k, k2};
      case 35:
        return {"NOSUCH", k};
      default:
        return {"GET"};
    }
  });
}

// A proposal: mostly one command, sometimes a MULTI/EXEC block with watches.
inline rc::Gen<Proposal> gen_proposal(int64_t min_now_ms) {
  return rc::gen::exec([min_now_ms] {
    Proposal p;
    p.now_ms = min_now_ms + *rc::gen::inRange<int64_t>(-50, 200);
    if (*rc::gen::inRange(0, 8) == 0) {
      p.exec = true;
      p.commands = *rc::gen::resize(
          4, rc::gen::container<std::vector<std::vector<std::string>>>(gen_command()));
      if (*rc::gen::arbitrary<bool>()) {
        p.watches.emplace_back(*gen_key(), *rc::gen::inRange<uint64_t>(0, 50));
      }
    } else {
      p.commands.push_back(*gen_command());
    }
    return p;
  });
}

}  // namespace chorus::kv::testing
