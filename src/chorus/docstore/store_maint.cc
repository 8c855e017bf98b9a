// Checkpoints (compact, archive), other writers' ops (refresh, tail), streaming, stats.
//
// Crash order of a checkpoint (write_checkpoint), each step durable before the next:
//   1. the op log is synced (every op the snapshot covers is on disk, so the log never ends
//      before the watermark the manifest will name);
//   2. snapshots/snap-<g>.snap.tmp written, fsync, rename, fsync(snapshots/);
//   3. manifest.tmp written, fsync, rename over manifest, fsync(dir)  <- the commit point;
//   4. garbage: the old snapshot and archive files, whole log segments below the watermark.
// A crash before 3 leaves the old manifest, whose snapshot and ops are all still there (orphans
// of 2 are removed at the next open); after 3 the new one. Nothing is deleted before 3.
#include <algorithm>
#include <chrono>
#include <ctime>

#include "chorus/docstore/layout.h"
#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

std::string period_of(uint64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return std::to_string(tm.tm_year + 1900) + "-Q" + std::to_string(tm.tm_mon / 3 + 1);
}

bool valid_segment(const std::string& s) {
  if (s.empty() || s.size() > 100 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

}  // namespace

Status Store::write_checkpoint(Lock& lk, std::map<std::string, std::string> archives) {
  // With the lock held throughout: an op staged after this flush would be in the snapshot but
  // not under its watermark.
  CHORUS_TRY(flush_buffer(lk, true, /*hold_lock=*/true));
  Manifest next;
  next.generation = manifest_.generation + 1;
  next.schema_version = std::max(options_.version, manifest_.schema_version);
  next.snapshot = layout::snapshot_file(next.generation);
  next.max_clock = clock_;
  next.created_ms = now_ms();
  next.archives = std::move(archives);
  for (const auto& [name, cur] : cursors_) next.streams[name] = cur.last_read;
  next.streams[own_stream()] = log_->last_index().value();

  std::string snap = path(next.snapshot);
  {
    CHORUS_ASSIGN_OR_RETURN(auto w,
                            SnapshotWriter::create(*fs_, snap + ".tmp", next.schema_version));
    for (const auto& [id, e] : state_) {
      // Tombstones matter only when another agent's older op may still arrive.
      if (!e.text && !multi_writer()) continue;
      std::optional<std::string_view> value;
      if (e.text) value = e.text.view();
      CHORUS_TRY(w->add({id, value, e.clock, e.agent}));
    }
    CHORUS_TRY(w->finish());
    next.snapshot_records = w->count();
  }
  CHORUS_TRY(fs_->rename(snap + ".tmp", snap));
  CHORUS_TRY(fs_->sync_dir(path(layout::kSnapshots)));
  CHORUS_TRY(write_file_atomically(*fs_, path(layout::kManifest), encode_manifest(next)));

  Manifest old = std::move(manifest_);
  manifest_ = std::move(next);
  manifest_present_ = true;
  ops_.clear();
  // Garbage. A failure here loses nothing (the next open removes what no manifest names).
  if (!old.snapshot.empty() && old.snapshot != manifest_.snapshot) {
    (void)fs_->remove_file(path(old.snapshot));
  }
  for (const auto& [seg, file] : old.archives) {
    auto it = manifest_.archives.find(seg);
    if (it == manifest_.archives.end() || it->second != file) (void)fs_->remove_file(path(file));
  }
  (void)fs_->sync_dir(path(layout::kSnapshots));
  (void)fs_->sync_dir(path(layout::kArchive));
  return log_->trim_prefix(LogIndex(manifest_.streams[own_stream()]));
}

Result<std::unique_ptr<FileLock>> Store::take_compaction_lock() {
  for (int attempt = 0;; ++attempt) {
    auto lock = fs_->lock_file(path(layout::kCompactionLock));
    if (lock.ok() || lock.status().code() != StatusCode::kBusy || attempt >= 2000) return lock;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status Store::multi_writer_compact(Lock& lk) {
  CHORUS_ASSIGN_OR_RETURN(auto compaction_lock, take_compaction_lock());
  // Under the lock no other agent checkpoints: merge everything every agent wrote so far.
  if (Status st = load_locked(); !st.ok()) return st;
  return write_checkpoint(lk, manifest_.archives);
}

Status Store::compact_locked(Lock& lk) {
  CHORUS_TRY(check_writable());
  if (multi_writer()) return multi_writer_compact(lk);
  return write_checkpoint(lk, manifest_.archives);
}

Status Store::compact() {
  Lock lk(mu_);
  return compact_locked(lk);
}

Result<uint64_t> Store::archive(const std::function<bool(const std::string&, const Json&)>& pred,
                                const std::string& segment) {
  Lock lk(mu_);
  CHORUS_TRY(check_writable());
  std::string seg = segment.empty() ? period_of(now_ms()) : segment;
  if (!valid_segment(seg)) {
    return Status::InvalidArgument("archive segment name must be [A-Za-z0-9_-], got '" + seg + "'");
  }
  std::unique_ptr<FileLock> compaction_lock;
  if (multi_writer()) {
    CHORUS_ASSIGN_OR_RETURN(compaction_lock, take_compaction_lock());
    CHORUS_TRY(load_locked());
  }
  std::vector<std::string> ids;
  for (const auto& [id, e] : state_) {
    if (e.text && pred(id, value_of(e))) ids.push_back(id);
  }
  if (ids.empty()) return uint64_t{0};
  std::sort(ids.begin(), ids.end());

  // The segment file: what it held plus the new records, under a new name (files are immutable).
  std::string file = layout::archive_file(seg, manifest_.generation + 1);
  {
    std::map<std::string, Entry> records;
    if (auto it = manifest_.archives.find(seg); it != manifest_.archives.end()) {
      CHORUS_ASSIGN_OR_RETURN(auto r, SnapshotReader::open(*fs_, path(it->second)));
      SnapshotRecord rec;
      while (r->next(rec)) {
        if (!rec.value) return Status::Corruption(r->path() + ": a tombstone in an archive");
        records[std::string(rec.id)] =
            Entry{JsonText(*rec.value), rec.clock, std::string(rec.agent)};
      }
      CHORUS_TRY(r->status());
    }
    for (const auto& id : ids) {
      const Entry& e = *state_.find(id);
      records[id] = Entry{e.text, e.clock, e.agent};
    }
    CHORUS_ASSIGN_OR_RETURN(
        auto w, SnapshotWriter::create(*fs_, path(file) + ".tmp", manifest_.schema_version));
    for (const auto& [id, e] : records) {
      CHORUS_TRY(w->add({id, e.text.view(), e.clock, e.agent}));
    }
    CHORUS_TRY(w->finish());
  }
  CHORUS_TRY(fs_->rename(path(file) + ".tmp", path(file)));
  CHORUS_TRY(fs_->sync_dir(path(layout::kArchive)));

  std::vector<std::pair<std::string, Entry>> saved;
  for (const auto& id : ids) {
    Entry* e = state_.find(id);
    saved.emplace_back(id, *e);
    --live_;
    if (multi_writer()) {
      *e = Entry{JsonText(), ++clock_, options_.agent_id};
    } else {
      state_.erase(id);
    }
  }
  auto archives = manifest_.archives;
  archives[seg] = file;
  if (Status st = write_checkpoint(lk, std::move(archives)); !st.ok()) {
    // Not committed (or committed and the log trim failed: then the state is still right).
    if (manifest_.archives.count(seg) == 0 || manifest_.archives[seg] != file) {
      for (auto& [id, e] : saved) {
        *state_.try_emplace(id).first = std::move(e);
        ++live_;
      }
    }
    return st;
  }
  return static_cast<uint64_t>(ids.size());
}

Result<std::map<std::string, Json>> Store::load_archive(const std::string& segment) const {
  std::string file;
  {
    std::lock_guard lk(mu_);
    auto it = manifest_.archives.find(segment);
    if (it == manifest_.archives.end()) {
      return Status::NotFound("no archive segment '" + segment + "'");
    }
    file = it->second;
  }
  CHORUS_ASSIGN_OR_RETURN(auto r, SnapshotReader::open(*fs_, path(file)));
  std::map<std::string, Json> out;
  SnapshotEntry e;
  while (r->next(e)) out[e.id] = std::move(e.value);
  CHORUS_TRY(r->status());
  return out;
}

std::vector<std::string> Store::list_archive_segments() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& [seg, file] : manifest_.archives) out.push_back(seg);
  return out;
}

Stats Store::stats() const {
  std::lock_guard lk(mu_);
  Stats s;
  s.active_records = live_;
  s.ops_count = ops_.size();
  s.archive_segments = manifest_.archives.size();
  s.generation = manifest_.generation;
  s.buffered_ops = buffered_ops_ + in_flight_ops_;
  s.op_seq = op_seq_;
  s.durable_seq = durable_seq_.load();
  s.clock = clock_;
  s.log_syncs = log_ != nullptr ? log_->stats().syncs : 0;
  s.took_over_stale_lock = dir_lock_.took_over_stale;
  return s;
}

ManifestInfo Store::manifest() const {
  ManifestInfo info;
  info.stats = stats();
  std::lock_guard lk(mu_);
  info.dir = dir_;
  info.read_only = options_.read_only;
  info.manifest = manifest_;
  if (manifest_present_) info.manifest_path = path(layout::kManifest);
  if (!manifest_.snapshot.empty()) info.snapshot_path = path(manifest_.snapshot);
  for (const auto& [name, cur] : cursors_) info.ops_dirs.push_back(path(layout::stream_dir(name)));
  return info;
}

// Picks up what other writers appended since the last read. A new manifest generation (someone
// compacted) or another stream's undo means a full reload; otherwise new ops are applied
// incrementally (last-writer-wins makes the order of application irrelevant).
Status Store::refresh_locked(std::vector<Op>* picked) {
  if (closed_) return Status::Unavailable("store " + dir_ + " is closed");
  if (options_.skip_load) return Status::InvalidArgument("store opened with skip_load");
  if (!multi_writer() && !options_.read_only) return Status::Ok();  // we are the only writer
  Manifest m;
  bool present = false;
  CHORUS_TRY(read_manifest(m, present));
  bool reload = m.generation != manifest_.generation;
  History fresh;
  if (!reload) {
    CHORUS_ASSIGN_OR_RETURN(auto streams, list_streams());
    for (const auto& name : streams) {
      if (log_ != nullptr && name == own_stream()) continue;
      auto log = log::Log::open(path(layout::stream_dir(name)), {.fs = fs_, .read_only = true});
      if (!log.ok()) {
        if (log.status().code() == StatusCode::kNotFound) continue;
        return log.status().Annotate("ops stream " + name);
      }
      bool saw_undo = false;
      CHORUS_TRY(read_stream(name, **log, cursors_[name].last_read + 1, true, fresh, saw_undo));
      if (saw_undo) {
        reload = true;
        break;
      }
    }
  }
  if (reload) {
    size_t before = ops_.size();
    CHORUS_TRY(load_locked());
    if (picked != nullptr && ops_.size() > before) {
      for (size_t i = before; i < ops_.size(); ++i) picked->push_back(ops_[i].to_op());
    }
    if (log_ != nullptr) {  // another agent checkpointed: our covered segments are garbage
      CHORUS_TRY(log_->trim_prefix(LogIndex(manifest_.streams[own_stream()])));
    }
    return Status::Ok();
  }
  if (picked != nullptr) {
    for (const StoredOp& op : fresh) picked->push_back(op.to_op());
  }
  for (StoredOp& op : fresh) {
    apply(op);
    clock_ = std::max(clock_, op.clock);
    ops_.push_back(std::move(op));
  }
  std::stable_sort(ops_.begin(), ops_.end(), [](const StoredOp& a, const StoredOp& b) {
    return std::tie(a.clock, a.agent) < std::tie(b.clock, b.agent);
  });
  return Status::Ok();
}

Status Store::refresh() { return tail().status(); }

Result<std::vector<Op>> Store::tail() {
  std::vector<Op> picked;
  {
    std::lock_guard lk(mu_);
    CHORUS_TRY(refresh_locked(&picked));
  }
  notify(picked);
  return picked;
}

void Store::poll_loop(uint32_t poll_ms) {
  while (!poll_stop_) {
    for (uint32_t slept = 0; slept < poll_ms && !poll_stop_; slept += 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(10, poll_ms)));
    }
    if (!poll_stop_) (void)tail();
  }
}

