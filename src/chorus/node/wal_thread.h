// WalThread: the thread that owns a node's RaftStorage once the node is open, and persists what
// the loop hands it in the order it was handed (raft.h: Readys are persisted FIFO).
//
// Group commit (DESIGN.md "The driver loop"): the thread takes every task that arrived while its
// last fdatasync ran, writes them all in order, syncs once, and reports the last task's sequence
// number durable. One report covers every earlier task.
//
// Bounded by the loop: while NodeOptions::max_wal_readys tasks (or max_wal_bytes of entries) are
// outstanding, no new entries enter its core (docs/node.md "Threads, and why") -- the producer
// slows, nothing is dropped.
//
// Snapshot chunks to send: the leader's chunk messages (raft.h fill_from_snapshot) are completed
// here with read_snapshot_chunk(), since the storage belongs to this thread, and sent straight to
// the transport (Transport::send is thread-safe). They are read after the writes of the group
// they arrive with, so a snapshot saved in that group is found. At most one chunk per follower is
// in flight (the core's rule), which bounds that queue.
//
// Fatal errors: the first failing storage call stops the thread. It reports the error once and
// never reports anything durable again: an fsync error is never retried and acknowledged (the
// kernel may have dropped the dirty pages; see the PostgreSQL "fsyncgate" discussion).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "chorus/node/events.h"
#include "chorus/node/raft_storage.h"

namespace chorus::node {

// What one Ready (or one local snapshot) asks of storage, in the order it is done.
struct WalTask {
  uint64_t seq = 0;                           // assigned by the loop, increasing by one per task
  std::vector<raft::SnapshotChunk> chunks;    // 1. write_snapshot_chunk (each synced)
  std::optional<raft::SnapshotMeta> install;  // 2. install_snapshot, then read it back
  std::optional<raft::HardState> hard_state;  // 3. write(hard_state, entries)
  std::vector<raft::Entry> entries;
  std::optional<raft::SnapshotMeta> save_meta;  // 4. save_snapshot(save_meta, *save_state)
  std::shared_ptr<const Bytes> save_state;      //    then trim_log(save_meta.index)

  uint64_t bytes() const;
};

// A received snapshot made current by the WAL thread; the loop restores the state machine.
struct InstalledSnapshot {
  raft::SnapshotMeta meta;
  Bytes state;
};

// Reported after each group commit: every task up to durable_seq is on disk.
struct WalDone {
  uint64_t durable_seq = 0;
  std::vector<InstalledSnapshot> installed;
};

class WalThread {
 public:
  struct Callbacks {
    std::function<void(WalDone)> on_done;     // from the WAL thread
    std::function<void(Status)> on_error;     // from the WAL thread, at most once
    std::function<void(raft::Message)> send;  // a completed chunk message, from the WAL thread
  };

  WalThread(RaftStorage& storage, Callbacks callbacks);
  ~WalThread();  // stop()
  WalThread(const WalThread&) = delete;
  WalThread& operator=(const WalThread&) = delete;

  void start();
  // Queues a task (any thread; the loop). Never blocks: the caller bounds what is outstanding.
  void submit(WalTask task);
  // Queues a leader's chunk message to complete and send (dropped, as raft.h allows, if its
  // snapshot is no longer the current one: the leader resends).
  void submit_chunk(raft::Message message);
  // Persists what is queued, then joins. No callback runs after it returns.
  void stop();

  // Counters (any thread).
  uint64_t fsyncs() const { return fsyncs_.load(std::memory_order_relaxed); }
  std::array<uint64_t, kFsyncLatencyBuckets> fsync_latency_buckets() const;
  uint64_t readys() const { return readys_.load(std::memory_order_relaxed); }
  uint64_t entries() const { return entries_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t chunks_sent() const { return chunks_sent_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Does one task's writes (everything but the group's final sync).
  Status write(WalTask& task, WalDone& done);
  void send_chunk(raft::Message& message);
  void record_fsync(uint64_t micros);

  RaftStorage& storage_;
  Callbacks callbacks_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WalTask> queue_;          // guarded by mu_
  std::vector<raft::Message> chunks_;  // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  bool failed_ = false;                // WAL thread only
  // The term and vote last written (WAL thread only): a hard state that changes only the commit
  // index is kept in memory by RaftStorage, so it makes nothing dirty.
  std::optional<std::pair<Term, NodeId>> term_vote_;

  std::atomic<uint64_t> fsyncs_{0};
  std::array<std::atomic<uint64_t>, kFsyncLatencyBuckets> fsync_buckets_{};
  std::atomic<uint64_t> readys_{0};
  std::atomic<uint64_t> entries_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> chunks_sent_{0};
};

}  // namespace chorus::node
