// RaftLog: Figure 2 AppendEntries receiver rules 2-5 and the persistence / apply cursors.
#include "chorus/raft/raft_log.h"

#include <gtest/gtest.h>

#include "chorus/base/rng.h"

namespace chorus::raft {
namespace {

Entry entry(uint64_t index, uint64_t term) {
  return Entry{Term(term), LogIndex(index), EntryType::kNormal, NodeId(0), ProposalId(0), {}};
}

std::vector<Entry> entries(uint64_t first, std::vector<uint64_t> terms) {
  std::vector<Entry> out;
  for (uint64_t t : terms) out.push_back(entry(first++, t));
  return out;
}

TEST(RaftLog, Figure2Rule2_RejectsWhenPrevDoesNotMatch) {
  RaftLog log;
  log.append(entries(1, {1, 1, 2}));
  EXPECT_FALSE(log.try_append(LogIndex(3), Term(3), entries(4, {3})).has_value());
  EXPECT_FALSE(log.try_append(LogIndex(5), Term(2), entries(6, {3})).has_value());
  EXPECT_EQ(log.last_index(), LogIndex(3));
  log.check_invariants();
}

TEST(RaftLog, Figure2Rule3_ConflictTruncatesTheSuffix) {
  RaftLog log;
  log.append(entries(1, {1, 1, 2, 2}));
  (void)log.take_unstable();
  ASSERT_TRUE(log.persisted_to(LogIndex(4), Term(2)));
  auto r = log.try_append(LogIndex(2), Term(1), entries(3, {3}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->truncated, LogIndex(3));
  EXPECT_EQ(r->last_new, LogIndex(3));
  EXPECT_EQ(log.last_index(), LogIndex(3));
  EXPECT_EQ(log.last_term(), Term(3));
  EXPECT_EQ(log.persisted(), LogIndex(2)) << "persisted moves back with the truncation";
  auto unstable = log.take_unstable();
  ASSERT_EQ(unstable.size(), 1u);
  EXPECT_EQ(unstable[0].index, LogIndex(3));
  log.check_invariants();
}

TEST(RaftLog, Figure2Rule4_StaleAppendDoesNotTruncate) {
  RaftLog log;
  log.append(entries(1, {1, 1, 1, 1}));
  auto r = log.try_append(LogIndex(0), Term(0), entries(1, {1, 1}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->truncated, LogIndex(0));
  EXPECT_EQ(r->last_new, LogIndex(2));
  EXPECT_EQ(log.last_index(), LogIndex(4));
}

TEST(RaftLog, Figure2Rule5_CommitAndApplyOnlyPersisted) {
  RaftLog log;
  log.append(entries(1, {1, 1, 1}));
  log.commit_to(LogIndex(3));
  EXPECT_FALSE(log.has_to_apply()) << "nothing persisted yet";
  (void)log.take_unstable();
  ASSERT_TRUE(log.persisted_to(LogIndex(2), Term(1)));
  auto apply = log.take_to_apply(1 << 20);
  ASSERT_EQ(apply.size(), 2u);
  EXPECT_FALSE(log.has_to_apply());
  log.applied_to(LogIndex(2));
  EXPECT_EQ(log.applied(), LogIndex(2));
  log.check_invariants();
}

TEST(RaftLog, StalePersistAcknowledgementIsIgnored) {
  RaftLog log;
  log.append(entries(1, {1, 1, 1}));
  (void)log.take_unstable();  // Ready 1: entries 1..3 of term 1
  ASSERT_TRUE(log.try_append(LogIndex(1), Term(1), entries(2, {2})).has_value());
  (void)log.take_unstable();  // Ready 2: entry 2 of term 2
  EXPECT_FALSE(log.persisted_to(LogIndex(3), Term(1))) << "entry 3 was overwritten";
  EXPECT_TRUE(log.persisted_to(LogIndex(2), Term(2)));
  EXPECT_EQ(log.persisted(), LogIndex(2));
}

TEST(RaftLog, FastBacktrackingHint) {
  RaftLog log;
  log.append(entries(1, {1, 1, 2, 2, 2, 5, 5}));
  // Leader's prev is (7, term 6): skip back to the last entry of term <= 6.
  EXPECT_EQ(log.last_index_with_term_at_most(Term(6), LogIndex(7)).first, LogIndex(7));
  EXPECT_EQ(log.last_index_with_term_at_most(Term(4), LogIndex(7)),
            std::make_pair(LogIndex(5), Term(2)));
  EXPECT_EQ(log.last_index_with_term_at_most(Term(1), LogIndex(9)).first, LogIndex(2));
  EXPECT_EQ(log.last_index_with_term_at_most(Term(0), LogIndex(9)).first, LogIndex(0));
}

TEST(RaftLog, CompactAndRestore) {
  RaftLog log;
  log.append(entries(1, {1, 1, 2, 2}));
  (void)log.take_unstable();
  ASSERT_TRUE(log.persisted_to(LogIndex(4), Term(2)));
  log.commit_to(LogIndex(3));
  (void)log.take_to_apply(1 << 20);
  log.applied_to(LogIndex(3));
  log.compact(LogIndex(2));
  EXPECT_EQ(log.first_index(), LogIndex(3));
  EXPECT_EQ(log.term(LogIndex(2)), Term(1));
  EXPECT_FALSE(log.term(LogIndex(1)).has_value());
  log.check_invariants();
  // §7: a snapshot matching an existing entry keeps what follows.
  log.restore(LogIndex(4), Term(2));
  EXPECT_EQ(log.last_index(), LogIndex(4));
  EXPECT_EQ(log.committed(), LogIndex(4));
  log.check_invariants();
  RaftLog other;
  other.append(entries(1, {1, 1}));
  other.restore(LogIndex(5), Term(3));  // does not match: everything goes
  EXPECT_EQ(other.last_index(), LogIndex(5));
  EXPECT_EQ(other.size(), 0u);
  other.check_invariants();
}

TEST(RaftLog, RestartRebuildsFromDisk) {
  RaftLog log(LogIndex(10), Term(3), entries(11, {3, 4}), LogIndex(11));
  EXPECT_EQ(log.first_index(), LogIndex(11));
  EXPECT_EQ(log.last_index(), LogIndex(12));
  EXPECT_EQ(log.persisted(), LogIndex(12));
  EXPECT_EQ(log.committed(), LogIndex(11));
  EXPECT_EQ(log.applied(), LogIndex(10));
  EXPECT_FALSE(log.has_unstable());
  EXPECT_TRUE(log.has_to_apply());
}

TEST(Rng, IsDeterministicAndInRange) {
  Rng a(5), b(5), c(6);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
    uint64_t v = a.between(10, 19);
    EXPECT_EQ(v, b.between(10, 19));
    EXPECT_GE(v, 10u);
    EXPECT_LE(v, 19u);
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace chorus::raft
