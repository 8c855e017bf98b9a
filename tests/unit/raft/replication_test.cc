// Replication and commitment: Figure 2 AppendEntries, §5.3 (log repair, fast backtracking),
// §5.4.2 / Figure 8 (never commit an older term's entry by counting), pipelining, and the
// leader counting itself only up to its persisted index.
#include <gtest/gtest.h>

#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

const NodeId n1(1), n2(2), n3(3), n4(4), n5(5);

Entry normal(uint64_t index, uint64_t term, const std::string& data = "") {
  return Entry{Term(term), LogIndex(index), EntryType::kNormal,
               kNoNode,    ProposalId(0),   to_bytes(data)};
}

TEST(Replication, Section5_3_EntriesReplicateAndApplyEverywhere) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  for (int i = 0; i < 10; ++i) c.propose(n1, "v" + std::to_string(i));
  c.stabilize();
  for (NodeId id : c.ids()) {
    ASSERT_EQ(c.node(id).state.size(), 10u) << id;
    EXPECT_EQ(c.node(id).state.back(), "v9");
  }
}

TEST(Replication, LeaderCountsItselfOnlyUpToItsPersistedIndex) {
  Config cfg;
  cfg.id = n1;
  cfg.voters = {n1};
  Raft r(cfg, Bootstrap{});
  while (!r.is_leader()) r.tick();
  Ready rd = r.ready();
  ASSERT_EQ(rd.entries.size(), 2u);  // the bootstrap configuration and the no-op
  EXPECT_EQ(r.log().committed(), LogIndex(1)) << "the no-op is not durable yet: not counted";
  r.on_persisted(rd.entries.back().index, rd.entries.back().term);
  EXPECT_EQ(r.log().committed(), LogIndex(2));
  // A stale acknowledgement for an overwritten term changes nothing.
  r.on_persisted(LogIndex(1), Term(99));
  r.check_invariants();
}

TEST(Replication, MultipleOutstandingReadysAreSafe) {
  Config cfg;
  cfg.id = n1;
  cfg.voters = {n1};
  Raft r(cfg, Bootstrap{});
  while (!r.is_leader()) r.tick();
  Ready first = r.ready();
  ASSERT_TRUE(r.propose(to_bytes("a")).ok());
  Ready second = r.ready();  // taken before the first is durable
  ASSERT_EQ(second.entries.size(), 1u);
  EXPECT_TRUE(second.committed_entries.empty());
  r.on_persisted(first.entries.back().index, first.entries.back().term);
  EXPECT_EQ(r.log().committed(), LogIndex(2));
  r.on_persisted(second.entries.back().index, second.entries.back().term);
  EXPECT_EQ(r.log().committed(), LogIndex(3));
  Ready third = r.ready();
  ASSERT_EQ(third.committed_entries.size(), 3u);
  ASSERT_EQ(third.proposal_results.size(), 1u);
  EXPECT_EQ(third.proposal_results[0].outcome, ProposalOutcome::kCommitted);
  EXPECT_EQ(third.proposal_results[0].index, LogIndex(3));
}

TEST(Replication, FollowerAcksOnlyAfterPersisting) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.propose(n1, "x");
  Ready leader_rd = c.raft(n1).ready();
  ASSERT_FALSE(leader_rd.messages.empty()) << "appends leave in parallel with the leader's fsync";
  for (const Message& m : leader_rd.messages) {
    if (m.to == n2) {
      ASSERT_TRUE(c.raft(n2).step(m).ok());
    }
  }
  Ready rd = c.raft(n2).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.messages.empty());
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_EQ(rd.messages_after_persist[0].type, MessageType::kAppendResp);
}

TEST(Replication, Section5_3_LogRepairAfterPartition) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n1);
  // The old leader appends entries nobody else gets.
  for (int i = 0; i < 30; ++i) (void)c.raft(n1).propose(to_bytes("lost" + std::to_string(i)));
  c.stabilize();
  // The others stop hearing from it, elect a new leader and commit different entries.
  c.tick(n3, 10);
  ASSERT_TRUE(c.elect(n2));
  for (int i = 0; i < 5; ++i) c.propose(n2, "kept" + std::to_string(i));
  c.stabilize();
  uint64_t rejects = 0;
  c.drop_if = [&](Message& m) {
    rejects += m.type == MessageType::kAppendResp && m.reject;
    return false;
  };
  c.heal();
  c.run(5);
  EXPECT_EQ(c.leader(), n2);
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.node(id).state,
              (std::vector<std::string>{"kept0", "kept1", "kept2", "kept3", "kept4"}));
  }
  // Fast backtracking (§5.3): the 30 conflicting entries of term 1 are skipped in one step.
  EXPECT_LE(rejects, 3u);
  // The old leader's proposals were reported as maybe-failed, never silently dropped.
  EXPECT_EQ(c.node(n1).results.size(), 30u);
  for (const ProposalResult& r : c.node(n1).results) {
    EXPECT_EQ(r.outcome, ProposalOutcome::kFailedIndefinite);
  }
}