Result<std::unique_ptr<SnapshotReader>> Store::stream_snapshot() const {
  std::string file;
  {
    std::lock_guard lk(mu_);
    if (manifest_.snapshot.empty()) return Status::NotFound("store " + dir_ + " has no snapshot");
    file = path(manifest_.snapshot);
  }
  return SnapshotReader::open(*fs_, file);
}

Status Store::for_each_op(uint64_t since_ms, const std::function<bool(const Op&)>& fn) {
  Manifest m;
  std::vector<std::string> streams;
  {
    Lock lk(mu_);
    if (closed_) return Status::Unavailable("store " + dir_ + " is closed");
    if (log_ != nullptr) CHORUS_TRY(flush_buffer(lk, false, /*hold_lock=*/true));
    m = manifest_;
    CHORUS_ASSIGN_OR_RETURN(streams, list_streams());
  }
  for (const auto& name : streams) {
    std::unique_ptr<log::Log> ro;
    log::Log* log = log_.get();
    if (log == nullptr || name != own_stream()) {
      auto opened = log::Log::open(path(layout::stream_dir(name)), {.fs = fs_, .read_only = true});
      if (!opened.ok()) return opened.status().Annotate("ops stream " + name);
      ro = std::move(opened).value();
      log = ro.get();
    }
    auto wm = m.streams.find(name);
    LogIndex from((wm == m.streams.end() ? 0 : wm->second) + 1);
    std::string where = path(layout::stream_dir(name));
    // Pass 1: which ops are live (undo records pop them): 8 bytes per op, not the ops.
    std::vector<uint64_t> live;
    for (int pass = 0; pass < 2; ++pass) {
      size_t next_live = 0;
      auto it = log->iterate(from, log->last_index());
      while (it.next()) {
        auto rec = decode_record(it.data());
        if (!rec.ok()) {
          return rec.status().Annotate(where + " index " + std::to_string(it.index().value()));
        }
        if (rec->kind == RecordKind::kUndo) {
          if (pass == 0 && !live.empty()) live.pop_back();
          continue;
        }
        for (Op& op : rec->ops) {
          if (pass == 0) {
            live.push_back(op.clock);
            continue;
          }
          if (next_live >= live.size() || live[next_live] != op.clock) continue;  // undone
          ++next_live;
          op.agent = layout::stream_agent(name);
          if (op.ts_ms >= since_ms && !fn(op)) return Status::Ok();
        }
      }
      if (!it.status().ok()) return it.status().Annotate(where);
    }
  }
  return Status::Ok();
}

