// The advisory write lock of a store directory: flock on <dir>/LOCK (released by the kernel when
// its process dies, so a crashed writer never wedges the store) plus the holder's pid written
// into the file, so that "busy" can name the process and a takeover of a dead one is reported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "chorus/base/file_system.h"

namespace chorus::docstore {

inline constexpr char kLockFileName[] = "LOCK";

struct DirLock {
  std::unique_ptr<FileLock> lock;
  bool took_over_stale = false;  // the file named a pid that no longer runs
  uint64_t previous_pid = 0;
};

// kBusy ("locked by pid N") when another writer holds it.
Result<DirLock> lock_store_dir(FileSystem& fs, const std::string& dir);

// True when `pid` names a running process (or one we may not signal).
bool process_alive(uint64_t pid);

}  // namespace chorus::docstore
