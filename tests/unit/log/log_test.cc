// chorus::log behaviour on the real file system.
#include "chorus/log/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "chorus/log/record_format.h"
#include "support/temp_dir.h"

namespace chorus::log {
namespace {

using test::TempDir;

std::string str(const Bytes& b) { return std::string(as_string_view(b)); }
Bytes rec(uint64_t i) { return to_bytes("record-" + std::to_string(i)); }

Options small(Durability d = Durability::kAlways) {
  return {.durability = d, .segment_bytes = 64 << 10};
}

std::unique_ptr<Log> open_ok(const std::string& dir, Options o = {}) {
  auto log = Log::open(dir, o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

TEST(Log, NewLogIsEmptyAndStartsAtOne) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  EXPECT_EQ(log->first_index(), LogIndex(1));
  EXPECT_EQ(log->last_index(), LogIndex(0));
  EXPECT_EQ(log->head().status().code(), StatusCode::kNotFound);
}

TEST(Log, AppendReadHeadAcrossReopen) {
  TempDir t;
  {
    auto log = open_ok(t.sub("l"));
    for (uint64_t i = 1; i <= 10; ++i) ASSERT_EQ(*log->append(rec(i)), LogIndex(i));
    EXPECT_EQ(log->durable_index(), LogIndex(10));
    EXPECT_EQ(str(*log->read(LogIndex(3))), "record-3");
    EXPECT_EQ(str(*log->head()), "record-10");
    ASSERT_TRUE(log->close().ok());
  }
  auto log = open_ok(t.sub("l"));
  EXPECT_TRUE(log->recovery().clean_shutdown);
  EXPECT_EQ(log->last_index(), LogIndex(10));
  EXPECT_EQ(str(*log->read(LogIndex(7))), "record-7");
  EXPECT_EQ(*log->append(rec(11)), LogIndex(11));
  EXPECT_EQ(log->read(LogIndex(12)).status().code(), StatusCode::kNotFound);
}

TEST(Log, EmptyRecordsAreRecords) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  ASSERT_EQ(*log->append(ByteSpan()), LogIndex(1));
  EXPECT_TRUE(log->read(LogIndex(1))->empty());
}

TEST(Log, BatchIsContiguousAndAtomicallyVisible) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  std::vector<Bytes> batch;
  for (uint64_t i = 1; i <= 100; ++i) batch.push_back(rec(i));
  ASSERT_EQ(*log->append_batch(batch), LogIndex(100));
  EXPECT_EQ(str(*log->read(LogIndex(50))), "record-50");
  EXPECT_EQ(*log->append_batch(std::span<const Bytes>()), LogIndex(100));  // empty: no-op
}

TEST(Log, TxnCommitAndAbort) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  auto txn = log->begin();
  EXPECT_EQ(txn.append(as_bytes("a")), 0u);
  EXPECT_EQ(txn.append(as_bytes("b")), 1u);
  EXPECT_EQ(log->last_index(), LogIndex(0));  // nothing visible before commit
  ASSERT_EQ(*txn.commit(), LogIndex(2));
  auto aborted = log->begin();
  aborted.append(as_bytes("c"));
  aborted.abort();
  EXPECT_EQ(*aborted.commit(), LogIndex(2));
  EXPECT_EQ(log->last_index(), LogIndex(2));
}

TEST(Log, OversizedRecordIsRefusedAndLogStaysUsable) {
  TempDir t;
  Options o = small();
  o.max_record_bytes = 1000;
  auto log = open_ok(t.sub("l"), o);
  Bytes big(1001);
  auto r = log->append(big);
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(*log->append(Bytes(1000)), LogIndex(1));
}

