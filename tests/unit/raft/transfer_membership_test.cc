// Leadership transfer (thesis §3.10) and membership changes (thesis §4: one server at a time,
// learners, removing the leader, the first-commit fix, refused unsafe changes).
#include <gtest/gtest.h>

#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

const NodeId n1(1), n2(2), n3(3), n4(4), n5(5);

TEST(Transfer, Thesis3_10_CaughtUpTargetTakesOver) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  Term term = c.raft(n1).term();
  ASSERT_TRUE(c.raft(n1).transfer_leadership(n2).ok());
  c.stabilize();
  EXPECT_EQ(c.leader(), n2);
  EXPECT_EQ(c.raft(n2).term(), term.next()) << "TimeoutNow skips pre-vote and the lease";
}

TEST(Transfer, LaggingTargetIsCaughtUpFirst) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  for (int i = 0; i < 5; ++i) c.propose(n1, "e" + std::to_string(i));
  c.stabilize();
  c.heal();
  ASSERT_TRUE(c.raft(n1).transfer_leadership(n3).ok());
  EXPECT_EQ(c.raft(n1).status().transferee, n3);
  EXPECT_EQ(c.raft(n1).propose(to_bytes("refused")).status().code(), StatusCode::kBusy);
  c.stabilize();
  EXPECT_EQ(c.leader(), n3);
  EXPECT_EQ(c.node(n3).state.size(), 5u);
}

TEST(Transfer, AbortsAfterAnElectionTimeout) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  c.tick(n2, 20);  // keep n2 out of any lease question
  ASSERT_TRUE(c.raft(n1).transfer_leadership(n3).ok());
  c.cut(n1, n3);
  for (int i = 0; i < 10; ++i) {
    c.tick(n1);
    c.tick(n2);
    c.stabilize();
  }
  EXPECT_TRUE(c.raft(n1).is_leader());
  EXPECT_EQ(c.raft(n1).status().transferee, kNoNode);
  EXPECT_TRUE(c.raft(n1).propose(to_bytes("ok again")).ok());
}

TEST(Transfer, RefusesNonVoters) {
  Cluster c(ClusterOptions{.voters = 3, .learners = 1});
  ASSERT_TRUE(c.elect(n1));
  EXPECT_EQ(c.raft(n1).transfer_leadership(n4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.raft(n2).transfer_leadership(n3).code(), StatusCode::kNotLeader);
}

TEST(Membership, AddLearnerPromoteThenRemoveTheLeader) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  for (int i = 0; i < 3; ++i) c.propose(n1, "e" + std::to_string(i));
  c.stabilize();
  c.add_node(n4);
  auto add = c.raft(n1).propose_membership({MembershipChangeType::kAddLearner, n4, ""});
  ASSERT_TRUE(add.ok()) << add.status().ToString();
  // Thesis §4.1: in effect once appended, visible as in flight until committed.
  EXPECT_TRUE(c.raft(n1).configuration().is_learner(n4));
  EXPECT_TRUE(c.raft(n1).status().config_change_in_flight.has_value());
  auto second = c.raft(n1).propose_membership({MembershipChangeType::kAddVoter, n5, ""});
  EXPECT_EQ(second.status().code(), StatusCode::kBusy) << "one change at a time";
  c.stabilize();
  EXPECT_FALSE(c.raft(n1).status().config_change_in_flight.has_value());
  EXPECT_EQ(c.node(n4).state.size(), 3u) << "the learner caught up";
  ASSERT_TRUE(c.raft(n1).propose_membership({MembershipChangeType::kPromoteLearner, n4, ""}).ok());
  c.stabilize();
  EXPECT_TRUE(c.raft(n4).configuration().is_voter(n4));
  // Thesis §4.2.2: remove the leader; it steps down once the change commits.
  ASSERT_TRUE(c.raft(n1).propose_membership({MembershipChangeType::kRemove, n1, ""}).ok());
  c.stabilize();
  EXPECT_FALSE(c.raft(n1).is_leader());
  c.run(3);
  NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode);
  EXPECT_NE(leader, n1);
  c.propose(leader, "after");
  c.stabilize();
  for (NodeId id : {n2, n3, n4}) EXPECT_EQ(c.node(id).state.back(), "after") << id;
  EXPECT_FALSE(c.raft(leader).configuration().contains(n1));
}

