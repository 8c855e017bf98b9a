// Log: appends, group commit, segment rolls, trim, truncate, reset.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "chorus/log/log.h"
#include "chorus/log/segment.h"

namespace chorus::log {
namespace {

// Waits for a round's end with a bare futex: a round lasts an fdatasync, and std::atomic::wait
// would first spin and call sched_yield four times, which with dozens of waiters on two cores
// costs more context switches than the sleep itself. Spurious returns are fine: callers recheck.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
void sleep_while(const std::atomic<uint32_t>& word, uint32_t value) {
  syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, value, nullptr, nullptr, 0);
}
void wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

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
  wake_all_waiters();
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
  // Durable modes buffer the encoded records; the next sync round writes the whole buffer with
  // one pwrite before its fdatasync. kNone (which promises the OS has the record on return) and
  // anything past the preallocated space (where ENOSPC is possible) are written right away, so
  // that a failure fails this call only.
  const bool group = options_.durability == Durability::kGroup;
  bool direct = false;
  while (true) {
    CHORUS_TRY(ensure_room(bytes, lock));
    const Segment& active = *segments_.back();
    direct =
        options_.durability == Durability::kNone || active.end + bytes > options_.segment_bytes;
    const uint64_t queued = group ? queued_records() : 0;
    if (direct && (sync_running_ || rolling_)) {
      CHORUS_TRY(wait_sync_idle(lock));  // a direct write must follow the buffered bytes
    } else if (!direct && queued > 0 && queued + records.size() > options_.group_max_records) {
      durable_cv_.wait(lock);  // until the next round takes the queue
      CHORUS_TRY(check_writable());
    } else {
      break;
    }
  }
  Segment& seg = *segments_.back();
  if (direct) CHORUS_TRY(flush_pending(lock));  // does not wait: no round, no roll
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
        records[i], out, seg.sequence);
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
  if (group) syncer_cv_.notify_one();
  CHORUS_TRY(wait_durable(last, lock));
  return last;
}

// Nothing of a failed write may ever look like a record: zero what a short write left behind
// (only within the file: past its end nothing was written, and a wipe there would hit ENOSPC).
Status Log::wipe_failed_write(Segment& seg, uint64_t bytes) {
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, seg.file->size());
  return zero_range(*seg.file, seg.end, std::min(seg.end + bytes, std::max(size, seg.end)));
}

// Writes the buffered records of the active segment (after the round in flight, if any).
Status Log::flush_pending(std::unique_lock<std::mutex>& lock) {
  CHORUS_TRY(wait_sync_idle(lock));
  if (pending_.empty()) return Status::Ok();
  Status st = segments_.back()->file->write_at(written_end_, pending_);
  if (!st.ok()) return fail(st);  // records already handed out indexes: cannot withdraw them
  written_end_ += pending_.size();
  pending_.clear();
  return Status::Ok();
}

// Waits until no sync round is in flight and no roll waits for its file. The syncer starts no
// round while anyone waits here, so back-to-back rounds cannot starve a roll, a truncation, a
// direct write or a reader of buffered records. Fails if the log failed or closed meanwhile.
Status Log::wait_sync_idle(std::unique_lock<std::mutex>& lock) {
  if (!sync_running_ && !rolling_) return Status::Ok();
  ++idle_waiters_;
  durable_cv_.wait(lock, [&] { return !sync_running_ && !rolling_; });
  if (--idle_waiters_ == 0) syncer_cv_.notify_one();
  return check_writable();
}

// Returns once `index` is durable. In kAlways (and for kNone's sync()) the caller that finds no
// round running leads one itself: no thread hand-off. Every other waiter sleeps without mu_ until
// the round that covers its record ends; a covered waiter then returns without taking mu_ again,
// which keeps 64 appenders from convoying on it after every round.
Status Log::wait_durable(LogIndex index, std::unique_lock<std::mutex>& lock) {
  const uint64_t epoch = epoch_;
  while (durable_index_ < index) {
    if (!failed_.ok()) return failed_;
    if (epoch != epoch_) return Status::Aborted("records were truncated before they were durable");
    if (closed_) return Status::Unavailable("log " + dir_ + " closed before it was durable");
    if (options_.durability != Durability::kGroup && !sync_running_) {
      CHORUS_TRY(sync_round(lock));
      set_durable(round_target_);
      continue;
    }
    // The round in flight covers `index`, or else the next one will (it takes every record).
    const uint64_t round =
        sync_running_ && index <= round_target_ ? rounds_started_ : rounds_started_ + 1;
    std::atomic<uint32_t>& end = round_ends_[round % 2];
    const uint32_t seen = end.load(std::memory_order_relaxed);  // bumps happen under mu_
    lock.unlock();
    sleep_while(end, seen);
    if (durable_published_.load(std::memory_order_acquire) >= index.value()) return Status::Ok();
    lock.lock();
  }
  return Status::Ok();
}

// One group commit: writes every buffered record with one pwrite, then fdatasyncs the active
// segment, with mu_ released meanwhile. On success the caller makes round_target_ durable.
Status Log::sync_round(std::unique_lock<std::mutex>& lock) {
  CHORUS_ASSERT(!sync_running_ && !rolling_);
  sync_running_ = true;
  ++rounds_started_;
  round_target_ = last_index_;
  std::shared_ptr<Segment> seg = segments_.back();
  Bytes batch;
  batch.swap(pending_);
  pending_.swap(spare_);  // reuse the previous round's capacity
  const uint64_t at = written_end_;
  if (options_.durability == Durability::kGroup) durable_cv_.notify_all();  // the queue is empty
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
  CHORUS_ASSERT(durable_index_ <= round_target_);  // nothing else moves it while a round runs
  return Status::Ok();
}

