// The load generator behind `chorus bench`: the same closed-loop workload against chorus, Redis
// (RESP) or etcd (its v3 JSON gateway over HTTP/1.1), with latency histograms.
//
// `concurrency` connections, spread over the endpoints, each keep `pipeline` requests in flight:
// a request is sent as soon as one completes, for `seconds`. Keys are drawn uniformly from
// `keys`; SET/put writes `value_bytes` bytes; GET/range reads (linearizable on chorus and etcd:
// their defaults). Latency is measured per request from send to reply.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "chorus/base/status.h"

namespace chorus::cli {

enum class BenchTarget { kResp, kEtcd };
enum class BenchWorkload { kWrite, kRead };

struct BenchSpec {
  BenchTarget target = BenchTarget::kResp;
  std::vector<std::string> endpoints;  // host:port
  BenchWorkload workload = BenchWorkload::kWrite;
  size_t concurrency = 16;
  size_t pipeline = 1;  // RESP only: requests in flight per connection
  double seconds = 5;
  uint64_t keys = 100'000;
  size_t value_bytes = 100;
  size_t threads = 2;  // load generator threads (connections are split among them)
};

// Latencies in log-linear buckets: 16 per power of two of nanoseconds (about 4% wide), the way
// HdrHistogram keeps a fixed relative precision.
class LatencyRecorder {
 public:
  void add(uint64_t ns);
  void merge(const LatencyRecorder& o);
  uint64_t count() const { return count_; }
  double percentile_ms(double p) const;  // p in [0, 100]

 private:
  static constexpr size_t kSub = 16;
  std::array<uint64_t, 64 * kSub> buckets_{};
  uint64_t count_ = 0;
};

struct BenchResult {
  uint64_t ok = 0;
  uint64_t errors = 0;  // error replies or failed requests
  double seconds = 0;
  LatencyRecorder latency;
  std::string first_error;
  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// Runs the workload (after filling every key once for reads is the caller's job: run a write
// pass first). Fails only when no connection can be made.
Result<BenchResult> run_bench(const BenchSpec& spec);

}  // namespace chorus::cli
