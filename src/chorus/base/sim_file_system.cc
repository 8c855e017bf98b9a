#include "chorus/base/sim_file_system.h"

#include <algorithm>
#include <cstring>

namespace chorus {
namespace {

constexpr uint64_t kRoot = 1;

// Splits a normalized absolute path into its components; "/" has none.
Result<std::vector<std::string>> split_path(const std::string& path, const std::string& what) {
  if (path.empty() || path[0] != '/' || (path.size() > 1 && path.back() == '/')) {
    return Status::InvalidArgument(what + ": not a normalized absolute path");
  }
  std::vector<std::string> parts;
  for (size_t at = 1; at < path.size();) {
    size_t end = std::min(path.find('/', at), path.size());
    std::string part = path.substr(at, end - at);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument(what + ": not a normalized absolute path");
    }
    parts.push_back(std::move(part));
    at = end + 1;
  }
  return parts;
}

void write_into(Bytes& image, uint64_t offset, ByteSpan data) {
  if (data.empty()) return;
  if (offset + data.size() > image.size()) image.resize(offset + data.size());
  std::memcpy(image.data() + offset, data.data(), data.size());
}

}  // namespace

class SimFileSystem::SimFile final : public File {
 public:
  SimFile(SimFileSystem* fs, uint64_t epoch, InodeId id, std::string path, bool writable)
      : fs_(fs), epoch_(epoch), id_(id), path_(std::move(path)), writable_(writable) {}
  ~SimFile() override { fs_->file_closed(epoch_, id_); }
  SimFile(const SimFile&) = delete;
  SimFile& operator=(const SimFile&) = delete;

  Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) const override {
    return fs_->file_read(epoch_, id_, path_, offset, out);
  }
  Status write_at(uint64_t offset, ByteSpan data) override {
    CHORUS_TRY(check_writable("write"));
    return fs_->file_write(epoch_, id_, path_, offset, data);
  }
  Status sync() override { return fs_->file_sync(epoch_, id_, path_); }
  Status truncate(uint64_t size) override {
    CHORUS_TRY(check_writable("truncate"));
    return fs_->file_resize(epoch_, id_, path_, size, /*is_truncate=*/true);
  }
  Result<uint64_t> size() const override { return fs_->file_size(epoch_, id_, path_); }
  Status preallocate(uint64_t size) override {
    CHORUS_TRY(check_writable("preallocate"));
    return fs_->file_resize(epoch_, id_, path_, size, /*is_truncate=*/false);
  }
  const std::string& path() const override { return path_; }

 private:
  Status check_writable(const char* op) const {
    if (writable_) return Status::Ok();
    return Status::InvalidArgument(std::string(op) + " " + path_ + ": opened read-only");
  }

  SimFileSystem* fs_;
  uint64_t epoch_;
  InodeId id_;
  std::string path_;
  bool writable_;
};

class SimFileSystem::SimLock final : public FileLock {
 public:
  SimLock(SimFileSystem* fs, uint64_t epoch, std::string path)
      : fs_(fs), epoch_(epoch), path_(std::move(path)) {}
  ~SimLock() override { fs_->lock_released(epoch_, path_); }
  SimLock(const SimLock&) = delete;
  SimLock& operator=(const SimLock&) = delete;

 private:
  SimFileSystem* fs_;
  uint64_t epoch_;
  std::string path_;
};

SimFileSystem::SimFileSystem(uint64_t seed) : rng_(seed) {
  InodeId root = new_inode(/*is_dir=*/true);
  CHORUS_ASSERT(root == kRoot);
  inodes_.at(root).links = 1;  // "/" is its own name and can never be removed
}

SimFileSystem::~SimFileSystem() {
  CHORUS_ASSERT(live_objects_ == 0, "SimFileSystem destroyed before ", live_objects_,
                " of its Files or FileLocks");
}

// ---- FileSystem --------------------------------------------------------------------------------

