// I/O faults on SimFileSystem: fdatasync errors (EIO), a full disk (ENOSPC) and short writes,
// during appends and during segment creation. Each randomized test reports its figures.
#include <gtest/gtest.h>

#include "log_test_util.h"

namespace chorus::log {
namespace {

using test::diff_log;
using test::kDir;
using test::payload;
using test::Random;
using test::report;
using test::sim_options;

// A writer that issues appends, batches and transactions (and, in kNone, syncs), remembering
// every record whose call returned ok and what the failed call in flight carried.
class Writer {
 public:
  // Issues one call. Returns its status; on failure the call's records are kept as in flight.
  Status step(Log& log, Random& rnd, size_t max_size = 1500) {
    in_flight_.clear();
    uint64_t kind = rnd.below(20);
    if (kind == 0 && log.durable_index() < log.last_index()) {  // kNone: make it durable
      Status st = log.sync();
      if (st.ok()) durable_ = acked_.size();
      return st;
    }
    size_t n = kind < 12 ? 1 : rnd.in(2, 6);
    for (size_t k = 0; k < n; ++k) in_flight_.push_back(payload(next_id_++, rnd.below(max_size)));
    Result<LogIndex> last = LogIndex(0);
    if (kind < 12) {
      last = log.append(in_flight_[0]);
    } else if (kind < 16) {
      last = log.append_batch(in_flight_);
    } else {
      auto txn = log.begin();
      for (const auto& r : in_flight_) txn.append(r);
      last = txn.commit();
    }
    if (!last.ok()) return last.status();
    if (*last != LogIndex(acked_.size() + n))
      return Status::Corruption("test: append returned a wrong index");
    for (auto& r : in_flight_) acked_.push_back(std::move(r));
    in_flight_.clear();
    if (log.durable_index() == log.last_index()) durable_ = acked_.size();
    return Status::Ok();
  }

  // One single append of `size` bytes.
  Status append_one(Log& log, size_t size) {
    in_flight_ = {payload(next_id_++, size)};
    auto i = log.append(in_flight_[0]);
    if (!i.ok()) return i.status();
    if (*i != LogIndex(acked_.size() + 1))
      return Status::Corruption("test: append returned a wrong index");
    acked_.push_back(std::move(in_flight_[0]));
    in_flight_.clear();
    if (log.durable_index() == log.last_index()) durable_ = acked_.size();
    return Status::Ok();
  }

  void forget_in_flight() { in_flight_.clear(); }
  const std::vector<Bytes>& acked() const { return acked_; }
  size_t durable() const { return durable_; }

  // "" when `log` (just reopened) holds every durable acknowledged record, then possibly more
  // acknowledged ones and the call in flight whole, and nothing else.
  std::string check(const Log& log, bool all_acked_durable) const {
    size_t last = log.last_index().value();
    size_t must = all_acked_durable ? acked_.size() : durable_;
    size_t may = acked_.size() + in_flight_.size();
    if (last < must || last > may) {
      return "recovered " + std::to_string(last) + " records; must have " + std::to_string(must) +
             ", may have " + std::to_string(may);
    }
    if (last > acked_.size() && last != may) return "the call in flight was recovered in part";
    std::vector<Bytes> want(acked_.begin(), acked_.begin() + std::min(last, acked_.size()));
    if (last > acked_.size()) want.insert(want.end(), in_flight_.begin(), in_flight_.end());
    return diff_log(log, LogIndex(1), want);
  }

