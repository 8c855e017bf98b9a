// CommitDecoder: turns committed log entries into what the state machine sees, and makes a
// transaction atomic.
//
// Why a transaction needs this: the core appends a proposal batch contiguously, but a batch can
// commit in part -- a new leader may hold only a prefix of it (an AppendEntries message carries a
// byte-bounded slice, §5.3) and commit that prefix with its no-op. So each txn member carries
// (count, position) (payload.h) and the decoder holds members back until the last one arrives:
// then the whole txn is released at once. If anything else follows an incomplete txn in the
// committed log, the txn can never complete there (Log Matching, §5.3: the committed log is
// fixed), and its members are released as aborted -- presented to the state machine as kNoop with
// empty data -- on every node alike, since every node decodes the same committed log.
//
// The node reports applied (Raft::on_applied) only up to what was released, so a snapshot never
// splits a transaction and a restart resumes at a txn boundary.
//
// Pure: no threads, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chorus/node/payload.h"
#include "chorus/raft/types.h"

namespace chorus::node {

enum class ItemKind : uint8_t {
  kCommand,      // a command (plain append or batch member)
  kTxnMember,    // a member of a transaction that committed whole
  kAbortedTxn,   // a member of a transaction that did not (presented as kNoop)
  kPeerAddress,  // the node's bookkeeping (presented as kNoop)
  kNoop,         // a leader's no-op
  kConfigChange,
  kMalformed,  // a kNormal entry whose payload does not decode (presented as kNoop)
};

struct ApplyItem {
  ItemKind kind = ItemKind::kCommand;
  raft::Entry entry;  // as the state machine sees it: data is the caller's bytes
  NodeId origin;      // the proposer, and its proposal id (from the raw entry)
  raft::ProposalId proposal;
  NodeId address_node;  // kPeerAddress
  std::string address;
  uint32_t txn_count = 0;  // kTxnMember / kAbortedTxn
  uint32_t txn_position = 0;
};

class CommitDecoder {
 public:
  // Feeds the next committed entry (index = the last one fed + 1). Items released by it, in log
  // order, are appended to `out`.
  void push(raft::Entry entry, std::vector<ApplyItem>& out);
  // The first index held back (members of an incomplete txn), if any.
  std::optional<LogIndex> held_from() const;
  // Forgets held entries: a snapshot was installed over them.
  void reset();
  void check_invariants() const;

 private:
  void abort_held(std::vector<ApplyItem>& out);
  static ApplyItem decode(raft::Entry entry);

  std::vector<ApplyItem> held_;  // members 0..k-1 of the txn being assembled
  uint32_t held_count_ = 0;      // its size
};

}  // namespace chorus::node
