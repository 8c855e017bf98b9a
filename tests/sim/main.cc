// chorus-sim: runs the deterministic cluster simulator.
//   chorus-sim --seed=N [-v]               one seed (a failure prints this command to replay it)
//   chorus-sim --seeds=FIRST:COUNT         a range; exits non-zero if any seed fails
//   chorus-sim --regressions=FILE          every seed listed in FILE (one per line, # comments)
//   --fault-ms=MS --liveness-ms=MS         simulated time of the fault and recovery phases
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "simulator.h"

using namespace chorus::sim;

namespace {

bool flag(const std::string& arg, const std::string& name, std::string& value) {
  if (arg.rfind(name + "=", 0) != 0) return false;
  value = arg.substr(name.size() + 1);
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: chorus-sim (--seed=N | --seeds=FIRST:COUNT | --regressions=FILE) [-v]\n"
               "                  [--fault-ms=MS] [--liveness-ms=MS]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint64_t> seeds;
  SimOptions base;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    if (a == "-v") {
      base.verbose = true;
    } else if (flag(a, "--seed", v)) {
      seeds.push_back(std::stoull(v));
    } else if (flag(a, "--seeds", v)) {
      auto colon = v.find(':');
      if (colon == std::string::npos) return usage();
      uint64_t first = std::stoull(v.substr(0, colon)), count = std::stoull(v.substr(colon + 1));
      for (uint64_t s = first; s < first + count; ++s) seeds.push_back(s);
    } else if (flag(a, "--regressions", v)) {
      std::ifstream in(v);
      if (!in) {
        std::fprintf(stderr, "chorus-sim: cannot read %s\n", v.c_str());
        return 2;
      }
      for (std::string line; std::getline(in, line);) {
        auto hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        if (line.find_first_not_of(" \t") != std::string::npos) seeds.push_back(std::stoull(line));
      }
    } else if (flag(a, "--fault-ms", v)) {
      base.fault_ms = std::stoull(v);
    } else if (flag(a, "--liveness-ms", v)) {
      base.liveness_ms = std::stoull(v);
    } else {
      return usage();
    }
  }
  if (seeds.empty()) return usage();
  Counters total;
  uint64_t failed = 0, ops = 0;
  for (uint64_t seed : seeds) {
    SimOptions o = base;
    o.seed = seed;
    SimResult r = run_simulation(o);
    total.merge(r.counters);
    ops += r.ops;
    if (!r.ok) {
      ++failed;
      std::printf("seed %llu FAILED: %s\n  replay: chorus-sim --seed=%llu -v\n",
                  static_cast<unsigned long long>(seed), r.failure.c_str(),
                  static_cast<unsigned long long>(seed));
    }
  }
  std::printf("\n%-28s %12s\n", "counter", "total");
  for (const auto& [k, v] : total.n)
    std::printf("%-28s %12llu\n", k.c_str(), static_cast<unsigned long long>(v));
  std::printf("\nseeds %zu, client operations %llu, failed seeds %llu\n", seeds.size(),
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(failed));
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(seeds.size() - failed),
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}
