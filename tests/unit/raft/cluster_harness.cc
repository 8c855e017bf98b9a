#include "cluster_harness.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "chorus/raft/codec.h"

namespace chorus::raft::testing {

Bytes serialize_state(const std::vector<std::string>& state) {
  Bytes out;
  for (const std::string& s : state) {
    Bytes len(4);
    store_le<uint32_t>(len.data(), static_cast<uint32_t>(s.size()));
    out.insert(out.end(), len.begin(), len.end());
    auto b = as_bytes(s);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

std::vector<std::string> deserialize_state(ByteSpan bytes) {
  std::vector<std::string> state;
  size_t pos = 0;
  while (pos + 4 <= bytes.size()) {
    uint32_t len = load_le<uint32_t>(bytes.data() + pos);
    pos += 4;
    CHORUS_ASSERT(pos + len <= bytes.size(), "bad snapshot bytes");
    state.emplace_back(as_string_view(bytes.subspan(pos, len)));
    pos += len;
  }
  CHORUS_ASSERT(pos == bytes.size(), "trailing snapshot bytes");
  return state;
}

Cluster::Cluster(ClusterOptions opts) : options(std::move(opts)) {
  const size_t total = options.voters + options.learners;
  for (size_t i = 1; i <= total; ++i) {
    NodeId id(i);
    Node& n = nodes_[id];
    n.config = make_config(id);
    n.raft = std::make_unique<Raft>(n.config, Bootstrap{});
  }
}

Config Cluster::make_config(NodeId id) const {
  Config c;
  c.id = id;
  for (size_t i = 1; i <= options.voters; ++i) c.voters.insert(NodeId(i));
  for (size_t i = options.voters + 1; i <= options.voters + options.learners; ++i) {
    c.learners.insert(NodeId(i));
  }
  c.groups = options.groups;
  c.quorum = options.policy;
  c.random_seed = options.seed;
  if (options.tweak) options.tweak(c);
  return c;
}

Node& Cluster::node(NodeId id) {
  auto it = nodes_.find(id);
  CHORUS_ASSERT(it != nodes_.end(), "no node ", id);
  return it->second;
}

std::vector<NodeId> Cluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void Cluster::add_node(NodeId id) {
  Node& n = nodes_[id];
  n.config = make_config(id);
  n.config.voters.clear();
  n.config.learners.clear();
  n.config.groups = options.groups;
  n.raft = std::make_unique<Raft>(n.config, Bootstrap{});
}

void Cluster::crash(NodeId id) {
  Node& n = node(id);
  n.up = false;
  n.raft.reset();
}

void Cluster::restart(NodeId id) {
  Node& n = node(id);
  n.disk.incarnation++;
  Bootstrap b{n.disk.hard_state, n.disk.snapshot, n.disk.entries, n.disk.incarnation};
  n.raft = std::make_unique<Raft>(n.config, b);
  // The state machine restarts from the snapshot; committed entries are re-applied.
  n.state = n.disk.snapshot.index > LogIndex(0) ? deserialize_state(n.disk.snapshot_bytes)
                                                : std::vector<std::string>{};
  n.applied = n.disk.snapshot.index;
  n.up = true;
}

void Cluster::tick(NodeId id, int times) {
  for (int i = 0; i < times; ++i) {
    if (node(id).up) node(id).raft->tick();
  }
}

void Cluster::tick_all(int times) {
  for (int i = 0; i < times; ++i) {
    for (auto& [id, n] : nodes_) {
      if (n.up) n.raft->tick();
    }
  }
}

void Cluster::install(Node& n, const SnapshotMeta& meta) {
  auto key = std::make_pair(meta.index.value(), meta.term.value());
  Bytes bytes = n.disk.incoming[key];
  n.disk.incoming.erase(key);
  EXPECT_EQ(bytes.size(), meta.size_bytes);
  bool keep = false;
  for (const Entry& e : n.disk.entries) keep |= e.index == meta.index && e.term == meta.term;
  std::erase_if(n.disk.entries, [&](const Entry& e) { return !keep || e.index <= meta.index; });
  n.disk.snapshot = meta;
  n.disk.snapshot_bytes = bytes;
  n.state = deserialize_state(bytes);
  n.applied = meta.index;
}

void Cluster::persist(Node& n, Ready& rd) {
  if (rd.hard_state) n.disk.hard_state = *rd.hard_state;
  for (const SnapshotChunk& chunk : rd.snapshot_chunks_to_write) {
    Bytes& file = n.disk.incoming[{chunk.meta.index.value(), chunk.meta.term.value()}];
    // Offset 0 starts the file over (e.g. the core restarted and lost its partial transfer).
    if (chunk.offset == 0) file.clear();
    EXPECT_EQ(file.size(), chunk.offset) << "chunks are written in order";
    file.resize(chunk.offset);
    file.insert(file.end(), chunk.data.begin(), chunk.data.end());
  }
  if (rd.snapshot_to_install) install(n, *rd.snapshot_to_install);
  if (!rd.entries.empty()) {
    LogIndex first = rd.entries.front().index;
    std::erase_if(n.disk.entries, [&](const Entry& e) { return e.index >= first; });
    ASSERT_TRUE(n.disk.entries.empty() || n.disk.entries.back().index.next() == first)
        << "a hole on disk before " << first;
    n.disk.entries.insert(n.disk.entries.end(), rd.entries.begin(), rd.entries.end());
    n.raft->on_persisted(rd.entries.back().index, rd.entries.back().term);
  }
}

void Cluster::apply(Node& n, const Ready& rd) {
  for (const Entry& e : rd.committed_entries) {
    EXPECT_EQ(e.index, n.applied.next()) << "applied out of order";
    if (e.type == EntryType::kNormal) n.state.emplace_back(as_string_view(e.data));
    n.applied = e.index;
  }
  if (!rd.committed_entries.empty()) n.raft->on_applied(n.applied);
}

void Cluster::take_snapshot(Node& n) {
  n.disk.snapshot_bytes = serialize_state(n.state);
  Status s = n.raft->compact(n.applied, n.disk.snapshot_bytes.size());
  ASSERT_TRUE(s.ok()) << s.ToString();
  n.disk.snapshot = n.raft->snapshot();
  std::erase_if(n.disk.entries, [&](const Entry& e) { return e.index <= n.applied; });
}

void Cluster::enqueue(Node& n, std::vector<Message>& messages) {
  for (Message& m : messages) {
    if (m.fill_from_snapshot) {
      if (m.snapshot.index != n.disk.snapshot.index || m.snapshot.term != n.disk.snapshot.term) {
        ++dropped;  // that snapshot is gone: the leader resends
        continue;
      }
      fill_snapshot_chunk(m, ByteSpan(n.disk.snapshot_bytes).subspan(m.offset, m.count));
    }
    // Exercise the codec on every message.
    auto decoded = decode(encode(m));
    EXPECT_TRUE(decoded.ok() && *decoded == m) << message_type_name(m.type);
    network_.push_back(std::move(m));
  }
}

void Cluster::process_ready(NodeId id) {
  Node& n = node(id);
  if (!n.up || !n.raft->has_ready()) return;
  Ready rd = n.raft->ready();
  persist(n, rd);
  enqueue(n, rd.messages);
  enqueue(n, rd.messages_after_persist);  // durable already: persistence is synchronous
  apply(n, rd);
  n.reads.insert(n.reads.end(), rd.read_states.begin(), rd.read_states.end());
  n.results.insert(n.results.end(), rd.proposal_results.begin(), rd.proposal_results.end());
  if (rd.snapshot_request) {
    ++n.snapshot_requests;
    if (options.auto_snapshot) take_snapshot(n);
  }
}

bool Cluster::deliver_one() {
  if (network_.empty()) return false;
  Message m = std::move(network_.front());
  network_.pop_front();
  auto it = nodes_.find(m.to);
  if (it == nodes_.end() || !it->second.up || cut_.contains({m.from, m.to}) ||
      (drop_if && drop_if(m))) {
    ++dropped;
    return true;
  }
  ++delivered;
  (void)it->second.raft->step(m);
  return true;
}

void Cluster::stabilize(size_t max_steps) {
  for (size_t step = 0; step < max_steps; ++step) {
    for (auto& [id, n] : nodes_) process_ready(id);
    check_invariants();
    if (!deliver_one()) {
      bool any = false;
      for (auto& [id, n] : nodes_) any |= n.up && n.raft->has_ready();
      if (!any) return;
    }
  }
  ADD_FAILURE() << "the cluster did not quiesce";
}

void Cluster::run(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    tick_all();
    stabilize();
  }
}

bool Cluster::elect(NodeId id) {
  Raft& r = raft(id);
  for (uint32_t i = 0; i < 10 * node(id).config.election_tick && !r.is_leader(); ++i) {
    r.tick();
    if (r.role() != RoleKind::kFollower) stabilize();
  }
  stabilize();
  return r.is_leader();
}

NodeId Cluster::leader() const {
  NodeId best = kNoNode;
  Term best_term;
  for (const auto& [id, n] : nodes_) {
    if (n.up && n.raft->is_leader() && n.raft->term() >= best_term) {
      best = id;
      best_term = n.raft->term();
    }
  }
  return best;
}

void Cluster::isolate(NodeId id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id) continue;
    cut(id, other);
    cut(other, id);
  }
}

