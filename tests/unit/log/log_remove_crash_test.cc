// Crash points under a load that also removes records (truncate_suffix, trim_prefix, reset) and
// closes cleanly now and then: every reopen succeeds and shows the state before the interrupted
// call, after it, or (for calls that remove segment by segment) a state in between.
#include <gtest/gtest.h>

#include <deque>

#include "log_test_util.h"

namespace chorus::log {
namespace {

using test::kDir;
using test::payload;
using test::Random;
using test::report;
using test::same;
using test::sim_options;

struct State {
  LogIndex first{1};
  std::deque<Bytes> records;
  LogIndex last() const { return first + records.size() - 1; }
  const Bytes& at(LogIndex i) const { return records[i - first]; }
};

enum class Call : uint8_t { kNone, kAppend, kTruncate, kTrim, kReset, kReopen };

// The call a power cut interrupted, and what it would have left.
struct InFlight {
  Call call = Call::kNone;
  std::vector<Bytes> records;  // kAppend
  LogIndex arg;                // kTruncate: from; kTrim: the first index after it; kReset: next
};

// Record sizes of a workload: mostly small with some large, or (`large`) all large, so that
// 64 KiB segments fill, get trimmed and are reused within a few dozen calls.
struct Workload {
  bool large = false;
  uint64_t max_calls = 80;
};

class RemovingWriter {
 public:
  RemovingWriter(SimFileSystem& fs, Options options, Workload load = {})
      : fs_(fs), options_(options), load_(load) {}

  // Runs calls until one fails (the power cut) or `calls` have run.
  void run(Random& rnd, uint64_t calls) {
    auto opened = Log::open(kDir, options_);
    if (!opened.ok()) return;
    log_ = std::move(opened).value();
    for (uint64_t i = 0; i < calls; ++i) {
      if (!step(rnd)) return;
      in_flight_ = {};
    }
  }

  // Drops the (dead) log after the crash.
  void crashed() {
    if (log_ != nullptr) recycled_ += log_->stats().segments_recycled;
    log_.reset();
  }
  // Segment files reused since the run started (before the crash).
  uint64_t recycled() const { return recycled_; }

  // "" when the reopened log is a state the interrupted call may leave; adopts that state.
  std::string check(Log& log) {
    LogIndex first = log.first_index(), last = log.last_index();
    const State& s = state_;
    auto range = [&] {
      return "[" + std::to_string(first.value()) + ", " + std::to_string(last.value()) + "]";
    };
    auto matches = [&](const State& ref, LogIndex from, LogIndex to) {
      for (LogIndex i = from; i <= to; i = i.next()) {
        auto got = log.read(i);
        if (!got.ok() || i < ref.first || i > ref.last() || !same(*got, ref.at(i))) return false;
      }
      return true;
    };
    bool ok = false;
    State next = s;
    switch (in_flight_.call) {
      case Call::kNone:
      case Call::kReopen:
        ok = first == s.first && last == s.last();
        break;
      case Call::kAppend:
        for (auto& r : in_flight_.records) next.records.push_back(r);
        ok = first == s.first && (last == s.last() || last == next.last());
        break;
      case Call::kTruncate:  // segments go from the back, one by one
        ok = first == s.first && last >= in_flight_.arg.prev() && last <= s.last();
        break;
      case Call::kTrim:  // segments go from the front, one by one
        ok = last == s.last() && first >= s.first && first <= in_flight_.arg;
        break;
      case Call::kReset:  // segments go from the back; then the new one at `next`
        ok = (first == in_flight_.arg && last == first.prev()) ||
             (first == s.first && last <= s.last());
        next = {in_flight_.arg, {}};
        break;
    }
    if (!ok)
      return "recovered " + range() + " after a crash in call " +
             std::to_string(static_cast<int>(in_flight_.call)) + " on [" +
             std::to_string(s.first.value()) + ", " + std::to_string(s.last().value()) + "], arg " +
             std::to_string(in_flight_.arg.value());
    const State& ref = in_flight_.call == Call::kAppend ? next : s;
    if (last >= first && !matches(ref, first, last)) return "wrong records in " + range();
    State adopted{first, {}};
    for (LogIndex i = first; i <= last; i = i.next()) adopted.records.push_back(ref.at(i));
    state_ = std::move(adopted);
    return "";
  }

  const State& state() const { return state_; }
  void adopt(State s) { state_ = std::move(s); }

