// Test support for RaftNode: a counter state machine that records what it applied, and a
// cluster of nodes over the in-process network, each with its own io_context, storage and
// machine, that can be stopped and restarted.
#pragma once

#include <gtest/gtest.h>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chorus/base/sim_file_system.h"
#include "chorus/net/in_process_transport.h"
#include "chorus/node/raft_node.h"
#include "support/temp_dir.h"

namespace chorus::node::test {

using namespace std::chrono_literals;

// Generous: only there so that a broken build fails instead of hanging. No test asserts a time.
inline constexpr auto kWait = 60s;

inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = kWait) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Waits for a future from asio::use_future; a hang becomes a test failure and a Timeout status.
template <typename T>
T await(std::future<T> f) {
  if (f.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "a call did not complete within " << kWait.count() << " s";
    T t{};
    t.status = Status::Timeout("test wait expired");
    return t;
  }
  return f.get();
}

// command = delta (i64 LE) [+ tag bytes]; result and read = the counter after it (i64 LE).
inline Bytes counter_command(int64_t delta, std::string_view tag = {}) {
  Bytes b(8);
  store_le<int64_t>(b.data(), delta);
  auto t = as_bytes(tag);
  b.insert(b.end(), t.begin(), t.end());
  return b;
}
inline int64_t counter_value(ByteSpan b) { return b.size() >= 8 ? load_le<int64_t>(b.data()) : -1; }

class CounterMachine final : public StateMachine {
 public:
  std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex first) override {
    std::lock_guard lock(mu_);
    std::vector<Bytes> results;
    if (first != last_applied_.next() || batch.empty() || batch.front().index != first) {
      violations_.push_back("apply at " + std::to_string(first.value()) + " after " +
                            std::to_string(last_applied_.value()));
    }
    for (const raft::Entry& e : batch) {
      if (e.index != last_applied_.next()) {
        violations_.push_back("entry " + std::to_string(e.index.value()) + " out of order");
      }
      last_applied_ = e.index;
      if (e.type != raft::EntryType::kNormal) {
        if (!e.data.empty() && e.type == raft::EntryType::kNoop) {
          violations_.push_back("a no-op with data");
        }
        results.emplace_back();
        continue;
      }
      value_ += counter_value(e.data) == -1 ? 0 : load_le<int64_t>(e.data.data());
      commands_[e.index] = e.data.to_bytes();
      Bytes r(8);
      store_le<int64_t>(r.data(), value_);
      results.push_back(std::move(r));
    }
    return results;
  }

  Bytes read(ByteSpan) override {
    std::lock_guard lock(mu_);
    Bytes r(8);
    store_le<int64_t>(r.data(), value_);
    return r;
  }

  // value | last applied | n | (index | len | data) * n
  Bytes snapshot() override {
    {
      std::unique_lock gate(gate_mu_);
      ++snapshots_started_;
      gate_cv_.wait(gate, [&] { return !hold_snapshots_; });
    }
    std::lock_guard lock(mu_);
    Bytes out(20);
    store_le<int64_t>(out.data(), value_);
    store_le<uint64_t>(out.data() + 8, last_applied_.value());
    store_le<uint32_t>(out.data() + 16, static_cast<uint32_t>(commands_.size()));
    for (const auto& [index, data] : commands_) {
      size_t at = out.size();
      out.resize(at + 12);
      store_le<uint64_t>(out.data() + at, index.value());
      store_le<uint32_t>(out.data() + at + 8, static_cast<uint32_t>(data.size()));
      out.insert(out.end(), data.begin(), data.end());
    }
    return out;
  }

  Status restore(ByteSpan state) override {
    std::lock_guard lock(mu_);
    if (state.size() < 20) return Status::Corruption("short counter snapshot");
    value_ = load_le<int64_t>(state.data());
    last_applied_ = LogIndex(load_le<uint64_t>(state.data() + 8));
    uint32_t n = load_le<uint32_t>(state.data() + 16);
    commands_.clear();
    size_t at = 20;
    for (uint32_t i = 0; i < n; ++i) {
      if (state.size() - at < 12) return Status::Corruption("truncated counter snapshot");
      LogIndex index(load_le<uint64_t>(state.data() + at));
      uint32_t len = load_le<uint32_t>(state.data() + at + 8);
      at += 12;
      if (state.size() - at < len) return Status::Corruption("truncated counter snapshot");
      commands_[index] = Bytes(state.begin() + at, state.begin() + at + len);
      at += len;
    }
    ++restores_;
    return Status::Ok();
  }

  int64_t value() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  LogIndex last_applied() const {
    std::lock_guard lock(mu_);
    return last_applied_;
  }
  std::map<LogIndex, Bytes> commands() const {
    std::lock_guard lock(mu_);
    return commands_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }
  int restores() const {
    std::lock_guard lock(mu_);
    return restores_;
  }
  // While held, snapshot() blocks (a state that takes long to serialize).
  void hold_snapshots(bool hold) {
    {
      std::lock_guard gate(gate_mu_);
      hold_snapshots_ = hold;
    }
    gate_cv_.notify_all();
  }
  int snapshots_started() const {
    std::lock_guard gate(gate_mu_);
    return snapshots_started_;
  }

 private:
  mutable std::mutex mu_;
  int64_t value_ = 0;
  LogIndex last_applied_;
  std::map<LogIndex, Bytes> commands_;  // every command applied (or restored), by sequence
  std::vector<std::string> violations_;
  int restores_ = 0;
  mutable std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool hold_snapshots_ = false;  // guarded by gate_mu_
  int snapshots_started_ = 0;    // guarded by gate_mu_
};

