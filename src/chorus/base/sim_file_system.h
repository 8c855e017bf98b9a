// SimFileSystem: a deterministic in-memory FileSystem that remembers what is durable, for crash
// tests and the simulator (in the spirit of TigerBeetle's src/testing/storage.zig).
//
// Model. Paths are absolute and normalized ("/", "/data/log/x"); "/" always exists.
//   - A file inode holds `current` bytes (what reads see), `durable` bytes (as of its last
//     successful sync()), and the ordered pending mutations since then: writes (offset, bytes),
//     truncates and preallocations. Invariant: durable + all pending, replayed in order == current.
//   - A directory holds a `current` and a `durable` namespace (name -> inode) and the ordered
//     pending namespace ops since its last successful sync_dir(). Create, remove and a rename
//     inside one directory are single ops (so a same-directory rename is atomic across a crash).
//     A rename across directories is an unlink pending in the source and a link pending in the
//     target, each made durable by its own sync_dir(); a crash between the two may leave both
//     names (one file with two links, as fsck leaves it) or neither. create_dir() is an op in the
//     parent.
//   - crash(mode) is a power loss. Every File and FileLock from before it goes dead (File calls
//     return IoError "file handle from before a crash"); locks are released. Each directory keeps
//     its durable namespace plus a random prefix of its pending ops (kLoseAllUnsynced: none).
//     Each file becomes its durable image with a subset of its pending mutations replayed in
//     order (kLoseAllUnsynced: none). Under kRandom a pending write lands whole, is dropped, or is
//     torn (a random subset of the 512-byte file sectors it covers, or a random byte prefix); a
//     truncate or preallocation lands or not. Inodes no longer reachable from "/" disappear.
//     Every choice comes from one std::mt19937_64 seeded in the constructor: same seed and same
//     calls, same result.
//
// Faults: failing syncs, a capacity (a write past it is a real short write + NoSpace), a short
// write, bit flips, and a "power cut" after N more mutating calls (set_crash_after_ops) after
// which every call fails until crash(), so a test can stop a writer at an exact point.
//
// Thread-safe: one mutex guards everything. The SimFileSystem must outlive its Files and locks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "chorus/base/file_system.h"

namespace chorus {

enum class CrashMode : uint8_t {
  kRandom,           // keep a random subset of the unsynced state (torn writes included)
  kLoseAllUnsynced,  // keep exactly what was synced
  // kRandom, and each unsynced write that (partly) lands may come back with one flipped bit:
  // garbage in data that was never acknowledged, which recovery must cut, not trust.
  kRandomFlipUnsynced,
};

class SimFileSystem final : public FileSystem {
 public:
  static constexpr uint64_t kSectorSize = 512;
  // Bigger offsets fail with InvalidArgument: every byte below them lives in memory.
  static constexpr uint64_t kMaxFileSize = uint64_t{1} << 32;

  struct Counters {
    uint64_t mutations = 0;  // calls that may change state; see set_crash_after_ops()
    uint64_t writes = 0;
    uint64_t syncs = 0;      // File::sync calls, failed ones included
    uint64_t dir_syncs = 0;  // sync_dir calls, failed ones included
    uint64_t failed_syncs = 0;
    uint64_t crashes = 0;
  };

  explicit SimFileSystem(uint64_t seed = 1);
  ~SimFileSystem() override;
  SimFileSystem(const SimFileSystem&) = delete;
  SimFileSystem& operator=(const SimFileSystem&) = delete;

