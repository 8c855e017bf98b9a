#include "e2e/node/node_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

namespace chorus::e2e {

NodeProcess::NodeProcess(const std::string& binary, const std::vector<std::string>& args,
                         const std::string& log_path, LineHook hook)
    : hook_(std::move(hook)) {
  // Writing to a node we killed must fail with EPIPE, not kill the driver.
  ::signal(SIGPIPE, SIG_IGN);
  // Everything the child needs is prepared before fork: a multi-threaded parent's child may only
  // make async-signal-safe calls until exec. O_CLOEXEC keeps other children from inheriting
  // these ends (a node holding another's stdin open would never see it close).
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::abort();
  }
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(to_child[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copies
    ::dup2(from_child[1], STDOUT_FILENO);
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the driver died before prctl
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (pid_ < 0) {
    std::perror("fork");
    std::abort();
  }
  stdin_fd_ = to_child[1];
  stdout_fd_ = from_child[0];
  reader_ = std::thread([this] { read_lines(); });
}

NodeProcess::~NodeProcess() {
  if (!exit_status_) kill9();
  if (reader_.joinable()) reader_.join();
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void NodeProcess::read_lines() {
  std::string buffer;
  char chunk[64 * 1024];
  while (true) {
    ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t eol; (eol = buffer.find('\n')) != std::string::npos; buffer.erase(0, eol + 1)) {
      json j = json::parse(buffer.substr(0, eol), nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) {
        std::fprintf(stderr, "node %d printed a line that is not JSON: %s\n", pid_,
                     buffer.substr(0, eol).c_str());
        continue;
      }
      if (hook_) hook_(j);
      std::lock_guard lock(mu_);
      if (j.value("event", "") == "ready") ready_ = j;
      if (j.value("final", false)) finals_[j.value("tag", uint64_t{0})] = j;
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::optional<json> NodeProcess::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return ready_ || eof_; });
  return ready_;
}

uint64_t NodeProcess::send(const std::string& command) {
  uint64_t tag;
  {
    std::lock_guard lock(mu_);
    tag = next_tag_++;
  }
  std::string line = std::to_string(tag) + " " + command + "\n";
  for (size_t done = 0; done < line.size();) {
    ssize_t n = ::write(stdin_fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the node is gone: wait_final sees EOF
    done += static_cast<size_t>(n);
  }
  return tag;
}

std::optional<json> NodeProcess::wait_final(uint64_t tag, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return finals_.contains(tag) || eof_; });
  auto it = finals_.find(tag);
  if (it == finals_.end()) return std::nullopt;
  return it->second;
}

bool NodeProcess::exited() const {
  std::lock_guard lock(mu_);
  return eof_;
}

void NodeProcess::reap(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit_status_) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      exit_status_ = r == pid_ ? status : -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);  // did not stop in time: it will now
      deadline = std::chrono::steady_clock::now() + kWait;
    }
    std::this_thread::sleep_for(5ms);  // waitpid has no timeout; a child exits within ms
  }
  // Its stdout is closed now; the reader drains what the node wrote before dying and stops.
  if (reader_.joinable()) reader_.join();
}

void NodeProcess::kill9() {
  if (exit_status_) return;
  ::kill(pid_, SIGKILL);
  reap(kWait);
}

bool NodeProcess::quit(std::chrono::milliseconds timeout) {
  if (exit_status_) return false;
  send("quit");
  reap(timeout);
  return WIFEXITED(*exit_status_) && WEXITSTATUS(*exit_status_) == 0;
}

uint16_t pick_free_port() {
  // Below the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768 by default).
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  int high = std::max(ephemeral_low, 12000);
  static std::mt19937 rng(std::random_device{}());
  static std::mutex mu;
  static std::set<int> handed_out;  // never twice in one driver run
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = std::uniform_int_distribution<int>(10000, high - 1)(rng);
    if (handed_out.contains(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) {
      handed_out.insert(port);
      return static_cast<uint16_t>(port);
    }
  }
  std::fprintf(stderr, "no free port found\n");
  std::abort();
}

}  // namespace chorus::e2e
