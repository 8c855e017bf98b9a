// Helpers shared by the log's model, crash and corruption tests, all on SimFileSystem.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chorus/base/sim_file_system.h"
#include "chorus/log/log.h"
#include "chorus/log/record_format.h"
#include "support/test_scale.h"

namespace chorus::log::test {

inline const std::string kDir = "/log";

// Small segments so that they roll often; inline preallocation so that runs are deterministic.
inline Options sim_options(SimFileSystem* fs, Durability d = Durability::kAlways) {
  return {.fs = fs, .durability = d, .segment_bytes = 64 << 10, .background_preallocate = false};
}

inline std::string seg_path(const std::string& file) { return kDir + "/" + file; }

// Deterministic (not std::uniform_int_distribution, whose output differs between libraries).
class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}
  uint64_t below(uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  uint64_t in(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
  bool one_in(uint64_t n) { return below(n) == 0; }

 private:
  std::mt19937_64 gen_;
};

// The bytes of record `id`: its id first, then a stream derived from it with no zero byte, so
// that two records rarely look alike and none ends in a run of zeros.
inline Bytes payload(uint64_t id, size_t len) {
  Bytes out(len);
  uint64_t x = id * 0x9e3779b97f4a7c15ULL + len + 1;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t word = id;
    if (i > 0) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      word = x | 0x0101010101010101ULL;
    }
    std::memcpy(out.data() + i, &word, std::min<size_t>(8, len - i));
  }
  return out;
}

inline bool same(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

inline bool all_zero(ByteSpan b) {
  return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// "" when `log` holds exactly `want` from index `first` on (first/last index, head, a full
// iteration, and point reads: of every record, or of `reads` sampled ones when `rnd` is given);
// otherwise what differs.
template <typename Records>
std::string diff_log(const Log& log, LogIndex first, const Records& want, Random* rnd = nullptr,
                     size_t reads = 0) {
  LogIndex last = first + want.size() - 1;
  auto where = [](const char* what, uint64_t i) { return std::string(what) + std::to_string(i); };
  if (log.first_index() != first) {
    return where("first_index is ", log.first_index().value()) + where(", want ", first.value());
  }
  if (log.last_index() != last) {
    return where("last_index is ", log.last_index().value()) + where(", want ", last.value());
  }
  auto head = log.head();
  if (want.empty() ? head.ok() : (!head.ok() || !same(*head, want.back()))) return "head differs";
  LogIndex next = first;
  for (auto it = log.iterate(first, last); it.next(); next = next.next()) {
    if (it.index() != next) return where("iterator skipped to ", it.index().value());
    if (!same(want[next - first], it.data())) {
      return where("iterator: wrong bytes at index ", next.value());
    }
  }
  if (next != last.next()) return where("iterator stopped at ", next.value());
  for (size_t n = 0; n < (rnd ? std::min(reads, want.size()) : want.size()); ++n) {
    size_t k = rnd ? rnd->below(want.size()) : n;
    auto got = log.read(first + k);
    if (!got.ok()) {
      return where("read failed at ", (first + k).value()) + ": " + got.status().ToString();
    }
    if (!same(*got, want[k])) return where("read: wrong bytes at index ", (first + k).value());
  }
  if (log.read(last.next()).ok()) {
    return where("read past the end succeeds at ", last.next().value());
  }
  return "";
}

// Forwards to a SimFileSystem, and runs before_sync(path) before every File::sync(): a non-ok
// result fails that sync (which then makes nothing durable), and the hook may block to hold a
// sync in flight. SimFileSystem's own sync faults hit whichever sync comes next.
class SyncHookFs final : public FileSystem {
 public:
  explicit SyncHookFs(SimFileSystem& inner) : inner_(inner) {}
  // Set it while no other thread syncs (a kGroup log's sync thread does: set it before open()).
  std::function<Status(const std::string& path)> before_sync;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    CHORUS_ASSIGN_OR_RETURN(auto file, inner_.open(path, mode));
    return std::unique_ptr<File>(std::make_unique<HookedFile>(std::move(file), *this));
  }
  Result<bool> exists(const std::string& p) override { return inner_.exists(p); }
  Result<std::vector<std::string>> list_dir(const std::string& d) override {
    return inner_.list_dir(d);
  }
  Status create_dir(const std::string& d) override { return inner_.create_dir(d); }
  Status remove_file(const std::string& p) override { return inner_.remove_file(p); }
  Status remove_dir(const std::string& d) override { return inner_.remove_dir(d); }
  Status rename(const std::string& a, const std::string& b) override { return inner_.rename(a, b); }
  Status sync_dir(const std::string& d) override { return inner_.sync_dir(d); }
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& p) override {
    return inner_.lock_file(p);
  }

 private:
  class HookedFile final : public File {
   public:
    HookedFile(std::unique_ptr<File> inner, SyncHookFs& fs) : inner_(std::move(inner)), fs_(fs) {}
    Result<size_t> read_at(uint64_t o, std::span<std::byte> out) const override {
      return inner_->read_at(o, out);
    }
    Status write_at(uint64_t o, ByteSpan d) override { return inner_->write_at(o, d); }
    Status sync() override {
      if (fs_.before_sync) CHORUS_TRY(fs_.before_sync(path()));
      return inner_->sync();
    }
    Status truncate(uint64_t size) override { return inner_->truncate(size); }
    Result<uint64_t> size() const override { return inner_->size(); }
    Status preallocate(uint64_t size) override { return inner_->preallocate(size); }
    const std::string& path() const override { return inner_->path(); }

   private:
    std::unique_ptr<File> inner_;
    SyncHookFs& fs_;
  };

  SimFileSystem& inner_;
};

using chorus::test::report;  // support/test_scale.h
using chorus::test::scaled;

// Runs shard(0) .. shard(shards - 1) on their own threads (each on its own SimFileSystem) and
// returns the first error one reported, or "". Shards share nothing, so results do not depend on
// the scheduling: on two cores this halves the time of the longest suites.
inline constexpr unsigned kShards = 2;
inline std::string run_sharded(const std::function<std::string(unsigned shard)>& shard) {
  std::vector<std::string> errors(kShards);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kShards; ++t) threads.emplace_back([&, t] { errors[t] = shard(t); });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

// Wall and CPU time (all threads) since construction; reported together, because the machine
// these run on is often shared.
class Stopwatch {
 public:
  void report_times() const {
    auto wall = std::chrono::steady_clock::now() - wall_start_;
    report("wall_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wall).count());
    report("cpu_ms", (std::clock() - cpu_start_) * 1000 / CLOCKS_PER_SEC);
  }

 private:
  std::chrono::steady_clock::time_point wall_start_ = std::chrono::steady_clock::now();
  std::clock_t cpu_start_ = std::clock();
};

}  // namespace chorus::log::test
