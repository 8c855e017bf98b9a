// chorus-maelstrom: a Jepsen Maelstrom lin-kv node (docs/maelstrom.md). Reads Maelstrom messages
// as JSON lines on stdin, writes messages on stdout (one per line, flushed), logs on stderr.
//
// One thread: poll() on stdin until the next tick is due, so the node's logical time (Raft
// ticks) advances every --tick-ms of wall time whether or not messages arrive.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "chorus/maelstrom/lin_kv_node.h"

namespace {

using Clock = std::chrono::steady_clock;
using chorus::maelstrom::Json;
using chorus::maelstrom::LinKvNode;

// A line longer than this is not a Maelstrom message; drop it rather than grow without bound.
constexpr size_t kMaxLineBytes = 64 << 20;

void write_out(LinKvNode::Outbox& out) {
  for (const Json& message : out) {
    const std::string line = message.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);  // Maelstrom reads line by line: never leave a reply in a buffer
  }
  out.clear();
}

void log_changes(LinKvNode& node, uint64_t& taken, uint64_t& installed) {
  if (const std::string change = node.take_leadership_change(); !change.empty()) {
    std::fprintf(stderr, "%s: %s\n", node.name().c_str(), change.c_str());
  }
  if (node.snapshots_taken() != taken || node.snapshots_installed() != installed) {
    taken = node.snapshots_taken();
    installed = node.snapshots_installed();
    std::fprintf(stderr, "%s: snapshots taken %llu, installed from the leader %llu\n",
                 node.name().c_str(), static_cast<unsigned long long>(taken),
                 static_cast<unsigned long long>(installed));
  }
}

// Handles every complete line in `buffer` and keeps the partial tail.
void handle_lines(LinKvNode& node, std::string& buffer, LinKvNode::Outbox& out, bool verbose) {
  size_t start = 0;
  for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string_view line(buffer.data() + start, end - start);
    if (line.empty()) continue;
    if (verbose) std::fprintf(stderr, "recv %.*s\n", static_cast<int>(line.size()), line.data());
    const std::optional<Json> message = chorus::maelstrom::parse_message(line);
    if (!message) {
      std::fprintf(stderr, "ignoring malformed line: %.*s\n",
                   static_cast<int>(std::min<size_t>(line.size(), 200)), line.data());
      continue;
    }
    node.handle(*message, out);
    write_out(out);
  }
  buffer.erase(0, start);
  if (buffer.size() > kMaxLineBytes) {
    std::fprintf(stderr, "dropping an over-long line (%zu bytes)\n", buffer.size());
    buffer.clear();
  }
}

int run(int argc, char** argv) {
  chorus::maelstrom::NodeOptions options;
  int tick_ms = 10;
  bool verbose = false;
  uint64_t seed = std::random_device{}();
  CLI::App app("chorus-maelstrom: a Maelstrom lin-kv node on the chorus Raft core");
  app.add_option("--tick-ms", tick_ms, "Milliseconds per Raft tick")->check(CLI::Range(1, 1000));
  app.add_option("--election-tick", options.election_tick, "Election timeout in ticks");
  app.add_option("--heartbeat-tick", options.heartbeat_tick, "Heartbeat interval in ticks");
  app.add_option("--snapshot-every", options.snapshot_threshold_entries,
                 "Snapshot after this many applied entries");
  app.add_option("--request-timeout-ticks", options.request_timeout_ticks,
                 "Answer 'timeout' (indefinite) after this many ticks");
  app.add_option("--seed", seed, "Seed for election timeouts (default: random)");
  app.add_flag("--verbose", verbose, "Log every message received");
  CLI11_PARSE(app, argc, argv);
  options.random_seed = seed;
  // A fresh process is a fresh incarnation: proposal ids of an earlier run never collide.
  options.incarnation = static_cast<uint32_t>(std::random_device{}());

  LinKvNode node(options);
  LinKvNode::Outbox out;
  std::string buffer;
  char chunk[64 << 10];
  const auto tick = std::chrono::milliseconds(tick_ms);
  auto next_tick = Clock::now() + tick;
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  for (;;) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) {
      std::perror("poll");
      return 1;
    }
    if (ready > 0) {
      const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
      if (n == 0) break;  // Maelstrom closed our stdin: the test is over
      if (n < 0 && errno != EINTR && errno != EAGAIN) {
        std::perror("read");
        return 1;
      }
      if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
      handle_lines(node, buffer, out, verbose);
    }
    const auto now = Clock::now();
    if (now >= next_tick) {
      node.tick(out);
      write_out(out);
      // After a stall (SIGSTOP, an overloaded host) take one tick, not a burst of them.
      next_tick = std::max(next_tick + tick, now);
    }
    log_changes(node, snapshots_taken, snapshots_installed);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chorus-maelstrom: %s\n", e.what());
  }
  return 1;
}
