// Snapshots and determinism (rapidcheck): a restored store is the same store, stores applying
// the same entries converge, and a damaged snapshot is refused without touching the store.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "chorus/base/checksum.h"
#include "chorus/kv/snapshot.h"
#include "chorus/kv/store.h"
#include "kv_test_util.h"

namespace chorus::kv {
namespace {

using testing::gen_proposal;

constexpr int64_t kStartMs = 1'700'000'000'000;

StoreOptions gen_options() {
  StoreOptions o;
  o.history_per_key = *rc::gen::inRange<size_t>(0, 5);
  o.history_deleted_keys = *rc::gen::inRange<size_t>(0, 4);
  return o;
}

// Applies `n` random proposals to every store, checking they answer and change alike.
void apply_random(std::vector<Store*> stores, uint64_t* revision, int64_t* now, int n) {
  for (int i = 0; i < n; ++i) {
    const Proposal p = *gen_proposal(*now);
    *now += *rc::gen::inRange<int64_t>(0, 40);
    ++*revision;
    std::vector<Event> first_events;
    const resp::Value first = stores[0]->apply(p, *revision, first_events);
    stores[0]->check_invariants();
    for (size_t s = 1; s < stores.size(); ++s) {
      std::vector<Event> events;
      RC_ASSERT(stores[s]->apply(p, *revision, events) == first);
      RC_ASSERT(events == first_events);
      stores[s]->check_invariants();
    }
  }
}

std::string fix_checksum(std::string snap) {
  const size_t checked = snap.size() - kSnapshotChecksumBytes;
  const uint64_t sum = checksum64(std::string_view(snap).substr(0, checked));
  std::memcpy(snap.data() + checked, &sum, sizeof sum);
  return snap;
}

RC_GTEST_PROP(Snapshot, RestoredStoreIsTheSameStore, ()) {
  Store a(gen_options());
  uint64_t revision = 0;
  int64_t now = kStartMs;
  apply_random({&a}, &revision, &now, *rc::gen::inRange(0, 120));

  const std::string snap = a.snapshot();
  Store b;
  RC_ASSERT(b.restore(snap).ok());
  b.check_invariants();
  RC_ASSERT(b.state_hash() == a.state_hash());
  RC_ASSERT(b.snapshot() == snap);
  RC_ASSERT(b.options() == a.options());
  RC_ASSERT(b.last_revision() == a.last_revision());
  RC_ASSERT(b.now_ms() == a.now_ms());
  RC_ASSERT(b.size() == a.size());
  // From here on they answer every command alike, reads included.
  apply_random({&a, &b}, &revision, &now, *rc::gen::inRange(0, 60));
  for (int i = 0; i < 5; ++i) {
    using Argv = std::vector<std::string>;
    const Argv read =
        *rc::gen::element(Argv{"SCAN", "0"}, Argv{"KEYS", "*"}, Argv{"RANDOMKEY"}, Argv{"DBSIZE"},
                          Argv{"HISTORY", "k1"}, Argv{"GETREV", "k2", "3"});
    RC_ASSERT(a.read(read, now) == b.read(read, now));
  }
  RC_ASSERT(a.state_hash() == b.state_hash());
  RC_ASSERT(a.snapshot() == b.snapshot());
}

// Two nodes apply the same entries; one of them restarts from a snapshot on the way.
RC_GTEST_PROP(Snapshot, NodesConverge, ()) {
  const StoreOptions options = gen_options();
  Store a(options);
  Store b(options);
  uint64_t revision = 0;
  int64_t now = kStartMs;
  apply_random({&a, &b}, &revision, &now, *rc::gen::inRange(0, 80));
  Store c(options);
  RC_ASSERT(c.restore(b.snapshot()).ok());
  apply_random({&a, &c}, &revision, &now, *rc::gen::inRange(0, 80));
  RC_ASSERT(a.state_hash() == c.state_hash());
}

RC_GTEST_PROP(Snapshot, DamageIsRefusedAndChangesNothing, ()) {
  Store a(gen_options());
  uint64_t revision = 0;
  int64_t now = kStartMs;
  apply_random({&a}, &revision, &now, *rc::gen::inRange(1, 60));
  std::string snap = a.snapshot();

  Store target;
  std::vector<Event> events;
  Proposal p;
  p.commands = {{"SET", "mine", "1"}};
  target.apply(p, 1, events);
  const uint64_t before = target.state_hash();

  std::string damaged = snap;
  const size_t at = *rc::gen::inRange<size_t>(0, damaged.size());
  damaged[at] = static_cast<char>(damaged[at] ^ (1 << *rc::gen::inRange(0, 8)));
  RC_ASSERT(target.restore(damaged).code() == StatusCode::kCorruption);
  RC_ASSERT(target.restore(snap.substr(0, *rc::gen::inRange<size_t>(0, snap.size()))).code() ==
            StatusCode::kCorruption);
  RC_ASSERT(target.state_hash() == before);

  // Damage behind a valid checksum must still be refused, or give back the same bytes.
  const std::string forged = fix_checksum(damaged);
  Store other;
  if (other.restore(forged).ok()) {
    other.check_invariants();
    RC_ASSERT(other.snapshot() == forged);
  }
}

TEST(Snapshot, EmptyStoreRoundTripsAndGarbageFails) {
  Store a;
  const std::string snap = a.snapshot();
  EXPECT_EQ(snap.size(), kSnapshotHeaderBytes + 1 + 2 + 1 + 8 + 1 + 1 + 1 + kSnapshotChecksumBytes);
  Store b;
  ASSERT_TRUE(b.restore(snap).ok());
  EXPECT_EQ(a.state_hash(), b.state_hash());
  EXPECT_EQ(b.restore("").code(), StatusCode::kCorruption);
  EXPECT_EQ(b.restore(std::string(100, 'x')).code(), StatusCode::kCorruption);
}

TEST(Snapshot, RestoreAdoptsTheSnapshotsRetention) {
  Store a(StoreOptions{2, 1});
  Store b(StoreOptions{8, 100});
  ASSERT_TRUE(b.restore(a.snapshot()).ok());
  EXPECT_EQ(b.options(), (StoreOptions{2, 1}));
}

TEST(Snapshot, StateHashCoversTimeRevisionAndExpiry) {
  auto hash_after = [](std::vector<std::string> argv, int64_t now, uint64_t revision) {
    Store s;
    std::vector<Event> events;
    Proposal p;
    p.now_ms = now;
    p.commands = {std::move(argv)};
    s.apply(p, revision, events);
    return s.state_hash();
  };
  const uint64_t base = hash_after({"SET", "k", "v"}, 1000, 1);
  EXPECT_EQ(base, hash_after({"SET", "k", "v"}, 1000, 1));
  EXPECT_NE(base, hash_after({"SET", "k", "v"}, 1001, 1));
  EXPECT_NE(base, hash_after({"SET", "k", "v"}, 1000, 2));
  EXPECT_NE(base, hash_after({"SET", "k", "v", "PX", "100"}, 1000, 1));
  EXPECT_NE(base, hash_after({"SET", "k", "w"}, 1000, 1));
}

}  // namespace
}  // namespace chorus::kv
