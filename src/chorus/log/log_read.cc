// Log: reads, the streaming iterator, and introspection.
#include <algorithm>

#include "chorus/log/log.h"
#include "chorus/log/segment.h"

namespace chorus::log {

std::optional<Log::Location> Log::locate(LogIndex index) const {
  if (index < first_index_ || index > last_index_ || segments_.empty()) return std::nullopt;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                             [](LogIndex i, const auto& seg) { return i < seg->first; });
  CHORUS_ASSERT(it != segments_.begin());
  const auto& seg = *std::prev(it);
  if (!seg->contains(index)) return std::nullopt;
  size_t k = index - seg->first;
  return Location{seg, seg->offsets[k], seg->record_end(k)};
}

// Readers of records still in the group-commit buffer write the buffer out first. This changes
// no visible state, so it is allowed from const readers.
Status Log::ensure_written(const Location& loc, std::unique_lock<std::mutex>& lock) const {
  if (loc.segment != segments_.back() || loc.end <= written_end_) return Status::Ok();
  return const_cast<Log*>(this)->flush_pending(lock);
}

static Status bad_record(const std::string& file, uint64_t offset, LogIndex index) {
  return Status::Corruption(file + " offset " + std::to_string(offset) + ": record " +
                            std::to_string(index.value()) + " fails its checksum");
}

Result<Bytes> Log::read(LogIndex index) const {
  std::unique_lock lock(mu_);
  auto loc = locate(index);
  if (!loc) {
    return Status::NotFound("index " + std::to_string(index.value()) + " is outside [" +
                            std::to_string(first_index_.value()) + ", " +
                            std::to_string(last_index_.value()) + "]");
  }
  CHORUS_TRY(ensure_written(*loc, lock));
  uint64_t epoch = epoch_;
  lock.unlock();
  Bytes rec(loc->end - loc->offset);
  CHORUS_ASSIGN_OR_RETURN(size_t n, loc->segment->file->read_at(loc->offset, rec));
  auto h = decode_record(ByteSpan(rec.data(), n), loc->segment->sequence);
  if (!h || h->index != index.value()) {
    lock.lock();
    if (epoch != epoch_) return Status::Aborted("record removed while being read");
    return bad_record(loc->segment->name, loc->offset, index);
  }
  auto payload = ByteSpan(rec).subspan(kRecordHeaderBytes, h->length);
  return Bytes(payload.begin(), payload.end());
}

Result<Bytes> Log::head() const {
  LogIndex last = last_index();
  if (last < first_index()) return Status::NotFound("log " + dir_ + " is empty");
  return read(last);
}

LogIndex Log::first_index() const {
  std::lock_guard lock(mu_);
  return first_index_;
}

LogIndex Log::last_index() const {
  std::lock_guard lock(mu_);
  return last_index_;
}

LogIndex Log::durable_index() const {
  std::lock_guard lock(mu_);
  return durable_index_;
}

LogStats Log::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::vector<SegmentInfo> Log::segments() const {
  std::lock_guard lock(mu_);
  std::vector<SegmentInfo> out;
  for (const auto& seg : segments_) {
    auto size = seg->file->size();
    out.push_back(
        {seg->name, seg->first, seg->last(), seg->count(), seg->end, size.ok() ? *size : 0});
  }
  return out;
}

void Log::check_invariants() const {
  std::lock_guard lock(mu_);
  CHORUS_ASSERT(durable_index_ <= last_index_);
  CHORUS_ASSERT(durable_published_.load() == durable_index_.value());
  CHORUS_ASSERT(!sync_running_ || round_target_ <= last_index_);
  if (segments_.empty()) return;
  CHORUS_ASSERT(first_index_ == segments_.front()->first);
  CHORUS_ASSERT(last_index_ == segments_.back()->last());
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& seg = *segments_[i];
    if (i > 0) CHORUS_ASSERT(seg.first == segments_[i - 1]->last().next(), seg.name);
    uint64_t prev = kSegmentHeaderBytes;
    for (uint32_t off : seg.offsets) {
      CHORUS_ASSERT(off >= prev && off % kRecordAlign == 0, seg.name, " offset ", off);
      prev = off + record_size(0);
    }
    CHORUS_ASSERT(seg.end >= prev, seg.name);
  }
}

Iterator::Iterator(const Log* log, LogIndex from, LogIndex to) : log_(log), next_(from), to_(to) {}

bool Iterator::next() {
  if (!status_.ok() || next_ > to_) return false;
  if (next_start_ >= starts_.size() && !fill()) return false;
  const size_t pos = starts_[next_start_++];
  auto h =
      pos < len_ ? decode_record(ByteSpan(buf_.data() + pos, len_ - pos), salt_) : std::nullopt;
  if (!h || h->index != next_.value() || h->type != RecordType::kData) {
    std::lock_guard lock(log_->mu_);
    status_ = epoch_ != log_->epoch_ ? Status::Aborted("records removed while iterating")
                                     : bad_record(file_, buf_offset_ + pos, next_);
    return false;
  }
  index_ = next_;
  data_ = ByteSpan(buf_.data() + pos + kRecordHeaderBytes, h->length);
  next_ = next_.next();
  return true;
}

// Reads as many whole records from next_ on as fit in the read buffer (at least one).
bool Iterator::fill() {
  std::unique_lock lock(log_->mu_);
  to_ = std::min(to_, log_->last_index_);
  if (next_ > to_) return false;
  auto loc = log_->locate(next_);
  if (!loc) {
    status_ =
        Status::NotFound("index " + std::to_string(next_.value()) + " is no longer in the log");
    return false;
  }
  const auto& seg = *loc->segment;
  size_t k = next_ - seg.first;
  size_t last_k = std::min<uint64_t>(seg.count() - 1, to_ - seg.first);
  uint64_t limit = loc->offset + log_->options_.read_buffer_bytes;
  // The last record in [k, last_k] that ends within the buffer (record ends only grow).
  size_t lo = k, hi = last_k;
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    if (seg.record_end(mid) <= limit)
      lo = mid;
    else
      hi = mid - 1;
  }
  uint64_t end = seg.record_end(lo);
  starts_.clear();
  for (size_t i = k; i <= lo; ++i)
    starts_.push_back(static_cast<uint32_t>(seg.offsets[i] - loc->offset));
  next_start_ = 0;
  if (Status st = log_->ensure_written({loc->segment, loc->offset, end}, lock); !st.ok()) {
    status_ = std::move(st);
    return false;
  }
  epoch_ = log_->epoch_;
  file_ = seg.name;
  salt_ = seg.sequence;
  auto segment = loc->segment;
  lock.unlock();
  buf_.resize(end - loc->offset);
  auto n = segment->file->read_at(loc->offset, buf_);
  if (!n.ok()) {
    status_ = n.status();
    return false;
  }
  buf_offset_ = loc->offset;
  len_ = *n;
  return true;
}

}  // namespace chorus::log
