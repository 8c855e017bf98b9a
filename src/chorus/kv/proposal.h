// Proposal and ReadRequest: what the key-value server puts in the Raft log and what it hands to
// the state machine for a read, with their binary encodings.
//
// Every write is one log entry holding one Proposal: a single command, or a MULTI/EXEC block
// (atomic on every node because it is one entry). The proposer's wall clock travels with it, so
// every node decides expiry with the same time (DESIGN.md: "TTLs are decided by the leader's
// clock and replicated").
//
// Encoding (all varints are unsigned LEB128, minimal; decoding rejects anything else, so each
// value has exactly one encoding):
//
//   proposal:
//   +---------+--------+-------+------------+---------+-------------------+---------+----------
//   | version | kind=1 | flags |   now_ms   | ncmds   | command * ncmds   | nwatch  | watch * ..
//   |  u8=1   |   u8   |  u8   | i64 LE (8) | varint  |                   | varint  |
//   +---------+--------+-------+------------+---------+-------------------+---------+----------
//   flags:   bit0 exec (a MULTI/EXEC block); other bits must be zero
//   command: argc varint | (len varint | bytes) * argc
//   watch:   len varint | key bytes | revision varint
//
//   read request:
//   +---------+--------+-------+------------+---------------------------------+
//   | version | kind=2 | flags |   now_ms   | command (as above)              |
//   |  u8=1   |   u8   | u8=0  | i64 LE (8) |                                 |
//   +---------+--------+-------+------------+---------------------------------+
//
// Every count and length is checked against the bytes that remain before anything is allocated,
// so hostile input fails with Corruption and never over-allocates.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"

namespace chorus::kv {

inline constexpr uint8_t kProposalFormatVersion = 1;
inline constexpr uint8_t kKindProposal = 1;
inline constexpr uint8_t kKindRead = 2;
inline constexpr uint8_t kProposalFlagExec = 1;
// version, kind, flags, now_ms.
inline constexpr size_t kProposalHeaderBytes = 3 + 8;
static_assert(kProposalHeaderBytes == 11);

// The unit replicated in the log.
struct Proposal {
  // The proposer's unix time in milliseconds. Apply uses max(now_ms, the last applied now_ms), so
  // time never goes backwards in the state machine even when leaders' clocks disagree.
  int64_t now_ms = 0;
  // The argv of each command (argv[0] is the name, in any case).
  std::vector<std::vector<std::string>> commands;
  // A MULTI/EXEC block: the reply is an array of each command's reply. Without it, `commands`
  // holds exactly one command and the reply is its reply.
  bool exec = false;
  // WATCH: key -> the Store::key_revision() the client saw. If any differs at apply, EXEC replies
  // a null array and changes nothing (but keys found expired are still expired). A watched key
  // whose expiry time passed counts as changed, like in Redis 7 -- also when it had already passed
  // at WATCH time (Redis ignores those): a spurious abort, never a missed one.
  std::vector<std::pair<std::string, uint64_t>> watches;

  friend bool operator==(const Proposal&, const Proposal&) = default;
};

// A read-only command, answered by Store::read() after the node has applied up to a read index.
struct ReadRequest {
  int64_t now_ms = 0;
  std::vector<std::string> argv;

  friend bool operator==(const ReadRequest&, const ReadRequest&) = default;
};

Bytes encode(const Proposal& proposal);
[[nodiscard]] Result<Proposal> decode_proposal(ByteSpan bytes);

Bytes encode(const ReadRequest& request);
[[nodiscard]] Result<ReadRequest> decode_read(ByteSpan bytes);

// The proposal the leader makes for active expiry: deletes each of `keys` that is expired at the
// apply time (see Store::expired_keys()).
Proposal expire_proposal(std::vector<std::string> keys, int64_t now_ms);

}  // namespace chorus::kv
