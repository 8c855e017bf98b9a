// StateMachine: what a RaftNode applies committed entries to (optional).
//
// Every call but snapshot() comes from the node's io thread, never two at once. snapshot() runs on
// a thread of its own; while it runs the node calls neither apply() nor restore(), but read() may
// run at the same time: snapshot() and read() must only read the state they share (an
// implementation whose reads change something needs its own lock).
#pragma once

#include <span>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/raft/types.h"

namespace chorus::node {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies committed entries, in log order, exactly once per entry per node lifetime (from the
  // last snapshot on: after open() or an installed snapshot, restore() comes first and the entries
  // after the snapshot follow). `batch` is contiguous and starts at `first` (== batch[0].index).
  //
  // Returns one result per entry (batch.size() of them); the result of an entry this node
  // proposed is handed to the caller of async_append / async_append_batch / txn.
  //
  // Not every entry is a command. Each entry's `type` says what it is, and only kNormal entries
  // carry a command (`data` is exactly the bytes given to append):
  //   - kNoop: the no-op every new leader appends at the start of its term (§5.4.2, §8); also
  //     the node's own bookkeeping entries (peer addresses for add_learner) and the members of a
  //     transaction that did not commit whole, which are presented as kNoop with empty data;
  //   - kConfigChange: a membership change (data: raft/codec.h), already applied by the core.
  // Return an empty result for those.
  virtual std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex first) = 0;

  // Answers a read against the current state (linearizable: the node calls it only once it has
  // applied up to the read index).
  virtual Bytes read(ByteSpan command) = 0;

  // The whole state as bytes, as of the last applied entry. Called on the node's snapshot thread
  // (see above): the loop goes on -- heartbeats, replication, reads -- but applies nothing until
  // it returns, so a large state delays writes' completions, never leadership.
  virtual Bytes snapshot() = 0;

  // Replaces the whole state with a snapshot's. A failure is fatal to the node (on_error).
  [[nodiscard]] virtual Status restore(ByteSpan state) = 0;
};

}  // namespace chorus::node
