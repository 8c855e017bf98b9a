// replicated_counter: three RaftNodes in one process over the in-process transport, each with a
// counter state machine; appends and linearizable reads on every node (tinyraftplus's
// state-machine example, in C++). Exits 0 when every node agrees.
//
//   replicated_counter [data-dir]     (default: ./data/replicated-counter, wiped first)
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chorus/net/in_process_transport.h"
#include "chorus/node/raft_node.h"

using namespace chorus;
using namespace std::chrono_literals;

namespace {

// The state: one signed counter. A command is a delta (8 bytes, little-endian); its result, and
// a read's answer, is the counter after it.
class Counter final : public node::StateMachine {
 public:
  std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex) override {
    std::vector<Bytes> results;
    for (const raft::Entry& e : batch) {
      // The term's no-op and membership entries are visible too: they carry no command.
      if (e.type == raft::EntryType::kNormal && e.data.size() == 8) {
        value_ += load_le<int64_t>(e.data.data());
        results.push_back(encode(value_));
      } else {
        results.emplace_back();
      }
    }
    return results;
  }
  Bytes read(ByteSpan) override { return encode(value_); }
  Bytes snapshot() override { return encode(value_); }
  Status restore(ByteSpan state) override {
    if (state.size() != 8) return Status::Corruption("counter snapshot is not 8 bytes");
    value_ = load_le<int64_t>(state.data());
    return Status::Ok();
  }

  static Bytes encode(int64_t v) {
    Bytes b(8);
    store_le<int64_t>(b.data(), v);
    return b;
  }
  static int64_t decode(ByteSpan b) { return b.size() == 8 ? load_le<int64_t>(b.data()) : 0; }

 private:
  int64_t value_ = 0;  // changed on the io thread (apply, restore); read by read() and snapshot()
};

struct Member {
  NodeId id;
  asio::io_context io;
  std::unique_ptr<net::InProcessTransport> transport;
  Counter counter;
  std::unique_ptr<node::RaftNode> node;
};

int fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "replicated_counter: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "./data/replicated-counter";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  net::InProcessNetwork network;
  std::vector<std::unique_ptr<Member>> members;
  for (uint64_t i = 1; i <= 3; ++i) {
    auto m = std::make_unique<Member>();
    m->id = NodeId(i);
    m->transport = network.create(m->id, m->io);
    node::NodeOptions options;
    options.id = m->id;
    options.voters = {NodeId(1), NodeId(2), NodeId(3)};
    for (uint64_t j = 1; j <= 3; ++j) options.peers[NodeId(j)] = "node-" + std::to_string(j);
    m->node = std::make_unique<node::RaftNode>(options, m->io, FileSystem::posix(),
                                               dir + "/node-" + std::to_string(i), *m->transport,
                                               &m->counter);
    m->node->on_change([id = m->id](raft::RoleKind role, Term term, NodeId leader) {
      if (role == raft::RoleKind::kLeader) {
        std::printf("node %llu: leader of term %llu\n", (unsigned long long)id.value(),
                    (unsigned long long)term.value());
      }
      (void)leader;
    });
    if (Status s = m->node->open(); !s.ok()) return fail("open", s);
    members.push_back(std::move(m));
  }

  // Every node must know the leader before it can forward: a node that has not heard from one
  // yet refuses an append at once (definitely not done), it does not queue it.
  node::LeaderResult leader;
  for (auto& m : members) {
    leader = m->node->async_await_leader(10s, asio::use_future).get();
    if (!leader.status.ok()) return fail("await leader", leader.status);
  }
  std::printf("leader: node %llu\n", (unsigned long long)leader.leader.value());

  // Append on every node: followers forward to the leader. Each completes once committed on a
  // quorum and applied, with its sequence and the counter after it.
  int64_t expected = 0;
  for (int round = 1; round <= 3; ++round) {
    for (auto& m : members) {
      int64_t delta = round * 10 + static_cast<int64_t>(m->id.value());
      node::AppendResult r = m->node->async_append(Counter::encode(delta), asio::use_future).get();
      if (!r.status.ok()) return fail("append", r.status);
      expected += delta;
      std::printf("append +%lld on node %llu -> sequence %llu, counter %lld\n", (long long)delta,
                  (unsigned long long)m->id.value(), (unsigned long long)r.sequence.value(),
                  (long long)Counter::decode(r.result));
    }
  }

  // A transaction: both or neither.
  node::Txn txn = members[1]->node->txn();
  txn.append(Counter::encode(100));
  txn.append(Counter::encode(-1));
  node::BatchResult t = txn.async_commit(asio::use_future).get();
  if (!t.status.ok()) return fail("txn", t.status);
  expected += 99;
  std::printf("txn of 2 on node 2 -> sequences %llu..%llu, counter %lld\n",
              (unsigned long long)t.first.value(), (unsigned long long)t.first.value() + 1,
              (long long)Counter::decode(t.results.back()));

  // Linearizable reads on every node see every append above.
  bool agree = true;
  for (auto& m : members) {
    node::ReadResult r = m->node->async_read({}, asio::use_future).get();
    if (!r.status.ok()) return fail("read", r.status);
    int64_t v = Counter::decode(r.result);
    std::printf("read on node %llu -> %lld (read index %llu)\n", (unsigned long long)m->id.value(),
                (long long)v, (unsigned long long)r.sequence.value());
    agree = agree && v == expected;
  }

  node::NodeMetrics metrics = members[0]->node->metrics();
  std::printf("node 1: commit %llu, applied %llu, %llu fsyncs\n",
              (unsigned long long)metrics.commit.value(),
              (unsigned long long)metrics.applied.value(), (unsigned long long)metrics.fsyncs);
  for (auto& m : members) m->node->close();
  if (!agree) {
    std::fprintf(stderr, "replicated_counter: the nodes disagree (expected %lld)\n",
                 (long long)expected);
    return 1;
  }
  std::printf("all three nodes read %lld\n", (long long)expected);
  return 0;
}
