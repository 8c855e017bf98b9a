// Log: appends, group commit, segment rolls, trim, truncate, reset.
#include <algorithm>
#include <chrono>

#include "chorus/log/log.h"
#include "chorus/log/segment.h"

namespace chorus::log {

Status Log::check_writable() const {
  if (closed_) return Status::Unavailable("log " + dir_ + " is closed");
  if (!failed_.ok()) return failed_;
  if (options_.read_only) return Status::ReadOnly("log " + dir_ + " was opened read-only");
  return Status::Ok();
}

Status Log::fail(Status cause) {
  if (failed_.ok()) {
    failed_ = Status::Failed("log " + dir_ +
                             " stopped after an I/O error; nothing is acknowledged "
                             "after it: " +
                             cause.ToString());
  }
  end_sync_round();
  return failed_;
}

Status Log::health() const {
  std::lock_guard lock(mu_);
  return failed_;
}

Result<LogIndex> Log::append(ByteSpan record) { return append_batch(std::span(&record, 1)); }

Result<LogIndex> Log::append_batch(std::span<const Bytes> records) {
  std::vector<ByteSpan> spans(records.begin(), records.end());
  return append_batch(std::span<const ByteSpan>(spans));
}

Result<LogIndex> Log::append_batch(std::span<const ByteSpan> records) {
  uint64_t bytes = 0;
  for (const auto& r : records) {
    if (r.size() > options_.max_record_bytes) {
      return Status::TooLarge("record of " + std::to_string(r.size()) + " bytes is over the " +
                              std::to_string(options_.max_record_bytes) + "-byte maximum");
    }
    bytes += record_size(r.size());
  }
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  if (records.empty()) return last_index_;
  // Durable modes buffer the encoded records; the next sync leader writes the whole buffer with
  // one pwrite before its fdatasync. kNone (which promises the OS has the record on return) and
  // anything past the preallocated space (where ENOSPC is possible) are written right away, so
  // that a failure fails this call only.
  bool direct = false;
  while (true) {
    CHORUS_TRY(ensure_room(bytes, lock));
    const Segment& active = *segments_.back();
    direct =
        options_.durability == Durability::kNone || active.end + bytes > options_.segment_bytes;
    if (!direct || (!sync_running_ && !rolling_)) break;
    // A direct write must follow the buffered bytes; wait for the leader, then look again.
    durable_cv_.wait(lock, [&] { return !sync_running_ && !rolling_; });
  }
  Segment& seg = *segments_.back();
  if (direct) CHORUS_TRY(flush_pending(lock));  // does not wait: no leader, no roll
  Bytes& out = direct ? scratch_ : pending_;
  if (direct) out.clear();
  size_t start = out.size();
  out.reserve(start + bytes);
  size_t first_offset = seg.offsets.size();
  for (size_t i = 0; i < records.size(); ++i) {
    seg.offsets.push_back(static_cast<uint32_t>(seg.end + (out.size() - start)));
    uint8_t flags = i + 1 < records.size() ? kFlagBatchContinues : 0;
    encode_record(
        {(last_index_ + (i + 1)).value(), durable_index_.value(), 0, RecordType::kData, flags},
        records[i], out);
  }
  if (direct) {
    Status written = seg.file->write_at(seg.end, out);
    if (!written.ok()) {
      seg.offsets.resize(first_offset);
      if (!wipe_failed_write(seg, out.size()).ok()) return fail(written);
      return written;
    }
    written_end_ = seg.end + out.size();
  }
  seg.end += out.size() - start;
  stats_.records_appended += records.size();
  stats_.bytes_written += out.size() - start;
  last_index_ = last_index_ + records.size();
  LogIndex last = last_index_;
  if (options_.durability == Durability::kNone) return last;
  if (leader_waiting_) leader_cv_.notify_one();
  CHORUS_TRY(wait_durable(last, lock));
  return last;
}

// Nothing of a failed write may ever look like a record: zero what a short write left behind
// (only within the file: past its end nothing was written, and a wipe there would hit ENOSPC).
Status Log::wipe_failed_write(Segment& seg, uint64_t bytes) {
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, seg.file->size());
  return zero_range(*seg.file, seg.end, std::min(seg.end + bytes, std::max(size, seg.end)));
}

