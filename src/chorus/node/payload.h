// The node's framing inside Raft entries and snapshots (the core treats both as opaque bytes).
//
// Every kNormal entry this node proposes starts with a one-byte kind, so the node can group a
// transaction's entries and replicate peer addresses through the log:
//
//   +------+------------------------------------------------------------+
//   | kind | body                                                       |
//   +------+------------------------------------------------------------+
//   kind 0  command       body = the caller's bytes
//   kind 1  txn member    body = count u32 | position u32 | the caller's bytes
//   kind 2  peer address  body = node id u64 | the address bytes
//   (integers little-endian)
//
// A snapshot file's state (what travels to followers) wraps the state machine's bytes after the
// node's own state, the address book:
//
//   +-------------+---------+----------------------------------------+---------------------+
//   | magic u32   | n u32   | (id u64 | len u32 | address[len]) * n   | state machine bytes |
//   | "CNS1"      |         |                                        |                     |
//   +-------------+---------+----------------------------------------+---------------------+
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"

namespace chorus::node {

enum class PayloadKind : uint8_t { kCommand = 0, kTxnMember = 1, kPeerAddress = 2 };

inline constexpr size_t kCommandHeaderBytes = 1;
inline constexpr size_t kTxnHeaderBytes = 9;
inline constexpr size_t kAddressHeaderBytes = 9;
inline constexpr uint32_t kSnapshotEnvelopeMagic = 0x31534e43;  // "CNS1"
// A transaction may not have more members than this (a bound on what the applier holds back).
inline constexpr uint32_t kMaxTxnEntries = 1u << 20;

Bytes frame_command(ByteSpan command);
Bytes frame_txn_member(uint32_t count, uint32_t position, ByteSpan command);
Bytes frame_peer_address(NodeId node, std::string_view address);

struct Payload {
  PayloadKind kind = PayloadKind::kCommand;
  uint32_t count = 0;     // txn member
  uint32_t position = 0;  // txn member
  NodeId node;            // peer address
  ByteSpan body;          // the command, or the address; points into the input
};
// Every length is checked against the bytes present; Corruption if malformed.
[[nodiscard]] Result<Payload> decode_payload(ByteSpan data);

using AddressBook = std::map<NodeId, std::string>;

Bytes encode_snapshot_envelope(const AddressBook& book, ByteSpan state_machine);
struct SnapshotEnvelope {
  AddressBook book;
  ByteSpan state_machine;  // points into the input
};
[[nodiscard]] Result<SnapshotEnvelope> decode_snapshot_envelope(ByteSpan data);

}  // namespace chorus::node