Result<std::unique_ptr<File>> SimFileSystem::open(const std::string& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  std::string what = "open " + path;
  bool creates = mode == OpenMode::kCreate || mode == OpenMode::kCreateNew;
  CHORUS_TRY(creates ? begin_mutation(what) : check_running(what));
  CHORUS_ASSIGN_OR_RETURN(InodeId id, open_locked(path, mode));
  inodes_.at(id).open_handles++;
  live_objects_++;
  return std::unique_ptr<File>(
      std::make_unique<SimFile>(this, epoch_, id, path, mode != OpenMode::kReadOnly));
}

Result<bool> SimFileSystem::exists(const std::string& path) {
  std::lock_guard lock(mu_);
  std::string what = "exists " + path;
  CHORUS_TRY(check_running(what));
  Result<Located> loc = locate(path, what);
  if (!loc.ok()) {
    if (loc.status().code() == StatusCode::kNotFound) return false;
    return loc.status();
  }
  return loc->inode.has_value();
}

Result<std::vector<std::string>> SimFileSystem::list_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::string what = "list_dir " + dir;
  CHORUS_TRY(check_running(what));
  CHORUS_ASSIGN_OR_RETURN(InodeId id, resolve(dir, what));
  const Inode& node = inodes_.at(id);
  if (!node.is_dir) return Status::InvalidArgument(what + ": not a directory");
  std::vector<std::string> names;
  for (const auto& [name, child] : node.entries) names.push_back(name);
  return names;  // std::map keeps them sorted
}

Status SimFileSystem::create_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::string what = "create_dir " + dir;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_ASSIGN_OR_RETURN(Located loc, locate(dir, what));
  if (loc.inode) {
    if (inodes_.at(*loc.inode).is_dir) return Status::Ok();
    return Status::AlreadyExists(what + ": a file has that name");
  }
  InodeId id = new_inode(/*is_dir=*/true);
  apply_ns(loc.parent, {{loc.name, id}});
  return Status::Ok();
}

Status SimFileSystem::remove_file(const std::string& path) {
  std::lock_guard lock(mu_);
  std::string what = "remove_file " + path;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_ASSIGN_OR_RETURN(Located loc, locate(path, what));
  if (!loc.inode) return Status::NotFound(what + ": no such file");
  if (inodes_.at(*loc.inode).is_dir) return Status::InvalidArgument(what + ": is a directory");
  apply_ns(loc.parent, {{loc.name, std::nullopt}});
  collect_garbage();
  return Status::Ok();
}

Status SimFileSystem::remove_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::string what = "remove_dir " + dir;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_ASSIGN_OR_RETURN(Located loc, locate(dir, what));
  if (loc.parent == 0) return Status::InvalidArgument(what + ": cannot remove the root");
  if (!loc.inode) return Status::NotFound(what + ": no such directory");
  const Inode& node = inodes_.at(*loc.inode);
  if (!node.is_dir) return Status::InvalidArgument(what + ": not a directory");
  if (!node.entries.empty()) return Status::InvalidArgument(what + ": directory not empty");
  apply_ns(loc.parent, {{loc.name, std::nullopt}});
  collect_garbage();
  return Status::Ok();
}

Status SimFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  std::string what = "rename " + from + " -> " + to;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_ASSIGN_OR_RETURN(Located src, locate(from, what));
  CHORUS_ASSIGN_OR_RETURN(Located dst, locate(to, what));
  if (src.parent == 0 || dst.parent == 0) {
    return Status::InvalidArgument(what + ": cannot rename the root");
  }
  if (!src.inode) return Status::NotFound(what + ": no such source");
  if (from == to) return Status::Ok();
  bool src_is_dir = inodes_.at(*src.inode).is_dir;
  if (src_is_dir && to.starts_with(from + "/")) {
    return Status::InvalidArgument(what + ": cannot move a directory into itself");
  }
  if (dst.inode) {
    const Inode& old = inodes_.at(*dst.inode);
    if (old.is_dir != src_is_dir) {
      return Status::InvalidArgument(
          what + ": cannot replace a " +
          (old.is_dir ? "directory with a file" : "file with a directory"));
    }
    if (old.is_dir && !old.entries.empty()) {
      return Status::InvalidArgument(what + ": target directory not empty");
    }
  }
  if (src.parent == dst.parent) {
    // One op, so a crash shows the old name or the new one, never both or neither.
    apply_ns(src.parent, {{src.name, std::nullopt}, {dst.name, *src.inode}});
  } else {
    apply_ns(dst.parent, {{dst.name, *src.inode}});
    apply_ns(src.parent, {{src.name, std::nullopt}});
  }
  collect_garbage();
  return Status::Ok();
}

