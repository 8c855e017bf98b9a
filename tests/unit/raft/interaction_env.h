// InteractionEnv: the commands of the golden-file interaction tests (testdata/*.txt), run
// over the real Raft cores of a testing::Cluster. The environment owns the network (every
// message the cluster emits is taken into its own FIFO queue) so a transcript can deliver,
// drop or hold any message, and it prints what each step did by comparing what the driver
// can see before and after: hard state, entries persisted, messages sent, entries applied,
// reads and proposal outcomes, role / term / leader / configuration changes.
//
// Commands (n, m: node ids; [..] optional):
//   add-nodes N [voters=(..)] [learners=(..)] [prevote=] [checkquorum=] [lease=] [drift=]
//             [election=] [heartbeat=] [max-msg-bytes=] [max-inflight=] [chunk-bytes=]
//             [snapshot-threshold=] [auto-snapshot=] [seed=]
//       the first call creates the cluster (voters 1..N, then learners); later calls add N
//       empty nodes (the next ids) that may join through a membership change
//   campaign n              tick n alone until it (pre-)campaigns
//   elect n                 campaign and stabilize quietly; prints the winner
//   tick n [times] | tick-election n | tick-heartbeat n | tick-all [times]
//   run [rounds]            tick everyone then stabilize, `rounds` times (events only)
//   propose n data...       one entry, or a batch; or `propose n count=K [prefix=e]`
//   read-index n id | transfer-leadership n m
//   add-learner n m [group=] | add-voter n m [group=] | promote n m | remove n m
//                           a membership change proposed on n
//   compact n               n snapshots its state machine at its applied index
//   crash n | restart n | cut n m (one way) | isolate n | heal
//   partition (a,b) [(c,d)]  cuts every link across; replaces earlier cuts (the others add)
//   process-ready [n...] | deliver-msgs [from=] [to=] [type=] | drop-msgs [from=] [to=] [type=]
//   stabilize [n...]        process Readys and deliver messages until nothing moves
//   msgs | status n | log n | raft-state
//   log-level none|events|all      every printing command also takes level=
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "datadriven.h"

namespace chorus::raft::testing {

class InteractionEnv {
 public:
  enum class Level : uint8_t { kNone, kEvents, kAll };

  // Runs one command and returns its output. A malformed command is reported through
  // `usage_error` (the test fails) and described in the output.
  std::string handle(const datadriven::Command& cmd, std::string* usage_error);

 private:
  // What the driver can see of one node, compared before and after each step.
  struct Observed {
    bool up = false;
    RoleKind role = RoleKind::kFollower;
    Term term;
    NodeId leader;
    Configuration config;
    HardState hard_state;
    std::vector<Entry> disk_entries;
    SnapshotMeta disk_snapshot;
    std::map<std::pair<uint64_t, uint64_t>, size_t> incoming_bytes;
    LogIndex applied;
    size_t reads = 0;
    size_t results = 0;
    uint64_t snapshot_requests = 0;
  };
  struct Filter {
    std::set<NodeId> from, to;
    std::set<MessageType> types;
    bool matches(const Message& m) const;
  };

  // Commands; each returns a usage error or "" and writes to out_.
  std::string cmd_add_nodes(const datadriven::Command& cmd);
  std::string cmd_campaign(const datadriven::Command& cmd);
  std::string cmd_elect(const datadriven::Command& cmd);
  std::string cmd_tick(const datadriven::Command& cmd);
  std::string cmd_run(const datadriven::Command& cmd);
  std::string cmd_propose(const datadriven::Command& cmd);
  std::string cmd_read_index(const datadriven::Command& cmd);
  std::string cmd_transfer(const datadriven::Command& cmd);
  std::string cmd_membership(const datadriven::Command& cmd);
  std::string cmd_compact(const datadriven::Command& cmd);
  std::string cmd_crash_restart(const datadriven::Command& cmd);
  std::string cmd_links(const datadriven::Command& cmd);
  std::string cmd_process_ready(const datadriven::Command& cmd);
  std::string cmd_deliver(const datadriven::Command& cmd);
  std::string cmd_stabilize(const datadriven::Command& cmd);
  std::string cmd_inspect(const datadriven::Command& cmd);

  // Steps, printing what happened at the current level.
  bool process_ready(NodeId id);
  void deliver(const Message& m);
  void deliver_all(std::vector<Message> msgs);  // grouped by recipient, FIFO within
  bool stabilize(const std::set<NodeId>& only);
  void tick(NodeId id, uint64_t times);
  void pull_network();

  Observed observe(NodeId id);
  void print_soft_changes(NodeId id, const Observed& before, const Observed& after);
  void print_ready(NodeId id, const Observed& before, const Observed& after,
                   const std::vector<Message>& sent, uint64_t dropped);
  void emit(Level min, const std::string& line);
  std::string parse_node(const std::string& text, NodeId* id) const;
  std::string parse_filter(const datadriven::Command& cmd, Filter* filter) const;
  std::optional<std::string> need_cluster() const;

  std::unique_ptr<Cluster> cluster_;
  std::deque<Message> network_;
  std::set<std::pair<NodeId, NodeId>> cuts_;
  Level level_ = Level::kAll;
  std::string indent_;
  std::ostringstream out_;
  // Cluster-wide settings from the first add-nodes, for ticks.
  uint32_t election_tick_ = 10;
  uint32_t heartbeat_tick_ = 1;
};

}  // namespace chorus::raft::testing
