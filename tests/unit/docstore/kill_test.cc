// kill -9 of a real writer process (immediate mode, the real file system) at random moments:
// every op the writer acknowledged must be there after the reopen, and every reopen succeeds.
//
// The writer is a fork of this test binary (no exec: it runs write_until_killed()); it reports
// each acknowledged op over a pipe *after* set()/batch() returned, so what the parent reads is a
// subset of what was acknowledged.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "docstore_test_util.h"

namespace chorus::docstore {
namespace {

using test::Random;
using test::report;
using test::scaled;

[[noreturn]] void write_until_killed(const std::string& dir, uint64_t first, int fd,
                                     uint64_t seed) {
  Options o;
  o.checkpoint_threshold = 64;  // checkpoints (and their crash points) happen under the kill too
  o.segment_bytes = 64 << 10;
  auto s = Store::open(dir, o);
  if (!s.ok()) _exit(3);
  Random rnd(seed);
  for (uint64_t i = first;; ++i) {
    Status st;
    if (rnd.one_in(5)) {
      st = (*s)->batch([i](Batch& b) {
        CHORUS_TRY(b.set("k" + std::to_string(i), i));
        return b.set("batch-of-" + std::to_string(i), i);
      });
    } else {
      st = (*s)->set("k" + std::to_string(i), i);
    }
    if (!st.ok()) _exit(4);
    if (::write(fd, &i, sizeof(i)) != sizeof(i)) _exit(5);
  }
}

TEST(DocstoreKillTest, KillNineNeverLosesAnAcknowledgedOp) {
  const uint64_t kills = scaled(200);
  std::string dir = ::testing::TempDir() + "docstore_kill_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  Random rnd(2024);
  uint64_t next = 1, acked_total = 0;
  std::vector<uint64_t> acked;
  for (uint64_t k = 0; k < kills; ++k) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      write_until_killed(dir, next, fds[1], k);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(rnd.in(2000, 40000)));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own with " << WEXITSTATUS(status);
    uint64_t i = 0;
    while (::read(fds[0], &i, sizeof(i)) == sizeof(i)) acked.push_back(i);
    ::close(fds[0]);
    Options o;
    o.checkpoint_on_close = rnd.one_in(4);
    auto s = Store::open(dir, o);
    ASSERT_TRUE(s.ok()) << "reopen after kill " << k << ": " << s.status().ToString();
    for (uint64_t id : acked) {
      auto v = (*s)->get("k" + std::to_string(id));
      ASSERT_TRUE(v.has_value()) << "acknowledged op k" << id << " lost after kill " << k;
      ASSERT_EQ(*v, id);
    }
    (*s)->check_invariants();
    ASSERT_TRUE((*s)->close().ok());
    acked_total = acked.size();
    if (!acked.empty()) next = acked.back() + 1;
    // Unacknowledged ops may have landed: start past anything the child could have written.
    next += 1000;
  }
  report("kill9_kills", static_cast<int64_t>(kills));
  report("kill9_acked_ops_checked", static_cast<int64_t>(acked_total));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace chorus::docstore
