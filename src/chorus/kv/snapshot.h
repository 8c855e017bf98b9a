// The snapshot format of kv::Store (Store::snapshot() / Store::restore()), which Raft sends to a
// lagging follower and the node writes to disk.
//
//   0            8         12        16                24
//   +------------+---------+---------+-----------------+---------------- ... -+----------+
//   | magic      | version | flags   | body length     | body                  | checksum |
//   | "CHKVSNAP" | u32 = 1 | u32 = 0 | u64             | (body length bytes)   | u64      |
//   +------------+---------+---------+-----------------+---------------- ... -+----------+
//   All fixed-width integers are little-endian. checksum = XXH3-64 of every byte before it.
//
//   body (varints are minimal unsigned LEB128):
//     history_per_key varint | history_deleted_keys varint      the retention options
//     last_revision varint | now_ms i64 (8) | evicted_floor varint
//     nkeys varint  | key * nkeys          strictly increasing (XXH3-64(name), name) order
//     ntombs varint | tombstone * ntombs   oldest deletion first
//
//   key:       name (len varint, bytes) | value (len varint, bytes) | expire_at varint (0: none)
//              | revision varint | change u8 | history
//   tombstone: name (len varint, bytes) | revision varint | change u8 | history
//   history:   n varint | trimmed u8 (only if n > 0) | entry * n          newest first
//   entry:     revision varint | change u8 | kind u8 | value (len varint, bytes; kind 1 only)
//              kind: 0 the change deleted the key, 1 a value, 2 the same value as the next
//              newer state (the entry before it, or the key itself)
//   change:    0 set, 1 del, 2 expire, 3 expired, 4 rename_from, 5 rename_to, 6 incrby,
//              7 incrbyfloat, 8 append, 9 setrange, 10 persist
//
// The encoding is canonical: an entry whose value equals the next newer state's is always kind 2,
// keys are in their one order, tombstones in deletion order. Equal states give equal bytes, and
// Store::state_hash() is XXH3-64 of the body. restore() accepts only canonical bytes: every
// length and count is bounded by the bytes that remain, every field by its range, every order
// checked, so whatever it accepts re-encodes to exactly the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chorus::kv {

inline constexpr uint64_t kSnapshotMagic = 0x50414e53564b4843ULL;  // "CHKVSNAP" little-endian
inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr size_t kSnapshotHeaderBytes = 24;
inline constexpr size_t kSnapshotChecksumBytes = 8;
static_assert(kSnapshotHeaderBytes == 8 + 4 + 4 + 8);
static_assert(kSnapshotChecksumBytes == sizeof(uint64_t));

}  // namespace chorus::kv
