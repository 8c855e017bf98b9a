// A small randomized run over the harness (the full simulator in tests/sim/ comes later):
// random partitions, crashes, drops, proposals and reads; the harness checks Log Matching,
// one leader per term, state-machine safety and every core's invariants after every step;
// after healing, the cluster must elect a leader and make progress.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <optional>

#include "chorus/base/rng.h"
#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

void dump(Cluster& c) {
  for (NodeId id : c.ids()) {
    RaftStatus st = c.raft(id).status();
    std::cerr << "node " << id << " role " << role_name(st.role) << " term " << st.term << " vote "
              << st.vote << " leader " << st.leader << " last " << st.last_index << " lastterm "
              << c.raft(id).log().last_term() << " commit " << st.commit << " persisted "
              << st.persisted << " voters " << st.configuration.voters.size() << "\n";
  }
}

void run_seed(uint64_t seed) {
  Rng rng(seed);
  const size_t voters = rng.chance(1, 2) ? 3 : 5;
  Cluster c(ClusterOptions{.voters = voters, .seed = seed, .tweak = [seed](Config& cfg) {
                             cfg.snapshot_threshold_entries = 8;
                             cfg.snapshot_chunk_bytes = 32;
                             cfg.max_inflight_msgs = 4;
                             cfg.pre_vote = seed % 3 != 0;
                             cfg.lease_reads = seed % 2 == 0;
                           }});
  c.drop_if = [&](Message&) { return rng.chance(1, 20); };
  int proposals = 0;
  for (int step = 0; step < 400; ++step) {
    NodeId id(1 + rng.uniform(voters));
    switch (rng.uniform(10)) {
      case 0:
        c.heal();
        if (rng.chance(1, 2)) c.isolate(id);
        break;
      case 1:
        if (c.node(id).up && rng.chance(1, 4)) {
          c.crash(id);
        } else if (!c.node(id).up) {
          c.restart(id);
        }
        break;
      case 2:
      case 3:
        if (c.node(id).up) {
          (void)c.raft(id).propose(
              to_bytes("s" + std::to_string(seed) + "-" + std::to_string(proposals++)));
        }
        break;
      case 4:
        if (c.node(id).up) (void)c.raft(id).read_index(step);
        break;
      default:
        c.tick_all();
        break;
    }
    c.stabilize();
  }
  // Liveness: heal everything and require a leader and a committed proposal.
  c.heal();
  c.drop_if = nullptr;
  for (NodeId id : c.ids()) {
    if (!c.node(id).up) c.restart(id);
  }
  // Without pre-vote a lagging node may still depose a leader once or twice: keep proposing
  // to whoever leads until one proposal commits.
  NodeId leader = kNoNode;
  std::optional<ProposalId> pending;
  bool committed = false;
  for (int i = 0; i < 300 && !committed; ++i) {
    c.run(1);
    if (pending) {
      auto r = c.result(leader, *pending);
      if (!r) continue;
      committed = r->outcome == ProposalOutcome::kCommitted;
      pending.reset();
    }
    leader = c.leader();
    if (!committed && leader != kNoNode) pending = c.propose(leader, "final");
  }
  if (!committed) dump(c);
  ASSERT_TRUE(committed) << "seed " << seed << ": no progress after healing";
  // Everyone catches up (a snapshot resend may wait for an election timeout).
  auto converged = [&] {
    for (NodeId id : c.ids()) {
      if (c.node(id).state != c.node(leader).state) return false;
    }
    return true;
  };
  for (int i = 0; i < 100 && !converged(); ++i) c.run(1);
  if (!converged()) {
    dump(c);
    for (const PeerStatus& p : c.raft(c.leader()).status().peers) {
      std::cerr << "peer " << p.id << " match " << p.match << " next " << p.next << " state "
                << progress_state_name(p.state) << " inflight " << p.inflight_msgs << " snap "
                << p.snapshot_acked_offset << "\n";
    }
    std::cerr << "leader snapshot " << c.raft(c.leader()).snapshot().index << "\n";
  }
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.node(id).state, c.node(leader).state) << "seed " << seed << " node " << id;
  }
}

// CHORUS_RAFT_SEEDS=N runs more seeds (default 40).
TEST(Randomized, SafetyAndLivenessOverSeeds) {
  const char* env = std::getenv("CHORUS_RAFT_SEEDS");
  const uint64_t seeds = env != nullptr ? std::strtoull(env, nullptr, 10) : 40;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    run_seed(seed);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace chorus::raft::testing
