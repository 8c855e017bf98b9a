#include "chorus/server/stats.h"

#include <algorithm>

namespace chorus::server {

void LatencyHistogram::add(double seconds) {
  auto it = std::lower_bound(kLatencyBoundsS.begin(), kLatencyBoundsS.end(), seconds);
  ++buckets[static_cast<size_t>(it - kLatencyBoundsS.begin())];
  ++count;
  sum_s += seconds;
}

void ServerStats::record(const std::vector<std::string>& names,
                         std::chrono::steady_clock::time_point started, bool ok) {
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const std::string& name : names) {
    auto it = commands.find(name);
    if (it == commands.end()) it = commands.emplace(name, CommandStats{}).first;
    CommandStats& c = it->second;
    ++c.calls;
    if (!ok) ++c.failed;
    c.latency.add(s);
  }
}

uint64_t ServerStats::total_commands() const {
  uint64_t n = local_commands;
  for (const auto& [name, c] : commands) n += c.calls;
  return n;
}

}  // namespace chorus::server
