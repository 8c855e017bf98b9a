// The snapshot file: one file per snapshot, named <index>-<term>.snap, written tmp -> fsync ->
// rename -> fsync(dir). The state bytes come first, so a follower receiving a snapshot writes the
// leader's chunks at their offsets and then appends the trailer itself; SnapshotMeta::size_bytes
// is the length of the state alone (what travels), not of the file.
//
//   0            S            S+M        S+M+4     S+M+8     S+M+16    S+M+24
//   +------------+------------+----------+---------+---------+---------+
//   | state (S)  | meta (M)   | M u32    | vers u32| magic   | checksum|
//   +------------+------------+----------+---------+---------+---------+
//   meta     = index u64 | term u64 | size u64 (= S) | configuration (raft/codec.h)
//   magic    = "CHRSSNAP"; checksum = XXH3-64 of every byte before it.
#pragma once

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/raft/types.h"

namespace chorus::node {

inline constexpr uint64_t kSnapshotMagic = 0x50414e5353524843ULL;  // "CHRSSNAP"
inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr size_t kSnapshotTrailerBytes = 24;
inline constexpr size_t kSnapshotMetaFixedBytes = 24;

// The trailer that follows `state` (meta.size_bytes must equal state.size()).
Bytes encode_snapshot_trailer(const raft::SnapshotMeta& meta, ByteSpan state);
Bytes encode_snapshot_file(const raft::SnapshotMeta& meta, ByteSpan state);

struct DecodedSnapshot {
  raft::SnapshotMeta meta;
  ByteSpan state;  // points into the input
};
// Verifies everything (magic, version, lengths bounded by the input, checksum).
Result<DecodedSnapshot> decode_snapshot_file(ByteSpan file);

}  // namespace chorus::node