TEST(Log, RollsSegmentsAndIteratesAcrossThem) {
  TempDir t;
  auto log = open_ok(t.sub("l"), small(Durability::kNone));
  for (uint64_t i = 1; i <= 5000; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
  EXPECT_GT(log->segments().size(), 3u);
  uint64_t expect = 1;
  auto it = log->iterate(LogIndex(1), LogIndex(5000));
  while (it.next()) {
    ASSERT_EQ(it.index(), LogIndex(expect));
    ASSERT_EQ(as_string_view(it.data()), "record-" + std::to_string(expect));
    ++expect;
  }
  ASSERT_TRUE(it.status().ok()) << it.status().ToString();
  EXPECT_EQ(expect, 5001u);
  log.reset();
  auto again = open_ok(t.sub("l"), small());
  EXPECT_EQ(again->last_index(), LogIndex(5000));
  again->check_invariants();
}

TEST(Log, IteratorWithTinyBufferStillReturnsLargeRecords) {
  TempDir t;
  Options o = small();
  o.read_buffer_bytes = 16;
  auto log = open_ok(t.sub("l"), o);
  ASSERT_TRUE(log->append(Bytes(5000, std::byte{7})).ok());
  ASSERT_TRUE(log->append(rec(2)).ok());
  auto it = log->iterate(LogIndex(1), LogIndex(5));
  ASSERT_TRUE(it.next());
  EXPECT_EQ(it.data().size(), 5000u);
  ASSERT_TRUE(it.next());
  EXPECT_FALSE(it.next());
  EXPECT_TRUE(it.status().ok());
}

TEST(Log, TrimPrefixDropsWholeSegmentsOnly) {
  TempDir t;
  auto log = open_ok(t.sub("l"), small(Durability::kNone));
  for (uint64_t i = 1; i <= 2000; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
  auto segs = log->segments();
  LogIndex second_first = segs[1].first_index;
  ASSERT_TRUE(log->trim_prefix(second_first + 1).ok());
  EXPECT_EQ(log->first_index(), second_first);
  EXPECT_EQ(log->read(second_first.prev()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(str(*log->read(second_first + 1)),
            "record-" + std::to_string(second_first.value() + 1));
  log.reset();
  auto again = open_ok(t.sub("l"), small());
  EXPECT_EQ(again->first_index(), second_first);
  EXPECT_EQ(again->last_index(), LogIndex(2000));
}

// A log that appends at the head and trims at the tail reuses its trimmed segment files: their
// old records (salted with the old sequence number) lie past the new ones and never show.
TEST(Log, TrimmedSegmentFilesAreReusedAndTheirOldRecordsNeverShow) {
  TempDir t;
  const std::string dir = t.sub("l");
  Options o = small(Durability::kAlways);
  o.recycle_segments = 2;
  uint64_t next = 1, reused = 0;
  auto log = open_ok(dir, o);
  // Each round fills about two segments (of about 1,170 records), then trims all but the last.
  for (int round = 0; round < 6; ++round) {
    for (int b = 0; b < 5; ++b) {
      std::vector<Bytes> batch;
      for (int i = 0; i < 500; ++i) batch.push_back(rec(next++));
      ASSERT_TRUE(log->append_batch(batch).ok());
    }
    auto segs = log->segments();
    ASSERT_TRUE(log->trim_prefix(segs.back().first_index.prev()).ok());
    if (round == 2) {  // reopen with a reused file as the last segment
      reused += log->stats().segments_recycled;
      log.reset();
      log = open_ok(dir, o);
    }
  }
  reused += log->stats().segments_recycled;
  EXPECT_GE(reused, 6u);
  // Every record left reads back, through read() and an iterator, before and after reopening,
  // read-only too (which scans past the old records without changing anything).
  auto check = [&](Log& l) {
    ASSERT_EQ(l.last_index(), LogIndex(next - 1));
    uint64_t i = l.first_index().value();
    for (auto it = l.iterate(l.first_index(), l.last_index()); it.next(); ++i) {
      EXPECT_EQ(str(Bytes(it.data().begin(), it.data().end())), str(rec(i)));
    }
    EXPECT_EQ(i, next);
    EXPECT_EQ(str(*l.head()), str(rec(next - 1)));
  };
  check(*log);
  log.reset();
  Options ro = o;
  ro.read_only = true;
  check(*open_ok(dir, ro));
  log = open_ok(dir, o);
  check(*log);
  ASSERT_EQ(*log->append(rec(next)), LogIndex(next));
  ++next;
  log.reset();
  check(*open_ok(dir, o));
  // The pool holds at most recycle_segments files.
  auto names = FileSystem::posix().list_dir(dir);
  EXPECT_LE(std::count_if(names->begin(), names->end(),
                          [](const std::string& n) { return n.ends_with(".seg-free"); }),
            2);
}

// The pool outlives a reopen; a pooled file of another segment size (the option changed) is
// removed, never reused.
TEST(Log, RecyclingPoolSurvivesReopenAndDropsFilesOfAnotherSize) {
  TempDir t;
  const std::string dir = t.sub("l");
  auto pool_files = [&] {
    auto names = FileSystem::posix().list_dir(dir);
    return std::count_if(names->begin(), names->end(),
                         [](const std::string& n) { return n.ends_with(".seg-free"); });
  };
  Options o = small(Durability::kNone);
  uint64_t next = 1;
  auto fill = [&](Log& l, int records) {
    for (int i = 0; i < records; ++i, ++next) EXPECT_EQ(*l.append(rec(next)), LogIndex(next));
  };
  {
    auto log = open_ok(dir, o);
    fill(*log, 3000);  // about three segments
    ASSERT_TRUE(log->trim_prefix(log->segments().back().first_index.prev()).ok());
  }
  EXPECT_EQ(pool_files(), 2);
  {
    auto log = open_ok(dir, o);
    fill(*log, 3000);
    EXPECT_GE(log->stats().segments_recycled, 2u);
    ASSERT_TRUE(log->trim_prefix(log->segments().back().first_index.prev()).ok());
  }
  EXPECT_EQ(pool_files(), 2);
  o.segment_bytes = 128 << 10;
  auto log = open_ok(dir, o);
  EXPECT_EQ(pool_files(), 0);
  fill(*log, 3000);
  EXPECT_EQ(log->stats().segments_recycled, 0u);
  EXPECT_EQ(str(*log->read(LogIndex(next - 1))), str(rec(next - 1)));
}

TEST(Log, TruncateSuffixRewritesIndexesDurably) {
  TempDir t;
  {
    auto log = open_ok(t.sub("l"), small(Durability::kNone));
    for (uint64_t i = 1; i <= 2000; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
    ASSERT_TRUE(log->truncate_suffix(LogIndex(500)).ok());
    EXPECT_EQ(log->last_index(), LogIndex(499));
    ASSERT_EQ(*log->append(as_bytes("new-500")), LogIndex(500));
    EXPECT_EQ(log->truncate_suffix(LogIndex(0)).code(), StatusCode::kInvalidArgument);
  }
  auto log = open_ok(t.sub("l"), small());
  EXPECT_EQ(log->last_index(), LogIndex(500));
  EXPECT_EQ(str(*log->read(LogIndex(500))), "new-500");
  EXPECT_EQ(str(*log->read(LogIndex(499))), "record-499");
}

// Regression: the iterator read records back to back, so after a truncation it returned the
// superseded record that still sits in the segment instead of its replacement.
TEST(Log, IteratorSkipsRecordsSupersededByATruncation) {
  TempDir t;
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto log = open_ok(t.sub("l" + std::to_string(reopen)), small(Durability::kNone));
    std::vector<Bytes> abc{to_bytes("a"), to_bytes("b"), to_bytes("c")};
    ASSERT_TRUE(log->append_batch(abc).ok());
    ASSERT_TRUE(log->truncate_suffix(LogIndex(2)).ok());
    ASSERT_TRUE(log->append(as_bytes("B")).ok());
    if (reopen) {
      log.reset();
      log = open_ok(t.sub("l1"), small(Durability::kNone));
    }
    std::vector<std::string> seen;
    for (auto it = log->iterate(LogIndex(1), LogIndex(9)); it.next();) {
      seen.emplace_back(as_string_view(it.data()));
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "B"})) << "reopen " << reopen;
  }
}

TEST(Log, ResetStartsAfterASnapshot) {
  TempDir t;
  {
    auto log = open_ok(t.sub("l"), small());
    for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
    ASSERT_TRUE(log->reset(LogIndex(1001)).ok());
    EXPECT_EQ(log->first_index(), LogIndex(1001));
    EXPECT_EQ(log->last_index(), LogIndex(1000));
    ASSERT_EQ(*log->append(rec(1001)), LogIndex(1001));
  }
  auto log = open_ok(t.sub("l"), small());
  EXPECT_EQ(log->first_index(), LogIndex(1001));
  EXPECT_EQ(log->last_index(), LogIndex(1001));
}

TEST(Log, NewLogCanStartAboveOne) {
  TempDir t;
  Options o = small();
  o.first_index = LogIndex(77);
  auto log = open_ok(t.sub("l"), o);
  EXPECT_EQ(*log->append(rec(77)), LogIndex(77));
}

TEST(Log, SecondWriterIsRefusedReadOnlyIsNot) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  ASSERT_TRUE(log->append(rec(1)).ok());
  auto second = Log::open(t.sub("l"));
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  auto reader = Log::open(t.sub("l"), {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(str(*(*reader)->read(LogIndex(1))), "record-1");
  EXPECT_EQ((*reader)->append(rec(2)).status().code(), StatusCode::kReadOnly);
}

TEST(Log, ClosedLogRefusesCalls) {
  TempDir t;
  auto log = open_ok(t.sub("l"));
  ASSERT_TRUE(log->close().ok());
  EXPECT_EQ(log->append(rec(1)).status().code(), StatusCode::kUnavailable);
}

TEST(Log, NoneModeSyncMakesDurable) {
  TempDir t;
  auto log = open_ok(t.sub("l"), small(Durability::kNone));
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
  EXPECT_EQ(log->durable_index(), LogIndex(0));
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->durable_index(), LogIndex(10));
}

TEST(Log, GroupCommitManyWritersEveryAckDurableAndUnique) {
  TempDir t;
  Options o = small(Durability::kGroup);
  auto log = open_ok(t.sub("l"), o);
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::vector<LogIndex>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t_ = 0; t_ < kThreads; ++t_) {
    threads.emplace_back([&, t_] {
      for (int i = 0; i < kEach; ++i) {
        auto r = log->append(to_bytes(std::to_string(t_) + ":" + std::to_string(i)));
        ASSERT_TRUE(r.ok());
        EXPECT_GE(log->durable_index(), *r);
        got[t_].push_back(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<bool> seen(kThreads * kEach + 1);
  for (auto& v : got) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // per-writer order
    for (auto i : v) {
      ASSERT_FALSE(seen[i.value()]);
      seen[i.value()] = true;
      auto payload = str(*log->read(i));
      EXPECT_EQ(payload.substr(0, payload.find(':')), std::to_string(&v - got.data()));
    }
  }
  log->check_invariants();
}

// Regression: two appenders that both found the segment full used to roll it twice, the second
// new segment renamed over the first (seen as "record N fails its checksum" after the run).
TEST(Log, ConcurrentAppendersAcrossManySegmentRolls) {
  for (auto mode : {Durability::kAlways, Durability::kGroup, Durability::kNone}) {
    TempDir t;
    auto log = open_ok(t.sub("l"), small(mode));
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < 60; ++i) {
          auto r = log->append(Bytes(1500, std::byte(w)));
          ASSERT_TRUE(r.ok()) << r.status().ToString();
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_GT(log->segments().size(), 8u);
    auto it = log->iterate(log->first_index(), log->last_index());
    uint64_t n = 0;
    while (it.next()) ++n;
    ASSERT_TRUE(it.status().ok()) << it.status().ToString();
    EXPECT_EQ(n, 480u);
    log.reset();
    auto again = open_ok(t.sub("l"), small(mode));
    EXPECT_EQ(again->last_index(), LogIndex(480));
  }
}

TEST(Log, IteratorRunsWhileWriterAppends) {
  TempDir t;
  auto log = open_ok(t.sub("l"), small(Durability::kNone));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 5000; ++i) ASSERT_TRUE(log->append(rec(i)).ok());
    done = true;
  });
  uint64_t next = 1;
  while (next <= 5000) {
    auto it = log->iterate(LogIndex(next), LogIndex(5000));
    while (it.next()) {
      ASSERT_EQ(it.index(), LogIndex(next));
      ASSERT_EQ(as_string_view(it.data()), "record-" + std::to_string(next));
      ++next;
    }
    ASSERT_TRUE(it.status().ok()) << it.status().ToString();
    if (done && next > log->last_index().value()) break;
  }
  writer.join();
  EXPECT_EQ(next, 5001u);
}

TEST(Log, DestroyRemovesEverything) {
  TempDir t;
  {
    auto log = open_ok(t.sub("l"));
    ASSERT_TRUE(log->append(rec(1)).ok());
  }
  ASSERT_TRUE(Log::destroy(t.sub("l")).ok());
  EXPECT_FALSE(*FileSystem::posix().exists(t.sub("l")));
  EXPECT_TRUE(Log::destroy(t.sub("l")).ok());  // idempotent
}

TEST(RecordFormat, RoundTripAndRejectsEveryTruncation) {
  Bytes out;
  RecordHeader h{42, 41, 0, RecordType::kData, kFlagBatchContinues};
  encode_record(h, as_bytes("payload"), out, 7);
  ASSERT_EQ(out.size(), record_size(7));
  auto d = decode_record(out, 7);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->index, 42u);
  EXPECT_EQ(d->synced_index, 41u);
  EXPECT_EQ(d->length, 7u);
  EXPECT_EQ(d->flags, kFlagBatchContinues);
  for (size_t n = 0; n < out.size(); ++n) EXPECT_FALSE(decode_record(ByteSpan(out).first(n), 7));
  // Salted: under another segment's sequence number the same bytes are not a record.
  EXPECT_FALSE(decode_record_header(out, 8));
  EXPECT_FALSE(decode_record(out, 8));
}

TEST(RecordFormat, SegmentHeaderRoundTrip) {
  std::byte b[kSegmentHeaderBytes];
  encode_segment_header({5, 1000, kSegmentSupersedes, 4096}, b);
  auto h = decode_segment_header(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sequence, 5u);
  EXPECT_EQ(h->first_index, 1000u);
  EXPECT_EQ(h->flags, kSegmentSupersedes);
  EXPECT_EQ(h->prev_end, 4096u);
  for (size_t i = 0; i < kSegmentHeaderBytes; ++i) {
    b[i] ^= std::byte{1};
    EXPECT_FALSE(decode_segment_header(b)) << "byte " << i;
    b[i] ^= std::byte{1};
  }
}

TEST(RecordFormat, SegmentFileNames) {
  EXPECT_EQ(segment_file_name(1), "00000000000000000001.seg");
  EXPECT_EQ(parse_segment_file_name("00000000000000000042.seg"), 42u);
  EXPECT_FALSE(parse_segment_file_name("00000000000000000000.seg"));
  EXPECT_FALSE(parse_segment_file_name("0000000000000000004x.seg"));
  EXPECT_FALSE(parse_segment_file_name("next-segment.prealloc"));
}

}  // namespace
}  // namespace chorus::log
