#include "chorus/net/send_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::net {
namespace {

std::string text(const Bytes& b) { return std::string(as_string_view(b)); }

TEST(SendQueue, DropsOldestWhenCountIsFull) {
  SendQueue q({.max_messages = 3, .max_bytes = 1000});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.push(to_bytes(std::to_string(i))), 0u);
  EXPECT_EQ(q.push(to_bytes("3")), 1u);
  EXPECT_EQ(q.push(to_bytes("4")), 1u);
  q.check_invariants();
  auto batch = q.pop_batch(SIZE_MAX);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(text(batch[0]), "2");
  EXPECT_EQ(text(batch[2]), "4");
  EXPECT_TRUE(q.empty());
}

TEST(SendQueue, DropsOldestUntilBytesFit) {
  SendQueue q({.max_messages = 100, .max_bytes = 10});
  EXPECT_EQ(q.push(to_bytes("aaaa")), 0u);
  EXPECT_EQ(q.push(to_bytes("bbbb")), 0u);
  EXPECT_EQ(q.push(to_bytes("cccccccc")), 2u);  // needs 8 of 10 bytes: both old ones go
  EXPECT_EQ(q.bytes(), 8u);
  EXPECT_EQ(q.size(), 1u);
  q.check_invariants();
}

TEST(SendQueue, PopBatchRespectsBytesButTakesAtLeastOne) {
  SendQueue q({.max_messages = 100, .max_bytes = 1000});
  q.push(to_bytes(std::string(50, 'x')));
  q.push(to_bytes(std::string(50, 'y')));
  q.push(to_bytes(std::string(50, 'z')));
  EXPECT_EQ(q.pop_batch(10).size(), 1u);  // larger than the budget, still taken alone
  EXPECT_EQ(q.pop_batch(100).size(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  q.push(to_bytes("a"));
  EXPECT_EQ(q.clear(), 1u);
  q.check_invariants();
}

}  // namespace
}  // namespace chorus::net
