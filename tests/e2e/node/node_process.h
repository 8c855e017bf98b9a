// NodeProcess: one chorus-node-proc child seen from the test driver -- spawned with fork/exec,
// commanded through its stdin, answered through its stdout (JSON lines, read by a thread of our
// own), killed with SIGKILL or stopped with `quit`. Every wait has a deadline, so a hung or dead
// node turns into a test failure, never a hung test.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chorus::e2e {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Generous: only there so that a broken node fails the test instead of hanging it. No test
// asserts a time.
inline constexpr std::chrono::milliseconds kWait = 60s;

// Polls `pred` until it holds or `timeout` passes (then false).
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = kWait) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class NodeProcess {
 public:
  // Sees every line the node prints, on the reader thread, before anyone waiting is woken.
  using LineHook = std::function<void(const json&)>;

  // Spawns `binary args...`; the child's stderr is appended to `log_path`. The child gets
  // SIGKILL if this (driver) thread dies, and exits by itself when its stdin closes.
  NodeProcess(const std::string& binary, const std::vector<std::string>& args,
              const std::string& log_path, LineHook hook);
  ~NodeProcess();  // SIGKILL if still running
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // The {"event":"ready"} line; nullopt if the node exited or did not get there in time.
  std::optional<json> wait_ready(std::chrono::milliseconds timeout = kWait);

  // Sends `<tag> command` and returns the tag.
  uint64_t send(const std::string& command);
  // The command's final line; nullopt if the node exited first or the time passed.
  std::optional<json> wait_final(uint64_t tag, std::chrono::milliseconds timeout = kWait);
  std::optional<json> call(const std::string& command, std::chrono::milliseconds timeout = kWait) {
    return wait_final(send(command), timeout);
  }

  // kill -9, then reap it and read what it printed before dying to the end.
  void kill9();
  // `quit`, then reap; true if it exited 0 in time (else it is killed).
  bool quit(std::chrono::milliseconds timeout = kWait);

  pid_t pid() const { return pid_; }
  bool exited() const;  // its stdout reached EOF (it died or quit)

 private:
  void read_lines();
  void reap(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  LineHook hook_;
  std::optional<int> exit_status_;  // set when reaped

  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_tag_ = 1;
  std::optional<json> ready_;
  std::map<uint64_t, json> finals_;
  bool eof_ = false;
  std::thread reader_;  // last: started once everything above exists
};

// A TCP port on 127.0.0.1 that nothing listens on now, below the kernel's ephemeral range so
// that no outgoing connection can take it before (or between the lives of) the node that
// binds it.
uint16_t pick_free_port();

}  // namespace chorus::e2e