Status SimFileSystem::sync_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::string what = "sync_dir " + dir;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_ASSIGN_OR_RETURN(InodeId id, resolve(dir, what));
  Inode& node = inodes_.at(id);
  if (!node.is_dir) return Status::InvalidArgument(what + ": not a directory");
  counters_.dir_syncs++;
  CHORUS_TRY(take_sync_fault(what));
  node.durable_entries = node.entries;
  node.pending_ns.clear();
  collect_garbage();  // entries dropped from the durable namespace can no longer come back
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> SimFileSystem::lock_file(const std::string& path) {
  std::lock_guard lock(mu_);
  std::string what = "lock_file " + path;
  CHORUS_TRY(begin_mutation(what));
  CHORUS_TRY(open_locked(path, OpenMode::kCreate).status());
  if (!locked_.insert(path).second) {
    return Status::Busy("lock " + path + " is held by another writer");
  }
  live_objects_++;
  return std::unique_ptr<FileLock>(std::make_unique<SimLock>(this, epoch_, path));
}

// ---- Crash -------------------------------------------------------------------------------------

void SimFileSystem::crash(CrashMode mode) {
  std::lock_guard lock(mu_);
  epoch_++;
  counters_.crashes++;
  locked_.clear();
  stopped_ = false;
  stop_after_mutations_.reset();
  for (auto& [id, node] : inodes_) {
    node.open_handles = 0;
    if (!node.is_dir) {
      replay_for_crash(node, mode);
      continue;
    }
    uint64_t keep = mode == CrashMode::kRandom ? random_below(node.pending_ns.size() + 1) : 0;
    for (uint64_t i = 0; i < keep; i++) replay(node.durable_entries, node.pending_ns[i]);
    node.entries = node.durable_entries;
    node.pending_ns.clear();
  }
  collect_garbage();
  // Links are recounted from the surviving namespaces: a rename across directories may have
  // landed in both of them, or in neither.
  for (auto& [id, node] : inodes_) node.links = id == kRoot ? 1 : 0;
  for (const auto& [id, node] : inodes_) {
    for (const auto& [name, child] : node.entries) inodes_.at(child).links++;
  }
  check_locked();
}

void SimFileSystem::replay_for_crash(Inode& node, CrashMode mode) {
  Bytes image = std::move(node.durable);
  for (const FileOp& op : node.pending) {
    if (mode == CrashMode::kLoseAllUnsynced) break;
    const auto* w = std::get_if<WriteOp>(&op);
    if (w == nullptr) {  // a truncate or preallocation lands or not
      if (random_below(2) == 0) replay(image, op);
      continue;
    }
    ByteSpan data(w->data);
    uint64_t landed = data.size();  // bytes from the start of the write that may have landed
    switch (random_below(4)) {
      case 0:
        write_into(image, w->offset, data);
        break;
      case 1:
        landed = 0;  // dropped
        break;
      case 2:  // torn at sector granularity: each sector landed or not
        for (uint64_t at = w->offset; at < w->offset + data.size();) {
          uint64_t end = std::min(align_up(at + 1, kSectorSize), w->offset + data.size());
          if (random_below(2) == 0) write_into(image, at, data.subspan(at - w->offset, end - at));
          at = end;
        }
        break;
      default:  // torn at an arbitrary byte
        landed = random_below(data.size());
        write_into(image, w->offset, data.first(landed));
        break;
    }
    if (mode == CrashMode::kRandomFlipUnsynced && landed > 0 && random_below(2) == 0) {
      uint64_t at = w->offset + random_below(landed);
      if (at < image.size()) image[at] ^= std::byte(1u << random_below(8));
    }
  }
  node.current = image;
  node.durable = std::move(image);
  node.pending.clear();
  node.exact_replay = true;
}

