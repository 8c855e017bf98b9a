#include "chorus/node/wal_thread.h"

#include <bit>
#include <chrono>

namespace chorus::node {

uint64_t WalTask::bytes() const {
  uint64_t n = save_state ? save_state->size() : 0;
  for (const auto& e : entries) n += e.size_bytes();
  for (const auto& c : chunks) n += c.data.size();
  return n;
}

WalThread::WalThread(RaftStorage& storage, Callbacks callbacks)
    : storage_(storage), callbacks_(std::move(callbacks)) {}

WalThread::~WalThread() { stop(); }

void WalThread::start() {
  CHORUS_ASSERT(!thread_.joinable(), "WAL thread started twice");
  thread_ = std::thread([this] { run(); });
}

void WalThread::submit(WalTask task) {
  {
    std::lock_guard lock(mu_);
    CHORUS_ASSERT(!stopping_, "task submitted to a stopped WAL thread");
    CHORUS_ASSERT(queue_.empty() || queue_.back().seq + 1 == task.seq, "WAL tasks out of order");
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WalThread::submit_chunk(raft::Message message) {
  CHORUS_ASSERT(message.fill_from_snapshot);
  {
    std::lock_guard lock(mu_);
    // One chunk in flight per follower (docs/raft.md decision 14), plus resends: a generous bound.
    CHORUS_ASSERT(chunks_.size() < 4096, "snapshot chunk queue unbounded");
    chunks_.push_back(std::move(message));
  }
  cv_.notify_one();
}

void WalThread::send_chunk(raft::Message& m) {
  const raft::SnapshotMeta& current = storage_.snapshot();
  if (current.index != m.snapshot.index || current.term != m.snapshot.term) return;
  Result<Bytes> bytes = storage_.read_snapshot_chunk(m.snapshot, m.offset, m.count);
  // A read failure loses only this message (the leader resends); the file was synced when saved.
  if (!bytes.ok() || bytes->size() != m.count) return;
  raft::fill_snapshot_chunk(m, *bytes);
  chunks_sent_.fetch_add(1, std::memory_order_relaxed);
  callbacks_.send(std::move(m));
}

void WalThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::array<uint64_t, kFsyncLatencyBuckets> WalThread::fsync_latency_buckets() const {
  std::array<uint64_t, kFsyncLatencyBuckets> out{};
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = fsync_buckets_[i].load(std::memory_order_relaxed);
  return out;
}

void WalThread::record_fsync(uint64_t micros) {
  // Bucket i holds [2^(i-1), 2^i) microseconds: bit_width(micros) is that i.
  size_t bucket = std::min<size_t>(std::bit_width(micros), kFsyncLatencyBuckets - 1);
  fsync_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
}

Status WalThread::write(WalTask& task, WalDone& done) {
  // The order raft.h gives for one Ready: chunks, then the install (its chunks are durable: each
  // write_snapshot_chunk syncs), then hard state + entries (after the install: its commit may
  // cover the snapshot, and the entries follow it). A local snapshot comes after the Ready whose
  // snapshot_request it answers.
  for (const auto& chunk : task.chunks) CHORUS_TRY(storage_.write_snapshot_chunk(chunk));
  if (task.install) {
    CHORUS_TRY(storage_.install_snapshot(*task.install));
    CHORUS_ASSIGN_OR_RETURN(Bytes state, storage_.read_snapshot_state(*task.install));
    done.installed.push_back({*task.install, std::move(state)});
  }
  if (task.hard_state || !task.entries.empty()) {
    CHORUS_TRY(storage_.write(task.hard_state, task.entries));
  }
  if (task.save_meta) {
    // save_snapshot is durable on return (tmp, fsync, rename, fsync dir); only then may the log
    // before it go. Every entry it covers was applied, hence persisted in an earlier group.
    CHORUS_ASSERT(task.save_state != nullptr);
    CHORUS_TRY(storage_.save_snapshot(*task.save_meta, *task.save_state));
    CHORUS_TRY(storage_.trim_log(task.save_meta->index));
  }
  readys_.fetch_add(1, std::memory_order_relaxed);
  entries_.fetch_add(task.entries.size(), std::memory_order_relaxed);
  bytes_.fetch_add(task.bytes(), std::memory_order_relaxed);
  return Status::Ok();
}

void WalThread::run() {
  std::deque<WalTask> group;
  std::vector<raft::Message> chunks;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !chunks_.empty(); });
      if (queue_.empty() && chunks_.empty()) return;  // stopping; everything queued is persisted
      group.swap(queue_);  // everything that arrived while the last sync ran
      chunks.swap(chunks_);
    }
    if (failed_) {
      group.clear();  // after a fatal error nothing is written or acknowledged again
      chunks.clear();
      continue;
    }
    WalDone done;
    bool wrote_log = false;
    Status status;
    for (WalTask& task : group) {
      if (task.hard_state) {
        std::pair<Term, NodeId> tv{task.hard_state->term, task.hard_state->vote};
        wrote_log = wrote_log || term_vote_ != tv;
        term_vote_ = tv;
      }
      wrote_log = wrote_log || !task.entries.empty();
      status = write(task, done);
      if (!status.ok()) break;
      done.durable_seq = task.seq;
    }
    // Reads of the saved snapshot need no sync: they go out while the group's sync runs next.
    if (status.ok()) {
      for (raft::Message& m : chunks) send_chunk(m);
    }
    chunks.clear();
    if (group.empty()) continue;  // only chunks: nothing to report
    if (status.ok()) {
      // RaftStorage::sync() syncs only what is dirty; it is always called, and counted as an
      // fsync when this group wrote entries or a new term/vote.
      auto start = std::chrono::steady_clock::now();
      status = storage_.sync();
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
      if (status.ok() && wrote_log) record_fsync(static_cast<uint64_t>(micros.count()));
    }
    group.clear();
    if (!status.ok()) {
      failed_ = true;
      callbacks_.on_error(status.Annotate("WAL"));
      continue;
    }
    callbacks_.on_done(std::move(done));
  }
}

}  // namespace chorus::node
