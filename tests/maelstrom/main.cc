// chorus-maelstrom-driver: runs chorus-maelstrom under a Maelstrom-style network with faults for
// each seed and checks every history for linearizability (docs/maelstrom.md).
//
//   chorus-maelstrom-driver --bin build/debug/src/chorus/maelstrom/chorus-maelstrom --seeds 1:3
//
// Exit status 0 when every seed passes. A failing seed prints itself and keeps its directory
// (history.jsonl for chorus-lincheck, n*.log for each node's stderr).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "driver.h"

namespace {

using chorus::maelstrom_test::DriverOptions;
using chorus::maelstrom_test::RunSummary;

void print_summary(uint64_t seed, const RunSummary& s) {
  std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), s.scenario.c_str());
  auto section = [&](const char* title, const std::string& prefix, bool with_total) {
    std::string line;
    uint64_t total = 0;
    for (const auto& [k, v] : s.counters) {
      if (!k.starts_with(prefix)) continue;
      line += " " + k.substr(prefix.size()) + "=" + std::to_string(v);
      total += v;
    }
    if (with_total) line = " total=" + std::to_string(total) + line;
    std::printf("  %-8s%s\n", title, line.c_str());
  };
  section("ops", "op_", true);
  section("faults", "fault_", true);
  section("network", "net_", false);
  auto get = [&](const char* k) {
    const auto it = s.counters.find(k);
    return static_cast<unsigned long long>(it == s.counters.end() ? 0 : it->second);
  };
  std::printf("  history  %llu operations checked, %llu states; recovery after heal %llu ms\n",
              get("ops"), get("lincheck_states"), get("recovery_ms"));
  if (s.ok) {
    std::printf("  verdict  linearizable\n");
  } else {
    std::printf("  verdict  FAILED: %s\n  seed %llu kept in %s\n", s.failure.c_str(),
                static_cast<unsigned long long>(seed), s.dir.c_str());
  }
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  DriverOptions options;
  std::string seeds = "1";
  std::string base = "/tmp/chorus-maelstrom";
  CLI::App app("chorus-maelstrom-driver: a Maelstrom-style lin-kv test of chorus-maelstrom");
  app.add_option("--bin", options.bin, "The chorus-maelstrom binary")->required();
  app.add_option("--seeds", seeds, "A seed N, or a range FIRST:LAST");
  app.add_option("--nodes", options.nodes, "Nodes (default: the seed picks 3 or 5)");
  app.add_option("--fault-ms", options.fault_ms, "Workload with faults, per seed");
  app.add_option("--recover-ms", options.recover_ms, "Workload after healing, per seed");
  app.add_option("--dir", base, "Parent directory of each seed's history and logs");
  app.add_flag("--keep", options.keep, "Keep the directory of passing seeds too");
  app.add_flag("--verbose", options.verbose, "Log nemesis events");
  CLI11_PARSE(app, argc, argv);

  uint64_t first = 0;
  uint64_t last = 0;
  const size_t colon = seeds.find(':');
  try {
    first = std::stoull(seeds.substr(0, colon));
    last = colon == std::string::npos ? first : std::stoull(seeds.substr(colon + 1));
  } catch (const std::exception&) {
    std::fprintf(stderr, "--seeds: expected N or FIRST:LAST\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);  // a node that dies must not take the driver with it
  int failed = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    options.seed = seed;
    options.dir = base + "/seed-" + std::to_string(seed) + "-" + std::to_string(getpid());
    std::filesystem::create_directories(options.dir);
    const RunSummary summary = chorus::maelstrom_test::run_once(options);
    print_summary(seed, summary);
    if (!summary.ok) {
      ++failed;
    } else if (!options.keep) {
      std::filesystem::remove_all(options.dir);
    }
  }
  std::printf("%llu seeds, %d failed\n", static_cast<unsigned long long>(last - first + 1), failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chorus-maelstrom-driver: %s\n", e.what());
  }
  return 2;
}
