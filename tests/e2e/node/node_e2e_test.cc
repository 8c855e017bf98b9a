// End-to-end tests of RaftNode: real chorus-node-proc processes on loopback, mutual TLS with
// certificates from chorus::net's certs API, kill -9 and restarts on the same data dirs. The
// driver keeps every acknowledged append and, at the end of each test, checks it against what
// every current member applied (Cluster::check_history). No test asserts a time: waits are
// bounded only to turn a hang into a failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "e2e/node/e2e_cluster.h"

namespace chorus::e2e {
namespace {

bool ok(const std::optional<json>& r) { return r && r->value("ok", false); }
std::string show(const std::optional<json>& r) { return r ? r->dump() : "no answer"; }

uint64_t first_not_in(const std::vector<uint64_t>& ids, const std::vector<uint64_t>& excluded) {
  for (uint64_t id : ids) {
    if (std::find(excluded.begin(), excluded.end(), id) == excluded.end()) return id;
  }
  return 0;
}

// A plaintext TCP client: writes a line and waits for the node to close the connection.
bool plaintext_client_turned_away(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool closed = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, "GET / HTTP/1.0\r\n\r\n", 18) == 18) {
    pollfd p{fd, POLLIN, 0};
    char buf[256];
    // EOF or reset within the handshake deadline (5 s) means the node hung up on us.
    while (::poll(&p, 1, static_cast<int>(kWait.count())) == 1) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        closed = true;
        break;
      }
    }
  }
  ::close(fd);
  return closed;
}

std::string stream(int n, const std::string& prefix) {
  // 8 appends in flight; the limit only guards against a stream that never ends.
  return "stream " + std::to_string(n) + " " + prefix + " 8 " + std::to_string(kWait.count());
}

TEST(NodeE2E, ThreeNodesOverMutualTlsElectALeaderAndCommit) {
  Cluster c({1, 2, 3});
  c.start_all();
  uint64_t leader = c.wait_leader();
  ASSERT_NE(leader, 0u);
  // Appends through every node: a follower forwards to the leader.
  for (int round = 0; round < 5; ++round) {
    for (uint64_t id : {1, 2, 3}) {
      auto r = c.node(id).call("append n" + std::to_string(id) + "-" + std::to_string(round));
      ASSERT_TRUE(ok(r)) << "append on node " << id << ": " << show(r);
    }
  }
  // A linearizable read on every node sees all fifteen, in the same order (same chain hash).
  std::optional<json> first;
  for (uint64_t id : {1, 2, 3}) {
    auto r = c.node(id).call("read");
    ASSERT_TRUE(ok(r)) << "read on node " << id << ": " << show(r);
    EXPECT_EQ(r->value("count", 0), 15) << "node " << id;
    if (first) {
      EXPECT_EQ((*r)["hash"], (*first)["hash"]) << "node " << id;
    }
    first = r;
  }
  // The wire is mutual TLS: each node authenticated its two peers' connections, and a plaintext
  // client is turned away without disturbing the cluster.
  EXPECT_TRUE(plaintext_client_turned_away(c.port(1)));
  EXPECT_TRUE(eventually([&] {
    json s = c.status(1);
    return field(s["transport"], "rejected", "plaintext connection") == 1 &&
           field(s, "transport", "accepted") >= 2;
  })) << c.status(1).dump();
  EXPECT_TRUE(ok(c.node(2).call("append after-probe")));
  c.check_history({1, 2, 3});
  for (uint64_t id : {1, 2, 3}) c.stop(id);
}

