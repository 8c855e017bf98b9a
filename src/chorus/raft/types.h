// The values the Raft core reasons about: entries, hard state, configurations, snapshots,
// proposals and reads. Plain data; the protocol lives in raft.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"

namespace chorus::raft {

struct ProposalIdTag {};
// Names a proposal on the node where it was made (unique per node incarnation, starts at 1).
using ProposalId = StrongId<ProposalIdTag>;

inline constexpr NodeId kNoNode{0};

enum class EntryType : uint8_t {
  kNormal = 0,        // a command for the state machine
  kNoop = 1,          // appended by every new leader (§5.4.2, §8: commits the previous terms)
  kConfigChange = 2,  // data is an encoded MembershipChange (thesis §4.1)
};

// A log entry. (origin, proposal) let the node that proposed it recognise it when it commits,
// wherever it was appended from (the leader or a forwarding follower).
struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  NodeId origin = kNoNode;
  ProposalId proposal{0};
  SharedBytes data;  // shared, never copied: see base/bytes.h

  bool operator==(const Entry&) const = default;
  // Bytes this entry accounts for in flow control (payload plus a fixed header estimate).
  uint64_t size_bytes() const { return data.size() + 24; }
};

// The state that must be durable before a vote or an acknowledgement leaves (Figure 2,
// "Persistent state on all servers"), plus the commit index so a restart applies sooner.
struct HardState {
  Term term;
  NodeId vote = kNoNode;
  LogIndex commit;

  bool operator==(const HardState&) const = default;
};

// A cluster configuration (thesis §4): voters decide; learners only receive the log.
// `groups` labels nodes for the replication-group quorum policy.
struct Configuration {
  std::set<NodeId> voters;
  std::set<NodeId> learners;
  std::map<NodeId, std::string> groups;

  bool operator==(const Configuration&) const = default;
  bool is_voter(NodeId id) const { return voters.contains(id); }
  bool is_learner(NodeId id) const { return learners.contains(id); }
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
  std::set<NodeId> members() const;
  Status check() const;  // disjoint voters/learners, no kNoNode
};

enum class MembershipChangeType : uint8_t {
  kAddVoter = 0,
  kAddLearner = 1,
  kPromoteLearner = 2,
  kRemove = 3,
};

// One-server-at-a-time change (thesis §4.2); `group` labels a node being added.
struct MembershipChange {
  MembershipChangeType type = MembershipChangeType::kAddLearner;
  NodeId node;
  std::string group;

  bool operator==(const MembershipChange&) const = default;
};

// Applies `change` to `config`; InvalidArgument if it does not apply (e.g. promoting a voter).
[[nodiscard]] Result<Configuration> apply_change(const Configuration& config,
                                                 const MembershipChange& change);

// Describes a state-machine snapshot: the log up to (index, term) and the configuration then.
struct SnapshotMeta {
  LogIndex index;
  Term term;
  Configuration config;
  uint64_t size_bytes = 0;  // length of the snapshot file the driver keeps

  bool operator==(const SnapshotMeta&) const = default;
};

// A received snapshot chunk the driver must write at `offset` of the incoming snapshot file.
struct SnapshotChunk {
  SnapshotMeta meta;
  uint64_t offset = 0;
  Bytes data;
};

// The answer to read_index(request_id): serve the read once applied >= index. A failed status
// is definite (nothing was read): the caller may retry.
struct ReadState {
  uint64_t request_id = 0;
  LogIndex index;
  Status status;
};

enum class ProposalOutcome : uint8_t {
  kCommitted = 0,         // committed at `index`; answer after applying it
  kFailedDefinite = 1,    // did not happen and never will (dropped before entering a log)
  kFailedIndefinite = 2,  // may or may not happen (leadership lost after it was sent/appended)
};

struct ProposalResult {
  ProposalId id;
  ProposalOutcome outcome = ProposalOutcome::kCommitted;
  LogIndex index;  // kCommitted: where it was committed; otherwise the index if known
  Status status;   // why it failed (ok when committed)
};

}  // namespace chorus::raft
