// Quorum math, checked exhaustively against brute force over every subset of small clusters.
#include "chorus/raft/quorum.h"

#include <gtest/gtest.h>

#include "chorus/raft/config.h"

namespace chorus::raft {
namespace {

Configuration voters(size_t n, const std::vector<std::string>& labels = {}) {
  Configuration c;
  for (size_t i = 1; i <= n; ++i) {
    c.voters.insert(NodeId(i));
    if (!labels.empty()) c.groups[NodeId(i)] = labels[i - 1];
  }
  return c;
}

std::set<NodeId> subset(const Configuration& c, uint32_t mask) {
  std::set<NodeId> out;
  size_t bit = 0;
  for (NodeId id : c.voters) {
    if (mask & (1u << bit++)) out.insert(id);
  }
  return out;
}

bool is_commit_quorum(const QuorumPolicy& p, const Configuration& c, const std::set<NodeId>& s) {
  return commit_quorum_value(p, c, [&](NodeId id) -> uint64_t { return s.contains(id); }) > 0;
}

bool is_election_quorum(const QuorumPolicy& p, const Configuration& c, const std::set<NodeId>& s) {
  std::map<NodeId, bool> votes;
  for (NodeId id : s) votes[id] = true;
  return vote_result(p, c, votes) == VoteResult::kWon;
}

bool intersect(const std::set<NodeId>& a, const std::set<NodeId>& b) {
  for (NodeId id : a) {
    if (b.contains(id)) return true;
  }
  return false;
}

// Every election quorum meets every commit quorum and every other election quorum.
void expect_safe(const QuorumPolicy& p, const Configuration& c) {
  const uint32_t all = 1u << c.voters.size();
  for (uint32_t a = 0; a < all; ++a) {
    auto sa = subset(c, a);
    if (!is_election_quorum(p, c, sa)) continue;
    for (uint32_t b = 0; b < all; ++b) {
      auto sb = subset(c, b);
      if (is_commit_quorum(p, c, sb) || is_election_quorum(p, c, sb)) {
        ASSERT_TRUE(intersect(sa, sb)) << describe(p) << " n=" << c.voters.size();
      }
    }
  }
}

TEST(Quorum, MajoritySizes) {
  EXPECT_EQ(majority(1), 1u);
  EXPECT_EQ(majority(2), 2u);
  EXPECT_EQ(majority(3), 2u);
  EXPECT_EQ(majority(4), 3u);
  EXPECT_EQ(majority(5), 3u);
}

TEST(Quorum, ExplicitCommitQuorumDerivesElectionQuorum) {
  // election = max(majority, n - q + 1)
  QuorumPolicy p{QuorumPolicyKind::kExplicitCommit, 3};
  EXPECT_EQ(election_quorum_size(p, 3), 2u);  // q = n: full replication, majority elects
  EXPECT_EQ(election_quorum_size(p, 5), 3u);
  p.commit_quorum = 2;
  EXPECT_EQ(election_quorum_size(p, 5), 4u);
  p.commit_quorum = 1;
  EXPECT_EQ(election_quorum_size(p, 5), 5u);
}

TEST(Quorum, EveryPolicyIsSafeForEverySmallCluster) {
  for (size_t n = 1; n <= 7; ++n) {
    expect_safe(QuorumPolicy{}, voters(n));
    for (uint32_t q = 1; q <= n; ++q) {
      expect_safe(QuorumPolicy{QuorumPolicyKind::kExplicitCommit, q}, voters(n));
    }
  }
  QuorumPolicy groups{QuorumPolicyKind::kGroups, 0};
  expect_safe(groups, voters(4, {"a", "a", "b", "b"}));
  expect_safe(groups, voters(5, {"a", "a", "a", "b", "b"}));
  expect_safe(groups, voters(6, {"a", "b", "c", "a", "b", "c"}));
  expect_safe(groups, voters(3, {"a", "b", "b"}));
}

TEST(Quorum, CommitQuorumValueMatchesBruteForce) {
  // commit_quorum_value is the largest v held by some commit quorum (all members >= v).
  std::vector<std::pair<QuorumPolicy, Configuration>> cases = {
      {QuorumPolicy{}, voters(5)},
      {QuorumPolicy{QuorumPolicyKind::kExplicitCommit, 4}, voters(5)},
      {QuorumPolicy{QuorumPolicyKind::kGroups, 0}, voters(5, {"a", "a", "b", "b", "b"})}};
  for (const auto& [p, c] : cases) {
    for (uint32_t seed = 0; seed < 3125; ++seed) {  // every assignment of values 0..4
      std::map<NodeId, uint64_t> value;
      uint32_t s = seed;
      for (NodeId id : c.voters) {
        value[id] = s % 5;
        s /= 5;
      }
      uint64_t expected = 0;
      for (uint32_t mask = 0; mask < 32; ++mask) {
        auto set = subset(c, mask);
        if (!is_commit_quorum(p, c, set) || set.empty()) continue;
        uint64_t lowest = UINT64_MAX;
        for (NodeId id : set) lowest = std::min(lowest, value[id]);
        expected = std::max(expected, lowest);
      }
      ASSERT_EQ(commit_quorum_value(p, c, [&](NodeId id) { return value[id]; }), expected)
          << describe(p);
    }
  }
}

TEST(Quorum, GroupsNeedAMajorityInEveryGroup) {
  QuorumPolicy p{QuorumPolicyKind::kGroups, 0};
  Configuration c = voters(4, {"cloud-a", "cloud-a", "cloud-b", "cloud-b"});
  EXPECT_FALSE(is_commit_quorum(p, c, {NodeId(1), NodeId(2), NodeId(3)}));  // 1 of 2 in b
  EXPECT_TRUE(is_commit_quorum(p, c, {NodeId(1), NodeId(2), NodeId(3), NodeId(4)}));
  Configuration c6 = voters(6, {"a", "a", "a", "b", "b", "b"});
  EXPECT_TRUE(is_commit_quorum(p, c6, {NodeId(1), NodeId(2), NodeId(4), NodeId(5)}));
  EXPECT_FALSE(is_commit_quorum(p, c6, {NodeId(1), NodeId(2), NodeId(3), NodeId(4)}));
}

TEST(Quorum, VoteResultReportsLossEarly) {
  QuorumPolicy p;
  Configuration c = voters(5);
  std::map<NodeId, bool> votes{{NodeId(1), true}, {NodeId(2), false}, {NodeId(3), false}};
  EXPECT_EQ(vote_result(p, c, votes), VoteResult::kPending);
  votes[NodeId(4)] = false;
  EXPECT_EQ(vote_result(p, c, votes), VoteResult::kLost);
  votes = {{NodeId(1), true}, {NodeId(2), true}, {NodeId(3), true}};
  EXPECT_EQ(vote_result(p, c, votes), VoteResult::kWon);
}

TEST(Quorum, ValidatePolicyExplainsProblems) {
  QuorumPolicy groups{QuorumPolicyKind::kGroups, 0};
  Status s = validate_policy(groups, voters(3));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("group label"), std::string::npos) << s.ToString();
  Status q = validate_policy(QuorumPolicy{QuorumPolicyKind::kExplicitCommit, 4}, voters(3));
  EXPECT_NE(q.message().find("exceeds"), std::string::npos) << q.ToString();
  EXPECT_FALSE(validate_policy(QuorumPolicy{QuorumPolicyKind::kExplicitCommit, 0}, voters(3)).ok());
  EXPECT_TRUE(validate_policy(QuorumPolicy{QuorumPolicyKind::kExplicitCommit, 3}, voters(3)).ok());
}

// check_transition agrees with brute force: it accepts exactly the one-step changes where
// every quorum pair across the two configurations intersects.
TEST(Quorum, TransitionCheckMatchesBruteForce) {
  auto brute_safe = [](const QuorumPolicy& p, const Configuration& a, const Configuration& b) {
    Configuration all = a;
    all.voters.insert(b.voters.begin(), b.voters.end());
    const uint32_t n = 1u << all.voters.size();
    for (uint32_t x = 0; x < n; ++x) {
      auto sx = subset(all, x);
      std::set<NodeId> in_a, in_b;
      for (NodeId id : sx) {
        if (a.voters.contains(id)) in_a.insert(id);
      }
      bool ea = is_election_quorum(p, a, in_a);
      bool ca = is_commit_quorum(p, a, in_a);
      for (uint32_t y = 0; y < n; ++y) {
        auto sy = subset(all, y);
        std::set<NodeId> yb;
        for (NodeId id : sy) {
          if (b.voters.contains(id)) yb.insert(id);
        }
        bool eb = is_election_quorum(p, b, yb);
        bool cb = is_commit_quorum(p, b, yb);
        if (((ea && (cb || eb)) || (ca && eb)) && !intersect(in_a, yb)) return false;
      }
    }
    return true;
  };
  for (size_t n = 1; n <= 5; ++n) {
    for (uint32_t q = 0; q <= n + 1; ++q) {
      QuorumPolicy p = q == 0 ? QuorumPolicy{} : QuorumPolicy{QuorumPolicyKind::kExplicitCommit, q};
      if (!validate_policy(p, voters(n)).ok()) continue;
      Configuration grown = voters(n + 1);
      if (validate_policy(p, grown).ok()) {
        EXPECT_EQ(check_transition(p, voters(n), grown).ok(), brute_safe(p, voters(n), grown))
            << describe(p) << " add to n=" << n;
      }
      if (n > 1 && validate_policy(p, voters(n - 1)).ok()) {
        EXPECT_EQ(check_transition(p, voters(n), voters(n - 1)).ok(),
                  brute_safe(p, voters(n), voters(n - 1)))
            << describe(p) << " remove from n=" << n;
      }
    }
  }
  // Majority: one server at a time is always safe (thesis §4.2).
  for (size_t n = 1; n <= 6; ++n) EXPECT_TRUE(check_transition({}, voters(n), voters(n + 1)).ok());
  // Commit quorum 2 of 3 -> 2 of 4: an old election pair {1,2} and a new commit pair {3,4}
  // are disjoint: refused with an explanation.
  Status s = check_transition({QuorumPolicyKind::kExplicitCommit, 2}, voters(3), voters(4));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("need not intersect"), std::string::npos) << s.ToString();
}

