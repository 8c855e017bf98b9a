// Multi-writer mode: per-agent op streams, Lamport clocks, last-writer-wins by (clock, agent),
// convergence after crashes whatever the reopen order.
#include <algorithm>

#include "docstore_test_util.h"

namespace chorus::docstore {
namespace {

using test::hash_of;
using test::kDir;
using test::Random;
using test::report;
using test::scaled;
using test::sim_options;
using test::snapshot_of;

Options agent(SimFileSystem* fs, const std::string& id) {
  Options o = sim_options(fs);
  o.agent_id = id;
  o.checkpoint_on_close = false;
  return o;
}

TEST(MultiWriterTest, AgentsSeeEachOtherAndHigherClockWins) {
  SimFileSystem fs(1);
  auto a = std::move(Store::open(kDir, agent(&fs, "agent-A"))).value();
  ASSERT_TRUE(a->set("shared", {{"value", "from-A"}}).ok());
  auto b = std::move(Store::open(kDir, agent(&fs, "agent-B"))).value();
  EXPECT_EQ((*b->get("shared"))["value"], "from-A");  // B sees A's ops at open
  ASSERT_TRUE(b->set("shared", {{"value", "from-B"}}).ok());
  EXPECT_GT(b->stats().clock, a->stats().clock);
  auto picked = a->tail();
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_EQ(picked->size(), 1u);
  EXPECT_EQ((*a->get("shared"))["value"], "from-B");
  // A concurrent write with an equal clock: the higher agent id wins, on both sides.
  SimFileSystem fs2(2);
  auto x = std::move(Store::open(kDir, agent(&fs2, "x"))).value();
  auto y = std::move(Store::open(kDir, agent(&fs2, "y"))).value();
  ASSERT_TRUE(y->set("k", "y").ok());
  ASSERT_TRUE(x->set("k", "x").ok());
  ASSERT_EQ(x->stats().clock, y->stats().clock);
  ASSERT_TRUE(x->refresh().ok());
  ASSERT_TRUE(y->refresh().ok());
  EXPECT_EQ(*x->get("k"), "y");
  EXPECT_EQ(*y->get("k"), "y");
}

TEST(MultiWriterTest, UndoOnlyUndoesOwnLastOp) {
  SimFileSystem fs(3);
  auto a = std::move(Store::open(kDir, agent(&fs, "A"))).value();
  auto b = std::move(Store::open(kDir, agent(&fs, "B"))).value();
  ASSERT_TRUE(a->set("k", 1).ok());
  ASSERT_TRUE(b->refresh().ok());
  ASSERT_TRUE(b->set("k", 2).ok());
  ASSERT_TRUE(b->set("m", 1).ok());
  ASSERT_TRUE(a->refresh().ok());
  EXPECT_EQ(*a->get("k"), 2);
  EXPECT_TRUE(*a->undo());  // A's set of k = 1: B's later set still wins
  EXPECT_EQ(*a->get("k"), 2);
  EXPECT_FALSE(*a->undo());
  EXPECT_TRUE(*b->undo());  // B's set of m
  EXPECT_FALSE(b->has("m"));
  EXPECT_TRUE(*b->undo());  // B's set of k: A's was undone, so k is gone
  EXPECT_FALSE(b->has("k"));
  ASSERT_TRUE(a->refresh().ok());
  EXPECT_EQ(hash_of(snapshot_of(*a)), hash_of(snapshot_of(*b)));
}

TEST(MultiWriterTest, CompactionUnderLockKeepsOtherAgentsOps) {
  SimFileSystem fs(4);
  auto a = std::move(Store::open(kDir, agent(&fs, "A"))).value();
  auto b = std::move(Store::open(kDir, agent(&fs, "B"))).value();
  ASSERT_TRUE(a->set("a1", 1).ok());
  ASSERT_TRUE(b->set("b1", 1).ok());
  ASSERT_TRUE(a->compact().ok());  // takes B's ops into the snapshot
  EXPECT_EQ(a->count(), 2u);
  ASSERT_TRUE(b->set("b2", 1).ok());
  ASSERT_TRUE(b->refresh().ok());  // a new generation: reload, trim its covered segments
  ASSERT_TRUE(b->del("a1").ok());
  ASSERT_TRUE(b->refresh().ok());
  ASSERT_TRUE(a->refresh().ok());
  EXPECT_EQ(hash_of(snapshot_of(*a)), hash_of(snapshot_of(*b)));
  EXPECT_EQ(a->count(), 2u);
  Options ro = sim_options(&fs);
  ro.read_only = true;
  auto r = std::move(Store::open(kDir, ro)).value();
  EXPECT_EQ(hash_of(snapshot_of(*r)), hash_of(snapshot_of(*a)));
}

// Agents write at random, refresh and compact at random; the power fails at random; agents
// reopen in a random order. Every agent (and a fresh reader) must reach the same state, that
// state must be last-writer-wins over every acknowledged op, and no agent's clock goes back.
TEST(MultiWriterTest, ConvergenceAfterCrashesInAnyReopenOrder) {
  const uint64_t trials = scaled(200);
  uint64_t crashes = 0, acked_total = 0;
  for (uint64_t trial = 0; trial < trials; ++trial) {
    Random rnd(trial + 77);
    SimFileSystem fs(trial + 5);
    const std::vector<std::string> names = {"A", "B", "C"};
    std::map<std::string, std::unique_ptr<Store>> agents;
    std::map<std::string, uint64_t> last_clock;
    // key -> (clock, agent, value or null for a delete) of the winning acknowledged op
    std::map<std::string, std::tuple<uint64_t, std::string, std::optional<Json>>> winner;
    for (int round = 0; round < 3; ++round) {
      std::vector<std::string> order = names;
      std::shuffle(order.begin(), order.end(), std::mt19937_64(rnd.below(1000)));
      for (const auto& n : order) {
        auto s = Store::open(kDir, agent(&fs, n));
        ASSERT_TRUE(s.ok()) << "trial " << trial << " reopen " << n << ": "
                            << s.status().ToString();
        agents[n] = std::move(s).value();
        ASSERT_GE(agents[n]->stats().clock, last_clock[n]) << "clock went back";
      }
      for (int step = 0; step < 40; ++step) {
        const std::string& n = names[rnd.below(names.size())];
        Store& s = *agents[n];
        std::string key = "k" + std::to_string(rnd.below(6));
        uint64_t r = rnd.below(10);
        if (r < 6) {
          Json v = {{"by", n}, {"step", step}};
          ASSERT_TRUE(s.set(key, v).ok());
          winner[key] = std::max(winner[key], {s.stats().clock, n, v});
        } else if (r < 8 && s.has(key)) {
          ASSERT_TRUE(s.del(key).ok());
          winner[key] = std::max(winner[key], {s.stats().clock, n, std::optional<Json>()});
        } else if (r == 8) {
          ASSERT_TRUE(s.refresh().ok());
        } else if (rnd.one_in(3)) {
          ASSERT_TRUE(s.compact().ok());
        }
        ++acked_total;
        ASSERT_GE(s.stats().clock, last_clock[n]);
        last_clock[n] = s.stats().clock;
      }
      fs.crash(static_cast<CrashMode>(rnd.below(3)));
      ++crashes;
      agents.clear();  // every process died with the machine
    }
    std::vector<std::string> order = names;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(trial));
    for (const auto& n : order) agents[n] = std::move(Store::open(kDir, agent(&fs, n))).value();
    std::map<std::string, Json> want;
    for (const auto& [k, w] : winner) {
      if (std::get<2>(w)) want[k] = *std::get<2>(w);
    }
    for (const auto& n : order) {
      ASSERT_TRUE(agents[n]->refresh().ok());
      agents[n]->check_invariants();
      ASSERT_EQ(hash_of(snapshot_of(*agents[n])), hash_of(want))
          << "trial " << trial << " agent " << n;
    }
  }
  report("mw_crashes", static_cast<int64_t>(crashes));
  report("mw_acked_ops", static_cast<int64_t>(acked_total));
}

}  // namespace
}  // namespace chorus::docstore
