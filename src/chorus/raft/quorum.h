// Quorum math for the three quorum policies, kept apart from the protocol so it can be tested
// exhaustively.
//
// Two kinds of quorum matter (Howard et al., "Flexible Paxos"; thesis §3.6 argues safety from
// their intersection):
//  - a commit quorum: the servers whose copy of an entry makes it committed, also used to
//    confirm leadership for reads (thesis §6.4) and for check-quorum (thesis §6.2);
//  - an election quorum: the servers whose votes elect a leader.
// Safety needs every election quorum to meet every commit quorum (Leader Completeness, §5.4)
// and every two election quorums to meet (Election Safety, §5.2).
//
// Policies:
//  (a) kMajority: both quorums are a majority of the voters.
//  (b) kGroups: every voter has a group label; both quorums need a majority in EVERY group (so
//      two such sets meet inside any one group).
//  (c) kExplicitCommit: commit quorum = q voters; election quorum = max(majority, n - q + 1),
//      so that q + election > n (every commit quorum meets every election quorum) and two
//      election quorums meet (each is a majority).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "chorus/base/status.h"
#include "chorus/raft/types.h"

namespace chorus::raft {

enum class QuorumPolicyKind : uint8_t { kMajority = 0, kGroups = 1, kExplicitCommit = 2 };

struct QuorumPolicy {
  QuorumPolicyKind kind = QuorumPolicyKind::kMajority;
  uint32_t commit_quorum = 0;  // q, for kExplicitCommit only
};

constexpr size_t majority(size_t n) { return n / 2 + 1; }

// Size of an election quorum among n voters (size-based policies only).
size_t election_quorum_size(const QuorumPolicy& policy, size_t n);
// Size of a commit quorum among n voters (size-based policies only).
size_t commit_quorum_size(const QuorumPolicy& policy, size_t n);

// Whether `config` can be used under `policy`: labels present for kGroups, 1 <= q <= n for
// kExplicitCommit. An empty voter set is allowed (a node waiting to join).
[[nodiscard]] Status validate_policy(const QuorumPolicy& policy, const Configuration& config);

// Whether moving from `from` to `to` in one step is safe (thesis §4.2: one server at a time is
// safe for majorities; other policies can break it): every election quorum of either
// configuration must meet every commit quorum and every election quorum of the other.
[[nodiscard]] Status check_transition(const QuorumPolicy& policy, const Configuration& from,
                                      const Configuration& to);

using VoterValue = std::function<uint64_t(NodeId)>;

// The largest v such that a commit quorum of voters all have value >= v (0 if none). With
// value = match index this is the commit candidate (§5.3); with value = 0/1 it answers "is
// this set a commit quorum"; with value = the tick a lease round was sent it dates a lease.
uint64_t commit_quorum_value(const QuorumPolicy& policy, const Configuration& config,
                             const VoterValue& value);

enum class VoteResult : uint8_t { kPending, kWon, kLost };

// Tallies an election (granted = true / rejected = false; voters missing from `votes` have not
// answered). kLost once no outcome of the missing votes can win.
VoteResult vote_result(const QuorumPolicy& policy, const Configuration& config,
                       const std::map<NodeId, bool>& votes);

std::string describe(const QuorumPolicy& policy);

}  // namespace chorus::raft
