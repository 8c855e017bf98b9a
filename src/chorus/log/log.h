// chorus::log::Log — a crash-safe, segmented, append-only log of byte records.
//
//   auto log = Log::open("/var/lib/app/log", {.durability = Durability::kGroup});
//   LogIndex i = *(*log)->append(as_bytes("hello"));
//   for (auto it = (*log)->iterate(first, last); it.next();) use(it.index(), it.data());
//
// Indexes are 64-bit, start at Options::first_index (1 by default) and are never reused except
// by truncate_suffix(), which exists for Raft's conflict resolution. The format is described in
// record_format.h; recovery rules are in docs/log.md.
//
// Durability (what "append returned ok" promises):
//   kAlways — the record is on disk (fdatasync'd). Concurrent appenders may share one fdatasync:
//             the appender that finds none running writes and syncs everything buffered.
//   kGroup  — the same promise, for many concurrent appenders: a sync thread writes and
//             fdatasyncs back to back, each round taking every record buffered while the last one
//             ran, so the disk never waits for woken appenders nor they for the disk. It costs a
//             lone appender two thread hand-offs per record.
//   kNone   — nothing; records are written to the OS only. sync() makes everything appended so
//             far durable. A power loss may lose any record appended after the last sync()
//             (a process crash alone loses nothing that append() returned).
//
// Failure: an fdatasync error is fatal. The log enters a failed state, every later call returns
// kFailed, and nothing is acknowledged after it (it is never retried: see base/file_system.h).
// A failed direct write (kNone, or a batch past the preallocated space) and ENOSPC while
// preparing a segment fail that call only; nothing of it becomes visible. In kAlways/kGroup a
// failed group write stops the log like an fsync error (its records already have indexes).
//
// Thread safety: every method may be called from any thread. Appends are serialized; readers
// and iterators run concurrently with the writer. Besides the callers' threads a log runs a
// preallocation thread (background_preallocate) and, in kGroup, the sync thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/file_system.h"
#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"

namespace chorus::log {

enum class Durability : uint8_t { kAlways, kGroup, kNone };

struct Options {
  FileSystem* fs = nullptr;  // nullptr: the real file system
  Durability durability = Durability::kAlways;
  uint64_t segment_bytes = 64ull << 20;
  // Largest payload accepted; larger appends fail with kTooLarge. Hard cap: 1 GiB.
  uint32_t max_record_bytes = 64u << 20;
  // kGroup: at most this many records wait for the next sync round; later appenders wait until
  // it starts (a larger batch until it would be alone), which bounds the buffer and each round.
  uint32_t group_max_records = 4096;
  // Prepare the next segment on a background thread. Off: prepare it inline when needed
  // (deterministic; used by the simulator).
  bool background_preallocate = true;
  // Segment files that trim_prefix() keeps (renamed into a pool) to reuse as new segments, so
  // that a trimmed log writes no preallocation zeros. 0: remove them. A reused file holds its
  // old records past the new ones, so a read-only open of a log whose last segment was reused
  // scans (and a writable open zeroes) up to a segment's worth of leftovers.
  uint32_t recycle_segments = 2;
  // Index of the first record of a new (empty) log, e.g. to follow a snapshot.
  LogIndex first_index{1};
  // No lock, no writes (not even recovery's torn-tail cut); appends fail with kReadOnly.
  bool read_only = false;
  // Bytes an iterator reads at a time (its memory bound, plus one record when larger).
  size_t read_buffer_bytes = 1u << 20;
};

class Log;

// A summary of a log directory, for tools and metrics.
struct SegmentInfo {
  std::string file;
  LogIndex first_index;
  LogIndex last_index;  // first_index - 1 when empty
  uint64_t records = 0;
  uint64_t used_bytes = 0;  // header + records
  uint64_t file_bytes = 0;  // including preallocated space
};

// Counters since open, for metrics and benchmarks.
struct LogStats {
  uint64_t records_appended = 0;
  uint64_t bytes_written = 0;
  uint64_t syncs = 0;  // fdatasyncs of segment files
  uint64_t segments_rolled = 0;
  uint64_t segments_recycled = 0;  // files taken from the recycling pool (no zero-filling)
};

// What recovery found and did at open.
struct RecoveryReport {
  bool clean_shutdown = false;  // the log ended with a seal
  bool torn_tail_cut = false;
  uint64_t torn_tail_offset = 0;  // in the last segment
  uint64_t records_cut = 0;       // whole records of an unfinished batch or past the claims
};

// Streams records in [from, to] with bounded memory; may run while the log is appended to.
class Iterator {
 public:
  // Moves to the next record. False at the end of the range or on error: check status().
  bool next();
  LogIndex index() const { return index_; }
  ByteSpan data() const { return data_; }
  const Status& status() const { return status_; }

