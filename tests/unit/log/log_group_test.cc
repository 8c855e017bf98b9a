// kGroup with many concurrent appenders on SimFileSystem: the sync thread's rounds against an
// fdatasync failure, close() and the group_max_records bound. Appends whose call returned ok must
// survive a power cut that keeps only what was synced.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

#include "log_test_util.h"

namespace chorus::log {
namespace {

using test::kDir;
using test::payload;
using test::Random;
using test::report;
using test::sim_options;

constexpr int kAppenders = 16;

// What the appenders saw: every acknowledged record by index, and each call's final error.
struct Outcome {
  std::mutex mu;
  std::map<uint64_t, Bytes> acked;
  std::vector<Status> stopped_by;
  std::atomic<uint64_t> acks{0};
  // Set once any call has returned kFailed; a call that starts after it must not succeed.
  std::atomic<bool> failure_seen{false};
  std::atomic<uint64_t> acked_after_failure{0};
};

// Runs kAppenders threads that append (single records and batches of 2-4) until a call fails.
// `on_ack(n)` runs on the appender that made the n-th acknowledgement.
void run_appenders(Log& log, uint64_t seed, Outcome& out,
                   const std::function<void(uint64_t)>& on_ack) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kAppenders; ++t) {
    threads.emplace_back([&, t] {
      Random rnd(seed * kAppenders + t);
      for (uint64_t call = 0;; ++call) {
        std::vector<Bytes> records(rnd.one_in(3) ? rnd.in(2, 4) : 1);
        for (size_t k = 0; k < records.size(); ++k) {
          records[k] = payload(uint64_t(t) << 40 | call << 8 | k, rnd.in(8, 700));
        }
        const bool after_failure = out.failure_seen.load();
        auto last = records.size() == 1 ? log.append(records[0]) : log.append_batch(records);
        if (!last.ok()) {
          if (last.status().code() == StatusCode::kFailed) out.failure_seen = true;
          std::lock_guard lock(out.mu);
          out.stopped_by.push_back(last.status());
          return;
        }
        if (after_failure) out.acked_after_failure++;
        {
          std::lock_guard lock(out.mu);
          for (size_t k = 0; k < records.size(); ++k) {
            out.acked[last->value() - (records.size() - 1 - k)] = std::move(records[k]);
          }
        }
        on_ack(++out.acks);
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Power cut that keeps exactly what was synced, then every acknowledged record must be there.
std::string check_acked_survive(SimFileSystem& fs, const Options& options, const Outcome& out) {
  fs.crash(CrashMode::kLoseAllUnsynced);
  auto log = Log::open(kDir, options);
  if (!log.ok()) return "reopen: " + log.status().ToString();
  (*log)->check_invariants();
  for (const auto& [index, bytes] : out.acked) {
    auto got = (*log)->read(LogIndex(index));
    if (!got.ok() || !test::same(*got, bytes)) {
      return "acknowledged record " + std::to_string(index) + " was not durable";
    }
  }
  return "";
}

TEST(LogGroup, FailedFdatasyncAmidManyAppendersAcknowledgesNothingAfterIt) {
  test::Stopwatch clock;
  uint64_t acked = 0, failed_calls = 0;
  for (uint64_t seed = 1; seed <= test::scaled(60); ++seed) {
    SimFileSystem fs(seed);
    Options options = sim_options(&fs, Durability::kGroup);
    Outcome out;
    {
      auto log = std::move(Log::open(kDir, options)).value();
      const uint64_t fail_at = Random(seed).in(1, 400);
      run_appenders(*log, seed, out, [&](uint64_t n) {
        if (n == fail_at) fs.fail_next_syncs(1);
      });
      ASSERT_EQ(fs.counters().failed_syncs, 1u) << "seed " << seed;
      EXPECT_EQ(log->health().code(), StatusCode::kFailed) << "seed " << seed;
      for (const Status& st : out.stopped_by) {
        ASSERT_EQ(st.code(), StatusCode::kFailed) << "seed " << seed << ": " << st.ToString();
      }
      EXPECT_EQ(out.acked_after_failure, 0u) << "seed " << seed;
    }
    ASSERT_EQ(check_acked_survive(fs, options, out), "") << "seed " << seed;
    acked += out.acked.size();
    failed_calls += out.stopped_by.size();
  }
  report("acked_records_kept", acked);
  report("calls_failed", failed_calls);
  clock.report_times();
}

TEST(LogGroup, CloseWhileAppendersWaitAcknowledgesOnlyDurableRecords) {
  test::Stopwatch clock;
  uint64_t acked = 0, unavailable = 0;
  for (uint64_t seed = 1; seed <= test::scaled(60); ++seed) {
    SimFileSystem fs(seed);
    Options options = sim_options(&fs, Durability::kGroup);
    Outcome out;
    {
      auto log = std::move(Log::open(kDir, options)).value();
      const uint64_t close_at = Random(seed).in(1, 400);
      Status closed;
      run_appenders(*log, seed, out, [&](uint64_t n) {
        if (n == close_at) closed = log->close();
      });
      ASSERT_TRUE(closed.ok()) << "seed " << seed << ": " << closed.ToString();
      for (const Status& st : out.stopped_by) {
        ASSERT_EQ(st.code(), StatusCode::kUnavailable) << "seed " << seed << ": " << st.ToString();
      }
      unavailable += out.stopped_by.size();
    }
    ASSERT_EQ(check_acked_survive(fs, options, out), "") << "seed " << seed;
    acked += out.acked.size();
  }
  report("acked_records_kept", acked);
  report("calls_refused_by_close", unavailable);
  clock.report_times();
}

// The sync thread takes the records queued during one round's fdatasync as the next round; they
// are acknowledged by that round only, not by the end of the one in flight when they came.
TEST(LogGroup, RecordsQueuedDuringARoundFailWithTheirOwnRound) {
  SimFileSystem sim;
  test::SyncHookFs fs(sim);
  Options options = sim_options(&sim, Durability::kGroup);
  options.fs = &fs;
  // Once armed, the next segment sync waits until released (the round in flight); the one after
  // it (the next round) fails.
  enum class Gate { kOff, kArmed, kHolding, kReleased, kDone };
  std::mutex mu;
  std::condition_variable cv;
  Gate gate = Gate::kOff;
  fs.before_sync = [&](const std::string& path) {
    std::unique_lock lock(mu);
    if (!path.ends_with(".seg")) return Status::Ok();
    if (gate == Gate::kArmed) {
      gate = Gate::kHolding;
      cv.notify_all();
      cv.wait(lock, [&] { return gate == Gate::kReleased; });
    } else if (gate == Gate::kReleased) {
      gate = Gate::kDone;
      return Status::IoError("sync " + path + ": Input/output error (injected)");
    }
    return Status::Ok();
  };
  auto log = std::move(Log::open(kDir, options)).value();
  {
    std::lock_guard lock(mu);
    gate = Gate::kArmed;
  }
  Result<LogIndex> first = LogIndex(0);
  std::thread in_flight([&] { first = log->append(payload(1, 100)); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return gate == Gate::kHolding; });
  }
  std::vector<Status> queued(3);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < queued.size(); ++k) {
    threads.emplace_back([&, k] { queued[k] = log->append(payload(2 + k, 100)).status(); });
  }
  while (log->last_index() < LogIndex(1 + queued.size())) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    gate = Gate::kReleased;
    cv.notify_all();
  }
  in_flight.join();
  for (auto& th : threads) th.join();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, LogIndex(1));
  for (const Status& st : queued) EXPECT_EQ(st.code(), StatusCode::kFailed) << st.ToString();
  EXPECT_EQ(log->durable_index(), LogIndex(1));
  EXPECT_EQ(log->stats().syncs, 2u);
}

// With group_max_records = 2 no round takes more than two records, except a bigger batch alone.
TEST(LogGroup, NoRoundTakesMoreThanGroupMaxRecords) {
  SimFileSystem fs;
  Options options = sim_options(&fs, Durability::kGroup);
  options.group_max_records = 2;
  options.segment_bytes = 1 << 20;  // no roll: only rounds make records durable
  auto log = std::move(Log::open(kDir, options)).value();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 200; ++i) {
        ASSERT_TRUE(log->append(payload(uint64_t(t) << 32 | i, 100)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  LogStats before = log->stats();
  EXPECT_GE(before.syncs * 2, before.records_appended);
  std::vector<Bytes> batch(5, payload(~0ull, 100));
  ASSERT_EQ(*log->append_batch(batch), LogIndex(8 * 200 + 5));
  EXPECT_EQ(log->stats().syncs, before.syncs + 1);
  log->check_invariants();
}

}  // namespace
}  // namespace chorus::log