TEST(Membership, NewLeaderMustCommitInItsTermFirst) {
  Cluster fresh;
  Raft& f = fresh.raft(n1);
  while (f.role() == RoleKind::kFollower) f.tick();
  for (int i = 0; i < 20 && !f.is_leader(); ++i) {
    fresh.process_ready(n1);
    while (fresh.deliver_one() && !f.is_leader()) {
      fresh.process_ready(n2);
      fresh.process_ready(n3);
    }
  }
  ASSERT_TRUE(f.is_leader());
  auto r = f.propose_membership({MembershipChangeType::kAddLearner, n4, ""});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  fresh.stabilize();
  EXPECT_TRUE(f.propose_membership({MembershipChangeType::kAddLearner, n4, ""}).ok());
}

TEST(Membership, PromotionWaitsForTheLearnerToCatchUp) {
  Cluster c(ClusterOptions{.voters = 3, .learners = 1});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n4);
  c.propose(n1, "x");
  c.stabilize();
  auto r = c.raft(n1).propose_membership({MembershipChangeType::kPromoteLearner, n4, ""});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(Membership, UnsafeChangeUnderCommitQuorumIsRefused) {
  Cluster c(ClusterOptions{.policy = {QuorumPolicyKind::kExplicitCommit, 2}});
  ASSERT_TRUE(c.elect(n1));
  c.add_node(n4);
  auto r = c.raft(n1).propose_membership({MembershipChangeType::kAddVoter, n4, ""});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("need not intersect"), std::string::npos)
      << r.status().ToString();
  // A learner changes no quorum: fine.
  EXPECT_TRUE(c.raft(n1).propose_membership({MembershipChangeType::kAddLearner, n4, ""}).ok());
}

TEST(Membership, Thesis4_2_3_RemovedServerDoesNotDisrupt) {
  Cluster c(ClusterOptions{.voters = 4});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n4);  // n4 never learns it was removed
  ASSERT_TRUE(c.raft(n1).propose_membership({MembershipChangeType::kRemove, n4, ""}).ok());
  c.stabilize();
  ASSERT_FALSE(c.raft(n1).configuration().contains(n4));
  Term term = c.raft(n1).term();
  c.heal();
  for (int i = 0; i < 100; ++i) c.run(1);  // n4 times out again and again
  EXPECT_EQ(c.leader(), n1);
  EXPECT_EQ(c.raft(n1).term(), term) << "pre-vote kept the removed server from disrupting";
}

TEST(QuorumPolicies, GroupsNeedAMajorityInEveryGroup) {
  Cluster c(ClusterOptions{
      .voters = 4,
      .policy = {QuorumPolicyKind::kGroups, 0},
      .groups = {{n1, "cloud-a"}, {n2, "cloud-a"}, {n3, "cloud-b"}, {n4, "cloud-b"}}});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n4);
  c.propose(n1, "needs both of cloud-a and both of... a majority of each");
  c.stabilize();
  EXPECT_EQ(c.node(n1).state.size(), 0u) << "cloud-b has 1 of 2: no majority there";
  c.heal();
  c.run(2);
  EXPECT_EQ(c.node(n1).state.size(), 1u);
}

TEST(QuorumPolicies, FullReplicationCommitQuorum) {
  Cluster c(ClusterOptions{.policy = {QuorumPolicyKind::kExplicitCommit, 3}});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  c.propose(n1, "x");
  c.stabilize();
  EXPECT_EQ(c.node(n1).state.size(), 0u) << "q = 3 of 3: every node must store it";
  c.heal();
  c.run(2);
  EXPECT_EQ(c.node(n3).state.size(), 1u);
  // Elections need only max(majority, n - q + 1) = 2 votes.
  c.crash(n1);
  for (int i = 0; i < 60 && c.leader() == kNoNode; ++i) c.run(1);
  EXPECT_NE(c.leader(), kNoNode);
}

TEST(QuorumPolicies, SmallCommitQuorumNeedsLargeElectionQuorum) {
  Cluster c(ClusterOptions{.voters = 5, .policy = {QuorumPolicyKind::kExplicitCommit, 2}});
  ASSERT_TRUE(c.elect(n1));
  c.partition({n1, n2});  // q = 2: n1 and n2 alone commit
  c.propose(n1, "x");
  c.stabilize();
  EXPECT_EQ(c.node(n1).state.size(), 1u);
  // The other three cannot elect anyone: elections need n - q + 1 = 4 votes.
  for (int i = 0; i < 60; ++i) {
    for (NodeId id : {n3, n4, n5}) c.tick(id);
    c.stabilize();
  }
  for (NodeId id : {n3, n4, n5}) EXPECT_FALSE(c.raft(id).is_leader());
}

}  // namespace
}  // namespace chorus::raft::testing