 private:
  friend class Log;
  Iterator(const Log* log, LogIndex from, LogIndex to);
  bool fill();

  const Log* log_;
  LogIndex next_, to_, index_;
  ByteSpan data_;
  Bytes buf_;
  // Where each buffered record starts (from the segment's index): records need not be
  // contiguous, since a truncation leaves superseded records between live ones.
  std::vector<uint32_t> starts_;
  size_t next_start_ = 0;
  size_t len_ = 0;
  uint64_t epoch_ = 0;
  std::string file_;         // segment file of the buffered records, for error messages
  uint64_t salt_ = 0;        // and its sequence number
  uint64_t buf_offset_ = 0;  // file offset of buf_[0]
  Status status_;
};

class Log {
 public:
  // Opens (creating if missing) the log in `dir`, recovering from any crash. Fails with
  // kCorruption naming the file and byte offset when anything but a torn tail is damaged.
  static Result<std::unique_ptr<Log>> open(const std::string& dir, Options options = {});
  // Removes a log directory and everything in it.
  static Status destroy(const std::string& dir, FileSystem* fs = nullptr);

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  Result<LogIndex> append(ByteSpan record);
  // Appends all records atomically (all survive a crash or none do); returns the last index.
  Result<LogIndex> append_batch(std::span<const ByteSpan> records);
  Result<LogIndex> append_batch(std::span<const Bytes> records);
  Status sync();

  // A transaction: appends are buffered and become visible and durable together at commit().
  class Txn {
   public:
    Txn(Txn&&) noexcept = default;
    // Returns the record's position within the transaction (0, 1, ...).
    size_t append(ByteSpan record);
    // One durable write for all; returns the index of the last record (first = last - size + 1).
    // An empty transaction commits nothing and returns last_index().
    Result<LogIndex> commit();
    void abort() { records_.clear(); }
    size_t size() const { return records_.size(); }

   private:
    friend class Log;
    explicit Txn(Log* log) : log_(log) {}
    Log* log_;
    std::vector<Bytes> records_;
  };
  Txn begin() { return Txn(this); }

  Result<Bytes> read(LogIndex index) const;
  Iterator iterate(LogIndex from, LogIndex to) const { return Iterator(this, from, to); }
  // first_index() > last_index() when the log is empty.
  LogIndex first_index() const;
  LogIndex last_index() const;
  LogIndex durable_index() const;
  // The last record, or kNotFound when the log is empty.
  Result<Bytes> head() const;

  // Drops every whole segment whose records all have index <= upto (e.g. below a snapshot).
  // Records of a partly covered segment stay readable; first_index() tells what is left.
  Status trim_prefix(LogIndex upto);
  // Removes records with index >= from; the next append gets index `from`. Durable on return
  // in kAlways/kGroup (a crash before that leaves the old records, as if it had not happened).
  Status truncate_suffix(LogIndex from);
  // Removes every record; the next append gets index `next` (a follower installing a snapshot).
  Status reset(LogIndex next);

  // Syncs, writes the seal, and releases the directory. Later calls fail with kUnavailable.
  Status close();

  std::vector<SegmentInfo> segments() const;
  const RecoveryReport& recovery() const { return recovery_; }
  LogStats stats() const;
  const std::string& dir() const { return dir_; }
  // Non-ok once the log has stopped after an fsync failure.
  Status health() const;
  void check_invariants() const;

 private:
  struct Segment;
  struct Location {
    std::shared_ptr<Segment> segment;
    uint64_t offset = 0;
    uint64_t end = 0;  // end of the written part of the segment
  };
  friend class Iterator;

