// chorus docstore get|set|del|history|undo|compact|stats <dir> ...: quick inspection and repair
// of a chorus::docstore directory; import <opslog-dir> <dir> and export <dir> <opslog-dir> move
// data from and to the directory format of @backloghq/opslog 0.8.1 (docstore/opslog_format.h).
// get/history/stats open it read-only (no lock: safe beside a live writer); the others take the
// writer's lock and fail with "busy" while a writer runs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "chorus/docstore/opslog_format.h"
#include "chorus/docstore/store.h"

namespace chorus::cli {
namespace {

using docstore::Json;
using docstore::Op;
using docstore::OpType;
using docstore::Store;

struct DocstoreArgs {
  std::string dir, id, value;
};

int fail(const Status& st) {
  std::fprintf(stderr, "%s\n", st.ToString().c_str());
  return 1;
}

std::string op_line(const Op& op) {
  Json j = {{"ts", op.ts_ms},
            {"op", op.type == OpType::kSet ? "set" : "delete"},
            {"id", op.id},
            {"clock", op.clock}};
  if (op.data) j["data"] = *op.data;
  if (op.prev) j["prev"] = *op.prev;
  if (!op.agent.empty()) j["agent"] = op.agent;
  return j.dump();
}

int run_docstore_command(const std::string& cmd, const DocstoreArgs& a) {
  bool reads = cmd == "get" || cmd == "history" || cmd == "stats";
  docstore::Options o;
  o.read_only = reads;
  o.checkpoint_on_close = cmd == "compact";
  auto opened = Store::open(a.dir, o);
  if (!opened.ok()) return fail(opened.status());
  Store& s = **opened;
  Status st;
  if (cmd == "get") {
    auto v = s.get(a.id);
    if (!v) return fail(Status::NotFound("no record '" + a.id + "'"));
    std::printf("%s\n", v->dump(2).c_str());
  } else if (cmd == "set") {
    Json v = Json::parse(a.value, nullptr, false);
    if (v.is_discarded()) return fail(Status::InvalidArgument("value is not JSON: " + a.value));
    st = s.set(a.id, std::move(v));
  } else if (cmd == "del") {
    st = s.del(a.id);
  } else if (cmd == "history") {
    for (const Op& op : s.history(a.id)) std::printf("%s\n", op_line(op).c_str());
  } else if (cmd == "undo") {
    auto r = s.undo();
    if (!r.ok()) return fail(r.status());
    std::printf("%s\n", *r ? "undone" : "nothing to undo");
  } else if (cmd == "compact") {
    st = s.compact();
  } else if (cmd == "stats") {
    auto m = s.manifest();
    Json j = {{"active_records", m.stats.active_records},
              {"ops_count", m.stats.ops_count},
              {"archive_segments", m.stats.archive_segments},
              {"generation", m.manifest.generation},
              {"schema_version", m.manifest.schema_version},
              {"snapshot", m.snapshot_path},
              {"snapshot_records", m.manifest.snapshot_records},
              {"clock", m.stats.clock},
              {"ops_dirs", m.ops_dirs}};
    std::printf("%s\n", j.dump(2).c_str());
  }
  if (!st.ok()) return fail(st);
  Status closed = s.close();
  return closed.ok() ? 0 : fail(closed);
}

}  // namespace

void add_docstore_commands(CLI::App& app) {
  auto* ds = app.add_subcommand("docstore", "Inspect and edit a chorus::docstore directory");
  ds->require_subcommand(1);
  static DocstoreArgs args;
  struct Cmd {
    const char* name;
    const char* help;
    bool id, value;
  };
  for (const Cmd& c :
       {Cmd{"get", "Print record <id> (read-only)", true, false},
        Cmd{"set", "Set record <id> to <json>", true, true},
        Cmd{"del", "Delete record <id> (error if absent)", true, false},
        Cmd{"history", "Ops of record <id> since the snapshot, as JSON lines", true, false},
        Cmd{"undo", "Undo the last op", false, false},
        Cmd{"compact", "Write a new snapshot and clear the ops", false, false},
        Cmd{"stats", "Records, ops, archive segments, manifest", false, false}}) {
    auto* sub = ds->add_subcommand(c.name, c.help);
    sub->add_option("dir", args.dir, "The store directory")->required();
    if (c.id) sub->add_option("id", args.id, "Record id")->required();
    if (c.value) sub->add_option("json", args.value, "The new value (JSON)")->required();
    std::string name = c.name;
    sub->callback([name] { std::exit(run_docstore_command(name, args)); });
  }
  static std::string from, to;
  auto* imp = ds->add_subcommand(
      "import", "Build a new docstore <dir> from an @backloghq/opslog 0.8.1 directory");
  imp->add_option("opslog-dir", from, "The opslog directory (read)")->required();
  imp->add_option("dir", to, "The docstore directory to create (absent or empty)")->required();
  imp->callback([] {
    Status st = docstore::import_opslog(from, to);
    std::exit(st.ok() ? 0 : fail(st));
  });
  auto* exp = ds->add_subcommand("export",
                                 "Write docstore <dir> as a new @backloghq/opslog 0.8.1 directory");
  exp->add_option("dir", from, "The docstore directory (opened read-only)")->required();
  exp->add_option("opslog-dir", to, "The opslog directory to create (absent or empty)")->required();
  exp->callback([] {
    Status st = docstore::export_opslog(from, to);
    std::exit(st.ok() ? 0 : fail(st));
  });
}

}  // namespace chorus::cli
