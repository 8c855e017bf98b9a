// docstore_bench: the same workload through chorus::docstore and through @backloghq/opslog 0.8.1
// on Node (installed from npm into a temp dir when node and npm are present), side by side.
//
//   docstore_bench [--quick] [--no-opslog] [--dir /tmp/x]
//
// Workloads (medians of 3): set of small documents {name, status}, one at a time, awaited, each a
// new id, in immediate / group / async mode (group size 50, both sides' default; a group size of
// 1000 on both sides is shown for information); open (read-only) of a store of 100,000 and
// 1,000,000 records (snapshot + n/100 ops after it); resident memory per record after that open.
// chorus runs the set workloads with checkpoints off. opslog's immediate rate is shown twice: with
// its default options (a checkpoint every 100 ops) and with checkpoints off; group and async take
// opslog's better rate of the two. Each open runs in a fresh process (this binary re-executed
// with --open-child, or a new node), so that its resident-memory growth is not hidden by pages an
// earlier workload freed. The load average is printed before and after: the machine is shared.
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

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Json doc(uint64_t i) { return {{"name", "task " + std::to_string(i)}, {"status", "active"}}; }

double chorus_sets(const std::string& dir, WriteMode mode, uint64_t n, uint32_t group_size = 50) {
  fs::remove_all(dir);
  Options o;
  o.write_mode = mode;
  o.group_size = group_size;
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
  o.checkpoint_on_close = false;
  auto s = std::move(Store::open(dir, o)).value();
  for (uint64_t i = 0; i < n; ++i) (void)s->set("t" + std::to_string(i), doc(i));
  if (!s->compact().ok()) std::abort();
  for (uint64_t i = 0; i < n / 100; ++i) (void)s->set("t" + std::to_string(i), doc(i + 1));
  if (!s->close().ok()) std::abort();
}

// In a fresh process (--open-child): opens the store read-only; prints ms and bytes per record.
int open_child(const std::string& dir, uint64_t n) {
  Options o;
  o.read_only = true;
  uint64_t before = rss_bytes();
  double t0 = now_s();
  auto s = std::move(Store::open(dir, o)).value();
  double ms = (now_s() - t0) * 1000;
  if (s->count() != n) return 1;
  double per = static_cast<double>(rss_bytes() - before) / static_cast<double>(n);
  std::printf("%f %f\n", ms, per);
  return 0;
}

// Runs `cmd` (which prints "ms bytes_per_record") 3 times; the medians.
std::pair<double, double> open_in_child(const std::string& cmd, const std::string& out) {
  std::vector<double> ms, per;
  for (int k = 0; k < 3; ++k) {
    if (std::system((cmd + " > " + out).c_str()) != 0) return {-1, -1};
    std::istringstream in(read_file(out));
    double a = -1, b = -1;
    in >> a >> b;
    ms.push_back(a);
    per.push_back(b);
  }
  return {median(ms), median(per)};
}

const char* kOpslogScript = R"JS(
import { Store } from "@backloghq/opslog";
import { rmSync } from "node:fs";
const [what, dir, arg] = process.argv.slice(2);
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
const doc = (i) => ({ name: "task " + i, status: "active" });
// options: {} = opslog's defaults (a checkpoint every 100 ops); checkpoints off otherwise.
async function sets(mode, n, checkpoints, groupCommitSize = 50) {
  const r = [];
  for (let k = 0; k < 3; k++) {
    rmSync(dir, { recursive: true, force: true });
    const s = new Store();
    const o = { writeMode: mode, checkpointOnClose: false, groupCommitSize };
    if (!checkpoints) o.checkpointThreshold = 1e12;
    await s.open(dir, o);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await s.set("t" + i, doc(i));
    if (mode === "async") await s.sync(); else if (mode === "group") await s.flush();
    r.push(n / ((performance.now() - t0) / 1000));
    await s.close();
  }
  return med(r);
}
if (what === "sets") {
  const quick = arg === "1", out = {};
  const ni = quick ? 500 : 2000, ng = quick ? 5000 : 20000, na = quick ? 20000 : 100000;
  out.immediate_default = await sets("immediate", ni, true);
  out.immediate_nockpt = await sets("immediate", ni, false);
  out.group = Math.max(await sets("group", ng, true), await sets("group", ng, false));
  out.group1000 = await sets("group", ng, false, 1000);
  out.async = Math.max(await sets("async", na, true), await sets("async", na, false));
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(out));
} else if (what === "build") {
  const n = Number(arg);
  rmSync(dir, { recursive: true, force: true });
  const s = new Store();
  await s.open(dir, { writeMode: "async", checkpointThreshold: 1e12, checkpointOnClose: false });
  for (let i = 0; i < n; i++) await s.set("t" + i, doc(i));
  await s.compact();
  for (let i = 0; i < n / 100; i++) await s.set("t" + i, doc(i + 1));
  await s.sync();
  await s.close();
} else {  // open: in this fresh process
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = new Store();
  await r.open(dir, { readOnly: true });
  const ms = performance.now() - t0;
  console.log(ms, (process.memoryUsage().rss - before) / Number(arg));
  await r.close();
}
)JS";

