// InteractionEnv: the steps (process a Ready, deliver a message, stabilize, tick) and how
// their effects are printed; the commands that use them are in interaction_commands.cc.
#include "interaction_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "describe.h"

namespace chorus::raft::testing {
namespace {

using datadriven::Command;

// Rounds of (process every Ready, deliver every message) before stabilize gives up.
constexpr int kStabilizeRoundsMax = 10000;

std::string hard_state_line(const HardState& hs) {
  std::ostringstream out;
  out << "HardState term=" << hs.term << " vote=" << hs.vote << " commit=" << hs.commit;
  return out.str();
}

// Whether b continues a run of proposal outcomes that ends with a.
bool same_outcome(const ProposalResult& a, const ProposalResult& b) {
  const bool next_index =
      a.index == LogIndex(0) ? b.index == LogIndex(0) : b.index == a.index.next();
  return b.id.value() == a.id.value() + 1 && b.outcome == a.outcome &&
         b.status.ToString() == a.status.ToString() && next_index;
}

}  // namespace

bool InteractionEnv::Filter::matches(const Message& m) const {
  return (from.empty() || from.contains(m.from)) && (to.empty() || to.contains(m.to)) &&
         (types.empty() || types.contains(m.type));
}

std::string InteractionEnv::handle(const Command& cmd, std::string* usage_error) {
  out_.str("");
  out_.clear();
  indent_.clear();
  static const std::map<std::string, Level> kLevels = {
      {"none", Level::kNone}, {"events", Level::kEvents}, {"all", Level::kAll}};
  const Level saved = level_;
  std::string err;
  if (cmd.has("level") || cmd.name == "log-level") {
    const std::string name = cmd.name == "log-level" && !cmd.positional().empty()
                                 ? cmd.positional()[0]->values.front()
                                 : cmd.get("level", "");
    auto it = kLevels.find(name);
    if (it == kLevels.end()) {
      err = "unknown level '" + name + "' (none, events, all)";
    } else {
      level_ = it->second;
    }
  }
  using Handler = std::string (InteractionEnv::*)(const Command&);
  static const std::map<std::string, Handler> kCommands = {
      {"add-nodes", &InteractionEnv::cmd_add_nodes},
      {"campaign", &InteractionEnv::cmd_campaign},
      {"elect", &InteractionEnv::cmd_elect},
      {"tick", &InteractionEnv::cmd_tick},
      {"tick-election", &InteractionEnv::cmd_tick},
      {"tick-heartbeat", &InteractionEnv::cmd_tick},
      {"tick-all", &InteractionEnv::cmd_tick},
      {"run", &InteractionEnv::cmd_run},
      {"propose", &InteractionEnv::cmd_propose},
      {"read-index", &InteractionEnv::cmd_read_index},
      {"transfer-leadership", &InteractionEnv::cmd_transfer},
      {"add-learner", &InteractionEnv::cmd_membership},
      {"add-voter", &InteractionEnv::cmd_membership},
      {"promote", &InteractionEnv::cmd_membership},
      {"remove", &InteractionEnv::cmd_membership},
      {"compact", &InteractionEnv::cmd_compact},
      {"crash", &InteractionEnv::cmd_crash_restart},
      {"restart", &InteractionEnv::cmd_crash_restart},
      {"isolate", &InteractionEnv::cmd_links},
      {"partition", &InteractionEnv::cmd_links},
      {"cut", &InteractionEnv::cmd_links},
      {"heal", &InteractionEnv::cmd_links},
      {"process-ready", &InteractionEnv::cmd_process_ready},
      {"deliver-msgs", &InteractionEnv::cmd_deliver},
      {"drop-msgs", &InteractionEnv::cmd_deliver},
      {"stabilize", &InteractionEnv::cmd_stabilize},
      {"msgs", &InteractionEnv::cmd_inspect},
      {"status", &InteractionEnv::cmd_inspect},
      {"log", &InteractionEnv::cmd_inspect},
      {"raft-state", &InteractionEnv::cmd_inspect},
  };
  if (err.empty() && cmd.name != "log-level") {
    auto it = kCommands.find(cmd.name);
    if (it == kCommands.end()) {
      err = "unknown command '" + cmd.name + "'";
    } else if (cmd.name != "add-nodes" && !cluster_) {
      err = "no cluster yet: start with add-nodes";
    } else {
      err = (this->*(it->second))(cmd);
    }
  }
  if (cmd.name != "log-level") level_ = saved;
  if (!err.empty()) {
    *usage_error = err;
    return "usage error: " + err;
  }
  return out_.str();
}

// ---- printing -----------------------------------------------------------------------------

void InteractionEnv::emit(Level min, const std::string& line) {
  if (level_ < min) return;
  out_ << (level_ == Level::kAll ? indent_ : "") << line << "\n";
}

InteractionEnv::Observed InteractionEnv::observe(NodeId id) {
  Observed o;
  Node& n = cluster_->node(id);
  o.up = n.up;
  if (n.up) {
    o.role = n.raft->role();
    o.term = n.raft->term();
    o.leader = n.raft->leader();
    o.config = n.raft->configuration();
  }
  o.hard_state = n.disk.hard_state;
  o.disk_entries = n.disk.entries;
  o.disk_snapshot = n.disk.snapshot;
  for (const auto& [key, bytes] : n.disk.incoming) o.incoming_bytes[key] = bytes.size();
  o.applied = n.applied;
  o.reads = n.reads.size();
  o.results = n.results.size();
  o.snapshot_requests = n.snapshot_requests;
  return o;
}

void InteractionEnv::print_soft_changes(NodeId id, const Observed& before, const Observed& after) {
  if (!before.up || !after.up) return;
  std::ostringstream line;
  if (after.role != before.role) {
    line << id << " becomes " << role_name(after.role) << " at term " << after.term;
    if (after.role == RoleKind::kFollower && after.leader != kNoNode) {
      line << ", leader " << after.leader;
    }
  } else if (after.term != before.term) {
    line << id << " moves to term " << after.term;
    if (after.leader != kNoNode && after.role != RoleKind::kLeader) {
      line << ", leader " << after.leader;
    }
  } else if (after.leader != before.leader) {
    if (after.leader == kNoNode) {
      line << id << " forgets leader " << before.leader;
    } else {
      line << id << " follows leader " << after.leader;
    }
  }
  if (!line.str().empty()) emit(Level::kEvents, line.str());
  if (after.config != before.config) {
    emit(Level::kEvents, cat(id, " configuration ", describe_configuration(after.config)));
  }
}

void InteractionEnv::print_ready(NodeId id, const Observed& before, const Observed& after,
                                 const std::vector<Message>& sent, uint64_t dropped) {
  Node& n = cluster_->node(id);
  if (after.hard_state != before.hard_state) emit(Level::kAll, hard_state_line(after.hard_state));
  for (const auto& [key, size] : after.incoming_bytes) {
    auto it = before.incoming_bytes.find(key);
    const size_t old = it == before.incoming_bytes.end() || it->second > size ? 0 : it->second;
    if (size != old || it == before.incoming_bytes.end()) {
      emit(Level::kAll,
           cat("writes snapshot ", key.first, "@t", key.second, " bytes=[", old, ",", size, ")"));
    }
  }
  const bool asked = after.snapshot_requests > before.snapshot_requests;
  const bool installed = after.disk_snapshot != before.disk_snapshot && !asked;
  if (installed) {
    emit(Level::kEvents, cat(id, " installs snapshot ", describe_snapshot(after.disk_snapshot)));
  }
  // Entries persisted: those on disk now that were not there (with the same term) before.
  std::map<LogIndex, Term> had;
  for (const Entry& e : before.disk_entries) had[e.index] = e.term;
  std::vector<Entry> fresh;
  for (const Entry& e : after.disk_entries) {
    auto it = had.find(e.index);
    if (it == had.end() || it->second != e.term) fresh.push_back(e);
  }
  if (!fresh.empty()) {
    std::string line = "persists " + describe_entries(fresh);
    if (had.contains(fresh.front().index)) {
      line += cat(" (overwrites from ", fresh.front().index, ")");
    }
    emit(Level::kAll, line);
  }
  for (const Message& m : sent) emit(Level::kAll, describe_message(m));
  if (dropped > 0) {
    emit(Level::kAll, cat("drops ", dropped, " snapshot chunk(s): that snapshot is gone"));
  }
  // Entries applied, looked up in the in-memory log or on disk.
  LogIndex from = (installed ? after.disk_snapshot.index : before.applied).next();
  if (after.applied >= from) {
    std::map<LogIndex, const Entry*> known;
    for (const Entry& e : before.disk_entries) known[e.index] = &e;
    for (const Entry& e : after.disk_entries) known[e.index] = &e;
    std::vector<Entry> applied;
    for (LogIndex i = from; i <= after.applied; ++i) {
      auto it = known.find(i);
      if (it == known.end()) break;
      applied.push_back(*it->second);
    }
    if (applied.size() == after.applied - from + 1) {
      emit(Level::kEvents, cat(id, " applies ", describe_entries(applied)));
    } else {
      emit(Level::kEvents, cat(id, " applies ", from, "..", after.applied));
    }
  }
  for (size_t i = before.reads; i < after.reads; ++i) {
    emit(Level::kEvents, cat(id, " ", describe_read(n.reads[i])));
  }
  // Consecutive proposals with the same outcome print as one range.
  for (size_t i = before.results; i < after.results;) {
    size_t j = i + 1;
    while (j < after.results && same_outcome(n.results[j - 1], n.results[j])) ++j;
    if (j - i == 1) {
      emit(Level::kEvents, cat(id, " proposal ", describe_result(n.results[i])));
    } else {
      emit(Level::kEvents,
           cat(id, " proposals ", describe_results(n.results[i], n.results[j - 1])));
    }
    i = j;
  }
  if (asked) {
    std::string line = cat(id, " is asked for a snapshot");
    if (after.disk_snapshot != before.disk_snapshot) {
      line += cat(" and takes it at ", describe_snapshot(after.disk_snapshot));
    }
    emit(Level::kEvents, line);
  }
  print_soft_changes(id, before, after);
}

// ---- steps --------------------------------------------------------------------------------

void InteractionEnv::pull_network() {
  if (cluster_->in_flight().empty()) return;
  std::vector<Message> fresh(cluster_->in_flight().begin(), cluster_->in_flight().end());
  cluster_->drop_if = [](Message&) { return true; };
  while (cluster_->deliver_one()) {
  }
  cluster_->drop_if = nullptr;
  network_.insert(network_.end(), fresh.begin(), fresh.end());
}

bool InteractionEnv::process_ready(NodeId id) {
  Node& n = cluster_->node(id);
  if (!n.up || !n.raft->has_ready()) return false;
  EXPECT_TRUE(cluster_->in_flight().empty());
  const Observed before = observe(id);
  const uint64_t dropped_before = cluster_->dropped;
  cluster_->process_ready(id);
  const uint64_t dropped = cluster_->dropped - dropped_before;
  const std::vector<Message> sent(cluster_->in_flight().begin(), cluster_->in_flight().end());
  pull_network();
  const Observed after = observe(id);
  emit(Level::kAll, cat("> ", id, " handling Ready"));
  indent_ = "  ";
  print_ready(id, before, after, sent, dropped);
  indent_.clear();
  cluster_->check_invariants();
  return true;
}

void InteractionEnv::deliver(const Message& m) {
  const std::string line = describe_message(m);
  const std::vector<NodeId> ids = cluster_->ids();
  std::string reason;
  if (std::find(ids.begin(), ids.end(), m.to) == ids.end()) {
    reason = "no such node";
  } else if (!cluster_->node(m.to).up) {
    reason = cat(m.to, " is down");
  } else if (cuts_.contains({m.from, m.to})) {
    reason = "link cut";
  }
  if (!reason.empty()) {
    emit(Level::kAll, line + " -- dropped: " + reason);
    return;
  }
  const Observed before = observe(m.to);
  const uint64_t delivered = cluster_->delivered;
  EXPECT_TRUE(cluster_->in_flight().empty());
  cluster_->drop_if = nullptr;
  cluster_->inject(m);
  cluster_->deliver_one();
  EXPECT_EQ(cluster_->delivered, delivered + 1) << "the harness did not deliver " << line;
  emit(Level::kAll, line);
  print_soft_changes(m.to, before, observe(m.to));
  cluster_->check_invariants();
}

void InteractionEnv::deliver_all(std::vector<Message> msgs) {
  std::set<NodeId> recipients;
  for (const Message& m : msgs) recipients.insert(m.to);
  for (NodeId to : recipients) {
    emit(Level::kAll, cat("> ", to, " receiving messages"));
    indent_ = "  ";
    for (const Message& m : msgs) {
      if (m.to == to) deliver(m);
    }
    indent_.clear();
  }
}

bool InteractionEnv::stabilize(const std::set<NodeId>& only) {
  for (int round = 0; round < kStabilizeRoundsMax; ++round) {
    bool any = false;
    for (NodeId id : cluster_->ids()) {
      if (only.empty() || only.contains(id)) any |= process_ready(id);
    }
    std::vector<Message> batch;
    std::deque<Message> rest;
    for (Message& m : network_) {
      if (only.empty() || only.contains(m.to)) {
        batch.push_back(std::move(m));
      } else {
        rest.push_back(std::move(m));
      }
    }
    network_ = std::move(rest);
    if (batch.empty() && !any) return true;
    deliver_all(std::move(batch));
  }
  return false;
}

void InteractionEnv::tick(NodeId id, uint64_t times) {
  for (uint64_t i = 0; i < times; ++i) {
    if (!cluster_->node(id).up) return;
    const Observed before = observe(id);
    cluster_->tick(id);
    print_soft_changes(id, before, observe(id));
  }
}

}  // namespace chorus::raft::testing