// Writes the buffered records of the active segment. Requires no sync leader in flight.
Status Log::flush_pending(std::unique_lock<std::mutex>& lock) {
  durable_cv_.wait(lock, [&] { return !sync_running_ && !rolling_; });
  if (pending_.empty()) return Status::Ok();
  Status st = segments_.back()->file->write_at(written_end_, pending_);
  if (!st.ok()) return fail(st);  // records already handed out indexes: cannot withdraw them
  written_end_ += pending_.size();
  pending_.clear();
  return Status::Ok();
}

// Group commit without a dedicated thread: the first appender that finds no sync running
// becomes the leader, writes and syncs everything buffered so far, and wakes everyone it covered.
// Followers wait on an atomic round counter, not on mu_: a covered follower returns without
// taking the mutex again, which keeps 64 appenders from convoying on it after every sync.
Status Log::wait_durable(LogIndex index, std::unique_lock<std::mutex>& lock) {
  const uint64_t epoch = epoch_;
  while (durable_index_ < index) {
    if (!failed_.ok()) return failed_;
    if (epoch != epoch_) return Status::Aborted("records were truncated before they were durable");
    if (sync_running_) {
      const uint64_t round = sync_rounds_.load(std::memory_order_acquire);
      lock.unlock();
      sync_rounds_.wait(round, std::memory_order_acquire);
      if (durable_published_.load(std::memory_order_acquire) >= index.value()) return Status::Ok();
      lock.lock();
      continue;
    }
    sync_running_ = true;
    if (options_.durability == Durability::kGroup && options_.group_delay_us > 0) {
      // Wait (bounded by the delay) until as many records are pending as the last group had:
      // steady concurrent appenders fill each group at once, a lone appender never waits.
      uint64_t want = std::min<uint64_t>(options_.group_max_records, last_group_size_);
      leader_waiting_ = true;
      leader_cv_.wait_for(lock, std::chrono::microseconds(options_.group_delay_us),
                          [&] { return last_index_ - durable_index_ >= want || closed_; });
      leader_waiting_ = false;
    }
    LogIndex target = last_index_;
    std::shared_ptr<Segment> seg = segments_.back();
    Bytes batch;
    batch.swap(pending_);
    pending_.swap(spare_);  // reuse the previous round's capacity
    uint64_t at = written_end_;
    lock.unlock();
    Status st = batch.empty() ? Status::Ok() : seg->file->write_at(at, batch);
    if (st.ok()) st = seg->file->sync();
    lock.lock();
    if (st.ok()) written_end_ = at + batch.size();
    batch.clear();
    spare_.swap(batch);
    sync_running_ = false;
    ++stats_.syncs;
    if (!st.ok()) return fail(st);
    if (target > durable_index_) last_group_size_ = target - durable_index_;
    set_durable(std::max(durable_index_, target));
  }
  return Status::Ok();
}

// Publishes durable_index_ to the followers waiting outside mu_ and wakes everyone waiting.
void Log::set_durable(LogIndex index) {
  durable_index_ = index;
  durable_published_.store(index.value(), std::memory_order_release);
  end_sync_round();
}

void Log::end_sync_round() {
  sync_rounds_.fetch_add(1, std::memory_order_release);
  sync_rounds_.notify_all();
  durable_cv_.notify_all();
}

Status Log::sync() {
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  return wait_durable(last_index_, lock);
}

Status Log::ensure_room(uint64_t bytes, std::unique_lock<std::mutex>& lock) {
  while (true) {
    if (rolling_) {  // a roll or reset waits for its prepared file (segments_ may be empty)
      durable_cv_.wait(lock, [&] { return !rolling_; });
      continue;
    }
    const Segment& seg = *segments_.back();
    if (seg.count() == 0 || seg.end + bytes <= options_.segment_bytes) return Status::Ok();
    if (!sync_running_ && !rolling_) return roll_segment(lock);
    // Another thread is syncing or rolling; look again once it is done (it may have rolled).
    durable_cv_.wait(lock, [&] { return !sync_running_ && !rolling_; });
  }
}

