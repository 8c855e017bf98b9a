// A child process with its stdin and stdout on pipes (non-blocking on our side) and its stderr
// in a file: one Maelstrom node as the network driver sees it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "chorus/base/status.h"

namespace chorus::maelstrom_test {

struct ChildProcess {
  pid_t pid = -1;
  int stdin_fd = -1;   // we write lines here
  int stdout_fd = -1;  // and read lines here
  std::string to_write;
  std::string read_buffer;
  bool paused = false;  // SIGSTOPped by the nemesis
  bool exited = false;
  int wait_status = 0;
};

// Starts argv[0] with `argv`, stderr appended to `stderr_path`.
[[nodiscard]] Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                         const std::string& stderr_path);

// Writes as much of to_write as the pipe takes. False if the child is gone (EPIPE).
bool flush_some(ChildProcess& child);

// Reads what is available and appends complete lines to `lines`. False on EOF or error.
bool read_lines(ChildProcess& child, std::vector<std::string>& lines);

// Closes stdin (a Maelstrom node exits on EOF), waits up to `grace_ms`, then SIGKILLs the child
// (by its pid only). Returns the wait status.
int stop(ChildProcess& child, int grace_ms);

}  // namespace chorus::maelstrom_test
