// Store behaviour beyond the golden replies: WATCH revisions, retention bounds, memory
// accounting, time, and a model check of the core string commands.
#include "chorus/kv/store.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <optional>

#include "chorus/kv/number.h"
#include "kv_test_util.h"

namespace chorus::kv {
namespace {

class Node1 {
 public:
  explicit Node1(StoreOptions o = {}) : store(o) {}
  resp::Value run(std::vector<std::string> argv, int64_t now = 1000) {
    Proposal p;
    p.now_ms = now;
    p.commands = {std::move(argv)};
    return store.apply(p, ++revision, events);
  }
  Store store;
  uint64_t revision = 0;
  std::vector<Event> events;
};

TEST(Store, ApplyRequiresIncreasingRevisions) {
  Store s;
  std::vector<Event> events;
  Proposal p;
  p.commands = {{"SET", "k", "v"}};
  s.apply(p, 5, events);
  EXPECT_EQ(s.last_revision(), 5u);
  EXPECT_DEATH(s.apply(p, 5, events), "revisions must increase");
}

TEST(Store, MalformedProposalsAreAnsweredNotTrusted) {
  Node1 n;
  Proposal p;
  p.commands = {};
  EXPECT_TRUE(n.store.apply(p, 1, n.events).is_error());
  p.commands = {{"SET", "a", "1"}, {"SET", "b", "2"}};
  EXPECT_TRUE(n.store.apply(p, 2, n.events).is_error());
  EXPECT_EQ(n.store.size(), 0u);
  EXPECT_EQ(n.store.last_revision(), 2u);
}

TEST(Store, ReadsNeverChangeAnything) {
  Node1 n;
  n.run({"SET", "k", "v", "PX", "10"});
  const uint64_t before = n.store.state_hash();
  EXPECT_EQ(n.store.read({"GET", "k"}, 2000), resp::Value::null());
  EXPECT_EQ(n.store.read({"TTL", "k"}, 2000), resp::Value::integer_of(-2));
  EXPECT_EQ(n.store.state_hash(), before);
  EXPECT_EQ(n.store.size(), 1u);
  // Reads run no earlier than the last applied time.
  EXPECT_EQ(n.store.read({"PTTL", "k"}, 0), resp::Value::integer_of(10));
}

// WATCH never misses a change: whatever happens to a key after WATCH (set, delete, expire,
// rename, flush, eviction of its tombstone), EXEC aborts.
RC_GTEST_PROP(Store, WatchSeesEveryChange, ()) {
  StoreOptions o;
  o.history_per_key = *rc::gen::inRange<size_t>(0, 3);
  o.history_deleted_keys = *rc::gen::inRange<size_t>(0, 3);
  Node1 n(o);
  int64_t now = 1000;
  for (int i = 0, m = *rc::gen::inRange(0, 40); i < m; ++i) {
    n.run(*testing::gen_command(), now += *rc::gen::inRange(0, 20));
  }
  const std::string key = *testing::gen_key();
  const uint64_t seen = n.store.key_revision(key);
  const std::string value_before = resp::to_display(n.store.read({"GET", key}, now));
  bool changed = false;
  for (int i = 0, m = *rc::gen::inRange(0, 20); i < m; ++i) {
    now += *rc::gen::inRange(0, 20);
    const size_t before = n.events.size();
    n.run(*testing::gen_command(), now);
    for (size_t e = before; e < n.events.size(); ++e) changed |= n.events[e].key == key;
    changed |= resp::to_display(n.store.read({"GET", key}, now)) != value_before;
  }
  // FLUSHDB changes a key without an event: compare values as well as events. EXEC checks the
  // watch after expiring the key if its time has come, as the server's EXEC does.
  Proposal exec;
  exec.now_ms = now;
  exec.exec = true;
  exec.commands = {{"SET", "probe", "1"}};
  exec.watches = {{key, seen}};
  const resp::Value reply = n.store.apply(exec, ++n.revision, n.events);
  if (changed) RC_ASSERT(reply == resp::Value::null_array());
}

TEST(Store, KeyRevisionFloorAfterEviction) {
  Node1 n(StoreOptions{8, 1});
  EXPECT_EQ(n.store.key_revision("never"), 0u);
  n.run({"SET", "a", "1"});  // 1
  n.run({"SET", "b", "1"});  // 2
  n.run({"DEL", "a"});       // 3
  EXPECT_EQ(n.store.key_revision("a"), 3u);
  EXPECT_EQ(n.store.key_revision("never"), 0u);
  n.run({"DEL", "b"});  // 4: a's tombstone is evicted
  EXPECT_EQ(n.store.key_revision("a"), 3u);
  EXPECT_EQ(n.store.key_revision("never"), 3u);
  EXPECT_EQ(n.store.key_revision("b"), 4u);
}

TEST(Store, HistoryIsBounded) {
  Node1 n(StoreOptions{3, 2});
  for (int i = 0; i < 50; ++i) n.run({"SET", "k", std::to_string(i)});
  EXPECT_EQ(n.store.read({"HISTORY", "k"}, 1000).elements.size(), 3u);
  for (int i = 0; i < 50; ++i) {
    n.run({"SET", "d" + std::to_string(i), "v"});
    n.run({"DEL", "d" + std::to_string(i)});
  }
  int remembered = 0;
  for (int i = 0; i < 50; ++i) {
    remembered += n.store.read({"HISTORY", "d" + std::to_string(i)}, 1000).elements.empty() ? 0 : 1;
  }
  EXPECT_EQ(remembered, 2);
  n.store.check_invariants();
}

// A key written once costs the same with or without history: values are copied into the history
// only when a later change replaces them.
TEST(Store, HistoryDoesNotDoubleMemoryForKeysWrittenOnce) {
  Node1 with(StoreOptions{8, 10000});
  Node1 without(StoreOptions{1, 10000});
  const std::string value(100, 'v');
  for (int i = 0; i < 10000; ++i) {
    with.run({"SET", "key:" + std::to_string(i), value});
    without.run({"SET", "key:" + std::to_string(i), value});
  }
  EXPECT_EQ(with.store.memory_bytes(), without.store.memory_bytes());
  // About 100 bytes of value plus bookkeeping per key.
  EXPECT_LT(with.store.memory_bytes(), 10000u * 300);
  EXPECT_GT(with.store.memory_bytes(), 10000u * 200);
  // Rewriting every key once keeps one old value per key.
  for (int i = 0; i < 10000; ++i) with.run({"SET", "key:" + std::to_string(i), value});
  EXPECT_GT(with.store.memory_bytes(), without.store.memory_bytes() + 10000u * 100);
}

TEST(Store, MemoryFollowsTheData) {
  Node1 n;
  const uint64_t empty = n.store.memory_bytes();
  for (int i = 0; i < 1000; ++i) n.run({"SET", "k" + std::to_string(i), std::string(1000, 'x')});
  EXPECT_GT(n.store.memory_bytes(), empty + 1000u * 1000);
  n.run({"FLUSHALL"});
  EXPECT_EQ(n.store.memory_bytes(), empty);
  n.store.check_invariants();  // the running estimate equals a recount
}

TEST(Store, ExpiredKeysSoonestFirst) {
  Node1 n;
  n.run({"SET", "late", "v", "PX", "300"});
  n.run({"SET", "early", "v", "PX", "100"});
  n.run({"SET", "mid", "v", "PX", "200"});
  n.run({"SET", "never", "v"});
  EXPECT_TRUE(n.store.expired_keys(1099, 10).empty());
  EXPECT_EQ(n.store.expired_keys(1250, 10), (std::vector<std::string>{"early", "mid"}));
  EXPECT_EQ(n.store.expired_keys(5000, 2), (std::vector<std::string>{"early", "mid"}));
  EXPECT_EQ(n.store.expired_keys(5000, 10).size(), 3u);
}

TEST(Store, TimeNeverGoesBackwards) {
  Node1 n;
  n.run({"SET", "k", "v"}, 5000);
  n.run({"SET", "k2", "v", "PX", "100"}, 100);  // a slower leader: runs at 5000
  EXPECT_EQ(n.store.now_ms(), 5000);
  EXPECT_EQ(n.store.read({"PEXPIRETIME", "k2"}, 0), resp::Value::integer_of(5100));
}

// The core string commands against a plain map model, with expiry.
RC_GTEST_PROP(Store, MatchesAModel, ()) {
  Node1 n;
  struct Entry {
    std::string value;
    int64_t expire_at = 0;
  };
  std::map<std::string, Entry> model;
  int64_t now = 1000;
  auto live = [&](const std::string& k) -> Entry* {
    auto it = model.find(k);
    if (it == model.end()) return nullptr;
    if (it->second.expire_at != 0 && it->second.expire_at <= now) {
      model.erase(it);
      return nullptr;
    }
    return &it->second;
  };
  for (int i = 0, m = *rc::gen::inRange(0, 150); i < m; ++i) {
    now += *rc::gen::inRange(0, 30);
    const std::string k = *testing::gen_key();
    const std::string v = *rc::gen::element<std::string>("a", "bb", "7", "-2");
    switch (*rc::gen::inRange(0, 7)) {
      case 0:
        n.run({"SET", k, v}, now);
        model[k] = Entry{v, 0};
        break;
      case 1: {
        const int64_t ms = *rc::gen::inRange(1, 100);
        n.run({"SET", k, v, "PX", std::to_string(ms)}, now);
        model[k] = Entry{v, now + ms};
        break;
      }
      case 2: {
        const resp::Value r = n.run({"DEL", k}, now);
        RC_ASSERT(r.integer == (live(k) ? 1 : 0));
        model.erase(k);
        break;
      }
      case 3: {
        const resp::Value r = n.run({"APPEND", k, v}, now);
        Entry* e = live(k);
        if (e) {
          e->value += v;
        } else {
          model[k] = Entry{v, 0};
        }
        RC_ASSERT(r.integer == static_cast<int64_t>(model[k].value.size()));
        break;
      }
      case 4: {
        const resp::Value r = n.run({"INCR", k}, now);
        Entry* e = live(k);
        std::optional<int64_t> cur = e ? parse_int64(e->value) : std::optional<int64_t>(0);
        if (!cur) {
          RC_ASSERT(r.is_error());
        } else {
          RC_ASSERT(r.integer == *cur + 1);
          if (e) {
            e->value = std::to_string(*cur + 1);
          } else {
            model[k] = Entry{"1", 0};
          }
        }
        break;
      }
      case 5: {
        const resp::Value r = n.run({"PERSIST", k}, now);
        Entry* e = live(k);
        RC_ASSERT(r.integer == (e && e->expire_at != 0 ? 1 : 0));
        if (e) e->expire_at = 0;
        break;
      }
      default: {
        Entry* e = live(k);
        RC_ASSERT(n.store.read({"GET", k}, now) ==
                  (e ? resp::Value::bulk(e->value) : resp::Value::null()));
        const int64_t ttl = n.store.read({"PTTL", k}, now).integer;
        RC_ASSERT(ttl == (!e ? -2 : e->expire_at == 0 ? -1 : e->expire_at - now));
      }
    }
    n.store.check_invariants();
  }
  int64_t live_keys = 0;
  for (auto& [k, e] : model) live_keys += (e.expire_at == 0 || e.expire_at > now) ? 1 : 0;
  RC_ASSERT(n.store.read({"DBSIZE"}, now).integer == live_keys);
}

}  // namespace
}  // namespace chorus::kv
