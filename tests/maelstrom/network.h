// The simulated network between Maelstrom nodes: seeded drops, delays (with reordering) and
// partitions (any set of cut directed links), as Maelstrom's own net and partition nemesis do.
#pragma once

#include <cstdint>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "chorus/base/rng.h"

namespace chorus::maelstrom_test {

struct NetworkOptions {
  uint64_t drop_permille = 0;
  uint64_t delay_max_ms = 5;
  uint64_t long_delay_permille = 0;  // then 50-300 ms more: reordered behind later messages
};

class Network {
 public:
  Network(NetworkOptions options, Rng& rng) : options_(options), rng_(rng) {}

  // A message from node `from` to node `to` sent at now_ms; it may be dropped or delayed.
  void send(int from, int to, std::string line, uint64_t now_ms);
  // Messages due at now_ms, in delivery order: (to, line).
  std::vector<std::pair<int, std::string>> due(uint64_t now_ms);
  // The earliest delivery time, or UINT64_MAX.
  uint64_t next_due() const { return queue_.empty() ? UINT64_MAX : queue_.top().at; }

  void cut(int from, int to) { cut_.insert({from, to}); }
  void heal() { cut_.clear(); }
  bool partitioned() const { return !cut_.empty(); }

  std::map<std::string, uint64_t> counters;

 private:
  struct InFlight {
    uint64_t at;
    uint64_t seq;
    int to;
    std::string line;
    bool operator>(const InFlight& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
  };
  NetworkOptions options_;
  Rng& rng_;
  std::set<std::pair<int, int>> cut_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  uint64_t seq_ = 0;
};

}  // namespace chorus::maelstrom_test
