// RaftStorage: the durable state of one Raft node on a FileSystem — what the driver persists from
// each Ready and what a restarted node is rebuilt from. The real driver (node/) runs it on the WAL
// thread over the POSIX file system; the simulator runs the same code over SimFileSystem.
//
//   <dir>/log/          chorus::log of encoded entries; log index == Raft index
//   <dir>/hardstate     two 4 KiB slots written alternately, each checksummed with a sequence
//                       number: a torn slot write leaves the other slot intact
//   <dir>/snapshots/    <index>-<term>.snap (see snapshot_file.h); incoming .part files
//
// Durability rule (DESIGN.md "The driver loop"): persist() returns only once the entries and the
// hard state it was given are on disk, so the caller may then send the messages that promise it.
// The commit index is saved only when term or vote change (it is not needed for safety, and
// saving it on every commit would double the fsyncs); a restarted node re-learns it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/base/file_system.h"
#include "chorus/log/log.h"
#include "chorus/raft/raft.h"

namespace chorus::node {

struct StorageOptions {
  uint64_t segment_bytes = 64ull << 20;
  bool background_preallocate = true;
  uint32_t max_entry_bytes = 64u << 20;
};

class RaftStorage {
 public:
  static Result<std::unique_ptr<RaftStorage>> open(FileSystem& fs, const std::string& dir,
                                                   StorageOptions options = {});
  ~RaftStorage();

  // Everything a restarted core needs. `incarnation` is bumped and saved on every call.
  Result<raft::Bootstrap> load();

  // Writes a Ready's hard state and entries (a conflicting suffix of the log is truncated) without
  // waiting for the disk; sync() makes everything written so far durable. A WAL thread writes
  // several Readys and syncs once (group commit); persist() is write + sync.
  Status write(const std::optional<raft::HardState>& hard_state,
               const std::vector<raft::Entry>& entries);
  Status sync();
  Status persist(const std::optional<raft::HardState>& hard_state,
                 const std::vector<raft::Entry>& entries);

  // Snapshots (meta.size_bytes is the state's length). A local snapshot is saved with
  // save_snapshot();
  // an incoming one arrives as chunks and is made current by install_snapshot().
  Status save_snapshot(const raft::SnapshotMeta& meta, ByteSpan state);
  Status write_snapshot_chunk(const raft::SnapshotChunk& chunk);
  // Verifies the received file, makes it current, and drops the log entries it covers.
  Status install_snapshot(const raft::SnapshotMeta& meta);
  // The state bytes of a saved snapshot (for restore), whole or a chunk of them (for sending).
  Result<Bytes> read_snapshot_state(const raft::SnapshotMeta& meta);
  Result<Bytes> read_snapshot_chunk(const raft::SnapshotMeta& meta, uint64_t offset,
                                    uint64_t count);
  // After compact(): entries up to index may go (whole log segments are dropped).
  Status trim_log(LogIndex upto);

  const raft::SnapshotMeta& snapshot() const { return snapshot_; }
  log::Log& log() { return *log_; }
  Status close();

 private:
  RaftStorage(FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  Status load_hard_state();
  Status save_hard_state(const raft::HardState& hs, bool sync);
  Status sync_hard_state();
  Status load_snapshot();
  Status drop_log_not_following_snapshot();
  std::string snapshot_path(const raft::SnapshotMeta& meta, bool incoming) const;
  Status remove_other_snapshots(const std::string& keep);

  FileSystem& fs_;
  const std::string dir_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<File> hard_state_file_;
  raft::HardState hard_state_;
  uint64_t hard_state_seq_ = 0;
  bool hard_state_dirty_ = false;  // written since the last sync
  bool log_dirty_ = false;
  int synced_slot_ = 1;  // slot of the last synced hard state (the first write goes to slot 0)
  uint32_t incarnation_ = 0;
  raft::SnapshotMeta snapshot_;
};

}  // namespace chorus::node
