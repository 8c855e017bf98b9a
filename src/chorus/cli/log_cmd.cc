// chorus log inspect <dir>   segments, index range, record counts, sizes
// chorus log verify <dir>    checks every checksum; prints the first problem; exit 1 if corrupt
// Offline and read-only (safe on a live node's log: never cuts a torn tail, takes no lock).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "chorus/cli/commands.h"
#include "chorus/log/log.h"

namespace chorus::cli {
namespace {

int run_log_command(const std::string& cmd, const std::string& dir) {
  // Read-only: never cuts a torn tail or takes the writer's lock, so it is safe on a live log.
  auto log = log::Log::open(dir, {.read_only = true});
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  auto& l = **log;
  const auto& rec = l.recovery();
  if (cmd == "inspect") {
    uint64_t records = 0, used = 0, file = 0;
    std::printf("%-26s %20s %20s %10s %12s %12s\n", "segment", "first", "last", "records",
                "used_bytes", "file_bytes");
    for (const auto& s : l.segments()) {
      std::printf("%-26s %20llu %20llu %10llu %12llu %12llu\n", s.file.c_str(),
                  (unsigned long long)s.first_index.value(),
                  (unsigned long long)s.last_index.value(), (unsigned long long)s.records,
                  (unsigned long long)s.used_bytes, (unsigned long long)s.file_bytes);
      records += s.records;
      used += s.used_bytes;
      file += s.file_bytes;
    }
    std::printf("indexes [%llu, %llu], %llu records, %llu bytes used, %llu bytes on disk\n",
                (unsigned long long)l.first_index().value(),
                (unsigned long long)l.last_index().value(), (unsigned long long)records,
                (unsigned long long)used, (unsigned long long)file);
    std::printf("closed cleanly: %s\n", rec.clean_shutdown ? "yes" : "no");
  }
  if (rec.torn_tail_cut) {
    std::printf(
        "torn tail at offset %llu of the last segment (%llu unfinished records): never "
        "acknowledged; a writer cuts it at open\n",
        (unsigned long long)rec.torn_tail_offset, (unsigned long long)rec.records_cut);
  }
  if (cmd == "verify") {
    uint64_t n = 0;
    auto it = l.iterate(l.first_index(), l.last_index());
    while (it.next()) ++n;
    if (!it.status().ok()) {
      std::fprintf(stderr, "%s\n", it.status().ToString().c_str());
      return 1;
    }
    std::printf("ok: %llu records verified\n", (unsigned long long)n);
  }
  return 0;
}

}  // namespace

void add_log_commands(CLI::App& app) {
  auto* log = app.add_subcommand("log", "Offline checks of a log directory (<data-dir>/raft/log)");
  log->require_subcommand(1);
  static std::string dir;
  for (const char* cmd : {"inspect", "verify"}) {
    auto* c = log->add_subcommand(cmd, std::string(cmd) == "inspect"
                                           ? "Segments, index range, records, sizes"
                                           : "Check every record's checksum (exit 1 if not)");
    c->add_option("dir", dir, "The log directory")->required();
    c->callback([cmd] { std::exit(run_log_command(cmd, dir)); });
  }
}

}  // namespace chorus::cli