// Closes the active segment (synced, so only the last segment can ever have a torn tail) and
// starts the next: header written and synced in the prepared file, then rename + directory sync.
Status Log::roll_segment(std::unique_lock<std::mutex>& lock) {
  if (!segments_.empty()) {
    CHORUS_TRY(flush_pending(lock));
    if (Status st = segments_.back()->file->sync(); !st.ok()) return fail(st);
    set_durable(last_index_);
  }
  // Waiting for the prepared file releases mu_: keep other appenders from rolling meanwhile.
  rolling_ = true;
  Status st = start_segment(lock);
  rolling_ = false;
  durable_cv_.notify_all();
  return st;
}

Status Log::start_segment(std::unique_lock<std::mutex>& lock, bool supersedes) {
  auto prepared = take_prepared_file(lock);
  if (!prepared.ok()) {
    // Out of space (or closing) fails this call; any other error (EIO on the prepared file's
    // fdatasync, say) stops the log like every failed sync.
    StatusCode code = prepared.status().code();
    if (code == StatusCode::kNoSpace || code == StatusCode::kUnavailable) return prepared.status();
    return fail(prepared.status());
  }
  auto file = std::move(prepared).value();
  auto seg = std::make_shared<Segment>();
  seg->first = last_index_.next();
  seg->sequence = next_sequence_;
  seg->supersedes = supersedes;
  seg->name = segment_file_name(seg->first.value());
  std::byte header[kSegmentHeaderBytes];
  encode_segment_header({seg->sequence, seg->first.value(), supersedes ? kSegmentSupersedes : 0},
                        header);
  Status st = file->write_at(0, ByteSpan(header, sizeof(header)));
  if (st.ok()) st = file->sync();
  if (!st.ok()) return st.code() == StatusCode::kNoSpace ? st : fail(st);
  std::string tmp = file->path();
  std::string path = join_path(dir_, seg->name);
  CHORUS_TRY(fs_->rename(tmp, path));
  if (Status synced = fs_->sync_dir(dir_); !synced.ok()) return fail(synced);
  file.reset();
  // Reopened by its final name, so that errors name the segment, not the prepared file.
  auto reopened = fs_->open(path, OpenMode::kReadWrite);
  if (!reopened.ok()) return fail(reopened.status());
  seg->file = std::move(reopened).value();
  written_end_ = seg->end;
  ++next_sequence_;
  ++stats_.segments_rolled;
  segments_.push_back(std::move(seg));
  prepare_wanted_ = true;
  prealloc_cv_.notify_all();
  return Status::Ok();
}

Result<std::unique_ptr<File>> Log::prepare_file(const std::string& path) const {
  CHORUS_ASSIGN_OR_RETURN(auto file, fs_->open(path, OpenMode::kCreate));
  CHORUS_TRY(file->truncate(0));
  CHORUS_TRY(file->preallocate(options_.segment_bytes));
  CHORUS_TRY(file->sync());
  return file;
}

Result<std::unique_ptr<File>> Log::take_prepared_file(std::unique_lock<std::mutex>& lock) {
  std::string path = join_path(dir_, kPreparedFileName);
  if (!prealloc_thread_.joinable()) return prepare_file(path);
  prealloc_cv_.wait(lock, [&] { return prepared_ || !prealloc_error_.ok() || prealloc_stop_; });
  if (prepared_) return std::move(prepared_);
  if (prealloc_stop_) return Status::Unavailable("log " + dir_ + " is closing");
  Status st = std::move(prealloc_error_);
  prealloc_error_ = Status();
  prepare_wanted_ = true;  // try again next time (e.g. after space was freed)
  prealloc_cv_.notify_all();
  return st;
}

void Log::preallocator_loop() {
  std::unique_lock lock(mu_);
  std::string path = join_path(dir_, kPreparedFileName);
  while (true) {
    prealloc_cv_.wait(lock, [&] { return prepare_wanted_ || prealloc_stop_; });
    if (prealloc_stop_) return;
    prepare_wanted_ = false;
    lock.unlock();
    auto file = prepare_file(path);
    lock.lock();
    if (file.ok()) {
      prepared_ = std::move(file).value();
    } else {
      prealloc_error_ = file.status();
    }
    prealloc_cv_.notify_all();
  }
}