void SimFileSystem::replay(Bytes& image, const FileOp& op) {
  if (const auto* w = std::get_if<WriteOp>(&op)) {
    write_into(image, w->offset, w->data);
  } else if (const auto* t = std::get_if<TruncateOp>(&op)) {
    image.resize(t->size);
  } else if (const auto* p = std::get_if<PreallocateOp>(&op)) {
    image.resize(std::max<uint64_t>(image.size(), p->size));
  }
}

void SimFileSystem::replay(Namespace& ns, const NsOp& op) {
  for (const auto& [name, child] : op) {
    if (child) {
      ns[name] = *child;
    } else {
      ns.erase(name);
    }
  }
}

uint64_t SimFileSystem::random_below(uint64_t n) {
  CHORUS_ASSERT(n > 0);
  // Not std::uniform_int_distribution: its output differs between standard libraries, and a
  // seed must replay the same crash everywhere. The modulo bias is irrelevant here.
  return rng_() % n;
}

// ---- Faults and inspection ---------------------------------------------------------------------

void SimFileSystem::fail_syncs(bool on) {
  std::lock_guard lock(mu_);
  fail_syncs_ = on;
}

void SimFileSystem::fail_next_syncs(uint64_t count) {
  std::lock_guard lock(mu_);
  fail_next_syncs_ = count;
}

void SimFileSystem::hold_syncs(bool on) {
  {
    std::lock_guard lock(mu_);
    hold_syncs_ = on;
  }
  held_cv_.notify_all();
}

void SimFileSystem::set_capacity(uint64_t bytes) {
  std::lock_guard lock(mu_);
  capacity_ = bytes;
}

void SimFileSystem::short_write_next(size_t keep_bytes) {
  std::lock_guard lock(mu_);
  short_write_ = keep_bytes;
}

void SimFileSystem::set_crash_after_ops(uint64_t count) {
  std::lock_guard lock(mu_);
  stop_after_mutations_ = counters_.mutations + count;
  stopped_ = count == 0;
}

Status SimFileSystem::flip_bit(const std::string& path, uint64_t byte_offset, int bit) {
  std::lock_guard lock(mu_);
  std::string what = "flip_bit " + path;
  if (bit < 0 || bit > 7) return Status::InvalidArgument(what + ": bit must be in [0, 8)");
  CHORUS_ASSIGN_OR_RETURN(InodeId id, resolve(path, what));
  Inode& node = inodes_.at(id);
  if (node.is_dir) return Status::InvalidArgument(what + ": is a directory");
  if (byte_offset >= node.current.size() && byte_offset >= node.durable.size()) {
    return Status::InvalidArgument(what + ": offset past the end of the file");
  }
  auto mask = static_cast<std::byte>(1u << bit);
  if (byte_offset < node.current.size()) node.current[byte_offset] ^= mask;
  if (byte_offset < node.durable.size()) node.durable[byte_offset] ^= mask;
  for (FileOp& op : node.pending) {
    auto* w = std::get_if<WriteOp>(&op);
    if (w && byte_offset >= w->offset && byte_offset - w->offset < w->data.size()) {
      w->data[byte_offset - w->offset] ^= mask;
    }
  }
  // A zero-filled gap in the replay would not carry the flip; the sizes still must agree.
  if (!node.pending.empty()) node.exact_replay = false;
  return Status::Ok();
}

uint64_t SimFileSystem::bytes_used() const {
  std::lock_guard lock(mu_);
  return used_locked();
}

Result<Bytes> SimFileSystem::read_durable(const std::string& path) const {
  std::lock_guard lock(mu_);
  std::string what = "read_durable " + path;
  CHORUS_ASSIGN_OR_RETURN(InodeId id, resolve(path, what));
  const Inode& node = inodes_.at(id);
  if (node.is_dir) return Status::InvalidArgument(what + ": is a directory");
  return node.durable;
}

