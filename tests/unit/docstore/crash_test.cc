// Power losses on SimFileSystem: random crash points under load in every write mode, every crash
// point of compact / archive / undo, and bit flips in ops, snapshots and the manifest.
#include <thread>

#include "docstore_test_util.h"

namespace chorus::docstore {
namespace {

using test::hash_of;
using test::kDir;
using test::Random;
using test::report;
using test::scaled;
using test::sim_options;

// An independent model of the store: records plus the undo stack of (id, prev).
struct Model {
  std::map<std::string, Json> records;
  std::vector<std::pair<std::string, std::optional<Json>>> undo;

  void set(const std::string& id, const Json& v) {
    auto it = records.find(id);
    undo.emplace_back(id, it == records.end() ? std::nullopt : std::optional<Json>(it->second));
    records[id] = v;
  }
  bool del(const std::string& id) {
    auto it = records.find(id);
    if (it == records.end()) return false;
    undo.emplace_back(id, it->second);
    records.erase(it);
    return true;
  }
  bool pop() {
    if (undo.empty()) return false;
    auto [id, prev] = undo.back();
    undo.pop_back();
    if (prev) {
      records[id] = *prev;
    } else {
      records.erase(id);
    }
    return true;
  }
};

struct PowerLossStats {
  uint64_t trials = 0, acked = 0, unacked_kept = 0, acked_lost_allowed = 0;
};

// One trial: a writer issues random mutations until the simulated power cut stops it; the
// machine loses (or tears) what was not synced; the store must reopen to the state after some
// prefix of the issued mutations that contains every op the mode promised to keep.
std::string power_loss_trial(uint64_t seed, PowerLossStats& stats) {
  Random rnd(seed);
  SimFileSystem fs(seed);
  WriteMode mode = static_cast<WriteMode>(seed % 3);
  Options o = sim_options(&fs, mode);
  o.group_size = static_cast<uint32_t>(rnd.in(2, 8));
  o.checkpoint_threshold = rnd.one_in(3) ? rnd.in(5, 40) : 0;
  o.checkpoint_on_close = false;
  auto opened = Store::open(kDir, o);
  if (!opened.ok()) return "open: " + opened.status().ToString();
  auto s = std::move(opened).value();
  fs.set_crash_after_ops(rnd.in(1, 120));

  Model model;
  std::vector<std::string> states{hash_of(model.records)};  // after each issued mutation
  std::vector<uint64_t> seqs{0};                            // op_seq after it
  size_t acked = 0;                                         // mutations that returned ok
  uint64_t must_keep_seq = 0;  // ops the mode promises to keep (by op_seq)
  uint64_t acked_seq = 0;
  for (int step = 0; step < 60; ++step) {
    uint64_t kind = rnd.below(10);
    std::string id = "k" + std::to_string(rnd.below(12));
    Status st;
    uint64_t nops = 1;
    if (kind < 5) {
      Json v = {{"n", rnd.below(1000)}, {"pad", std::string(rnd.below(60), 'x')}};
      st = s->set(id, v);
      model.set(id, v);
    } else if (kind < 7) {
      if (!model.records.count(id)) continue;
      st = s->del(id);
      model.del(id);
    } else if (kind < 9) {
      nops = rnd.in(1, 5);
      std::vector<std::pair<std::string, Json>> batch;
      for (uint64_t i = 0; i < nops; ++i)
        batch.emplace_back("k" + std::to_string(rnd.below(12)), i);
      st = s->batch([&batch](Batch& b) {
        for (auto& [k, v] : batch) CHORUS_TRY(b.set(k, v));
        return Status::Ok();
      });
      for (auto& [k, v] : batch) model.set(k, v);
    } else {
      if (model.undo.empty()) continue;
      auto r = s->undo();
      st = r.status();
      if (r.ok() && !*r) return "undo found nothing while the model has ops";
      model.pop();
    }
    states.push_back(hash_of(model.records));
    seqs.push_back(seqs.back() + nops);
    if (!st.ok()) break;
    ++acked;
    Stats now = s->stats();
    if (now.op_seq != seqs.back()) return "op_seq accounting differs from the model";
    acked_seq = now.op_seq;
    must_keep_seq = now.durable_seq;
    if (mode == WriteMode::kImmediate && now.durable_seq != now.op_seq) {
      return "immediate: an acknowledged op is not durable";
    }
    if (now.ops_count == 0) model.undo.clear();  // a checkpoint: nothing left to undo
    s->check_invariants();
  }
  if (mode == WriteMode::kGroup && acked_seq - must_keep_seq >= o.group_size) {
    return "group: " + std::to_string(acked_seq - must_keep_seq) + " acked ops not durable";
  }
  CrashMode cm = static_cast<CrashMode>(rnd.below(3));
  fs.crash(cm);
  s.reset();
  auto re = Store::open(kDir, o);
  if (!re.ok()) return "reopen after crash: " + re.status().ToString();
  std::string got = hash_of(test::snapshot_of(**re));
  (*re)->check_invariants();
  // Allowed: any prefix [first, states.size()) whose op_seq covers what the mode promised.
  size_t first = 0;
  while (first < seqs.size() && seqs[first] < must_keep_seq) ++first;
  for (size_t k = states.size(); k-- > first;) {
    if (states[k] == got) {
      ++stats.trials;
      stats.acked += acked;
      if (k > acked) ++stats.unacked_kept;
      if (k < acked) ++stats.acked_lost_allowed;
      // The reopened store keeps working.
      if (!(*re)->set("after", 1).ok()) return "write after reopen failed";
      return "";
    }
  }
  return "state after the crash is no prefix allowed (mode " +
         std::to_string(static_cast<int>(mode)) + ", acked " + std::to_string(acked) + ", issued " +
         std::to_string(states.size() - 1) + ", must keep seq " + std::to_string(must_keep_seq) +
         ")";
}

TEST(DocstoreCrashTest, PowerLossesAcrossModes) {
  const uint64_t trials = scaled(12000);
  constexpr unsigned kShards = 2;
  std::vector<PowerLossStats> stats(kShards);
  std::vector<std::string> errors(kShards);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kShards; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < trials && errors[t].empty(); i += kShards) {
        std::string e = power_loss_trial(1000 + i, stats[t]);
        if (!e.empty()) errors[t] = "seed " + std::to_string(1000 + i) + ": " + e;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) ASSERT_EQ(e, "");
  PowerLossStats total;
  for (const auto& s : stats) {
    total.trials += s.trials;
    total.acked += s.acked;
    total.unacked_kept += s.unacked_kept;
    total.acked_lost_allowed += s.acked_lost_allowed;
  }
  report("power_losses", static_cast<int64_t>(total.trials));
  report("acked_mutations", static_cast<int64_t>(total.acked));
  report("unacked_op_survived", static_cast<int64_t>(total.unacked_kept));
  report("group_async_window_lost", static_cast<int64_t>(total.acked_lost_allowed));
  EXPECT_EQ(total.trials, trials);
}

// Runs `op` against a fresh copy of a store with a fixed history, stopping the power after n
// file-system mutations, for n = 1, 2, ... until op completes; every reopen must show exactly
// the state before or after op.
void every_crash_point(const char* name, const std::function<Status(Store&)>& op,
                       const std::function<std::string(Store&)>& observe) {
  uint64_t points = 0, old_seen = 0, new_seen = 0;
  auto prepare = [](SimFileSystem& fs, Options& o) {
    auto s = std::move(Store::open(kDir, o)).value();
    for (int i = 0; i < 30; ++i) {
      CHORUS_ASSERT(s->set("k" + std::to_string(i % 13), {{"i", i}, {"done", i % 3 == 0}}).ok(),
                    "prepare");
    }
    CHORUS_ASSERT(s->del("k5").ok(), "prepare del");
    (void)fs;
    return s;
  };
  std::string old_state, new_state;
  {
    SimFileSystem fs(1);
    Options o = sim_options(&fs);
    o.checkpoint_on_close = false;
    auto s = prepare(fs, o);
    old_state = observe(*s);
    CHORUS_ASSERT(op(*s).ok(), "op without a crash");
    new_state = observe(*s);
    EXPECT_NE(old_state, new_state) << name;
  }
  for (uint64_t n = 1;; ++n) {
    for (CrashMode cm : {CrashMode::kRandom, CrashMode::kLoseAllUnsynced}) {
      SimFileSystem fs(n * 7 + static_cast<uint64_t>(cm));
      Options o = sim_options(&fs);
      o.checkpoint_on_close = false;
      auto s = prepare(fs, o);
      fs.set_crash_after_ops(n);
      Status st = op(*s);
      if (st.ok() && cm == CrashMode::kLoseAllUnsynced) {
        // op completed before the cut: every crash point inside it was covered.
        fs.crash(cm);
        s.reset();
        report((std::string(name) + "_crash_points").c_str(), static_cast<int64_t>(points));
        report((std::string(name) + "_old_state").c_str(), static_cast<int64_t>(old_seen));
        report((std::string(name) + "_new_state").c_str(), static_cast<int64_t>(new_seen));
        EXPECT_GT(old_seen, 0u);
        EXPECT_GT(new_seen, 0u);
        return;
      }
      fs.crash(cm);
      s.reset();
      auto re = Store::open(kDir, o);
      ASSERT_TRUE(re.ok()) << name << " point " << n << ": " << re.status().ToString();
      std::string got = observe(**re);
      (*re)->check_invariants();
      ++points;
      if (got == old_state) {
        ++old_seen;
      } else if (got == new_state) {
        ++new_seen;
      } else {
        FAIL() << name << " crash point " << n << ": neither old nor new state\n got " << got;
      }
    }
  }
}

std::string records_and_archive(Store& s) {
  std::string out = hash_of(test::snapshot_of(s)) + "|archives:";
  for (const auto& seg : s.list_archive_segments()) {
    auto recs = s.load_archive(seg);
    out += seg + (recs.ok() ? "=" + std::to_string(recs->size()) : "=ERR") + ";";
  }
  return out;
}

TEST(DocstoreCrashTest, EveryCrashPointOfCompact) {
  // After compact the records are the same; the op history is what changes.
  every_crash_point(
      "compact", [](Store& s) { return s.compact(); },
      [](Store& s) {
        return records_and_archive(s) + "|ops:" + std::to_string(s.stats().ops_count);
      });
}

TEST(DocstoreCrashTest, EveryCrashPointOfArchive) {
  every_crash_point(
      "archive",
      [](Store& s) {
        return s.archive([](const std::string&, const Json& j) { return j["done"] == true; }, "old")
            .status();
      },
      records_and_archive);
}

TEST(DocstoreCrashTest, EveryCrashPointOfUndo) {
  every_crash_point(
      "undo", [](Store& s) { return s.undo().status(); },
      [](Store& s) { return records_and_archive(s); });
}

// Bit flips: a store closed cleanly (the log sealed), then one bit flipped in one file. Open
// must fail with kCorruption naming that file, never load a silently different state.
TEST(DocstoreCrashTest, BitFlipsAreDetectedAndNamed) {
  const uint64_t flips = scaled(300);
  Random rnd(99);
  uint64_t detected[3] = {0, 0, 0};
  for (uint64_t i = 0; i < flips; ++i) {
    SimFileSystem fs(i + 1);
    Options o = sim_options(&fs);
    o.checkpoint_on_close = false;
    {
      auto s = std::move(Store::open(kDir, o)).value();
      for (int k = 0; k < 20; ++k) ASSERT_TRUE(s->set("k" + std::to_string(k), k).ok());
      ASSERT_TRUE(s->compact().ok());
      for (int k = 0; k < 10; ++k) ASSERT_TRUE(s->set("k" + std::to_string(k), -k).ok());
      ASSERT_TRUE(s->close().ok());
    }
    int which = static_cast<int>(i % 3);
    std::string file;
    if (which == 0) {
      file = kDir + "/manifest";
    } else if (which == 1) {
      file = kDir + "/snapshots/snap-1.snap";
    } else {
      auto names = *fs.list_dir(kDir + "/ops/main");
      for (const auto& n : names) {
        if (n.ends_with(".seg")) file = kDir + "/ops/main/" + n;
      }
    }
    auto bytes = fs.read_durable(file);
    ASSERT_TRUE(bytes.ok()) << file;
    // Ops: flip within the used part (records, seal, the zeros right after).
    uint64_t limit = which == 2 ? std::min<uint64_t>(bytes->size(), 2048) : bytes->size();
    uint64_t at = rnd.below(limit);
    ASSERT_TRUE(fs.flip_bit(file, at, static_cast<int>(rnd.below(8))).ok());
    auto re = Store::open(kDir, o);
    ASSERT_FALSE(re.ok()) << "flip in " << file << " at " << at << " not detected";
    EXPECT_EQ(re.status().code(), StatusCode::kCorruption) << re.status().ToString();
    std::string base = file.substr(file.rfind('/') + 1);
    EXPECT_NE(re.status().message().find(base), std::string::npos)
        << "error does not name " << base << ": " << re.status().ToString();
    ++detected[which];
  }
  report("flips_manifest_detected", static_cast<int64_t>(detected[0]));
  report("flips_snapshot_detected", static_cast<int64_t>(detected[1]));
  report("flips_ops_detected", static_cast<int64_t>(detected[2]));
}

}  // namespace
}  // namespace chorus::docstore