 private:
  uint64_t next_id_ = 1;
  std::vector<Bytes> acked_;      // acked_[i] is at index i + 1
  std::vector<Bytes> in_flight_;  // the failed call's records
  size_t durable_ = 0;            // acked_[0, durable_) were durable when acknowledged
};

// After a fault: reboot (crash or not), reopen, check, append, and reopen once more.
std::string reopen_and_check(SimFileSystem& fs, const Options& options, const Writer& w, bool crash,
                             bool all_acked_durable) {
  if (crash) fs.crash(CrashMode::kRandom);
  auto log = Log::open(kDir, options);
  if (!log.ok()) return "reopen: " + log.status().ToString();
  (*log)->check_invariants();
  if (auto d = w.check(**log, all_acked_durable || !crash); !d.empty()) return d;
  LogIndex next = (*log)->last_index().next();
  if (auto i = (*log)->append(payload(~0ull, 77)); !i.ok() || *i != next) {
    return "append after reopen failed";
  }
  log->reset();
  log = Log::open(kDir, options);
  if (!log.ok()) return "second reopen: " + log.status().ToString();
  auto got = (*log)->read(next);
  if (!got.ok() || !test::same(*got, payload(~0ull, 77))) return "append after reopen was lost";
  return "";
}

// Fills the active segment until the next small record needs a new one.
void fill_segment(Log& log, Writer& w, Random& rnd) {
  while (log.segments().back().used_bytes + record_size(1500) <= (64u << 10)) {
    ASSERT_TRUE(w.step(log, rnd).ok());
  }
}

// ---- fdatasync fails (EIO) ---------------------------------------------------------------------

TEST(LogFault, FailedFdatasyncStopsTheLogAndNothingIsAcknowledgedAfterIt) {
  test::Stopwatch clock;
  uint64_t runs = 0, calls_refused = 0, acked_kept = 0;
  for (uint64_t seed = 1; seed <= test::scaled(900); ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Durability d = seed % 3 == 0   ? Durability::kAlways
                   : seed % 3 == 1 ? Durability::kGroup
                                   : Durability::kNone;
    Options options = sim_options(&fs, d);
    Writer w;
    {
      auto log = std::move(Log::open(kDir, options)).value();
      for (uint64_t i = rnd.below(60); i > 0; --i) ASSERT_TRUE(w.step(*log, rnd).ok());
      fs.fail_next_syncs(1);  // the next fdatasync or directory sync, wherever it comes from
      Status first;
      for (int i = 0; i < 200 && first.ok(); ++i) first = w.step(*log, rnd, 6000);
      ASSERT_FALSE(first.ok()) << "seed " << seed << ": no call ever synced";
      ASSERT_EQ(first.code(), StatusCode::kFailed) << "seed " << seed << ": " << first.ToString();
      ASSERT_EQ(fs.counters().failed_syncs, 1u);
      // Zero acknowledgements after the failure, whatever the call.
      EXPECT_EQ(log->health().code(), StatusCode::kFailed) << "seed " << seed;
      for (int i = 0; i < 5; ++i) {
        Writer probe;
        EXPECT_EQ(probe.step(*log, rnd).code(), StatusCode::kFailed) << "seed " << seed;
        calls_refused++;
      }
      EXPECT_EQ(log->sync().code(), StatusCode::kFailed) << "seed " << seed;
      EXPECT_EQ(log->truncate_suffix(LogIndex(1)).code(), StatusCode::kFailed) << "seed " << seed;
      EXPECT_EQ(log->trim_prefix(LogIndex(1)).code(), StatusCode::kFailed) << "seed " << seed;
      calls_refused += 3;
    }
    // Power loss or a plain restart: every record acknowledged before the failure is there.
    std::string err = reopen_and_check(fs, options, w, seed % 2 == 0, false);
    ASSERT_EQ(err, "") << "seed " << seed;
    acked_kept += w.acked().size();
    runs++;
  }
  report("eio_runs", runs);
  report("calls_refused_after_eio", calls_refused);
  report("acked_records_kept", acked_kept);
  clock.report_times();
}

// The fdatasync of the zero-filled next segment is an fdatasync like any other (docs/log.md:
// "A failed fdatasync stops the log").
TEST(LogFault, FailedFdatasyncOfThePreparedSegmentStopsTheLog) {
  SimFileSystem sim;
  test::SyncHookFs fs(sim);
  Options options = sim_options(&sim);
  options.fs = &fs;
  Writer w;
  Random rnd(1);
  auto log = std::move(Log::open(kDir, options)).value();
  fill_segment(*log, w, rnd);
  bool failed_one = false;  // the first sync of the prepared file fails
  fs.before_sync = [&](const std::string& path) {
    if (failed_one || !path.ends_with(".prealloc")) return Status::Ok();
    failed_one = true;
    return Status::IoError("sync " + path + ": Input/output error (injected)");
  };
  Status st = w.append_one(*log, 3000);  // needs the next segment
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(log->health().code(), StatusCode::kFailed) << st.ToString();
  EXPECT_EQ(w.append_one(*log, 3000).code(), StatusCode::kFailed);
}

// ---- ENOSPC and short writes
// ---------------------------------------------------------------------

TEST(LogFault, NoSpaceForTheNextSegmentFailsTheAppendAndTheLogGoesOnOnceThereIsSpace) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, seed % 2 ? Durability::kAlways : Durability::kNone);
    Writer w;
    auto log = std::move(Log::open(kDir, options)).value();
    fill_segment(*log, w, rnd);
    size_t segments = log->segments().size();
    fs.set_capacity(fs.bytes_used() + rnd.below(60000));  // less than a segment's worth
    int refused = 0;
    for (int i = 0; i < 50; ++i) {
      Status st = w.step(*log, rnd);
      if (st.ok()) continue;
      ASSERT_EQ(st.code(), StatusCode::kNoSpace) << "seed " << seed << ": " << st.ToString();
      ASSERT_TRUE(log->health().ok()) << "seed " << seed;
      w.forget_in_flight();  // nothing of a call that failed this way may appear
      refused++;
    }
    ASSERT_GT(refused, 0) << "seed " << seed;
    EXPECT_EQ(log->segments().size(), segments);
    fs.set_capacity(UINT64_MAX);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.step(*log, rnd).ok()) << "seed " << seed;
    EXPECT_GT(log->segments().size(), segments);
    ASSERT_TRUE(log->sync().ok());
    log.reset();
    ASSERT_EQ(reopen_and_check(fs, options, w, seed % 4 < 2, true), "") << "seed " << seed;
  }
}

