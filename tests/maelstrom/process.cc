#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace chorus::maelstrom_test {

Result<ChildProcess> spawn(const std::vector<std::string>& argv, const std::string& stderr_path) {
  int in[2];
  int out[2];
  if (pipe(in) != 0) return Status::FromErrno(errno, "pipe");
  if (pipe(out) != 0) {
    close(in[0]);
    close(in[1]);
    return Status::FromErrno(errno, "pipe");
  }
  const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) return Status::FromErrno(errno, stderr_path);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFD, FD_CLOEXEC);
  ChildProcess child;
  child.pid = pid;
  child.stdin_fd = in[1];
  child.stdout_fd = out[0];
  return child;
}

bool flush_some(ChildProcess& child) {
  while (!child.to_write.empty() && child.stdin_fd >= 0) {
    const ssize_t n = write(child.stdin_fd, child.to_write.data(), child.to_write.size());
    if (n > 0) {
      child.to_write.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

bool read_lines(ChildProcess& child, std::vector<std::string>& lines) {
  char chunk[64 << 10];
  for (;;) {
    const ssize_t n = read(child.stdout_fd, chunk, sizeof chunk);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    child.read_buffer.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = child.read_buffer.find('\n', start)) != std::string::npos;
         start = end + 1) {
      lines.emplace_back(child.read_buffer, start, end - start);
    }
    child.read_buffer.erase(0, start);
  }
}

int stop(ChildProcess& child, int grace_ms) {
  if (child.pid < 0) return 0;
  if (child.paused) kill(child.pid, SIGCONT);
  if (child.stdin_fd >= 0) close(child.stdin_fd);
  child.stdin_fd = -1;
  for (int waited = 0; !child.exited; waited += 10) {
    if (waitpid(child.pid, &child.wait_status, WNOHANG) == child.pid) {
      child.exited = true;
      break;
    }
    if (waited >= grace_ms) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &child.wait_status, 0);
      child.exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (child.stdout_fd >= 0) close(child.stdout_fd);
  child.stdout_fd = -1;
  return child.wait_status;
}

}  // namespace chorus::maelstrom_test
