// Interop with @backloghq/opslog 0.8.1: the package (npm-installed once, cached under /tmp) writes
// a store, chorus imports it, exports it back, and the package reads the export. Skipped when
// node or npm is missing (or the install fails, e.g. offline). The malformed-input tests need
// neither.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chorus/docstore/opslog_format.h"
#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

namespace fs = std::filesystem;

// write <dir> [multi]: sets, a delta-encoded update, deletes, a batch, an undo and an archive
// (single writer) or two agents with a cross-agent delete and an undo (multi). read <dir>
// [multi]: prints {records, ops, archives} of a copy (opslog registers even a read-only agent).
const char* kScript = R"JS(import { Store } from "@backloghq/opslog";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const [, , mode, dir, agents] = process.argv;
const multi = agents === "multi";
if (mode === "write" && !multi) {
  const s = new Store();
  await s.open(dir, { checkpointOnClose: false });
  await s.set("a", { name: "A", n: 1, note: "a fairly long note so that a delta is smaller" });
  await s.set("b", { name: "B" });
  await s.set("old", { name: "Old", status: "done" });
  await s.archive((v) => v.status === "done", "2025-Q1");
  await s.set("a", { name: "A", n: 2, note: "a fairly long note so that a delta is smaller" });
  await s.set("c", { name: "C", tags: ["x", "y"], nested: { k: null } });
  await s.delete("b");
  await s.batch(() => { s.set("d", { name: "D" }); s.set("e", { name: "E" }); s.delete("c"); });
  await s.set("tmp", { x: 1 });
  await s.undo();
  await s.close();
} else if (mode === "write") {
  const a = new Store(), b = new Store();
  await a.open(dir, { agentId: "alice", checkpointOnClose: false });
  await a.set("r1", { v: 1 });
  await b.open(dir, { agentId: "bob", checkpointOnClose: false });
  await b.set("r2", { v: 2 });
  await a.set("r1", { v: 3 });
  await b.refresh();
  await b.delete("r1");
  await a.set("r3", { v: 4 });
  await a.undo();
  await a.set("r4", { v: 5 });
  await a.close(); await b.close();
} else {
  // opslog registers a reading agent in the manifest, even read-only: read a copy.
  const copy = mkdtempSync(join(tmpdir(), "opslog-read-"));
  cpSync(dir, copy, { recursive: true });
  const s = new Store();
  await s.open(copy, multi ? { agentId: "reader", readOnly: true } : { readOnly: true });
  const archives = {};
  for (const seg of s.listArchiveSegments()) {
    const p = seg.replace(/^archive\/archive-/, "").replace(/\.json$/, "");
    archives[p] = Object.fromEntries(await s.loadArchive(p));
  }
  console.log(JSON.stringify({ records: Object.fromEntries(s.entries()), ops: s.getOps(), archives }));
  await s.close();
  rmSync(copy, { recursive: true, force: true });
}
)JS";

const std::string kPkg = "/tmp/chorus-opslog-0.8.1-pkg";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value before a set, from opslog's op (a delta applied to the new value gives it).
Json full_prev(const Json& op) {
  if (op.value("encoding", "full") != "delta") return op["prev"];
  Json r = op["data"];
  Json set = op["prev"].value("$set", Json::object());
  Json unset = op["prev"].value("$unset", Json::array());
  for (auto& [k, v] : set.items()) r[k] = v;
  for (const Json& k : unset) r.erase(k.get<std::string>());
  return r;
}

class OpslogInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opslog-interop-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    work_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
    fs::remove(kPkg + "/interop-" + std::to_string(getpid()) + ".mjs", ec);
  }

  // Installs the package once (into a temp dir renamed into place, so parallel runs are safe).
  bool ensure_package(std::string& why) {
    if (std::system("command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1") != 0) {
      why = "node/npm not found";
      return false;
    }
    if (!fs::exists(kPkg + "/node_modules/@backloghq/opslog/package.json")) {
      std::string tmp = kPkg + ".tmp-" + std::to_string(getpid());
      fs::remove_all(tmp);
      fs::create_directories(tmp);
      write_file(tmp + "/package.json", R"({"name":"t","version":"1.0.0","type":"module"})");
      std::string cmd = "cd " + tmp +
                        " && npm install --silent --no-audit --no-fund @backloghq/opslog@0.8.1 "
                        ">/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        fs::remove_all(tmp);
        why = "npm install @backloghq/opslog@0.8.1 failed (offline?)";
        return false;
      }
      std::error_code ec;
      fs::rename(tmp, kPkg, ec);
      if (ec) fs::remove_all(tmp);  // another run installed it first
    }
    std::string script = work_ + "/interop.mjs";
    write_file(script, kScript);
    fs::copy_file(script, kPkg + "/interop-" + std::to_string(getpid()) + ".mjs",
                  fs::copy_options::overwrite_existing);
    return true;
  }

  // Runs the script in the package dir; the printed JSON ({} when none, discarded on failure).
  Json node(const std::string& args) {
    std::string out = work_ + "/node-out.json";
    std::string cmd = "cd " + kPkg + " && node interop-" + std::to_string(getpid()) + ".mjs " +
                      args + " > " + out + " 2>" + work_ + "/node-err.txt";
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "node " << args << " failed: " << read_file(work_ + "/node-err.txt");
      return Json(Json::value_t::discarded);
    }
    std::string text = read_file(out);
    return text.empty() ? Json::object() : Json::parse(text, nullptr, false);
  }

  // chorus's state as {records, ops, archives} (ops as chorus Op values).
  void load_chorus(const std::string& dir, Json& records, std::vector<Op>& ops,
                   std::map<std::string, std::map<std::string, Json>>& archives) {
    Options o;
    o.read_only = true;
    auto s = Store::open(dir, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    records = Json::object();
    for (auto& [id, v] : (*s)->entries()) records[id] = v;
    ops = (*s)->ops(0);
    for (const std::string& seg : (*s)->list_archive_segments()) {
      auto a = (*s)->load_archive(seg);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      archives[seg] = *a;
    }
    ASSERT_TRUE((*s)->close().ok());
  }

  std::string work_;
};

