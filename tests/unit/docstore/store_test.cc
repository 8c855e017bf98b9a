// The Store's API, one behaviour per test, on SimFileSystem (and POSIX for the lock).
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "chorus/docstore/layout.h"
#include "docstore_test_util.h"

namespace chorus::docstore {
namespace {

using test::kDir;
using test::ManualClock;
using test::sim_options;

Json task(const std::string& name, const std::string& status) {
  return {{"name", name}, {"status", status}};
}

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open(Options o) {
    o.clock = &clock_;
    auto s = Store::open(kDir, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::unique_ptr<Store> open() { return open(sim_options(&fs_)); }
  SimFileSystem fs_{7};
  ManualClock clock_;
};

TEST_F(StoreTest, CrudAndQueries) {
  auto s = open();
  EXPECT_FALSE(s->has("t1"));
  EXPECT_FALSE(s->get("t1").has_value());
  ASSERT_TRUE(s->set("t1", task("Build API", "active")).ok());
  ASSERT_TRUE(s->set("t2", task("Write tests", "done")).ok());
  ASSERT_TRUE(s->set("t1", task("Build API", "done")).ok());
  EXPECT_EQ((*s->get("t1"))["status"], "done");
  EXPECT_TRUE(s->has("t2"));
  EXPECT_EQ(s->count(), 2u);
  EXPECT_EQ(s->count([](const Json& j) { return j["status"] == "done"; }), 2u);
  EXPECT_EQ(s->filter([](const Json& j) { return j["name"] == "Write tests"; }).size(), 1u);
  EXPECT_EQ(s->all().size(), 2u);
  EXPECT_EQ(s->entries().size(), 2u);
  ASSERT_TRUE(s->del("t2").ok());
  EXPECT_FALSE(s->has("t2"));
  Status st = s->del("t2");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  s->check_invariants();
}

TEST_F(StoreTest, StateSurvivesReopenWithAndWithoutCheckpoint) {
  for (bool checkpoint : {true, false}) {
    SimFileSystem fs(3);
    Options o = sim_options(&fs);
    o.checkpoint_on_close = checkpoint;
    {
      auto s = std::move(Store::open(kDir, o)).value();
      ASSERT_TRUE(s->set("a", 1).ok());
      ASSERT_TRUE(s->set("b", 2).ok());
      ASSERT_TRUE(s->del("a").ok());
      ASSERT_TRUE(s->close().ok());
    }
    auto s = std::move(Store::open(kDir, o)).value();
    EXPECT_FALSE(s->has("a"));
    EXPECT_EQ(*s->get("b"), 2);
    EXPECT_EQ(s->stats().generation, checkpoint ? 1u : 0u);
    EXPECT_EQ(s->stats().ops_count, checkpoint ? 0u : 3u);
    s->check_invariants();
  }
}

TEST_F(StoreTest, BatchIsAllOrNothing) {
  auto s = open();
  ASSERT_TRUE(s->set("x", 0).ok());
  ASSERT_TRUE(s->batch([](Batch& b) {
                 CHORUS_TRY(b.set("a", 1));
                 CHORUS_TRY(b.set("b", 2));
                 EXPECT_EQ(*b.get("a"), 1);  // the batch sees its own ops
                 return b.del("x");
               }).ok());
  EXPECT_EQ(s->count(), 2u);
  EXPECT_FALSE(s->has("x"));
  // An error inside rolls everything back.
  Status st = s->batch([](Batch& b) {
    CHORUS_TRY(b.set("c", 3));
    return b.del("nope");
  });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_FALSE(s->has("c"));
  // So does an exception, which propagates.
  EXPECT_THROW((void)s->batch([](Batch& b) -> Status {
    (void)b.set("d", 4);
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_FALSE(s->has("d"));
  EXPECT_EQ(s->stats().ops_count, 4u);  // x, a, b, del x
  s->check_invariants();
}

TEST_F(StoreTest, EmptyBatchDoesNoIo) {
  auto s = open();
  uint64_t before = fs_.counters().mutations;
  ASSERT_TRUE(s->batch([](Batch&) { return Status::Ok(); }).ok());
  EXPECT_EQ(fs_.counters().mutations, before);
}

TEST_F(StoreTest, BatchIsOneDurableWrite) {
  auto s = open();
  uint64_t syncs = fs_.counters().syncs;
  ASSERT_TRUE(s->batch([](Batch& b) {
                 for (int i = 0; i < 10; ++i) CHORUS_TRY(b.set("k" + std::to_string(i), i));
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(fs_.counters().syncs, syncs + 1);
}

TEST_F(StoreTest, UndoRestoresPreviousValues) {
  auto s = open();
  ASSERT_TRUE(s->set("t", task("a", "active")).ok());
  ASSERT_TRUE(s->set("t", task("a", "done")).ok());
  ASSERT_TRUE(s->del("t").ok());
  EXPECT_TRUE(*s->undo());  // the delete
  EXPECT_EQ((*s->get("t"))["status"], "done");
  EXPECT_TRUE(*s->undo());  // the update
  EXPECT_EQ((*s->get("t"))["status"], "active");
  EXPECT_TRUE(*s->undo());  // the create
  EXPECT_FALSE(s->has("t"));
  EXPECT_FALSE(*s->undo());  // nothing left
  ASSERT_TRUE(s->set("u", 1).ok());
  ASSERT_TRUE(s->close().ok());
  Options o = sim_options(&fs_);
  o.checkpoint_on_close = false;
  auto r = std::move(Store::open(kDir, o)).value();
  EXPECT_FALSE(r->has("t"));
  EXPECT_EQ(*r->get("u"), 1);
}

TEST_F(StoreTest, UndoSurvivesReopenWithoutCheckpoint) {
  Options o = sim_options(&fs_);
  o.checkpoint_on_close = false;
  {
    auto s = open(o);
    ASSERT_TRUE(s->set("a", 1).ok());
    ASSERT_TRUE(s->set("a", 2).ok());
    ASSERT_TRUE(s->batch([](Batch& b) {
                   CHORUS_TRY(b.set("b", 1));
                   return b.set("c", 1);
                 }).ok());
    EXPECT_TRUE(*s->undo());  // pops "c" of the batch only
    EXPECT_TRUE(*s->undo());  // and then "b"
    EXPECT_TRUE(*s->undo());  // a = 1 again
    ASSERT_TRUE(s->close().ok());
  }
  auto s = open(o);
  EXPECT_EQ(*s->get("a"), 1);
  EXPECT_FALSE(s->has("b"));
  EXPECT_FALSE(s->has("c"));
  EXPECT_EQ(s->stats().ops_count, 1u);
  EXPECT_TRUE(*s->undo());
  EXPECT_FALSE(s->has("a"));
}

TEST_F(StoreTest, HistoryAndOpsSince) {
  auto s = open();
  ASSERT_TRUE(s->set("a", 1).ok());
  clock_.ms += 1000;
  ASSERT_TRUE(s->set("b", 1).ok());
  ASSERT_TRUE(s->set("a", 2).ok());
  ASSERT_TRUE(s->del("a").ok());
  auto h = s->history("a");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].type, OpType::kSet);
  EXPECT_FALSE(h[0].prev.has_value());
  EXPECT_EQ(*h[1].prev, 1);
  EXPECT_EQ(h[2].type, OpType::kDelete);
  EXPECT_EQ(*h[2].prev, 2);
  EXPECT_EQ(s->ops().size(), 4u);
  EXPECT_EQ(s->ops(clock_.ms).size(), 3u);
  EXPECT_LT(h[0].clock, h[1].clock);
}

TEST_F(StoreTest, CompactWritesSnapshotAndClearsOps) {
  auto s = open();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->set("k" + std::to_string(i), i).ok());
  ASSERT_TRUE(s->compact().ok());
  EXPECT_EQ(s->stats().ops_count, 0u);
  EXPECT_FALSE(*s->undo());  // compacted ops can't be undone
  ManifestInfo m = s->manifest();
  EXPECT_EQ(m.manifest.generation, 1u);
  EXPECT_EQ(m.manifest.snapshot_records, 20u);
  EXPECT_EQ(*fs_.exists(m.snapshot_path), true);
  ASSERT_TRUE(s->compact().ok());  // the old snapshot is removed
  EXPECT_EQ(*fs_.exists(m.snapshot_path), false);
  auto reader = std::move(s->stream_snapshot()).value();
  SnapshotEntry e;
  size_t n = 0;
  while (reader->next(e)) ++n;
  ASSERT_TRUE(reader->status().ok()) << reader->status().ToString();
  EXPECT_EQ(n, 20u);
}

TEST_F(StoreTest, AutoCheckpointAtThreshold) {
  Options o = sim_options(&fs_);
  o.checkpoint_threshold = 10;
  auto s = open(o);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(s->set("k" + std::to_string(i % 7), i).ok());
  EXPECT_EQ(s->stats().generation, 2u);
  EXPECT_EQ(s->stats().ops_count, 5u);
}

TEST_F(StoreTest, ReadOnlyRefusesMutationsAndTails) {
  auto w = open();
  ASSERT_TRUE(w->set("a", 1).ok());
  Options ro = sim_options(&fs_);
  ro.read_only = true;
  auto r = open(ro);  // beside the writer: no lock
  EXPECT_EQ(*r->get("a"), 1);
  Status st = r->set("b", 2);
  EXPECT_EQ(st.code(), StatusCode::kReadOnly);
  EXPECT_NE(st.message().find("read-only"), std::string::npos);
  EXPECT_EQ(r->del("a").code(), StatusCode::kReadOnly);
  EXPECT_EQ(r->undo().status().code(), StatusCode::kReadOnly);
  EXPECT_EQ(r->compact().code(), StatusCode::kReadOnly);
  ASSERT_TRUE(w->set("b", 2).ok());
  auto picked = r->tail();
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_EQ(picked->size(), 1u);
  EXPECT_EQ(*r->get("b"), 2);
  ASSERT_TRUE(w->compact().ok());  // a new generation: the reader reloads
  ASSERT_TRUE(w->set("c", 3).ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(r->count(), 3u);
  ASSERT_TRUE(r->close().ok());
  EXPECT_EQ(w->stats().generation, 1u);  // the reader did not checkpoint
}

TEST_F(StoreTest, SecondWriterIsBusy) {
  auto w = open();
  auto again = Store::open(kDir, sim_options(&fs_));
  EXPECT_EQ(again.status().code(), StatusCode::kBusy) << again.status().ToString();
}

TEST_F(StoreTest, SchemaMigrationOnOpen) {
  {
    auto s = open();
    ASSERT_TRUE(s->set("a", {{"name", "x"}}).ok());
    ASSERT_TRUE(s->close().ok());
  }
  Options o = sim_options(&fs_);
  o.version = 2;
  int calls = 0;
  o.migrate = [&calls](Json r, uint32_t from) {
    ++calls;
    EXPECT_EQ(from, 0u);
    r["priority"] = "normal";
    return r;
  };
  {
    auto s = open(o);
    EXPECT_EQ((*s->get("a"))["priority"], "normal");
    EXPECT_EQ(s->manifest().manifest.schema_version, 2u);
    ASSERT_TRUE(s->close().ok());
  }
  auto s = open(o);  // persisted: not migrated twice
  EXPECT_EQ(calls, 1);
  o.version = 1;
  auto older = Store::open(kDir + "x", o);  // (another dir: fine)
  EXPECT_TRUE(older.ok());
}

TEST_F(StoreTest, ArchiveMovesRecordsToLazySegments) {
  auto s = open();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s->set("t" + std::to_string(i), task("n", i < 4 ? "done" : "active")).ok());
  }
  auto moved = s->archive([](const std::string&, const Json& j) { return j["status"] == "done"; },
                          "2026-Q1");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 4u);
  EXPECT_EQ(s->count(), 6u);
  EXPECT_EQ(s->list_archive_segments(), std::vector<std::string>{"2026-Q1"});
  ASSERT_TRUE(s->set("t9", task("n", "done")).ok());
  ASSERT_EQ(*s->archive([](const std::string& id, const Json&) { return id == "t9"; }, "2026-Q1"),
            1u);
  ASSERT_TRUE(s->close().ok());
  auto r = open();
  auto seg = r->load_archive("2026-Q1");
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  EXPECT_EQ(seg->size(), 5u);
  EXPECT_EQ(r->count(), 5u);
  EXPECT_EQ(r->stats().archive_segments, 1u);
  EXPECT_EQ(r->load_archive("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(
      r->archive([](const std::string&, const Json&) { return true; }, "../x").status().code(),
      StatusCode::kInvalidArgument);
  auto def = r->archive([](const std::string& id, const Json&) { return id == "t5"; });
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(r->list_archive_segments().size(), 2u);  // this quarter's segment
}

TEST_F(StoreTest, WatchSeesOwnOpsAndUndo) {
  auto s = open();
  std::vector<Op> seen;
  uint64_t id = s->watch([&seen](const Op& op) { seen.push_back(op); });
  ASSERT_TRUE(s->set("a", 1).ok());
  ASSERT_TRUE(s->del("a").ok());
  ASSERT_TRUE(*s->undo());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].type, OpType::kSet);
  s->unwatch(id);
  ASSERT_TRUE(s->set("b", 1).ok());
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(StoreTest, ForEachOpStreamsLiveOpsFromDisk) {
  Options o = sim_options(&fs_, WriteMode::kAsync);
  auto s = open(o);
  ASSERT_TRUE(s->set("a", 1).ok());
  clock_.ms += 10;
  ASSERT_TRUE(s->set("b", 1).ok());
  ASSERT_TRUE(s->set("c", 1).ok());
  ASSERT_TRUE(*s->undo());
  std::vector<std::string> ids;
  ASSERT_TRUE(s->for_each_op(clock_.ms, [&ids](const Op& op) {
                 ids.push_back(op.id);
                 return true;
               }).ok());
  EXPECT_EQ(ids, std::vector<std::string>{"b"});
}

TEST_F(StoreTest, SkipLoadStreamsOnly) {
  {
    auto s = open();
    ASSERT_TRUE(s->set("a", 1).ok());
    ASSERT_TRUE(s->close().ok());
  }
  Options o = sim_options(&fs_);
  o.skip_load = true;
  o.read_only = true;
  auto s = open(o);
  EXPECT_EQ(s->count(), 0u);
  auto r = std::move(s->stream_snapshot()).value();
  SnapshotEntry e;
  ASSERT_TRUE(r->next(e));
  EXPECT_EQ(e.id, "a");
  EXPECT_EQ(s->set("b", 1).code(), StatusCode::kReadOnly);
}

TEST_F(StoreTest, GroupModeFlushesAtGroupSize) {
  Options o = sim_options(&fs_, WriteMode::kGroup);
  o.group_size = 4;
  auto s = open(o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->set("k" + std::to_string(i), i).ok());
  EXPECT_EQ(s->stats().buffered_ops, 3u);
  EXPECT_EQ(s->stats().durable_seq, 0u);
  EXPECT_EQ(*s->get("k2"), 2);  // visible before durable
  ASSERT_TRUE(s->set("k3", 3).ok());
  EXPECT_EQ(s->stats().buffered_ops, 0u);
  EXPECT_EQ(s->stats().durable_seq, 4u);
  s->check_invariants();
}

TEST_F(StoreTest, GroupModeFlusherHonoursDelay) {
  SimFileSystem fs(1);
  Options o = sim_options(&fs, WriteMode::kGroup);
  o.background_threads = true;
  o.group_size = 1000;
  o.group_delay_ms = 20;
  auto s = std::move(Store::open(kDir, o)).value();
  ASSERT_TRUE(s->set("a", 1).ok());
  for (int i = 0; i < 200 && s->stats().durable_seq < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(s->stats().durable_seq, 1u);
}

TEST_F(StoreTest, AsyncModeDurableAtSync) {
  Options o = sim_options(&fs_, WriteMode::kAsync);
  auto s = open(o);
  ASSERT_TRUE(s->set("a", 1).ok());
  EXPECT_EQ(s->stats().durable_seq, 0u);
  ASSERT_TRUE(s->sync().ok());
  EXPECT_EQ(s->stats().durable_seq, 1u);
}

TEST_F(StoreTest, MultiWriterRefusesBufferedModes) {
  for (WriteMode m : {WriteMode::kGroup, WriteMode::kAsync}) {
    Options o = sim_options(&fs_, m);
    o.agent_id = "A";
    auto s = Store::open(kDir, o);
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("agent_id"), std::string::npos);
  }
  Options o = sim_options(&fs_);
  o.agent_id = "bad/id";
  EXPECT_EQ(Store::open(kDir, o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ClosedStoreRefusesCalls) {
  auto s = open();
  ASSERT_TRUE(s->close().ok());
  EXPECT_EQ(s->set("a", 1).code(), StatusCode::kUnavailable);
}

TEST_F(StoreTest, SyncFailureStopsTheStore) {
  auto s = open();
  fs_.fail_next_syncs(1);
  EXPECT_FALSE(s->set("a", 1).ok());
  EXPECT_EQ(s->set("b", 1).code(), StatusCode::kFailed);
  EXPECT_EQ(s->health().code(), StatusCode::kFailed);
}

TEST_F(StoreTest, ConcurrentImmediateWritersShareSyncs) {
  auto s = open();
  constexpr int kThreads = 4, kEach = 100;
  uint64_t syncs_before = fs_.counters().syncs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&s, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(s->set("t" + std::to_string(t) + "-" + std::to_string(i), i).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(s->count(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(s->stats().durable_seq, static_cast<uint64_t>(kThreads * kEach));
  uint64_t syncs = fs_.counters().syncs - syncs_before;
  EXPECT_LE(syncs, static_cast<uint64_t>(kThreads * kEach));
  test::report("immediate_syncs_for_400_ops", static_cast<int64_t>(syncs));
  s->check_invariants();
}

// Group mode writes and syncs its buffer with the store's lock released: writers keep buffering
// and readers keep reading meanwhile, and a call returns only once fewer than group_size
// acknowledged ops are not durable.
TEST_F(StoreTest, ConcurrentGroupWritersAndReaders) {
  Options o = sim_options(&fs_, WriteMode::kGroup);
  o.background_threads = true;
  o.group_size = 8;
  auto s = open(o);
  constexpr int kThreads = 4, kEach = 200;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      size_t n = s->count();
      EXPECT_LE(n, static_cast<size_t>(kThreads * kEach));
      if (auto v = s->get("t0-0")) {
        EXPECT_EQ(*v, 0);
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&s, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(s->set("t" + std::to_string(t) + "-" + std::to_string(i), i).ok());
        Stats now = s->stats();
        // This call's op is at most op_seq; every op below op_seq - group_size - (the other
        // writers' calls still in flight) is durable.
        EXPECT_LT(now.op_seq - now.durable_seq, 8u + kThreads) << now.op_seq;
      }
    });
  }
  for (auto& th : writers) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(s->count(), static_cast<size_t>(kThreads * kEach));
  s->check_invariants();
  ASSERT_TRUE(s->sync().ok());
  EXPECT_EQ(s->stats().durable_seq, s->stats().op_seq);
  fs_.crash(CrashMode::kLoseAllUnsynced);
  s.reset();
  o.background_threads = false;
  auto r = open(o);
  EXPECT_EQ(r->count(), static_cast<size_t>(kThreads * kEach));
  r->check_invariants();
}

struct Task {
  std::string name, status;
};
void to_json(Json& j, const Task& t) { j = {{"name", t.name}, {"status", t.status}}; }
void from_json(const Json& j, Task& t) {
  j.at("name").get_to(t.name);
  j.at("status").get_to(t.status);
}

TEST_F(StoreTest, TypedStore) {
  auto ts = TypedStore<Task>::open(kDir, sim_options(&fs_));
  ASSERT_TRUE(ts.ok());
  ASSERT_TRUE(ts->set("t", Task{"Build", "active"}).ok());
  EXPECT_EQ(ts->get("t")->status, "active");
  EXPECT_EQ(ts->get("x").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(ts->raw().set("bad", 5).ok());
  EXPECT_EQ(ts->get("bad").status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(ts->del("bad").ok());
  auto active = ts->filter([](const Task& t) { return t.status == "active"; });
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 1u);
}

// The real file system: flock + pid, and a stale lock of a dead process taken over.
TEST(StoreLockTest, StaleLockFromDeadProcessIsTakenOver) {
  std::string dir = ::testing::TempDir() + "docstore_lock_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  pid_t child = ::fork();
  if (child == 0) {
    Options o;
    o.background_threads = false;
    auto s = Store::open(dir, o);
    if (!s.ok() || !(*s)->set("a", 1).ok()) ::_exit(1);
    ::_exit(0);  // dies holding the lock, without close()
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  Options o;
  auto s = Store::open(dir, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE((*s)->stats().took_over_stale_lock);
  EXPECT_EQ(*(*s)->get("a"), 1);
  auto second = Store::open(dir, o);
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().ToString();
  ASSERT_TRUE((*s)->close().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace chorus::docstore
