// KeyTable: (hash, key) order through growth and shrinkage, and the SCAN guarantee.
#include "chorus/kv/key_table.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>

#include "chorus/kv/store.h"

namespace chorus::kv {
namespace {

std::unique_ptr<Node> make_node(const std::string& key) {
  auto n = std::make_unique<Node>();
  n->key = key;
  n->hash = key_hash(key);
  n->revision = 1;
  return n;
}

std::vector<std::string> in_order(const KeyTable& t) {
  std::vector<std::string> out;
  for (const Node* n = t.first(); n != nullptr; n = t.next(n)) out.push_back(n->key);
  return out;
}

TEST(KeyTable, IteratesInHashOrderThroughResizes) {
  KeyTable t;
  std::map<std::pair<uint64_t, std::string>, bool> model;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    t.insert(make_node(k));
    model[{key_hash(k), k}] = true;
  }
  t.check_invariants();
  EXPECT_GE(t.bucket_count(), 4096u);
  std::vector<std::string> expected;
  for (const auto& [hk, _] : model) expected.push_back(hk.second);
  EXPECT_EQ(in_order(t), expected);
  // Shrink back down, checking the order at every step.
  for (int i = 0; i < 4990; ++i) {
    const std::string k = "key:" + std::to_string(i);
    Node* n = t.find(k, key_hash(k));
    ASSERT_NE(n, nullptr);
    t.remove(n);
    model.erase({key_hash(k), k});
  }
  t.check_invariants();
  EXPECT_LE(t.bucket_count(), 128u);
  expected.clear();
  for (const auto& [hk, _] : model) expected.push_back(hk.second);
  EXPECT_EQ(in_order(t), expected);
  EXPECT_EQ(t.find("key:1", key_hash("key:1")), nullptr);
}

TEST(KeyTable, LowerBound) {
  KeyTable t;
  for (int i = 0; i < 100; ++i) t.insert(make_node(std::to_string(i)));
  const Node* previous = nullptr;
  for (const Node* n = t.first(); n != nullptr; n = t.next(n)) {
    EXPECT_EQ(t.lower_bound(n->hash), n);
    if (previous != nullptr) {
      EXPECT_EQ(t.lower_bound(previous->hash + 1), n);
    }
    previous = n;
  }
  EXPECT_EQ(t.lower_bound(UINT64_MAX), nullptr);
}

// SCAN's promise: a key present for the whole scan is returned (exactly once), whatever is
// inserted and deleted between calls and however the table resizes meanwhile.
RC_GTEST_PROP(KeyTable, ScanReturnsEveryKeyPresentThroughout, ()) {
  Store s;
  std::vector<Event> events;
  uint64_t revision = 0;
  auto apply = [&](std::vector<std::string> argv) {
    Proposal p;
    p.commands = {std::move(argv)};
    return s.apply(p, ++revision, events);
  };
  const int initial = *rc::gen::inRange(0, 300);
  for (int i = 0; i < initial; ++i) apply({"SET", "k" + std::to_string(i), "v"});
  std::set<std::string> present;
  for (int i = 0; i < initial; ++i) present.insert("k" + std::to_string(i));
  std::set<std::string> removed_ever;
  std::multiset<std::string> returned;
  std::string cursor = "0";
  int calls = 0;
  do {
    const std::string count = std::to_string(*rc::gen::inRange(1, 40));
    resp::Value reply = s.read({"SCAN", cursor, "COUNT", count}, 0);
    RC_ASSERT(reply.elements.size() == 2u);
    cursor = reply.elements[0].str;
    for (const resp::Value& k : reply.elements[1].elements) returned.insert(k.str);
    // Churn between calls: inserts (which grow the table) and deletes (which shrink it).
    const int churn = *rc::gen::inRange(0, 60);
    for (int i = 0; i < churn; ++i) {
      const std::string k = "k" + std::to_string(*rc::gen::inRange(0, 600));
      if (*rc::gen::arbitrary<bool>()) {
        apply({"SET", k, "v"});
      } else {
        apply({"DEL", k});
        removed_ever.insert(k);
      }
    }
    RC_ASSERT(++calls < 10000);
  } while (cursor != "0");
  s.check_invariants();
  for (const std::string& k : present) {
    if (removed_ever.contains(k)) continue;
    RC_ASSERT(returned.count(k) == 1u);
  }
}

}  // namespace
}  // namespace chorus::kv
