// The commands of the interaction tests (see interaction_env.h for the list): each parses its
// arguments, calls the cluster or a core, and leaves its output in out_.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "describe.h"
#include "interaction_env.h"

namespace chorus::raft::testing {
namespace {

using datadriven::Arg;
using datadriven::Command;

std::optional<uint64_t> to_uint(const std::string& s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string uint_arg(const Command& cmd, const std::string& key, uint64_t* value) {
  const Arg* a = cmd.find(key);
  if (a == nullptr) return "";
  auto v = a->values.size() == 1 ? to_uint(a->values[0]) : std::nullopt;
  if (!v) return key + "= wants a number";
  *value = *v;
  return "";
}

std::string bool_arg(const Command& cmd, const std::string& key, bool* value) {
  const Arg* a = cmd.find(key);
  if (a == nullptr) return "";
  if (a->values.size() == 1 && (a->values[0] == "true" || a->values[0] == "false")) {
    *value = a->values[0] == "true";
    return "";
  }
  return key + "= wants true or false";
}

std::optional<MessageType> parse_type(const std::string& name) {
  for (uint8_t t = 1; t <= static_cast<uint8_t>(kMaxMessageType); ++t) {
    const auto type = static_cast<MessageType>(t);
    std::string_view known = message_type_name(type);
    if (std::equal(known.begin(), known.end(), name.begin(), name.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return type;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string InteractionEnv::parse_node(const std::string& text, NodeId* id) const {
  auto v = to_uint(text);
  if (!v || *v == 0) return "'" + text + "' is not a node id";
  const std::vector<NodeId> ids = cluster_->ids();
  if (std::find(ids.begin(), ids.end(), NodeId(*v)) == ids.end()) {
    return "no node " + text;
  }
  *id = NodeId(*v);
  return "";
}

std::string InteractionEnv::parse_filter(const Command& cmd, Filter* filter) const {
  for (const auto& [key, set] : {std::pair{"from", &filter->from}, std::pair{"to", &filter->to}}) {
    if (const Arg* a = cmd.find(key)) {
      for (const std::string& v : a->values) {
        NodeId id;
        if (std::string err = parse_node(v, &id); !err.empty()) return err;
        set->insert(id);
      }
    }
  }
  if (const Arg* a = cmd.find("type")) {
    for (const std::string& v : a->values) {
      auto type = parse_type(v);
      if (!type) return "unknown message type '" + v + "'";
      filter->types.insert(*type);
    }
  }
  return "";
}

std::string InteractionEnv::cmd_add_nodes(const Command& cmd) {
  auto pos = cmd.positional();
  if (pos.size() != 1) return "add-nodes N [options]";
  auto count = to_uint(pos[0]->values.front());
  if (!count || *count == 0) return "add-nodes wants a positive count";
  if (cluster_) {
    // Empty nodes that will join through a membership change.
    uint64_t next = cluster_->ids().back().value() + 1;
    for (uint64_t i = 0; i < *count; ++i) cluster_->add_node(NodeId(next + i));
    return "";
  }
  ClusterOptions options;
  options.voters = *count;
  if (const Arg* voters = cmd.find("voters")) {
    for (size_t i = 0; i < voters->values.size(); ++i) {
      if (to_uint(voters->values[i]) != i + 1) return "voters must be (1,2,..,N)";
    }
    if (voters->values.size() != *count) return "voters=() must list N nodes";
  }
  if (const Arg* learners = cmd.find("learners")) {
    for (size_t i = 0; i < learners->values.size(); ++i) {
      if (to_uint(learners->values[i]) != *count + i + 1) return "learners must follow the voters";
    }
    options.learners = learners->values.size();
  }
  // The knobs a story may turn; everything else keeps Config's defaults.
  struct Knobs {
    bool pre_vote = true, check_quorum = true, lease_reads = false;
    uint64_t election = 10, heartbeat = 1, drift = 2, max_msg_bytes = 1 << 20, max_inflight = 256,
             chunk_bytes = 1 << 20, snapshot_threshold = 10000;
  } k;
  uint64_t seed = 1;
  for (std::string err :
       {bool_arg(cmd, "prevote", &k.pre_vote), bool_arg(cmd, "checkquorum", &k.check_quorum),
        bool_arg(cmd, "lease", &k.lease_reads), uint_arg(cmd, "election", &k.election),
        uint_arg(cmd, "heartbeat", &k.heartbeat), uint_arg(cmd, "drift", &k.drift),
        uint_arg(cmd, "max-msg-bytes", &k.max_msg_bytes),
        uint_arg(cmd, "max-inflight", &k.max_inflight),
        uint_arg(cmd, "chunk-bytes", &k.chunk_bytes),
        uint_arg(cmd, "snapshot-threshold", &k.snapshot_threshold), uint_arg(cmd, "seed", &seed),
        bool_arg(cmd, "auto-snapshot", &options.auto_snapshot)}) {
    if (!err.empty()) return err;
  }
  options.seed = seed;
  options.tweak = [k](Config& c) {
    c.pre_vote = k.pre_vote;
    c.check_quorum = k.check_quorum;
    c.lease_reads = k.lease_reads;
    c.election_tick = static_cast<uint32_t>(k.election);
    c.heartbeat_tick = static_cast<uint32_t>(k.heartbeat);
    c.lease_clock_drift_ticks = static_cast<uint32_t>(k.drift);
    c.max_entries_bytes_per_msg = k.max_msg_bytes;
    c.max_inflight_msgs = static_cast<uint32_t>(k.max_inflight);
    c.snapshot_chunk_bytes = k.chunk_bytes;
    c.snapshot_threshold_entries = k.snapshot_threshold;
  };
  Config probe;
  probe.id = NodeId(1);
  probe.voters = {NodeId(1)};
  options.tweak(probe);
  if (Status s = probe.validate(); !s.ok()) return s.ToString();
  election_tick_ = probe.election_tick;
  heartbeat_tick_ = probe.heartbeat_tick;
  cluster_ = std::make_unique<Cluster>(std::move(options));
  return "";
}

std::string InteractionEnv::cmd_campaign(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.size() != 1) return "campaign n";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  Node& n = cluster_->node(id);
  if (!n.up) return "node is down";
  if (n.raft->is_leader()) {
    out_ << id << " is the leader: it does not campaign\n";
    return "";
  }
  // Tick it alone until it starts an election (a role or term change, or, for a node already
  // campaigning, new vote requests to send).
  const uint64_t limit = 2ULL * election_tick_ + 1;
  const RoleKind role = n.raft->role();
  const Term term = n.raft->term();
  const bool idle = !n.raft->has_ready();
  for (uint64_t i = 0; i < limit; ++i) {
    tick(id, 1);
    if (n.raft->role() != role || n.raft->term() != term ||
        (role != RoleKind::kFollower && idle && n.raft->has_ready())) {
      if (n.raft->role() == role && n.raft->term() == term) {
        emit(Level::kEvents, cat(id, " campaigns again as ", role_name(role), " at term ", term));
      }
      return "";
    }
  }
  out_ << id << " did not campaign within " << limit << " ticks\n";
  return "";
}

std::string InteractionEnv::cmd_elect(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.size() != 1) return "elect n";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  Node& n = cluster_->node(id);
  if (!n.up) return "node is down";
  const Level saved = level_;
  level_ = Level::kNone;
  for (uint64_t i = 0; i < 10ULL * election_tick_ && !n.raft->is_leader(); ++i) {
    tick(id, 1);
    if (n.raft->role() != RoleKind::kFollower) stabilize({});
  }
  stabilize({});
  level_ = saved;
  if (n.raft->is_leader()) {
    out_ << id << " is leader at term " << n.raft->term() << "\n";
  } else {
    out_ << id << " is not leader: " << role_name(n.raft->role()) << " at term " << n.raft->term()
         << "\n";
  }
  return "";
}

std::string InteractionEnv::cmd_tick(const Command& cmd) {
  auto pos = cmd.positional();
  if (cmd.name == "tick-all") {
    uint64_t times = 1;
    if (pos.size() > 1) return "tick-all [times]";
    if (!pos.empty()) {
      auto v = to_uint(pos[0]->values.front());
      if (!v) return "times must be a number";
      times = *v;
    }
    for (uint64_t i = 0; i < times; ++i) {
      for (NodeId id : cluster_->ids()) tick(id, 1);
    }
    return "";
  }
  if (pos.empty() || pos.size() > 2)
    return cmd.name + " n" + (cmd.name == "tick" ? " [times]" : "");
  NodeId id;
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  uint64_t times = cmd.name == "tick-election"    ? election_tick_
                   : cmd.name == "tick-heartbeat" ? heartbeat_tick_
                                                  : 1;
  if (pos.size() == 2) {
    auto v = to_uint(pos[1]->values.front());
    if (!v || cmd.name != "tick") return "tick n [times]";
    times = *v;
  }
  tick(id, times);
  return "";
}

std::string InteractionEnv::cmd_run(const Command& cmd) {
  auto pos = cmd.positional();
  uint64_t rounds = 1;
  if (pos.size() > 1) return "run [rounds]";
  if (!pos.empty()) {
    auto v = to_uint(pos[0]->values.front());
    if (!v) return "rounds must be a number";
    rounds = *v;
  }
  if (!cmd.has("level")) level_ = std::min(level_, Level::kEvents);
  for (uint64_t i = 0; i < rounds; ++i) {
    for (NodeId id : cluster_->ids()) tick(id, 1);
    if (!stabilize({})) return "the cluster did not stabilize";
  }
  return "";
}

std::string InteractionEnv::cmd_propose(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.empty()) return "propose n data... | propose n count=K [prefix=p]";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  if (!cluster_->node(id).up) return "node is down";
  std::vector<Bytes> batch;
  for (size_t i = 1; i < pos.size(); ++i) {
    for (const std::string& v : pos[i]->values) batch.push_back(to_bytes(v));
  }
  uint64_t count = 0;
  if (std::string err = uint_arg(cmd, "count", &count); !err.empty()) return err;
  const std::string prefix = cmd.get("prefix", "e");
  for (uint64_t i = 1; i <= count; ++i) batch.push_back(to_bytes(prefix + std::to_string(i)));
  if (batch.empty()) return "nothing to propose";
  const size_t size = batch.size();
  Raft& r = cluster_->raft(id);
  Result<ProposalId> first =
      size == 1 ? r.propose(std::move(batch.front())) : r.propose_batch(std::move(batch));
  if (!first.ok()) {
    out_ << "error: " << first.status().ToString() << "\n";
  } else if (size == 1) {
    out_ << describe_proposal(*first) << "\n";
  } else {
    out_ << describe_proposal(*first) << ".."
         << describe_proposal(ProposalId(first->value() + size - 1)) << "\n";
  }
  return "";
}

std::string InteractionEnv::cmd_read_index(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.size() != 2) return "read-index n request-id";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  auto request = to_uint(pos[1]->values.front());
  if (!request) return "request id must be a number";
  if (!cluster_->node(id).up) return "node is down";
  if (Status s = cluster_->raft(id).read_index(*request); !s.ok()) {
    out_ << "error: " << s.ToString() << "\n";
  }
  return "";
}

std::string InteractionEnv::cmd_transfer(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id, target;
  if (pos.size() != 2) return "transfer-leadership n target";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  if (std::string err = parse_node(pos[1]->values.front(), &target); !err.empty()) return err;
  if (!cluster_->node(id).up) return "node is down";
  if (Status s = cluster_->raft(id).transfer_leadership(target); !s.ok()) {
    out_ << "error: " << s.ToString() << "\n";
  }
  return "";
}

std::string InteractionEnv::cmd_membership(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id, target;
  if (pos.size() != 2) return cmd.name + " n target [group=label]";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  // The target may not exist yet in the cluster (a change naming an unknown server).
  auto t = to_uint(pos[1]->values.front());
  if (!t) return "target must be a node id";
  target = NodeId(*t);
  if (!cluster_->node(id).up) return "node is down";
  static const std::map<std::string, MembershipChangeType> kTypes = {
      {"add-learner", MembershipChangeType::kAddLearner},
      {"add-voter", MembershipChangeType::kAddVoter},
      {"promote", MembershipChangeType::kPromoteLearner},
      {"remove", MembershipChangeType::kRemove}};
  MembershipChange change{kTypes.at(cmd.name), target, cmd.get("group", "")};
  auto r = cluster_->raft(id).propose_membership(change);
  if (r.ok()) {
    out_ << describe_proposal(*r) << "\n";
  } else {
    out_ << "error: " << r.status().ToString() << "\n";
  }
  return "";
}

std::string InteractionEnv::cmd_compact(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.size() != 1) return "compact n";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  Node& n = cluster_->node(id);
  if (!n.up) return "node is down";
  // The state machine is the list of applied commands: a snapshot at the applied index.
  Bytes bytes = serialize_state(n.state);
  if (Status s = n.raft->compact(n.applied, bytes.size()); !s.ok()) {
    out_ << "error: " << s.ToString() << "\n";
    return "";
  }
  if (n.raft->snapshot() != n.disk.snapshot) {
    n.disk.snapshot = n.raft->snapshot();
    n.disk.snapshot_bytes = std::move(bytes);
    std::erase_if(n.disk.entries, [&](const Entry& e) { return e.index <= n.applied; });
  }
  const RaftLog& log = n.raft->log();
  out_ << id << " snapshot " << describe_snapshot(n.disk.snapshot);
  if (log.first_index() <= log.last_index()) {
    out_ << "; log keeps " << log.first_index() << ".." << log.last_index() << "\n";
  } else {
    out_ << "; the log keeps no entries\n";
  }
  return "";
}

std::string InteractionEnv::cmd_crash_restart(const Command& cmd) {
  auto pos = cmd.positional();
  NodeId id;
  if (pos.size() != 1) return cmd.name + " n";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  Node& n = cluster_->node(id);
  if (cmd.name == "crash") {
    if (!n.up) return "already down";
    cluster_->crash(id);
    return "";
  }
  if (n.up) return "already up";
  cluster_->restart(id);
  const Raft& r = *n.raft;
  out_ << id << " restarts as " << role_name(r.role()) << " at term " << r.term()
       << ": last=" << r.log().last_index() << " commit=" << r.log().committed()
       << " snapshot=" << r.log().snapshot_index() << "\n";
  return "";
}

std::string InteractionEnv::cmd_links(const Command& cmd) {
  auto pos = cmd.positional();
  const std::vector<NodeId> ids = cluster_->ids();
  if (cmd.name == "heal") {
    if (!pos.empty()) return "heal";
    cuts_.clear();
    cluster_->heal();
    return "";
  }
  if (cmd.name == "cut") {
    NodeId from, to;
    if (pos.size() != 2) return "cut from to (one direction)";
    if (std::string err = parse_node(pos[0]->values.front(), &from); !err.empty()) return err;
    if (std::string err = parse_node(pos[1]->values.front(), &to); !err.empty()) return err;
    cuts_.insert({from, to});
    cluster_->cut(from, to);
    return "";
  }
  if (pos.empty()) return cmd.name + (cmd.name == "isolate" ? " n" : " (ids on one side)");
  std::set<NodeId> side;
  for (const std::string& v : pos[0]->values) {
    NodeId id;
    if (std::string err = parse_node(v, &id); !err.empty()) return err;
    side.insert(id);
  }
  if (cmd.name == "isolate" && (side.size() != 1 || pos.size() != 1)) return "isolate n";
  if (pos.size() > 2) return "partition (side) [(other side)]";
  if (pos.size() == 2) {
    std::set<NodeId> other;
    for (const std::string& v : pos[1]->values) {
      NodeId id;
      if (std::string err = parse_node(v, &id); !err.empty()) return err;
      other.insert(id);
    }
    for (NodeId id : ids) {
      if (side.contains(id) == other.contains(id)) return "the two sides must split the cluster";
    }
  }
  if (cmd.name == "partition") {
    // A partition replaces whatever links were cut before; isolate and cut add to them.
    cuts_.clear();
    cluster_->heal();
  }
  for (NodeId a : ids) {
    for (NodeId b : ids) {
      if (a != b && side.contains(a) != side.contains(b)) cuts_.insert({a, b});
    }
  }
  if (cmd.name == "isolate") {
    cluster_->isolate(*side.begin());
  } else {
    cluster_->partition(side);
  }
  return "";
}

std::string InteractionEnv::cmd_process_ready(const Command& cmd) {
  std::vector<NodeId> ids;
  for (const Arg* a : cmd.positional()) {
    for (const std::string& v : a->values) {
      NodeId id;
      if (std::string err = parse_node(v, &id); !err.empty()) return err;
      ids.push_back(id);
    }
  }
  if (ids.empty()) ids = cluster_->ids();
  for (NodeId id : ids) process_ready(id);
  return "";
}

std::string InteractionEnv::cmd_deliver(const Command& cmd) {
  Filter filter;
  if (!cmd.positional().empty()) return cmd.name + " [from=] [to=] [type=]";
  if (std::string err = parse_filter(cmd, &filter); !err.empty()) return err;
  std::vector<Message> chosen;
  std::deque<Message> rest;
  for (Message& m : network_) {
    if (filter.matches(m)) {
      chosen.push_back(std::move(m));
    } else {
      rest.push_back(std::move(m));
    }
  }
  network_ = std::move(rest);
  if (cmd.name == "drop-msgs") {
    for (const Message& m : chosen) emit(Level::kEvents, "dropped: " + describe_message(m));
    return "";
  }
  deliver_all(std::move(chosen));
  return "";
}

std::string InteractionEnv::cmd_stabilize(const Command& cmd) {
  std::set<NodeId> only;
  for (const Arg* a : cmd.positional()) {
    for (const std::string& v : a->values) {
      NodeId id;
      if (std::string err = parse_node(v, &id); !err.empty()) return err;
      only.insert(id);
    }
  }
  if (!stabilize(only)) return "the cluster did not stabilize";
  return "";
}

std::string InteractionEnv::cmd_inspect(const Command& cmd) {
  auto pos = cmd.positional();
  if (cmd.name == "msgs") {
    for (const Message& m : network_) out_ << describe_message(m) << "\n";
    if (network_.empty()) out_ << "no messages in flight\n";
    return "";
  }
  if (cmd.name == "raft-state") {
    for (NodeId id : cluster_->ids()) {
      const Node& n = cluster_->node(id);
      if (!n.up) {
        out_ << id << ": down\n";
        continue;
      }
      const Raft& r = *n.raft;
      out_ << id << ": " << role_name(r.role()) << " term=" << r.term() << " leader=" << r.leader()
           << " commit=" << r.log().committed() << " last=" << r.log().last_index()
           << " applied=" << n.applied << "\n";
    }
    return "";
  }
  NodeId id;
  if (pos.size() != 1) return cmd.name + " n";
  if (std::string err = parse_node(pos[0]->values.front(), &id); !err.empty()) return err;
  const Node& n = cluster_->node(id);
  if (!n.up) {
    out_ << id << " is down\n";
    return "";
  }
  if (cmd.name == "status") {
    out_ << describe_status(n.raft->status()) << "\n";
    return "";
  }
  const RaftLog& log = n.raft->log();
  out_ << id << " log: snapshot=" << log.snapshot_index() << "@t" << log.snapshot_term()
       << " commit=" << log.committed() << " applied=" << n.applied << "\n";
  for (LogIndex i = log.first_index(); i <= log.last_index(); ++i) {
    out_ << "  " << describe_entry(log.at(i)) << (i > log.committed() ? " (uncommitted)" : "")
         << "\n";
  }
  out_ << "  state machine: [";
  const char* sep = "";
  for (const std::string& s : n.state) {
    out_ << sep << s;
    sep = " ";
  }
  out_ << "]\n";
  return "";
}

}  // namespace chorus::raft::testing
