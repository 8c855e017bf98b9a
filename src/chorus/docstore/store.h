// chorus::docstore::Store — an embedded, event-sourced store of JSON documents keyed by id.
//
//   auto store = *Store::open("/var/lib/app/tasks", {});
//   CHORUS_TRY(store->set("task-1", {{"name", "Build API"}, {"status", "active"}}));
//   std::optional<Json> t = store->get("task-1");
//   CHORUS_TRY(store->batch([](Batch& b) { return b.del("task-1"); }));
//   auto undone = store->undo();  // true: the delete is gone again
//
// Every mutation is an op that carries the previous value (so undo and history need nothing
// else), appended to a chorus::log (checksummed, torn tails cut). State = the latest snapshot +
// the ops after it. compact() writes a new immutable snapshot and a new manifest atomically.
// Layout, formats and recovery: docs/docstore.md, format.h, snapshot.h.
//
// What "returned ok" promises, by write mode (a power loss, not only a killed process):
//   kImmediate — the op is on disk (fdatasync'd) before set/del/batch/undo return. Concurrent
//                callers share one fdatasync. Nothing acknowledged is ever lost.
//   kGroup     — the op is buffered in memory and visible to reads. The buffer is written and
//                fdatasync'd once it holds group_size ops (the call that fills it waits for that;
//                so does any call that would leave group_size acknowledged ops not durable)
//                or its oldest op is group_delay_ms old (background flusher), or at flush()/
//                sync()/compact()/close(). A crash loses at most the ops of that window:
//                fewer than group_size ops, none older than group_delay_ms (+ one fdatasync).
//                Stats::durable_seq tells which ops are durable.
//   kAsync     — buffered, returns at once; written to the OS (no fdatasync) by the flusher
//                every group_delay_ms, or by the call that brings the buffer to 4096 ops / 1 MiB;
//                durable only at sync()/flush()/compact()/close(). A power loss loses at most
//                the ops after the last sync().
// In every mode reads see an op as soon as its call returns (before it is durable).
// Multi-writer (agent_id set) is kImmediate only; other modes fail open with InvalidArgument.
//
// Failure: an fdatasync error or an I/O error on data already acknowledged stops the store:
// every later call fails with kFailed (never retried: see base/file_system.h). Corruption found at
// open fails open with kCorruption naming the file (and offset); nothing is skipped. Values are
// checked by their records' checksums at open, and parsed as JSON on first read.
//
// Values are kept as their JSON text (json_text.h), parsed on first read and then cached: open
// parses nothing, and a set() keeps only the text (so a write costs no memory for a parsed copy).
//
// Thread safety: every method may be called from any thread; mutations are serialized. The
// group/async buffer is written and synced with the store's lock released, so reads and other
// writers go on meanwhile (filling the next buffer). A Batch function runs under the store's
// lock: it must use its Batch, not the Store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/base/clock.h"
#include "chorus/base/file_system.h"
#include "chorus/base/status.h"
#include "chorus/docstore/dir_lock.h"
#include "chorus/docstore/format.h"
#include "chorus/docstore/id_map.h"
#include "chorus/docstore/snapshot.h"
#include "chorus/log/log.h"

