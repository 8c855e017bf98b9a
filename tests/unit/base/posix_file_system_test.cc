#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "chorus/base/file_system.h"

namespace chorus {
namespace {

class PosixFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/chorus_posix_fs_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(std::string_view name) const { return join_path(dir_, name); }

  std::unique_ptr<File> open(std::string_view name, OpenMode mode = OpenMode::kCreate) {
    auto file = fs_.open(path(name), mode);
    CHORUS_ASSERT(file.ok(), file.status().ToString());
    return std::move(file).value();
  }

  static std::string read_all(const File& file) {
    std::string out(file.size().value() + 10, '\0');  // asks past the end on purpose
    auto n = file.read_at(0, std::as_writable_bytes(std::span(out)));
    CHORUS_ASSERT(n.ok(), n.status().ToString());
    out.resize(*n);
    return out;
  }

  FileSystem& fs_ = FileSystem::posix();
  std::string dir_;
};

TEST_F(PosixFileSystemTest, OpenModes) {
  EXPECT_EQ(fs_.open(path("f"), OpenMode::kReadOnly).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_.open(path("f"), OpenMode::kReadWrite).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(fs_.open(path("f"), OpenMode::kCreateNew).ok());
  Status again = fs_.open(path("f"), OpenMode::kCreateNew).status();
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find(path("f")), std::string::npos) << again.ToString();
  EXPECT_TRUE(fs_.open(path("f"), OpenMode::kCreate).ok());
  EXPECT_TRUE(fs_.open(path("f"), OpenMode::kReadWrite).ok());
  auto ro = open("f", OpenMode::kReadOnly);
  EXPECT_FALSE(ro->write_at(0, as_bytes("x")).ok());
  EXPECT_EQ(ro->path(), path("f"));
}

TEST_F(PosixFileSystemTest, WriteReadSyncTruncate) {
  auto file = open("f");
  ASSERT_TRUE(file->write_at(0, as_bytes("hello")).ok());
  ASSERT_TRUE(file->write_at(7, as_bytes("world")).ok());  // leaves a hole of zeros
  ASSERT_TRUE(file->sync().ok());
  EXPECT_EQ(read_all(*file), std::string("hello\0\0world", 12));
  ASSERT_TRUE(file->truncate(4).ok());
  EXPECT_EQ(file->size().value(), 4u);
  EXPECT_EQ(read_all(*open("f", OpenMode::kReadOnly)), "hell");
  std::byte b[4];
  EXPECT_EQ(file->read_at(100, b).value(), 0u);
}

TEST_F(PosixFileSystemTest, PreallocateReadsBackZerosAndNeverShrinks) {
  auto file = open("f");
  ASSERT_TRUE(file->write_at(0, as_bytes("ab")).ok());
  ASSERT_TRUE(file->preallocate(3 << 20).ok());
  EXPECT_EQ(file->size().value(), uint64_t{3} << 20);
  std::string all = read_all(*file);
  EXPECT_EQ(all.substr(0, 2), "ab");
  EXPECT_EQ(all.find_first_not_of('\0', 2), std::string::npos);
  ASSERT_TRUE(file->preallocate(10).ok());
  EXPECT_EQ(file->size().value(), uint64_t{3} << 20);
}

TEST_F(PosixFileSystemTest, DirectoriesListSortedWithoutDots) {
  ASSERT_TRUE(fs_.create_dir(path("d")).ok());
  ASSERT_TRUE(fs_.create_dir(path("d")).ok());  // already there is fine
  for (const char* name : {"d/b", "d/c", "d/a"}) open(name);
  EXPECT_EQ(fs_.list_dir(path("d")).value(), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(fs_.sync_dir(path("d")).ok());
  EXPECT_FALSE(fs_.remove_dir(path("d")).ok());  // not empty
  for (const char* name : {"d/a", "d/b", "d/c"}) ASSERT_TRUE(fs_.remove_file(path(name)).ok());
  ASSERT_TRUE(fs_.remove_dir(path("d")).ok());
  EXPECT_FALSE(fs_.exists(path("d")).value());
}

TEST_F(PosixFileSystemTest, RenameReplacesTheTarget) {
  ASSERT_TRUE(open("old")->write_at(0, as_bytes("old")).ok());
  ASSERT_TRUE(open("new")->write_at(0, as_bytes("new")).ok());
  ASSERT_TRUE(fs_.rename(path("new"), path("old")).ok());
  EXPECT_FALSE(fs_.exists(path("new")).value());
  EXPECT_EQ(read_all(*open("old", OpenMode::kReadOnly)), "new");
  EXPECT_EQ(fs_.list_dir(dir_).value(), (std::vector<std::string>{"old"}));
}

TEST_F(PosixFileSystemTest, SecondLockInTheSameProcessIsBusy) {
  auto first = fs_.lock_file(path("LOCK"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(fs_.exists(path("LOCK")).value());
  auto second = fs_.lock_file(path("LOCK"));
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  first->reset();
  EXPECT_TRUE(fs_.lock_file(path("LOCK")).ok());
}

TEST_F(PosixFileSystemTest, MissingPathsAreNotFound) {
  EXPECT_FALSE(fs_.exists(path("nope")).value());
  EXPECT_EQ(fs_.remove_file(path("nope")).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_.remove_dir(path("nope")).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_.rename(path("nope"), path("x")).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_.list_dir(path("nope")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_.sync_dir(path("nope")).code(), StatusCode::kNotFound);
  Status s = fs_.open(path("nope/f"), OpenMode::kCreate).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(path("nope/f")), std::string::npos) << s.ToString();
}

TEST_F(PosixFileSystemTest, CreateDirsMakesEveryLevel) {
  ASSERT_TRUE(create_dirs(fs_, path("a/b/c")).ok());
  EXPECT_TRUE(fs_.exists(path("a/b/c")).value());
  EXPECT_TRUE(create_dirs(fs_, path("a/b/c")).ok());
}

TEST(PathHelpers, JoinAndParent) {
  EXPECT_EQ(join_path("/data", "x"), "/data/x");
  EXPECT_EQ(join_path("/data/", "x"), "/data/x");
  EXPECT_EQ(join_path("/", "x"), "/x");
  EXPECT_EQ(parent_dir("/data/log/x"), "/data/log");
  EXPECT_EQ(parent_dir("/x"), "/");
  EXPECT_EQ(parent_dir("/"), "/");
  EXPECT_EQ(parent_dir("x"), ".");
}

}  // namespace
}  // namespace chorus
