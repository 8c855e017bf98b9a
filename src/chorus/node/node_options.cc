#include "chorus/node/node_options.h"

namespace chorus::node {

raft::Config NodeOptions::raft_config() const {
  raft::Config c;
  c.id = id;
  c.voters = voters;
  c.learners = learners;
  c.groups = groups;
  c.quorum = quorum;
  c.election_tick = election_ticks;
  c.heartbeat_tick = heartbeat_ticks;
  c.pre_vote = pre_vote;
  c.check_quorum = check_quorum;
  c.lease_reads = lease_reads;
  c.max_inflight_msgs = max_inflight_msgs;
  c.max_inflight_bytes = max_inflight_bytes;
  c.max_entries_bytes_per_msg = max_batch_bytes;
  c.max_uncommitted_entries = max_uncommitted_entries;
  c.snapshot_threshold_entries = snapshot_threshold_entries;
  c.snapshot_chunk_bytes = snapshot_chunk_bytes;
  c.random_seed = random_seed;
  return c;
}

Status NodeOptions::validate() const {
  if (id == NodeId(0)) return Status::InvalidArgument("node id 0 is reserved (kNoNode)");
  if (tick_interval.count() <= 0) return Status::InvalidArgument("tick_interval must be > 0");
  if (max_wal_readys == 0) return Status::InvalidArgument("max_wal_readys must be > 0");
  if (max_pending_requests == 0) return Status::InvalidArgument("max_pending_requests must be > 0");
  if (proposal_timeout.count() < 0 || read_timeout.count() < 0) {
    return Status::InvalidArgument("timeouts must not be negative");
  }
  return raft_config().validate();
}

}  // namespace chorus::node
