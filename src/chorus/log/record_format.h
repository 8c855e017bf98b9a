// The on-disk format of chorus::log: segment files of records.
//
// A log is a directory of segment files, each named by the index of its first record as 20
// decimal digits plus ".seg" (00000000000000000001.seg). A segment file is either fresh
// (preallocated: zero-filled and synced ahead of need, so an append overwrites zeros in place and
// its fdatasync flushes data only) or recycled: a file trimmed off the front of the log, renamed
// into a pool (recycle-<old sequence>.seg-free) and reused as is, so that a log in its steady
// state (appends at the head, trims at the tail) writes no zeros at all. A recycled file holds
// the records of its earlier use after the new ones: they are salted with the old sequence
// number, so they fail every check and read as garbage. A record never spans two segments.
// Only the last segment can have a torn tail: a segment is synced before the next one is
// created, and the next one's header records where it ends.
//
// Segment header (64 bytes, at offset 0):
//
//   0               8       12      16              24              32              40      48  64
//   +---------------+-------+-------+---------------+---------------+---------------+-------+---+
//   | magic "CHRSLOG1"| vers | flags | segment seq   | first index   | prev end      | check |0..|
//   +---------------+-------+-------+---------------+---------------+---------------+-------+---+
//   check = XXH3-64 of bytes [0, 40). Segment sequence numbers only grow; each salts its records.
//   prev end: the offset where the records of the previous segment end (0 when this segment
//   follows none: the first segment, or one written by reset()). Recovery reads a closed segment
//   exactly up to it: every record before it must pass, and what lies after it is ignored.
//   flags bit 0 (kSegmentSupersedes): written by reset(): every segment with a lower sequence
//   number is void. reset() creates this segment before it removes the old ones, so a crash in
//   between leaves a log that opens at the new index, never at an old one.
//
// Record (8-byte aligned; the first at offset 64, each right after the previous one):
//
//   0               8               16      20   21   22      24      28      32
//   +---------------+---------------+-------+----+----+-------+-------+-------+----------------
//   | index         | synced index  | len   |type|flag| rsv=0 | hcheck| rsv=0 | payload (len)..
//   +---------------+---------------+-------+----+----+-------+-------+-------+----------------
//   ... payload | zero padding to 8 | checksum (8) |
//
//   hcheck   = low 32 bits of XXH3-64 of bytes [0, 24): the length is trusted only when it
//              passes, so a torn or flipped length can never send recovery off the rails.
//   checksum = XXH3-64 of everything before it (header, payload and padding).
//   Both are seeded with the segment's sequence number (the salt).
//   synced index: every record with an index <= it was durable when this record was written.
//              Recovery uses these claims to tell a torn write (past every claim: never
//              acknowledged, cut off) from corruption (a claimed-durable record is damaged:
//              open fails).
//   flags bit 0 (kFlagBatchContinues): a later record of the same batch/transaction follows.
//              A batch whose last record is missing was never acknowledged and is cut whole.
//   type:    kData; kSeal: written by close() after a final sync, with synced index = last
//            index. A log that ends with a seal was closed cleanly: every record is claimed
//            durable and any non-zero byte after the seal is corruption. Opening for writing
//            erases the seal (zeros + sync) before the first append.
//            kTruncate (index = i): truncate_suffix(i) — the records of this segment with index
//            >= i before it are void and the next record has index i. Truncation appends
//            rather than overwrites, so a crash can only tear it at the tail like any append.
//
// The written part of the last segment ends at the first record that does not pass (an all-zero
// header in a fresh file, an old record in a recycled one). What follows it may be a torn write
// or the file's earlier contents; recovery tells these from corruption by the claims above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "chorus/base/bytes.h"

namespace chorus::log {

inline constexpr uint64_t kSegmentMagic = 0x31474f4c53524843ULL;  // "CHRSLOG1" little-endian
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr size_t kSegmentHeaderBytes = 64;
inline constexpr size_t kSegmentHeaderCheckedBytes = 40;

inline constexpr size_t kRecordHeaderBytes = 32;
inline constexpr size_t kRecordHeaderCheckedBytes = 24;
inline constexpr size_t kRecordTrailerBytes = 8;
inline constexpr size_t kRecordAlign = 8;
// The documented hard maximum payload of one record (Options::max_record_bytes may be lower).
inline constexpr uint32_t kMaxRecordPayloadBytes = 1u << 30;

enum class RecordType : uint8_t { kData = 1, kSeal = 2, kTruncate = 3 };
inline constexpr uint8_t kFlagBatchContinues = 1;

static_assert(kSegmentHeaderBytes % kRecordAlign == 0);
static_assert(kRecordHeaderBytes % kRecordAlign == 0);
static_assert(kRecordTrailerBytes == sizeof(uint64_t));
static_assert(kRecordHeaderCheckedBytes + 2 * sizeof(uint32_t) == kRecordHeaderBytes);

constexpr uint64_t record_size(uint64_t payload_bytes) {
  return kRecordHeaderBytes + align_up(payload_bytes, kRecordAlign) + kRecordTrailerBytes;
}
static_assert(record_size(0) == 40);
static_assert(record_size(100) == 144);

inline constexpr uint32_t kSegmentSupersedes = 1;

struct SegmentHeader {
  uint64_t sequence = 0;
  uint64_t first_index = 0;
  uint32_t flags = 0;
  uint64_t prev_end = 0;
};

struct RecordHeader {
  uint64_t index = 0;
  uint64_t synced_index = 0;
  uint32_t length = 0;
  RecordType type = RecordType::kData;
  uint8_t flags = 0;
};

void encode_segment_header(const SegmentHeader& h, std::byte* out /* kSegmentHeaderBytes */);
// nullopt when the magic, version or check does not match.
std::optional<SegmentHeader> decode_segment_header(const std::byte* in /* kSegmentHeaderBytes */);

// Appends one whole record (header, payload, padding, checksum) to `out`, salted with `salt`
// (the sequence number of the segment it goes to).
void encode_record(const RecordHeader& h, ByteSpan payload, Bytes& out, uint64_t salt);

// Decodes and fully verifies the record at the start of `in`. Returns nullopt when the header
// check fails, a field is out of range, the record does not fit in `in`, or the checksum fails
// (as it does for a record salted differently).
std::optional<RecordHeader> decode_record(ByteSpan in, uint64_t salt);
// Checks only the header (enough to learn the record's size); nullopt when it does not pass.
std::optional<RecordHeader> decode_record_header(ByteSpan in, uint64_t salt);

std::string segment_file_name(uint64_t first_index);
// The first index encoded in a segment file name, or nullopt for any other name.
std::optional<uint64_t> parse_segment_file_name(std::string_view name);

}  // namespace chorus::log