  Log(std::string dir, Options options, FileSystem* fs);
  // A range of the last segment that recovery zeroes (torn tail, seal) once all checks passed.
  struct TailRepair {
    uint64_t from = 0, to = 0;
  };
  Status recover();
  Status read_segment_header(Segment& seg);
  Status recover_segment(Segment& seg, uint64_t limit, TailRepair& repair);
  Status adopt_pool_file(const std::string& name);
  Status wait_durable(LogIndex index, std::unique_lock<std::mutex>& lock);
  Status sync_round(std::unique_lock<std::mutex>& lock);
  void syncer_loop();
  bool syncer_has_work() const;     // requires mu_
  uint64_t queued_records() const;  // requires mu_
  Status wait_sync_idle(std::unique_lock<std::mutex>& lock);
  Status flush_pending(std::unique_lock<std::mutex>& lock);
  void set_durable(LogIndex index);      // requires mu_
  void publish_durable(LogIndex index);  // requires mu_
  void wake_all_waiters();               // requires mu_
  Status ensure_written(const Location& loc, std::unique_lock<std::mutex>& lock) const;
  Status ensure_room(uint64_t bytes, std::unique_lock<std::mutex>& lock);
  Status roll_segment(std::unique_lock<std::mutex>& lock);
  Status start_segment(std::unique_lock<std::mutex>& lock, bool supersedes = false);
  Result<std::unique_ptr<File>> take_prepared_file(std::unique_lock<std::mutex>& lock);
  Result<std::unique_ptr<File>> prepare_file(const std::string& path) const;
  Result<std::unique_ptr<File>> next_segment_file(std::unique_lock<std::mutex>& lock);
  Status remove_segment_file(const std::string& name);
  Status retire_segment(const Segment& seg);
  Status zero_range(File& file, uint64_t from, uint64_t to);
  Status wipe_failed_write(Segment& seg, uint64_t bytes);
  Status check_writable() const;
  Status fail(Status cause);
  std::optional<Location> locate(LogIndex index) const;  // requires mu_
  void preallocator_loop();

  const std::string dir_;
  const Options options_;
  FileSystem* const fs_;
  std::unique_ptr<FileLock> dir_lock_;
  RecoveryReport recovery_;

  mutable std::mutex mu_;
  // A sync round ended, a roll ended, the log failed or closed, or (kGroup) a round took the
  // queued records.
  std::condition_variable durable_cv_;
  // Sync rounds, numbered from 1: the last one started, and the last index it covers.
  uint64_t rounds_started_ = 0;
  LogIndex round_target_;
  // Appenders wait for durability without mu_, on the end counter of the round that covers their
  // record, then read durable_published_ (= durable_index_). Round r ends with a bump of
  // round_ends_[r % 2]: the syncer wakes only the appenders of the round it finished, not those
  // already queued for the next one. Anything else that moves durable_index_ (a leader's round
  // in kAlways, a roll, truncate, failure, close) bumps both and wakes everyone.
  std::atomic<uint32_t> round_ends_[2] = {0, 0};
  std::atomic<uint64_t> durable_published_{0};
  std::vector<std::shared_ptr<Segment>> segments_;  // ordered by first index; last is active
  LogIndex first_index_, last_index_, durable_index_;
  uint64_t next_sequence_ = 1;
  uint64_t epoch_ = 0;  // bumped when records are removed, so readers can tell a race from damage
  Bytes scratch_;       // encoding buffer for direct writes, reused under mu_
  // Durable modes: records encoded but not yet written, to go at written_end_ of the active
  // segment (segments_.back()->end is past them). A sync round writes them in one pwrite.
  Bytes pending_, spare_;
  uint64_t written_end_ = 0;
  LogStats stats_;
  bool sync_running_ = false;  // a round's write + fdatasync is in flight (mu_ released)
  bool rolling_ = false;       // a roll is waiting for its prepared file
  uint32_t idle_waiters_ = 0;  // threads in wait_sync_idle(); the syncer starts no round for them
  bool closed_ = false;
  Status failed_;

  // Background preparation of the next segment file.
  std::condition_variable prealloc_cv_;
  std::unique_ptr<File> prepared_;
  std::vector<std::string> pool_;  // names of reusable files (kPoolSuffix)
  bool prepare_wanted_ = false;
  bool prealloc_stop_ = false;
  Status prealloc_error_;
  std::thread prealloc_thread_;

  // kGroup: the thread that runs every sync round.
  std::condition_variable syncer_cv_;  // records to sync, the syncer may go on, or stop
  bool syncer_stop_ = false;
  std::thread syncer_thread_;
};

}  // namespace chorus::log
