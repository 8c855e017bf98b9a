#include "chorus/raft/types.h"

#include <sstream>

namespace chorus::raft {

std::set<NodeId> Configuration::members() const {
  std::set<NodeId> all = voters;
  all.insert(learners.begin(), learners.end());
  return all;
}

Status Configuration::check() const {
  for (NodeId id : voters) {
    if (id == kNoNode) return Status::InvalidArgument("node id 0 is reserved for 'no node'");
    if (learners.contains(id)) {
      std::ostringstream out;
      out << "node " << id << " is both a voter and a learner";
      return Status::InvalidArgument(out.str());
    }
  }
  if (learners.contains(kNoNode)) {
    return Status::InvalidArgument("node id 0 is reserved for 'no node'");
  }
  return Status::Ok();
}

Result<Configuration> apply_change(const Configuration& config, const MembershipChange& change) {
  std::ostringstream why;
  why << "node " << change.node << ": ";
  if (change.node == kNoNode) return Status::InvalidArgument("node id 0 is reserved");
  Configuration next = config;
  switch (change.type) {
    case MembershipChangeType::kAddVoter:
      if (config.contains(change.node)) {
        why << "already a member (promote a learner instead)";
        return Status::AlreadyExists(why.str());
      }
      next.voters.insert(change.node);
      break;
    case MembershipChangeType::kAddLearner:
      if (config.contains(change.node)) {
        why << "already a member";
        return Status::AlreadyExists(why.str());
      }
      next.learners.insert(change.node);
      break;
    case MembershipChangeType::kPromoteLearner:
      if (!config.is_learner(change.node)) {
        why << "not a learner";
        return Status::InvalidArgument(why.str());
      }
      next.learners.erase(change.node);
      next.voters.insert(change.node);
      break;
    case MembershipChangeType::kRemove:
      if (!config.contains(change.node)) {
        why << "not a member";
        return Status::NotFound(why.str());
      }
      next.voters.erase(change.node);
      next.learners.erase(change.node);
      next.groups.erase(change.node);
      return next;
  }
  if (!change.group.empty()) next.groups[change.node] = change.group;
  return next;
}

}  // namespace chorus::raft