Status Log::remove_segment_file(const std::string& name) {
  CHORUS_TRY(fs_->remove_file(join_path(dir_, name)));
  // One removal durable at a time, so a crash leaves a contiguous run of segments.
  if (Status st = fs_->sync_dir(dir_); !st.ok()) return fail(st);
  return Status::Ok();
}

Status Log::trim_prefix(LogIndex upto) {
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  while (segments_.size() > 1 && segments_.front()->last() <= upto) {
    CHORUS_TRY(remove_segment_file(segments_.front()->name));
    segments_.erase(segments_.begin());
    ++epoch_;
  }
  first_index_ = segments_.front()->first;
  return Status::Ok();
}

Status Log::truncate_suffix(LogIndex from) {
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  if (from > last_index_) return Status::Ok();
  if (from < first_index_) {
    return Status::InvalidArgument("truncate_suffix(" + std::to_string(from.value()) +
                                   ") is below the first index; use reset()");
  }
  CHORUS_TRY(flush_pending(lock));
  ++epoch_;
  // From the back, so that a crash part-way leaves a contiguous prefix.
  while (segments_.size() > 1 && segments_.back()->first >= from) {
    CHORUS_TRY(remove_segment_file(segments_.back()->name));
    segments_.pop_back();
  }
  Segment& seg = *segments_.back();
  if (seg.contains(from)) {
    // Appended, not overwritten in place: a crash tears an append only at the tail (where
    // recovery cuts it and the old records stand), while a torn in-place overwrite would leave
    // damaged records between valid ones.
    Bytes marker;
    uint64_t claim = std::min(durable_index_, from.prev()).value();
    encode_record({from.value(), claim, 0, RecordType::kTruncate, 0}, {}, marker);
    Status st = seg.file->write_at(seg.end, marker);
    if (!st.ok()) return wipe_failed_write(seg, marker.size()).ok() ? st : fail(st);
    seg.end += marker.size();
    seg.offsets.resize(from - seg.first);
  }
  written_end_ = seg.end;
  last_index_ = from.prev();
  set_durable(std::min(durable_index_, last_index_));
  if (options_.durability == Durability::kNone) return Status::Ok();
  if (Status st = seg.file->sync(); !st.ok()) return fail(st);  // no leader runs: we hold mu_
  ++stats_.syncs;
  set_durable(last_index_);
  return Status::Ok();
}

// Crash-safe: the new segment (flagged kSegmentSupersedes) is durable before any old one is
// removed, so a crash in between reopens at `next`, never at an old index.
Status Log::reset(LogIndex next) {
  if (next.value() == 0) return Status::InvalidArgument("reset: the next index must be >= 1");
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  CHORUS_TRY(flush_pending(lock));
  ++epoch_;
  std::vector<std::shared_ptr<Segment>> old;
  old.swap(segments_);
  const LogIndex old_last = last_index_, old_durable = durable_index_;
  last_index_ = next.prev();
  set_durable(next.prev());
  rolling_ = true;
  Status st = start_segment(lock, /*supersedes=*/true);
  rolling_ = false;
  durable_cv_.notify_all();
  if (!st.ok()) {
    if (segments_.empty()) {  // nothing changed on disk
      segments_.swap(old);
      last_index_ = old_last;
      set_durable(old_durable);
    }
    return st;
  }
  first_index_ = next;
  // The old segments are void now; removing them is tidying (the next open removes leftovers).
  const std::string& fresh = segments_.back()->name;
  bool removed = false;
  for (const auto& seg : old) {
    if (seg->name == fresh) continue;  // replaced by the rename
    if (fs_->remove_file(join_path(dir_, seg->name)).ok()) removed = true;
  }
  if (removed) (void)fs_->sync_dir(dir_);
  return Status::Ok();
}

size_t Log::Txn::append(ByteSpan record) {
  records_.emplace_back(record.begin(), record.end());
  return records_.size() - 1;
}

Result<LogIndex> Log::Txn::commit() {
  auto last = log_->append_batch(std::span<const Bytes>(records_));
  records_.clear();
  return last;
}

}  // namespace chorus::log
