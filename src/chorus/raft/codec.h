// Compact binary encoding of Raft messages, entries and membership changes, so the same core
// runs over any transport (and the log stores entries with the same bytes).
//
// All integers are unsigned LEB128 varints (1 byte for values < 128) unless noted; every length
// or count is checked against the bytes that remain before anything is allocated, so decoding
// truncated or hostile input fails with Corruption and never crashes or over-allocates.
//
//   message:
//   +---------+------+-------+--------------+------------------------------------------+
//   | version | type | flags | present mask | present fields, in the order of the bits |
//   |   u8=1  |  u8  |  u8   |    varint    |                                          |
//   +---------+------+-------+--------------+------------------------------------------+
//   flags:   bit0 reject, bit1 transfer, bit2 last, bit3 fill_from_snapshot
//   present: bit0 from, 1 to, 2 term, 3 index, 4 log_term, 5 commit, 6 hint_index,
//            7 hint_term, 8 read_seq, 9 sent_tick, 10 request_id, 11 proposal, 12 count,
//            13 offset, 14 checksum (u64 little-endian, fixed), 15 snapshot, 16 entries,
//            17 data (len + bytes)
//   (a field equal to its default is left out; decode restores the default)
//
//   entries:  count | entry * count
//   entry:    term | index | type:u8 | origin | proposal | len | data[len]
//   snapshot: index | term | size_bytes | configuration
//   configuration: nvoters | id * nvoters | nlearners | id * nlearners
//                  | ngroups | (id | len | label[len]) * ngroups
//   membership change: version:u8=1 | type:u8 | node | len | group[len]
//
//   A kConfigChange entry holds either a membership change (above) or, in the bootstrap entry
//   at index 1 that every initial member writes identically, a whole configuration:
//   bootstrap configuration: 0xFF | configuration
#pragma once

#include <cstdint>
#include <variant>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/raft/message.h"

namespace chorus::raft {

inline constexpr uint8_t kCodecVersion = 1;
// A decoded message may not describe more entries than this (a bound on allocation).
inline constexpr uint64_t kMaxEntriesPerMessage = 1 << 20;

Bytes encode(const Message& message);
[[nodiscard]] Result<Message> decode(ByteSpan bytes);

Bytes encode_entry(const Entry& entry);
[[nodiscard]] Result<Entry> decode_entry(ByteSpan bytes);

Bytes encode_change(const MembershipChange& change);
[[nodiscard]] Result<MembershipChange> decode_change(ByteSpan bytes);

// The payload of a kConfigChange entry: one change, or the bootstrap configuration.
using ConfigEntry = std::variant<MembershipChange, Configuration>;
Bytes encode_bootstrap_configuration(const Configuration& config);
[[nodiscard]] Result<ConfigEntry> decode_config_entry(ByteSpan bytes);

Bytes encode_configuration(const Configuration& config);
[[nodiscard]] Result<Configuration> decode_configuration(ByteSpan bytes);

}  // namespace chorus::raft
