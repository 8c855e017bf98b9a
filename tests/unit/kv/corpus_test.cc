// The seed corpus of the fuzz_kv_decode fuzzer (tests/fuzz/kv_decode_fuzz.cc): each seed is
// rebuilt here and compared with the checked-in file, so a format change shows up as a failing
// test; CHORUS_REWRITE=1 writes the seeds anew.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chorus/kv/proposal.h"
#include "chorus/kv/snapshot.h"
#include "chorus/kv/store.h"
#include "unit/raft/datadriven.h"

namespace chorus::kv {
namespace {

std::string tagged(uint8_t target, std::string_view payload) {
  return std::string(1, static_cast<char>(target)) + std::string(payload);
}

std::string tagged(uint8_t target, const Bytes& payload) {
  return tagged(target, as_string_view(payload));
}

// A store with something of everything: histories (trimmed and not), expiries, tombstones, an
// evicted tombstone (a floor).
std::string rich_snapshot() {
  Store s(StoreOptions{3, 2});
  std::vector<Event> events;
  uint64_t revision = 0;
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"SET", "a", "1"},
           {"INCR", "a"},
           {"EXPIRE", "a", "100"},
           {"APPEND", "a", "0"},
           {"SET", "b", "x", "PX", "5000"},
           {"SET", "c", "gone"},
           {"DEL", "c"},
           {"SET", "d", "v"},
           {"RENAME", "d", "e"},
           {"SET", "f", "1"},
           {"DEL", "f"},
       }) {
    Proposal p;
    p.now_ms = 1'700'000'000'000;
    p.commands = {std::move(argv)};
    s.apply(p, ++revision, events);
  }
  return s.snapshot();
}

std::map<std::string, std::string> seeds() {
  std::map<std::string, std::string> out;
  Proposal set;
  set.now_ms = 1'700'000'000'000;
  set.commands = {{"SET", "k", "v", "PX", "100"}};
  out["proposal_set"] = tagged(0, encode(set));
  Proposal exec;
  exec.now_ms = 1'700'000'000'000;
  exec.exec = true;
  exec.commands = {{"INCR", "a"},
                   {"APPEND", "b", "yz"},
                   {"HISTORY", "a"},
                   {"RENAME", "b", "d"},
                   {"EXPIRE", "d", "10"},
                   {"GETEX", "c", "PERSIST"},
                   {"SCAN", "0", "MATCH", "[a-c]*"}};
  exec.watches = {{"a", 1}, {"z", 0}};
  out["proposal_exec_watch"] = tagged(0, encode(exec));
  out["proposal_expire"] = tagged(0, encode(expire_proposal({"a", "b"}, 5)));
  out["read_scan"] = tagged(1, encode(ReadRequest{0, {"SCAN", "0", "MATCH", "*a*", "COUNT", "5"}}));
  out["read_getrev"] = tagged(1, encode(ReadRequest{0, {"GETREV", "a", "1"}}));
  out["snapshot_empty"] = tagged(2, Store().snapshot());
  const std::string rich = rich_snapshot();
  out["snapshot_history"] = tagged(2, rich);
  out["snapshot_body_history"] = tagged(
      3, std::string_view(rich).substr(
             kSnapshotHeaderBytes, rich.size() - kSnapshotHeaderBytes - kSnapshotChecksumBytes));
  return out;
}

TEST(KvFuzzCorpus, SeedsAreCurrent) {
  const std::filesystem::path dir = CHORUS_KV_FUZZ_CORPUS;
  const bool rewrite = datadriven::rewrite_requested();
  for (const auto& [name, bytes] : seeds()) {
    const std::filesystem::path path = dir / name;
    if (rewrite) {
      std::filesystem::create_directories(dir);
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " is missing (CHORUS_REWRITE=1 writes it)";
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(content.str(), bytes) << path << " is stale (CHORUS_REWRITE=1 rewrites it)";
  }
}

TEST(KvFuzzCorpus, RichSnapshotRestores) {
  Store s;
  ASSERT_TRUE(s.restore(rich_snapshot()).ok());
  s.check_invariants();
  EXPECT_EQ(s.key_revision("c"), 7u);  // c's tombstone was evicted by f's and e's rename
  EXPECT_EQ(s.read({"HISTORY", "a"}, 0).elements.size(), 3u);
}

}  // namespace
}  // namespace chorus::kv
