// Open, load (snapshot + replay of every op stream), close.
#include <algorithm>

#include "chorus/docstore/layout.h"
#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

bool valid_agent_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

Store::Store(std::string dir, Options options, FileSystem* fs)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      fs_(fs),
      clock_src_(options_.clock != nullptr ? options_.clock : &SystemClock::instance()) {}

Store::~Store() {
  if (!closed_) (void)close();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, Options options) {
  if (options.write_mode != WriteMode::kImmediate && !options.agent_id.empty()) {
    return Status::InvalidArgument(
        "write_mode group/async cannot be used with agent_id: other agents cannot see buffered "
        "ops, so multi-writer mode is immediate only");
  }
  if (!options.agent_id.empty() && !valid_agent_id(options.agent_id)) {
    return Status::InvalidArgument("agent_id must be 1-128 characters of [A-Za-z0-9._-]");
  }
  if (options.write_mode != WriteMode::kImmediate && options.group_size == 0) {
    return Status::InvalidArgument("group_size must be at least 1");
  }
  FileSystem* fs = options.fs != nullptr ? options.fs : &FileSystem::posix();
  std::unique_ptr<Store> store(new Store(dir, std::move(options), fs));
  if (Status st = store->open_impl(); !st.ok()) {
    store->closed_ = true;
    return st;
  }
  return store;
}

Status Store::open_impl() {
  if (options_.read_only) {
    CHORUS_ASSIGN_OR_RETURN(bool present, fs_->exists(dir_));
    if (!present) return Status::NotFound("store directory " + dir_ + " does not exist");
  } else {
    CHORUS_TRY(create_dirs(*fs_, dir_));
    for (const char* sub : {layout::kSnapshots, layout::kOps, layout::kArchive}) {
      CHORUS_TRY(fs_->create_dir(path(sub)));
    }
    CHORUS_TRY(fs_->sync_dir(dir_));
    if (!multi_writer()) {
      CHORUS_ASSIGN_OR_RETURN(dir_lock_, lock_store_dir(*fs_, dir_));
    }
  }
  Lock lk(mu_);
  CHORUS_TRY(read_manifest(manifest_, manifest_present_));
  if (!options_.read_only) {
    CHORUS_TRY(open_own_log());
    if (!multi_writer()) CHORUS_TRY(cleanup_orphans());
  }
  if (!options_.skip_load) {
    CHORUS_TRY(load_locked());
    CHORUS_TRY(migrate_locked(lk));
  }
  if (options_.write_mode != WriteMode::kImmediate && options_.background_threads &&
      !options_.read_only) {
    flusher_ = std::thread([this] { flusher_loop(); });
  }
  return Status::Ok();
}

Status Store::read_manifest(Manifest& out, bool& present) const {
  std::string p = path(layout::kManifest);
  CHORUS_ASSIGN_OR_RETURN(present, fs_->exists(p));
  out = Manifest();
  if (!present) return Status::Ok();
  CHORUS_ASSIGN_OR_RETURN(Bytes data, read_whole_file(*fs_, p));
  auto m = decode_manifest(data);
  if (!m.ok()) return m.status().Annotate(p);
  out = std::move(m).value();
  return Status::Ok();
}

