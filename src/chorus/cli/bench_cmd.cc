// chorus bench: drives one system with the load generator (load_generator.h) and prints, per
// concurrency, ops/s and latency percentiles; --json appends the results to a file as a list of
// {system, workload, concurrency, pipeline, ops_per_sec, p50_ms, p99_ms, p999_ms, errors}.
// scripts/bench-cluster.sh runs it against chorus, etcd and Redis in turn (`make bench-cluster`).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/cli/commands.h"
#include "chorus/cli/load_generator.h"

namespace chorus::cli {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Options {
  std::string target = "resp";
  std::string endpoints = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
  std::string workload = "set";
  std::string concurrency = "1,16,64,256";
  size_t pipeline = 1;
  double seconds = 5;
  uint64_t keys = 100'000;
  size_t value_bytes = 100;
  size_t threads = 2;
  std::string system = "chorus";
  std::string json;
};

int run(const Options& o) {
  BenchSpec spec;
  spec.target = o.target == "etcd" ? BenchTarget::kEtcd : BenchTarget::kResp;
  spec.endpoints = split(o.endpoints);
  spec.workload = o.workload == "get" ? BenchWorkload::kRead : BenchWorkload::kWrite;
  spec.pipeline = o.pipeline;
  spec.seconds = o.seconds;
  spec.keys = o.keys;
  spec.value_bytes = o.value_bytes;
  spec.threads = o.threads;
  nlohmann::json rows = nlohmann::json::array();
  if (!o.json.empty()) {
    std::ifstream in(o.json);
    if (in) rows = nlohmann::json::parse(in, nullptr, false);
    if (!rows.is_array()) rows = nlohmann::json::array();
  }
  int status = 0;
  for (const std::string& c : split(o.concurrency)) {
    spec.concurrency = std::stoul(c);
    auto r = run_bench(spec);
    if (!r.ok()) {
      std::fprintf(stderr, "chorus bench: %s\n", r.status().ToString().c_str());
      return 1;
    }
    const double p50 = r->latency.percentile_ms(50), p99 = r->latency.percentile_ms(99),
                 p999 = r->latency.percentile_ms(99.9);
    std::printf(
        "%-22s %-4s c=%-4zu P=%-3zu %12.0f ops/s  p50 %8.3f ms  p99 %8.3f ms  p99.9 %8.3f ms"
        "  errors %llu%s%s\n",
        o.system.c_str(), o.workload.c_str(), spec.concurrency, spec.pipeline, r->ops_per_sec(),
        p50, p99, p999, static_cast<unsigned long long>(r->errors),
        r->first_error.empty() ? "" : " first: ", r->first_error.c_str());
    std::fflush(stdout);
    if (r->ok == 0) status = 1;
    rows.push_back({{"system", o.system},
                    {"workload", o.workload},
                    {"concurrency", spec.concurrency},
                    {"pipeline", spec.pipeline},
                    {"ops_per_sec", r->ops_per_sec()},
                    {"p50_ms", p50},
                    {"p99_ms", p99},
                    {"p999_ms", p999},
                    {"errors", r->errors}});
  }
  if (!o.json.empty()) {
    std::ofstream out(o.json, std::ios::trunc);
    out << rows.dump(1) << "\n";
  }
  return status;
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  static Options o;
  auto* b = app.add_subcommand("bench", "Drive a workload against chorus, Redis or etcd");
  b->add_option("--target", o.target, "Protocol: resp (chorus, Redis) or etcd (v3 JSON gateway)")
      ->check(CLI::IsMember({"resp", "etcd"}))
      ->capture_default_str();
  b->add_option("--endpoints", o.endpoints, "host:port,... (connections are spread over them)")
      ->capture_default_str();
  b->add_option("--workload", o.workload, "set (SET / put) or get (GET / linearizable range)")
      ->check(CLI::IsMember({"set", "get"}))
      ->capture_default_str();
  b->add_option("--concurrency", o.concurrency, "Connections; a list runs each in turn")
      ->capture_default_str();
  b->add_option("--pipeline", o.pipeline, "Requests in flight per connection (RESP)")
      ->capture_default_str();
  b->add_option("--seconds", o.seconds, "Duration of each run")->capture_default_str();
  b->add_option("--keys", o.keys, "Key space")->capture_default_str();
  b->add_option("--value-bytes", o.value_bytes, "Value size")->capture_default_str();
  b->add_option("--threads", o.threads, "Load generator threads")->capture_default_str();
  b->add_option("--system", o.system, "Label for the output")->capture_default_str();
  b->add_option("--json", o.json, "Append the results to this JSON file");
  b->callback([] { std::exit(run(o)); });
}

}  // namespace chorus::cli