void expect_same_ops(const Json& want, const Json& got, bool multi) {
  ASSERT_EQ(want.size(), got.size()) << "want " << want.dump() << "\ngot " << got.dump();
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("op " + std::to_string(i) + ": " + want[i].dump());
    EXPECT_EQ(got[i]["op"], want[i]["op"]);
    EXPECT_EQ(got[i]["id"], want[i]["id"]);
    EXPECT_EQ(got[i]["ts"], want[i]["ts"]);
    EXPECT_EQ(got[i].value("data", Json()), want[i].value("data", Json()));
    EXPECT_EQ(full_prev(got[i]), full_prev(want[i]));
    if (multi) {
      EXPECT_EQ(got[i]["agent"], want[i]["agent"]);
    }
  }
}

TEST_F(OpslogInteropTest, SingleWriterRoundTrip) {
  std::string why;
  if (!ensure_package(why)) GTEST_SKIP() << why;
  std::string src = work_ + "/opslog", mid = work_ + "/chorus", out = work_ + "/export";
  ASSERT_FALSE(node("write " + src).is_discarded());
  Json want = node("read " + src);
  ASSERT_TRUE(want.is_object());
  ASSERT_EQ(want["ops"].size(), 6u);  // the set undone is gone; the archive checkpointed
  ASSERT_EQ(want["ops"][0].value("encoding", ""), "delta");

  Status st = import_opslog(src, mid);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Json records;
  std::vector<Op> ops;
  std::map<std::string, std::map<std::string, Json>> archives;
  load_chorus(mid, records, ops, archives);
  EXPECT_EQ(records, want["records"]);
  ASSERT_EQ(ops.size(), want["ops"].size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const Json& w = want["ops"][i];
    SCOPED_TRACE("op " + std::to_string(i) + ": " + w.dump());
    EXPECT_EQ(ops[i].type == OpType::kSet ? "set" : "delete", w["op"].get<std::string>());
    EXPECT_EQ(ops[i].id, w["id"]);
    EXPECT_EQ(ops[i].data.value_or(Json()), w.value("data", Json()));
    EXPECT_EQ(ops[i].prev.value_or(Json()), full_prev(w));
  }
  ASSERT_EQ(archives.size(), 1u);
  EXPECT_EQ(Json(archives["2025-Q1"]), want["archives"]["2025-Q1"]);

  st = export_opslog(mid, out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Json back = node("read " + out);
  ASSERT_TRUE(back.is_object());
  EXPECT_EQ(back["records"], want["records"]);
  EXPECT_EQ(back["archives"], want["archives"]);
  expect_same_ops(want["ops"], back["ops"], false);

  // And the export imports again to the same state.
  ASSERT_TRUE(import_opslog(out, work_ + "/again").ok());
  Json records2;
  std::vector<Op> ops2;
  std::map<std::string, std::map<std::string, Json>> archives2;
  load_chorus(work_ + "/again", records2, ops2, archives2);
  EXPECT_EQ(records2, records);
  EXPECT_EQ(ops2.size(), ops.size());
  EXPECT_EQ(archives2, archives);
}

TEST_F(OpslogInteropTest, TwoAgentsRoundTrip) {
  std::string why;
  if (!ensure_package(why)) GTEST_SKIP() << why;
  std::string src = work_ + "/opslog", mid = work_ + "/chorus", out = work_ + "/export";
  ASSERT_FALSE(node("write " + src + " multi").is_discarded());
  Json want = node("read " + src + " multi");
  ASSERT_TRUE(want.is_object());
  ASSERT_EQ(want["ops"].size(), 5u);

  Status st = import_opslog(src, mid);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Json records;
  std::vector<Op> ops;
  std::map<std::string, std::map<std::string, Json>> archives;
  load_chorus(mid, records, ops, archives);
  EXPECT_EQ(records, want["records"]);
  ASSERT_EQ(ops.size(), want["ops"].size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const Json& w = want["ops"][i];
    SCOPED_TRACE("op " + std::to_string(i) + ": " + w.dump());
    EXPECT_EQ(ops[i].id, w["id"]);
    EXPECT_EQ(ops[i].agent, w["agent"]);
    EXPECT_EQ(ops[i].data.value_or(Json()), w.value("data", Json()));
    EXPECT_EQ(ops[i].prev.value_or(Json()), full_prev(w));
  }

  st = export_opslog(mid, out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Json back = node("read " + out + " multi");
  ASSERT_TRUE(back.is_object());
  EXPECT_EQ(back["records"], want["records"]);
  expect_same_ops(want["ops"], back["ops"], true);
}

// A hand-written opslog directory, then damage in each file: the error names the file.
class OpslogMalformedTest : public OpslogInteropTest {
 protected:
  std::string make(const std::string& ops_text) {
    std::string d = work_ + "/src";
    fs::create_directories(d + "/snapshots");
    fs::create_directories(d + "/ops");
    write_file(
        d + "/manifest.json",
        R"({"version":1,"currentSnapshot":"snapshots/snap-1.jsonl",)"
        R"("activeOps":"ops/ops-1.jsonl","archiveSegments":[],)"
        R"("stats":{"activeRecords":1,"archivedRecords":0,"opsCount":0,)"
        R"("created":"2026-01-01T00:00:00.000Z","lastCheckpoint":"2026-01-01T00:00:00.000Z"}})");
    write_file(d + "/snapshots/snap-1.jsonl",
               "{\"version\":1,\"timestamp\":\"2026-01-01T00:00:00.000Z\"}\n"
               "{\"id\":\"a\",\"data\":{\"n\":1}}\n");
    write_file(d + "/ops/ops-1.jsonl", ops_text);
    return d;
  }
};

TEST_F(OpslogMalformedTest, GoodInputImports) {
  std::string d =
      make(R"({"ts":"2026-01-02T03:04:05.678Z","op":"set","id":"b","prev":null,"data":{"n":2}})"
           "\n");
  Status st = import_opslog(d, work_ + "/out");
  ASSERT_TRUE(st.ok()) << st.ToString();
  Options o;
  o.read_only = true;
  auto s = Store::open(work_ + "/out", o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->get("a"), Json({{"n", 1}}));
  auto ops = (*s)->ops(0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].ts_ms, 1767323045678u);  // 2026-01-02T03:04:05.678Z
}

TEST_F(OpslogMalformedTest, BadOpLineNamesFileAndLine) {
  std::string d =
      make(R"({"ts":"2026-01-02T03:04:05.678Z","op":"set","id":"b","prev":null,"data":{"n":2}})"
           "\n{\"ts\":\"x\",\"op\":\"set\"\n");
  Status st = import_opslog(d, work_ + "/out");
  ASSERT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.ToString().find("ops/ops-1.jsonl line 2"), std::string::npos) << st.ToString();
}