namespace chorus::docstore {

enum class WriteMode : uint8_t { kImmediate, kGroup, kAsync };

struct Options {
  // Storage backend: every byte goes through it (nullptr: the real file system).
  FileSystem* fs = nullptr;
  const Clock* clock = nullptr;  // op timestamps (nullptr: the system clock)
  // compact() runs inside the write that brings the live ops to this many (0: never).
  uint64_t checkpoint_threshold = 100'000;
  bool checkpoint_on_close = true;
  // Schema version. When it is above the stored one, migrate(record, stored_version) rewrites
  // every record at open, and (writable stores) a checkpoint persists the result right away.
  uint32_t version = 0;
  std::function<Json(Json record, uint32_t from_version)> migrate;
  bool read_only = false;  // no lock; mutations fail with kReadOnly
  // Load nothing into memory: only manifest(), stats(), stream_snapshot() and for_each_op() work.
  bool skip_load = false;
  WriteMode write_mode = WriteMode::kImmediate;
  uint32_t group_size = 50;
  uint32_t group_delay_ms = 100;
  std::string agent_id;                 // non-empty: multi-writer mode
  uint64_t segment_bytes = 4ull << 20;  // op log segment size
  // The group/async flusher thread and the log's segment preallocation thread. Off: everything
  // runs inline in the caller (deterministic; used by the crash tests on SimFileSystem).
  bool background_threads = true;
};

struct Stats {
  uint64_t active_records = 0;
  uint64_t ops_count = 0;  // live ops since the snapshot
  uint64_t archive_segments = 0;
  uint64_t generation = 0;    // of the manifest
  uint64_t buffered_ops = 0;  // group/async: not yet handed to the log
  uint64_t op_seq = 0;        // ops acknowledged since open
  uint64_t durable_seq = 0;   // of those, the first durable_seq are known durable
  uint64_t clock = 0;         // Lamport clock
  uint64_t log_syncs = 0;
  bool took_over_stale_lock = false;
};

struct ManifestInfo {
  std::string dir;
  std::string manifest_path;  // "" when no checkpoint was ever written
  std::string snapshot_path;  // ""      "
  std::vector<std::string> ops_dirs;
  Manifest manifest;
  Stats stats;
  bool read_only = false;
};

class Store;

// The ops of one batch(); reads see the batch's own earlier ops.
class Batch {
 public:
  Status set(const std::string& id, Json value);
  Status del(const std::string& id);  // NotFound if absent
  std::optional<Json> get(const std::string& id) const;
  bool has(const std::string& id) const { return get(id).has_value(); }
  size_t size() const { return ops_.size(); }

 private:
  friend class Store;
  struct Staged {
    JsonText text;  // absent: deleted by the batch
    Json value;
  };
  explicit Batch(const Store* store) : store_(store) {}
  JsonText current_text(const std::string& id) const;
  const Store* store_;
  std::vector<StoredOp> ops_;
  std::unordered_map<std::string, Staged> overlay_;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& dir, Options options = {});
  ~Store();  // close()s, ignoring errors: call close() to see them
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Flushes and syncs, checkpoints (if checkpoint_on_close and there are ops), releases the
  // lock. Later calls fail with kUnavailable.
  Status close();

  // Reads.
  std::optional<Json> get(const std::string& id) const;
  bool has(const std::string& id) const;
  std::vector<Json> all() const;
  std::vector<std::pair<std::string, Json>> entries() const;
  std::vector<Json> filter(const std::function<bool(const Json&)>& pred) const;
  size_t count(const std::function<bool(const Json&)>& pred = nullptr) const;

  // Mutations.
  Status set(const std::string& id, Json value);
  Status del(const std::string& id);  // NotFound if absent
  // All ops of fn in one record (one durable write). fn returning an error or throwing rolls
  // everything back (the exception propagates); an empty batch does no I/O.
  Status batch(const std::function<Status(Batch&)>& fn);
  // Reverts the last live op (multi-writer: this agent's). False when there is none.
  Result<bool> undo();

  // History.
  std::vector<Op> history(const std::string& id) const;
  std::vector<Op> ops(uint64_t since_ms = 0) const;  // live ops with ts_ms >= since_ms

  // Durability (see the header comment).
  Status flush();
  Status sync();

  // Maintenance.
  Status compact();
  // Moves the records matching pred to archive segment `segment` ("" = this quarter, e.g.
  // "2026-Q1"); returns how many moved.
  Result<uint64_t> archive(const std::function<bool(const std::string&, const Json&)>& pred,
                           const std::string& segment = "");
  Result<std::map<std::string, Json>> load_archive(const std::string& segment) const;
  std::vector<std::string> list_archive_segments() const;
  Stats stats() const;
  ManifestInfo manifest() const;
  // Picks up ops of other writers (other agents; or, read-only, the writer). tail() returns them.
  Status refresh();
  Result<std::vector<Op>> tail();
  // Calls cb (outside the store's lock) for every op applied from now on: this store's own and
  // those tail()/refresh() pick up. poll_ms > 0 also starts a thread that tail()s that often.
  uint64_t watch(std::function<void(const Op&)> cb, uint32_t poll_ms = 0);
  void unwatch(uint64_t id);