void Store::check_invariants() const {
  std::lock_guard lk(mu_);
  uint64_t live = 0;
  for (const auto& [id, e] : state_) {
    live += e.text ? 1 : 0;
    CHORUS_ASSERT(e.text || multi_writer(), "tombstone in single-writer state: ", id);
    CHORUS_ASSERT(e.clock <= clock_, "record stamp ahead of the Lamport clock: ", id);
  }
  CHORUS_ASSERT(live == live_, "live count ", live_, " but ", live, " live records");
  for (size_t i = 0; i < ops_.size(); ++i) {
    CHORUS_ASSERT(ops_[i].clock <= clock_, "op clock ahead of the Lamport clock");
    CHORUS_ASSERT(i == 0 || std::tie(ops_[i - 1].clock, ops_[i - 1].agent) <
                                std::tie(ops_[i].clock, ops_[i].agent),
                  "ops out of (clock, agent) order");
    CHORUS_ASSERT((ops_[i].type == OpType::kSet) == static_cast<bool>(ops_[i].data),
                  "op data presence does not match its type");
  }
  CHORUS_ASSERT(durable_seq_.load() <= logged_seq_, "durable beyond what was logged");
  CHORUS_ASSERT(logged_seq_ + in_flight_ops_ + buffered_ops_ == op_seq_,
                "op sequence accounting broken");
  CHORUS_ASSERT(buffer_.empty() == (buffered_ops_ == 0), "buffer and its op count disagree");
  CHORUS_ASSERT(flushing_ || in_flight_.empty(), "a buffer in flight with no flush running");
}

}  // namespace chorus::docstore
