#include "chorus/docstore/dir_lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace chorus::docstore {
namespace {

uint64_t read_pid(FileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kReadOnly);
  if (!f.ok()) return 0;
  char buf[32] = {};
  auto got = (*f)->read_at(0, std::as_writable_bytes(std::span<char>(buf, sizeof(buf) - 1)));
  if (!got.ok()) return 0;
  uint64_t pid = 0;
  std::from_chars(buf, buf + *got, pid);
  return pid;
}

}  // namespace

bool process_alive(uint64_t pid) {
  if (pid == 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

Result<DirLock> lock_store_dir(FileSystem& fs, const std::string& dir) {
  std::string path = join_path(dir, kLockFileName);
  DirLock out;
  auto lock = fs.lock_file(path);
  if (!lock.ok()) {
    if (lock.status().code() != StatusCode::kBusy) return lock.status();
    uint64_t pid = read_pid(fs, path);
    return Status::Busy("store " + dir + " is locked by another writer" +
                        (pid != 0 ? " (pid " + std::to_string(pid) + ")" : std::string()));
  }
  out.lock = std::move(lock).value();
  out.previous_pid = read_pid(fs, path);
  uint64_t self = static_cast<uint64_t>(::getpid());
  out.took_over_stale =
      out.previous_pid != 0 && out.previous_pid != self && !process_alive(out.previous_pid);
  // The pid is informational (the flock is the lock), so it need not be durable.
  CHORUS_ASSIGN_OR_RETURN(auto f, fs.open(path, OpenMode::kCreate));
  std::string text = std::to_string(self) + "\n";
  CHORUS_TRY(f->truncate(0));
  CHORUS_TRY(f->write_at(0, as_bytes(text)));
  return out;
}

}  // namespace chorus::docstore
