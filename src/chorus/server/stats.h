// ServerStats: counters for INFO and /metrics. The io thread only (the admin HTTP thread asks
// the io thread for a rendering; it never reads these directly).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace chorus::server {

// Upper bounds (seconds) of the latency histogram buckets; the last bucket is +Inf.
inline constexpr std::array<double, 16> kLatencyBoundsS = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

struct LatencyHistogram {
  std::array<uint64_t, kLatencyBoundsS.size() + 1> buckets{};  // not cumulative
  uint64_t count = 0;
  double sum_s = 0;
  void add(double seconds);
};

struct CommandStats {
  uint64_t calls = 0;
  uint64_t failed = 0;  // the node refused or timed out (not a Redis error reply)
  LatencyHistogram latency;
};

struct ServerStats {
  uint64_t connections_received = 0;
  uint64_t connections_rejected = 0;  // over max-clients
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;
  uint64_t local_commands = 0;  // answered by the session itself
  uint64_t errors = 0;          // error replies
  uint64_t oom_refusals = 0;
  uint64_t expiry_proposals = 0;
  std::map<std::string, CommandStats, std::less<>> commands;  // replicated/read commands

  // One call per command of a finished node call, which took since `started`.
  void record(const std::vector<std::string>& names, std::chrono::steady_clock::time_point started,
              bool ok);
  uint64_t total_commands() const;
  void reset() { *this = ServerStats{}; }
};

}  // namespace chorus::server
