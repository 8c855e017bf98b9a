#include "network.h"

namespace chorus::maelstrom_test {

void Network::send(int from, int to, std::string line, uint64_t now_ms) {
  ++counters["net_sent"];
  if (cut_.contains({from, to})) {
    ++counters["net_cut"];
    return;
  }
  if (rng_.chance(options_.drop_permille, 1000)) {
    ++counters["net_drop"];
    return;
  }
  uint64_t delay = rng_.between(0, options_.delay_max_ms);
  if (rng_.chance(options_.long_delay_permille, 1000)) {
    delay += rng_.between(50, 300);
    ++counters["net_long_delay"];
  }
  queue_.push({now_ms + delay, seq_++, to, std::move(line)});
}

std::vector<std::pair<int, std::string>> Network::due(uint64_t now_ms) {
  std::vector<std::pair<int, std::string>> out;
  while (!queue_.empty() && queue_.top().at <= now_ms) {
    // priority_queue::top is const; the line is copied once per delivered message.
    out.emplace_back(queue_.top().to, queue_.top().line);
    queue_.pop();
  }
  return out;
}

}  // namespace chorus::maelstrom_test
