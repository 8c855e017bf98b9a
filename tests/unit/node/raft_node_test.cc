// RaftNode over the in-process transport: three (or four) nodes in one process, each with its own
// io thread, WAL thread, storage and counter state machine.
#include "chorus/node/raft_node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <sstream>

#include "unit/node/node_test_util.h"

namespace chorus::node::test {
namespace {

// Every node applied the same commands at the same sequences, without breaking the contract.
std::string describe(Cluster& c) {
  std::ostringstream out;
  for (NodeId id : c.running_ids()) {
    NodeMetrics m = c.node(id).metrics();
    out << "\n  node " << id << ": role " << raft::role_name(m.role) << " term " << m.term
        << " leader " << m.leader << " commit " << m.commit << " applied " << m.applied
        << " (machine " << c.machine(id).last_applied() << ") persisted " << m.persisted << " last "
        << m.last_index << " snapshot " << m.snapshot_index << " failed " << m.failed;
  }
  return out.str();
}

void expect_same_machines(Cluster& c, LogIndex upto) {
  ASSERT_TRUE(c.wait_applied(upto)) << "not every node applied " << upto << describe(c);
  std::optional<std::map<LogIndex, Bytes>> first;
  for (NodeId id : c.running_ids()) {
    EXPECT_TRUE(c.machine(id).violations().empty())
        << "node " << id << ": " << c.machine(id).violations().front();
    auto commands = c.machine(id).commands();
    std::erase_if(commands, [&](const auto& kv) { return kv.first > upto; });
    if (!first) {
      first = commands;
    } else {
      EXPECT_EQ(commands, *first) << "node " << id << " applied different commands";
    }
  }
}

TEST(RaftNodeTest, ElectsOneLeaderThatEveryNodeKnows) {
  Cluster c(3);
  std::atomic<int> changes{0};
  c.start_all();
  for (NodeId id : c.ids()) {
    auto r = await(c.node(id).async_await_leader(kWait, asio::use_future));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_NE(r.leader, NodeId(0));
  }
  NodeId leader = c.wait_leader();
  int leaders = 0;
  for (NodeId id : c.ids()) leaders += c.node(id).is_leader() ? 1 : 0;
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(c.node(leader).members().voters, (std::set<NodeId>{NodeId(1), NodeId(2), NodeId(3)}));
  ASSERT_TRUE(eventually([&] { return c.node(leader).metrics().peers.size() == 2; }));
  NodeMetrics m = c.node(leader).metrics();
  EXPECT_EQ(m.role, raft::RoleKind::kLeader);
  EXPECT_GE(m.term, Term(1));
  EXPECT_GE(m.leader_changes, 1u);
  EXPECT_GE(m.fsyncs, 1u);  // the bootstrap entry and the term's no-op
  (void)changes;
}

TEST(RaftNodeTest, AppendsOnLeaderAndFollowerGetSequencesInOrder) {
  Cluster c(3);
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId follower = c.follower_of(leader);
  LogIndex last;
  int64_t sum = 0;
  for (int i = 1; i <= 5; ++i) {
    // Alternate: the follower forwards to the leader (thesis §6.2).
    RaftNode& n = c.node(i % 2 ? leader : follower);
    AppendResult r = append(n, i);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    sum += i;
    EXPECT_GT(r.sequence, last);
    EXPECT_EQ(counter_value(r.result), sum);  // the state machine's result, applied in order
    last = r.sequence;
  }
  expect_same_machines(c, last);
  for (NodeId id : c.ids()) EXPECT_EQ(c.machine(id).value(), sum);
}

TEST(RaftNodeTest, AppendBatchAndTxnCommitAtContiguousSequences) {
  Cluster c(3);
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId follower = c.follower_of(leader);

  std::vector<Bytes> batch{counter_command(1), counter_command(2), counter_command(3)};
  BatchResult b = await(c.node(leader).async_append_batch(batch, asio::use_future));
  ASSERT_TRUE(b.status.ok()) << b.status.ToString();
  ASSERT_EQ(b.results.size(), 3u);
  EXPECT_EQ(counter_value(b.results[0]), 1);
  EXPECT_EQ(counter_value(b.results[2]), 6);

  Txn txn = c.node(follower).txn();
  txn.append(counter_command(10));
  txn.append(counter_command(20));
  EXPECT_EQ(txn.size(), 2u);
  BatchResult t = await(txn.async_commit(asio::use_future));
  ASSERT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_GT(t.first, b.first + 2);
  ASSERT_EQ(t.results.size(), 2u);
  EXPECT_EQ(counter_value(t.results[1]), 36);

  expect_same_machines(c, t.first + 1);
  auto commands = c.machine(follower).commands();
  for (uint64_t i = 0; i < 3; ++i) EXPECT_TRUE(commands.contains(b.first + i));
  EXPECT_EQ(commands.at(t.first), counter_command(10));
  EXPECT_EQ(commands.at(t.first + 1), counter_command(20));

  BatchResult empty = await(c.node(leader).async_append_batch({}, asio::use_future));
  EXPECT_EQ(empty.status.code(), StatusCode::kInvalidArgument);
}

TEST(RaftNodeTest, ReadsOnEveryNodeSeeEveryAcknowledgedAppend) {
  Cluster c(3);
  c.start_all();
  c.wait_leader();
  int64_t sum = 0;
  for (int round = 1; round <= 4; ++round) {
    for (NodeId writer : c.ids()) {
      AppendResult w = append(c.node(writer), round);
      ASSERT_TRUE(w.status.ok()) << w.status.ToString();
      sum += round;
      // Linearizable: a read that starts after the append returned sees it, on any node.
      for (NodeId reader : c.ids()) {
        ReadResult r = read(c.node(reader));
        ASSERT_TRUE(r.status.ok()) << r.status.ToString();
        EXPECT_EQ(counter_value(r.result), sum) << "stale read on node " << reader;
        EXPECT_GE(r.sequence, w.sequence);
      }
    }
  }
}

TEST(RaftNodeTest, PartitionedFollowerCatchesUpAfterHeal) {
  Cluster c(3);
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId follower = c.follower_of(leader);
  c.net().isolate(follower);
  LogIndex last;
  for (int i = 0; i < 20; ++i) {
    AppendResult r = append(c.node(leader), 1);  // a quorum of two still commits
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    last = r.sequence;
  }
  EXPECT_LT(c.machine(follower).last_applied(), last);
  c.net().heal();
  expect_same_machines(c, last);
  EXPECT_EQ(c.machine(follower).value(), 20);
}

TEST(RaftNodeTest, NodeDownWhileLogTrimmedCatchesUpBySnapshot) {
  Cluster c(3, /*sim_fs=*/false, [](NodeOptions& o) {
    o.snapshot_threshold_entries = 20;
    o.snapshot_chunk_bytes = 64;  // several chunks
  });
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId follower = c.follower_of(leader);
  c.stop(follower);
  LogIndex last;
  for (int i = 0; i < 60; ++i) {
    AppendResult r = append(c.node(leader), 1, "entry-" + std::to_string(i));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    last = r.sequence;
  }
  ASSERT_TRUE(eventually([&] { return c.node(leader).metrics().snapshot_index > LogIndex(20); }));
  EXPECT_GE(c.node(leader).metrics().snapshots_taken, 1u);
  c.start(follower);
  expect_same_machines(c, last);
  EXPECT_EQ(c.machine(follower).value(), 60);
  EXPECT_GE(c.node(follower).metrics().snapshots_installed, 1u);
  EXPECT_GE(c.machine(follower).restores(), 1);
  // And it keeps up afterwards.
  AppendResult r = append(c.node(follower), 5);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  expect_same_machines(c, r.sequence);
}

TEST(RaftNodeTest, RestartOfAllNodesKeepsEveryAcknowledgedSequence) {
  // SimFileSystem: after the clean stop, each node also loses power (what was not synced is
  // gone), so only what was acknowledged durable can come back.
  Cluster c(3, /*sim_fs=*/true, [](NodeOptions& o) { o.snapshot_threshold_entries = 25; });
  c.start_all();
  c.wait_leader();
  std::map<LogIndex, Bytes> acked;
  for (int i = 0; i < 40; ++i) {
    NodeId on = c.ids()[i % 3];
    Bytes cmd = counter_command(1, "k" + std::to_string(i));
    AppendResult r = await(c.node(on).async_append(cmd, asio::use_future));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    acked[r.sequence] = cmd;
  }
  for (NodeId id : c.ids()) {
    c.stop(id);
    c.sim_fs(id).crash(CrashMode::kLoseAllUnsynced);
  }
  c.start_all();
  c.wait_leader();
  ReadResult r = read(c.node(NodeId(2)));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(counter_value(r.result), 40);
  expect_same_machines(c, acked.rbegin()->first);
  for (NodeId id : c.ids()) {
    auto commands = c.machine(id).commands();
    for (const auto& [seq, cmd] : acked) {
      ASSERT_TRUE(commands.contains(seq)) << "node " << id << " lost sequence " << seq;
      EXPECT_EQ(commands.at(seq), cmd);
    }
  }
}

TEST(RaftNodeTest, LeaderLossMidStreamLosesNoAcknowledgedAppend) {
  Cluster c(3, /*sim_fs=*/false, [](NodeOptions& o) { o.proposal_timeout = 3s; });
  c.start_all();
  NodeId leader = c.wait_leader();
  std::map<LogIndex, Bytes> acked;
  int failed_definite = 0, failed_maybe = 0;
  constexpr int kInFlight = 4;
  std::vector<std::pair<Bytes, std::future<AppendResult>>> window;
  auto drain = [&](size_t keep) {
    while (window.size() > keep) {
      AppendResult r = await(std::move(window.front().second));
      if (r.status.ok()) {
        EXPECT_FALSE(acked.contains(r.sequence)) << "two appends acknowledged at " << r.sequence;
        acked[r.sequence] = window.front().first;
      } else if (maybe_happened(r.status)) {
        ++failed_maybe;
      } else {
        ++failed_definite;
      }
      window.erase(window.begin());
    }
  };
  for (int i = 0; i < 150; ++i) {
    if (i == 50) {
      drain(0);
      c.stop(leader);  // mid-stream: the others elect a new leader
    }
    std::vector<NodeId> up = c.running_ids();
    NodeId on = up[static_cast<size_t>(i) % up.size()];
    Bytes cmd = counter_command(1, "s" + std::to_string(i));
    window.emplace_back(cmd, c.node(on).async_append(cmd, asio::use_future));
    drain(kInFlight);
    if (i > 50 && i % 10 == 0) c.wait_leader();
  }
  drain(0);
  EXPECT_GE(acked.size(), 100u);  // the survivors kept committing
  LogIndex last = acked.rbegin()->first;
  expect_same_machines(c, last);
  for (NodeId id : c.running_ids()) {
    auto commands = c.machine(id).commands();
    for (const auto& [seq, cmd] : acked) {
      ASSERT_TRUE(commands.contains(seq)) << "node " << id << " lacks acknowledged " << seq;
      EXPECT_EQ(commands.at(seq), cmd) << "sequence " << seq << " holds another command";
    }
  }
  // The old leader comes back and converges on the same history.
  c.start(leader);
  expect_same_machines(c, last);
  (void)failed_definite;
  (void)failed_maybe;
}

TEST(RaftNodeTest, ProposalWithNoLeaderFailsDefinitely) {
  Cluster c(3);
  c.start(NodeId(1));  // alone: no quorum, no leader
  AppendResult r = append(c.node(NodeId(1)), 1);
  EXPECT_EQ(r.status.code(), StatusCode::kNotLeader) << r.status.ToString();
  EXPECT_FALSE(maybe_happened(r.status));
  auto l = await(c.node(NodeId(1)).async_await_leader(50ms, asio::use_future));
  EXPECT_EQ(l.status.code(), StatusCode::kTimeout);
  ReadResult rd = read(c.node(NodeId(1)));
  EXPECT_FALSE(rd.status.ok());
}

TEST(RaftNodeTest, ProposalTimeoutIsIndefinite) {
  Cluster c(3, false, [](NodeOptions& o) { o.proposal_timeout = 200ms; });
  c.start_all();
  NodeId leader = c.wait_leader();
  c.net().isolate(leader);
  // The leader appends it but can never commit it: timeout (or leadership lost), maybe happened.
  AppendResult r = append(c.node(leader), 1);
  EXPECT_EQ(r.status.code(), StatusCode::kTimeout) << r.status.ToString();
  EXPECT_TRUE(maybe_happened(r.status));
  c.net().heal();
}

TEST(RaftNodeTest, CallsOnAClosedNodeFailAtOnce) {
  asio::io_context io;
  net::InProcessNetwork net;
  auto transport = net.create(NodeId(9), io);
  chorus::test::TempDir dir;
  NodeOptions o;
  o.id = NodeId(9);
  o.voters = {NodeId(9)};
  RaftNode n(o, io, FileSystem::posix(), dir.path(), *transport);
  AppendResult before = append(n, 1);
  EXPECT_EQ(before.status.code(), StatusCode::kUnavailable);
  ASSERT_TRUE(n.open().ok());
  // A single voter elects itself and commits alone.
  ASSERT_TRUE(await(n.async_await_leader(kWait, asio::use_future)).status.ok());
  AppendResult alone = append(n, 1);
  EXPECT_TRUE(alone.status.ok()) << alone.status.ToString();
  n.close();
  AppendResult after = append(n, 1);
  EXPECT_EQ(after.status.code(), StatusCode::kUnavailable);
  bool called = false;
  n.async_append(counter_command(1), [&](AppendResult r) {
    called = true;
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  });
  EXPECT_TRUE(called);  // a callback on a closed node runs before the call returns
}

TEST(RaftNodeTest, CloseWithAProposalInFlightIsIndefinite) {
  Cluster c(3, false, [](NodeOptions& o) { o.proposal_timeout = 0ms; });  // no limit
  c.start_all();
  NodeId leader = c.wait_leader();
  LogIndex before = c.node(leader).metrics().last_index;
  c.net().isolate(leader);
  auto pending = c.node(leader).async_append(counter_command(1), asio::use_future);
  // Appended to the leader's log, never committed: then the node closes.
  ASSERT_TRUE(eventually([&] { return c.node(leader).metrics().last_index > before; }));
  c.stop(leader);
  AppendResult r = await(std::move(pending));
  EXPECT_TRUE(maybe_happened(r.status)) << r.status.ToString();
  c.net().heal();
}

TEST(RaftNodeTest, AFullWalQueueSlowsTheLoopButLosesNothing) {
  // At most one Ready's entries in the WAL queue: new proposals (local and forwarded) must wait
  // while it is full, never be dropped.
  Cluster c(3, false, [](NodeOptions& o) {
    o.max_wal_readys = 1;
    o.max_wal_bytes = 1;
  });
  c.start_all();
  c.wait_leader();
  std::vector<std::future<AppendResult>> calls;
  for (int i = 0; i < 300; ++i) {
    NodeId on = c.ids()[static_cast<size_t>(i) % 3];
    calls.push_back(c.node(on).async_append(counter_command(1), asio::use_future));
  }
  std::set<LogIndex> sequences;
  for (auto& f : calls) {
    AppendResult r = await(std::move(f));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_TRUE(sequences.insert(r.sequence).second);
  }
  expect_same_machines(c, *sequences.rbegin());
  for (NodeId id : c.ids()) EXPECT_EQ(c.machine(id).value(), 300);
  // Group commit: many appends shared an fsync on the leader.
  NodeId leader = c.wait_leader();
  EXPECT_LT(c.node(leader).metrics().fsyncs, 300u);
}

TEST(RaftNodeTest, MembershipAddLearnerPromoteRemove) {
  Cluster c(3, false, [](NodeOptions& o) { o.snapshot_threshold_entries = 30; });
  c.add_slot(NodeId(4));
  c.start_all();
  NodeId leader = c.wait_leader();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(append(c.node(leader), 1).status.ok());

  // The new node starts with no configuration and the current members' addresses.
  c.start(NodeId(4), /*joining=*/true);
  ChangeResult add = await(c.node(leader).async_add_learner(NodeId(4), "n4", asio::use_future));
  ASSERT_TRUE(add.status.ok()) << add.status.ToString();
  EXPECT_TRUE(c.node(leader).members().is_learner(NodeId(4)));
  AppendResult a = append(c.node(leader), 1);
  ASSERT_TRUE(a.status.ok());
  ASSERT_TRUE(c.wait_applied(a.sequence));  // the learner caught up (from a snapshot)
  EXPECT_EQ(c.machine(NodeId(4)).value(), 41);

  // Membership calls go to the leader.
  NodeId follower = c.follower_of(leader);
  ChangeResult refused = await(c.node(follower).async_promote(NodeId(4), asio::use_future));
  EXPECT_EQ(refused.status.code(), StatusCode::kNotLeader);

  ChangeResult promote = await(c.node(leader).async_promote(NodeId(4), asio::use_future));
  ASSERT_TRUE(promote.status.ok()) << promote.status.ToString();
  EXPECT_TRUE(c.node(leader).members().is_voter(NodeId(4)));

  NodeId removed = NodeId(0);
  for (NodeId id : {NodeId(1), NodeId(2), NodeId(3)}) {
    if (id != leader) removed = id;
  }
  ChangeResult remove = await(c.node(leader).async_remove(removed, asio::use_future));
  ASSERT_TRUE(remove.status.ok()) << remove.status.ToString();
  EXPECT_FALSE(c.node(leader).members().contains(removed));
  c.stop(removed);
  AppendResult after = append(c.node(NodeId(4)), 1);  // forwarded by the new voter
  ASSERT_TRUE(after.status.ok()) << after.status.ToString();
  expect_same_machines(c, after.sequence);
  EXPECT_EQ(c.node(NodeId(4)).members().voters.size(), 3u);
}

// Regression (chorusd e2e, `chorus member remove <leader>`): a leader that removes itself steps
// down when the entry commits, before it applies it; the call must still report the removal as
// done (it committed), not "leader changed" (which said it may not have happened).
TEST(RaftNodeTest, RemovingTheLeaderCompletesOk) {
  Cluster c(3);
  c.start_all();
  NodeId leader = c.wait_leader();
  ASSERT_TRUE(append(c.node(leader), 1).status.ok());
  ChangeResult remove = await(c.node(leader).async_remove(leader, asio::use_future));
  ASSERT_TRUE(remove.status.ok()) << remove.status.ToString();
  EXPECT_GT(remove.sequence.value(), 0u);
  NodeId survivor = c.follower_of(leader);
  c.stop(leader);
  NodeId next = c.wait_leader();
  EXPECT_NE(next, leader);
  EXPECT_FALSE(c.node(survivor).members().contains(leader));
  AppendResult r = append(c.node(survivor), 1);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
}

TEST(RaftNodeTest, LeadershipTransfer) {
  Cluster c(3);
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId target = c.follower_of(leader);
  ASSERT_TRUE(append(c.node(leader), 1).status.ok());
  ChangeResult t = await(c.node(leader).async_transfer_leadership(target, asio::use_future));
  ASSERT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_EQ(c.wait_leader(), target);
  AppendResult r = append(c.node(leader), 1);  // the old leader forwards now
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  expect_same_machines(c, r.sequence);
}

TEST(RaftNodeTest, FsyncFailureStopsThatNodeOnly) {
  Cluster c(3, /*sim_fs=*/true);
  c.start_all();
  NodeId leader = c.wait_leader();
  NodeId victim = c.follower_of(leader);
  ASSERT_TRUE(append(c.node(leader), 1).status.ok());

  c.sim_fs(victim).fail_next_syncs(1);
  // Pending on the victim when its WAL fails: kFailed (it may have happened elsewhere).
  AppendResult r = append(c.node(victim), 1);
  EXPECT_EQ(r.status.code(), StatusCode::kFailed) << r.status.ToString();
  EXPECT_TRUE(maybe_happened(r.status));
  ASSERT_TRUE(eventually([&] { return !c.errors(victim).empty(); }));
  EXPECT_TRUE(c.node(victim).metrics().failed);
  // It stays stopped: every later call fails too.
  EXPECT_EQ(append(c.node(victim), 1).status.code(), StatusCode::kFailed);
  EXPECT_EQ(read(c.node(victim)).status.code(), StatusCode::kFailed);

  // The other two continue.
  for (int i = 0; i < 5; ++i) {
    AppendResult ok = append(c.node(leader), 1);
    ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  }
  ReadResult rd = read(c.node(leader));
  ASSERT_TRUE(rd.status.ok());
  EXPECT_GE(counter_value(rd.result), 6);
  c.stop(victim);
}

// A state machine that takes longer than several election timeouts to serialize (a large
// state) must not cost the leader its leadership: snapshot() runs off the loop, which keeps
// heartbeating and replicating while applying waits. Before, the loop itself serialized, and a
// 1M-key chorusd leader lost its term at every snapshot.
TEST(RaftNodeTest, ASlowSnapshotDelaysAppliesNotLeadership) {
  Cluster c(3, /*sim_fs=*/false, [](NodeOptions& o) { o.snapshot_threshold_entries = 8; });
  c.start_all();
  NodeId leader = c.wait_leader();
  auto hold = [&](bool on) {
    for (NodeId id : c.ids()) c.machine(id).hold_snapshots(on);
  };
  hold(true);
  struct Release {
    std::function<void()> fn;
    ~Release() { fn(); }
  } release{[&] { hold(false); }};  // also when an assertion returns early
  const Term term = c.node(leader).metrics().term;
  std::vector<std::future<AppendResult>> pending;
  auto append_10 = [&] {
    for (int i = 0; i < 10; ++i) {
      pending.push_back(c.node(leader).async_append(counter_command(1), asio::use_future));
    }
  };
  append_10();  // past the threshold: a snapshot starts, and blocks
  ASSERT_TRUE(eventually([&] { return c.machine(leader).snapshots_started() > 0; }));
  append_10();
  // Every append commits on the quorum while the leader's machine is held...
  ASSERT_TRUE(eventually([&] {
    NodeMetrics m = c.node(leader).metrics();
    return m.commit >= m.last_index && m.last_index.value() >= 20;
  }));
  EXPECT_LT(c.node(leader).metrics().applied, c.node(leader).metrics().commit);
  // ...and it stays leader of the same term for several election timeouts (200-400 ms each).
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.node(leader).is_leader());
    ASSERT_EQ(c.node(leader).metrics().term, term);
  }
  hold(false);
  LogIndex previous;
  for (auto& f : pending) {
    AppendResult r = await(std::move(f));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_GT(r.sequence, previous);
    previous = r.sequence;
  }
  ASSERT_TRUE(eventually([&] { return c.node(leader).metrics().snapshots_taken > 0; }));
  EXPECT_GT(c.node(leader).metrics().snapshot_index, LogIndex(0));
  for (NodeId id : c.ids()) EXPECT_TRUE(c.machine(id).violations().empty());
  EXPECT_EQ(counter_value(read(c.node(leader)).result), 20);
}

