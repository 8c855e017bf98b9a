// raft_bench: the pure cost of the Raft core. Three real cores in one thread, a free network (a
// FIFO queue, messages handed over as they are) and free persistence (every Ready is durable
// the moment it is taken: on_persisted at once). The leader proposes batches of 100-byte
// entries; an iteration ends when every node has applied the batch.
//   build/release/bench/raft_bench [--benchmark_filter=...]
// Reports committed entries per second (items_per_second) and heap allocations per committed
// entry, counted by the global operator new below. Benchmarks are not tests: nothing here
// asserts a time.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>

#include "chorus/raft/raft.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Every heap allocation of the process goes through these (the sized, aligned and nothrow
// forms of the standard library forward to them by default). Not inlined, so the compiler does
// not pair a `new` expression with the free() inside and warn about a mismatch.
[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size) { return ::operator new(size); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace chorus;
using namespace chorus::raft;

namespace {

constexpr size_t kNodes = 3;
constexpr size_t kEntryBytes = 100;
// Rounds of (drain every Ready, deliver every message) before a batch must be everywhere.
constexpr int kPumpRoundsMax = 1000;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "raft_bench: %s\n", what);
  std::abort();
}

class BenchCluster {
 public:
  BenchCluster() {
    for (size_t i = 0; i < kNodes; ++i) {
      Config c;
      c.id = NodeId(i + 1);
      for (size_t j = 1; j <= kNodes; ++j) c.voters.insert(NodeId(j));
      c.random_seed = 1;
      nodes_[i] = std::make_unique<Raft>(c, Bootstrap{});
    }
    Raft& first = *nodes_[0];
    for (int i = 0; i < 100 && !first.is_leader(); ++i) {
      first.tick();
      pump();
    }
    if (!first.is_leader()) fail("node 1 was not elected");
  }

  Raft& leader() { return *nodes_[0]; }
  uint64_t applied_on_leader() const { return applied_[0]; }

  // Drains Readys and delivers messages until nothing moves.
  void pump() {
    for (int round = 0; round < kPumpRoundsMax; ++round) {
      bool any = false;
      for (size_t i = 0; i < kNodes; ++i) any |= drain(i);
      if (network_.empty()) {
        if (!any) return;
        continue;
      }
      while (!network_.empty()) {
        Message m = std::move(network_.front());
        network_.pop_front();
        if (!nodes_[m.to.value() - 1]->step(m).ok()) fail("step refused a message");
      }
    }
    fail("the cluster did not quiesce");
  }

 private:
  bool drain(size_t i) {
    Raft& r = *nodes_[i];
    if (!r.has_ready()) return false;
    Ready rd = r.ready();
    // Free persistence: durable as soon as it is handed out.
    if (!rd.entries.empty()) r.on_persisted(rd.entries.back().index, rd.entries.back().term);
    for (Message& m : rd.messages) network_.push_back(std::move(m));
    for (Message& m : rd.messages_after_persist) network_.push_back(std::move(m));
    if (!rd.committed_entries.empty()) {
      applied_[i] += rd.committed_entries.size();
      r.on_applied(rd.committed_entries.back().index);
    }
    // The state machine is empty: a snapshot costs nothing, and keeps the log short.
    if (rd.snapshot_request && !r.compact(*rd.snapshot_request, 0).ok()) fail("compact");
    return true;
  }

  std::array<std::unique_ptr<Raft>, kNodes> nodes_;
  std::array<uint64_t, kNodes> applied_{};
  std::deque<Message> network_;
};

void BM_CommitBatches(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  BenchCluster cluster;
  const Bytes payload(kEntryBytes, std::byte{0x61});
  uint64_t committed = 0;
  const uint64_t allocations_before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    std::vector<Bytes> batch(batch_size, payload);
    const uint64_t before = cluster.applied_on_leader();
    if (!cluster.leader().propose_batch(std::move(batch)).ok()) fail("proposal refused");
    cluster.pump();
    const uint64_t done = cluster.applied_on_leader() - before;
    if (done != batch_size) fail("a batch did not commit in one pump");
    committed += done;
  }
  const uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - allocations_before;
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.SetBytesProcessed(static_cast<int64_t>(committed * kEntryBytes));
  state.counters["allocs_per_entry"] =
      benchmark::Counter(committed == 0 ? 0.0 : static_cast<double>(allocations) / committed);
}
BENCHMARK(BM_CommitBatches)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
