// Log: open, recovery, close, destroy. Recovery rules are explained in docs/log.md.
#include <algorithm>

#include "chorus/log/log.h"
#include "chorus/log/segment.h"
#include "chorus/log/segment_scanner.h"

namespace chorus::log {
namespace {

constexpr std::string_view kLockName = "LOCK";

Status corruption(const std::string& file, uint64_t offset, std::string_view what) {
  return Status::Corruption(file + " offset " + std::to_string(offset) + ": " + std::string(what));
}

}  // namespace

Log::Log(std::string dir, Options options, FileSystem* fs)
    : dir_(std::move(dir)), options_(options), fs_(fs) {}

Log::~Log() {
  if (!closed_) (void)close();
}

Result<std::unique_ptr<Log>> Log::open(const std::string& dir, Options options) {
  FileSystem* fs = options.fs != nullptr ? options.fs : &FileSystem::posix();
  if (options.segment_bytes < (64u << 10) || options.segment_bytes > (1ull << 30)) {
    return Status::InvalidArgument("segment_bytes must be between 64 KiB and 1 GiB");
  }
  if (options.max_record_bytes == 0 || options.max_record_bytes > kMaxRecordPayloadBytes) {
    return Status::InvalidArgument("max_record_bytes must be between 1 and 1 GiB");
  }
  if (options.first_index.value() == 0) return Status::InvalidArgument("first_index must be >= 1");
  std::unique_ptr<Log> log(new Log(dir, options, fs));
  if (options.read_only) {
    CHORUS_ASSIGN_OR_RETURN(bool present, fs->exists(dir));
    if (!present) return Status::NotFound("log directory " + dir + " does not exist");
  } else {
    CHORUS_TRY(create_dirs(*fs, dir));
    auto lock = fs->lock_file(join_path(dir, kLockName));
    if (!lock.ok()) return lock.status().Annotate("log " + dir + " is open in another writer");
    log->dir_lock_ = std::move(lock).value();
  }
  if (Status st = log->recover(); !st.ok()) {
    log->closed_ = true;  // nothing to seal: the destructor must not touch a half-opened log
    return st;
  }
  if (!options.read_only && options.background_preallocate) {
    log->prepare_wanted_ = true;
    log->prealloc_thread_ = std::thread([raw = log.get()] { raw->preallocator_loop(); });
  }
  if (!options.read_only && options.durability == Durability::kGroup) {
    log->syncer_thread_ = std::thread([raw = log.get()] { raw->syncer_loop(); });
  }
  return log;
}

Status Log::recover() {
  CHORUS_ASSIGN_OR_RETURN(auto names, fs_->list_dir(dir_));
  for (const auto& name : names) {
    if (auto first = parse_segment_file_name(name)) {
      auto seg = std::make_shared<Segment>();
      seg->name = name;
      seg->first = LogIndex(*first);
      segments_.push_back(std::move(seg));
    } else if (name.ends_with(kPreparedSuffix) && !options_.read_only) {
      // An unused preallocated file: it holds no records.
      CHORUS_TRY(fs_->remove_file(join_path(dir_, name)));
    } else if (name.ends_with(kPoolSuffix) && !options_.read_only) {
      CHORUS_TRY(adopt_pool_file(name));
    }
  }
  for (auto& seg : segments_) {
    CHORUS_TRY(read_segment_header(*seg));
    next_sequence_ = std::max(next_sequence_, seg->sequence + 1);
  }
  // A reset() that crashed after creating its new segment: everything older is void.
  uint64_t void_below = 0;
  for (const auto& seg : segments_) {
    if (seg->supersedes) void_below = std::max(void_below, seg->sequence);
  }
  std::vector<std::string> voided;
  std::erase_if(segments_, [&](const auto& seg) {
    if (seg->sequence >= void_below) return false;
    voided.push_back(seg->name);
    return true;
  });
  std::sort(segments_.begin(), segments_.end(),
            [](const auto& a, const auto& b) { return a->first < b->first; });
  // Verify everything before changing anything: a failed open leaves the directory as it was.
  TailRepair repair;
  for (size_t i = 0; i < segments_.size(); ++i) {
    Segment& seg = *segments_[i];
    uint64_t limit = 0;  // the last segment ends where its records do
    if (i + 1 < segments_.size()) {
      limit = segments_[i + 1]->prev_end;
      if (limit == 0) {
        return corruption(join_path(dir_, segments_[i + 1]->name), 0,
                          "segment header does not say where the previous segment ends");
      }
    }
    CHORUS_TRY(recover_segment(seg, limit, repair));
    if (i > 0 && seg.first != segments_[i - 1]->last().next()) {
      return Status::Corruption(
          join_path(dir_, seg.name) + ": starts at index " + std::to_string(seg.first.value()) +
          " but the previous segment ends at " + std::to_string(segments_[i - 1]->last().value()));
    }
  }
  if (!options_.read_only) {
    for (const auto& name : voided) CHORUS_TRY(fs_->remove_file(join_path(dir_, name)));
    if (!voided.empty()) CHORUS_TRY(fs_->sync_dir(dir_));
    if (repair.to > repair.from) {
      CHORUS_TRY(zero_range(*segments_.back()->file, repair.from, repair.to));
      CHORUS_TRY(segments_.back()->file->sync());
    }
  }
  if (segments_.empty()) {
    if (options_.read_only) {
      first_index_ = options_.first_index;
      last_index_ = first_index_.prev();
      set_durable(last_index_);
      return Status::Ok();
    }
    last_index_ = durable_index_ = options_.first_index.prev();
    std::unique_lock lock(mu_);
    CHORUS_TRY(roll_segment(lock));
  }
  first_index_ = segments_.front()->first;
  last_index_ = segments_.back()->last();
  if (!options_.read_only) {
    // Records recovered from the page cache after a process crash may not be on disk yet; make
    // them so before any new record claims they are durable.
    CHORUS_TRY(segments_.back()->file->sync());
  }
  set_durable(last_index_);
  written_end_ = segments_.back()->end;
  check_invariants();
  return Status::Ok();
}

Status Log::read_segment_header(Segment& seg) {
  const std::string path = join_path(dir_, seg.name);
  CHORUS_ASSIGN_OR_RETURN(
      seg.file, fs_->open(path, options_.read_only ? OpenMode::kReadOnly : OpenMode::kReadWrite));
  std::byte hb[kSegmentHeaderBytes];
  CHORUS_ASSIGN_OR_RETURN(size_t n, seg.file->read_at(0, hb));
  auto header = n == kSegmentHeaderBytes ? decode_segment_header(hb) : std::nullopt;
  if (!header && n == kSegmentHeaderBytes && load_le<uint64_t>(hb) == kSegmentMagic &&
      load_le<uint32_t>(hb + 8) != kFormatVersion) {
    return corruption(path, 0,
                      "segment format version " + std::to_string(load_le<uint32_t>(hb + 8)) +
                          " is not readable by this build (it reads version " +
                          std::to_string(kFormatVersion) + ")");
  }
  if (!header) return corruption(path, 0, "bad segment header");
  if (header->first_index != seg.first.value()) {
    return corruption(path, 0,
                      "segment header names first index " + std::to_string(header->first_index));
  }
  seg.sequence = header->sequence;
  seg.supersedes = (header->flags & kSegmentSupersedes) != 0;
  seg.prev_end = header->prev_end;
  return Status::Ok();
}

// A file in the recycling pool: kept for reuse when it has the segment size and the pool has
// room, else removed. Either way its header's sequence number (the salt of the records it still
// holds) is never used again.
Status Log::adopt_pool_file(const std::string& name) {
  const std::string path = join_path(dir_, name);
  CHORUS_ASSIGN_OR_RETURN(auto file, fs_->open(path, OpenMode::kReadOnly));
  std::byte hb[kSegmentHeaderBytes];
  CHORUS_ASSIGN_OR_RETURN(size_t n, file->read_at(0, hb));
  auto header = n == kSegmentHeaderBytes ? decode_segment_header(hb) : std::nullopt;
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, file->size());
  if (header) next_sequence_ = std::max(next_sequence_, header->sequence + 1);
  if (header && size == options_.segment_bytes && pool_.size() < options_.recycle_segments) {
    pool_.push_back(name);
    return Status::Ok();
  }
  return fs_->remove_file(path);
}

