#include "chorus/node/raft_storage.h"

#include <algorithm>
#include <charconv>

#include "chorus/base/checksum.h"
#include "chorus/node/snapshot_file.h"
#include "chorus/raft/codec.h"

namespace chorus::node {
namespace {

// Hard state slot (4 KiB, one per half of the file):
//   magic u64 "CHRSHARD" | seq u64 | term u64 | vote u64 | commit u64 | incarnation u32 |
//   rsv u32 | checksum u64 (XXH3 of the 48 bytes before it)
constexpr uint64_t kHardStateMagic = 0x4452414853524843ULL;
constexpr size_t kSlotBytes = 4096;
constexpr size_t kSlotUsed = 56;

std::string snapshot_name(const raft::SnapshotMeta& meta, bool incoming) {
  return std::to_string(meta.index.value()) + "-" + std::to_string(meta.term.value()) +
         (incoming ? ".part" : ".snap");
}

}  // namespace

Result<std::unique_ptr<RaftStorage>> RaftStorage::open(FileSystem& fs, const std::string& dir,
                                                       StorageOptions options) {
  std::unique_ptr<RaftStorage> s(new RaftStorage(fs, dir));
  CHORUS_TRY(create_dirs(fs, join_path(dir, "snapshots")));
  log::Options lo;
  lo.fs = &fs;
  lo.durability = log::Durability::kNone;  // persist() syncs once per Ready
  lo.segment_bytes = options.segment_bytes;
  lo.background_preallocate = options.background_preallocate;
  lo.max_record_bytes = options.max_entry_bytes + 64;
  CHORUS_ASSIGN_OR_RETURN(s->log_, log::Log::open(join_path(dir, "log"), lo));
  CHORUS_TRY(s->load_hard_state());
  CHORUS_TRY(s->load_snapshot());
  return s;
}

RaftStorage::~RaftStorage() { (void)close(); }

Status RaftStorage::close() {
  hard_state_file_.reset();
  return log_ ? log_->close() : Status::Ok();
}

Status RaftStorage::load_hard_state() {
  std::string path = join_path(dir_, "hardstate");
  CHORUS_ASSIGN_OR_RETURN(bool present, fs_.exists(path));
  CHORUS_ASSIGN_OR_RETURN(hard_state_file_, fs_.open(path, OpenMode::kCreate));
  if (!present) {
    CHORUS_TRY(hard_state_file_->preallocate(2 * kSlotBytes));
    CHORUS_TRY(hard_state_file_->sync());
    return fs_.sync_dir(dir_);
  }
  bool any_nonzero = false;
  for (int slot = 0; slot < 2; ++slot) {
    std::byte b[kSlotUsed] = {};
    CHORUS_ASSIGN_OR_RETURN(size_t n, hard_state_file_->read_at(slot * kSlotBytes, b));
    if (n < kSlotUsed) continue;
    if (!all_zero(ByteSpan(b, kSlotUsed))) any_nonzero = true;
    if (load_le<uint64_t>(b) != kHardStateMagic) continue;
    if (load_le<uint64_t>(b + 48) != checksum64(ByteSpan(b, 48))) continue;
    uint64_t seq = load_le<uint64_t>(b + 8);
    if (seq <= hard_state_seq_) continue;
    hard_state_seq_ = seq;
    hard_state_ = {Term(load_le<uint64_t>(b + 16)), NodeId(load_le<uint64_t>(b + 24)),
                   LogIndex(load_le<uint64_t>(b + 32))};
    incarnation_ = load_le<uint32_t>(b + 40);
    synced_slot_ = slot;
  }
  if (any_nonzero && hard_state_seq_ == 0) {
    // Both slots damaged: the term and vote this node promised are unknown. Voting again could
    // elect two leaders in one term, so refuse to start.
    return Status::Corruption(path + ": both hard-state slots fail their checksum");
  }
  return Status::Ok();
}

// Always writes the slot that does not hold the last SYNCED state (several unsynced writes go to
// the same slot), so a torn write can never destroy the state a sync made durable.
Status RaftStorage::save_hard_state(const raft::HardState& hs, bool sync) {
  uint64_t seq = hard_state_seq_ + 1;
  std::byte b[kSlotUsed] = {};
  store_le<uint64_t>(b, kHardStateMagic);
  store_le<uint64_t>(b + 8, seq);
  store_le<uint64_t>(b + 16, hs.term.value());
  store_le<uint64_t>(b + 24, hs.vote.value());
  store_le<uint64_t>(b + 32, hs.commit.value());
  store_le<uint32_t>(b + 40, incarnation_);
  store_le<uint64_t>(b + 48, checksum64(ByteSpan(b, 48)));
  int slot = 1 - synced_slot_;
  CHORUS_TRY(hard_state_file_->write_at(slot * kSlotBytes, ByteSpan(b, kSlotUsed)));
  hard_state_dirty_ = true;
  if (sync) CHORUS_TRY(sync_hard_state());
  hard_state_seq_ = seq;
  hard_state_ = hs;
  return Status::Ok();
}

Status RaftStorage::load_snapshot() {
  std::string dir = join_path(dir_, "snapshots");
  CHORUS_ASSIGN_OR_RETURN(auto names, fs_.list_dir(dir));
  std::string best;
  raft::SnapshotMeta best_meta;
  for (const auto& name : names) {
    if (!name.ends_with(".snap")) continue;
    uint64_t index = 0;
    std::from_chars(name.data(), name.data() + name.size(), index);
    if (!best.empty() && index <= best_meta.index.value()) continue;
    CHORUS_ASSIGN_OR_RETURN(Bytes file, read_whole_file(fs_, join_path(dir, name)));
    auto decoded = decode_snapshot_file(file);
    if (!decoded.ok()) return decoded.status().Annotate(join_path(dir, name));
    best = name;
    best_meta = decoded->meta;
  }
  snapshot_ = best_meta;
  return remove_other_snapshots(best);
}

Status RaftStorage::remove_other_snapshots(const std::string& keep) {
  std::string dir = join_path(dir_, "snapshots");
  CHORUS_ASSIGN_OR_RETURN(auto names, fs_.list_dir(dir));
  bool removed = false;
  for (const auto& name : names) {
    // Keep the current snapshot and any transfer in progress for a newer one.
    if (name == keep || name.ends_with(".part")) continue;
    CHORUS_TRY(fs_.remove_file(join_path(dir, name)));
    removed = true;
  }
  return removed ? fs_.sync_dir(dir) : Status::Ok();
}

Result<raft::Bootstrap> RaftStorage::load() {
  raft::Bootstrap b;
  b.snapshot = snapshot_;
  ++incarnation_;
  b.incarnation = incarnation_;
  b.hard_state = hard_state_;
  CHORUS_TRY(drop_log_not_following_snapshot());
  LogIndex from = std::max(log_->first_index(), snapshot_.index.next());
  auto it = log_->iterate(from, log_->last_index());
  while (it.next()) {
    CHORUS_ASSIGN_OR_RETURN(raft::Entry e, raft::decode_entry(it.data()));
    if (e.index != it.index()) {
      return Status::Corruption(log_->dir() + ": record " + std::to_string(it.index().value()) +
                                " holds entry " + std::to_string(e.index.value()));
    }
    b.entries.push_back(std::move(e));
  }
  CHORUS_TRY(it.status());
  if (!b.entries.empty() && b.entries.front().index != snapshot_.index.next()) {
    return Status::Corruption(
        log_->dir() + ": the log starts at " + std::to_string(b.entries.front().index.value()) +
        " but the snapshot ends at " + std::to_string(snapshot_.index.value()));
  }
  // The saved commit index is never behind the snapshot, nor past what the log holds.
  LogIndex last = b.entries.empty() ? snapshot_.index : b.entries.back().index;
  b.hard_state.commit = std::clamp(b.hard_state.commit, snapshot_.index, last);
  CHORUS_TRY(save_hard_state(b.hard_state, true));
  return b;
}

// A crash while install_snapshot() reset the log can leave old segments behind: entries after the
// snapshot index from a history the snapshot replaced. They are kept only if the log holds the
// snapshot's own last entry (same index and term) or starts right after it.
Status RaftStorage::drop_log_not_following_snapshot() {
  if (snapshot_.index.value() == 0 || log_->last_index() <= snapshot_.index) return Status::Ok();
  if (log_->first_index() == snapshot_.index.next()) return Status::Ok();
  if (log_->first_index() <= snapshot_.index) {
    auto rec = log_->read(snapshot_.index);
    if (rec.ok()) {
      auto e = raft::decode_entry(*rec);
      if (e.ok() && e->term == snapshot_.term) return Status::Ok();
    }
  }
  return log_->reset(snapshot_.index.next());
}

Status RaftStorage::write(const std::optional<raft::HardState>& hs,
                          const std::vector<raft::Entry>& entries) {
  if (!entries.empty()) {
    LogIndex first = entries.front().index;
    if (first <= log_->last_index() && first >= log_->first_index()) {
      CHORUS_TRY(log_->truncate_suffix(first));
    } else if (first != log_->last_index().next()) {
      // Below the log's start or past a gap: only after a snapshot install.
      CHORUS_TRY(log_->reset(first));
    }
    std::vector<Bytes> records;
    records.reserve(entries.size());
    for (const auto& e : entries) records.push_back(raft::encode_entry(e));
    CHORUS_ASSIGN_OR_RETURN(LogIndex last, log_->append_batch(records));
    CHORUS_ASSERT(last == entries.back().index);
    log_dirty_ = true;
  }
  if (hs && (hs->term != hard_state_.term || hs->vote != hard_state_.vote)) {
    CHORUS_TRY(save_hard_state(*hs, false));
  } else if (hs) {
    hard_state_.commit = hs->commit;  // kept in memory; saved with the next term/vote change
  }
  return Status::Ok();
}

Status RaftStorage::sync() {
  if (log_dirty_) CHORUS_TRY(log_->sync());
  log_dirty_ = false;
  return sync_hard_state();
}

Status RaftStorage::sync_hard_state() {
  if (!hard_state_dirty_) return Status::Ok();
  CHORUS_TRY(hard_state_file_->sync());
  hard_state_dirty_ = false;
  synced_slot_ = 1 - synced_slot_;
  return Status::Ok();
}

Status RaftStorage::persist(const std::optional<raft::HardState>& hs,
                            const std::vector<raft::Entry>& entries) {
  CHORUS_TRY(write(hs, entries));
  return sync();
}

std::string RaftStorage::snapshot_path(const raft::SnapshotMeta& meta, bool incoming) const {
  return join_path(join_path(dir_, "snapshots"), snapshot_name(meta, incoming));
}

Status RaftStorage::save_snapshot(const raft::SnapshotMeta& meta, ByteSpan state) {
  CHORUS_TRY(
      write_file_atomically(fs_, snapshot_path(meta, false), encode_snapshot_file(meta, state)));
  snapshot_ = meta;
  return remove_other_snapshots(snapshot_name(meta, false));
}

Status RaftStorage::write_snapshot_chunk(const raft::SnapshotChunk& chunk) {
  std::string path = snapshot_path(chunk.meta, true);
  CHORUS_ASSIGN_OR_RETURN(auto f, fs_.open(path, OpenMode::kCreate));
  if (chunk.offset == 0) CHORUS_TRY(f->truncate(0));
  CHORUS_TRY(f->write_at(chunk.offset, chunk.data));
  CHORUS_TRY(f->sync());
  if (chunk.offset == 0) CHORUS_TRY(fs_.sync_dir(parent_dir(path)));
  return Status::Ok();
}

Status RaftStorage::install_snapshot(const raft::SnapshotMeta& meta) {
  std::string part = snapshot_path(meta, true);
  {
    CHORUS_ASSIGN_OR_RETURN(Bytes state, read_whole_file(fs_, part));
    if (state.size() != meta.size_bytes) {
      return Status::Corruption(part + ": received " + std::to_string(state.size()) +
                                " bytes of a " + std::to_string(meta.size_bytes) +
                                "-byte snapshot");
    }
    CHORUS_ASSIGN_OR_RETURN(auto f, fs_.open(part, OpenMode::kReadWrite));
    CHORUS_TRY(f->write_at(state.size(), encode_snapshot_trailer(meta, state)));
    CHORUS_TRY(f->sync());
  }
  std::string final_path = snapshot_path(meta, false);
  CHORUS_TRY(fs_.rename(part, final_path));
  CHORUS_TRY(fs_.sync_dir(parent_dir(final_path)));
  snapshot_ = meta;
  // Keep log entries after the snapshot only if the log agrees with it at its index.
  bool keep_suffix = false;
  if (meta.index >= log_->first_index() && meta.index <= log_->last_index()) {
    auto rec = log_->read(meta.index);
    if (rec.ok()) {
      auto e = raft::decode_entry(*rec);
      keep_suffix = e.ok() && e->term == meta.term;
    }
  }
  if (keep_suffix) {
    CHORUS_TRY(log_->trim_prefix(meta.index));
  } else {
    CHORUS_TRY(log_->reset(meta.index.next()));
  }
  return remove_other_snapshots(snapshot_name(meta, false));
}

Result<Bytes> RaftStorage::read_snapshot_state(const raft::SnapshotMeta& meta) {
  CHORUS_ASSIGN_OR_RETURN(Bytes file, read_whole_file(fs_, snapshot_path(meta, false)));
  CHORUS_ASSIGN_OR_RETURN(DecodedSnapshot decoded, decode_snapshot_file(file));
  return Bytes(decoded.state.begin(), decoded.state.end());
}

Result<Bytes> RaftStorage::read_snapshot_chunk(const raft::SnapshotMeta& meta, uint64_t offset,
                                               uint64_t count) {
  if (offset > meta.size_bytes) return Status::InvalidArgument("chunk offset past the snapshot");
  count = std::min(count, meta.size_bytes - offset);  // never the trailer: only state travels
  CHORUS_ASSIGN_OR_RETURN(auto f, fs_.open(snapshot_path(meta, false), OpenMode::kReadOnly));
  Bytes out(count);
  CHORUS_ASSIGN_OR_RETURN(size_t n, f->read_at(offset, out));
  out.resize(n);
  return out;
}

Status RaftStorage::trim_log(LogIndex upto) { return log_->trim_prefix(upto); }

}  // namespace chorus::node