 private:
  bool step(Random& rnd) {
    Log& log = *log_;
    uint64_t kind = rnd.below(20);
    State& s = state_;
    if (kind < 12) {
      in_flight_.call = Call::kAppend;
      for (size_t n = kind < 7 ? 1 : rnd.in(2, 5); n > 0; --n) {
        uint64_t r = rnd.below(10);
        uint64_t size = load_.large ? rnd.in(2000, 9000)
                        : r < 6     ? rnd.below(64)
                                    : rnd.in(500, 5000);
        in_flight_.records.push_back(payload(next_id_++, size));
      }
      auto last = in_flight_.records.size() == 1 ? log.append(in_flight_.records[0])
                                                 : log.append_batch(in_flight_.records);
      if (!last.ok()) return false;
      for (auto& r : in_flight_.records) s.records.push_back(std::move(r));
      return true;
    }
    if (kind < 15) {
      in_flight_.call = Call::kTruncate;
      in_flight_.arg = s.first + rnd.below(s.records.size() + 1);
      if (!log.truncate_suffix(in_flight_.arg).ok()) return false;
      while (!s.records.empty() && s.last() >= in_flight_.arg) s.records.pop_back();
      return true;
    }
    if (kind < 17) {
      in_flight_.call = Call::kTrim;
      // The large workload trims most of the log, as a snapshot would.
      uint64_t keep = load_.large ? rnd.below(std::min<uint64_t>(s.records.size(), 12) + 1)
                                  : s.records.size() - rnd.below(s.records.size() + 1);
      LogIndex upto = s.first + (s.records.size() - keep) - 1;
      auto segs = log.segments();
      size_t drop = 0;
      while (drop + 1 < segs.size() && segs[drop].last_index <= upto) ++drop;
      in_flight_.arg = segs[drop].first_index;
      if (!log.trim_prefix(upto).ok()) return false;
      s.records.erase(s.records.begin(), s.records.begin() + (in_flight_.arg - s.first));
      s.first = in_flight_.arg;
      return true;
    }
    if (kind < 18) {
      in_flight_.call = Call::kReset;
      in_flight_.arg = s.last() + 1 + rnd.below(50);
      if (!log.reset(in_flight_.arg).ok()) return false;
      s = {in_flight_.arg, {}};
      return true;
    }
    in_flight_.call = Call::kReopen;
    recycled_ += log.stats().segments_recycled;
    if (!log.close().ok()) return false;
    log_.reset();
    auto opened = Log::open(kDir, options_);
    if (!opened.ok()) return false;
    log_ = std::move(opened).value();
    return true;
  }

  SimFileSystem& fs_;
  Options options_;
  std::unique_ptr<Log> log_;
  State state_;
  InFlight in_flight_;
  Workload load_;
  uint64_t next_id_ = 1;
  uint64_t recycled_ = 0;
};

std::string crash_point(uint64_t seed, Workload load = {}, uint64_t* recycled = nullptr) {
  SimFileSystem fs(seed);
  Random rnd(seed);
  Options options = sim_options(&fs);
  RemovingWriter w(fs, options, load);
  uint64_t calls = rnd.below(load.max_calls);
  fs.set_crash_after_ops(rnd.below(15 + calls * 3));
  w.run(rnd, calls);
  fs.crash(CrashMode::kRandom);
  w.crashed();
  if (recycled != nullptr) *recycled += w.recycled();
  auto log = Log::open(kDir, options);
  if (!log.ok()) return "reopen failed: " + log.status().ToString();
  (*log)->check_invariants();
  if (auto err = w.check(**log); !err.empty()) return err;
  // The recovered log goes on: an append, then a clean reopen.
  State s = w.state();
  s.records.push_back(payload(~0ull, 33));
  if (!(*log)->append(s.records.back()).ok()) return "append after recovery failed";
  log->reset();
  log = Log::open(kDir, options);
  if (!log.ok()) return "second reopen failed: " + log.status().ToString();
  w.adopt(s);
  return w.check(**log).empty() ? "" : "the append after recovery did not survive a reopen";
}

TEST(LogRemoveCrash, TruncateTrimAndResetSurviveRandomCrashPoints) {
  test::Stopwatch clock;
  uint64_t points = 0;
  for (uint64_t seed = 4'000'000; seed < 4'000'000 + test::scaled(2000); ++seed) {
    std::string err = crash_point(seed);
    ASSERT_EQ(err, "") << "seed " << seed;
    points++;
  }
  report("crash_points", points);
  clock.report_times();
}

// The same with large records and deep trims: segment files go through the recycling pool and
// come back as new segments holding the records of their earlier use after the new ones.
TEST(LogRemoveCrash, RecycledSegmentsSurviveRandomCrashPoints) {
  test::Stopwatch clock;
  uint64_t points = 0, recycled = 0;
  for (uint64_t seed = 5'000'000; seed < 5'000'000 + test::scaled(2000); ++seed) {
    std::string err = crash_point(seed, {.large = true, .max_calls = 150}, &recycled);
    ASSERT_EQ(err, "") << "seed " << seed;
    points++;
  }
  EXPECT_GT(recycled, points / 2) << "the workload hardly reused segment files";
  report("crash_points", points);
  report("segment_files_reused", recycled);
  clock.report_times();
}

// Regression: reset() removes every segment before it creates the new one; a crash in between
// left a directory without segments, which reopens as a new log at Options::first_index (1): the
// next append then reuses an index, below the one the log had reached.
TEST(LogRemoveCrash, CrashDuringResetNeverMovesTheFirstIndexBack) {
  SimFileSystem fs;
  Options options = sim_options(&fs);
  {
    auto log = std::move(Log::open(kDir, options)).value();
    ASSERT_TRUE(log->reset(LogIndex(50)).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->append(payload(i, 10)).ok());
    fs.set_crash_after_ops(2);  // the segment's removal and its directory sync, nothing more
    EXPECT_FALSE(log->reset(LogIndex(60)).ok());
    fs.crash(CrashMode::kLoseAllUnsynced);
  }
  auto log = Log::open(kDir, options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  LogIndex first = (*log)->first_index();
  EXPECT_TRUE(first == LogIndex(50) || first == LogIndex(60)) << "reopened at " << first;
}

}  // namespace
}  // namespace chorus::log
