#include "chorus/raft/progress.h"

#include <algorithm>

#include "chorus/base/assert.h"

namespace chorus::raft {

std::string_view progress_state_name(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

void Inflights::add(LogIndex last, uint64_t bytes) {
  CHORUS_ASSERT(items_.empty() || items_.back().last < last, "inflights must grow");
  items_.push_back({last, bytes});
  bytes_ += bytes;
}

void Inflights::free_up_to(LogIndex index) {
  while (!items_.empty() && items_.front().last <= index) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::free_first_one() {
  if (!items_.empty()) free_up_to(items_.front().last);
}

void Inflights::reset() {
  items_.clear();
  bytes_ = 0;
}

bool Progress::paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;  // chunks are paced separately
  }
  return true;
}

void Progress::become_probe() {
  // After a snapshot, resume after it; otherwise retry right after what matches.
  LogIndex resume =
      state == ProgressState::kSnapshot ? std::max(match, snapshot.meta.index) : match;
  state = ProgressState::kProbe;
  probe_sent = false;
  next = resume.next();
  inflights.reset();
  snapshot = {};
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  probe_sent = false;
  next = match.next();
  inflights.reset();
  snapshot = {};
}

void Progress::become_snapshot(const SnapshotMeta& meta) {
  state = ProgressState::kSnapshot;
  probe_sent = false;
  inflights.reset();
  snapshot = SnapshotTransfer{meta, 0, 0, 0, false};
}

bool Progress::maybe_update(LogIndex index) {
  bool moved = index > match;
  if (moved) {
    match = index;
    probe_sent = false;
  }
  next = std::max(next, index.next());
  return moved;
}

bool Progress::maybe_decrease(LogIndex rejected, LogIndex probe) {
  if (state == ProgressState::kReplicate) {
    if (rejected <= match) return false;  // stale: sent before a later success
    next = match.next();                  // the pipeline broke: restart from what is known to match
    return true;
  }
  if (rejected != next.prev()) return false;  // stale: not the probe we are waiting for
  next = std::max(std::min(rejected, probe.next()), match.next());
  probe_sent = false;
  return true;
}

void Progress::sent_entries(LogIndex last, uint64_t bytes) {
  if (state == ProgressState::kReplicate) {
    if (last < next) return;  // an empty append (commit update or probe): nothing in flight
    next = last.next();
    inflights.add(last, bytes);
  } else if (state == ProgressState::kProbe) {
    probe_sent = true;
  }
}

void Progress::check_invariants() const {
  CHORUS_ASSERT(match < next, "match ", match, " next ", next);
  if (state != ProgressState::kReplicate) {
    CHORUS_ASSERT(inflights.count() == 0, "inflights outside replicate");
  }
  if (state == ProgressState::kSnapshot) {
    CHORUS_ASSERT(snapshot.acked_offset <= snapshot.sent_offset &&
                  snapshot.sent_offset <= snapshot.meta.size_bytes);
  }
}

}  // namespace chorus::raft
