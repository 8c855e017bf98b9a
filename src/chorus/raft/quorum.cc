#include "chorus/raft/quorum.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace chorus::raft {
namespace {

std::map<std::string, std::set<NodeId>> voters_by_group(const Configuration& config) {
  std::map<std::string, std::set<NodeId>> groups;
  for (NodeId id : config.voters) {
    auto it = config.groups.find(id);
    groups[it == config.groups.end() ? std::string() : it->second].insert(id);
  }
  return groups;
}

// The k-th largest value among `ids` (k >= 1), or 0 if there are fewer than k.
uint64_t kth_largest(const std::set<NodeId>& ids, size_t k, const VoterValue& value) {
  if (k == 0 || k > ids.size()) return 0;
  std::vector<uint64_t> values;
  values.reserve(ids.size());
  for (NodeId id : ids) values.push_back(value(id));
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<>());
  return values[k - 1];
}

VoteResult tally(const std::set<NodeId>& ids, size_t needed, const std::map<NodeId, bool>& votes) {
  size_t granted = 0;
  size_t rejected = 0;
  for (NodeId id : ids) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  if (needed == 0 || needed > ids.size()) return VoteResult::kLost;
  if (granted >= needed) return VoteResult::kWon;
  if (ids.size() - rejected < needed) return VoteResult::kLost;
  return VoteResult::kPending;
}

// The fewest servers a set of `a` servers from `from` and a set of `b` from `to` must share.
size_t min_overlap(const std::set<NodeId>& from, size_t a, const std::set<NodeId>& to, size_t b) {
  size_t both = 0;
  for (NodeId id : from) both += to.contains(id) ? 1 : 0;
  size_t a_inside = a > from.size() - both ? a - (from.size() - both) : 0;
  size_t b_inside = b > to.size() - both ? b - (to.size() - both) : 0;
  return a_inside + b_inside > both ? a_inside + b_inside - both : 0;
}

std::string quorum_pair_error(const char* first, size_t a, const char* second, size_t b,
                              const Configuration& from, const Configuration& to,
                              const QuorumPolicy& policy) {
  std::ostringstream out;
  out << "unsafe membership change under " << describe(policy) << ": going from "
      << from.voters.size() << " to " << to.voters.size() << " voters, " << first << " (" << a
      << " servers) and " << second << " (" << b
      << " servers) need not intersect, so two leaders or a lost commit become possible";
  return out.str();
}

}  // namespace

size_t election_quorum_size(const QuorumPolicy& policy, size_t n) {
  if (policy.kind == QuorumPolicyKind::kExplicitCommit && policy.commit_quorum <= n) {
    return std::max(majority(n), n - policy.commit_quorum + 1);
  }
  return majority(n);
}

size_t commit_quorum_size(const QuorumPolicy& policy, size_t n) {
  if (policy.kind == QuorumPolicyKind::kExplicitCommit) return policy.commit_quorum;
  return majority(n);
}

