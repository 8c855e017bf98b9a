#include "chorus/base/sim_file_system.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <thread>

namespace chorus {
namespace {

std::unique_ptr<File> must_open(FileSystem& fs, const std::string& path,
                                OpenMode mode = OpenMode::kCreate) {
  auto file = fs.open(path, mode);
  CHORUS_ASSERT(file.ok(), file.status().ToString());
  return std::move(file).value();
}

void must_write(File& file, uint64_t offset, std::string_view data) {
  Status s = file.write_at(offset, as_bytes(data));
  CHORUS_ASSERT(s.ok(), s.ToString());
}

// The whole current content of `path`, or "<missing>".
std::string read_all(FileSystem& fs, const std::string& path) {
  auto file = fs.open(path, OpenMode::kReadOnly);
  if (!file.ok()) return "<missing>";
  std::string out((*file)->size().value(), '\0');
  auto n = (*file)->read_at(0, std::as_writable_bytes(std::span(out)));
  CHORUS_ASSERT(n.ok() && *n == out.size());
  return out;
}

std::string durable(const SimFileSystem& fs, const std::string& path) {
  return std::string(as_string_view(fs.read_durable(path).value()));
}

// A synced file "/f" with `content`, its name synced too.
std::unique_ptr<File> synced_file(SimFileSystem& fs, std::string_view content,
                                  const std::string& path = "/f") {
  auto file = must_open(fs, path);
  must_write(*file, 0, content);
  EXPECT_TRUE(file->sync().ok());
  EXPECT_TRUE(fs.sync_dir(parent_dir(path)).ok());
  return file;
}

TEST(SimFileSystem, OpenModesAndErrorsNameThePath) {
  SimFileSystem fs;
  EXPECT_EQ(fs.open("/x", OpenMode::kReadOnly).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.open("/x", OpenMode::kReadWrite).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(fs.open("/x", OpenMode::kCreateNew).ok());
  Status again = fs.open("/x", OpenMode::kCreateNew).status();
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("/x"), std::string::npos) << again.ToString();
  EXPECT_EQ(fs.open("/no/x", OpenMode::kCreate).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.open("relative", OpenMode::kCreate).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs.open("/a//b", OpenMode::kCreate).status().code(), StatusCode::kInvalidArgument);
  auto ro = must_open(fs, "/x", OpenMode::kReadOnly);
  EXPECT_EQ(ro->write_at(0, as_bytes("a")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs.remove_file("/nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.remove_dir("/").code(), StatusCode::kInvalidArgument);
  fs.check_invariants();
}

TEST(SimFileSystem, NamespaceOperations) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").ok());
  ASSERT_TRUE(fs.create_dir("/d").ok());
  for (const char* name : {"/d/b", "/d/c", "/d/a"}) must_open(fs, name);
  EXPECT_EQ(fs.list_dir("/d").value(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(fs.remove_dir("/d").code(), StatusCode::kInvalidArgument);  // not empty
  EXPECT_EQ(fs.create_dir("/d/a").code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(fs.rename("/d/a", "/d/b").ok());
  EXPECT_EQ(fs.list_dir("/d").value(), (std::vector<std::string>{"b", "c"}));
  ASSERT_TRUE(fs.rename("/d/c", "/c").ok());
  EXPECT_TRUE(fs.exists("/c").value());
  EXPECT_FALSE(fs.exists("/d/c").value());
  EXPECT_FALSE(fs.exists("/missing/x").value());
  EXPECT_EQ(fs.rename("/d", "/d/e").code(), StatusCode::kInvalidArgument);
  fs.check_invariants();
}

TEST(SimFileSystem, LoseAllUnsyncedKeepsExactlyTheSyncedBytes) {
  SimFileSystem fs;
  auto file = synced_file(fs, "aaaa");
  must_write(*file, 4, "bbbb");
  ASSERT_TRUE(file->truncate(2).ok());
  EXPECT_EQ(read_all(fs, "/f"), "aa");
  EXPECT_EQ(durable(fs, "/f"), "aaaa");
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/f"), "aaaa");
  fs.check_invariants();
}

// After a random crash every byte is the synced value or that of a pending write covering it
// (zero where the file grew); bytes no pending write touched are exactly the synced ones.
TEST(SimFileSystem, RandomCrashIsDurableImagePlusSomePendingWrites) {
  const std::string base(3000, 'D');
  bool saw_whole = false, saw_dropped = false, saw_torn = false;
  for (uint64_t seed = 0; seed < 300; seed++) {
    SimFileSystem fs(seed);
    auto file = synced_file(fs, base);
    must_write(*file, 100, std::string(1200, 'x'));
    must_write(*file, 2500, std::string(1500, 'y'));
    fs.crash(CrashMode::kRandom);
    fs.check_invariants();
    std::string got = read_all(fs, "/f");
    ASSERT_GE(got.size(), base.size()) << "seed " << seed;
    ASSERT_LE(got.size(), 4000u) << "seed " << seed;
    for (size_t i = 0; i < got.size(); i++) {
      bool in_x = i >= 100 && i < 1300, in_y = i >= 2500;
      char old = i < base.size() ? 'D' : '\0';
      bool ok = got[i] == old || (in_x && got[i] == 'x') || (in_y && got[i] == 'y');
      ASSERT_TRUE(ok) << "seed " << seed << " byte " << i << " = " << int(got[i]);
      if (!in_x && !in_y) {
        ASSERT_EQ(got[i], 'D') << "seed " << seed << " byte " << i;
      }
    }
    auto xs = std::count(got.begin() + 100, got.begin() + 1300, 'x');
    saw_whole |= xs == 1200;
    saw_dropped |= xs == 0;
    saw_torn |= xs > 0 && xs < 1200;
  }
  EXPECT_TRUE(saw_whole && saw_dropped && saw_torn);
}

TEST(SimFileSystem, SameSeedSameCrash) {
  auto run = [](uint64_t seed) {
    SimFileSystem fs(seed);
    auto file = synced_file(fs, "base");
    for (int i = 0; i < 20; i++) must_write(*file, i * 300, std::string(700, char('a' + i)));
    must_open(fs, "/g");
    fs.crash();
    return read_all(fs, "/f") + "|" + read_all(fs, "/g");
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(SimFileSystem, CreatedFileWithoutDirSyncVanishes) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").ok());
  ASSERT_TRUE(fs.sync_dir("/").ok());
  auto file = must_open(fs, "/d/f");
  must_write(*file, 0, "data");
  ASSERT_TRUE(file->sync().ok());
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_FALSE(fs.exists("/d/f").value());
  EXPECT_TRUE(fs.exists("/d").value());

  synced_file(fs, "data", "/d/f");
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/d/f"), "data");
  fs.check_invariants();
}

TEST(SimFileSystem, UnsyncedDirectoryTakesItsFilesWithIt) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").ok());
  synced_file(fs, "data", "/d/f");  // syncs /d but not "/"
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_FALSE(fs.exists("/d").value());
  EXPECT_EQ(fs.bytes_used(), 0u);
  fs.check_invariants();
}

TEST(SimFileSystem, CreateDirsIsDurable) {
  SimFileSystem fs;
  ASSERT_TRUE(create_dirs(fs, "/a/b/c").ok());
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_TRUE(fs.exists("/a/b/c").value());
}

// The write-tmp, sync, rename, sync-dir pattern: after any crash the target holds the old or
// the new content, never neither, and the tmp name exists only beside the old content.
TEST(SimFileSystem, RenameIsAtomicAcrossCrashes) {
  bool saw_old = false, saw_new = false;
  for (uint64_t seed = 0; seed < 100; seed++) {
    SimFileSystem fs(seed);
    synced_file(fs, "old", "/target");
    synced_file(fs, "new", "/tmp");
    ASSERT_TRUE(fs.rename("/tmp", "/target").ok());
    fs.crash(CrashMode::kRandom);
    fs.check_invariants();
    std::string target = read_all(fs, "/target");
    bool tmp = fs.exists("/tmp").value();
    ASSERT_TRUE((target == "old" && tmp) || (target == "new" && !tmp)) << "seed " << seed;
    saw_old |= target == "old";
    saw_new |= target == "new";
  }
  EXPECT_TRUE(saw_old && saw_new);
}

TEST(SimFileSystem, CrossDirectoryRenameIsDurableAfterBothDirSyncs) {
  SimFileSystem fs;
  ASSERT_TRUE(create_dirs(fs, "/a").ok());
  ASSERT_TRUE(create_dirs(fs, "/b").ok());
  synced_file(fs, "data", "/a/f");
  ASSERT_TRUE(fs.rename("/a/f", "/b/f").ok());
  ASSERT_TRUE(fs.sync_dir("/b").ok());
  ASSERT_TRUE(fs.sync_dir("/a").ok());
  fs.crash(CrashMode::kRandom);
  EXPECT_FALSE(fs.exists("/a/f").value());
  EXPECT_EQ(read_all(fs, "/b/f"), "data");
}

TEST(SimFileSystem, HalfDurableCrossDirectoryRenameLeavesTwoNames) {
  SimFileSystem fs;
  ASSERT_TRUE(create_dirs(fs, "/a").ok());
  ASSERT_TRUE(create_dirs(fs, "/b").ok());
  synced_file(fs, "data", "/a/f");
  ASSERT_TRUE(fs.rename("/a/f", "/b/f").ok());
  ASSERT_TRUE(fs.sync_dir("/b").ok());
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/a/f"), "data");
  EXPECT_EQ(read_all(fs, "/b/f"), "data");
  EXPECT_EQ(fs.bytes_used(), 4u);  // one file, two names
  ASSERT_TRUE(fs.remove_file("/a/f").ok());
  EXPECT_EQ(read_all(fs, "/b/f"), "data");
  fs.check_invariants();
}

TEST(SimFileSystem, FailedSyncMakesNothingDurable) {
  SimFileSystem fs;
  auto file = synced_file(fs, "v1");
  must_write(*file, 0, "v2");
  fs.fail_next_syncs(1);
  EXPECT_EQ(file->sync().code(), StatusCode::kIoError);
  EXPECT_EQ(durable(fs, "/f"), "v1");
  must_open(fs, "/g");
  fs.fail_syncs(true);
  EXPECT_EQ(fs.sync_dir("/").code(), StatusCode::kIoError);
  EXPECT_EQ(file->sync().code(), StatusCode::kIoError);
  EXPECT_EQ(fs.counters().failed_syncs, 3u);
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/f"), "v1");
  EXPECT_FALSE(fs.exists("/g").value());
  fs.fail_syncs(false);
  auto again = must_open(fs, "/f", OpenMode::kReadWrite);
  must_write(*again, 0, "v3");
  EXPECT_TRUE(again->sync().ok());
  EXPECT_EQ(durable(fs, "/f"), "v3");
}

TEST(SimFileSystem, CapacityGivesARealShortWrite) {
  SimFileSystem fs;
  fs.set_capacity(100);
  auto file = must_open(fs, "/f");
  Status s = file->write_at(0, as_bytes(std::string(150, 'z')));
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_NE(s.message().find("/f"), std::string::npos);
  EXPECT_EQ(read_all(fs, "/f"), std::string(100, 'z'));
  EXPECT_EQ(fs.bytes_used(), 100u);
  must_write(*file, 10, "overwrite needs no room");
  EXPECT_EQ(file->preallocate(200).code(), StatusCode::kNoSpace);
  EXPECT_EQ(file->size().value(), 100u);
  file.reset();
  ASSERT_TRUE(fs.remove_file("/f").ok());
  EXPECT_EQ(fs.bytes_used(), 0u);
  fs.check_invariants();
}

TEST(SimFileSystem, ShortWriteNextWritesAPrefixThenFails) {
  SimFileSystem fs;
  auto file = must_open(fs, "/f");
  fs.short_write_next(3);
  EXPECT_EQ(file->write_at(0, as_bytes("abcdef")).code(), StatusCode::kIoError);
  EXPECT_EQ(read_all(fs, "/f"), "abc");
  must_write(*file, 3, "DEF");
  EXPECT_EQ(read_all(fs, "/f"), "abcDEF");
}

TEST(SimFileSystem, PreallocateReadsBackZeros) {
  SimFileSystem fs;
  auto file = synced_file(fs, "ab");
  ASSERT_TRUE(file->preallocate(6).ok());
  ASSERT_TRUE(file->preallocate(3).ok());  // never shrinks
  EXPECT_EQ(read_all(fs, "/f"), std::string("ab\0\0\0\0", 6));
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/f"), "ab");
}

TEST(SimFileSystem, FlipBitIsVisibleInReadsAndSurvivesCrash) {
  SimFileSystem fs;
  auto file = synced_file(fs, "AAAA");
  must_write(*file, 2, "BBBB");
  ASSERT_TRUE(fs.flip_bit("/f", 0, 1).ok());  // durable and current
  ASSERT_TRUE(fs.flip_bit("/f", 5, 0).ok());  // only in the pending write
  EXPECT_EQ(read_all(fs, "/f"), "CABBBC");
  EXPECT_EQ(durable(fs, "/f"), "CAAA");
  EXPECT_EQ(fs.flip_bit("/f", 6, 0).code(), StatusCode::kInvalidArgument);
  fs.check_invariants();
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_EQ(read_all(fs, "/f"), "CAAA");
}

TEST(SimFileSystem, HandlesFromBeforeACrashAreDead) {
  SimFileSystem fs;
  auto file = synced_file(fs, "data");
  fs.crash();
  Status s = file->write_at(0, as_bytes("x"));
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("before a crash"), std::string::npos) << s.ToString();
  EXPECT_EQ(file->sync().code(), StatusCode::kIoError);
  EXPECT_EQ(file->size().status().code(), StatusCode::kIoError);
  std::byte b[1];
  EXPECT_EQ(file->read_at(0, b).status().code(), StatusCode::kIoError);
  EXPECT_EQ(read_all(fs, "/f"), "data");
}

TEST(SimFileSystem, LockIsExclusiveAndReleasedByCrash) {
  SimFileSystem fs;
  auto first = fs.lock_file("/LOCK");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(fs.lock_file("/LOCK").status().code(), StatusCode::kBusy);
  EXPECT_TRUE(fs.lock_file("/OTHER").ok());
  first->reset();
  auto second = fs.lock_file("/LOCK");
  ASSERT_TRUE(second.ok());
  fs.crash();
  auto third = fs.lock_file("/LOCK");
  ASSERT_TRUE(third.ok());
  second->reset();  // a lock from before the crash must not release the new holder's
  EXPECT_EQ(fs.lock_file("/LOCK").status().code(), StatusCode::kBusy);
}

TEST(SimFileSystem, CrashAfterOpsStopsEveryCallUntilCrash) {
  SimFileSystem fs;
  auto file = must_open(fs, "/f");
  fs.set_crash_after_ops(2);
  must_write(*file, 0, "a");
  EXPECT_TRUE(file->sync().ok());
  EXPECT_EQ(file->write_at(1, as_bytes("b")).code(), StatusCode::kIoError);
  EXPECT_EQ(fs.exists("/f").status().code(), StatusCode::kIoError);
  fs.crash(CrashMode::kLoseAllUnsynced);
  EXPECT_FALSE(fs.exists("/f").value());  // its name was never synced
  EXPECT_TRUE(fs.open("/f", OpenMode::kCreate).ok());
}

TEST(SimFileSystem, RemovedOpenFileStaysReadableUntilClosed) {
  SimFileSystem fs;
  auto file = synced_file(fs, "data");
  ASSERT_TRUE(fs.remove_file("/f").ok());
  EXPECT_FALSE(fs.exists("/f").value());
  std::string out(4, '\0');
  EXPECT_EQ(file->read_at(0, std::as_writable_bytes(std::span(out))).value(), 4u);
  EXPECT_EQ(out, "data");
  EXPECT_EQ(fs.bytes_used(), 4u);
  file.reset();
  EXPECT_EQ(fs.bytes_used(), 0u);
  fs.crash(CrashMode::kLoseAllUnsynced);  // the removal was not synced: the file comes back
  EXPECT_EQ(read_all(fs, "/f"), "data");
}

TEST(SimFileSystem, ConcurrentWritersAndSyncs) {
  SimFileSystem fs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&fs, t] {
      auto file = must_open(fs, "/f" + std::to_string(t));
      for (int i = 0; i < 200; i++) {
        must_write(*file, uint64_t(i) * 4, "abcd");
        if (i % 10 == 0) CHORUS_ASSERT(file->sync().ok());
      }
      CHORUS_ASSERT(file->sync().ok());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(fs.bytes_used(), 4u * 800);
  EXPECT_EQ(fs.counters().writes, 800u);
  fs.check_invariants();
}

// Random operation sequences agree with a map of path -> current content, and every crash
// leaves a consistent file system.
RC_GTEST_PROP(SimFileSystemProperty, MatchesAModelOfCurrentContents, ()) {
  const std::vector<std::string> paths{"/a", "/b", "/d/c"};
  SimFileSystem fs(*rc::gen::arbitrary<uint64_t>());
  RC_ASSERT(fs.create_dir("/d").ok());
  RC_ASSERT(fs.sync_dir("/").ok());
  std::map<std::string, std::string> model;
  auto steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; step++) {
    const std::string& path = paths[*rc::gen::inRange<size_t>(0, paths.size())];
    const std::string& other = paths[*rc::gen::inRange<size_t>(0, paths.size())];
    auto offset = *rc::gen::inRange<uint64_t>(0, 2000);
    bool present = model.contains(path);
    switch (*rc::gen::inRange(0, 8)) {
      case 0: {
        auto data = *rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::inRange('a', 'z')));
        auto file = fs.open(path, OpenMode::kCreate);
        RC_ASSERT(file.ok());
        RC_ASSERT((*file)->write_at(offset, as_bytes(data)).ok());
        std::string& m = model[path];
        if (m.size() < offset + data.size()) m.resize(offset + data.size());
        m.replace(offset, data.size(), data);
        break;
      }
      case 1:
      case 2: {
        auto file = fs.open(path, OpenMode::kReadWrite);
        RC_ASSERT(file.ok() == present);
        if (!present) break;
        if (*rc::gen::arbitrary<bool>()) {
          RC_ASSERT((*file)->truncate(offset).ok());
          model[path].resize(offset);
        } else {
          RC_ASSERT((*file)->preallocate(offset).ok());
          if (model[path].size() < offset) model[path].resize(offset);
        }
        RC_ASSERT((*file)->sync().ok());
        break;
      }
      case 3:
        RC_ASSERT(fs.rename(path, other).ok() == present);
        if (present && path != other) model[other] = model[path], model.erase(path);
        if (parent_dir(path) != parent_dir(other)) {
          // A crash could leave a half-durable cross-directory rename as two names of one
          // file, which a map of contents cannot model; that case has its own test.
          RC_ASSERT(fs.sync_dir("/").ok() && fs.sync_dir("/d").ok());
        }
        break;
      case 4:
        RC_ASSERT(fs.remove_file(path).ok() == present);
        model.erase(path);
        break;
      case 5:
        RC_ASSERT(fs.sync_dir(*rc::gen::arbitrary<bool>() ? "/" : "/d").ok());
        break;
      case 6:
        RC_ASSERT(fs.exists(path).value() == present);
        break;
      default:  // whatever survives becomes the model; later ops must agree with it
        fs.crash(*rc::gen::arbitrary<bool>() ? CrashMode::kRandom : CrashMode::kLoseAllUnsynced);
        model.clear();
        for (const std::string& p : paths) {
          if (fs.exists(p).value()) model[p] = read_all(fs, p);
        }
        break;
    }
    fs.check_invariants();
    for (const std::string& p : paths) {
      RC_ASSERT(read_all(fs, p) == (model.contains(p) ? model[p] : "<missing>"));
    }
  }
  uint64_t used = 0;
  for (const auto& [p, content] : model) used += content.size();
  RC_ASSERT(fs.bytes_used() == used);
}

}  // namespace
}  // namespace chorus
