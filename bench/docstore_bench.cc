// docstore_bench: the same workload through chorus::docstore and through @backloghq/opslog 0.8.1
// on Node (installed from npm into a temp dir when node and npm are present), side by side.
//
//   docstore_bench [--quick] [--no-opslog] [--dir /tmp/x]
//
// Workloads (medians of 3): set of small documents {name, status} one at a time, awaited, in
// immediate / group / async mode with checkpoints off; open of a store with 100,000 and
// 1,000,000 records (snapshot + ops replay); resident memory per record after open.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/docstore/store.h"

namespace fs = std::filesystem;
using chorus::docstore::Json;
using chorus::docstore::Options;
using chorus::docstore::Store;
using chorus::docstore::WriteMode;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Json doc(uint64_t i) { return {{"name", "task " + std::to_string(i)}, {"status", "active"}}; }

double chorus_sets(const std::string& dir, WriteMode mode, uint64_t n) {
  fs::remove_all(dir);
  Options o;
  o.write_mode = mode;
  o.checkpoint_threshold = 0;
  o.checkpoint_on_close = false;
  auto s = std::move(Store::open(dir, o)).value();
  double t0 = now_s();
  for (uint64_t i = 0; i < n; ++i) {
    if (!s->set("t" + std::to_string(i), doc(i)).ok()) std::abort();
  }
  if (!s->sync().ok()) std::abort();
  double rate = static_cast<double>(n) / (now_s() - t0);
  (void)s->close();
  fs::remove_all(dir);
  return rate;
}

// Builds a store of n records (snapshot) plus n/100 ops after it.
void chorus_build(const std::string& dir, uint64_t n) {
  fs::remove_all(dir);
  Options o;
  o.write_mode = WriteMode::kAsync;
  o.checkpoint_threshold = 0;
  auto s = std::move(Store::open(dir, o)).value();
  for (uint64_t i = 0; i < n; ++i) (void)s->set("t" + std::to_string(i), doc(i));
  if (!s->compact().ok()) std::abort();
  for (uint64_t i = 0; i < n / 100; ++i) (void)s->set("t" + std::to_string(i), doc(i + 1));
  o.checkpoint_on_close = false;
  (void)s->sync();
  s.reset();
}

std::pair<double, double> chorus_open(const std::string& dir, uint64_t n) {
  Options o;
  o.read_only = true;
  uint64_t before = rss_bytes();
  double t0 = now_s();
  auto s = std::move(Store::open(dir, o)).value();
  double ms = (now_s() - t0) * 1000;
  if (s->count() != n) std::abort();
  double per = static_cast<double>(rss_bytes() - before) / static_cast<double>(n);
  return {ms, per};
}

const char* kOpslogScript = R"JS(
import { Store } from "@backloghq/opslog";
import { rmSync } from "node:fs";
const dir = process.argv[2], quick = process.argv[3] === "1";
const out = {};
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
async function sets(mode, n, threshold) {
  const r = [];
  for (let k = 0; k < 3; k++) {
    rmSync(dir, { recursive: true, force: true });
    const s = new Store();
    await s.open(dir, { writeMode: mode, checkpointThreshold: threshold, checkpointOnClose: false });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await s.set("t" + i, { name: "task " + i, status: "active" });
    if (mode === "async") await s.sync(); else if (mode === "group") await s.flush();
    r.push(n / ((performance.now() - t0) / 1000));
    await s.close();
  }
  return med(r);
}
out.immediate = Math.max(await sets("immediate", quick ? 500 : 2000, 100),
                         await sets("immediate", quick ? 500 : 2000, 1e12));
out.group = Math.max(await sets("group", quick ? 5000 : 20000, 100),
                     await sets("group", quick ? 5000 : 20000, 1e12));
out.async = await sets("async", quick ? 20000 : 100000, 1e12);
for (const n of quick ? [100000] : [100000, 1000000]) {
  rmSync(dir, { recursive: true, force: true });
  const s = new Store();
  await s.open(dir, { writeMode: "async", checkpointThreshold: 1e12 });
  for (let i = 0; i < n; i++) await s.set("t" + i, { name: "task " + i, status: "active" });
  await s.compact();
  for (let i = 0; i < n / 100; i++) await s.set("t" + i, { name: "task x", status: "active" });
  await s.sync();
  await s.close();
  const times = [];
  let per = 0;
  for (let k = 0; k < 3; k++) {
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = new Store();
    await r.open(dir, { readOnly: true });
    times.push(performance.now() - t0);
    per = (process.memoryUsage().rss - before) / n;
    await r.close();
  }
  out["open_" + n] = med(times);
  out["rss_" + n] = per;
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
)JS";