Status validate_policy(const QuorumPolicy& policy, const Configuration& config) {
  CHORUS_TRY(config.check());
  std::ostringstream out;
  switch (policy.kind) {
    case QuorumPolicyKind::kMajority:
      return Status::Ok();
    case QuorumPolicyKind::kGroups:
      for (NodeId id : config.members()) {
        auto it = config.groups.find(id);
        if (it == config.groups.end() || it->second.empty()) {
          out << "quorum policy 'groups': node " << id
              << " has no group label; every node needs one, since commit and election each "
                 "need a majority in every group";
          return Status::InvalidArgument(out.str());
        }
      }
      return Status::Ok();
    case QuorumPolicyKind::kExplicitCommit:
      if (policy.commit_quorum == 0) {
        return Status::InvalidArgument(
            "quorum policy 'commit quorum': q must be at least 1 (q = 0 would commit entries "
            "that no server stores)");
      }
      if (!config.voters.empty() && policy.commit_quorum > config.voters.size()) {
        out << "quorum policy 'commit quorum': q = " << policy.commit_quorum << " exceeds the "
            << config.voters.size() << " voters, so nothing could ever commit";
        return Status::InvalidArgument(out.str());
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("unknown quorum policy");
}

Status check_transition(const QuorumPolicy& policy, const Configuration& from,
                        const Configuration& to) {
  CHORUS_TRY(validate_policy(policy, to));
  if (from.voters.empty() || to.voters.empty()) {
    return Status::InvalidArgument("a configuration change may not leave no voters");
  }
  if (policy.kind == QuorumPolicyKind::kGroups) {
    // Both quorums are "a majority in every group": two such sets meet if, in some group
    // present in both configurations, the two majorities must overlap.
    auto old_groups = voters_by_group(from);
    auto new_groups = voters_by_group(to);
    for (const auto& [label, old_ids] : old_groups) {
      auto it = new_groups.find(label);
      if (it == new_groups.end()) continue;
      if (min_overlap(old_ids, majority(old_ids.size()), it->second, majority(it->second.size())) >
          0) {
        return Status::Ok();
      }
    }
    return Status::InvalidArgument(quorum_pair_error("a quorum of the old configuration", 0,
                                                     "a quorum of the new", 0, from, to, policy));
  }
  size_t n_old = from.voters.size();
  size_t n_new = to.voters.size();
  size_t e_old = election_quorum_size(policy, n_old);
  size_t e_new = election_quorum_size(policy, n_new);
  size_t c_old = commit_quorum_size(policy, n_old);
  size_t c_new = commit_quorum_size(policy, n_new);
  if (min_overlap(from.voters, e_old, to.voters, c_new) == 0) {
    return Status::InvalidArgument(quorum_pair_error(
        "an old election quorum", e_old, "a new commit quorum", c_new, from, to, policy));
  }
  if (min_overlap(from.voters, c_old, to.voters, e_new) == 0) {
    return Status::InvalidArgument(quorum_pair_error(
        "an old commit quorum", c_old, "a new election quorum", e_new, from, to, policy));
  }
  if (min_overlap(from.voters, e_old, to.voters, e_new) == 0) {
    return Status::InvalidArgument(quorum_pair_error(
        "an old election quorum", e_old, "a new election quorum", e_new, from, to, policy));
  }
  return Status::Ok();
}

uint64_t commit_quorum_value(const QuorumPolicy& policy, const Configuration& config,
                             const VoterValue& value) {
  if (config.voters.empty()) return 0;
  if (policy.kind != QuorumPolicyKind::kGroups) {
    return kth_largest(config.voters, commit_quorum_size(policy, config.voters.size()), value);
  }
  uint64_t result = UINT64_MAX;
  for (const auto& [label, ids] : voters_by_group(config)) {
    result = std::min(result, kth_largest(ids, majority(ids.size()), value));
  }
  return result;
}

VoteResult vote_result(const QuorumPolicy& policy, const Configuration& config,
                       const std::map<NodeId, bool>& votes) {
  if (config.voters.empty()) return VoteResult::kLost;
  if (policy.kind != QuorumPolicyKind::kGroups) {
    return tally(config.voters, election_quorum_size(policy, config.voters.size()), votes);
  }
  VoteResult result = VoteResult::kWon;
  for (const auto& [label, ids] : voters_by_group(config)) {
    VoteResult group = tally(ids, majority(ids.size()), votes);
    if (group == VoteResult::kLost) return VoteResult::kLost;
    if (group == VoteResult::kPending) result = VoteResult::kPending;
  }
  return result;
}

std::string describe(const QuorumPolicy& policy) {
  switch (policy.kind) {
    case QuorumPolicyKind::kMajority:
      return "majority";
    case QuorumPolicyKind::kGroups:
      return "majority in every group";
    case QuorumPolicyKind::kExplicitCommit:
      return "commit quorum " + std::to_string(policy.commit_quorum);
  }
  return "unknown";
}

}  // namespace chorus::raft
