// NodeOptions: how one RaftNode is set up. Times are wall-clock durations here; the node turns
// them into ticks of the Raft core (raft/config.h), which has no clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"
#include "chorus/node/raft_storage.h"
#include "chorus/raft/config.h"

namespace chorus::node {

struct NodeOptions {
  NodeId id;

  // The initial configuration: the same on every initial member of a new cluster. A node that
  // will join an existing cluster (through add_learner on its leader) leaves both empty.
  std::set<NodeId> voters;
  std::set<NodeId> learners;
  // Transport addresses ("host:port" for TCP; any label for the in-process transport) of the
  // nodes this node must reach before the log tells it: every initial member, or -- for a
  // joining node -- the current members. An entry for `id` itself is ignored. Nodes added later
  // with add_learner(id, address) are learned from the log.
  std::map<NodeId, std::string> peers;
  // Quorum policy and group labels (raft/quorum.h): majority; a majority in every replication
  // group; or an explicit commit quorum.
  raft::QuorumPolicy quorum;
  std::map<NodeId, std::string> groups;

  // One tick of the core. An election timeout is drawn from [election_ticks, 2 * election_ticks)
  // ticks (§5.2); a leader sends heartbeats every heartbeat_ticks.
  std::chrono::milliseconds tick_interval{10};
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  bool pre_vote = true;      // thesis §9.6
  bool check_quorum = true;  // thesis §6.2
  bool lease_reads = false;  // thesis §6.4.1; needs check_quorum

  // An append (batch, txn, membership change) not answered after this fails with kTimeout
  // (indefinite: it may still commit). Zero: no limit.
  std::chrono::milliseconds proposal_timeout{10'000};
  // A read not served after this fails with kTimeout (a read changes nothing). Zero: no limit.
  std::chrono::milliseconds read_timeout{10'000};

  // Snapshot the state machine after this many applied entries; the log before it is trimmed.
  uint64_t snapshot_threshold_entries = 10'000;
  uint64_t snapshot_chunk_bytes = 1 << 20;
  // Per follower: appends in flight (pipelining window), and their bytes. A small window makes
  // messages large: while two appends are in flight, new entries wait at the leader and leave
  // together in the next one (up to max_batch_bytes), so a follower decrypts, decodes, persists
  // and acknowledges a few large messages instead of one small message per leader Ready. With
  // 256, chorusd under 256 writing clients sent ~13 entries per message and spent its CPU on
  // per-message work; with 2 it wrote 1.5-2x as many SETs per second on the same machine
  // (docs/BENCHMARKS.md "Replication window"). Throughput per follower is bounded by
  // max_inflight_msgs x max_batch_bytes per round trip: 2 MiB per RTT, ample on a LAN.
  uint32_t max_inflight_msgs = 2;
  uint64_t max_inflight_bytes = 8 << 20;
  // Largest append message (at least one entry is always sent) and largest single command.
  uint64_t max_batch_bytes = 1 << 20;
  uint64_t max_uncommitted_entries = 100'000;

  // The queue between the core and the WAL thread: Readys handed over and not yet durable. When
  // full, new proposals (local and forwarded) wait until the WAL thread catches up; heartbeats,
  // votes and acks go on (docs/node.md "Threads, and why"). Nothing is dropped.
  size_t max_wal_readys = 64;
  uint64_t max_wal_bytes = 64 << 20;
  // Client calls waiting on this node; a call beyond it fails at once with kBusy (definite).
  size_t max_pending_requests = 100'000;

  // Used when the node opens its own RaftStorage (the data-dir constructor).
  StorageOptions storage;
  uint64_t random_seed = 0;  // mixed with the id: election timeouts differ per node

  // The core's configuration.
  raft::Config raft_config() const;
  [[nodiscard]] Status validate() const;
};

}  // namespace chorus::node
