#include "simulator.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>

#include "chorus/base/checksum.h"
#include "chorus/raft/codec.h"

namespace chorus::sim {
namespace {

using raft::Message;
using raft::RoleKind;

// Everything a seed decides about a run (TigerBeetle's VOPR: randomize the configuration too).
struct Scenario {
  size_t nodes = 3;
  raft::QuorumPolicy policy;
  std::map<NodeId, std::string> groups;
  uint32_t election_tick = 10;
  bool pre_vote = true;
  bool check_quorum = true;
  bool lease_reads = false;
  uint64_t snapshot_threshold = 200;
  uint64_t chunk_bytes = 512;
  std::vector<uint64_t> tick_ms;  // per node: clock skew between nodes' tick rates
  // Per-message network faults, in parts per 1000.
  uint64_t drop = 0, duplicate = 0, long_delay = 0;
  uint64_t delay_min_ms = 1, delay_max_ms = 5;
  uint64_t fsync_min_ms = 0, fsync_max_ms = 3;
  // Mean milliseconds between fault events of each kind (0: never).
  uint64_t partition_every = 0, crash_every = 0, fsync_fail_every = 0, membership_every = 0,
           transfer_every = 0;
  CrashMode crash_mode = CrashMode::kRandom;  // how much of the unsynced state survives
  size_t clients = 4;
  size_t keys = 3;
};

Scenario draw_scenario(Rng& rng) {
  Scenario s;
  const size_t sizes[] = {3, 3, 5, 5, 7};
  s.nodes = sizes[rng.uniform(5)];
  switch (rng.uniform(4)) {
    case 0:
      if (s.nodes >= 5) {
        // tinyraftplus's replication groups: a majority in each of two "clouds".
        s.policy.kind = raft::QuorumPolicyKind::kGroups;
        for (size_t i = 1; i <= s.nodes; ++i) s.groups[NodeId(i)] = i % 2 ? "cloud-a" : "cloud-b";
      }
      break;
    case 1:
      s.policy.kind = raft::QuorumPolicyKind::kExplicitCommit;
      s.policy.commit_quorum = static_cast<uint32_t>(rng.between(raft::majority(s.nodes), s.nodes));
      break;
    default:
      break;
  }
  s.election_tick = static_cast<uint32_t>(rng.between(8, 20));
  s.pre_vote = !rng.chance(1, 5);
  s.check_quorum = !rng.chance(1, 5);
  s.lease_reads = s.check_quorum && rng.chance(1, 3);
  s.snapshot_threshold = rng.between(30, 400);
  s.chunk_bytes = rng.between(16, 256);  // small: transfers take several chunks and can resume
  for (size_t i = 0; i < 12; ++i) s.tick_ms.push_back(rng.between(8, 12));
  s.drop = rng.between(0, 60);
  s.duplicate = rng.between(0, 30);
  s.long_delay = rng.between(0, 30);
  s.delay_max_ms = rng.between(1, 15);
  s.fsync_max_ms = rng.between(0, 8);
  s.partition_every = rng.chance(4, 5) ? rng.between(300, 3000) : 0;
  s.crash_every = rng.chance(4, 5) ? rng.between(500, 4000) : 0;
  s.fsync_fail_every = rng.chance(1, 3) ? rng.between(2000, 8000) : 0;
  s.membership_every = rng.chance(1, 2) ? rng.between(1000, 5000) : 0;
  s.transfer_every = rng.chance(1, 2) ? rng.between(1000, 5000) : 0;
  const CrashMode modes[] = {CrashMode::kRandom, CrashMode::kRandomFlipUnsynced,
                             CrashMode::kLoseAllUnsynced};
  s.crash_mode = modes[rng.uniform(3)];
  s.clients = rng.between(2, 6);
  s.keys = rng.between(1, 4);
  return s;
}

struct ClientOp {
  size_t history_index = 0;
  int client = 0;
};

struct Node {
  NodeId id;
  std::unique_ptr<SimFileSystem> fs;
  std::unique_ptr<node::RaftStorage> storage;
  std::unique_ptr<raft::Raft> raft;
  LinKv kv;
  LogIndex applied;
  LogIndex commit_seen;
  Term led_term;  // the term this node last led in, and its last entry then (append-only check)
  LogIndex led_last;
  Term led_last_term;
  bool up = false;
  uint64_t restart_at = 0;
  uint64_t next_tick = 0;
  struct Unsynced {
    std::optional<std::pair<LogIndex, Term>> persisted;
    std::vector<Message> after;
    uint64_t due = 0;
  };
  std::deque<Unsynced> wal;
  std::map<LogIndex, KvResult> results;  // recent apply results, to answer proposals
  std::map<raft::ProposalId, ClientOp> proposals;
  std::map<uint64_t, ClientOp> reads;                  // read_index request id -> op
  std::vector<std::pair<LogIndex, ClientOp>> serving;  // reads waiting for applied >= index
};

struct Envelope {
  uint64_t at;
  uint64_t seq;
  Message msg;
  bool operator>(const Envelope& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
};

struct Client {
  bool busy = false;
  ClientOp op;
  NodeId node;
  uint64_t deadline = 0;
  uint64_t next_at = 0;
};

class World {
 public:
  explicit World(const SimOptions& o) : opt_(o), rng_(o.seed), sc_(draw_scenario(rng_)) {}