Status Store::open_own_log() {
  std::string stream = own_stream();
  auto it = manifest_.streams.find(stream);
  uint64_t watermark = it == manifest_.streams.end() ? 0 : it->second;
  log::Options lo{.fs = fs_,
                  .durability = log::Durability::kNone,
                  .segment_bytes = options_.segment_bytes,
                  .max_record_bytes = kMaxRecordBytes,
                  .background_preallocate = options_.background_threads,
                  // Readers and other agents reopen this stream read-only on every refresh; a
                  // reused last segment would make each of those opens scan its old records.
                  .recycle_segments = 0,
                  .first_index = LogIndex(watermark + 1)};
  auto log = log::Log::open(path(layout::stream_dir(stream)), lo);
  if (!log.ok()) return log.status().Annotate("ops stream " + stream);
  log_ = std::move(log).value();
  // Compaction syncs the log before the manifest names its last index, so the log can never end
  // before the watermark; if it did, new ops would reuse covered indexes and be skipped.
  if (log_->last_index().value() < watermark) {
    return Status::Corruption(path(layout::stream_dir(stream)) + ": log ends at index " +
                              std::to_string(log_->last_index().value()) +
                              " but the manifest covers up to " + std::to_string(watermark));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Store::list_streams() const {
  std::vector<std::string> out;
  auto names = fs_->list_dir(path(layout::kOps));
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return out;
    return names.status();
  }
  for (const auto& n : *names) {
    if (layout::is_stream_name(n)) out.push_back(n);
  }
  return out;
}

// Appends the live ops of one stream from index `from` to out_ops (undo records pop). In
// incremental mode an undo record stops the read and sets saw_undo: the caller reloads.
Status Store::read_stream(const std::string& name, log::Log& log, uint64_t from, bool incremental,
                          History& out_ops, bool& saw_undo) {
  std::string where = path(layout::stream_dir(name));
  uint64_t last = log.last_index().value();
  if (last >= from && log.first_index().value() > from) {
    return Status::Corruption(where + ": ops from index " + std::to_string(from) +
                              " are needed but the log starts at " +
                              std::to_string(log.first_index().value()));
  }
  std::string agent = layout::stream_agent(name);
  size_t stream_begin = out_ops.size();
  RecordView rec;
  auto text = [](std::optional<std::string_view> v) { return v ? JsonText(*v) : JsonText(); };
  auto it = log.iterate(LogIndex(std::max<uint64_t>(from, 1)), log.last_index());
  while (it.next()) {
    if (Status st = decode_record_view(it.data(), rec); !st.ok()) {
      return st.Annotate(where + " index " + std::to_string(it.index().value()));
    }
    if (rec.kind == RecordKind::kUndo) {
      if (incremental) {
        saw_undo = true;
        return Status::Ok();
      }
      if (out_ops.size() == stream_begin || out_ops.back().clock != rec.undo_clock) {
        return Status::Corruption(where + " index " + std::to_string(it.index().value()) +
                                  ": undo of clock " + std::to_string(rec.undo_clock) +
                                  " does not match the stream's last live op");
      }
      out_ops.pop_back();
      continue;
    }
    for (const OpView& op : rec.ops) {
      out_ops.push_back(StoredOp{op.type, std::string(op.id), text(op.data), text(op.prev),
                                 op.ts_ms, op.clock, agent});
    }
  }
  if (!it.status().ok()) return it.status().Annotate(where);
  cursors_[name].last_read = std::max(cursors_[name].last_read, last);
  return Status::Ok();
}

// Values stay JSON text (the record checksums vouch for them) until first read: no parsing here.
Status Store::load_snapshot() {
  CHORUS_ASSIGN_OR_RETURN(auto reader, SnapshotReader::open(*fs_, path(manifest_.snapshot)));
  state_.reserve(manifest_.snapshot_records);
  SnapshotRecord r;
  while (reader->next(r)) {
    clock_ = std::max(clock_, r.clock);
    if (r.value) ++live_;
    auto [e, fresh] = state_.try_emplace(r.id);
    if (!fresh) {
      return Status::Corruption(reader->path() + ": record '" + std::string(r.id) + "' twice");
    }
    *e = Entry{r.value ? JsonText(*r.value) : JsonText(), r.clock, std::string(r.agent)};
  }
  return reader->status();
}

Status Store::load_locked() {
  // In multi-writer mode another agent may compact between our manifest read and the snapshot
  // read and delete the old snapshot: read the (new) manifest again.
  for (int attempt = 0;; ++attempt) {
    state_.clear();
    live_ = 0;
    ops_.clear();
    cursors_.clear();
    Status st = read_manifest(manifest_, manifest_present_);
    if (st.ok() && !manifest_.snapshot.empty()) st = load_snapshot();
    if (st.ok()) break;
    if (st.code() != StatusCode::kNotFound || !multi_writer() || attempt >= 20) return st;
  }
  clock_ = std::max(clock_, manifest_.max_clock);

  CHORUS_ASSIGN_OR_RETURN(auto streams, list_streams());
  History merged;
  for (const auto& name : streams) {
    auto wm = manifest_.streams.find(name);
    uint64_t from = (wm == manifest_.streams.end() ? 0 : wm->second) + 1;
    cursors_[name].last_read = from - 1;
    bool saw_undo = false;
    if (log_ != nullptr && name == own_stream()) {
      CHORUS_TRY(read_stream(name, *log_, from, false, merged, saw_undo));
      continue;
    }
    auto log = log::Log::open(path(layout::stream_dir(name)), {.fs = fs_, .read_only = true});
    if (!log.ok()) {
      if (log.status().code() == StatusCode::kNotFound) continue;
      return log.status().Annotate("ops stream " + name);
    }
    CHORUS_TRY(read_stream(name, **log, from, false, merged, saw_undo));
  }
  // One total order for every replay: (Lamport clock, agent). A single stream is already in it.
  auto order = [](const StoredOp& a, const StoredOp& b) {
    return std::tie(a.clock, a.agent) < std::tie(b.clock, b.agent);
  };
  if (!std::is_sorted(merged.begin(), merged.end(), order)) {
    std::stable_sort(merged.begin(), merged.end(), order);
  }
  for (StoredOp& op : merged) {
    apply(op);
    clock_ = std::max(clock_, op.clock);
  }
  ops_ = std::move(merged);
  return Status::Ok();
}

Status Store::migrate_locked(Lock& lk) {
  uint32_t stored = manifest_.schema_version;
  if (options_.version < stored && options_.version != 0) {
    return Status::InvalidArgument("store " + dir_ + " has schema version " +
                                   std::to_string(stored) + ", newer than this program's " +
                                   std::to_string(options_.version));
  }
  if (options_.version <= stored || !options_.migrate) return Status::Ok();
  for (auto& [id, e] : state_) {
    if (!e.text) continue;
    try {
      Json v = options_.migrate(Json(value_of(e)), stored);
      CHORUS_ASSIGN_OR_RETURN(e.text, JsonText::serialize(v));
      e.parsed = std::move(v);
    } catch (const std::exception& ex) {
      return Status::InvalidArgument("migrate failed on record '" + id + "': " + ex.what());
    }
  }
  // Persist now (this is the next checkpoint): replaying the old ops on a later open would run
  // migrate over records that are already migrated.
  // (Multi-writer: at the next compact(), which runs under the compaction lock.)
  if (log_ != nullptr && !multi_writer()) return write_checkpoint(lk, manifest_.archives);
  return Status::Ok();
}

Status Store::cleanup_orphans() {
  // Files no manifest names: snapshots and archives of a checkpoint that crashed before its
  // manifest was renamed into place, and tmp files. The manifest never points at them.
  for (const char* sub : {layout::kSnapshots, layout::kArchive}) {
    CHORUS_ASSIGN_OR_RETURN(auto names, fs_->list_dir(path(sub)));
    bool removed = false;
    for (const auto& n : names) {
      std::string rel = std::string(sub) + "/" + n;
      bool named = rel == manifest_.snapshot;
      for (const auto& [seg, file] : manifest_.archives) named = named || rel == file;
      if (!named) {
        CHORUS_TRY(fs_->remove_file(path(rel)));
        removed = true;
      }
    }
    if (removed) CHORUS_TRY(fs_->sync_dir(path(sub)));
  }
  CHORUS_ASSIGN_OR_RETURN(bool tmp, fs_->exists(path(std::string(layout::kManifest) + ".tmp")));
  if (tmp) CHORUS_TRY(fs_->remove_file(path(std::string(layout::kManifest) + ".tmp")));
  return Status::Ok();
}

Status Store::close() {
  poll_stop_ = true;
  for (auto& t : pollers_) t.join();
  pollers_.clear();
  {
    Lock lk(mu_);
    flusher_stop_ = true;
  }
  flusher_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  Lock lk(mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status result;
  if (log_ != nullptr && failed_.ok()) {
    result = flush_buffer(lk, true);
    if (result.ok() && options_.checkpoint_on_close && !options_.skip_load && !ops_.empty()) {
      closed_ = false;  // compact_locked checks that the store is open
      result = compact_locked(lk);
      closed_ = true;
    }
  }
  if (log_ != nullptr) {
    Status st = log_->close();
    if (result.ok() && failed_.ok()) result = st;
    log_.reset();
  }
  dir_lock_.lock.reset();
  return result;
}

}  // namespace chorus::docstore
