// SegmentScanner: sequential, bounded-memory reads of one segment file during recovery.
#pragma once

#include <algorithm>

#include "chorus/base/file_system.h"

namespace chorus::log {

class SegmentScanner {
 public:
  SegmentScanner(const File& file, uint64_t file_size, size_t chunk_bytes)
      : file_(file), size_(file_size), chunk_(chunk_bytes) {}

  uint64_t size() const { return size_; }

  // The bytes [offset, offset + len), clipped to the file; empty span on a read error (status()).
  ByteSpan get(uint64_t offset, uint64_t len) {
    if (offset >= size_) return {};
    len = std::min(len, size_ - offset);
    if (offset < buf_start_ || offset + len > buf_start_ + buf_.size()) {
      uint64_t want = std::min<uint64_t>(std::max<uint64_t>(len, chunk_), size_ - offset);
      buf_.resize(want);
      auto n = file_.read_at(offset, buf_);
      if (!n.ok()) {
        status_ = n.status();
        buf_.clear();
        return {};
      }
      buf_.resize(*n);
      buf_start_ = offset;
      len = std::min<uint64_t>(len, *n);
    }
    return ByteSpan(buf_.data() + (offset - buf_start_), len);
  }

  // End of the last non-zero byte in [from, size), rounded up to 8; `from` when all zero.
  uint64_t nonzero_end(uint64_t from) {
    uint64_t end = from;
    for (uint64_t at = from; at < size_; at += chunk_) {
      ByteSpan b = get(at, chunk_);
      if (b.empty()) break;
      for (size_t i = b.size(); i > 0; --i) {
        if (b[i - 1] != std::byte{0}) {
          end = align_up(at + i, 8);
          break;
        }
      }
    }
    return std::min(end, size_);
  }

  const Status& status() const { return status_; }

 private:
  const File& file_;
  uint64_t size_;
  size_t chunk_;
  Bytes buf_;
  uint64_t buf_start_ = 0;
  Status status_;
};

}  // namespace chorus::log