SimFileSystem::Counters SimFileSystem::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void SimFileSystem::check_invariants() const {
  std::lock_guard lock(mu_);
  check_locked();
}

void SimFileSystem::check_locked() const {
  CHORUS_ASSERT(inodes_.contains(kRoot) && inodes_.at(kRoot).is_dir);
  std::map<InodeId, uint32_t> links{{kRoot, 1}};
  for (const auto& [id, node] : inodes_) {
    CHORUS_ASSERT(id < next_inode_);
    if (!node.is_dir) {
      CHORUS_ASSERT(node.entries.empty() && node.durable_entries.empty() &&
                    node.pending_ns.empty());
      Bytes image = node.durable;
      for (const FileOp& op : node.pending) {
        const auto* w = std::get_if<WriteOp>(&op);
        CHORUS_ASSERT(w == nullptr || !w->data.empty(), "empty pending write in inode ", id);
        replay(image, op);
      }
      CHORUS_ASSERT(image.size() == node.current.size(), "inode ", id, " replays to ", image.size(),
                    " bytes, holds ", node.current.size());
      CHORUS_ASSERT(!node.exact_replay || image == node.current, "inode ", id, " replay differs");
      continue;
    }
    CHORUS_ASSERT(node.current.empty() && node.durable.empty() && node.pending.empty());
    Namespace ns = node.durable_entries;
    for (const NsOp& op : node.pending_ns) {
      for (const auto& [name, child] : op) {
        CHORUS_ASSERT(!child || inodes_.contains(*child), "pending op names a dead inode");
      }
      replay(ns, op);
    }
    CHORUS_ASSERT(ns == node.entries, "directory inode ", id, " replay differs");
    for (const auto& [name, child] : node.durable_entries) {
      CHORUS_ASSERT(inodes_.contains(child), "durable entry ", name, " names a dead inode");
    }
    for (const auto& [name, child] : node.entries) {
      CHORUS_ASSERT(inodes_.contains(child), "entry ", name, " names a dead inode");
      CHORUS_ASSERT(child != kRoot, "the root has a name");
      links[child]++;
    }
  }
  for (const auto& [id, node] : inodes_) {
    uint32_t expect = links.contains(id) ? links.at(id) : 0;
    CHORUS_ASSERT(node.links == expect, "inode ", id, " links ", node.links, " != ", expect);
    CHORUS_ASSERT(!node.is_dir || node.links <= 1, "directory inode ", id, " has two names");
  }
}

// ---- Private helpers (mu_ held) ---------------------------------------------------------------

Status SimFileSystem::check_running(const std::string& what) const {
  if (!stopped_) return Status::Ok();
  return Status::IoError(what + ": simulated power loss (call crash() to reboot)");
}

Status SimFileSystem::begin_mutation(const std::string& what) {
  CHORUS_TRY(check_running(what));
  counters_.mutations++;
  if (stop_after_mutations_ && counters_.mutations >= *stop_after_mutations_) stopped_ = true;
  return Status::Ok();
}

Result<SimFileSystem::Located> SimFileSystem::locate(const std::string& path,
                                                     const std::string& what) const {
  CHORUS_ASSIGN_OR_RETURN(std::vector<std::string> parts, split_path(path, what));
  if (parts.empty()) return Located{0, "", kRoot};
  InodeId dir = kRoot;
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    const Inode& node = inodes_.at(dir);
    auto it = node.entries.find(parts[i]);
    if (it == node.entries.end() || !inodes_.at(it->second).is_dir) {
      return Status::NotFound(what + ": no directory " + parts[i]);
    }
    dir = it->second;
  }
  const Inode& parent = inodes_.at(dir);
  auto it = parent.entries.find(parts.back());
  std::optional<InodeId> found;
  if (it != parent.entries.end()) found = it->second;
  return Located{dir, parts.back(), found};
}

Result<SimFileSystem::InodeId> SimFileSystem::resolve(const std::string& path,
                                                      const std::string& what) const {
  CHORUS_ASSIGN_OR_RETURN(Located loc, locate(path, what));
  if (!loc.inode) return Status::NotFound(what + ": no such file or directory");
  return *loc.inode;
}

