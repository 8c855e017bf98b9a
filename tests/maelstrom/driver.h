// A Maelstrom-style harness for chorus-maelstrom (docs/maelstrom.md): starts N node processes,
// carries their messages over a seeded faulty network (drops, delays, partitions, pauses), acts
// as the lin-kv clients, records a Jepsen-style history and checks it for linearizability.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace chorus::maelstrom_test {

struct DriverOptions {
  std::string bin;  // the chorus-maelstrom binary
  std::string dir;  // where history and node logs go (default: under /tmp)
  uint64_t seed = 1;
  int nodes = 0;                // 0: the seed picks 3 or 5
  uint64_t fault_ms = 12'000;   // workload with faults
  uint64_t recover_ms = 5'000;  // workload after healing: some operation must succeed
  uint64_t client_timeout_ms = 2'500;
  bool keep = false;  // keep the directory even when the run passes
  bool verbose = false;
};

struct RunSummary {
  bool ok = false;
  std::string failure;
  std::string dir;
  std::string scenario;                      // what the seed chose: nodes, keys, network faults
  std::map<std::string, uint64_t> counters;  // ops by outcome, faults by kind, network
};

RunSummary run_once(const DriverOptions& options);

}  // namespace chorus::maelstrom_test
