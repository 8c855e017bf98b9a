// LinKvNode without processes: nodes wired by a perfect in-memory network, driven tick by tick.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chorus/maelstrom/base64.h"
#include "chorus/maelstrom/lin_kv_node.h"

namespace chorus::maelstrom {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  for (size_t n = 0; n < 40; ++n) {
    Bytes bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(std::byte((i * 37 + n) & 0xFF));
    const std::string text = base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    Result<Bytes> back = base64_decode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(base64_encode(to_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(to_bytes("fo")), "Zm8=");
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64_decode("abc").ok());
  EXPECT_FALSE(base64_decode("ab!d").ok());
  EXPECT_FALSE(base64_decode("a=cd").ok());
  EXPECT_FALSE(base64_decode("ab=d").ok());
}

TEST(Protocol, OnlyTimeoutCrashAndPrivateCodesAreIndefinite) {
  EXPECT_FALSE(is_definite(0));
  EXPECT_FALSE(is_definite(13));
  EXPECT_FALSE(is_definite(1000));
  for (int code : {1, 10, 11, 12, 14, 20, 21, 22, 30}) EXPECT_TRUE(is_definite(code)) << code;
  EXPECT_FALSE(parse_message("not json").has_value());
  EXPECT_FALSE(parse_message(R"({"src":"c1","dest":"n1","body":{}})").has_value());
}

// N nodes and a client "c1"; messages between nodes are delivered in order, all of them.
class Cluster {
 public:
  explicit Cluster(int n, NodeOptions options = {.random_seed = 7}) {
    Json ids = Json::array();
    for (int i = 1; i <= n; ++i) ids.push_back("n" + std::to_string(i));
    for (int i = 1; i <= n; ++i) {
      const std::string name = "n" + std::to_string(i);
      nodes_.emplace(name, options);
      deliver(make_message(
          "c0", name, Json{{"type", "init"}, {"msg_id", 1}, {"node_id", name}, {"node_ids", ids}}));
    }
  }

  // Ticks until `ticks` passed, delivering everything in between.
  void run(int ticks) {
    for (int t = 0; t < ticks; ++t) {
      for (auto& [name, node] : nodes_) {
        LinKvNode::Outbox out;
        node.tick(out);
        for (Json& m : out) queue_.push_back(std::move(m));
      }
      flush();
    }
  }

  // Sends a client request to `node` and runs until it is answered.
  Json call(const std::string& node, Json body) {
    body["msg_id"] = ++msg_id_;
    deliver(make_message("c1", node, std::move(body)));
    for (int t = 0; t < 1000 && !replies_.contains(msg_id_); ++t) run(1);
    return replies_.contains(msg_id_) ? replies_[msg_id_] : Json();
  }

  LinKvNode& node(const std::string& name) { return nodes_.at(name); }
  // A node that is down neither sends nor receives (its messages are lost).
  void set_down(const std::string& name, bool down) {
    if (down) {
      down_.insert(name);
    } else {
      down_.erase(name);
    }
  }

 private:
  void deliver(Json m) {
    queue_.push_back(std::move(m));
    flush();
  }
  void flush() {
    while (!queue_.empty()) {
      Json m = std::move(queue_.front());
      queue_.pop_front();
      const std::string dest = m["dest"];
      if (down_.contains(dest) || down_.contains(m["src"].get<std::string>())) continue;
      if (auto it = nodes_.find(dest); it != nodes_.end()) {
        LinKvNode::Outbox out;
        it->second.handle(m, out);
        for (Json& o : out) queue_.push_back(std::move(o));
      } else if (dest == "c1") {
        replies_[m["body"]["in_reply_to"].get<uint64_t>()] = m["body"];
      }
    }
  }

  std::map<std::string, LinKvNode> nodes_;
  std::deque<Json> queue_;
  std::map<uint64_t, Json> replies_;
  std::set<std::string> down_;
  uint64_t msg_id_ = 0;
};

TEST(LinKvNode, AnswersLinKvThroughAnyNode) {
  Cluster c(3);
  c.run(100);  // elect a leader
  EXPECT_EQ(c.call("n1", {{"type", "read"}, {"key", 1}})["code"], 20);
  EXPECT_EQ(c.call("n2", {{"type", "write"}, {"key", 1}, {"value", 5}})["type"], "write_ok");
  EXPECT_EQ(c.call("n3", {{"type", "read"}, {"key", 1}})["value"], 5);
  EXPECT_EQ(c.call("n1", {{"type", "cas"}, {"key", 1}, {"from", 4}, {"to", 6}})["code"], 22);
  EXPECT_EQ(c.call("n3", {{"type", "cas"}, {"key", 1}, {"from", 5}, {"to", 6}})["type"], "cas_ok");
  EXPECT_EQ(c.call("n2", {{"type", "cas"}, {"key", 2}, {"from", 5}, {"to", 6}})["code"], 20);
  EXPECT_EQ(c.call("n2", {{"type", "read"}, {"key", 1}})["value"], 6);
  EXPECT_EQ(c.call("n1", {{"type", "frobnicate"}, {"key", 1}})["code"], 10);
  EXPECT_EQ(c.call("n1", {{"type", "write"}, {"value", 1}})["code"], 12);
}

TEST(LinKvNode, RefusesClientsBeforeInit) {
  LinKvNode node(NodeOptions{});
  LinKvNode::Outbox out;
  node.handle(make_message("c1", "n1", Json{{"type", "read"}, {"msg_id", 3}, {"key", 1}}), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["body"]["code"], 11);
  EXPECT_EQ(out[0]["body"]["in_reply_to"], 3);
}

TEST(LinKvNode, LaggingFollowerCatchesUpFromASnapshot) {
  // Snapshots every 20 entries, sent in small chunks; one follower hears nothing until the
  // others compacted past what it has.
  Cluster c(3, {.snapshot_threshold_entries = 20, .snapshot_chunk_bytes = 64, .random_seed = 7});
  c.run(100);
  std::string leader;
  std::string lagging;
  for (const char* name : {"n1", "n2", "n3"}) {
    (c.node(name).is_leader() ? leader : lagging) = name;
  }
  ASSERT_FALSE(leader.empty());
  c.set_down(lagging, true);
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(c.call(leader, {{"type", "write"}, {"key", i % 3}, {"value", i}})["type"],
              "write_ok");
  }
  EXPECT_GT(c.node(leader).snapshots_taken(), 0u);
  c.set_down(lagging, false);
  c.run(100);
  EXPECT_EQ(c.node(lagging).snapshots_installed(), 1u);
  EXPECT_EQ(c.call(lagging, {{"type", "read"}, {"key", 2}})["value"], 59);
  EXPECT_EQ(c.call(lagging, {{"type", "cas"}, {"key", 0}, {"from", 57}, {"to", 100}})["type"],
            "cas_ok");
  EXPECT_EQ(c.call(leader, {{"type", "read"}, {"key", 0}})["value"], 100);
}

}  // namespace
}  // namespace chorus::maelstrom