// Installs opslog 0.8.1 into a temp dir and runs the script there; {} when node/npm are absent.
Json run_opslog(const std::string& base, bool quick) {
  if (std::system("command -v node >/dev/null && command -v npm >/dev/null") != 0) {
    std::printf("node/npm not found: opslog column skipped\n");
    return Json::object();
  }
  std::string pkg = base + "/opslog-pkg";
  fs::create_directories(pkg);
  std::ofstream(pkg + "/package.json") << R"({"name":"b","version":"1.0.0","type":"module"})";
  std::ofstream(pkg + "/bench.mjs") << kOpslogScript;
  std::string install = "cd " + pkg +
                        " && npm install --silent --no-audit --no-fund @backloghq/opslog@0.8.1 "
                        ">/dev/null 2>&1";
  if (std::system(install.c_str()) != 0) {
    std::printf("npm install @backloghq/opslog@0.8.1 failed: opslog column skipped\n");
    return Json::object();
  }
  std::string cmd = "cd " + pkg + " && node bench.mjs " + base + "/opslog-data " +
                    (quick ? "1" : "0") + " > " + pkg + "/out.json";
  if (std::system(cmd.c_str()) != 0) return Json::object();
  std::ifstream in(pkg + "/out.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str(), nullptr, false);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, opslog = true;
  std::string base =
      fs::temp_directory_path().string() + "/docstore_bench_" + std::to_string(::getpid());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    if (a == "--no-opslog") opslog = false;
    if (a == "--dir" && i + 1 < argc) base = argv[++i];
  }
  fs::create_directories(base);
  std::string dir = base + "/chorus-data";
  std::map<std::string, double> c;
  auto med3 = [](auto f) { return median({f(), f(), f()}); };
  c["immediate"] =
      med3([&] { return chorus_sets(dir, WriteMode::kImmediate, quick ? 500 : 2000); });
  c["group"] = med3([&] { return chorus_sets(dir, WriteMode::kGroup, quick ? 50000 : 200000); });
  c["async"] = med3([&] { return chorus_sets(dir, WriteMode::kAsync, quick ? 50000 : 500000); });
  std::vector<uint64_t> sizes =
      quick ? std::vector<uint64_t>{100000} : std::vector<uint64_t>{100000, 1000000};
  for (uint64_t n : sizes) {
    chorus_build(dir, n);
    std::vector<double> times;
    double per = 0;
    for (int k = 0; k < 3; ++k) {
      auto [ms, p] = chorus_open(dir, n);
      times.push_back(ms);
      per = p;
    }
    c["open_" + std::to_string(n)] = median(times);
    c["rss_" + std::to_string(n)] = per;
    fs::remove_all(dir);
  }
  Json o = opslog ? run_opslog(base, quick) : Json::object();
  std::printf("\n%-22s %16s %16s %10s\n", "workload", "chorus", "opslog 0.8.1", "ratio");
  for (const auto& [k, v] : c) {
    bool lower_better = k.starts_with("open_") || k.starts_with("rss_");
    const char* unit = k.starts_with("open_") ? "ms" : k.starts_with("rss_") ? "B/rec" : "sets/s";
    std::string other = "-", ratio = "-";
    if (o.is_object() && o.contains(k)) {
      double ov = o[k].get<double>();
      other = std::to_string(static_cast<int64_t>(ov));
      double r = lower_better ? ov / v : v / ov;
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.1fx", r);
      ratio = buf;
    }
    std::printf("%-22s %10lld %-5s %16s %10s\n", k.c_str(), static_cast<long long>(v), unit,
                other.c_str(), ratio.c_str());
  }
  std::printf("(ratio: how many times better chorus is; opslog never fsyncs)\n");
  fs::remove_all(base);
  return 0;
}