// kGroup: runs rounds back to back while records wait, so that the records queued during one
// fdatasync go to the disk as soon as it returns. The appenders of a finished round are woken
// outside mu_, so that they queue the next round's records while the syncer wakes the others.
void Log::syncer_loop() {
  std::unique_lock lock(mu_);
  while (true) {
    syncer_cv_.wait(lock, [&] { return syncer_stop_ || syncer_has_work(); });
    if (syncer_stop_) return;
    if (!sync_round(lock).ok()) continue;  // fail() woke everyone
    publish_durable(round_target_);
    std::atomic<uint32_t>& end = round_ends_[rounds_started_ % 2];
    end.fetch_add(1, std::memory_order_release);
    durable_cv_.notify_all();
    lock.unlock();
    wake_all(end);
    lock.lock();
  }
}

bool Log::syncer_has_work() const {
  return durable_index_ < last_index_ && failed_.ok() && !closed_ && !sync_running_ && !rolling_ &&
         idle_waiters_ == 0;
}

// Records that no sync round has taken yet.
uint64_t Log::queued_records() const {
  return last_index_ - (sync_running_ ? round_target_ : durable_index_);
}

void Log::set_durable(LogIndex index) {
  publish_durable(index);
  wake_all_waiters();
}

// Copies durable_index_ for the waiters that read it outside mu_.
void Log::publish_durable(LogIndex index) {
  durable_index_ = index;
  durable_published_.store(index.value(), std::memory_order_release);
}

void Log::wake_all_waiters() {
  for (std::atomic<uint32_t>& end : round_ends_) {
    end.fetch_add(1, std::memory_order_release);
    wake_all(end);
  }
  durable_cv_.notify_all();
}

Status Log::sync() {
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  return wait_durable(last_index_, lock);
}

Status Log::ensure_room(uint64_t bytes, std::unique_lock<std::mutex>& lock) {
  while (true) {
    CHORUS_TRY(check_writable());  // it may have failed or closed while this waited for a roll
    if (rolling_) {  // a roll or reset waits for its prepared file (segments_ may be empty)
      durable_cv_.wait(lock, [&] { return !rolling_; });
      continue;
    }
    const Segment& seg = *segments_.back();
    if (seg.count() == 0 || seg.end + bytes <= options_.segment_bytes) return Status::Ok();
    if (!sync_running_ && !rolling_) return roll_segment(lock);
    CHORUS_TRY(wait_sync_idle(lock));  // then look again: another thread may have rolled
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
  syncer_cv_.notify_one();
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
  // The records of the segment it closes end here (it was synced before this roll).
  seg->prev_end = segments_.empty() ? 0 : segments_.back()->end;
  std::byte header[kSegmentHeaderBytes];
  encode_segment_header(
      {seg->sequence, seg->first.value(), supersedes ? kSegmentSupersedes : 0, seg->prev_end},
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

// A file for the next segment: one from the recycling pool (reused as is: its old records fail
// under the new segment's salt), else a fresh zero-filled one. Releases mu_ for the I/O.
Result<std::unique_ptr<File>> Log::next_segment_file(std::unique_lock<std::mutex>& lock) {
  while (!pool_.empty()) {
    std::string path = join_path(dir_, pool_.back());
    pool_.pop_back();
    lock.unlock();
    auto file = fs_->open(path, OpenMode::kReadWrite);
    lock.lock();
    if (file.ok()) {
      ++stats_.segments_recycled;
      return file;
    }
    (void)fs_->remove_file(path);  // unusable; a fresh file will do
  }
  lock.unlock();
  auto file = prepare_file(join_path(dir_, kPreparedFileName));
  lock.lock();
  return file;
}

Result<std::unique_ptr<File>> Log::take_prepared_file(std::unique_lock<std::mutex>& lock) {
  if (!prealloc_thread_.joinable()) return next_segment_file(lock);
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
  while (true) {
    prealloc_cv_.wait(lock, [&] { return prepare_wanted_ || prealloc_stop_; });
    if (prealloc_stop_) return;
    prepare_wanted_ = false;
    auto file = next_segment_file(lock);
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

// Takes a trimmed segment out of the log: into the recycling pool when it has room (a rename,
// durable before the next one, like a removal), else removed.
Status Log::retire_segment(const Segment& seg) {
  auto size = seg.file->size();
  if (pool_.size() >= options_.recycle_segments || !size.ok() || *size != options_.segment_bytes) {
    return remove_segment_file(seg.name);
  }
  std::string name = pool_file_name(seg.sequence);
  CHORUS_TRY(fs_->rename(join_path(dir_, seg.name), join_path(dir_, name)));
  if (Status st = fs_->sync_dir(dir_); !st.ok()) return fail(st);
  pool_.push_back(std::move(name));
  return Status::Ok();
}

Status Log::trim_prefix(LogIndex upto) {
  std::unique_lock lock(mu_);
  CHORUS_TRY(check_writable());
  while (segments_.size() > 1 && segments_.front()->last() <= upto) {
    CHORUS_TRY(retire_segment(*segments_.front()));
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
    encode_record({from.value(), claim, 0, RecordType::kTruncate, 0}, {}, marker, seg.sequence);
    Status st = seg.file->write_at(seg.end, marker);
    if (!st.ok()) return wipe_failed_write(seg, marker.size()).ok() ? st : fail(st);
    seg.end += marker.size();
    seg.offsets.resize(from - seg.first);
  }
  written_end_ = seg.end;
  last_index_ = from.prev();
  set_durable(std::min(durable_index_, last_index_));
  if (options_.durability == Durability::kNone) return Status::Ok();
  if (Status st = seg.file->sync(); !st.ok()) return fail(st);  // no round runs: we hold mu_
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
  syncer_cv_.notify_one();
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