// A cluster of RaftNodes in one process. Node state on disk outlives stop(): a POSIX temp dir
// per node, or a SimFileSystem per node.
class Cluster {
 public:
  struct Slot {
    NodeId id;
    std::unique_ptr<SimFileSystem> sim_fs;
    std::unique_ptr<asio::io_context> io;
    std::unique_ptr<net::InProcessTransport> transport;
    std::unique_ptr<CounterMachine> machine;
    std::unique_ptr<RaftNode> node;
    std::vector<Status> errors;  // on_error events
    std::mutex mu;
  };

  explicit Cluster(size_t n, bool sim_fs = false, std::function<void(NodeOptions&)> tweak = {})
      : sim_fs_(sim_fs), tweak_(std::move(tweak)) {
    for (uint64_t i = 1; i <= n; ++i) initial_.insert(NodeId(i));
    for (uint64_t i = 1; i <= n; ++i) add_slot(NodeId(i));
  }
  ~Cluster() {
    for (auto& [id, slot] : slots_) stop(id);
  }

  void add_slot(NodeId id) {
    auto slot = std::make_unique<Slot>();
    slot->id = id;
    if (sim_fs_) slot->sim_fs = std::make_unique<SimFileSystem>(id.value());
    slots_[id] = std::move(slot);
  }

  NodeOptions options(NodeId id, bool joining = false) const {
    NodeOptions o;
    o.id = id;
    if (!joining) o.voters = initial_;
    // Initial members know each other; a node added later is learned from the log (its
    // address entry), except by itself, which is given every address.
    for (const auto& [other, slot] : slots_) {
      if (joining || initial_.contains(other) || other == id) {
        o.peers[other] = "n" + std::to_string(other.value());
      }
    }
    o.random_seed = 7;
    // 200-400 ms without a leader before an election: slack for a slow (sanitized, shared) CPU.
    o.election_ticks = 20;
    o.storage.segment_bytes = 1 << 20;
    o.storage.background_preallocate = false;
    if (tweak_) tweak_(o);
    return o;
  }

  void start(NodeId id, bool joining = false) {
    Slot& s = *slots_.at(id);
    ASSERT_EQ(s.node, nullptr);
    s.io = std::make_unique<asio::io_context>();
    s.transport = net_.create(id, *s.io);
    s.machine = std::make_unique<CounterMachine>();
    FileSystem& fs = sim_fs_ ? static_cast<FileSystem&>(*s.sim_fs) : FileSystem::posix();
    std::string dir =
        sim_fs_ ? "/n" + std::to_string(id.value()) : dir_.sub("n" + std::to_string(id.value()));
    s.node = std::make_unique<RaftNode>(options(id, joining), *s.io, fs, dir, *s.transport,
                                        s.machine.get());
    Slot* raw = &s;
    s.node->on_error([raw](const Status& e) {
      std::lock_guard lock(raw->mu);
      raw->errors.push_back(e);
    });
    Status opened = s.node->open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }

  void start_all() {
    for (NodeId id : initial_) start(id);
  }

  // A clean stop: close() then destroy; what was synced stays on disk.
  void stop(NodeId id) {
    Slot& s = *slots_.at(id);
    if (!s.node) return;
    s.node->close();
    s.node.reset();
    s.transport.reset();
    s.io.reset();
  }

  bool running(NodeId id) const { return slots_.at(id)->node != nullptr; }
  RaftNode& node(NodeId id) { return *slots_.at(id)->node; }
  CounterMachine& machine(NodeId id) { return *slots_.at(id)->machine; }
  SimFileSystem& sim_fs(NodeId id) { return *slots_.at(id)->sim_fs; }
  std::vector<Status> errors(NodeId id) {
    Slot& s = *slots_.at(id);
    std::lock_guard lock(s.mu);
    return s.errors;
  }
  net::InProcessNetwork& net() { return net_; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, slot] : slots_) out.push_back(id);
    return out;
  }
  std::vector<NodeId> running_ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, slot] : slots_) {
      if (slot->node) out.push_back(id);
    }
    return out;
  }

  // Waits until one running node leads and every running node (but `except`) follows it.
  NodeId wait_leader(std::optional<NodeId> except = std::nullopt) {
    NodeId leader;
    bool ok = eventually([&] {
      for (NodeId id : running_ids()) {
        if (node(id).is_leader()) leader = id;
      }
      if (leader == NodeId(0)) return false;
      for (NodeId id : running_ids()) {
        if (id != except && node(id).leader_id() != leader) return false;
      }
      return node(leader).is_leader();
    });
    EXPECT_TRUE(ok) << "no leader agreed on";
    return leader;
  }

  NodeId follower_of(NodeId leader) {
    for (NodeId id : running_ids()) {
      if (id != leader) return id;
    }
    return NodeId(0);
  }

  // Waits until every running node applied at least `index`.
  bool wait_applied(LogIndex index) {
    return eventually([&] {
      for (NodeId id : running_ids()) {
        if (machine(id).last_applied() < index) return false;
      }
      return true;
    });
  }

 private:
  net::InProcessNetwork net_{11};
  chorus::test::TempDir dir_;
  bool sim_fs_;
  std::function<void(NodeOptions&)> tweak_;
  std::set<NodeId> initial_;
  std::map<NodeId, std::unique_ptr<Slot>> slots_;
};

inline AppendResult append(RaftNode& n, int64_t delta, std::string_view tag = {}) {
  return await(n.async_append(counter_command(delta, tag), asio::use_future));
}

inline ReadResult read(RaftNode& n) { return await(n.async_read(Bytes{}, asio::use_future)); }

}  // namespace chorus::node::test
