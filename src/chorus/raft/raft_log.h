// RaftLog: the core's in-memory view of the log since the last snapshot (as ScyllaDB raft's
// log). The core never reads storage: the driver persists what Ready hands out and, on
// restart, rebuilds the RaftLog from the snapshot metadata and the entries on disk.
//
//   snapshot_index   persisted       committed        last_index
//        |              |               |                 |
//   [ compacted ] [ e e e e e e e e e e e e e e e e e e e e ]
//                  ^ first_index    ^ applying (handed out to apply, <= min(committed, persisted))
//                                   unstable_from: first entry not yet handed out to persist
//
// Positions only move forward, except that a conflicting leader (Figure 2, AppendEntries rule
// 3) may truncate an uncommitted suffix: persisted and unstable_from then move back with it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "chorus/raft/types.h"

namespace chorus::raft {

class RaftLog {
 public:
  RaftLog() = default;
  // Rebuilds the log after a restart: everything given is durable.
  RaftLog(LogIndex snapshot_index, Term snapshot_term, std::vector<Entry> entries,
          LogIndex committed);

  LogIndex snapshot_index() const { return snapshot_index_; }
  Term snapshot_term() const { return snapshot_term_; }
  LogIndex first_index() const { return snapshot_index_.next(); }
  LogIndex last_index() const { return snapshot_index_ + entries_.size(); }
  Term last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term; }
  LogIndex committed() const { return committed_; }
  LogIndex applying() const { return applying_; }
  LogIndex applied() const { return applied_; }
  LogIndex persisted() const { return persisted_; }
  size_t size() const { return entries_.size(); }

  // The term of entry i: known for snapshot_index <= i <= last_index, nullopt otherwise
  // (compacted or beyond the end).
  std::optional<Term> term(LogIndex i) const;
  bool match_term(LogIndex i, Term t) const { return term(i) == t; }
  // §5.4.1: is a log ending at (last_index, last_term) at least as up-to-date as this one?
  bool is_up_to_date(LogIndex last_index, Term last_term) const;
  // Entry i, snapshot_index < i <= last_index.
  const Entry& at(LogIndex i) const;

  // Leader: appends entries that continue the log (each carries its index and term).
  void append(std::vector<Entry> entries);

  struct AppendResult {
    LogIndex last_new;   // last index known to match the leader after this append
    LogIndex truncated;  // first index removed by a conflict, or 0 if nothing was removed
  };
  // Follower, Figure 2 AppendEntries rules 2-4. nullopt: the log has no entry at prev_index
  // whose term is prev_term (rule 2) and nothing changed.
  std::optional<AppendResult> try_append(LogIndex prev_index, Term prev_term,
                                         const std::vector<Entry>& entries);
  // Fast backtracking (§5.3, "the follower can include the term of the conflicting entry"):
  // the last index <= min(upto, last_index) whose term is <= t, and that term. Used by the
  // follower with the leader's prev (index, term), and by the leader with the follower's hint:
  // everything after the returned index certainly differs, so the next probe skips it.
  // Stops at snapshot_index (committed, so it matches every leader).
  std::pair<LogIndex, Term> last_index_with_term_at_most(Term t, LogIndex upto) const;

  // Entries [lo, hi] capped at max_bytes, always at least one. lo must be > snapshot_index.
  std::vector<Entry> slice(LogIndex lo, LogIndex hi, uint64_t max_bytes) const;

  void commit_to(LogIndex index);

  // Persistence: the entries not yet handed to the driver, and the driver's acknowledgement.
  bool has_unstable() const { return unstable_from_ <= last_index(); }
  std::vector<Entry> take_unstable();
  // Entries up to `index`, of term `term`, are durable. Stale acknowledgements (the entry was
  // overwritten since it was handed out) are ignored: Log Matching (§5.3) makes (index, term)
  // name a unique prefix. Returns whether persisted moved.
  bool persisted_to(LogIndex index, Term term);

  // Apply: committed and persisted entries not yet handed out, capped at max_bytes.
  bool has_to_apply() const { return applying_ < apply_limit(); }
  std::vector<Entry> take_to_apply(uint64_t max_bytes);
  void applied_to(LogIndex index);

  // Drops entries up to `index` (<= applied) after a snapshot was taken there.
  void compact(LogIndex index);
  // Replaces the log with a received snapshot (§7): keeps entries after (index, term) if the
  // log already matches there, otherwise discards everything.
  void restore(LogIndex index, Term term);

  void check_invariants() const;

 private:
  LogIndex apply_limit() const { return std::min(committed_, persisted_); }
  size_t offset(LogIndex i) const { return i - first_index(); }
  void truncate_from(LogIndex index);

  LogIndex snapshot_index_;
  Term snapshot_term_;
  std::deque<Entry> entries_;
  LogIndex committed_;
  LogIndex applying_;
  LogIndex applied_;
  LogIndex persisted_;
  LogIndex unstable_from_{1};
};

}  // namespace chorus::raft
