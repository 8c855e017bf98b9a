// Config: how one Raft node is set up. Every field is in ticks, counts or bytes: the core has
// no clock; the driver decides how long a tick is.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "chorus/base/status.h"
#include "chorus/raft/quorum.h"
#include "chorus/raft/types.h"

namespace chorus::raft {

struct Config {
  NodeId id;
  // The initial configuration (used only when the log and snapshot hold none). A node that
  // will join an existing cluster starts with both sets empty and learns the configuration
  // from the leader.
  std::set<NodeId> voters;
  std::set<NodeId> learners;
  std::map<NodeId, std::string> groups;  // group label per node (for QuorumPolicyKind::kGroups)
  QuorumPolicy quorum;

  // A follower campaigns after a random timeout in [election_tick, 2 * election_tick) ticks
  // without hearing from a leader (§5.2); a leader sends heartbeats every heartbeat_tick.
  uint32_t election_tick = 10;
  uint32_t heartbeat_tick = 1;
  bool pre_vote = true;      // thesis §9.6
  bool check_quorum = true;  // thesis §6.2: a leader that hears from no quorum steps down
  // Lease reads (thesis §6.4.1): only with check_quorum; the lease lasts election_tick -
  // lease_clock_drift_ticks from when a commit quorum acknowledged a heartbeat.
  bool lease_reads = false;
  uint32_t lease_clock_drift_ticks = 2;

  uint32_t max_inflight_msgs = 256;              // per follower, in replicate state
  uint64_t max_inflight_bytes = 8 << 20;         // per follower
  uint64_t max_entries_bytes_per_msg = 1 << 20;  // at least one entry is always sent
  uint64_t max_uncommitted_entries = 100000;     // proposals beyond this are refused (kBusy)
  uint64_t snapshot_threshold_entries = 10000;   // ask for a snapshot after this many applied
  uint64_t snapshot_chunk_bytes = 1 << 20;
  uint64_t random_seed = 0;  // mixed with id: every node draws different timeouts

  // Explains the first unsafe or meaningless combination, if any.
  [[nodiscard]] Status validate() const;
  Configuration initial_configuration() const;
};

}  // namespace chorus::raft