// A leader whose disk stalls for several election timeouts keeps its term: a full WAL queue
// holds back new proposals, never the heartbeats. (It used to stop the loop taking Readys, which
// carry the heartbeats too, so a 100 MB snapshot save cost a chorusd leader its term.) The
// followers commit without it; its callers complete once its disk is back.
TEST(RaftNodeTest, AStalledLeaderDiskHoldsBackProposalsNotHeartbeats) {
  Cluster c(3, /*sim_fs=*/true, [](NodeOptions& o) {
    o.max_wal_readys = 2;
    o.max_wal_bytes = 1;
  });
  c.start_all();
  NodeId leader = c.wait_leader();
  ASSERT_TRUE(append(c.node(leader), 1).status.ok());
  const Term term = c.node(leader).metrics().term;
  c.sim_fs(leader).hold_syncs(true);
  struct Release {
    std::function<void()> fn;
    ~Release() { fn(); }
  } release{[&] { c.sim_fs(leader).hold_syncs(false); }};  // also when an assertion returns
  std::vector<std::future<AppendResult>> pending;
  for (int i = 0; i < 30; ++i) {
    pending.push_back(c.node(leader).async_append(counter_command(1), asio::use_future));
    std::this_thread::sleep_for(5ms);
  }
  NodeId follower = c.follower_of(leader);
  ASSERT_TRUE(eventually([&] { return c.node(follower).metrics().commit.value() >= 4; }));
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.node(leader).is_leader());
    ASSERT_EQ(c.node(leader).metrics().term, term);
  }
  c.sim_fs(leader).hold_syncs(false);
  for (auto& f : pending) {
    AppendResult r = await(std::move(f));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }
  EXPECT_EQ(counter_value(read(c.node(leader)).result), 31);
  EXPECT_EQ(c.node(leader).metrics().term, term);
}

