// Snapshots (§7, chunked): the core asks for one, the log is trimmed behind it, a lagging
// follower receives it in checksummed chunks that resume after a loss.
#include <gtest/gtest.h>

#include "chorus/base/checksum.h"
#include "cluster_harness.h"

namespace chorus::raft::testing {
namespace {

const NodeId n1(1), n2(2), n3(3);

ClusterOptions snapshotting() {
  return ClusterOptions{.tweak = [](Config& cfg) {
    cfg.snapshot_threshold_entries = 5;
    cfg.snapshot_chunk_bytes = 16;
  }};
}

TEST(Snapshot, CoreAsksForASnapshotAndTheLogIsTrimmed) {
  Cluster c(snapshotting());
  ASSERT_TRUE(c.elect(n1));
  for (int i = 0; i < 12; ++i) c.propose(n1, "entry-" + std::to_string(i));
  c.stabilize();
  EXPECT_GE(c.node(n1).snapshot_requests, 1u);
  EXPECT_GT(c.raft(n1).log().snapshot_index(), LogIndex(0));
  EXPECT_EQ(c.raft(n1).log().snapshot_index(), c.raft(n1).snapshot().index);
  EXPECT_LT(c.raft(n1).log().size(), 8u);
}

TEST(Snapshot, Section7_LaggingFollowerReceivesTheSnapshotInChunks) {
  Cluster c(snapshotting());
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  for (int i = 0; i < 20; ++i) c.propose(n1, "entry-" + std::to_string(i));
  c.stabilize();
  ASSERT_GT(c.raft(n1).log().snapshot_index(), LogIndex(2)) << "n3 needs compacted entries";
  size_t chunks = 0;
  c.drop_if = [&](Message& m) {
    chunks += m.type == MessageType::kSnapshotChunk;
    return false;
  };
  c.heal();
  c.run(3);
  EXPECT_GT(chunks, 2u) << "the snapshot (> 16 bytes) went in several chunks";
  EXPECT_EQ(c.node(n3).state, c.node(n1).state);
  EXPECT_EQ(c.node(n3).state.size(), 20u);
  EXPECT_EQ(c.raft(n3).log().last_index(), c.raft(n1).log().last_index());
}

TEST(Snapshot, ChunkLostMidTransferResumesFromTheAckedOffset) {
  Cluster c(snapshotting());
  ASSERT_TRUE(c.elect(n1));
  c.isolate(n3);
  for (int i = 0; i < 20; ++i) c.propose(n1, "entry-" + std::to_string(i));
  c.stabilize();
  std::vector<uint64_t> offsets;
  bool lost = false;
  c.drop_if = [&](Message& m) {
    if (m.type != MessageType::kSnapshotChunk) return false;
    offsets.push_back(m.offset);
    if (!lost && m.offset == 32) {  // lose the third chunk: the connection dropped
      lost = true;
      return true;
    }
    return false;
  };
  c.heal();
  c.run(25);  // the leader resends after an election timeout
  ASSERT_TRUE(lost);
  EXPECT_EQ(std::count(offsets.begin(), offsets.end(), 0u), 1) << "never restarted from 0";
  EXPECT_EQ(std::count(offsets.begin(), offsets.end(), 32u), 2) << "resent from the acked offset";
  EXPECT_EQ(c.node(n3).state, c.node(n1).state);
}

TEST(Snapshot, CorruptChunkIsRejected) {
  Cluster c(snapshotting());
  SnapshotMeta meta{LogIndex(10), Term(2), c.raft(n2).configuration(), 8};
  Message m{.type = MessageType::kSnapshotChunk,
            .from = n1,
            .to = n2,
            .term = Term(2),
            .count = 8,
            .snapshot = meta,
            .offset = 0,
            .last = true};
  m.data = to_bytes("12345678");
  m.checksum = checksum64(m.data) ^ 1;
  Status s = c.raft(n2).step(m);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  Ready rd = c.raft(n2).ready();
  EXPECT_TRUE(rd.snapshot_chunks_to_write.empty());
  EXPECT_FALSE(rd.snapshot_to_install.has_value());
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_TRUE(rd.messages_after_persist[0].reject);
  // The same chunk intact is written, installed and acknowledged after persisting.
  m.checksum = checksum64(m.data);
  ASSERT_TRUE(c.raft(n2).step(m).ok());
  rd = c.raft(n2).ready();
  ASSERT_EQ(rd.snapshot_chunks_to_write.size(), 1u);
  ASSERT_TRUE(rd.snapshot_to_install.has_value());
  EXPECT_EQ(rd.snapshot_to_install->index, LogIndex(10));
  EXPECT_EQ(c.raft(n2).log().committed(), LogIndex(10));
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_TRUE(rd.messages_after_persist[0].last);
}

TEST(Snapshot, RestartFromSnapshotAndLog) {
  Cluster c(snapshotting());
  ASSERT_TRUE(c.elect(n1));
  for (int i = 0; i < 12; ++i) c.propose(n1, "entry-" + std::to_string(i));
  c.stabilize();
  std::vector<std::string> before = c.node(n2).state;
  c.crash(n2);
  c.restart(n2);
  c.run(2);
  EXPECT_EQ(c.node(n2).state, before);
  c.propose(n1, "after");
  c.stabilize();
  EXPECT_EQ(c.node(n2).state.back(), "after");
}

}  // namespace
}  // namespace chorus::raft::testing
