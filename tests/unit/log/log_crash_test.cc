// Crash tests on SimFileSystem: power cuts at random points under load, torn tails at every byte,
// and unsynced data in kNone mode. Each reports its figures.
#include <gtest/gtest.h>

#include <thread>

#include "log_test_util.h"

namespace chorus::log {
namespace {

using test::diff_log;
using test::kDir;
using test::payload;
using test::Random;
using test::report;
using test::sim_options;

// Mostly small records (fast), some medium and a few of several KiB (so that segments roll).
size_t crash_size(Random& rnd) {
  uint64_t r = rnd.below(20);
  if (r < 14) return rnd.below(65);
  if (r < 19) return rnd.in(65, 1500);
  return rnd.in(1500, 6000);
}

// One writer issuing single appends, batches and transactions, remembering what it issued and
// which calls returned ok.
class Writer {
 public:
  explicit Writer(uint64_t first_id) : next_id_(first_id) {}

  // Issues one random operation; false when the call failed (the writer then stops).
  bool step(Log& log, Random& rnd) {
    std::vector<Bytes> recs;
    uint64_t kind = rnd.below(20);
    size_t n = kind < 10 ? 1 : rnd.in(2, 8);
    for (size_t k = 0; k < n; ++k) recs.push_back(payload(next_id_++, crash_size(rnd)));
    Result<LogIndex> last = LogIndex(0);
    if (kind < 10) {
      last = log.append(recs[0]);
    } else if (kind < 15) {
      last = log.append_batch(recs);
    } else {
      auto txn = log.begin();
      for (const auto& r : recs) txn.append(r);
      if (kind == 19) {  // aborted: nothing is issued
        txn.abort();
        recs.clear();
      }
      last = txn.commit();
    }
    for (auto& r : recs) issued_.push_back(std::move(r));
    if (!last.ok()) return false;
    if (*last != LogIndex(issued_.size())) {
      error_ = "append returned index " + std::to_string(last->value()) + ", want " +
               std::to_string(issued_.size());
      return false;
    }
    acked_ = issued_.size();
    return true;
  }

  const std::vector<Bytes>& issued() const { return issued_; }
  size_t acked() const { return acked_; }
  const std::string& error() const { return error_; }

 private:
  uint64_t next_id_;
  std::vector<Bytes> issued_;  // issued_[i] went to index i + 1
  size_t acked_ = 0;           // issued_[0, acked_) were acknowledged
  std::string error_;
};

struct CrashStats {
  uint64_t points = 0, stopped_mid_call = 0, between_calls = 0, crashes_in_recovery = 0;
  uint64_t acked_records = 0, unacked_kept = 0, unacked_lost = 0;