TEST(LogFault, NoSpaceForABatchPastTheSegmentFailsThatCallOnly) {
  SimFileSystem fs;
  Options options = sim_options(&fs);
  Writer w;
  Random rnd(1);
  auto log = std::move(Log::open(kDir, options)).value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.step(*log, rnd).ok());
  // 100 KiB in one batch: a fresh segment that grows past its preallocated 64 KiB.
  std::vector<Bytes> big(10, Bytes(10 << 10, std::byte{7}));
  fs.set_capacity(fs.bytes_used() + (64 << 10) + (10 << 10));
  auto r = log->append_batch(big);
  ASSERT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
  EXPECT_TRUE(log->health().ok()) << log->health().ToString();
  fs.set_capacity(UINT64_MAX);
  EXPECT_EQ(*log->append_batch(big), LogIndex(w.acked().size() + 10));
}

TEST(LogFault, ShortWriteOfAGroupCommitStopsTheLogAndLeavesNoPartialRecord) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, seed % 2 ? Durability::kAlways : Durability::kGroup);
    Writer w;
    auto log = std::move(Log::open(kDir, options)).value();
    for (uint64_t i = rnd.below(30); i > 0; --i) ASSERT_TRUE(w.step(*log, rnd).ok());
    fs.short_write_next(rnd.below(200));
    Status st = w.step(*log, rnd);
    ASSERT_FALSE(st.ok()) << "seed " << seed;
    // The records already had indexes: the log stops (documented in docs/log.md).
    EXPECT_EQ(st.code(), StatusCode::kFailed) << "seed " << seed << ": " << st.ToString();
    EXPECT_FALSE(log->health().ok());
    log.reset();
    ASSERT_EQ(reopen_and_check(fs, options, w, seed % 3 == 0, true), "") << "seed " << seed;
  }
}