TEST_F(OpslogMalformedTest, BadSnapshotAndManifestNameTheFile) {
  std::string d = make("");
  write_file(d + "/snapshots/snap-1.jsonl", "{\"version\":1,\"timestamp\":\"t\"}\nnot json\n");
  Status st = import_opslog(d, work_ + "/out");
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.ToString().find("snap-1.jsonl: line 2"), std::string::npos) << st.ToString();
  write_file(d + "/manifest.json", "{\"version\":1}");
  st = import_opslog(d, work_ + "/out2");
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.ToString().find("manifest.json"), std::string::npos) << st.ToString();
}

TEST_F(OpslogMalformedTest, RefusesNonEmptyTarget) {
  std::string d = make("");
  fs::create_directories(work_ + "/out");
  write_file(work_ + "/out/x", "x");
  EXPECT_EQ(import_opslog(d, work_ + "/out").code(), StatusCode::kAlreadyExists);
}

TEST_F(OpslogMalformedTest, InconsistentOpsFailAndLeaveTheTargetEmpty) {
  // A delete of a record the snapshot does not hold: opslog never writes one.
  std::string d = make(R"({"ts":"2026-01-02T03:04:05.678Z","op":"delete","id":"zz","prev":{"n":1}})"
                       "\n");
  Status st = import_opslog(d, work_ + "/out");
  ASSERT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.ToString().find("ops/ops-1.jsonl line 1"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::is_empty(work_ + "/out"));
}

TEST_F(OpslogMalformedTest, ExportRefusesNonObjectPreviousValues) {
  {
    auto s = Store::open(work_ + "/store");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->set("a", Json("text")).ok());
    ASSERT_TRUE((*s)->set("a", Json({{"n", 1}})).ok());
    ASSERT_TRUE((*s)->close().ok());
  }
  // close() checkpointed: the snapshot alone exports fine.
  ASSERT_TRUE(export_opslog(work_ + "/store", work_ + "/ok").ok());
  {
    Options o;
    o.checkpoint_on_close = false;
    auto s = Store::open(work_ + "/store", o);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->set("b", Json(42)).ok());
    ASSERT_TRUE((*s)->set("b", Json({{"n", 2}})).ok());
    ASSERT_TRUE((*s)->close().ok());
  }
  Status st = export_opslog(work_ + "/store", work_ + "/bad");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_FALSE(fs::exists(work_ + "/bad"));
}

}  // namespace
}  // namespace chorus::docstore