TEST(Config, ValidateRefusesUnsafeCombinations) {
  Config c;
  c.id = NodeId(1);
  c.voters = {NodeId(1), NodeId(2), NodeId(3)};
  EXPECT_TRUE(c.validate().ok()) << c.validate().ToString();
  Config lease = c;
  lease.lease_reads = true;
  lease.check_quorum = false;
  EXPECT_NE(lease.validate().message().find("check_quorum"), std::string::npos);
  lease.check_quorum = true;
  lease.lease_clock_drift_ticks = lease.election_tick;
  EXPECT_FALSE(lease.validate().ok());
  Config ticks = c;
  ticks.heartbeat_tick = ticks.election_tick;
  EXPECT_FALSE(ticks.validate().ok());
  Config groups = c;
  groups.quorum.kind = QuorumPolicyKind::kGroups;
  EXPECT_FALSE(groups.validate().ok());
  groups.groups = {{NodeId(1), "a"}, {NodeId(2), "a"}, {NodeId(3), "b"}};
  EXPECT_TRUE(groups.validate().ok());
  Config q = c;
  q.quorum = {QuorumPolicyKind::kExplicitCommit, 5};
  EXPECT_FALSE(q.validate().ok());
  Config zero = c;
  zero.id = NodeId(0);
  EXPECT_FALSE(zero.validate().ok());
}

}  // namespace
}  // namespace chorus::raft
