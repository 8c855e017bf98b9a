// The deterministic cluster simulator (TigerBeetle's VOPR, FoundationDB's simulation): whole
// clusters in one thread from one seed — the real Raft core, the real RaftStorage and chorus::log
// on a SimFileSystem per node, a simulated network and per-node tick rates — under every fault
// the seed chooses, with invariants checked after every event and the clients' history checked
// for linearizability at the end. A failing seed replays exactly with `chorus-sim --seed=N`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "chorus/base/rng.h"
#include "chorus/base/sim_file_system.h"
#include "chorus/node/raft_storage.h"
#include "chorus/raft/raft.h"
#include "linkv.h"
#include "support/linearizability.h"

namespace chorus::sim {

struct SimOptions {
  uint64_t seed = 1;
  uint64_t fault_ms = 20'000;     // simulated time with faults on
  uint64_t liveness_ms = 30'000;  // bound on recovery after everything heals
  bool verbose = false;
};

// Counts of what a run injected and exercised, summed over seeds by chorus-sim.
struct Counters {
  std::map<std::string, uint64_t> n;
  void add(const std::string& key, uint64_t v = 1) { n[key] += v; }
  void merge(const Counters& o) {
    for (const auto& [k, v] : o.n) n[k] += v;
  }
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first violated property, with details
  Counters counters;
  uint64_t ops = 0;
  lincheck::Verdict verdict = lincheck::Verdict::kLinearizable;
};

SimResult run_simulation(const SimOptions& options);

}  // namespace chorus::sim