TEST(Replication, PipelinedWithinTheInflightWindow) {
  Cluster c(ClusterOptions{.tweak = [](Config& cfg) {
    cfg.max_inflight_msgs = 3;
    cfg.max_entries_bytes_per_msg = 30;  // one entry per append
  }});
  ASSERT_TRUE(c.elect(n1));
  for (int i = 0; i < 10; ++i) c.propose(n1, "e" + std::to_string(i));
  c.process_ready(n1);
  size_t to_n2 = 0;
  for (const Message& m : c.in_flight()) {
    to_n2 += m.type == MessageType::kAppend && m.to == n2 && !m.entries.empty();
  }
  EXPECT_EQ(to_n2, 3u) << "replicate state pipelines up to max_inflight_msgs appends";
  c.stabilize();
  EXPECT_EQ(c.node(n2).state.size(), 10u);
}

TEST(Replication, LostAppendsAreRepaired) {
  Cluster c;
  ASSERT_TRUE(c.elect(n1));
  int dropped = 0;
  c.drop_if = [&](Message& m) {
    return m.type == MessageType::kAppend && m.to == n3 && dropped++ < 3;
  };
  for (int i = 0; i < 5; ++i) {
    c.propose(n1, "e" + std::to_string(i));
    c.stabilize();
  }
  c.run(3);
  EXPECT_EQ(c.node(n3).state.size(), 5u);
}

// Figure 8: an entry from an earlier term stored on a majority is not committed by counting;
// only once an entry of the leader's own term is (§5.4.2).
class Figure8 : public ::testing::Test {
 protected:
  Figure8()
      : c(ClusterOptions{.voters = 5, .tweak = [](Config& cfg) {
                           cfg.pre_vote = false;
                           cfg.check_quorum = false;
                           cfg.max_entries_bytes_per_msg =
                               1;  // one entry per append, to drop precisely
                         }}) {
    // (b): S1 led term 2 and gave index 2 to S2; S5 led term 3 with its own index 2, voted for
    // by S3 and S4. Index 1 (term 1) is committed everywhere.
    const Entry e1 = normal(1, 1, "one");
    set(n1, 2, n1, {e1, normal(2, 2, "from-term-2")});
    set(n2, 2, n1, {e1, normal(2, 2, "from-term-2")});
    set(n3, 3, n5, {e1});
    set(n4, 3, n5, {e1});
    set(n5, 3, n5, {e1, normal(2, 3, "from-term-3")});
  }
  void set(NodeId id, uint64_t term, NodeId vote, std::vector<Entry> entries) {
    c.node(id).disk.hard_state = HardState{Term(term), vote, LogIndex(1)};
    c.node(id).disk.entries = std::move(entries);
    c.restart(id);
  }
  Cluster c;
};

TEST_F(Figure8, OlderTermEntryOnAMajorityIsNotCommitted) {
  // (c): S1 wins term 4 (S2, S3, S4) and copies index 2 to S3, but not its term-4 entry.
  c.drop_if = [](Message& m) {
    if (m.type != MessageType::kAppend) return false;
    if (m.to == n4 || m.to == n5) return true;
    std::erase_if(m.entries, [](const Entry& e) { return e.term == Term(4); });
    return false;
  };
  ASSERT_TRUE(c.elect(n1));
  ASSERT_EQ(c.raft(n1).term(), Term(4));
  c.stabilize();
  ASSERT_EQ(c.raft(n3).log().term(LogIndex(2)), Term(2)) << "index 2 is on S1, S2, S3";
  RaftStatus s1 = c.raft(n1).status();
  size_t known = 0;
  for (const PeerStatus& p : s1.peers) known += p.match >= LogIndex(2);
  EXPECT_EQ(known, 2u) << "the leader knows S2 and S3 hold index 2";
  EXPECT_EQ(c.raft(n1).log().committed(), LogIndex(1)) << "§5.4.2: not committed by counting";
  // (d): S1 crashes; S5 is elected (its last term 3 beats 2) and overwrites index 2.
  c.crash(n1);
  c.drop_if = nullptr;
  ASSERT_TRUE(c.elect(n5));
  c.stabilize();
  for (NodeId id : {n2, n3, n4, n5}) {
    EXPECT_EQ(c.raft(id).log().term(LogIndex(2)), Term(3)) << id;
    EXPECT_EQ(c.node(id).state, (std::vector<std::string>{"one", "from-term-3"})) << id;
  }
}

TEST_F(Figure8, CommittingACurrentTermEntryCommitsThePreviousOnes) {
  // (e): S1 replicates an entry of its own term to a majority: index 2 commits with it.
  c.drop_if = [](Message& m) { return m.to == n5; };
  ASSERT_TRUE(c.elect(n1));
  c.stabilize();
  EXPECT_EQ(c.raft(n1).log().committed(), LogIndex(3));
  EXPECT_EQ(c.node(n1).state, (std::vector<std::string>{"one", "from-term-2"}));
  EXPECT_EQ(c.node(n3).state, (std::vector<std::string>{"one", "from-term-2"}));
}

}  // namespace
}  // namespace chorus::raft::testing
