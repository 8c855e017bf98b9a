// Cluster: a deterministic in-memory network of Raft cores for interaction tests (and the base
// of the simulator). Persistence is perfect and synchronous: every Ready is durable the moment
// it is processed. Messages wait in one FIFO queue; tests decide when they are delivered,
// dropped (partitions, filters) or when nodes tick, crash and restart.
//
// The state machine is the list of applied normal-entry payloads; a snapshot is that list
// serialized, so snapshot transfer moves real bytes and checks them end to end.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chorus/raft/raft.h"

namespace chorus::raft::testing {

struct Disk {
  HardState hard_state;
  SnapshotMeta snapshot;
  Bytes snapshot_bytes;
  std::vector<Entry> entries;                               // after snapshot.index
  std::map<std::pair<uint64_t, uint64_t>, Bytes> incoming;  // (index, term) -> partial file
  uint32_t incarnation = 0;
};

struct Node {
  Config config;
  std::unique_ptr<Raft> raft;
  Disk disk;
  bool up = true;
  std::vector<std::string> state;  // applied normal entries, in order
  LogIndex applied;
  std::vector<ReadState> reads;
  std::vector<ProposalResult> results;
  uint64_t snapshot_requests = 0;
};

struct ClusterOptions {
  size_t voters = 3;
  size_t learners = 0;  // ids voters+1 .. voters+learners
  QuorumPolicy policy{};
  std::map<NodeId, std::string> groups{};
  uint64_t seed = 1;
  bool auto_snapshot = true;             // take a snapshot whenever the core asks
  std::function<void(Config&)> tweak{};  // adjust every node's config
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});

  Raft& raft(NodeId id) { return *node(id).raft; }
  Node& node(NodeId id);
  std::vector<NodeId> ids() const;
  const std::deque<Message>& in_flight() const { return network_; }

  // Adds a node that starts empty (to be added by a membership change).
  void add_node(NodeId id);
  void crash(NodeId id);    // stops it; messages to it are dropped; its disk survives
  void restart(NodeId id);  // rebuilds the core from its disk

  void tick(NodeId id, int times = 1);
  void tick_all(int times = 1);
  // Processes one node's Ready: persist, acknowledge, apply, queue messages.
  void process_ready(NodeId id);
  // Delivers queued messages and processes Readys until the network is quiet (bounded).
  void stabilize(size_t max_steps = 100000);
  // Delivers the oldest queued message (if its link is up); returns false if none.
  bool deliver_one();
  // Ticks everyone and stabilizes, `rounds` times.
  void run(int rounds);

  // Ticks `id` alone until it campaigns, then stabilizes; returns whether it became leader.
  bool elect(NodeId id);
  // The leader of the highest term among running nodes, or kNoNode.
  NodeId leader() const;

  // Links: a cut link drops messages from -> to.
  void cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void isolate(NodeId id);
  void partition(const std::set<NodeId>& side);  // cuts every link across the boundary
  void heal() { cut_.clear(); }
  // Called on every message about to be delivered: returns true to drop it; may also edit it.
  std::function<bool(Message&)> drop_if;

  // Queues a message as if the network carried it (duplicates, replays, misdeliveries).
  void inject(Message m) { network_.push_back(std::move(m)); }

  // Proposes on `id` and returns the id (asserting success).
  ProposalId propose(NodeId id, const std::string& data);
  std::optional<ProposalResult> result(NodeId id, ProposalId proposal) const;

  // Safety checks across the cluster: every core's invariants, Log Matching over in-memory
  // logs, at most one leader per term, state machines are prefixes of one another.
  void check_invariants();

  ClusterOptions options;
  uint64_t delivered = 0;
  uint64_t dropped = 0;

 private:
  Config make_config(NodeId id) const;
  void persist(Node& n, Ready& rd);
  void apply(Node& n, const Ready& rd);
  void install(Node& n, const SnapshotMeta& meta);
  void enqueue(Node& n, std::vector<Message>& messages);
  void take_snapshot(Node& n);

  std::map<NodeId, Node> nodes_;
  std::deque<Message> network_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::map<Term, NodeId> leaders_by_term_;
};

Bytes serialize_state(const std::vector<std::string>& state);
std::vector<std::string> deserialize_state(ByteSpan bytes);

}  // namespace chorus::raft::testing