void Cluster::partition(const std::set<NodeId>& side) {
  for (const auto& [a, na] : nodes_) {
    for (const auto& [b, nb] : nodes_) {
      if (side.contains(a) != side.contains(b)) cut(a, b);
    }
  }
}

ProposalId Cluster::propose(NodeId id, const std::string& data) {
  auto r = raft(id).propose(to_bytes(data));
  CHORUS_ASSERT(r.ok(), "propose on ", id, ": ", r.status().ToString());
  return *r;
}

std::optional<ProposalResult> Cluster::result(NodeId id, ProposalId proposal) const {
  for (const ProposalResult& r : nodes_.at(id).results) {
    if (r.id == proposal) return r;
  }
  return std::nullopt;
}

void Cluster::check_invariants() {
  std::vector<const Node*> up;
  for (auto& [id, n] : nodes_) {
    if (!n.up) continue;
    n.raft->check_invariants();
    up.push_back(&n);
    if (n.raft->is_leader()) {
      auto [it, fresh] = leaders_by_term_.emplace(n.raft->term(), id);
      EXPECT_EQ(it->second, id) << "two leaders in term " << n.raft->term();
    }
  }
  for (size_t i = 0; i < up.size(); ++i) {
    for (size_t j = i + 1; j < up.size(); ++j) {
      const RaftLog& a = up[i]->raft->log();
      const RaftLog& b = up[j]->raft->log();
      LogIndex lo = std::max(a.first_index(), b.first_index());
      LogIndex hi = std::min(a.last_index(), b.last_index());
      // Log Matching (§5.3): the last common index with equal terms implies equal prefixes.
      LogIndex last_equal;
      for (LogIndex k = hi; k >= lo && k > LogIndex(0); k = k.prev()) {
        if (a.at(k).term == b.at(k).term) {
          last_equal = k;
          break;
        }
      }
      for (LogIndex k = lo; k <= last_equal; ++k) {
        EXPECT_EQ(a.at(k), b.at(k)) << "log matching broken at " << k;
      }
      const auto& sa = up[i]->state;
      const auto& sb = up[j]->state;
      size_t common = std::min(sa.size(), sb.size());
      EXPECT_TRUE(std::equal(sa.begin(), sa.begin() + common, sb.begin()))
          << "state machines diverge";
    }
  }
}

}  // namespace chorus::raft::testing
