// What a RaftNode reports: the values its async calls complete with, the event callbacks, and
// the metrics snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"
#include "chorus/raft/progress.h"
#include "chorus/raft/raft.h"

namespace chorus::node {

// Every async call completes with exactly one value: one of these structs, whose first member is
// the Status (see raft_node.h "Failure semantics" for what a failed Status means).

struct AppendResult {
  Status status;
  LogIndex sequence;  // the entry's log index: the same on every node
  Bytes result;       // the state machine's result for it (empty without a state machine)
};

struct BatchResult {
  Status status;
  LogIndex first;              // sequences first, first + 1, ... (contiguous)
  std::vector<Bytes> results;  // one per command, in order
};

struct ReadResult {
  Status status;
  LogIndex sequence;  // the read index: the answer reflects every entry up to it
  Bytes result;       // StateMachine::read(command) (empty without a state machine)
};

struct LeaderResult {
  Status status;
  NodeId leader;
  Term term;
};

struct ChangeResult {
  Status status;
  LogIndex sequence;  // the configuration entry's index (membership changes); 0 for a transfer
};

// Event callbacks, all run on the node's io thread (keep them short; never block in them, never
// call close() from them). Set them before open().
struct NodeEvents {
  // Role, term or leader changed (leader kNoNode: none known).
  std::function<void(raft::RoleKind role, Term term, NodeId leader)> on_change;
  // The commit index advanced to `sequence` (entries up to it are committed on a quorum).
  std::function<void(LogIndex sequence)> on_commit;
  // The state machine applied every entry up to `sequence`.
  std::function<void(LogIndex sequence)> on_apply;
  // A problem the node recovered from (a message that did not decode, a peer without address).
  std::function<void(const Status& problem)> on_warn;
  // A fatal failure (storage, state machine): the node stopped; see raft_node.h.
  std::function<void(const Status& error)> on_error;
};

// Bucket i counts fsyncs that took less than 2^i microseconds (and at least 2^(i-1)); the last
// bucket counts everything slower.
inline constexpr size_t kFsyncLatencyBuckets = 24;

struct PeerMetrics {
  NodeId id;
  bool learner = false;
  LogIndex match;
  LogIndex next;
  uint64_t lag = 0;  // leader's last index - match
  raft::ProgressState state = raft::ProgressState::kProbe;
  bool recent_active = false;
};

struct NodeMetrics {
  NodeId id;
  raft::RoleKind role = raft::RoleKind::kFollower;
  Term term;
  NodeId leader;
  LogIndex commit;
  LogIndex applied;  // applied to the state machine
  LogIndex persisted;
  LogIndex last_index;
  LogIndex snapshot_index;
  bool failed = false;  // stopped by a fatal error

  uint64_t fsyncs = 0;  // WAL group commits that synced
  std::array<uint64_t, kFsyncLatencyBuckets> fsync_latency_us_buckets{};
  uint64_t wal_readys = 0;  // Readys written by the WAL thread
  uint64_t wal_entries = 0;
  uint64_t wal_bytes = 0;

  uint64_t proposals_committed = 0;  // this node's appended commands, acknowledged ok
  uint64_t proposals_failed = 0;
  uint64_t reads_served = 0;
  uint64_t reads_failed = 0;
  uint64_t leader_changes = 0;
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  uint64_t last_snapshot_bytes = 0;  // the latest snapshot taken or installed
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t messages_dropped = 0;  // did not decode, or misaddressed

  std::vector<PeerMetrics> peers;  // the leader's view of its followers (empty elsewhere)
};

}  // namespace chorus::node