Result<SimFileSystem::InodeId> SimFileSystem::open_locked(const std::string& path, OpenMode mode) {
  std::string what = "open " + path;
  CHORUS_ASSIGN_OR_RETURN(Located loc, locate(path, what));
  if (loc.inode) {
    if (inodes_.at(*loc.inode).is_dir) return Status::InvalidArgument(what + ": is a directory");
    if (mode == OpenMode::kCreateNew) return Status::AlreadyExists(what + ": file exists");
    return *loc.inode;
  }
  if (mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite) {
    return Status::NotFound(what + ": no such file");
  }
  InodeId id = new_inode(/*is_dir=*/false);
  apply_ns(loc.parent, {{loc.name, id}});
  return id;
}

Status SimFileSystem::take_sync_fault(const std::string& what) {
  if (!fail_syncs_ && fail_next_syncs_ == 0) return Status::Ok();
  if (fail_next_syncs_ > 0) fail_next_syncs_--;
  counters_.failed_syncs++;
  return Status::IoError(what + ": Input/output error (injected)");
}

SimFileSystem::InodeId SimFileSystem::new_inode(bool is_dir) {
  InodeId id = next_inode_++;
  inodes_[id].is_dir = is_dir;
  return id;
}

void SimFileSystem::apply_ns(InodeId dir, NsOp op) {
  Inode& node = inodes_.at(dir);
  CHORUS_ASSERT(node.is_dir);
  for (const auto& [name, child] : op) {
    if (auto it = node.entries.find(name); it != node.entries.end()) {
      inodes_.at(it->second).links--;
      node.entries.erase(it);
    }
    if (child) {
      node.entries[name] = *child;
      inodes_.at(*child).links++;
    }
  }
  node.pending_ns.push_back(std::move(op));
}

// Keeps every inode a crash could still bring back: reachable from "/" through any current,
// durable or pending entry, or held open.
void SimFileSystem::collect_garbage() {
  std::set<InodeId> keep;
  std::vector<InodeId> todo{kRoot};
  for (const auto& [id, node] : inodes_) {
    if (node.open_handles > 0) todo.push_back(id);
  }
  while (!todo.empty()) {
    InodeId id = todo.back();
    todo.pop_back();
    if (!keep.insert(id).second) continue;
    const Inode& node = inodes_.at(id);
    for (const auto& [name, child] : node.entries) todo.push_back(child);
    for (const auto& [name, child] : node.durable_entries) todo.push_back(child);
    for (const NsOp& op : node.pending_ns) {
      for (const auto& [name, child] : op) {
        if (child) todo.push_back(*child);
      }
    }
  }
  std::erase_if(inodes_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

uint64_t SimFileSystem::used_locked() const {
  uint64_t used = 0;
  for (const auto& [id, node] : inodes_) {
    if (node.links > 0 || node.open_handles > 0) used += node.current.size();
  }
  return used;
}

Status SimFileSystem::check_growth(uint64_t old_size, uint64_t new_size,
                                   const std::string& what) const {
  if (new_size > kMaxFileSize) {
    return Status::InvalidArgument(what + ": past the simulated maximum file size");
  }
  if (new_size <= old_size) return Status::Ok();
  uint64_t used = used_locked();
  if (used > capacity_ || new_size - old_size > capacity_ - used) {
    return Status::NoSpace(what + ": No space left on device (capacity " +
                           std::to_string(capacity_) + " bytes)");
  }
  return Status::Ok();
}

// ---- File operations (called by SimFile) -------------------------------------------------------

Status SimFileSystem::file_check(uint64_t epoch, const std::string& what) const {
  CHORUS_TRY(check_running(what));
  if (epoch != epoch_) return Status::IoError(what + ": file handle from before a crash");
  return Status::Ok();
}

Result<size_t> SimFileSystem::file_read(uint64_t epoch, InodeId id, const std::string& path,
                                        uint64_t offset, std::span<std::byte> out) const {
  std::lock_guard lock(mu_);
  CHORUS_TRY(file_check(epoch, "read " + path));
  const Bytes& data = inodes_.at(id).current;
  if (offset >= data.size()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), data.size() - offset));
  std::memcpy(out.data(), data.data() + offset, n);
  return n;
}

