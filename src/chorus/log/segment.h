// Log::Segment: the in-memory view of one segment file (private to chorus::log).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chorus/log/log.h"
#include "chorus/log/record_format.h"

namespace chorus::log {

// The next segment, zero-filled and synced ahead of need; renamed when it becomes a segment.
inline constexpr std::string_view kPreparedSuffix = ".prealloc";
inline constexpr std::string_view kPreparedFileName = "next-segment.prealloc";
// A trimmed segment file kept for reuse (Options::recycle_segments), named by its sequence.
inline constexpr std::string_view kPoolSuffix = ".seg-free";
inline std::string pool_file_name(uint64_t sequence) {
  return "recycle-" + std::to_string(sequence) + std::string(kPoolSuffix);
}

struct Log::Segment {
  std::string name;  // file name within the log directory
  std::unique_ptr<File> file;
  uint64_t sequence = 0;
  bool supersedes = false;  // header flag kSegmentSupersedes
  uint64_t prev_end = 0;    // header: where the previous segment's records end
  LogIndex first;
  std::vector<uint32_t> offsets;  // byte offset of each data record; offsets[i] holds first + i
  uint64_t end = kSegmentHeaderBytes;  // where the next record goes

  uint64_t count() const { return offsets.size(); }
  LogIndex last() const { return first + count() - 1; }  // first - 1 when empty
  bool contains(LogIndex i) const { return i >= first && i - first < count(); }
  uint64_t record_end(size_t k) const { return k + 1 < offsets.size() ? offsets[k + 1] : end; }
};

}  // namespace chorus::log