// Installs opslog 0.8.1 into a temp dir and runs its side of every workload; {} when node/npm
// are absent.
Json run_opslog(const std::string& base, bool quick, const std::vector<uint64_t>& sizes) {
  if (std::system("command -v node >/dev/null && command -v npm >/dev/null") != 0) {
    std::printf("node/npm not found: opslog column skipped\n");
    return Json::object();
  }
  std::string pkg = base + "/opslog-pkg", data = base + "/opslog-data";
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
  std::string node = "cd " + pkg + " && node bench.mjs ";
  std::string out = pkg + "/out.txt";
  if (std::system((node + "sets " + data + (quick ? " 1" : " 0") + " > " + out).c_str()) != 0) {
    return Json::object();
  }
  Json o = Json::parse(read_file(out), nullptr, false);
  if (!o.is_object()) return Json::object();
  for (uint64_t n : sizes) {
    std::string ns = std::to_string(n);
    if (std::system((node + "build " + data + " " + ns).c_str()) != 0) break;
    auto [ms, per] = open_in_child(node + "open " + data + " " + ns, out);
    o["open_" + ns] = ms;
    o["rss_" + ns] = per;
  }
  fs::remove_all(data);
  return o;
}

void print_row(const char* name, double chorus, const Json& o, const std::string& key,
               const char* unit, bool lower_better) {
  std::string other = "-", ratio = "-";
  if (o.contains(key)) {
    double ov = o[key].get<double>();
    other = std::to_string(static_cast<int64_t>(ov));
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1fx", lower_better ? ov / chorus : chorus / ov);
    ratio = buf;
  }
  std::printf("%-40s %10lld %-6s %14s %8s\n", name, static_cast<long long>(chorus), unit,
              other.c_str(), ratio.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--open-child") {
    return open_child(argv[2], std::strtoull(argv[3], nullptr, 10));
  }
  bool quick = false, opslog = true;
  std::string base =
      fs::temp_directory_path().string() + "/docstore_bench_" + std::to_string(::getpid());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    if (a == "--no-opslog") opslog = false;
    if (a == "--dir" && i + 1 < argc) base = argv[++i];
  }
  std::printf("load average before: %s\n", load_average().c_str());
  fs::create_directories(base);
  std::string dir = base + "/chorus-data";
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::map<std::string, double> c;
  auto med3 = [](auto f) { return median({f(), f(), f()}); };
  c["immediate"] =
      med3([&] { return chorus_sets(dir, WriteMode::kImmediate, quick ? 500 : 2000); });
  c["group"] = med3([&] { return chorus_sets(dir, WriteMode::kGroup, quick ? 50000 : 200000); });
  c["group1000"] =
      med3([&] { return chorus_sets(dir, WriteMode::kGroup, quick ? 50000 : 200000, 1000); });
  c["async"] = med3([&] { return chorus_sets(dir, WriteMode::kAsync, quick ? 50000 : 500000); });
  std::vector<uint64_t> sizes =
      quick ? std::vector<uint64_t>{100000} : std::vector<uint64_t>{100000, 1000000};
  for (uint64_t n : sizes) {
    chorus_build(dir, n);
    std::string ns = std::to_string(n);
    auto [ms, per] = open_in_child(self + " --open-child " + dir + " " + ns, base + "/open.txt");
    c["open_" + ns] = ms;
    c["rss_" + ns] = per;
    fs::remove_all(dir);
  }
  Json o = opslog ? run_opslog(base, quick, sizes) : Json::object();
  std::printf("\n%-40s %17s %14s %8s\n", "workload", "chorus", "opslog 0.8.1", "ratio");
  print_row("set, immediate (vs opslog defaults)", c["immediate"], o, "immediate_default", "sets/s",
            false);
  print_row("set, immediate (vs opslog ckpt off)", c["immediate"], o, "immediate_nockpt", "sets/s",
            false);
  print_row("set, group (vs opslog best)", c["group"], o, "group", "sets/s", false);
  print_row("set, group size 1000 (both; information)", c["group1000"], o, "group1000", "sets/s",
            false);
  print_row("set, async (vs opslog best)", c["async"], o, "async", "sets/s", false);
  for (uint64_t n : sizes) {
    std::string ns = std::to_string(n);
    print_row(("open, " + ns + " records").c_str(), c["open_" + ns], o, "open_" + ns, "ms", true);
    print_row(("resident memory, " + ns + " records").c_str(), c["rss_" + ns], o, "rss_" + ns,
              "B/rec", true);
  }
  std::printf("(ratio: how many times better chorus is; chorus fsyncs, opslog never does)\n");
  std::printf("load average after: %s\n", load_average().c_str());
  fs::remove_all(base);
  return 0;
}