  SimResult run();

 private:
  // -- nodes -----------------------------------------------------------------------------------
  raft::Config config_for(NodeId id, bool initial) const;
  void start(Node& n, bool initial);
  void crash(Node& n, const std::string& why);
  void drain(Node& n);
  void handle_ready(Node& n, raft::Ready& rd);
  void apply(Node& n, const raft::Entry& e);
  void serve_reads(Node& n);
  void take_snapshot(Node& n, LogIndex at);
  void record_state(Node& n);
  void sync_wal(Node& n);
  bool storage_ok(Node& n, const Status& s, const char* what);
  // -- network ---------------------------------------------------------------------------------
  void send(Node& from, Message m);
  void deliver(const Envelope& e);
  // -- clients ---------------------------------------------------------------------------------
  void client_step(int c);
  void finish(const ClientOp& op, lincheck::Outcome outcome, std::optional<int64_t> read = {});
  void fail_pending(Node& n);
  // -- faults ----------------------------------------------------------------------------------
  void inject_faults();
  void heal_all();
  Node* leader();
  // -- checks ----------------------------------------------------------------------------------
  void check(Node& n);
  void check_cluster();
  void violate(const std::string& what);
  bool converged();
  void step();
  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  SimOptions opt_;
  Rng rng_;
  Scenario sc_;
  uint64_t now_ = 0;
  bool faults_ = true;
  std::map<NodeId, Node> nodes_;
  std::priority_queue<Envelope, std::vector<Envelope>, std::greater<>> net_;
  uint64_t net_seq_ = 0;
  std::set<std::pair<NodeId, NodeId>> cut_;
  uint64_t heal_at_ = 0;
  std::vector<Client> clients_;
  std::vector<lincheck::Operation> history_;
  std::vector<bool> done_;  // per history entry
  int64_t next_value_ = 1;
  uint64_t next_read_id_ = 1;
  uint64_t next_node_id_ = 0;
  // Safety records across the cluster.
  std::map<Term, NodeId> leader_of_term_;
  std::map<uint64_t, std::pair<Term, uint64_t>> applied_entries_;  // index -> (term, hash)
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_hash_;   // (index, term) -> hash
  std::map<uint64_t, uint64_t> state_at_;                          // applied index -> kv hash
  uint64_t last_ok_after_heal_ = 0;
  SimResult result_;
};

void World::log(const char* fmt, ...) {
  if (!opt_.verbose) return;
  va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "[%6llu] ", static_cast<unsigned long long>(now_));
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
}

void World::violate(const std::string& what) {
  if (result_.ok) {
    result_.ok = false;
    result_.failure = "at " + std::to_string(now_) + " ms: " + what;
  }
}

raft::Config World::config_for(NodeId id, bool initial) const {
  raft::Config c;
  c.id = id;
  if (initial) {
    for (size_t i = 1; i <= sc_.nodes; ++i) c.voters.insert(NodeId(i));
  }
  c.groups = sc_.groups;
  c.quorum = sc_.policy;
  c.election_tick = sc_.election_tick;
  c.heartbeat_tick = 1;
  c.pre_vote = sc_.pre_vote;
  c.check_quorum = sc_.check_quorum;
  c.lease_reads = sc_.lease_reads;
  c.snapshot_threshold_entries = sc_.snapshot_threshold;
  c.snapshot_chunk_bytes = sc_.chunk_bytes;
  c.max_inflight_msgs = 16;
  c.random_seed = opt_.seed;
  return c;
}

bool World::storage_ok(Node& n, const Status& s, const char* what) {
  if (s.ok()) return true;
  // Any storage failure stops the node (an fsync error is never retried and acked).
  log("n%llu storage %s failed: %s", (unsigned long long)n.id.value(), what, s.ToString().c_str());
  result_.counters.add("storage_error_stop");
  if (s.code() == StatusCode::kCorruption)
    violate("n" + std::to_string(n.id.value()) + " " + what + ": " + s.ToString());
  crash(n, "storage error");
  return false;
}

void World::start(Node& n, bool initial) {
  // An I/O error while starting (an injected fsync failure) stops the process again; it retries
  // later. Corruption is a bug: nothing the simulator injects may damage acknowledged data.
  auto retry_or_violate = [&](const Status& st) {
    if (st.code() == StatusCode::kCorruption) {
      violate("n" + std::to_string(n.id.value()) + " cannot restart: " + st.ToString());
    }
    n.storage.reset();
    n.fs->crash(CrashMode::kLoseAllUnsynced);
    n.restart_at = now_ + rng_.between(50, 500);
    result_.counters.add("restart_failed_io");
  };
  auto storage = node::RaftStorage::open(
      *n.fs, "/node", {.segment_bytes = 64 << 10, .background_preallocate = false});
  if (!storage.ok()) return retry_or_violate(storage.status());
  n.storage = std::move(storage).value();
  auto boot = n.storage->load();
  if (!boot.ok()) return retry_or_violate(boot.status());
  n.kv = LinKv();
  n.applied = boot->snapshot.index;
  if (boot->snapshot.index.value() > 0) {
    auto state = n.storage->read_snapshot_state(boot->snapshot);
    if (!state.ok() || !n.kv.restore(*state).ok()) {
      violate("n" + std::to_string(n.id.value()) + " cannot restore its snapshot");
      return;
    }
  }
  raft::Config c = config_for(n.id, initial);
  n.raft = std::make_unique<raft::Raft>(c, *boot);
  n.commit_seen = n.raft->status().commit;
  n.led_term = Term();  // a new lifetime: it has led nothing yet
  n.up = true;
  n.next_tick = now_ + sc_.tick_ms[n.id.value() % sc_.tick_ms.size()];
  drain(n);
}

void World::fail_pending(Node& n) {
  for (auto& [id, op] : n.proposals) finish(op, lincheck::Outcome::kIndeterminate);
  for (auto& [id, op] : n.reads) finish(op, lincheck::Outcome::kIndeterminate);
  for (auto& [idx, op] : n.serving) finish(op, lincheck::Outcome::kIndeterminate);
  n.proposals.clear();
  n.reads.clear();
  n.serving.clear();
}

void World::crash(Node& n, const std::string& why) {
  if (!n.up) return;
  log("n%llu crashes (%s)", (unsigned long long)n.id.value(), why.c_str());
  result_.counters.add("crash");
  fail_pending(n);
  // The disk loses what was not synced before the process's objects go away.
  n.fs->crash(sc_.crash_mode);
  result_.counters.add(sc_.crash_mode == CrashMode::kRandom               ? "crash_torn"
                       : sc_.crash_mode == CrashMode::kRandomFlipUnsynced ? "crash_torn_bitflip"
                                                                          : "crash_lose_unsynced");
  n.raft.reset();
  n.storage.reset();
  n.wal.clear();
  n.results.clear();
  n.up = false;
  n.restart_at = now_ + rng_.between(50, 2000);
}

void World::drain(Node& n) {
  for (int i = 0; n.up && n.raft->has_ready() && i < 1000; ++i) {
    raft::Ready rd = n.raft->ready();
    handle_ready(n, rd);
    if (n.up) check(n);
  }
}

void World::handle_ready(Node& n, raft::Ready& rd) {
  for (const auto& chunk : rd.snapshot_chunks_to_write) {
    if (!storage_ok(n, n.storage->write_snapshot_chunk(chunk), "write snapshot chunk")) return;
    result_.counters.add(chunk.offset == 0 ? "snapshot_chunk_first" : "snapshot_chunk_next");
  }
  if (rd.snapshot_to_install) {
    const auto& meta = *rd.snapshot_to_install;
    if (!storage_ok(n, n.storage->install_snapshot(meta), "install snapshot")) return;
    auto state = n.storage->read_snapshot_state(meta);
    if (!storage_ok(n, state.status(), "read snapshot")) return;
    if (!n.kv.restore(*state).ok()) violate("installed snapshot does not decode");
    log("n%llu installs snapshot %llu (applied was %llu)", (unsigned long long)n.id.value(),
        (unsigned long long)meta.index.value(), (unsigned long long)n.applied.value());
    n.applied = meta.index;
    record_state(n);
    result_.counters.add("snapshot_installed");
  }
  if (!storage_ok(n, n.storage->write(rd.hard_state, rd.entries), "write")) return;
  for (Message& m : rd.messages) send(n, std::move(m));
  Node::Unsynced u;
  if (!rd.entries.empty()) u.persisted = {rd.entries.back().index, rd.entries.back().term};
  u.after = std::move(rd.messages_after_persist);
  u.due = std::max(n.wal.empty() ? 0 : n.wal.back().due,
                   now_ + rng_.between(sc_.fsync_min_ms, sc_.fsync_max_ms));
  n.wal.push_back(std::move(u));
  for (const auto& e : rd.committed_entries) apply(n, e);
  if (!rd.committed_entries.empty()) n.raft->on_applied(n.applied);
  for (const auto& rs : rd.read_states) {
    auto it = n.reads.find(rs.request_id);
    if (it == n.reads.end()) continue;
    if (!rs.status.ok()) {
      finish(it->second, lincheck::Outcome::kFail);
    } else {
      log("n%llu read_state id %llu index %llu (applied %llu, commit %llu, role %d term %llu)",
          (unsigned long long)n.id.value(), (unsigned long long)rs.request_id,
          (unsigned long long)rs.index.value(), (unsigned long long)n.applied.value(),
          (unsigned long long)n.raft->status().commit.value(), static_cast<int>(n.raft->role()),
          (unsigned long long)n.raft->term().value());
      n.serving.push_back({rs.index, it->second});
    }
    n.reads.erase(it);
  }
  for (const auto& pr : rd.proposal_results) {
    auto it = n.proposals.find(pr.id);
    if (it == n.proposals.end()) continue;
    ClientOp op = it->second;
    n.proposals.erase(it);
    if (pr.outcome == raft::ProposalOutcome::kCommitted) {
      auto r = n.results.find(pr.index);
      if (r == n.results.end()) {
        violate("committed proposal at " + std::to_string(pr.index.value()) +
                " was not applied first");
        continue;
      }
      finish(op,
             r->second == KvResult::kOk ? lincheck::Outcome::kOk : lincheck::Outcome::kCasMismatch);
    } else {
      finish(op, pr.outcome == raft::ProposalOutcome::kFailedDefinite
                     ? lincheck::Outcome::kFail
                     : lincheck::Outcome::kIndeterminate);
    }
  }
  serve_reads(n);
  if (rd.snapshot_request) take_snapshot(n, n.applied);
}

// Answers the reads whose read index this node has applied (thesis §6.4).
void World::serve_reads(Node& n) {
  std::erase_if(n.serving, [&](const auto& w) {
    if (w.first > n.applied) return false;
    finish(w.second, lincheck::Outcome::kOk, n.kv.read(history_[w.second.history_index].key));
    return true;
  });
}

void World::apply(Node& n, const raft::Entry& e) {
  if (e.index != n.applied.next()) {
    violate("n" + std::to_string(n.id.value()) + " applies " + std::to_string(e.index.value()) +
            " after " + std::to_string(n.applied.value()));
  }
  uint64_t h = checksum64(e.data) ^ (static_cast<uint64_t>(e.type) << 56);
  auto [it, fresh] = applied_entries_.try_emplace(e.index.value(), e.term, h);
  if (!fresh && it->second != std::make_pair(e.term, h)) {
    violate("state machine safety: two different entries applied at index " +
            std::to_string(e.index.value()));
  }
  if (e.type == raft::EntryType::kNormal) {
    auto cmd = decode_command(e.data);
    if (!cmd.ok()) {
      violate("undecodable command at " + std::to_string(e.index.value()));
    } else {
      n.results[e.index] = n.kv.apply(*cmd);
      if (fresh) {
        log("apply %llu term %llu: %s %s %lld (from %lld) origin n%llu proposal %llu -> %d",
            (unsigned long long)e.index.value(), (unsigned long long)e.term.value(),
            cmd->op == KvCommand::Op::kWrite ? "write" : "cas", cmd->key.c_str(),
            (long long)cmd->value, (long long)cmd->from, (unsigned long long)e.origin.value(),
            (unsigned long long)e.proposal.value(), static_cast<int>(n.results[e.index]));
      }
    }
  }
  n.applied = e.index;
  record_state(n);
  while (n.results.size() > 4096) n.results.erase(n.results.begin());
}

// Replicas that applied the same prefix must hold the same state (catches a snapshot whose
// bytes do not match its index, or an entry applied twice).
void World::record_state(Node& n) {
  auto [it, fresh] = state_at_.try_emplace(n.applied.value(), n.kv.hash());
  if (!fresh && it->second != n.kv.hash()) {
    violate("n" + std::to_string(n.id.value()) + " state at applied index " +
            std::to_string(n.applied.value()) + " differs from another replica's");
  }
}

void World::take_snapshot(Node& n, LogIndex at) {
  Bytes state = n.kv.snapshot();
  Status s = n.raft->compact(at, state.size());
  if (!s.ok()) return;
  raft::SnapshotMeta meta = n.raft->snapshot();
  log("n%llu snapshot at %llu (meta %llu)", (unsigned long long)n.id.value(),
      (unsigned long long)at.value(), (unsigned long long)meta.index.value());
  if (!storage_ok(n, n.storage->save_snapshot(meta, state), "save snapshot")) return;
  if (!storage_ok(n, n.storage->trim_log(meta.index), "trim log")) return;
  result_.counters.add("snapshot_taken");
}

void World::sync_wal(Node& n) {
  if (n.wal.empty() || n.wal.front().due > now_) return;
  if (!storage_ok(n, n.storage->sync(), "fsync")) return;
  // One sync covers every Ready written so far (group commit).
  std::deque<Node::Unsynced> synced;
  synced.swap(n.wal);
  for (auto& u : synced) {
    if (u.persisted) n.raft->on_persisted(u.persisted->first, u.persisted->second);
    for (Message& m : u.after) send(n, std::move(m));
  }
  drain(n);
}

void World::send(Node& from, Message m) {
  if (m.fill_from_snapshot) {
    if (from.storage->snapshot().index != m.snapshot.index ||
        from.storage->snapshot().term != m.snapshot.term) {
      return;  // that snapshot is gone; the leader resends
    }
    auto bytes = from.storage->read_snapshot_chunk(m.snapshot, m.offset, m.count);
    if (!bytes.ok()) return;
    raft::fill_snapshot_chunk(m, *bytes);
    result_.counters.add("snapshot_chunk_sent");
  }
  if (cut_.contains({m.from, m.to})) {
    result_.counters.add("net_partitioned");
    return;
  }
  if (faults_ && rng_.chance(sc_.drop, 1000)) {
    result_.counters.add("net_drop");
    return;
  }
  int copies = faults_ && rng_.chance(sc_.duplicate, 1000) ? 2 : 1;
  if (copies == 2) result_.counters.add("net_duplicate");
  for (int i = 0; i < copies; ++i) {
    uint64_t delay = rng_.between(sc_.delay_min_ms, sc_.delay_max_ms);
    if (faults_ && rng_.chance(sc_.long_delay, 1000)) {
      delay += rng_.between(20, 400);  // reordered far behind later messages
      result_.counters.add("net_long_delay");
    }
    net_.push({now_ + delay, net_seq_++, m});
  }
}

void World::deliver(const Envelope& env) {
  auto it = nodes_.find(env.msg.to);
  if (it == nodes_.end() || !it->second.up) return;
  // Every message crosses the real codec.
  auto decoded = raft::decode(raft::encode(env.msg));
  if (!decoded.ok() || !(*decoded == env.msg)) {
    violate("codec round trip changed a " + std::string(raft::message_type_name(env.msg.type)));
    return;
  }
  Node& n = it->second;
  (void)n.raft->step(*decoded);
  drain(n);
}

void World::finish(const ClientOp& op, lincheck::Outcome outcome, std::optional<int64_t> read) {
  if (done_[op.history_index]) return;
  done_[op.history_index] = true;
  auto& h = history_[op.history_index];
  log("p%d op#%zu %s %s on n%llu -> outcome %d (%s)", op.client, op.history_index,
      h.kind == lincheck::OpKind::kRead    ? "read"
      : h.kind == lincheck::OpKind::kWrite ? "write"
                                           : "cas",
      h.key.c_str(), (unsigned long long)clients_[op.client].node.value(),
      static_cast<int>(outcome),
      h.kind == lincheck::OpKind::kRead ? std::to_string(read ? *read : -1).c_str()
      : h.kind == lincheck::OpKind::kWrite
          ? std::to_string(h.value ? *h.value : -1).c_str()
          : (std::to_string(h.from) + "->" + std::to_string(h.to)).c_str());
  h.outcome = outcome;
  h.return_time = now_;
  if (h.kind == lincheck::OpKind::kRead && outcome == lincheck::Outcome::kOk) h.value = read;
  if (outcome == lincheck::Outcome::kOk && !faults_) last_ok_after_heal_ = now_;
  result_.counters.add(std::string("op_") + (outcome == lincheck::Outcome::kOk     ? "ok"
                                             : outcome == lincheck::Outcome::kFail ? "fail"
                                             : outcome == lincheck::Outcome::kCasMismatch
                                                 ? "cas_mismatch"
                                                 : "indeterminate"));
  Client& c = clients_[op.client];
  if (c.busy && c.op.history_index == op.history_index) {
    c.busy = false;
    c.next_at = now_ + rng_.between(0, 20);
  }
}

void World::client_step(int ci) {
  Client& c = clients_[ci];
  if (c.busy) {
    if (now_ >= c.deadline) finish(c.op, lincheck::Outcome::kIndeterminate);  // client timeout
    return;
  }
  if (now_ < c.next_at) return;
  std::vector<NodeId> up;
  for (auto& [id, n] : nodes_) {
    if (n.up) up.push_back(id);
  }
  if (up.empty()) return;
  NodeId target = up[rng_.uniform(up.size())];
  Node& n = nodes_.at(target);
  lincheck::Operation op;
  op.process = ci;
  op.key = "k" + std::to_string(rng_.uniform(sc_.keys));
  op.call_time = now_;
  uint64_t kind = rng_.uniform(3);
  op.kind = kind == 0   ? lincheck::OpKind::kRead
            : kind == 1 ? lincheck::OpKind::kWrite
                        : lincheck::OpKind::kCas;
  ClientOp ref{history_.size(), ci};
  history_.push_back(op);
  done_.push_back(false);
  c.busy = true;
  c.op = ref;
  c.node = target;
  c.deadline = now_ + 3000;
  auto& h = history_.back();
  if (h.kind == lincheck::OpKind::kRead) {
    uint64_t rid = next_read_id_++;
    if (Status s = n.raft->read_index(rid); !s.ok()) {
      finish(ref, lincheck::Outcome::kFail);
    } else {
      n.reads[rid] = ref;
    }
  } else {
    KvCommand cmd;
    cmd.key = h.key;
    if (h.kind == lincheck::OpKind::kWrite) {
      cmd.op = KvCommand::Op::kWrite;
      h.value = cmd.value = next_value_++;
    } else {
      cmd.op = KvCommand::Op::kCas;
      h.from = cmd.from =
          static_cast<int64_t>(rng_.between(1, std::max<int64_t>(1, next_value_ - 1)));
      h.to = cmd.value = next_value_++;
    }
    auto pid = n.raft->propose(encode_command(cmd));
    if (!pid.ok()) {
      finish(ref, lincheck::Outcome::kFail);
    } else {
      n.proposals[*pid] = ref;
    }
  }
  drain(n);
}

Node* World::leader() {
  Node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (n.up && n.raft->is_leader() && (!best || n.raft->term() > best->raft->term())) best = &n;
  }
  return best;
}

void World::heal_all() {
  if (!cut_.empty()) result_.counters.add("heal");
  cut_.clear();
}

void World::inject_faults() {
  auto due = [&](uint64_t every) { return every > 0 && rng_.chance(1, every); };
  std::vector<NodeId> ids;
  for (auto& [id, n] : nodes_) ids.push_back(id);
  if (heal_at_ != 0 && now_ >= heal_at_) {
    heal_all();
    heal_at_ = 0;
  }
  if (due(sc_.partition_every) && cut_.empty()) {
    uint64_t kind = rng_.uniform(4);
    if (kind == 0) {  // symmetric: a random side against the rest
      std::set<NodeId> side;
      for (NodeId id : ids) {
        if (rng_.chance(1, 2)) side.insert(id);
      }
      for (NodeId a : ids) {
        for (NodeId b : ids) {
          if (side.contains(a) != side.contains(b)) cut_.insert({a, b});
        }
      }
      result_.counters.add("partition_symmetric");
    } else if (kind == 1) {  // one-way links
      for (int i = 0; i < 3; ++i)
        cut_.insert({ids[rng_.uniform(ids.size())], ids[rng_.uniform(ids.size())]});
      result_.counters.add("partition_one_way");
    } else if (kind == 2) {  // the leader isolated
      if (Node* l = leader()) {
        for (NodeId b : ids) {
          if (b != l->id) cut_.insert({l->id, b}), cut_.insert({b, l->id});
        }
        result_.counters.add("partition_leader_isolated");
      }
    } else {  // a bridge: two halves that only one node hears both of
      NodeId bridge = ids[rng_.uniform(ids.size())];
      for (NodeId a : ids) {
        for (NodeId b : ids) {
          if (a != bridge && b != bridge && (a.value() % 2) != (b.value() % 2)) cut_.insert({a, b});
        }
      }
      result_.counters.add("partition_bridge");
    }
    heal_at_ = now_ + rng_.between(100, 3000);
  }
  if (due(sc_.crash_every)) {
    Node& n = nodes_.at(ids[rng_.uniform(ids.size())]);
    if (n.up) crash(n, "injected");
  }
  if (due(sc_.fsync_fail_every)) {
    Node& n = nodes_.at(ids[rng_.uniform(ids.size())]);
    if (n.up) {
      n.fs->fail_next_syncs(1);
      result_.counters.add("fsync_failure_armed");
    }
  }
  Node* l = leader();
  if (l && due(sc_.transfer_every)) {
    auto voters = l->raft->configuration().voters;
    std::vector<NodeId> v(voters.begin(), voters.end());
    if (!v.empty() && l->raft->transfer_leadership(v[rng_.uniform(v.size())]).ok()) {
      result_.counters.add("leadership_transfer");
    }
  }
  if (l && due(sc_.membership_every)) {
    const auto& cfg = l->raft->configuration();
    raft::MembershipChange ch;
    if (!cfg.learners.empty()) {
      ch.type = raft::MembershipChangeType::kPromoteLearner;
      ch.node = *cfg.learners.begin();
    } else if (cfg.voters.size() < 7 && (cfg.voters.size() <= sc_.nodes || rng_.chance(1, 2))) {
      ch.type = raft::MembershipChangeType::kAddLearner;
      ch.node = NodeId(++next_node_id_);
      if (sc_.policy.kind == raft::QuorumPolicyKind::kGroups)
        ch.group = rng_.chance(1, 2) ? "cloud-a" : "cloud-b";
    } else {
      std::vector<NodeId> v(cfg.voters.begin(), cfg.voters.end());
      ch.type = raft::MembershipChangeType::kRemove;
      ch.node = v[rng_.uniform(v.size())];
    }
    if (l->raft->propose_membership(ch).ok()) {
      result_.counters.add(ch.type == raft::MembershipChangeType::kAddLearner ? "member_add_learner"
                           : ch.type == raft::MembershipChangeType::kPromoteLearner
                               ? "member_promote"
                               : "member_remove");
      if (ch.type == raft::MembershipChangeType::kAddLearner) {
        Node& fresh = nodes_[ch.node];
        fresh.id = ch.node;
        fresh.fs = std::make_unique<SimFileSystem>(opt_.seed * 1000 + ch.node.value());
        start(fresh, false);
      }
    } else if (ch.type == raft::MembershipChangeType::kAddLearner) {
      --next_node_id_;
    }
  }
}

void World::check(Node& n) {
  n.raft->check_invariants();
  n.storage->log().check_invariants();
  auto st = n.raft->status();
  if (st.commit < n.commit_seen)
    violate("n" + std::to_string(n.id.value()) + " commit index went backwards");
  n.commit_seen = st.commit;
  if (st.applied > st.commit)
    violate("n" + std::to_string(n.id.value()) + " applied beyond commit");
  if (st.role == RoleKind::kLeader) {
    // Leader Append-Only (Figure 3): while it leads a term, its log only grows, and what it held
    // stays as it was.
    const auto& log = n.raft->log();
    bool compacted = n.led_last < log.first_index().prev();  // its term is no longer kept
    if (n.led_term == st.term &&
        (st.last_index < n.led_last || (!compacted && log.term(n.led_last) != n.led_last_term))) {
      violate("leader append-only: n" + std::to_string(n.id.value()) + " lost or changed entry " +
              std::to_string(n.led_last.value()) + " in term " + std::to_string(st.term.value()));
    }
    n.led_term = st.term;
    n.led_last = st.last_index;
    n.led_last_term = log.term(st.last_index).value_or(Term());
    auto [it, fresh] = leader_of_term_.try_emplace(st.term, n.id);
    if (!fresh && it->second != n.id) {
      violate("two leaders in term " + std::to_string(st.term.value()) + ": n" +
              std::to_string(it->second.value()) + " and n" + std::to_string(n.id.value()));
    }
  }
}

// Log Matching (same index and term => same entry) over every node's in-memory log, and Leader
// Completeness (every applied entry is in the current leader's log).
void World::check_cluster() {
  for (auto& [id, n] : nodes_) {
    if (!n.up) continue;
    const auto& log = n.raft->log();
    for (LogIndex i = log.first_index(); i <= log.last_index(); ++i) {
      const raft::Entry& e = log.at(i);
      uint64_t h = checksum64(e.data) ^ (static_cast<uint64_t>(e.type) << 56);
      auto [it, fresh] = entry_hash_.try_emplace({i.value(), e.term.value()}, h);
      if (!fresh && it->second != h)
        violate("log matching: two entries at index " + std::to_string(i.value()) + " term " +
                std::to_string(e.term.value()));
    }
  }
  // Only the newest leader ever elected is bound to hold every committed entry: a deposed leader
  // that has not heard yet may lack what a later (now crashed) leader committed.
  Node* l = leader();
  if (l && !leader_of_term_.empty() && l->raft->term() == leader_of_term_.rbegin()->first) {
    const auto& log = l->raft->log();
    for (auto it = applied_entries_.lower_bound(log.first_index().value());
         it != applied_entries_.end(); ++it) {
      LogIndex i(it->first);
      if (i > log.last_index()) {
        violate("leader completeness: n" + std::to_string(l->id.value()) + " lacks applied entry " +
                std::to_string(i.value()));
        break;
      }
      if (log.at(i).term != it->second.first) {
        violate("leader completeness: n" + std::to_string(l->id.value()) +
                " has a different entry at applied index " + std::to_string(i.value()));
        break;
      }
    }
  }
}

void World::step() {
  ++now_;
  while (!net_.empty() && net_.top().at <= now_) {
    Envelope e = net_.top();
    net_.pop();
    deliver(e);
  }
  for (auto& [id, n] : nodes_) {
    if (!n.up) {
      if (n.restart_at != 0 && now_ >= n.restart_at && n.fs) {
        result_.counters.add("restart");
        n.restart_at = 0;
        start(n, id.value() <= sc_.nodes);
      }
      continue;
    }
    sync_wal(n);
    if (n.up && now_ >= n.next_tick) {
      n.raft->tick();
      n.next_tick = now_ + sc_.tick_ms[id.value() % sc_.tick_ms.size()];
      drain(n);
    }
    if (n.up) {
      serve_reads(n);
    }
  }
  for (int c = 0; c < static_cast<int>(clients_.size()); ++c) client_step(c);
  if (faults_) inject_faults();
  if (now_ % 50 == 0) check_cluster();
}

// Every voter of the current leader's configuration is up and has applied the same state.
bool World::converged() {
  Node* l = leader();
  if (l == nullptr) return false;
  for (NodeId id : l->raft->configuration().voters) {
    auto it = nodes_.find(id);
    if (it == nodes_.end() || !it->second.up) return false;
    if (it->second.applied != l->applied || it->second.kv.hash() != l->kv.hash()) return false;
  }
  return true;
}

SimResult World::run() {
  next_node_id_ = sc_.nodes;
  for (size_t i = 1; i <= sc_.nodes; ++i) {
    Node& n = nodes_[NodeId(i)];
    n.id = NodeId(i);
    n.fs = std::make_unique<SimFileSystem>(opt_.seed * 1000 + i);
    start(n, true);
  }
  clients_.resize(sc_.clients);
  while (now_ < opt_.fault_ms && result_.ok) step();
  // Liveness: heal everything, restart every crashed node, stop injecting faults.
  faults_ = false;
  heal_all();
  for (auto& [id, n] : nodes_) {
    n.fs->fail_next_syncs(0);
    if (!n.up) n.restart_at = now_ + 1;
  }
  const uint64_t healed_at = now_;
  while (now_ < healed_at + opt_.liveness_ms && result_.ok && last_ok_after_heal_ == 0) step();
  if (result_.ok && last_ok_after_heal_ == 0) {
    violate("liveness: no operation succeeded within " + std::to_string(opt_.liveness_ms) +
            " ms after healing");
  }
  result_.counters.add("recovery_ms",
                       last_ok_after_heal_ > 0 ? last_ok_after_heal_ - healed_at : 0);
  // Quiesce: no new client operations; wait for every voter to apply the same state.
  for (auto& c : clients_) c.next_at = UINT64_MAX;
  const uint64_t quiet_at = now_;
  while (result_.ok && now_ < quiet_at + opt_.liveness_ms &&
         !(now_ > quiet_at + 200 && converged()))
    step();
  if (result_.ok && !converged()) violate("liveness: voters did not converge to one state");
  if (result_.ok) check_cluster();
  for (size_t i = 0; i < history_.size(); ++i) {
    if (!done_[i]) {
      history_[i].outcome = lincheck::Outcome::kIndeterminate;
      history_[i].return_time = now_;
    }
  }
  if (const char* dump = std::getenv("CHORUS_SIM_HISTORY")) {
    // One operation per line, for chorus-lincheck or a person.
    if (FILE* f = std::fopen(dump, "w")) {
      for (const auto& op : history_) std::fprintf(f, "%s\n", lincheck::describe(op).c_str());
      std::fclose(f);
    }
  }
  auto verdict = lincheck::check_linearizable(history_);
  result_.verdict = verdict.verdict;
  result_.ops = history_.size();
  // kUnknown (the search hit its bound) fails the seed too: an unproven history is no pass.
  if (result_.ok && !verdict.ok()) {
    violate("history of " + std::to_string(history_.size()) +
            " ops: " + std::string(lincheck::verdict_name(verdict.verdict)) + ", key " +
            verdict.key + "\n" + verdict.explanation);
  }
  result_.counters.add("lincheck_" + std::string(lincheck::verdict_name(verdict.verdict)));
  result_.counters.add("nodes_" + std::to_string(sc_.nodes));
  result_.counters.add(std::string("policy_") +
                       (sc_.policy.kind == raft::QuorumPolicyKind::kMajority ? "majority"
                        : sc_.policy.kind == raft::QuorumPolicyKind::kGroups ? "groups"
                                                                             : "explicit_commit"));
  if (sc_.lease_reads) result_.counters.add("lease_reads_on");
  for (auto& [id, n] : nodes_) {
    if (n.up) {
      n.fs->crash(CrashMode::kLoseAllUnsynced);  // tear down without a final sync
      n.raft.reset();
      n.storage.reset();
    }
  }
  return result_;
}

}  // namespace

SimResult run_simulation(const SimOptions& options) {
  World world(options);
  return world.run();
}

}  // namespace chorus::sim