Status SimFileSystem::file_write(uint64_t epoch, InodeId id, const std::string& path,
                                 uint64_t offset, ByteSpan data) {
  std::lock_guard lock(mu_);
  std::string what = "write " + path;
  CHORUS_TRY(file_check(epoch, what));
  CHORUS_TRY(begin_mutation(what));
  counters_.writes++;
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset) {
    return Status::InvalidArgument(what + ": past the simulated maximum file size");
  }
  Inode& node = inodes_.at(id);
  size_t keep = data.size();
  Status result;
  if (short_write_) {
    keep = std::min(keep, *short_write_);
    short_write_.reset();
    result = Status::IoError(what + ": short write (injected)");
  }
  uint64_t size = node.current.size();
  if (offset + keep > size) {
    // Like a real disk, write the prefix that fits, then report ENOSPC.
    uint64_t used = used_locked();
    uint64_t room = capacity_ > used ? capacity_ - used : 0;
    if (offset + keep - size > room) {
      uint64_t end_max = size + room;
      keep = offset >= end_max ? 0 : static_cast<size_t>(end_max - offset);
      result = Status::NoSpace(what + ": No space left on device (capacity " +
                               std::to_string(capacity_) + " bytes)");
    }
  }
  if (keep > 0) {
    ByteSpan landed = data.first(keep);
    write_into(node.current, offset, landed);
    node.pending.push_back(WriteOp{offset, Bytes(landed.begin(), landed.end())});
  }
  return result;
}

Status SimFileSystem::file_sync(uint64_t epoch, InodeId id, const std::string& path) {
  std::unique_lock lock(mu_);
  held_cv_.wait(lock, [&] { return !hold_syncs_; });
  std::string what = "sync " + path;
  CHORUS_TRY(file_check(epoch, what));
  CHORUS_TRY(begin_mutation(what));
  counters_.syncs++;
  CHORUS_TRY(take_sync_fault(what));
  Inode& node = inodes_.at(id);
  node.durable = node.current;
  node.pending.clear();
  node.exact_replay = true;
  return Status::Ok();
}

Status SimFileSystem::file_resize(uint64_t epoch, InodeId id, const std::string& path,
                                  uint64_t size, bool is_truncate) {
  std::lock_guard lock(mu_);
  std::string what = (is_truncate ? "truncate " : "preallocate ") + path;
  CHORUS_TRY(file_check(epoch, what));
  CHORUS_TRY(begin_mutation(what));
  Inode& node = inodes_.at(id);
  if (!is_truncate && size <= node.current.size()) return Status::Ok();
  CHORUS_TRY(check_growth(node.current.size(), size, what));
  node.current.resize(size);
  if (is_truncate) {
    node.pending.push_back(TruncateOp{size});
  } else {
    node.pending.push_back(PreallocateOp{size});
  }
  return Status::Ok();
}

Result<uint64_t> SimFileSystem::file_size(uint64_t epoch, InodeId id,
                                          const std::string& path) const {
  std::lock_guard lock(mu_);
  CHORUS_TRY(file_check(epoch, "size " + path));
  return uint64_t{inodes_.at(id).current.size()};
}

void SimFileSystem::file_closed(uint64_t epoch, InodeId id) {
  std::lock_guard lock(mu_);
  live_objects_--;
  if (epoch != epoch_) return;  // the crash already forgot this handle
  Inode& node = inodes_.at(id);
  node.open_handles--;
  if (node.open_handles == 0 && node.links == 0) collect_garbage();
}

void SimFileSystem::lock_released(uint64_t epoch, const std::string& path) {
  std::lock_guard lock(mu_);
  live_objects_--;
  if (epoch == epoch_) locked_.erase(path);
}

}  // namespace chorus