TEST(RaftNodeTest, EventsReportChangeCommitAndApply) {
  Cluster c(1);
  std::atomic<uint64_t> commit{0}, applied{0};
  std::atomic<int> changes{0};
  // Register before open: start() opens, so build the node by hand here.
  asio::io_context io;
  auto transport = c.net().create(NodeId(7), io);
  chorus::test::TempDir dir;
  NodeOptions o;
  o.id = NodeId(7);
  o.voters = {NodeId(7)};
  CounterMachine m;
  RaftNode n(o, io, FileSystem::posix(), dir.path(), *transport, &m);
  n.on_change([&](raft::RoleKind role, Term, NodeId leader) {
    if (role == raft::RoleKind::kLeader && leader == NodeId(7)) ++changes;
  });
  n.on_commit([&](LogIndex i) { commit = i.value(); });
  n.on_apply([&](LogIndex i) { applied = i.value(); });
  ASSERT_TRUE(n.open().ok());
  ASSERT_TRUE(await(n.async_await_leader(kWait, asio::use_future)).status.ok());
  AppendResult r = append(n, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(eventually([&] { return applied.load() >= r.sequence.value(); }));
  EXPECT_GE(commit.load(), r.sequence.value());
  EXPECT_EQ(changes.load(), 1);
  n.close();
}

TEST(RaftNodeTest, AMessageThatDoesNotDecodeIsAWarningAndIsDropped) {
  net::InProcessNetwork net;
  asio::io_context io, other_io;
  auto transport = net.create(NodeId(1), io);
  auto intruder = net.create(NodeId(2), other_io);
  chorus::test::TempDir dir;
  NodeOptions o;
  o.id = NodeId(1);
  o.voters = {NodeId(1)};
  RaftNode n(o, io, FileSystem::posix(), dir.path(), *transport);
  std::mutex mu;
  std::vector<Status> warnings;
  n.on_warn([&](const Status& s) {
    std::lock_guard lock(mu);
    warnings.push_back(s);
  });
  ASSERT_TRUE(n.open().ok());
  ASSERT_TRUE(await(n.async_await_leader(kWait, asio::use_future)).status.ok());
  intruder->add_peer(NodeId(1), "");
  intruder->start([](NodeId, Bytes) {});
  intruder->send(NodeId(1), to_bytes("\x01not a raft message"));
  std::thread runner([&] { other_io.run_for(200ms); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !warnings.empty();
  }));
  runner.join();
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(warnings.front().code(), StatusCode::kCorruption) << warnings.front().ToString();
  }
  EXPECT_EQ(n.metrics().messages_dropped, 1u);
  // The node carries on.
  EXPECT_TRUE(append(n, 1).status.ok());
  n.close();
  intruder->stop();
}

}  // namespace
}  // namespace chorus::node::test