  // FileSystem.
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Result<bool> exists(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status remove_dir(const std::string& dir) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override;

  // Power loss; see the model above. Also clears a pending set_crash_after_ops() stop.
  void crash(CrashMode mode = CrashMode::kRandom);

  // Fault injection. A failed File::sync or sync_dir returns IoError and makes nothing durable.
  void fail_syncs(bool on);              // every sync fails while on
  void fail_next_syncs(uint64_t count);  // the next `count` syncs fail
  // While held, File::sync blocks (a disk that stalls); release lets the waiting syncs finish.
  void hold_syncs(bool on);
  // Total of the current sizes of all linked or open files; growth past it fails with NoSpace.
  void set_capacity(uint64_t bytes);
  // The next write_at writes only its first `keep_bytes` bytes, then returns IoError.
  void short_write_next(size_t keep_bytes);
  // After `count` more mutating calls succeed, every call (reads too) fails with IoError until
  // crash(): the machine lost power at that exact point. Mutating calls: open with kCreate or
  // kCreateNew, write_at, sync, truncate, preallocate, create_dir, remove_file, remove_dir,
  // rename, sync_dir, lock_file. One that then fails counts too (except on a dead or read-only
  // handle), so a deterministic writer stops at the same point for the same `count`.
  void set_crash_after_ops(uint64_t count);
  // Flips one bit of the file at `path` in every image that holds that byte (current, durable
  // and pending writes), as media corruption would. InvalidArgument if past the end of both.
  Status flip_bit(const std::string& path, uint64_t byte_offset, int bit);

  // Inspection.
  uint64_t bytes_used() const;
  // The synced content of the file that `path` names now (what it holds after a crash that
  // keeps its name but loses all unsynced data).
  Result<Bytes> read_durable(const std::string& path) const;
  Counters counters() const;
  // Aborts (CHORUS_ASSERT) if the model is inconsistent. Replays every pending op, so it costs a
  // copy of every file.
  void check_invariants() const;

 private:
  class SimFile;
  class SimLock;
  using InodeId = uint64_t;
  struct WriteOp {
    uint64_t offset;
    Bytes data;
  };
  struct TruncateOp {
    uint64_t size;
  };
  struct PreallocateOp {
    uint64_t size;
  };
  using FileOp = std::variant<WriteOp, TruncateOp, PreallocateOp>;
  // One atomic namespace change: each name becomes the inode, or is removed (nullopt).
  using NsOp = std::vector<std::pair<std::string, std::optional<InodeId>>>;
  using Namespace = std::map<std::string, InodeId>;
  struct Inode {
    bool is_dir = false;
    Bytes current, durable;  // files
    std::vector<FileOp> pending;
    bool exact_replay = true;            // false after a flip_bit until the next sync
    Namespace entries, durable_entries;  // directories
    std::vector<NsOp> pending_ns;
    uint32_t links = 0;  // names in current namespaces
    uint32_t open_handles = 0;
  };
  struct Located {  // a path resolved against the current namespace
    InodeId parent = 0;
    std::string name;
    std::optional<InodeId> inode;
  };

  // All private helpers expect mu_ held.
  Status check_running(const std::string& what) const;
  Status begin_mutation(const std::string& what);
  Result<Located> locate(const std::string& path, const std::string& what) const;
  Result<InodeId> resolve(const std::string& path, const std::string& what) const;
  Status take_sync_fault(const std::string& what);
  InodeId new_inode(bool is_dir);
  void apply_ns(InodeId dir, NsOp op);
  void collect_garbage();
  uint64_t used_locked() const;
  Status check_growth(uint64_t old_size, uint64_t new_size, const std::string& what) const;
  Result<InodeId> open_locked(const std::string& path, OpenMode mode);
  void replay_for_crash(Inode& node, CrashMode mode);
  uint64_t random_below(uint64_t n);
  void check_locked() const;
  static void replay(Bytes& image, const FileOp& op);
  static void replay(Namespace& ns, const NsOp& op);

  // Called by SimFile.
  Status file_check(uint64_t epoch, const std::string& what) const;
  Result<size_t> file_read(uint64_t epoch, InodeId id, const std::string& path, uint64_t offset,
                           std::span<std::byte> out) const;
  Status file_write(uint64_t epoch, InodeId id, const std::string& path, uint64_t offset,
                    ByteSpan data);
  Status file_sync(uint64_t epoch, InodeId id, const std::string& path);
  Status file_resize(uint64_t epoch, InodeId id, const std::string& path, uint64_t size,
                     bool is_truncate);
  Result<uint64_t> file_size(uint64_t epoch, InodeId id, const std::string& path) const;
  void file_closed(uint64_t epoch, InodeId id);
  void lock_released(uint64_t epoch, const std::string& path);

  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<InodeId, Inode> inodes_;  // ordered, so a crash walks them in a fixed order
  InodeId next_inode_ = 1;
  uint64_t epoch_ = 0;  // bumped by crash(); handles from older epochs are dead
  std::set<std::string> locked_;
  uint64_t live_objects_ = 0;  // Files and FileLocks not yet destroyed
  Counters counters_;
  bool fail_syncs_ = false;
  uint64_t fail_next_syncs_ = 0;
  bool hold_syncs_ = false;  // guarded by mu_; waited on with held_cv_
  std::condition_variable held_cv_;
  uint64_t capacity_ = UINT64_MAX;
  std::optional<size_t> short_write_;
  std::optional<uint64_t> stop_after_mutations_;  // absolute value of counters_.mutations
  bool stopped_ = false;
};

}  // namespace chorus