  // Streaming, with bounded memory.
  Result<std::unique_ptr<SnapshotReader>> stream_snapshot() const;
  // The live ops on disk with ts_ms >= since_ms, in log order, stream by stream; fn returns
  // false to stop. Buffered ops are written out first.
  Status for_each_op(uint64_t since_ms, const std::function<bool(const Op&)>& fn);

  Status health() const;
  const std::string& dir() const { return dir_; }
  void check_invariants() const;

 private:
  friend class Batch;
  struct Entry {
    JsonText text;  // absent: a tombstone (multi-writer only)
    uint64_t clock = 0;
    std::string agent;
    mutable Json parsed = Json(Json::value_t::discarded);  // text, once read (value_of); mu_
  };
  using State = IdMap<Entry>;
  // A deque: growing it neither moves the ops nor needs twice their memory at once.
  using History = std::deque<StoredOp>;
  struct StreamCursor {
    uint64_t last_read = 0;  // last log index applied
  };
  using Lock = std::unique_lock<std::mutex>;

  Store(std::string dir, Options options, FileSystem* fs);

  // store_open.cc
  Status open_impl();
  Status load_locked();  // snapshot + every stream, from scratch
  Status load_snapshot();
  Status read_manifest(Manifest& out, bool& present) const;
  Status read_stream(const std::string& name, log::Log& log, uint64_t from, bool incremental,
                     History& out_ops, bool& saw_undo);
  Result<std::vector<std::string>> list_streams() const;
  Status open_own_log();
  Status cleanup_orphans();
  Status migrate_locked(Lock& lk);

  // store_write.cc
  Status check_writable() const;
  // Stamps ops, hands them to the log or the buffer, applies them and adds them to the history
  // (a copy of them to `watched` when someone watches). On error nothing of them happened.
  // entry: ops[0]'s entry, when the caller (set()) has looked it up already.
  Status stage(std::span<StoredOp> ops, std::vector<Op>& watched, Entry* entry = nullptr);
  Status stage_undo(uint64_t target_clock);
  Status staged(uint64_t ops);
  // Waits for what the write mode promises about the ops staged so far (and checkpoints when due).
  Status after_stage(Lock& lk);
  // Writes the group/async buffer to the log (one batch) and, if do_sync, fdatasyncs. The I/O
  // runs with mu_ released unless hold_lock (checkpoints, which must see no new op meanwhile).
  Status flush_buffer(Lock& lk, bool do_sync, bool hold_lock = false);
  // The entry op wrote; nullptr when it lost or erased it.
  Entry* apply(StoredOp& op);
  Entry* apply(StoredOp& op, Entry& e);
  const Entry* find_live(const std::string& id) const;
  const Json& value_of(const Entry& e) const;  // requires mu_
  bool watching() const { return watchers_count_.load(std::memory_order_relaxed) > 0; }
  void notify(const std::vector<Op>& ops);
  void flusher_loop();
  Status fail(Status cause);
  uint64_t now_ms() const;

  // store_maint.cc
  Status compact_locked(Lock& lk);
  // Writes state_ as generation + 1 with `archives`; see store_maint.cc for the crash order.
  Status write_checkpoint(Lock& lk, std::map<std::string, std::string> archives);
  Status multi_writer_compact(Lock& lk);
  Result<std::unique_ptr<FileLock>> take_compaction_lock();
  Status refresh_locked(std::vector<Op>* picked);
  void poll_loop(uint32_t poll_ms);

