// FileSystem: every byte chorus reads or writes goes through this interface.
//
// Two implementations: PosixFileSystem (the real one) and SimFileSystem (tests and the
// simulator), which remembers which bytes and directory entries are durable and can lose or tear
// the rest on a simulated crash, flip bits, fail fsync, and run out of space.
//
// Durability contract, the same for both implementations:
//   - File::write_at changes what reads see at once; it is durable only after File::sync().
//   - A file's existence, a rename or a removal is durable only after sync_dir() of its parent.
//   - A failed write may have written a prefix of its bytes (a short write).
//   - A failed sync() means nothing about what reached the disk; callers treat it as fatal.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"

namespace chorus {

enum class OpenMode : uint8_t {
  kReadOnly,   // must exist
  kReadWrite,  // must exist
  kCreate,     // read-write; created (empty) if missing
  kCreateNew,  // read-write; fails with kAlreadyExists if present
};

class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at `offset`; returns how many were read (fewer at end of file).
  virtual Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) const = 0;
  // Writes all of `data` at `offset`, growing the file if needed. On error a prefix may be written.
  virtual Status write_at(uint64_t offset, ByteSpan data) = 0;
  // fdatasync: the file's data and size become durable.
  virtual Status sync() = 0;
  virtual Status truncate(uint64_t size) = 0;
  virtual Result<uint64_t> size() const = 0;
  // Grows the file to at least `size` bytes of written zeros, so that later overwrites inside it
  // change no metadata (cheaper fdatasync). Durable after sync().
  virtual Status preallocate(uint64_t size) = 0;
  virtual const std::string& path() const = 0;
};

// An advisory exclusive lock; released when destroyed (or when its process dies).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  virtual Result<bool> exists(const std::string& path) = 0;
  // Names (not paths) of the entries in `dir`, sorted; no "." or "..".
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  // Creates one directory level; ok if it already exists.
  virtual Status create_dir(const std::string& dir) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status remove_dir(const std::string& dir) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Makes creations, renames and removals of entries in `dir` durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // Takes an exclusive advisory lock on `path` (created if missing); kBusy if held elsewhere.
  virtual Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) = 0;

  // The process-wide real file system.
  static FileSystem& posix();
};

std::string join_path(std::string_view dir, std::string_view name);
std::string parent_dir(std::string_view path);

// Creates `dir` and its missing parents, syncing each parent whose entries changed.
Status create_dirs(FileSystem& fs, const std::string& dir);

// Replaces `path` with `data`: write <path>.tmp -> fsync -> rename -> fsync(dir), so that after
// a crash `path` holds the old bytes or the new ones, never a mix (snapshots, manifests).
Status write_file_atomically(FileSystem& fs, const std::string& path, ByteSpan data);
// The whole file; kIoError if it is shorter than its size said.
Result<Bytes> read_whole_file(FileSystem& fs, const std::string& path);

}  // namespace chorus
