// Message: everything Raft peers say to each other, one flat struct (as etcd's raftpb.Message);
// which fields matter depends on `type` (listed beside each type). Encoded by codec.h.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "chorus/raft/types.h"

namespace chorus::raft {

enum class MessageType : uint8_t {
  // Figure 2 AppendEntries: index/log_term = the entry before `entries`, commit = leader commit.
  kAppend = 1,
  // reject=false: index = last index now matching the leader.
  // reject=true: index = the rejected prev index; hint_index/hint_term = fast backtracking hint
  // (§5.3 "the follower can include the term of the conflicting entry and the first index it
  // stores for that term").
  kAppendResp = 2,
  // Leader liveness and read confirmation (thesis §6.4): commit, read_seq, sent_tick.
  kHeartbeat = 3,
  kHeartbeatResp = 4,  // echoes read_seq and sent_tick
  // RequestVote (Figure 2): index/log_term = candidate's last entry; transfer = leadership
  // transfer (thesis §3.10), which overrides the check-quorum lease.
  kVote = 5,
  kVoteResp = 6,  // reject = not granted
  // Pre-vote (thesis §9.6): term = the term the sender would campaign in; no state changes.
  kPreVote = 7,
  kPreVoteResp = 8,
  // Leadership transfer (thesis §3.10): the target campaigns at once.
  kTimeoutNow = 9,
  // A snapshot chunk (§7, chunked): snapshot, offset, data, checksum; last = final chunk.
  // Leader-side the core leaves data empty with fill_from_snapshot = true (see raft.h).
  kSnapshotChunk = 10,
  // reject=false: offset = next offset wanted (== size after the last chunk, then index = the
  // snapshot index, now matching). reject=true: offset = the offset to resume from.
  kSnapshotChunkResp = 11,
  // Forwarding (term-less, thesis §6.2): a follower's proposal (entries carry origin+proposal).
  kPropose = 12,
  // The leader appended entries[0..n) of a kPropose at index.. (reject=false), or refused them
  // (reject=true; definite: never entered its log); proposal = the first id, count = #entries.
  kProposeResp = 13,
  kReadIndex = 14,      // request_id: a follower's read (thesis §6.4)
  kReadIndexResp = 15,  // request_id, index; reject = failed (definite, retry)
};

inline constexpr MessageType kMaxMessageType = MessageType::kReadIndexResp;

std::string_view message_type_name(MessageType type);

// Term-less messages skip the term rules of step() (forwarding is not part of the protocol's
// term logic: a proposal is valid whatever term the follower thinks it is).
constexpr bool is_termless(MessageType type) {
  return type == MessageType::kPropose || type == MessageType::kProposeResp ||
         type == MessageType::kReadIndex || type == MessageType::kReadIndexResp;
}

struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from{};
  NodeId to{};
  Term term{};
  LogIndex index{};
  Term log_term{};
  LogIndex commit{};
  bool reject = false;
  LogIndex hint_index{};
  Term hint_term{};
  std::vector<Entry> entries{};
  // Reads and leases.
  uint64_t read_seq = 0;
  uint64_t sent_tick = 0;
  uint64_t request_id = 0;
  // Forwarded proposals.
  ProposalId proposal{};
  uint64_t count = 0;
  // Elections.
  bool transfer = false;
  // Snapshot chunks.
  SnapshotMeta snapshot{};
  uint64_t offset = 0;
  Bytes data{};
  uint64_t checksum = 0;
  bool last = false;
  bool fill_from_snapshot = false;

  bool operator==(const Message&) const = default;
};

}  // namespace chorus::raft