// Scans one segment (its header already read), rebuilding its offset index. A closed segment
// (`limit` > 0, from the next segment's header) must hold valid records exactly up to `limit`;
// whatever follows is left over from the file's earlier use. The last segment ends at its first
// record that fails. Changes nothing on disk: what the last segment needs zeroed (a torn tail, a
// seal, leftovers) is returned in `repair`.
Status Log::recover_segment(Segment& seg, uint64_t limit, TailRepair& repair) {
  const std::string path = join_path(dir_, seg.name);
  const bool is_last = limit == 0;
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, seg.file->size());
  if (!is_last && (limit < kSegmentHeaderBytes || limit > size)) {
    return corruption(path, size,
                      "the next segment says this one ends at offset " + std::to_string(limit));
  }
  const uint64_t scan_end = is_last ? size : limit;
  const uint64_t salt = seg.sequence;
  SegmentScanner scan(*seg.file, size, std::max<size_t>(options_.read_buffer_bytes, 4096));
  uint64_t pos = kSegmentHeaderBytes;
  uint64_t max_claim = 0;
  constexpr size_t kNoBatch = SIZE_MAX;
  size_t open_batch = kNoBatch;  // first record of a batch whose end has not been seen
  std::optional<uint64_t> seal_pos;
  bool bad = false;
  while (pos + kRecordHeaderBytes <= scan_end) {
    ByteSpan h = scan.get(pos, kRecordHeaderBytes);
    CHORUS_TRY(scan.status());
    if (is_last && all_zero(h)) break;
    auto rh = decode_record_header(h, salt);
    if (!rh || seal_pos || pos + record_size(rh->length) > scan_end) {
      bad = true;
      break;
    }
    ByteSpan rec = scan.get(pos, record_size(rh->length));
    CHORUS_TRY(scan.status());
    LogIndex expected = seg.first + seg.count();
    bool index_ok = rh->type == RecordType::kData ? rh->index == expected.value()
                    : rh->type == RecordType::kSeal
                        ? rh->index == expected.prev().value()
                        : rh->index >= seg.first.value() && rh->index <= expected.value();
    if (!decode_record(rec, salt) || !index_ok) {
      bad = true;
      break;
    }
    max_claim = std::max(max_claim, rh->synced_index);
    if (rh->type == RecordType::kTruncate) {
      // Everything from its index on is void, and so is any claim about it.
      seg.offsets.resize(rh->index - seg.first.value());
      max_claim = std::min(max_claim, rh->index - 1);
      open_batch = kNoBatch;
    } else if (rh->type == RecordType::kSeal) {
      seal_pos = pos;
    } else {
      if (open_batch == kNoBatch && (rh->flags & kFlagBatchContinues)) {
        open_batch = seg.offsets.size();
      }
      if (!(rh->flags & kFlagBatchContinues)) open_batch = kNoBatch;
      seg.offsets.push_back(static_cast<uint32_t>(pos));
    }
    pos += record_size(rh->length);
  }
  if (!is_last) {
    if (bad || pos != limit || seal_pos)
      return corruption(path, pos, "bad record in a closed segment");
    if (open_batch != kNoBatch) {
      return corruption(path, pos, "unfinished batch in a closed segment");
    }
    seg.end = pos;
    return Status::Ok();
  }
  uint64_t tail_end = scan.nonzero_end(pos);
  CHORUS_TRY(scan.status());
  LogIndex expected = seg.first + seg.count();
  if (bad || tail_end > pos) {
    if (max_claim >= expected.value()) {
      return corruption(path, pos,
                        "bad record at index " + std::to_string(expected.value()) +
                            ", which a later record says was durable");
    }
    // Is there proof further on that this part was durable: a seal, or a record claiming it? And
    // after a seal, no record of this segment may follow at all. Records of the file's earlier
    // use fail under this segment's salt, so they prove nothing.
    for (uint64_t at = seal_pos ? pos : pos + kRecordAlign; at + kRecordHeaderBytes <= tail_end;
         at += kRecordAlign) {
      auto rh = decode_record_header(scan.get(at, kRecordHeaderBytes), salt);
      if (!rh ||
          (!seal_pos && rh->type != RecordType::kSeal && rh->synced_index < expected.value())) {
        continue;
      }
      if (decode_record(scan.get(at, record_size(rh->length)), salt)) {
        return corruption(path, pos,
                          seal_pos ? "data after the seal of a cleanly closed log"
                                   : "bad record followed by a record at offset " +
                                         std::to_string(at) + " that proves it was durable");
      }
    }
    CHORUS_TRY(scan.status());
  }
  if (open_batch != kNoBatch) {
    // The batch's last record never reached the disk: the batch was never acknowledged.
    if (max_claim >= (seg.first + open_batch).value()) {
      return corruption(path, seg.offsets[open_batch], "claimed-durable batch is incomplete");
    }
    recovery_.records_cut += seg.count() - open_batch;
    pos = seg.offsets[open_batch];
    seg.offsets.resize(open_batch);
    bad = true;
  }
  seg.end = pos;
  if (seal_pos) {
    // Erased before any append, so that a seal only ever ends a cleanly closed log.
    recovery_.clean_shutdown = true;
    seg.end = *seal_pos;
  } else if (bad || tail_end > pos) {
    recovery_.torn_tail_cut = true;
    recovery_.torn_tail_offset = pos;
  }
  // Zeroed up to the last non-zero byte: a torn write, the seal, or the file's earlier contents.
  repair = {seg.end, std::max(tail_end, pos)};
  return Status::Ok();
}

