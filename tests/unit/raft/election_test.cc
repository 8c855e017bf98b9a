// Elections: Figure 2 "Rules for Servers" / RequestVote, §5.2, §5.4.1, thesis §9.6 (pre-vote),
// thesis §6.2 (check-quorum) and §4.2.3 (disruptive servers).
#include <gtest/gtest.h>

#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

const NodeId n1(1), n2(2), n3(3), n4(4), n5(5);

Message vote_request(NodeId from, NodeId to, uint64_t term, uint64_t last_index, uint64_t last_term,
                     MessageType type = MessageType::kVote) {
  return Message{.type = type,
                 .from = from,
                 .to = to,
                 .term = Term(term),
                 .index = LogIndex(last_index),
                 .log_term = Term(last_term)};
}

TEST(Election, Section5_2_FollowerTimesOutAndWins) {
  Cluster c;
  EXPECT_TRUE(c.elect(n1));
  EXPECT_EQ(c.leader(), n1);
  EXPECT_EQ(c.raft(n2).leader(), n1);
  EXPECT_EQ(c.raft(n3).leader(), n1);
  // §5.4.2 / §8: the no-op of the new term is committed everywhere.
  // Index 1 is the bootstrap configuration every initial member writes.
  EXPECT_EQ(c.raft(n1).log().committed(), LogIndex(2));
  EXPECT_EQ(c.raft(n1).log().at(LogIndex(1)).type, EntryType::kConfigChange);
  EXPECT_EQ(c.raft(n1).log().at(LogIndex(2)).type, EntryType::kNoop);
}

TEST(Election, RandomizedTimeoutsElectExactlyOneLeader) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Cluster c(ClusterOptions{.voters = 5, .seed = seed});
    for (int round = 0; round < 60 && c.leader() == kNoNode; ++round) c.run(1);
    ASSERT_NE(c.leader(), kNoNode) << "seed " << seed;
  }
}

TEST(Election, Figure2RequestVote_GrantsAtMostOneVotePerTerm) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) { cfg.check_quorum = false; }});
  Raft& r = c.raft(n1);
  ASSERT_TRUE(r.step(vote_request(n2, n1, 2, 1, 1)).ok());
  ASSERT_TRUE(r.step(vote_request(n3, n1, 2, 1, 1)).ok());
  Ready rd = r.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, n2);
  ASSERT_EQ(rd.messages_after_persist.size(), 2u) << "vote answers wait for the durable vote";
  EXPECT_FALSE(rd.messages_after_persist[0].reject);
  EXPECT_TRUE(rd.messages_after_persist[1].reject);
  EXPECT_TRUE(rd.messages.empty());
}

TEST(Election, Section5_4_1_RefusesCandidateWithStalerLog) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) { cfg.check_quorum = false; }});
  ASSERT_TRUE(c.elect(n1));
  c.propose(n1, "x");
  c.stabilize();
  Raft& r = c.raft(n2);  // log: (1,t1) (2,t2) (3,t2)
  // Lower last term: refused. Higher last term: granted.
  ASSERT_TRUE(r.step(vote_request(n3, n2, 5, 9, 1)).ok());
  Ready rd = r.ready();
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_TRUE(rd.messages_after_persist[0].reject);
  ASSERT_TRUE(r.step(vote_request(n3, n2, 6, 1, 3)).ok());
  rd = r.ready();
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_FALSE(rd.messages_after_persist[0].reject);
}

TEST(Election, CandidateRequestsVotesOnlyAfterItsTermIsDurable) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) { cfg.pre_vote = false; }});
  Raft& r = c.raft(n1);
  while (r.role() == RoleKind::kFollower) r.tick();
  Ready rd = r.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, Term(2));
  EXPECT_EQ(rd.hard_state->vote, n1);
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_EQ(rd.messages_after_persist.size(), 2u);
}

