// Progress: what a leader knows about one follower's log (Figure 2 nextIndex/matchIndex, plus
// flow control as in etcd's tracker/): probe until the follower's position is known, then
// pipeline appends within an in-flight window bounded by count and bytes; send a snapshot when
// the follower needs entries that were compacted.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

#include "chorus/raft/types.h"

namespace chorus::raft {

enum class ProgressState : uint8_t {
  kProbe,      // position unknown: one append at a time, until it is accepted
  kReplicate,  // position known: appends are pipelined, next is optimistic
  kSnapshot,   // the follower needs a snapshot; chunks go out one at a time
};

std::string_view progress_state_name(ProgressState state);

// Appends sent but not yet acknowledged, oldest first.
class Inflights {
 public:
  Inflights(uint32_t max_count, uint64_t max_bytes)
      : max_count_(max_count), max_bytes_(max_bytes) {}
  bool full() const { return items_.size() >= max_count_ || bytes_ >= max_bytes_; }
  size_t count() const { return items_.size(); }
  uint64_t bytes() const { return bytes_; }
  void add(LogIndex last, uint64_t bytes);
  void free_up_to(LogIndex index);  // acknowledged through index
  void free_first_one();
  void reset();

 private:
  struct Item {
    LogIndex last;
    uint64_t bytes;
  };
  uint32_t max_count_;
  uint64_t max_bytes_;
  std::deque<Item> items_;
  uint64_t bytes_ = 0;
};

// A snapshot being streamed to a follower.
struct SnapshotTransfer {
  SnapshotMeta meta;
  uint64_t acked_offset = 0;  // the follower has everything before this
  uint64_t sent_offset = 0;   // chunks before this were sent
  uint64_t sent_at_tick = 0;  // when the last chunk left (for the resend timer)
  bool last_sent = false;     // the final chunk is out
};

struct Progress {
  Progress(LogIndex next_index, uint32_t max_inflight, uint64_t max_inflight_bytes)
      : next(next_index), inflights(max_inflight, max_inflight_bytes) {}

  LogIndex match;  // highest index known to match the leader
  LogIndex next;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an append is outstanding; wait for reply or heartbeat
  bool recent_active = false;  // heard from since the last check-quorum round (thesis §6.2)
  Inflights inflights;
  SnapshotTransfer snapshot;      // kSnapshot only
  uint64_t read_seq_acked = 0;    // highest heartbeat read round acknowledged
  uint64_t lease_tick_acked = 0;  // leader tick at which the acknowledged heartbeat left
  LogIndex sent_commit;           // highest commit index sent in an append

  bool paused() const;
  void become_probe();
  void become_replicate();
  void become_snapshot(const SnapshotMeta& meta);
  // Success reply through `index`; returns whether match moved.
  bool maybe_update(LogIndex index);
  // Rejection of the append whose prev was `rejected`; `probe` is the hint's next probe point.
  // Returns false for stale rejections.
  bool maybe_decrease(LogIndex rejected, LogIndex probe);
  void sent_entries(LogIndex last, uint64_t bytes);  // optimistic update after an append left
  void check_invariants() const;
};

}  // namespace chorus::raft
