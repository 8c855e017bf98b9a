// log_bench: chorus::log next to raw baselines measured in the same run on the same filesystem.
//   build/release/bench/log_bench [--benchmark_format=json] [--benchmark_filter=...]
// Data goes to $CHORUS_BENCH_DIR (default ./build/bench-data). After the runs it prints the
// ratios that docs/BENCHMARKS.md tracks. Benchmarks are not tests: nothing here asserts a time.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "chorus/log/log.h"

using namespace chorus;

namespace {

std::string bench_dir(const std::string& name) {
  const char* env = std::getenv("CHORUS_BENCH_DIR");
  std::string root = env != nullptr ? env : "./build/bench-data";
  std::filesystem::create_directories(root);
  std::string dir = root + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<log::Log> open_log(const std::string& name, log::Durability d) {
  auto log = log::Log::open(bench_dir(name), {.durability = d});
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    std::abort();
  }
  return std::move(log).value();
}

void check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "log_bench: %s\n", s.ToString().c_str());
    std::abort();
  }
}

// Baseline: 4 KiB pwrite + fdatasync into a preallocated (zero-written) file, as fio does.
void BM_RawFdatasync(benchmark::State& state) {
  std::string path = bench_dir("raw") + ".dat";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  constexpr size_t kFile = 256 << 20;
  std::vector<char> block(1 << 20, 0);
  for (size_t at = 0; at < kFile; at += block.size()) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(at)) < 0) std::abort();
  }
  ::fsync(fd);
  std::vector<char> page(4096, 'x');
  size_t off = 0;
  for (auto _ : state) {
    if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(off)) < 0) std::abort();
    if (::fdatasync(fd) != 0) std::abort();
    off = (off + page.size()) % kFile;
  }
  state.SetItemsProcessed(state.iterations());
  ::close(fd);
  std::filesystem::remove(path);
}
BENCHMARK(BM_RawFdatasync)->UseRealTime()->MinTime(3);

// Baseline: large sequential writes (1 MiB each), synced once at the end.
void BM_RawSequentialWrite(benchmark::State& state) {
  std::string path = bench_dir("rawseq") + ".dat";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::vector<char> block(1 << 20, 'y');
  size_t off = 0;
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(off)) < 0) std::abort();
    off += block.size();
    if (off >= (1ull << 30)) {
      ::fdatasync(fd);
      off = 0;
    }
  }
  ::fdatasync(fd);
  state.SetBytesProcessed(state.iterations() * block.size());
  ::close(fd);
  std::filesystem::remove(path);
}
BENCHMARK(BM_RawSequentialWrite)->UseRealTime()->MinTime(2);

// One writer, 100-byte records, each durable before append returns.
void BM_AppendAlways(benchmark::State& state) {
  auto log = open_log("always", log::Durability::kAlways);
  Bytes record(100, std::byte{'a'});
  for (auto _ : state) check(log->append(record).status());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendAlways)->UseRealTime()->MinTime(3);

// Batches of 1,000 x 100-byte records, each batch durable before append_batch returns.
void BM_AppendBatch(benchmark::State& state) {
  auto log = open_log("batch", log::Durability::kAlways);
  std::vector<Bytes> batch(1000, Bytes(100, std::byte{'b'}));
  for (auto _ : state) check(log->append_batch(batch).status());
  state.SetItemsProcessed(state.iterations() * batch.size());
}
BENCHMARK(BM_AppendBatch)->UseRealTime()->MinTime(3);

// The same in a log's steady state, as a Raft WAL or op log runs: the log is trimmed behind the
// writer (to its last 4 segments), so new segments reuse trimmed files instead of zero-filled
// ones and the disk writes each record once.
void BM_AppendBatchTrimmed(benchmark::State& state) {
  auto log = open_log("batch-trimmed", log::Durability::kAlways);
  std::vector<Bytes> batch(1000, Bytes(100, std::byte{'b'}));
  for (auto _ : state) {
    check(log->append_batch(batch).status());
    if (auto segs = log->segments(); segs.size() > 4) {
      check(log->trim_prefix(segs[segs.size() - 5].last_index));
    }
  }
  state.SetItemsProcessed(state.iterations() * batch.size());
  state.counters["reused_files"] = static_cast<double>(log->stats().segments_recycled);
  state.counters["rolls"] = static_cast<double>(log->stats().segments_rolled);
}
BENCHMARK(BM_AppendBatchTrimmed)->UseRealTime()->MinTime(3);

// 64 concurrent appenders of 100-byte records sharing fdatasyncs (group commit).
void BM_GroupAppend(benchmark::State& state) {
  auto log = open_log("group", log::Durability::kGroup);
  const int threads = static_cast<int>(state.range(0));
  constexpr int kEach = 200;
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        Bytes record(100, std::byte{'g'});
        for (int i = 0; i < kEach; ++i) check(log->append(record).status());
      });
    }
    for (auto& th : pool) th.join();
  }
  state.SetItemsProcessed(state.iterations() * threads * kEach);
  state.counters["records_per_sync"] =
      static_cast<double>(log->stats().records_appended) / static_cast<double>(log->stats().syncs);
}
BENCHMARK(BM_GroupAppend)->Arg(64)->UseRealTime()->MinTime(3);

long peak_rss_kib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Iterate 1 GiB of 1 KiB records (page cache warm: written just before).
void BM_Iterate(benchmark::State& state) {
  auto log = open_log("iterate", log::Durability::kNone);
  constexpr size_t kRecord = 1024, kTotal = 1ull << 30;
  std::vector<Bytes> batch(1024, Bytes(kRecord, std::byte{'i'}));
  for (size_t bytes = 0; bytes < kTotal; bytes += batch.size() * kRecord) {
    check(log->append_batch(batch).status());
  }
  check(log->sync());
  uint64_t records = 0, bytes = 0;
  for (auto _ : state) {
    auto it = log->iterate(log->first_index(), log->last_index());
    while (it.next()) {
      ++records;
      bytes += it.data().size();
    }
    check(it.status());
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["peak_rss_MiB"] = static_cast<double>(peak_rss_kib()) / 1024.0;
  log.reset();
  std::filesystem::remove_all(bench_dir("iterate"));
}
BENCHMARK(BM_Iterate)->UseRealTime()->Iterations(3);

// Keeps each run's rate so the same-run ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rate[r.run_name.function_name] = it->second.value;
    }
  }
  std::map<std::string, double> rate;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rate;
  auto ratio = [&](const char* a, const char* b) {
    if (r.count(a) && r.count(b) && r[b] > 0) {
      std::printf("  %-34s %8.2f\n", (std::string(a) + " / " + b).c_str(), r[a] / r[b]);
    }
  };
  std::printf("\nsame-run ratios (floors: always/raw >= 0.8, group/always >= 20)\n");
  ratio("BM_AppendAlways", "BM_RawFdatasync");
  ratio("BM_GroupAppend", "BM_AppendAlways");
  ratio("BM_AppendBatch", "BM_AppendAlways");
  benchmark::Shutdown();
  return 0;
}