  bool multi_writer() const { return !options_.agent_id.empty(); }
  std::string own_stream() const {
    return multi_writer() ? "agent-" + options_.agent_id : std::string("main");
  }
  std::string path(std::string_view rel) const { return join_path(dir_, rel); }

  const std::string dir_;
  const Options options_;
  FileSystem* const fs_;
  const Clock* const clock_src_;
  DirLock dir_lock_;

  mutable std::mutex mu_;
  Manifest manifest_;
  bool manifest_present_ = false;
  State state_;        // tombstones only in multi-writer mode
  uint64_t live_ = 0;  // non-tombstone entries of state_
  History ops_;        // live ops since the snapshot, in (clock, agent) order
  std::map<std::string, StreamCursor> cursors_;
  uint64_t clock_ = 0;
  std::unique_ptr<log::Log> log_;  // this writer's stream (nullptr when read-only)
  RecordBuffer scratch_;           // immediate: the record being appended
  // Group/async double buffer: commits fill buffer_ while a flush writes in_flight_.
  RecordBuffer buffer_, in_flight_;
  uint64_t buffered_ops_ = 0;
  uint64_t buffer_started_ns_ = 0;
  uint64_t in_flight_ops_ = 0;
  bool flushing_ = false;  // one flush at a time keeps the log in op order
  std::condition_variable flushed_cv_;
  uint64_t op_seq_ = 0;
  uint64_t logged_seq_ = 0;  // ops handed to the log (written to the OS)
  std::atomic<uint64_t> durable_seq_{0};
  bool closed_ = false;
  Status failed_;

  std::condition_variable flusher_cv_;
  bool flusher_idle_ = false;  // waiting for a first buffered op: a commit must wake it
  bool flusher_stop_ = false;
  std::thread flusher_;

  mutable std::mutex watch_mu_;
  std::map<uint64_t, std::function<void(const Op&)>> watchers_;
  std::atomic<size_t> watchers_count_{0};
  uint64_t next_watch_ = 1;
  std::atomic<bool> poll_stop_{false};
  std::vector<std::thread> pollers_;

  friend class StoreTestPeer;
};

// A typed view: T needs to_json/from_json (nlohmann ADL).
template <typename T>
class TypedStore {
 public:
  static Result<TypedStore> open(const std::string& dir, Options options = {}) {
    CHORUS_ASSIGN_OR_RETURN(auto s, Store::open(dir, std::move(options)));
    return TypedStore(std::move(s));
  }
  // NotFound when absent, InvalidArgument when the stored JSON does not convert to T.
  Result<T> get(const std::string& id) const {
    auto j = store_->get(id);
    if (!j) return Status::NotFound("no record '" + id + "'");
    return convert(*j);
  }
  bool has(const std::string& id) const { return store_->has(id); }
  Status set(const std::string& id, const T& value) { return store_->set(id, Json(value)); }
  Status del(const std::string& id) { return store_->del(id); }
  Result<std::vector<T>> all() const { return convert_all(store_->all()); }
  Result<std::vector<T>> filter(const std::function<bool(const T&)>& pred) const {
    CHORUS_ASSIGN_OR_RETURN(auto every, all());
    std::vector<T> out;
    for (auto& v : every) {
      if (pred(v)) out.push_back(std::move(v));
    }
    return out;
  }
  Store& raw() { return *store_; }
  Status close() { return store_->close(); }

 private:
  explicit TypedStore(std::unique_ptr<Store> s) : store_(std::move(s)) {}
  static Result<T> convert(const Json& j) {
    try {
      return j.get<T>();
    } catch (const Json::exception& e) {
      return Status::InvalidArgument(std::string("record does not convert: ") + e.what());
    }
  }
  static Result<std::vector<T>> convert_all(const std::vector<Json>& js) {
    std::vector<T> out;
    out.reserve(js.size());
    for (const auto& j : js) {
      CHORUS_ASSIGN_OR_RETURN(T v, convert(j));
      out.push_back(std::move(v));
    }
    return out;
  }
  std::unique_ptr<Store> store_;
};

}  // namespace chorus::docstore