Status Log::zero_range(File& file, uint64_t from, uint64_t to) {
  static const Bytes kZeros(64 << 10);
  for (uint64_t at = from; at < to;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), to - at));
    CHORUS_TRY(file.write_at(at, ByteSpan(kZeros.data(), n)));
    at += n;
  }
  return Status::Ok();
}

Status Log::close() {
  std::unique_lock lock(mu_);
  if (closed_) return Status::Ok();
  Status result;
  if (!options_.read_only && failed_.ok() && !segments_.empty()) {
    result = flush_pending(lock);  // may wait for a round, and another thread may roll meanwhile
    Segment& seg = *segments_.back();
    if (result.ok()) result = seg.file->sync();
    if (result.ok()) set_durable(last_index_);  // appenders still waiting return ok
    if (result.ok() && last_index_.value() > 0) {
      Bytes seal;
      encode_record({last_index_.value(), last_index_.value(), 0, RecordType::kSeal, 0}, {}, seal,
                    seg.sequence);
      result = seg.file->write_at(seg.end, seal);
      if (result.ok()) result = seg.file->sync();
    }
  }
  closed_ = true;
  wake_all_waiters();  // any still waiting give up: kUnavailable
  prealloc_stop_ = true;
  prealloc_cv_.notify_all();
  syncer_stop_ = true;
  syncer_cv_.notify_all();
  lock.unlock();
  if (prealloc_thread_.joinable()) prealloc_thread_.join();
  if (syncer_thread_.joinable()) syncer_thread_.join();
  lock.lock();
  if (prepared_) {
    std::string path = prepared_->path();
    prepared_.reset();
    // Best effort: the next open removes it anyway. A recycled file stays in the pool.
    if (!path.ends_with(kPoolSuffix)) (void)fs_->remove_file(path);
  }
  dir_lock_.reset();
  return result;
}

Status Log::destroy(const std::string& dir, FileSystem* fs) {
  if (fs == nullptr) fs = &FileSystem::posix();
  CHORUS_ASSIGN_OR_RETURN(bool present, fs->exists(dir));
  if (!present) return Status::Ok();
  CHORUS_ASSIGN_OR_RETURN(auto names, fs->list_dir(dir));
  for (const auto& name : names) CHORUS_TRY(fs->remove_file(join_path(dir, name)));
  CHORUS_TRY(fs->remove_dir(dir));
  return fs->sync_dir(parent_dir(dir));
}

}  // namespace chorus::log
