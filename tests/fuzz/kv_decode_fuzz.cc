// Fuzzes the kv decoders: Proposal and ReadRequest (what the log and reads carry) and Store
// snapshots (what a follower installs). Whatever a decoder accepts must re-encode to exactly the
// input (every format is canonical) and be safe to use: a decoded proposal is applied, a restored
// store passes its invariants and keeps applying commands. Anything else must fail with a clean
// Corruption -- never a crash, a hang or an oversized allocation.
//
// The first byte picks the target: 0 proposal, 1 read request, 2 a whole snapshot, 3 a snapshot
// body that the harness wraps in a valid header and checksum (so the fuzzer gets past the
// checksum to the body decoder). Seeds: tests/fuzz/corpus/fuzz_kv_decode (written by
// tests/unit/kv/corpus_test.cc).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "chorus/base/checksum.h"
#include "chorus/kv/number.h"
#include "chorus/kv/proposal.h"
#include "chorus/kv/snapshot.h"
#include "chorus/kv/store.h"

using namespace chorus;
using namespace chorus::kv;

namespace {

// SETRANGE may legitimately build a 512 MB value; keep the fuzzer's memory small.
bool cheap(const Proposal& p) {
  for (const auto& argv : p.commands) {
    if (argv.size() >= 3 && iequals(argv[0], "setrange")) {
      std::optional<int64_t> offset = parse_int64(argv[2]);
      if (!offset || *offset > (1 << 20)) return false;
    }
  }
  return true;
}

void fuzz_proposal(ByteSpan input) {
  Result<Proposal> p = decode_proposal(input);
  if (!p.ok()) {
    CHORUS_ASSERT(p.status().code() == StatusCode::kCorruption);
    return;
  }
  const Bytes again = encode(*p);
  CHORUS_ASSERT(
      again.size() == input.size() && std::equal(again.begin(), again.end(), input.begin()),
      "proposal encoding is not canonical");
  if (!cheap(*p)) return;
  Store store;
  std::vector<Event> events;
  Proposal setup;
  setup.commands = {{"MSET", "a", "1", "b", "x", "c", "2.5"}};
  store.apply(setup, 1, events);
  store.apply(*p, 2, events);
  store.check_invariants();
}

void fuzz_read(ByteSpan input) {
  Result<ReadRequest> r = decode_read(input);
  if (!r.ok()) {
    CHORUS_ASSERT(r.status().code() == StatusCode::kCorruption);
    return;
  }
  const Bytes again = encode(*r);
  CHORUS_ASSERT(
      again.size() == input.size() && std::equal(again.begin(), again.end(), input.begin()),
      "read request encoding is not canonical");
  Store store;
  std::vector<Event> events;
  Proposal setup;
  setup.commands = {{"MSET", "a", "1", "b", "x"}};
  store.apply(setup, 1, events);
  const uint64_t before = store.state_hash();
  (void)store.read(r->argv, r->now_ms);
  CHORUS_ASSERT(store.state_hash() == before, "a read changed the state");
}

void fuzz_snapshot(std::string_view snapshot) {
  Store store;
  Status s = store.restore(snapshot);
  if (!s.ok()) {
    CHORUS_ASSERT(s.code() == StatusCode::kCorruption, s.ToString());
    return;
  }
  store.check_invariants();
  CHORUS_ASSERT(store.snapshot() == snapshot, "snapshot encoding is not canonical");
  if (store.last_revision() > UINT64_MAX - 8) return;
  // The restored state keeps working.
  std::vector<Event> events;
  uint64_t revision = store.last_revision();
  std::vector<std::string> keys;
  for (const resp::Value& k : store.read({"KEYS", "*"}, 0).elements) keys.push_back(k.str);
  std::vector<std::vector<std::string>> commands = {{"SET", "k0", "x"}};
  if (!keys.empty()) commands.push_back({"APPEND", keys.front(), "y"});
  if (keys.size() > 1) commands.push_back({"RENAME", keys[1], "k0"});
  if (!keys.empty()) commands.push_back({"DEL", keys.back()});
  for (auto& argv : commands) {
    Proposal p;
    p.now_ms = store.now_ms();
    p.commands = {argv};
    store.apply(p, ++revision, events);
  }
  store.apply(expire_proposal(store.expired_keys(INT64_MAX, 16), INT64_MAX), ++revision, events);
  store.check_invariants();
}

std::string wrap_body(std::string_view body) {
  std::string out(kSnapshotHeaderBytes, '\0');
  auto* h = reinterpret_cast<std::byte*>(out.data());
  store_le<uint64_t>(h, kSnapshotMagic);
  store_le<uint32_t>(h + 8, kSnapshotVersion);
  store_le<uint32_t>(h + 12, 0);
  store_le<uint64_t>(h + 16, body.size());
  out.append(body);
  const uint64_t sum = checksum64(out);
  out.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ByteSpan input(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzz_proposal(input);
      break;
    case 1:
      fuzz_read(input);
      break;
    case 2:
      fuzz_snapshot(as_string_view(input));
      break;
    default:
      fuzz_snapshot(wrap_body(as_string_view(input)));
      break;
  }
  return 0;
}
