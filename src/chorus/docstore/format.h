// The docstore's on-disk formats: op records (payloads of chorus::log records) and the manifest.
// Snapshots are in snapshot.h. docs/docstore.md shows how the files fit together.
//
// Op record: one chorus::log record; the log frames and checksums it (XXH3), so this layer only
// bounds every length by the bytes that remain. A batch is ONE record, so it is atomic across a
// crash without relying on the log's multi-record batches.
//
//   record := version u8 | kind u8 | rest
//   kind 1 (ops):   count u32 | op * count
//   kind 2 (undo):  target_clock u64            (pops the stream's last live op, whose clock
//                                               must be target_clock)
//   op := type u8 | has u8 (bit0 data, bit1 prev) | ts_ms u64 | clock u64
//         | id_len u32 | data_len u32 | prev_len u32 | id | data (JSON text) | prev (JSON text)
//
//    0      1      2                 6
//    +------+------+-----------------+---------------- ... ------+
//    | ver  | kind | count (u32 LE)  | op | op | ...             |
//    +------+------+-----------------+---------------- ... ------+
//    op (offsets in bytes):
//    0      1     2        10       18       22         26         30
//    +------+-----+--------+--------+--------+----------+----------+----+------+------+
//    | type | has | ts_ms  | clock  | id_len | data_len | prev_len | id | data | prev |
//    | u8   | u8  | u64    | u64    | u32    | u32      | u32      |    | JSON | JSON |
//    +------+-----+--------+--------+--------+----------+----------+----+------+------+
//
// Manifest (file "manifest", replaced atomically: tmp, fsync, rename, fsync dir):
//
//    0           8          12         16            24
//    +-----------+----------+----------+-------------+------------------------+
//    | "CHDSMAN1"| body_len | reserved | xxh3(body)  | body: JSON (see below) |
//    +-----------+----------+----------+-------------+------------------------+
//    body: {"format":1, "generation":g, "schema_version":v, "snapshot":"snapshots/snap-g.snap",
//           "snapshot_records":n, "max_clock":c, "created_ms":t,
//           "streams":{"main":last_index_in_snapshot, "agent-A":...},
//           "archives":{"2026-Q1":"archive/2026-Q1.g.arc", ...}}
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/docstore/json_text.h"

namespace chorus::docstore {

enum class OpType : uint8_t { kSet = 1, kDelete = 2 };

// One mutation, as history(), ops() and watch() report it. `prev` is the value before the op
// (absent when the record did not exist), so undo and history need nothing else.
struct Op {
  OpType type = OpType::kSet;
  std::string id;
  std::optional<Json> data;  // kSet: the new value
  std::optional<Json> prev;
  uint64_t ts_ms = 0;
  uint64_t clock = 0;  // Lamport clock (also in single-writer mode, where it just counts)
  std::string agent;   // "" for the single writer
  bool operator==(const Op&) const = default;
};

// An op as the store keeps and logs it: values as shared JSON text (json_text.h).
struct StoredOp {
  OpType type = OpType::kSet;
  std::string id{};
  JsonText data{};  // kSet: the new value
  JsonText prev{};
  uint64_t ts_ms = 0;
  uint64_t clock = 0;
  std::string agent{};
  Op to_op() const;  // parses the values
};

// One op of a decoded record: views into the record's bytes.
struct OpView {
  OpType type = OpType::kSet;
  uint64_t ts_ms = 0;
  uint64_t clock = 0;
  std::string_view id;
  std::optional<std::string_view> data, prev;  // JSON text, not checked to be JSON
};

inline constexpr uint8_t kRecordVersion = 1;
enum class RecordKind : uint8_t { kOps = 1, kUndo = 2 };
inline constexpr size_t kRecordHeaderBytes = 6;
inline constexpr size_t kOpHeaderBytes = 30;
static_assert(kOpHeaderBytes == 1 + 1 + 8 + 8 + 4 + 4 + 4);
// The largest record the store hands to its log (log::Options::max_record_bytes).
inline constexpr uint32_t kMaxRecordBytes = 64u << 20;

struct DecodedRecord {
  RecordKind kind = RecordKind::kOps;
  std::vector<Op> ops;      // kOps (agent left empty: it is the stream's)
  uint64_t undo_clock = 0;  // kUndo
};

struct RecordView {
  RecordKind kind = RecordKind::kOps;
  std::vector<OpView> ops;  // kOps
  uint64_t undo_clock = 0;  // kUndo
};

Bytes encode_ops_record(const std::vector<Op>& ops);
Bytes encode_undo_record(uint64_t target_clock);
// Corruption (with no file name: the caller adds where it came from) when malformed.
Result<DecodedRecord> decode_record(ByteSpan data);
// The same checks but the JSON texts, which are left unparsed; reuses out.ops' capacity.
Status decode_record_view(ByteSpan data, RecordView& out);

// Records on their way to the log, encoded back to back in one buffer. The ops of consecutive
// commits share one ops record (so a group of sets is one log record: atomic, like a batch) while
// it stays under kMaxRecordBytes; the ops of one commit are never split; an undo record ends it.
class RecordBuffer {
 public:
  // TooLarge (and nothing added) when the ops cannot fit in one record.
  Status add_ops(std::span<const StoredOp> ops);
  void add_undo(uint64_t target_clock);
  std::vector<ByteSpan> records() const;
  size_t bytes() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  void clear();  // keeps the capacity
  void swap(RecordBuffer& other) noexcept;

 private:
  Bytes data_;
  std::vector<size_t> starts_;  // where each record begins in data_
  bool ops_open_ = false;       // the last record is an ops record that takes more ops
};

inline constexpr char kManifestMagic[8] = {'C', 'H', 'D', 'S', 'M', 'A', 'N', '1'};
inline constexpr size_t kManifestHeaderBytes = 24;
inline constexpr uint32_t kManifestMaxBodyBytes = 64u << 20;

struct Manifest {
  uint64_t generation = 0;  // 0: no manifest yet (an empty store)
  uint32_t schema_version = 0;
  std::string snapshot;  // path relative to the store directory; "" when none
  uint64_t snapshot_records = 0;
  uint64_t max_clock = 0;
  uint64_t created_ms = 0;
  std::map<std::string, uint64_t> streams;      // stream name -> last log index in the snapshot
  std::map<std::string, std::string> archives;  // segment name -> file relative to the store
  bool operator==(const Manifest&) const = default;
};

Bytes encode_manifest(const Manifest& m);
Result<Manifest> decode_manifest(ByteSpan data);

}  // namespace chorus::docstore
