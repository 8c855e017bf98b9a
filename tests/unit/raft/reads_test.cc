// Linearizable reads (thesis §6.4 ReadIndex, §6.4.1 leases, follower reads) and proposal
// forwarding with its outcomes (thesis §6.2 / §6.3).
#include <gtest/gtest.h>

#include <optional>

#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

const NodeId n1(1), n2(2), n3(3);

size_t count(const std::deque<Message>& msgs, MessageType type) {
  size_t n = 0;
  for (const Message& m : msgs) n += m.type == type;
  return n;
}

TEST(Reads, Thesis6_4_ReadIndexNeedsAHeartbeatRound) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.propose(n1, "x");
  c.stabilize();
  ASSERT_TRUE(c.raft(n1).read_index(7).ok());
  c.process_ready(n1);
  EXPECT_TRUE(c.node(n1).reads.empty()) << "not before a quorum confirms leadership";
  c.stabilize();
  ASSERT_EQ(c.node(n1).reads.size(), 1u);
  EXPECT_EQ(c.node(n1).reads[0].request_id, 7u);
  EXPECT_TRUE(c.node(n1).reads[0].status.ok());
  EXPECT_EQ(c.node(n1).reads[0].index, LogIndex(3));
}

TEST(Reads, ManyReadsShareOneHeartbeatRound) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  const uint64_t before = c.delivered;
  for (uint64_t id = 1; id <= 50; ++id) ASSERT_TRUE(c.raft(n1).read_index(id).ok());
  c.process_ready(n1);
  // Read 1 starts a round; reads 2..50 arrived while it was in flight and share the next one.
  EXPECT_EQ(count(c.in_flight(), MessageType::kHeartbeat), 2u);
  c.stabilize();
  EXPECT_EQ(c.node(n1).reads.size(), 50u);
  EXPECT_EQ(c.delivered - before, 8u) << "two rounds of 2 heartbeats + 2 replies";
}

TEST(Reads, Thesis6_4_NewLeaderWaitsForItsFirstCommit) {
  // Elected, but stop before its no-op commits.
  Cluster fresh;
  Raft& f = fresh.raft(n1);
  while (f.role() == RoleKind::kFollower) f.tick();
  for (int i = 0; i < 20 && !f.is_leader(); ++i) {
    fresh.process_ready(n1);
    while (fresh.deliver_one()) {
      fresh.process_ready(n2);
      fresh.process_ready(n3);
      if (f.is_leader()) break;
    }
  }
  ASSERT_TRUE(f.is_leader());
  ASSERT_EQ(f.log().committed(), LogIndex(1));
  ASSERT_TRUE(f.read_index(1).ok());
  fresh.stabilize();
  ASSERT_EQ(fresh.node(n1).reads.size(), 1u);
  EXPECT_GE(fresh.node(n1).reads[0].index, LogIndex(2)) << "read index includes the no-op";
}

TEST(Reads, FollowerReadIsForwardedAndAnsweredWithTheIndex) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.propose(n1, "x");
  c.stabilize();
  ASSERT_TRUE(c.raft(n2).read_index(42).ok());
  c.stabilize();
  ASSERT_EQ(c.node(n2).reads.size(), 1u);
  EXPECT_EQ(c.node(n2).reads[0].request_id, 42u);
  EXPECT_EQ(c.node(n2).reads[0].index, LogIndex(3));
  EXPECT_TRUE(c.node(n2).reads[0].status.ok());
}

TEST(Reads, ReadWithoutLeaderFailsAtOnce) {
  Cluster c;
  Status s = c.raft(n2).read_index(1);
  EXPECT_EQ(s.code(), StatusCode::kNotLeader);
}

TEST(Reads, Thesis6_4_1_LeaseReadNeedsNoMessages) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) { cfg.lease_reads = true; }});
  ASSERT_TRUE(c.elect(n1));
  c.run(1);  // a heartbeat round acknowledged by a quorum starts the lease
  ASSERT_TRUE(c.raft(n1).read_index(5).ok());
  c.process_ready(n1);
  ASSERT_EQ(c.node(n1).reads.size(), 1u) << "served from the lease";
  EXPECT_EQ(count(c.in_flight(), MessageType::kHeartbeat), 0u);
}

TEST(Reads, LeaseExpiresWhenPartitioned) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) {
    cfg.lease_reads = true;
    cfg.election_tick = 20;
  }});
  ASSERT_TRUE(c.elect(n1));
  c.run(1);
  c.isolate(n1);
  c.run(19);  // the lease is election_tick - drift = 18 ticks long
  ASSERT_TRUE(c.raft(n1).is_leader());
  ASSERT_TRUE(c.raft(n1).read_index(9).ok());
  c.stabilize();
  EXPECT_TRUE(c.node(n1).reads.empty()) << "lease expired: needs a round, which cannot complete";
  c.run(25);  // check-quorum steps down: the pending read fails, definitely
  ASSERT_EQ(c.node(n1).reads.size(), 1u);
  EXPECT_FALSE(c.node(n1).reads[0].status.ok());
}