TEST(Election, ReElectionAfterLeaderLoss) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.crash(n1);
  for (int i = 0; i < 60 && (c.leader() == kNoNode); ++i) c.run(1);
  NodeId leader = c.leader();
  ASSERT_NE(leader, kNoNode);
  EXPECT_NE(leader, n1);
  EXPECT_GT(c.raft(leader).term(), Term(1));
  c.restart(n1);
  c.run(5);
  EXPECT_EQ(c.raft(n1).leader(), leader);
}

TEST(Election, Thesis9_6_PreVoteKeepsAPartitionedNodeFromRaisingTerms) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  Term term = c.raft(n1).term();
  c.isolate(n3);
  for (int i = 0; i < 100; ++i) c.run(1);
  EXPECT_EQ(c.raft(n3).term(), term) << "pre-votes never succeed, so the term stays";
  c.heal();
  c.run(5);
  EXPECT_EQ(c.leader(), n1) << "the rejoining node does not depose the leader";
  EXPECT_EQ(c.raft(n1).term(), term);
  EXPECT_EQ(c.raft(n3).leader(), n1);
}

TEST(Election, WithoutPreVoteAPartitionedNodeDisrupts) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  }});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  for (int i = 0; i < 40; ++i) c.run(1);
  EXPECT_GT(c.raft(n3).term(), c.raft(n1).term());
  c.heal();
  for (int i = 0; i < 40; ++i) c.run(1);
  ASSERT_NE(c.leader(), kNoNode);
  EXPECT_GT(c.raft(c.leader()).term(), Term(1)) << "the old leader was deposed";
}

TEST(Election, Thesis6_2_CheckQuorumLeaderStepsDown) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n1);
  for (int i = 0; i < 2 * 10 + 1; ++i) c.run(1);
  EXPECT_FALSE(c.raft(n1).is_leader()) << "no quorum heard from in an election timeout";
  EXPECT_EQ(c.raft(n1).leader(), kNoNode);
}

TEST(Election, Thesis4_2_3_LeaseIgnoresVoteRequestsWhileLeaderIsHeard) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  Term term = c.raft(n2).term();
  ASSERT_TRUE(c.raft(n2).step(vote_request(n3, n2, term.value() + 5, 100, 100)).ok());
  EXPECT_EQ(c.raft(n2).term(), term) << "ignored: it heard from its leader recently";
  Message forced = vote_request(n3, n2, term.value() + 5, 100, 100);
  forced.transfer = true;  // a leadership transfer overrides the lease
  ASSERT_TRUE(c.raft(n2).step(forced).ok());
  EXPECT_EQ(c.raft(n2).term(), Term(term.value() + 5));
}

TEST(Election, StaleLeaderLearnsTheNewTermAndStepsDown) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) { cfg.check_quorum = false; }});
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n1);
  for (int i = 0; i < 60 && !(c.raft(n2).is_leader() || c.raft(n3).is_leader()); ++i) {
    c.tick(n2);
    c.tick(n3);
    c.stabilize();
  }
  ASSERT_TRUE(c.raft(n1).is_leader()) << "without check-quorum it does not know yet";
  c.heal();
  c.run(3);
  EXPECT_FALSE(c.raft(n1).is_leader());
  EXPECT_NE(c.leader(), n1);
}

TEST(Election, LearnersNeverCampaign) {
  Cluster c(ClusterOptions{.voters = 3, .learners = 1});
  ASSERT_TRUE(c.elect(n1));
  c.crash(n1);
  c.crash(n2);
  for (int i = 0; i < 100; ++i) c.run(1);
  EXPECT_EQ(c.raft(n4).role(), RoleKind::kFollower);
}

TEST(Election, SingleNodeElectsItself) {
  Cluster c(ClusterOptions{.voters = 1});
  ASSERT_TRUE(c.elect(n1));
  c.propose(n1, "a");
  c.stabilize();
  EXPECT_EQ(c.node(n1).state, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace chorus::raft::testing