TEST(NodeE2E, KillNineOfTheLeaderUnderAppendsLosesNoAcknowledgedSequence) {
  // A low threshold: a restarted node recovers from a snapshot plus the log after it.
  Cluster c({1, 2, 3}, {.snapshot_threshold = 150, .groups = {}});
  c.start_all();
  // Three rounds, each killing whoever leads then: the second and third kill a node elected
  // with a log that went through the earlier crashes.
  for (int round = 0; round < 3; ++round) {
    uint64_t leader = c.wait_leader();
    ASSERT_NE(leader, 0u);
    uint64_t follower = first_not_in({1, 2, 3}, {leader});
    // Two streams: one on the leader (cut short by its death; what it acknowledged before must
    // survive it), one through a follower (it goes on under the next leader).
    std::string on_leader = "L" + std::to_string(round), via = "F" + std::to_string(round);
    c.node(leader).send(stream(1'000'000, on_leader));
    uint64_t via_follower = c.node(follower).send(stream(300, via));
    ASSERT_TRUE(eventually([&] {
      return c.history().acked_count(on_leader + "-") >= 60 &&
             c.history().acked_count(via + "-") >= 60;
    }));
    c.kill9(leader);
    size_t acked_by_leader = c.history().acked_count(on_leader + "-");
    size_t follower_at_kill = c.history().acked_count(via + "-");
    auto done = c.node(follower).wait_final(via_follower, kWait + 10s);
    ASSERT_TRUE(ok(done)) << show(done);
    uint64_t next = c.wait_leader();
    ASSERT_NE(next, 0u);
    EXPECT_NE(next, leader);
    std::printf(
        "[e2e] round %d: killed leader %llu after it acknowledged %zu (follower stream: %zu); "
        "new leader %llu; follower stream: %s\n",
        round, (unsigned long long)leader, acked_by_leader, follower_at_kill,
        (unsigned long long)next, done->dump().c_str());
    c.check_history(c.running_ids());  // the survivors
    c.start(leader);                   // the killed node, on its data dir
    c.check_history({1, 2, 3});
    std::printf("[e2e] round %d: restarted node %llu: %s\n", round, (unsigned long long)leader,
                c.status(leader).dump().c_str());
  }
  // And the whole cluster at once, mid-stream: what every node has on disk must still hold every
  // acknowledged append after all three restart.
  uint64_t leader = c.wait_leader();
  ASSERT_NE(leader, 0u);
  c.node(leader).send(stream(1'000'000, "all"));
  ASSERT_TRUE(eventually([&] { return c.history().acked_count("all-") >= 60; }));
  for (uint64_t id : {1, 2, 3}) c.kill9(id);
  std::printf("[e2e] killed all three after %zu acknowledged appends of the last stream\n",
              c.history().acked_count("all-"));
  for (uint64_t id : {1, 2, 3}) c.start(id);
  ASSERT_NE(c.wait_leader(), 0u);
  c.check_history({1, 2, 3});
  for (uint64_t id : {1, 2, 3}) c.stop(id);
}

TEST(NodeE2E, NodeDownWhileTheLogWasTrimmedCatchesUpBySnapshot) {
  Cluster c({1, 2, 3}, {.snapshot_threshold = 50, .groups = {}});
  c.start_all();
  uint64_t leader = c.wait_leader();
  ASSERT_NE(leader, 0u);
  uint64_t down = first_not_in({1, 2, 3}, {leader});
  ASSERT_TRUE(ok(c.node(leader).call(stream(20, "before"))));
  ASSERT_TRUE(c.wait_converged({1, 2, 3}));
  uint64_t down_last = field(c.status(down), "machine", "last");
  c.kill9(down);
  ASSERT_TRUE(ok(c.node(leader).call(stream(400, "while-down"), kWait + 10s)));
  // The leader's log no longer holds what the node would need next.
  ASSERT_TRUE(
      eventually([&] { return field(c.status(leader), "snapshot_index") > down_last + 50; }));
  c.start(down);
  c.check_history({1, 2, 3});
  json s = c.status(down);
  EXPECT_GT(field(s, "snapshots_installed"), 0u) << s.dump();
  json l = c.status(leader);
  EXPECT_EQ(s["machine"], l["machine"]) << "restarted " << s.dump() << "\nleader " << l.dump();
  std::printf("[e2e] node %llu was down at %llu; leader snapshot at %llu; after restart: %s\n",
              (unsigned long long)down, (unsigned long long)down_last,
              (unsigned long long)field(l, "snapshot_index"), s.dump().c_str());
  // And it keeps up afterwards.
  EXPECT_TRUE(ok(c.node(down).call("append after-catch-up")));
  c.check_history({1, 2, 3});
  for (uint64_t id : {1, 2, 3}) c.stop(id);
}