TEST(Forwarding, FollowerProposalCommitsAndReportsItsIndex) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  ProposalId id = c.propose(n2, "from-follower");
  c.stabilize();
  auto r = c.result(n2, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, ProposalOutcome::kCommitted);
  EXPECT_EQ(r->index, LogIndex(3));
  EXPECT_EQ(c.node(n3).state, std::vector<std::string>{"from-follower"});
}

// Regression (chorus-sim seed 5): a duplicated kPropose was appended twice, so one write was
// applied at two indexes and a later read saw an old value again.
TEST(Forwarding, DuplicatedForwardIsAppendedOnce) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  bool duplicated = false;
  c.drop_if = [&](Message& m) {
    if (m.type == MessageType::kPropose && !duplicated) {
      duplicated = true;
      c.inject(m);  // the network delivers it twice
    }
    return false;
  };
  ProposalId id = c.propose(n2, "once");
  c.stabilize();
  c.drop_if = nullptr;
  ASSERT_EQ(c.result(n2, id)->outcome, ProposalOutcome::kCommitted);
  EXPECT_EQ(c.node(n3).state, std::vector<std::string>{"once"});
}

// A forward that reaches a leader of another term (delayed past an election) is not appended,
// so a proposal its proposer was told definitely failed can never commit later.
TEST(Forwarding, LateForwardToANewLeaderIsNotAppended) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  std::optional<Message> held;
  c.drop_if = [&](Message& m) {
    if (m.type != MessageType::kPropose) return false;
    held = m;
    return true;
  };
  c.propose(n2, "late");
  c.stabilize();
  ASSERT_TRUE(held.has_value());
  c.drop_if = nullptr;
  c.crash(n1);
  for (int i = 0; i < 60 && c.leader() == kNoNode; ++i) c.run(1);
  ASSERT_NE(c.leader(), kNoNode);
  held->to = c.leader();
  c.inject(*held);
  c.stabilize();
  for (NodeId id : c.ids()) EXPECT_TRUE(c.node(id).state.empty()) << "n" << id;
}

// Regression (chorus-sim seed 33): the first copy of a duplicated forward was appended; the
// second reached the same node after it had lost leadership and was refused, and the refusal
// made the proposer report a definite failure for a write that then committed.
TEST(Forwarding, LateDuplicateAfterLeadershipLossIsNeverADefiniteFailure) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  std::optional<Message> copy;
  c.drop_if = [&](Message& m) {
    if (m.type == MessageType::kPropose && !copy) copy = m;
    // The acknowledgement is lost and the entry stays on n1 alone (uncommitted).
    return m.type == MessageType::kProposeResp || (m.from == n1 && m.type == MessageType::kAppend);
  };
  ProposalId id = c.propose(n2, "w");
  c.stabilize();
  ASSERT_TRUE(copy.has_value());
  ASSERT_EQ(c.raft(n1).log().last_index(), LogIndex(3)) << "n1 appended the forwarded entry";
  c.isolate(n1);  // check-quorum: n1 steps down, still holding the entry; n2 has not noticed
  for (int i = 0; i < 60 && c.raft(n1).is_leader(); ++i) c.tick(n1);
  ASSERT_FALSE(c.raft(n1).is_leader());
  c.heal();
  c.drop_if = [&](Message& m) { return m.from == n1 && m.type != MessageType::kProposeResp; };
  c.inject(*copy);  // the duplicate reaches n1 late
  c.stabilize();
  auto r = c.result(n2, id);
  EXPECT_FALSE(r && r->outcome == ProposalOutcome::kFailedDefinite)
      << "an entry in n1's log (it may still commit) was reported as definitely failed";
}

TEST(Forwarding, NoLeaderIsADefiniteImmediateFailure) {
  Cluster c;
  auto r = c.raft(n2).propose(to_bytes("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotLeader);
}

TEST(Forwarding, RefusedByTheLeaderIsDefinite) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  ASSERT_TRUE(c.raft(n1).transfer_leadership(n3).ok());  // the leader refuses proposals now
  c.drop_if = [](Message& m) { return m.type == MessageType::kTimeoutNow; };
  ProposalId id = c.propose(n2, "x");
  c.stabilize();
  auto r = c.result(n2, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, ProposalOutcome::kFailedDefinite);
}

TEST(Forwarding, LostForwardIsReportedIndefinite) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.drop_if = [](Message& m) { return m.type == MessageType::kPropose; };
  ProposalId id = c.propose(n2, "x");
  c.run(2 * 10 + 2);
  auto r = c.result(n2, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, ProposalOutcome::kFailedIndefinite);
}

TEST(Forwarding, LeaderLossAfterAppendIsIndefinite) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n1);
  ProposalId id = c.propose(n1, "maybe");
  c.run(25);  // check-quorum: the leader steps down
  auto r = c.result(n1, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, ProposalOutcome::kFailedIndefinite);
}

}  // namespace
}  // namespace chorus::raft::testing
