// Snapshot and archive files: an immutable, checksummed capture of every record, streamed in and
// out with bounded memory. Archive segments use the same format.
//
//   header (32 bytes):
//   0          8         12        16         20         24
//   +----------+---------+---------+----------+----------+------------------+
//   | "CHDSSNP1"| version | flags   | schema   | reserved | xxh3(bytes 0..24) |
//   +----------+---------+---------+----------+----------+------------------+
//   record (repeated):
//   +----------+------------------------------------------------------+--------------------+
//   | body_len | body                                                 | xxh3(body_len ||   |
//   | u32      |                                                      |      body) u64     |
//   +----------+------------------------------------------------------+--------------------+
//   body: flags u8 | id_len u32 | value_len u32 | clock u64 | agent_len u16 | id | value | agent
//   footer (20 bytes):
//   +------------+-------------+-------------------------------+
//   | 0xFFFFFFFF | count u64   | xxh3(0xFFFFFFFF || count)     |
//   +------------+-------------+-------------------------------+
//   then end of file: a missing footer or trailing bytes are corruption.
//
// flags bit 0: tombstone (multi-writer: a delete that must keep beating older sets; no value).
// value: the record's JSON text. clock/agent: the (Lamport clock, agent) stamp that last wrote it.
// Every length is bounded by the bytes left in the file before it is trusted. The store loads
// values as text (the record checksum vouches for them) and parses each on first read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chorus/base/file_system.h"
#include "chorus/docstore/format.h"

namespace chorus::docstore {

inline constexpr char kSnapshotMagic[8] = {'C', 'H', 'D', 'S', 'S', 'N', 'P', '1'};
inline constexpr size_t kSnapshotHeaderBytes = 32;
inline constexpr size_t kSnapshotRecordHeaderBytes = 4 + 1 + 4 + 4 + 8 + 2;
inline constexpr size_t kSnapshotFooterBytes = 20;
inline constexpr uint32_t kSnapshotFooterMarker = 0xFFFFFFFFu;
inline constexpr uint32_t kSnapshotMaxBodyBytes = 1u << 30;
static_assert(kSnapshotRecordHeaderBytes == 23);

struct SnapshotEntry {
  std::string id;
  Json value;  // null for a tombstone
  bool tombstone = false;
  uint64_t clock = 0;
  std::string agent;
};

// A record as it lies in the file: views valid until the reader's next call. The value is JSON
// text that the record's checksum vouches for but that is not parsed.
struct SnapshotRecord {
  std::string_view id;
  std::optional<std::string_view> value;  // absent: a tombstone
  uint64_t clock = 0;
  std::string_view agent;
};

// Writes a snapshot to `path` (a temporary name: the caller renames it) and syncs it.
class SnapshotWriter {
 public:
  static Result<std::unique_ptr<SnapshotWriter>> create(FileSystem& fs, const std::string& path,
                                                        uint32_t schema_version);
  // value: JSON text (absent: a tombstone).
  Status add(const SnapshotRecord& record);
  // Writes the footer and fsyncs.
  Status finish();
  uint64_t count() const { return count_; }

 private:
  SnapshotWriter() = default;
  Status flush();
  std::unique_ptr<File> file_;
  Bytes buf_;
  uint64_t offset_ = 0;
  uint64_t count_ = 0;
};

// Streams a snapshot's records; holds one read buffer (1 MiB) plus the current record.
class SnapshotReader {
 public:
  static Result<std::unique_ptr<SnapshotReader>> open(FileSystem& fs, const std::string& path);
  // Next record; false at the end or on error (then status() says which). The first form parses
  // the value (a value that is not JSON is corruption); the second leaves it as text.
  bool next(SnapshotEntry& out);
  bool next(SnapshotRecord& out);
  const Status& status() const { return status_; }
  uint32_t schema_version() const { return schema_; }
  const std::string& path() const { return path_; }

 private:
  SnapshotReader() = default;
  bool fail(uint64_t at, const std::string& what);
  bool read_exact(uint64_t at, size_t n, ByteSpan& out);
  std::unique_ptr<File> file_;
  std::string path_;
  uint64_t size_ = 0, pos_ = 0, count_ = 0;
  uint64_t record_at_ = 0;  // offset of the record next() returned last
  uint32_t schema_ = 0;
  Bytes buf_;
  uint64_t buf_at_ = 0;
  Bytes big_;  // a record larger than the buffer
  bool done_ = false;
  Status status_;
};

}  // namespace chorus::docstore