TEST(NodeE2E, AddAndPromoteAFourthNodeAndRemoveOneWhileAppendsFlow) {
  Cluster c({1, 2, 3}, {.snapshot_threshold = 100, .groups = {}});
  c.add_node(4);
  c.start_all();
  uint64_t leader = c.wait_leader();
  ASSERT_NE(leader, 0u);
  uint64_t via = first_not_in({1, 2, 3}, {leader});
  uint64_t removed = first_not_in({1, 2, 3}, {leader, via});
  uint64_t appends = c.node(via).send(stream(800, "M"));
  ASSERT_TRUE(eventually([&] { return c.history().acked_count("M-") >= 150; }));
  // The new node starts empty, knowing the current members; the leader adds it.
  c.start(4);
  json add = c.on_leader("add_learner 4 " + c.address(4));
  ASSERT_TRUE(add.value("ok", false)) << add.dump();
  size_t at_add = c.history().acked_count("M-");
  json promote = c.on_leader("promote 4");
  ASSERT_TRUE(promote.value("ok", false)) << promote.dump();
  json remove = c.on_leader("remove " + std::to_string(removed));
  ASSERT_TRUE(remove.value("ok", false)) << remove.dump();
  size_t at_remove = c.history().acked_count("M-");
  c.stop(removed);
  auto done = c.node(via).wait_final(appends, kWait + 10s);
  ASSERT_TRUE(ok(done)) << show(done);
  std::printf(
      "[e2e] added node 4 at %zu acknowledged appends (config seq %llu), promoted (seq "
      "%llu), removed node %llu (seq %llu) at %zu; stream done: %s\n",
      at_add, (unsigned long long)field(add, "seq"), (unsigned long long)field(promote, "seq"),
      (unsigned long long)removed, (unsigned long long)field(remove, "seq"), at_remove,
      done->dump().c_str());
  std::vector<uint64_t> members = {leader, via, 4};
  std::sort(members.begin(), members.end());
  for (uint64_t id : members) {
    json s = c.status(id);
    EXPECT_EQ(s["voters"], json(members)) << "node " << id << ": " << s.dump();
    EXPECT_EQ(s["learners"], json::array()) << "node " << id;
  }
  c.check_history(members);
  EXPECT_GT(field(c.status(4), "snapshots_installed"), 0u);  // it joined after a trim
  for (uint64_t id : members) c.stop(id);
}

// Replication groups (raft/quorum.h): commit and election each need a majority in EVERY group.
// Groups of 3 + 2: a 2-node group has no minority it can lose (its majority is both nodes), so
// the 3-node group is where a minority can go down and commits go on. With both groups'
// numbers the cluster is also a sharp test of the policy: after the second kill three of five
// nodes are up -- a plain majority would keep committing -- but the west group has lost its
// majority, so nothing may commit.
TEST(NodeE2E, ReplicationGroupsCommitWithAMinorityDownAndStopWithoutAGroupMajority) {
  ClusterOptions options;
  options.groups = {{1, "east"}, {2, "east"}, {3, "east"}, {4, "west"}, {5, "west"}};
  Cluster c({1, 2, 3, 4, 5}, options);
  c.start_all();
  uint64_t leader = c.wait_leader();
  ASSERT_NE(leader, 0u);
  uint64_t east_down = first_not_in({1, 2, 3}, {leader});
  uint64_t west_down = first_not_in({5, 4}, {leader});
  uint64_t via = first_not_in({1, 2, 3}, {east_down});  // stays up throughout
  uint64_t appends = c.node(via).send(stream(300, "G"));
  ASSERT_TRUE(eventually([&] { return c.history().acked_count("G-") >= 50; }));
  c.kill9(east_down);  // east keeps 2 of 3: still a majority in every group
  auto done = c.node(via).wait_final(appends, kWait + 10s);
  ASSERT_TRUE(ok(done)) << show(done);
  ASSERT_TRUE(ok(c.node(via).call("append east-minority-down")));

  c.kill9(west_down);  // west keeps 1 of 2: no majority there
  for (uint64_t id : c.running_ids()) {
    auto r = c.node(id).call("append stalled-" + std::to_string(id));
    ASSERT_TRUE(r) << "node " << id << " did not answer";
    EXPECT_FALSE(r->value("ok", true)) << "committed without a west majority: " << r->dump();
    std::string code = r->value("code", "");
    EXPECT_TRUE(code == "Timeout" || code == "NotLeader") << r->dump();
    EXPECT_FALSE(r->value("error", "").empty()) << r->dump();
    std::printf("[e2e] append on node %llu without a west majority: %s\n", (unsigned long long)id,
                r->dump().c_str());
  }
  // The leader steps down (check-quorum counts per group) and nobody can win an election; every
  // node still answers and none stopped on an error.
  EXPECT_TRUE(eventually([&] {
    for (uint64_t id : c.running_ids()) {
      if (c.status(id).value("role", "") == "leader") return false;
    }
    return true;
  }));
  for (uint64_t id : c.running_ids()) {
    json s = c.status(id);
    ASSERT_FALSE(s.empty()) << "node " << id << " did not answer";
    EXPECT_FALSE(s.value("failed", true)) << s.dump();
  }

  c.start(west_down);  // west has its majority again
  ASSERT_NE(c.wait_leader(), 0u);
  for (uint64_t id : c.running_ids()) {
    auto r = c.node(id).call("append recovered-" + std::to_string(id));
    EXPECT_TRUE(ok(r)) << "node " << id << ": " << show(r);
  }
  c.start(east_down);
  c.check_history({1, 2, 3, 4, 5});
  for (uint64_t id : {1, 2, 3, 4, 5}) c.stop(id);
}

}  // namespace
}  // namespace chorus::e2e
