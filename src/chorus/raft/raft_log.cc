#include "chorus/raft/raft_log.h"

#include <algorithm>

#include "chorus/base/assert.h"

namespace chorus::raft {

RaftLog::RaftLog(LogIndex snapshot_index, Term snapshot_term, std::vector<Entry> entries,
                 LogIndex committed)
    : snapshot_index_(snapshot_index), snapshot_term_(snapshot_term) {
  for (Entry& e : entries) {
    if (e.index <= snapshot_index_) continue;  // already covered by the snapshot
    CHORUS_ASSERT(e.index == last_index().next(), "restored entries are not contiguous at ",
                  e.index);
    entries_.push_back(std::move(e));
  }
  committed_ = std::clamp(committed, snapshot_index_, last_index());
  applying_ = applied_ = snapshot_index_;
  persisted_ = last_index();
  unstable_from_ = last_index().next();
  check_invariants();
}

std::optional<Term> RaftLog::term(LogIndex i) const {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < snapshot_index_ || i > last_index()) return std::nullopt;
  return entries_[offset(i)].term;
}

bool RaftLog::is_up_to_date(LogIndex index, Term t) const {
  return t > last_term() || (t == last_term() && index >= last_index());
}

const Entry& RaftLog::at(LogIndex i) const {
  CHORUS_ASSERT(i > snapshot_index_ && i <= last_index(), "entry ", i, " not in memory");
  return entries_[offset(i)];
}

void RaftLog::append(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    CHORUS_ASSERT(e.index == last_index().next(), "append at ", e.index, " after ", last_index());
    CHORUS_ASSERT(e.term >= last_term(), "terms must not decrease");
    entries_.push_back(std::move(e));
  }
}

std::optional<RaftLog::AppendResult> RaftLog::try_append(LogIndex prev_index, Term prev_term,
                                                         const std::vector<Entry>& entries) {
  // Entries up to snapshot_index are committed and so match every leader's log (§5.4.3).
  if (prev_index >= snapshot_index_ && !match_term(prev_index, prev_term)) return std::nullopt;
  AppendResult result{prev_index + entries.size(), LogIndex(0)};
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    CHORUS_ASSERT(e.index == prev_index + (i + 1), "entries of an append are not contiguous");
    if (e.index <= snapshot_index_) continue;
    if (e.index <= last_index()) {
      if (at(e.index).term == e.term) continue;  // already have it (rule 3: no conflict)
      // Rule 3: an existing entry conflicts with a new one: delete it and all that follow.
      CHORUS_ASSERT(e.index > committed_, "conflict at committed index ", e.index);
      truncate_from(e.index);
      result.truncated = e.index;
    }
    entries_.push_back(e);  // rule 4: append any new entries not already in the log
  }
  return result;
}

void RaftLog::truncate_from(LogIndex index) {
  CHORUS_ASSERT(index > committed_ && index > snapshot_index_);
  entries_.resize(offset(index));
  persisted_ = std::min(persisted_, index.prev());
  unstable_from_ = std::min(unstable_from_, index);
}

std::pair<LogIndex, Term> RaftLog::last_index_with_term_at_most(Term t, LogIndex upto) const {
  LogIndex i = std::min(upto, last_index());
  if (i < snapshot_index_) return {i, Term(0)};
  while (i > snapshot_index_ && at(i).term > t) i = i.prev();
  return {i, *term(i)};
}

std::vector<Entry> RaftLog::slice(LogIndex lo, LogIndex hi, uint64_t max_bytes) const {
  CHORUS_ASSERT(lo > snapshot_index_ && hi <= last_index(), "slice [", lo, ", ", hi, "]");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (LogIndex i = lo; i <= hi; ++i) {
    const Entry& e = at(i);
    bytes += e.size_bytes();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::commit_to(LogIndex index) {
  if (index <= committed_) return;
  CHORUS_ASSERT(index <= last_index(), "commit ", index, " beyond last ", last_index());
  committed_ = index;
}

std::vector<Entry> RaftLog::take_unstable() {
  std::vector<Entry> out;
  if (!has_unstable()) return out;
  out.reserve(last_index() - unstable_from_ + 1);
  for (LogIndex i = unstable_from_; i <= last_index(); ++i) out.push_back(at(i));
  unstable_from_ = last_index().next();
  return out;
}

bool RaftLog::persisted_to(LogIndex index, Term t) {
  if (index <= persisted_ || index >= unstable_from_ || !match_term(index, t)) return false;
  persisted_ = index;
  return true;
}

std::vector<Entry> RaftLog::take_to_apply(uint64_t max_bytes) {
  std::vector<Entry> out;
  if (!has_to_apply()) return out;
  out = slice(applying_.next(), apply_limit(), max_bytes);
  applying_ = out.back().index;
  return out;
}

void RaftLog::applied_to(LogIndex index) {
  CHORUS_ASSERT(index <= applying_, "applied ", index, " beyond what was handed out ", applying_);
  applied_ = std::max(applied_, index);
}

void RaftLog::compact(LogIndex index) {
  if (index <= snapshot_index_) return;
  CHORUS_ASSERT(index <= applied_, "compact ", index, " beyond applied ", applied_);
  snapshot_term_ = at(index).term;
  entries_.erase(entries_.begin(), entries_.begin() + (offset(index) + 1));
  snapshot_index_ = index;
}

void RaftLog::restore(LogIndex index, Term t) {
  CHORUS_ASSERT(index > committed_, "restoring a snapshot at ", index, " <= commit ", committed_);
  if (match_term(index, t)) {
    entries_.erase(entries_.begin(), entries_.begin() + (offset(index) + 1));
    persisted_ = std::max(persisted_, index);
  } else {
    entries_.clear();
    persisted_ = index;
    unstable_from_ = index.next();
  }
  unstable_from_ = std::max(unstable_from_, index.next());
  snapshot_index_ = index;
  snapshot_term_ = t;
  committed_ = applying_ = applied_ = index;
}

void RaftLog::check_invariants() const {
  LogIndex expected = first_index();
  Term prev_term = snapshot_term_;
  for (const Entry& e : entries_) {
    CHORUS_ASSERT(e.index == expected, "log hole at ", expected);
    CHORUS_ASSERT(e.term >= prev_term, "term decreases at ", e.index);
    prev_term = e.term;
    ++expected;
  }
  CHORUS_ASSERT(snapshot_index_ <= applied_ && applied_ <= applying_ && applying_ <= committed_,
                "snapshot ", snapshot_index_, " applied ", applied_, " applying ", applying_,
                " committed ", committed_);
  CHORUS_ASSERT(committed_ <= last_index(), "committed beyond the log");
  CHORUS_ASSERT(applying_ <= persisted_, "handed out unpersisted entries to apply");
  CHORUS_ASSERT(snapshot_index_ <= persisted_ && persisted_ < unstable_from_, "persisted ",
                persisted_, " unstable_from ", unstable_from_);
  CHORUS_ASSERT(unstable_from_ <= last_index().next(), "unstable_from beyond the log");
}

}  // namespace chorus::raft