  CrashStats& operator+=(const CrashStats& o) {
    points += o.points;
    stopped_mid_call += o.stopped_mid_call;
    between_calls += o.between_calls;
    crashes_in_recovery += o.crashes_in_recovery;
    acked_records += o.acked_records;
    unacked_kept += o.unacked_kept;
    unacked_lost += o.unacked_lost;
    return *this;
  }
};

// Reopens after a crash and checks: the open succeeds; the log is exactly the records issued up
// to the last acknowledged call, or up to the end of the call in flight (all or nothing); new
// appends work and survive a clean reopen. "" when all hold.
std::string check_recovered(const Options& options, const Writer& w, Random& rnd,
                            CrashStats& stats) {
  auto opened = Log::open(kDir, options);
  if (!opened.ok()) return "reopen failed: " + opened.status().ToString();
  auto log = std::move(opened).value();
  log->check_invariants();
  uint64_t last = log->last_index().value();
  if (last != w.acked() && last != w.issued().size()) {
    return "recovered last index " + std::to_string(last) + ", want " + std::to_string(w.acked()) +
           " (acknowledged) or " + std::to_string(w.issued().size()) + " (issued)";
  }
  std::vector<Bytes> want(w.issued().begin(), w.issued().begin() + last);
  if (auto d = diff_log(*log, LogIndex(1), want, &rnd, 16); !d.empty()) return "after crash: " + d;
  if (last > w.acked()) stats.unacked_kept++;
  if (last < w.issued().size()) stats.unacked_lost++;
  stats.acked_records += w.acked();

  want.push_back(payload(~0ull, 5));
  want.push_back(payload(~1ull, 300));
  auto a = log->append(want[want.size() - 2]);
  auto b = log->append_batch(std::span<const Bytes>(want).last(1));
  if (!a.ok() || !b.ok() || *b != LogIndex(want.size())) return "append after recovery failed";
  if (!log->close().ok()) return "clean close after recovery failed";
  log.reset();
  opened = Log::open(kDir, options);
  if (!opened.ok()) return "second reopen failed: " + opened.status().ToString();
  if (auto d = diff_log(**opened, LogIndex(1), want, &rnd, 16); !d.empty()) {
    return "after reopen: " + d;
  }
  return "";
}

// One crash point: a writer runs until a power cut stops it at a random file system call (or
// until a crash between two calls), the machine reboots, sometimes crashes again during
// recovery, and the log must come back as check_recovered() says.
std::string crash_point(uint64_t seed, Durability durability, CrashStats& stats) {
  SimFileSystem fs(seed);
  Random rnd(seed);
  Options options = sim_options(&fs, durability);
  Writer w(1);
  constexpr uint64_t kMaxCalls = 60;
  bool stop_mid_call = !rnd.one_in(5);
  uint64_t calls = rnd.below(kMaxCalls);
  // About 2.3 file system mutations per call and 12 to create the log.
  if (stop_mid_call) fs.set_crash_after_ops(rnd.below(12 + calls * 23 / 10));
  {
    auto log = Log::open(kDir, options);
    for (uint64_t i = 0; log.ok() && i < calls && w.step(**log, rnd); ++i) {
    }
    if (!w.error().empty()) return w.error();
    fs.crash(CrashMode::kRandom);
  }
  (stop_mid_call ? stats.stopped_mid_call : stats.between_calls)++;
  if (rnd.one_in(8)) {  // a second power cut, during recovery
    fs.set_crash_after_ops(rnd.below(10));
    (void)Log::open(kDir, options);
    fs.crash(CrashMode::kRandom);
    stats.crashes_in_recovery++;
  }
  stats.points++;
  return check_recovered(options, w, rnd, stats);
}

void run_crash_points(Durability durability, uint64_t count, uint64_t seed_base) {
  test::Stopwatch clock;
  std::vector<CrashStats> shards(test::kShards);
  std::string err = test::run_sharded([&](unsigned shard) -> std::string {
    for (uint64_t seed = seed_base + shard; seed < seed_base + count; seed += test::kShards) {
      std::string e = crash_point(seed, durability, shards[shard]);
      if (!e.empty()) return "seed " + std::to_string(seed) + ": " + e;
    }
    return "";
  });
  ASSERT_EQ(err, "");
  CrashStats stats;
  for (const CrashStats& s : shards) stats += s;
  report("crash_points", stats.points);
  report("stopped_mid_call", stats.stopped_mid_call);
  report("crashed_between_calls", stats.between_calls);
  report("second_crash_in_recovery", stats.crashes_in_recovery);
  report("acked_records_checked", stats.acked_records);
  report("unacked_call_kept_whole", stats.unacked_kept);
  report("unacked_call_dropped_whole", stats.unacked_lost);
  clock.report_times();
}

TEST(LogCrash, AlwaysModeKeepsEveryAckAcrossRandomCrashPoints) {
  run_crash_points(Durability::kAlways, test::scaled(5000), 1'000'000);
}

TEST(LogCrash, GroupModeKeepsEveryAckAcrossRandomCrashPoints) {
  run_crash_points(Durability::kGroup, test::scaled(2500), 2'000'000);
}

// ---- Group commit with concurrent appenders -----------------------------------------------------

constexpr int kWriters = 3;

// A record's first 8 bytes name it: writer, call number and position in the call.
uint64_t record_id(uint64_t writer, uint64_t call, uint64_t part) {
  return writer << 48 | call << 8 | part;
}

struct Call {
  std::vector<Bytes> records;
  bool acked = false;
};

// Walks the recovered log: each record must be one that was issued, each call's records must be
// contiguous and whole, each writer's calls in order, and every acknowledged call present.
std::string check_concurrent(const Log& log, LogIndex last,
                             const std::vector<std::vector<Call>>& calls) {
  std::vector<size_t> next_call(kWriters, 0);
  std::vector<const Call*> open(kWriters, nullptr);
  std::vector<size_t> next_part(kWriters, 0);
  int current = -1;  // the writer whose call is being read
  for (auto it = log.iterate(LogIndex(1), last); it.next();) {
    std::string at = "index " + std::to_string(it.index().value()) + ": ";
    if (it.data().size() < 8) return at + "a record nobody issued";
    uint64_t id = load_le<uint64_t>(it.data().data());
    uint64_t t = id >> 48, c = (id >> 8) & 0xffffffffffULL, k = id & 0xff;
    if (t >= kWriters || c >= calls[t].size() || k >= calls[t][c].records.size()) {
      return at + "a record nobody issued";
    }
    if (!test::same(calls[t][c].records[k], it.data())) return at + "wrong bytes";
    if (current >= 0 && current != static_cast<int>(t)) return at + "a call was interleaved";
    if (k != next_part[t] || (k == 0 && c != next_call[t])) return at + "out of order";
    next_part[t] = k + 1;
    current = static_cast<int>(t);
    if (next_part[t] == calls[t][c].records.size()) {  // the call is complete
      next_part[t] = 0;
      next_call[t] = c + 1;
      current = -1;
    }
  }
  if (current >= 0) return "the log ends inside a call";
  for (int t = 0; t < kWriters; ++t) {
    for (size_t c = next_call[t]; c < calls[t].size(); ++c) {
      if (calls[t][c].acked) return "writer " + std::to_string(t) + " lost acknowledged call";
    }
  }
  return "";
}

std::string concurrent_crash_point(uint64_t seed, CrashStats& stats) {
  SimFileSystem fs(seed);
  Random rnd(seed);
  Options options = sim_options(&fs, Durability::kGroup);
  options.group_max_records = rnd.one_in(2) ? 4096 : 3;
  std::vector<std::vector<Call>> calls(kWriters);
  fs.set_crash_after_ops(rnd.below(120));
  {
    auto log = Log::open(kDir, options);
    if (log.ok()) {
      std::vector<std::thread> threads;
      for (int t = 0; t < kWriters; ++t) {
        threads.emplace_back([&, t] {
          Random r(seed * kWriters + t);
          for (uint64_t c = 0; c < 40; ++c) {
            Call call;
            size_t n = r.one_in(2) ? 1 : r.in(2, 6);
            for (size_t k = 0; k < n; ++k) {
              call.records.push_back(payload(record_id(t, c, k), 8 + crash_size(r)));
            }
            calls[t].push_back(call);
            auto last =
                n == 1 ? (*log)->append(call.records[0]) : (*log)->append_batch(call.records);
            if (!last.ok()) return;
            calls[t].back().acked = true;
          }
        });
      }
      for (auto& th : threads) th.join();
    }
    fs.crash(CrashMode::kRandom);
  }
  stats.points++;
  stats.stopped_mid_call++;
  auto opened = Log::open(kDir, options);
  if (!opened.ok()) return "reopen failed: " + opened.status().ToString();
  (*opened)->check_invariants();
  LogIndex last = (*opened)->last_index();
  if (auto err = check_concurrent(**opened, last, calls); !err.empty()) return err;
  for (const auto& writer : calls) {
    for (const auto& call : writer) stats.acked_records += call.acked ? call.records.size() : 0;
  }
  Bytes extra = payload(~0ull, 9);
  if (!(*opened)->append(extra).ok()) return "append after recovery failed";
  if (!(*opened)->close().ok()) return "clean close after recovery failed";
  opened->reset();
  opened = Log::open(kDir, options);
  if (!opened.ok()) return "second reopen failed: " + opened.status().ToString();
  auto got = (*opened)->read(last.next());
  if ((*opened)->last_index() != last.next() || !got.ok() || !test::same(*got, extra)) {
    return "append after recovery was lost";
  }
  return check_concurrent(**opened, last, calls) == "" ? "" : "records changed across a reopen";
}

TEST(LogCrash, GroupModeConcurrentAppendersKeepEveryAckAcrossRandomCrashPoints) {
  test::Stopwatch clock;
  CrashStats stats;
  for (uint64_t seed = 3'000'000; seed < 3'000'000 + test::scaled(2500); ++seed) {
    std::string err = concurrent_crash_point(seed, stats);
    ASSERT_EQ(err, "") << "seed " << seed << " (threads: replays approximately)";
  }
  report("crash_points", stats.points);
  report("acked_records_checked", stats.acked_records);
  clock.report_times();
}

// ---- Torn tail at every byte --------------------------------------------------------------------

// A log of synced records, then `tail` appended in one call whose bytes were written but not
// synced; the crash kept none of them.
struct TornTail {
  std::vector<Bytes> kept, tail;
  std::string path;  // the segment holding the tail
  uint64_t offset = 0;
  Bytes bytes;  // what the tail's call wrote at `offset`
};

TornTail write_unsynced_tail(SimFileSystem& fs, std::vector<size_t> tail_sizes, bool new_segment) {
  TornTail t;
  auto log = std::move(Log::open(kDir, sim_options(&fs, Durability::kNone))).value();
  uint64_t id = 1;
  uint64_t tail_bytes = 0;
  for (size_t size : tail_sizes) tail_bytes += record_size(size);
  // With new_segment, fill the segment until the tail no longer fits.
  for (int i = 0;
       i < 20 || (new_segment && log->segments().back().used_bytes + tail_bytes <= (64u << 10));
       ++i) {
    t.kept.push_back(payload(id++, new_segment ? tail_bytes - record_size(0) : 37 * i % 300));
    EXPECT_TRUE(log->append(t.kept.back()).ok());
  }
  EXPECT_TRUE(log->sync().ok());
  size_t segments = log->segments().size();
  for (size_t size : tail_sizes) t.tail.push_back(payload(id++, size));
  EXPECT_TRUE(log->append_batch(t.tail).ok());
  EXPECT_EQ(log->segments().size(), segments + (new_segment ? 1 : 0));
  SegmentInfo seg = log->segments().back();
  t.path = test::seg_path(seg.file);
  t.offset = seg.used_bytes - tail_bytes;
  t.bytes.resize(tail_bytes);
  auto file = std::move(fs.open(t.path, OpenMode::kReadOnly)).value();
  EXPECT_EQ(*file->read_at(t.offset, t.bytes), tail_bytes);
  file.reset();
  fs.crash(CrashMode::kLoseAllUnsynced);
  return t;
}

// For every k, the disk holds the first k bytes of the tail: recovery keeps every earlier record,
// drops the tail unless it is whole, zeroes what it cut, and takes new appends.
uint64_t torn_tail_at_every_byte(std::vector<size_t> tail_sizes, bool new_segment) {
  uint64_t trials = 0;
  Bytes bytes;
  for (uint64_t k = 0;; ++k) {
    SimFileSystem fs;
    TornTail t = write_unsynced_tail(fs, tail_sizes, new_segment);
    if (k == 0) bytes = t.bytes;
    EXPECT_EQ(t.bytes, bytes) << "the setup is not deterministic";
    if (k > t.bytes.size()) break;
    SCOPED_TRACE("torn at byte " + std::to_string(k) + " of " + std::to_string(t.bytes.size()));
    auto file = std::move(fs.open(t.path, OpenMode::kReadWrite)).value();
    EXPECT_TRUE(file->write_at(t.offset, ByteSpan(t.bytes).first(k)).ok());
    EXPECT_TRUE(file->sync().ok());
    file.reset();

    auto log = Log::open(kDir, sim_options(&fs));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return trials;
    bool whole = k == t.bytes.size();
    std::vector<Bytes> want = t.kept;
    if (whole) want.insert(want.end(), t.tail.begin(), t.tail.end());
    EXPECT_EQ(diff_log(**log, LogIndex(1), want), "");
    EXPECT_EQ((*log)->recovery().torn_tail_cut, k > 0 && !whole);
    if (!whole) {
      Bytes zeros(t.bytes.size());
      Bytes on_disk = *fs.read_durable(t.path);
      EXPECT_TRUE(test::same(zeros, ByteSpan(on_disk).subspan(t.offset, zeros.size())))
          << "the cut tail was not zeroed durably";
    }
    want.push_back(payload(1000 + k, k % 50));
    EXPECT_EQ(*(*log)->append(want.back()), LogIndex(want.size()));
    log->reset();
    log = Log::open(kDir, sim_options(&fs));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return trials;
    EXPECT_EQ(diff_log(**log, LogIndex(1), want), "");
    if (::testing::Test::HasFailure()) return trials;
    ++trials;
  }
  return trials;
}

TEST(LogCrash, TornTailAtEveryByteOfTheLastRecordIsCut) {
  test::Stopwatch clock;
  uint64_t trials = 0;
  for (size_t size : {0, 1, 8, 100, 1000}) trials += torn_tail_at_every_byte({size}, false);
  report("torn_offsets_single_record", trials);
  trials = torn_tail_at_every_byte({300}, true);
  report("torn_offsets_first_in_segment", trials);
  trials = torn_tail_at_every_byte({0, 50, 200}, false);
  report("torn_offsets_batch_of_3", trials);
  clock.report_times();
}

// ---- kNone: what was not synced may be lost, nothing else ---------------------------------------

TEST(LogCrash, NoneModeLosesOnlyUnsyncedRecords) {
  test::Stopwatch clock;
  uint64_t lost = 0, kept = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SimFileSystem fs(seed);
    Random rnd(seed);
    Options options = sim_options(&fs, Durability::kNone);
    Writer w(1);
    uint64_t durable = 0;
    {
      auto log = std::move(Log::open(kDir, options)).value();
      for (uint64_t i = rnd.below(80); i > 0; --i) {
        ASSERT_TRUE(w.step(*log, rnd)) << "seed " << seed;
        if (rnd.one_in(10)) {
          ASSERT_TRUE(log->sync().ok());
        }
      }
      durable = log->durable_index().value();  // synced, or sealed by a segment roll
      fs.crash(seed % 2 ? CrashMode::kRandom : CrashMode::kLoseAllUnsynced);
    }
    auto log = Log::open(kDir, options);
    ASSERT_TRUE(log.ok()) << "seed " << seed << ": " << log.status().ToString();
    uint64_t last = (*log)->last_index().value();
    ASSERT_GE(last, durable) << "seed " << seed << ": lost a synced record";
    ASSERT_LE(last, w.issued().size()) << "seed " << seed;
    if (seed % 2 == 0) {
      ASSERT_EQ(last, durable) << "seed " << seed;
    }
    std::vector<Bytes> want(w.issued().begin(), w.issued().begin() + last);
    ASSERT_EQ(diff_log(**log, LogIndex(1), want), "") << "seed " << seed;
    lost += w.issued().size() - last;
    kept += last - durable;
  }
  report("unsynced_records_lost", lost);
  report("unsynced_records_kept", kept);
  clock.report_times();
}

}  // namespace
}  // namespace chorus::log
