#include "chorus/raft/config.h"

#include <sstream>

namespace chorus::raft {

Configuration Config::initial_configuration() const {
  Configuration config;
  config.voters = voters;
  config.learners = learners;
  config.groups = groups;
  return config;
}

Status Config::validate() const {
  std::ostringstream out;
  if (id == kNoNode) return Status::InvalidArgument("id 0 is reserved for 'no node'");
  if (heartbeat_tick == 0) return Status::InvalidArgument("heartbeat_tick must be at least 1");
  if (election_tick <= heartbeat_tick) {
    out << "election_tick (" << election_tick << ") must exceed heartbeat_tick (" << heartbeat_tick
        << "), or followers time out between heartbeats (§5.6: "
        << "broadcastTime << electionTimeout)";
    return Status::InvalidArgument(out.str());
  }
  if (lease_reads && !check_quorum) {
    return Status::InvalidArgument(
        "lease_reads needs check_quorum: without it followers grant votes while a leader's "
        "lease runs, so a new leader could commit writes a lease read would miss (thesis §6.4.1)");
  }
  if (lease_reads && lease_clock_drift_ticks >= election_tick) {
    out << "lease_clock_drift_ticks (" << lease_clock_drift_ticks
        << ") must be below election_tick (" << election_tick
        << "): the lease is election_tick minus the drift bound, so it would be empty";
    return Status::InvalidArgument(out.str());
  }
  if (max_inflight_msgs == 0) return Status::InvalidArgument("max_inflight_msgs must be >= 1");
  if (max_inflight_bytes == 0) return Status::InvalidArgument("max_inflight_bytes must be >= 1");
  if (max_entries_bytes_per_msg == 0) {
    return Status::InvalidArgument("max_entries_bytes_per_msg must be >= 1");
  }
  if (max_uncommitted_entries == 0) {
    return Status::InvalidArgument("max_uncommitted_entries must be >= 1");
  }
  if (snapshot_chunk_bytes == 0)
    return Status::InvalidArgument("snapshot_chunk_bytes must be >= 1");
  if (snapshot_threshold_entries == 0) {
    return Status::InvalidArgument("snapshot_threshold_entries must be >= 1");
  }
  Configuration config = initial_configuration();
  if (Status s = validate_policy(quorum, config); !s.ok()) return s;
  if (quorum.kind != QuorumPolicyKind::kGroups && !groups.empty()) {
    for (const auto& [node, label] : groups) {
      if (!config.contains(node)) {
        out << "group label for node " << node << " which is not in the configuration";
        return Status::InvalidArgument(out.str());
      }
    }
  }
  return Status::Ok();
}

}  // namespace chorus::raft
