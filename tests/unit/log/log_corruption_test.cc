// Recovery of damaged logs: golden cases written byte by byte, and single-bit flips anywhere in a
// cleanly closed log.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "log_test_util.h"

namespace chorus::log {
namespace {

using test::diff_log;
using test::kDir;
using test::payload;
using test::Random;
using test::report;
using test::seg_path;
using test::sim_options;

// ---- Golden recovery cases ----------------------------------------------------------------------

// One record as the case writes it. Payloads are two bytes, so every record takes 48 bytes and
// the k-th record of a segment (from 0) starts at offset 64 + 48 k.
struct Rec {
  uint64_t index;
  uint64_t synced;
  uint8_t flags = 0;
  RecordType type = RecordType::kData;
};
constexpr uint64_t at(uint64_t k) { return kSegmentHeaderBytes + 48 * k; }
Rec seal(uint64_t last) { return {last, last, 0, RecordType::kSeal}; }
Rec cont(uint64_t index, uint64_t synced) { return {index, synced, kFlagBatchContinues}; }

// A segment file: header, records, zeros up to 64 KiB (as preallocated), then `edit` applied.
// Its sequence number (the records' salt) is its first index; its header records where the
// previous segment's records end.
struct Seg {
  uint64_t first;
  std::vector<Rec> recs;
  std::function<void(Bytes&)> edit = nullptr;
};

// What a recycled file holds past the new records: whole records of its earlier use, salted with
// that use's sequence number (below every live one) and with indexes that follow on.
void fill_with_old_records(Bytes& b, uint64_t from, uint64_t first_index = 1,
                           uint64_t old_sequence = 1000) {
  Bytes old;
  for (uint64_t i = first_index; old.size() + from + 48 <= b.size(); ++i) {
    encode_record({i, i - 1, 0, RecordType::kData, 0}, payload(i, 2), old, old_sequence);
  }
  std::copy(old.begin(), old.end(), b.begin() + static_cast<ptrdiff_t>(from));
}

void flip(Bytes& b, uint64_t offset) { b[offset] ^= std::byte{0x10}; }

void write_segments(SimFileSystem& fs, const std::vector<Seg>& segs) {
  ASSERT_TRUE(fs.create_dir(kDir).ok());
  uint64_t prev_end = 0;
  for (const Seg& s : segs) {
    Bytes b(kSegmentHeaderBytes);
    encode_segment_header({s.first, s.first, 0, prev_end}, b.data());
    for (const Rec& r : s.recs) {
      Bytes data = r.type == RecordType::kSeal ? Bytes() : payload(r.index, 2);
      encode_record({r.index, r.synced, 0, r.type, r.flags}, data, b, s.first);
    }
    prev_end = b.size();
    b.resize(64 << 10);
    if (s.edit) s.edit(b);
    auto file = fs.open(seg_path(segment_file_name(s.first)), OpenMode::kCreate);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->write_at(0, b).ok());
    ASSERT_TRUE((*file)->sync().ok());
  }
  ASSERT_TRUE(fs.sync_dir(kDir).ok());
  ASSERT_TRUE(fs.sync_dir("/").ok());
}

// What an open found, in one line: "ok [first..last] <flags>" or "corruption <file> offset <n>".
std::string outcome(const Result<std::unique_ptr<Log>>& r) {
  if (!r.ok()) {
    if (r.status().code() != StatusCode::kCorruption) return r.status().ToString();
    std::string m = r.status().message();
    return "corruption " + m.substr(0, m.find(':'));
  }
  const Log& log = **r;
  std::string s = "ok [" + std::to_string(log.first_index().value()) + ".." +
                  std::to_string(log.last_index().value()) + "]";
  const RecoveryReport& rep = log.recovery();
  if (rep.clean_shutdown) s += " clean";
  if (rep.torn_tail_cut) s += " cut@" + std::to_string(rep.torn_tail_offset);
  if (rep.records_cut > 0) s += " batch-cut " + std::to_string(rep.records_cut);
  return s;
}

struct Golden {
  const char* name;
  std::vector<Seg> segs;
  std::string want;
};

const std::string kSeg1 = "/log/00000000000000000001.seg";

std::vector<Golden> golden_cases() {
  return {
      {"clean log", {{1, {{1, 0}, {2, 1}, {3, 2}, seal(3)}}}, "ok [1..3] clean"},
      {"crashed log, every record whole", {{1, {{1, 0}, {2, 1}, {3, 2}}}}, "ok [1..3]"},
      {"torn last record is cut",
       {{1,
         {{1, 0}, {2, 1}, {3, 2}},
         [](Bytes& b) { std::fill_n(b.begin() + at(2) + 20, 28, std::byte{0}); }}},
       "ok [1..2] cut@" + std::to_string(at(2))},
      {"bad record that no later record claims is a torn write",
       {{1, {{1, 0}, {2, 1}, {3, 1}}, [](Bytes& b) { flip(b, at(1) + 33); }}},
       "ok [1..1] cut@" + std::to_string(at(1))},
      {"bad record followed by a record whose synced index claims it",
       {{1, {{1, 0}, {2, 1}, {3, 2}}, [](Bytes& b) { flip(b, at(1) + 33); }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"lost record (zeros) followed by a record that claims it",
       {{1,
         {{1, 0}, {2, 1}, {3, 2}},
         [](Bytes& b) { std::fill_n(b.begin() + at(1), 48, std::byte{0}); }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"bad record followed by a seal",
       {{1, {{1, 0}, {2, 1}, seal(2)}, [](Bytes& b) { flip(b, at(1) + 2); }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"garbage after a seal is erased with it",
       {{1, {{1, 0}, {2, 1}, seal(2)}, [](Bytes& b) { b[at(2) + 40 + 3] = std::byte{1}; }}},
       "ok [1..2] clean"},
      {"a record after a seal",
       {{1,
         {{1, 0}, {2, 1}, seal(2)},
         [](Bytes& b) {
           Bytes rec;
           encode_record({3, 0, 0, RecordType::kData, 0}, payload(3, 2), rec, 1);
           std::copy(rec.begin(), rec.end(), b.begin() + at(2) + 40);
         }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(2) + 40)},
      {"recycled file: the earlier use's records after the last one are cut",
       {{1, {{1, 0}, {2, 1}, {3, 2}}, [](Bytes& b) { fill_with_old_records(b, at(3)); }}},
       "ok [1..3] cut@" + std::to_string(at(3))},
      {"recycled file: an old record with the next index does not continue the log",
       {{1, {{1, 0}, {2, 1}, {3, 2}}, [](Bytes& b) { fill_with_old_records(b, at(3), 4); }}},
       "ok [1..3] cut@" + std::to_string(at(3))},
      {"recycled file, cleanly closed",
       {{1, {{1, 0}, {2, 1}, seal(2)}, [](Bytes& b) { fill_with_old_records(b, at(2) + 40); }}},
       "ok [1..2] clean"},
      {"recycled file: a bad record claimed by a later one is still corruption",
       {{1,
         {{1, 0}, {2, 1}, {3, 2}},
         [](Bytes& b) {
           flip(b, at(1) + 33);
           fill_with_old_records(b, at(3));
         }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"recycled closed segment: what follows its end is ignored",
       {{1, {{1, 0}, {2, 1}}, [](Bytes& b) { fill_with_old_records(b, at(2), 3); }}, {3, {{3, 2}}}},
       "ok [1..3]"},
      {"closed segment ends where the next header says, mid-log",
       {{1, {{1, 0}, {2, 1}}},
        {3,
         {{3, 2}},
         [](Bytes& b) {
           encode_segment_header({3, 3, 0, at(1)}, b.data());
         }}},
       "corruption /log/00000000000000000003.seg"},
      {"closed segment ends before where the next header says",
       {{1, {{1, 0}, {2, 1}}},
        {3,
         {{3, 2}},
         [](Bytes& b) {
           encode_segment_header({3, 3, 0, at(3)}, b.data());
         }}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(2))},
      {"segment of an older format version",
       {{1, {{1, 0}}, [](Bytes& b) { store_le<uint32_t>(b.data() + 8, 1); }}},
       "corruption " + kSeg1 + " offset 0"},
      {"torn seal is a crash during close",
       {{1,
         {{1, 0}, {2, 1}, seal(2)},
         [](Bytes& b) { std::fill_n(b.begin() + at(2) + 16, 24, std::byte{0}); }}},
       "ok [1..2] cut@" + std::to_string(at(2))},
      {"unfinished batch at the tail is cut whole",
       {{1, {{1, 0}, cont(2, 1), cont(3, 1)}}},
       "ok [1..1] cut@" + std::to_string(at(1)) + " batch-cut 2"},
      {"unfinished batch claimed durable",
       {{1, {{1, 0}, cont(2, 1), cont(3, 2)}}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"unfinished batch in a closed segment",
       {{1, {{1, 0}, cont(2, 1)}}, {3, {{3, 2}}}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(2))},
      {"bad record in a closed segment, claimed by nothing",
       {{1, {{1, 0}, {2, 0}}, [](Bytes& b) { flip(b, at(1) + 40); }}, {3, {{3, 0}}}},
       "corruption " + kSeg1 + " offset " + std::to_string(at(1))},
      {"gap between segments",
       {{1, {{1, 0}, {2, 1}}}, {4, {{4, 2}, {5, 4}}}},
       "corruption /log/00000000000000000004.seg"},
      {"gap before a sealed last segment",
       {{1, {{1, 0}, {2, 1}}}, {4, {{4, 2}, {5, 4}, seal(5)}}},
       "corruption /log/00000000000000000004.seg"},
      {"bad segment header magic",
       {{1, {{1, 0}}, [](Bytes& b) { flip(b, 0); }}},
       "corruption " + kSeg1 + " offset 0"},
      {"bad segment header check",
       {{1, {{1, 0}}, [](Bytes& b) { flip(b, 17); }}},
       "corruption " + kSeg1 + " offset 0"},
      {"segment header names another first index",
       {{1,
         {{1, 0}},
         [](Bytes& b) {
           encode_segment_header({1, 7}, b.data());
         }}},
       "corruption " + kSeg1 + " offset 0"},
      {"bad header in the last segment",
       {{1, {{1, 0}, {2, 1}}}, {3, {{3, 2}}, [](Bytes& b) { flip(b, 50); }}},
       "corruption /log/00000000000000000003.seg offset 0"},
      {"empty segment after a reset", {{1001, {}}}, "ok [1001..1000]"},
  };
}

// The durable bytes of every segment file.
std::map<std::string, Bytes> segment_images(SimFileSystem& fs) {
  std::map<std::string, Bytes> out;
  auto names = fs.list_dir(kDir);
  for (const auto& name : *names) {
    if (name.ends_with(".seg")) out[name] = *fs.read_durable(seg_path(name));
  }
  return out;
}

// Regression: a writable open that failed on a closed segment destroyed the half-recovered log,
// whose close() synced the last segment through a file that had not been opened (SIGSEGV).
TEST(LogRecoveryGolden, CorruptionInAClosedSegmentFailsAWritableOpenCleanly) {
  SimFileSystem fs;
  write_segments(fs, {{1, {{1, 0}, {2, 1}}, [](Bytes& b) { flip(b, at(1) + 40); }}, {3, {{3, 2}}}});
  auto log = Log::open(kDir, sim_options(&fs));
  EXPECT_EQ(outcome(log), "corruption " + kSeg1 + " offset " + std::to_string(at(1)));
}

TEST(LogRecoveryGolden, EachCaseOpensAsRecorded) {
  for (const Golden& g : golden_cases()) {
    SCOPED_TRACE(g.name);
    for (bool read_only : {true, false}) {
      SimFileSystem fs;
      write_segments(fs, g.segs);
      Options options = sim_options(&fs);
      options.read_only = read_only;
      auto before = segment_images(fs);
      auto log = Log::open(kDir, options);
      EXPECT_EQ(outcome(log), g.want) << (read_only ? "read-only" : "writable");
      if (!log.ok()) {
        // What failed an open is left as found, for tools and operators to inspect.
        EXPECT_TRUE(segment_images(fs) == before) << "a failed open changed the segments";
        continue;
      }
      if (read_only) continue;
      // Writable: what was cut (a torn tail, a seal, a recycled file's leftovers) is zeroed
      // durably, and the log takes appends.
      const SegmentInfo last = (*log)->segments().back();
      Bytes disk = *fs.read_durable(seg_path(last.file));
      EXPECT_TRUE(test::all_zero(ByteSpan(disk).subspan(last.used_bytes)));
      LogIndex next = (*log)->last_index().next();
      EXPECT_EQ(*(*log)->append(payload(99, 5)), next);
      log->reset();
      auto again = Log::open(kDir, sim_options(&fs));
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      EXPECT_TRUE(test::same(*(*again)->read(next), payload(99, 5)));
    }
  }
}

}  // namespace
}  // namespace chorus::log

namespace chorus::log {
namespace {

// ---- Single-bit flips ---------------------------------------------------------------------------

// A cleanly closed log of three full segments (so it ends with a seal), and where everything is.
class FlipTarget {
 public:
  FlipTarget() {
    auto log = std::move(Log::open(kDir, sim_options(&fs_))).value();
    Random rnd(42);
    uint64_t id = 1;
    // Fill three segments nearly to the end, so that recovery scans little zero space.
    while (true) {
      std::vector<Bytes> batch;
      for (size_t n = rnd.one_in(3) ? rnd.in(2, 4) : 1; n > 0; --n) {
        // Mostly large records: recovery's cost per trial grows with the record count.
        batch.push_back(payload(id++, rnd.one_in(5) ? rnd.below(65) : rnd.in(1500, 4000)));
      }
      uint64_t bytes = 0;
      for (const auto& b : batch) bytes += record_size(b.size());
      auto segs = log->segments();
      if (segs.size() == 3 && segs.back().used_bytes + bytes > (64u << 10)) break;
      EXPECT_TRUE(log->append_batch(batch).ok());
      for (auto& b : batch) records_.push_back(std::move(b));
    }
    for (const SegmentInfo& s : log->segments())
      segments_.push_back({seg_path(s.file), s.used_bytes});
    EXPECT_TRUE(log->close().ok());
    log.reset();
    for (Segment& seg : segments_) {
      seg.pristine = *fs_.read_durable(seg.path);
      // Record starts, by walking the image: the offset a corruption report must name.
      for (uint64_t pos = kSegmentHeaderBytes; pos < seg.used;) {
        seg.starts.push_back(pos);
        auto h = decode_record_header(ByteSpan(seg.pristine).subspan(pos), seg.sequence());
        EXPECT_TRUE(h.has_value());
        pos += record_size(h->length);
      }
    }
    Segment& last = segments_.back();
    seal_ = last.used;
    last.starts.push_back(seal_);
    last.used += record_size(0);  // the seal is part of what a flip may hit
    EXPECT_EQ(decode_record(ByteSpan(last.pristine).subspan(seal_), last.sequence())->type,
              RecordType::kSeal);
  }

  struct Segment {
    std::string path;
    uint64_t used;                      // header + records (+ seal in the last one)
    std::vector<uint64_t> starts = {};  // record offsets (and the seal's)
    Bytes pristine = {};
    uint64_t sequence() const { return decode_segment_header(pristine.data())->sequence; }
  };

  SimFileSystem& fs() { return fs_; }
  const std::vector<Segment>& segments() const { return segments_; }
  const std::vector<Bytes>& records() const { return records_; }
  bool in_seal(size_t seg, uint64_t offset) const {
    return seg + 1 == segments_.size() && offset >= seal_;
  }
  // Where a corruption report about a flip at `offset` must point: the damaged record (or 0).
  uint64_t reported_offset(size_t seg, uint64_t offset) const {
    const auto& starts = segments_[seg].starts;
    if (offset < kSegmentHeaderBytes) return 0;
    return *std::prev(std::upper_bound(starts.begin(), starts.end(), offset));
  }
  bool pristine() const {
    for (const Segment& s : segments_) {
      if (*fs_.read_durable(s.path) != s.pristine) return false;
    }
    return true;
  }

 private:
  SimFileSystem fs_;
  std::vector<Segment> segments_;
  std::vector<Bytes> records_;
  uint64_t seal_ = 0;
};

struct FlipStats {
  uint64_t flips = 0, detected = 0, seal_only = 0, undetected_damage = 0, undetected_harmless = 0;
  uint64_t writable_opens = 0;

  FlipStats& operator+=(const FlipStats& o) {
    flips += o.flips;
    detected += o.detected;
    seal_only += o.seal_only;
    undetected_damage += o.undetected_damage;
    undetected_harmless += o.undetected_harmless;
    writable_opens += o.writable_opens;
    return *this;
  }
};

// Flips one bit, opens the log, checks the verdict, and leaves the image as it found it.
std::string flip_trial(FlipTarget& t, size_t seg, uint64_t offset, int bit, bool writable,
                       FlipStats& stats) {
  const std::string& path = t.segments()[seg].path;
  std::string where = path + " offset " + std::to_string(offset) + " bit " + std::to_string(bit);
  if (!t.fs().flip_bit(path, offset, bit).ok()) return "flip_bit failed at " + where;
  stats.flips++;
  stats.writable_opens += writable;
  Options options = sim_options(&t.fs());
  options.read_only = !writable;
  auto log = Log::open(kDir, options);
  bool restored = false;
  std::string err;
  if (t.in_seal(seg, offset)) {
    // A damaged seal looks like a crash during close: cut, and nothing is lost.
    stats.seal_only++;
    if (!log.ok()) {
      err = "seal flip at " + where + " failed the open: " + log.status().ToString();
    } else if (auto d = diff_log(**log, LogIndex(1), t.records()); !d.empty()) {
      err = "seal flip at " + where + " lost data: " + d;
    } else if (writable) {
      // Recovery erased the damaged seal; a clean close writes the same seal back.
      restored = (*log)->close().ok() && t.pristine();
      if (!restored) err = "close after a seal flip did not restore the image";
    }
  } else if (log.ok()) {
    bool damaged = !diff_log(**log, LogIndex(1), t.records()).empty();
    (damaged ? stats.undetected_damage : stats.undetected_harmless)++;
    err = "flip at " + where + " was not detected" + (damaged ? " and damaged data" : "");
  } else {
    std::string want = path + " offset " + std::to_string(t.reported_offset(seg, offset)) + ":";
    if (log.status().code() != StatusCode::kCorruption ||
        log.status().message().find(want) == std::string::npos) {
      err = "flip at " + where + ": got " + log.status().ToString() + ", want " + want;
    }
    stats.detected++;
  }
  if (log.ok()) log->reset();  // closed before the image is restored
  if (!restored && !t.fs().flip_bit(path, offset, bit).ok()) err += "; flip back failed";
  return err;
}

void report_flips(const FlipStats& s) {
  report("flips", s.flips);
  report("detected", s.detected);
  report("seal_only_flips_cut", s.seal_only);
  report("undetected_data_damage", s.undetected_damage);
  report("undetected_harmless", s.undetected_harmless);
  report("writable_opens", s.writable_opens);
}

TEST(LogBitFlip, EveryFlipInARandomSegmentIsDetectedWithItsOffset) {
  test::Stopwatch clock;
  const int kFlips = static_cast<int>(test::scaled(100'000) / test::kShards * test::kShards);
  std::vector<FlipStats> shards(test::kShards);
  std::string err = test::run_sharded([&](unsigned shard) -> std::string {
    FlipTarget t;  // each shard flips bits in its own copy of the same log
    if (t.segments().size() != 3) return "the log has " + std::to_string(t.segments().size());
    Random rnd(2024 + shard);
    for (int i = 0; i < kFlips / static_cast<int>(test::kShards); ++i) {
      size_t seg = rnd.below(t.segments().size());
      uint64_t offset = rnd.below(t.segments()[seg].used);
      int bit = static_cast<int>(rnd.below(8));
      std::string e = flip_trial(t, seg, offset, bit, rnd.one_in(10), shards[shard]);
      if (!e.empty())
        return "shard " + std::to_string(shard) + " trial " + std::to_string(i) + ": " + e;
      if (i % 10'000 == 0 && !t.pristine())
        return "the image changed by trial " + std::to_string(i);
    }
    return t.pristine() ? "" : "the image changed";
  });
  ASSERT_EQ(err, "");
  FlipStats stats;
  for (const FlipStats& s : shards) stats += s;
  EXPECT_EQ(stats.flips, static_cast<uint64_t>(kFlips));
  EXPECT_EQ(stats.detected + stats.seal_only, stats.flips);
  report_flips(stats);
  clock.report_times();
}

// Every bit of what recovery parses first: each segment header, the header and checksum of the
// first and last three records of each segment, and the seal; read-only and writable.
TEST(LogBitFlip, EveryBitOfHeadersChecksumsAndTheSealIsDetected) {
  test::Stopwatch clock;
  FlipTarget t;
  FlipStats stats;
  for (size_t seg = 0; seg < t.segments().size(); ++seg) {
    const auto& s = t.segments()[seg];
    std::vector<std::pair<uint64_t, uint64_t>> ranges{{0, kSegmentHeaderBytes}};
    for (size_t k = 0; k < s.starts.size(); ++k) {
      if (k >= 3 && k + 3 < s.starts.size()) continue;
      uint64_t end = k + 1 < s.starts.size() ? s.starts[k + 1] : s.used;
      ranges.push_back({s.starts[k], s.starts[k] + kRecordHeaderBytes});
      ranges.push_back({end - kRecordTrailerBytes, end});
    }
    for (auto [from, to] : ranges) {
      for (uint64_t offset = from; offset < to; ++offset) {
        for (int bit = 0; bit < 8; ++bit) {
          std::string err = flip_trial(t, seg, offset, bit, (offset + bit) % 7 == 0, stats);
          ASSERT_EQ(err, "");
        }
      }
    }
  }
  ASSERT_TRUE(t.pristine());
  report_flips(stats);
  clock.report_times();
}

}  // namespace
}  // namespace chorus::log