TEST(LogFault, ShortDirectWriteFailsThatCallOnlyAndLeavesNoPartialRecord) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, Durability::kNone);
    Writer w;
    auto log = std::move(Log::open(kDir, options)).value();
    for (uint64_t i = rnd.below(30); i > 0; --i) ASSERT_TRUE(w.step(*log, rnd).ok());
    // Make room, so that the next write is the record's and not a new segment's header.
    while (log->segments().back().used_bytes + record_size(200) > (64u << 10)) {
      ASSERT_TRUE(w.append_one(*log, 200).ok());
    }
    fs.short_write_next(rnd.below(record_size(200)));
    Status st = w.append_one(*log, 200);
    EXPECT_EQ(st.code(), StatusCode::kIoError) << "seed " << seed << ": " << st.ToString();
    ASSERT_TRUE(log->health().ok()) << "seed " << seed;
    w.forget_in_flight();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.step(*log, rnd).ok()) << "seed " << seed;
    ASSERT_TRUE(log->sync().ok());
    log.reset();
    ASSERT_EQ(reopen_and_check(fs, options, w, seed % 2 == 0, true), "") << "seed " << seed;
  }
}

TEST(LogFault, ShortWriteOfANewSegmentHeaderLeavesNoPartialRecord) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, seed % 2 ? Durability::kAlways : Durability::kNone);
    Writer w;
    auto log = std::move(Log::open(kDir, options)).value();
    fill_segment(*log, w, rnd);
    ASSERT_TRUE(log->sync().ok());
    size_t segments = log->segments().size();
    fs.short_write_next(rnd.below(kSegmentHeaderBytes));
    Status st = w.append_one(*log, 3000);  // does not fit: the next write is the new header
    ASSERT_FALSE(st.ok()) << "seed " << seed;
    EXPECT_EQ(log->segments().size(), segments);
    if (log->health().ok()) {  // a failure of this call only: the log must go on
      w.forget_in_flight();
      for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.step(*log, rnd).ok()) << "seed " << seed;
    }
    ASSERT_TRUE(!log->health().ok() || log->sync().ok());
    log.reset();
    ASSERT_EQ(reopen_and_check(fs, options, w, seed % 4 < 2, true), "") << "seed " << seed;
  }
}

// Random squeezes of the disk and short writes under load, then a crash: no partial record is
// ever accepted, every acknowledged one survives, and ENOSPC never stops the log.
TEST(LogFault, RandomNoSpaceAndShortWritesNeverLeavePartialRecords) {
  test::Stopwatch clock;
  uint64_t nospace = 0, short_writes = 0, stopped = 0, runs = 0;
  for (uint64_t seed = 1; seed <= test::scaled(600); ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, seed % 2 ? Durability::kAlways : Durability::kGroup);
    Writer w;
    auto log = std::move(Log::open(kDir, options)).value();
    for (int i = 0; i < 80; ++i) {
      if (rnd.one_in(12)) fs.set_capacity(fs.bytes_used() + rnd.below(160000));
      if (rnd.one_in(4)) fs.set_capacity(UINT64_MAX);
      if (rnd.one_in(60)) fs.short_write_next(rnd.below(300));
      Status st = w.step(*log, rnd, rnd.one_in(10) ? 20000 : 1500);
      if (st.ok()) continue;
      ASSERT_NE(st.code(), StatusCode::kCorruption) << "seed " << seed << ": " << st.ToString();
      if (st.code() == StatusCode::kNoSpace) {
        nospace++;
        ASSERT_TRUE(log->health().ok()) << "seed " << seed << ": ENOSPC stopped the log";
        w.forget_in_flight();
        continue;
      }
      short_writes++;
      if (log->health().ok()) {
        w.forget_in_flight();
        continue;
      }
      stopped++;
      break;
    }
    fs.set_capacity(UINT64_MAX);
    log.reset();
    ASSERT_EQ(reopen_and_check(fs, options, w, true, true), "") << "seed " << seed;
    runs++;
  }
  report("runs", runs);
  report("nospace_failures", nospace);
  report("other_write_failures", short_writes);
  report("runs_where_the_log_stopped", stopped);
  clock.report_times();
}

}  // namespace
}  // namespace chorus::log
