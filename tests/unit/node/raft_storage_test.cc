// RaftStorage on the simulated file system: what a restarted node sees after crashes.
#include "chorus/node/raft_storage.h"

#include <gtest/gtest.h>

#include "chorus/base/sim_file_system.h"
#include "chorus/node/snapshot_file.h"

namespace chorus::node {
namespace {

raft::Entry entry(uint64_t index, uint64_t term, std::string_view data) {
  raft::Entry e;
  e.index = LogIndex(index);
  e.term = Term(term);
  e.data = to_bytes(data);
  return e;
}

std::unique_ptr<RaftStorage> open(SimFileSystem& fs) {
  auto s =
      RaftStorage::open(fs, "/node", {.segment_bytes = 64 << 10, .background_preallocate = false});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(RaftStorage, FreshNodeLoadsEmpty) {
  SimFileSystem fs;
  auto s = open(fs);
  auto b = s->load();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->hard_state, raft::HardState{});
  EXPECT_TRUE(b->entries.empty());
  EXPECT_EQ(b->incarnation, 1u);
}

TEST(RaftStorage, PersistedStateSurvivesCrashUnsyncedDoesNot) {
  SimFileSystem fs(7);
  {
    auto s = open(fs);
    ASSERT_TRUE(s->load().ok());
    ASSERT_TRUE(s->persist(raft::HardState{Term(2), NodeId(1), LogIndex(1)},
                           {entry(1, 1, "a"), entry(2, 2, "b")})
                    .ok());
    ASSERT_TRUE(
        s->write(raft::HardState{Term(3), NodeId(2), LogIndex(2)}, {entry(3, 3, "c")}).ok());
    fs.crash(CrashMode::kLoseAllUnsynced);  // before close() could sync anything
  }
  auto s = open(fs);
  auto b = s->load();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->hard_state.term, Term(2));
  EXPECT_EQ(b->hard_state.vote, NodeId(1));
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_EQ(b->entries[1], entry(2, 2, "b"));
  EXPECT_EQ(b->incarnation, 2u);
}

TEST(RaftStorage, TornHardStateWriteNeverLosesTheSyncedOne) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SimFileSystem fs(seed);
    {
      auto s = open(fs);
      ASSERT_TRUE(s->load().ok());
      ASSERT_TRUE(s->persist(raft::HardState{Term(5), NodeId(3), LogIndex()}, {}).ok());
      // Two unsynced writes in a row, then a crash that may tear either.
      ASSERT_TRUE(s->write(raft::HardState{Term(6), NodeId(1), LogIndex()}, {}).ok());
      ASSERT_TRUE(s->write(raft::HardState{Term(7), NodeId(2), LogIndex()}, {}).ok());
      fs.crash(CrashMode::kRandom);
    }
    auto s = open(fs);
    auto b = s->load();
    ASSERT_TRUE(b.ok()) << "seed " << seed << ": " << b.status().ToString();
    EXPECT_GE(b->hard_state.term, Term(5)) << "seed " << seed;
    if (b->hard_state.term == Term(5)) {
      EXPECT_EQ(b->hard_state.vote, NodeId(3));
    }
  }
}

TEST(RaftStorage, ConflictingSuffixIsReplaced) {
  SimFileSystem fs;
  auto s = open(fs);
  ASSERT_TRUE(s->load().ok());
  ASSERT_TRUE(
      s->persist(std::nullopt, {entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")}).ok());
  ASSERT_TRUE(s->persist(std::nullopt, {entry(2, 2, "B")}).ok());
  s.reset();
  auto again = open(fs);
  auto b = again->load();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_EQ(b->entries[1], entry(2, 2, "B"));
}

TEST(RaftStorage, SnapshotSavedTransferredAndInstalled) {
  SimFileSystem leader_fs(1), follower_fs(2);
  auto leader = open(leader_fs);
  auto follower = open(follower_fs);
  ASSERT_TRUE(leader->load().ok());
  ASSERT_TRUE(follower->load().ok());
  raft::SnapshotMeta meta;
  meta.index = LogIndex(10);
  meta.term = Term(3);
  meta.config.voters = {NodeId(1), NodeId(2), NodeId(3)};
  meta.size_bytes = 11;
  ASSERT_TRUE(leader->save_snapshot(meta, as_bytes("state-bytes")).ok());
  const auto& saved = leader->snapshot();
  ASSERT_GT(saved.size_bytes, 0u);
  // Send in 7-byte chunks, as the core would ask.
  for (uint64_t off = 0; off < saved.size_bytes; off += 7) {
    auto bytes = leader->read_snapshot_chunk(saved, off, 7);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(follower->write_snapshot_chunk({saved, off, *bytes}).ok());
  }
  ASSERT_TRUE(follower->install_snapshot(saved).ok());
  auto state = follower->read_snapshot_state(follower->snapshot());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(as_string_view(*state), "state-bytes");
  ASSERT_TRUE(follower->persist(std::nullopt, {entry(11, 3, "next")}).ok());
  follower.reset();
  auto again = open(follower_fs);
  auto b = again->load();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->snapshot.index, LogIndex(10));
  EXPECT_EQ(b->snapshot.config.voters.size(), 3u);
  ASSERT_EQ(b->entries.size(), 1u);
  EXPECT_EQ(b->entries[0].index, LogIndex(11));
}

TEST(RaftStorage, IncompleteSnapshotTransferIsRefused) {
  SimFileSystem leader_fs(1), follower_fs(2);
  auto leader = open(leader_fs);
  auto follower = open(follower_fs);
  raft::SnapshotMeta meta;
  meta.index = LogIndex(4);
  meta.term = Term(1);
  meta.size_bytes = 8;
  ASSERT_TRUE(leader->save_snapshot(meta, as_bytes("abcdefgh")).ok());
  // Only 5 of the 8 bytes arrived.
  auto bytes = leader->read_snapshot_chunk(leader->snapshot(), 0, 5);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(follower->write_snapshot_chunk({leader->snapshot(), 0, *bytes}).ok());
  EXPECT_EQ(follower->install_snapshot(leader->snapshot()).code(), StatusCode::kCorruption);
}

TEST(SnapshotFile, EveryTruncationAndFlipIsRejected) {
  raft::SnapshotMeta meta;
  meta.index = LogIndex(9);
  meta.term = Term(2);
  meta.config.voters = {NodeId(1)};
  meta.size_bytes = 3;
  Bytes file = encode_snapshot_file(meta, as_bytes("xyz"));
  ASSERT_TRUE(decode_snapshot_file(file).ok());
  for (size_t n = 0; n < file.size(); ++n)
    EXPECT_FALSE(decode_snapshot_file(ByteSpan(file).first(n)).ok());
  for (size_t i = 0; i < file.size() * 8; ++i) {
    Bytes bad = file;
    bad[i / 8] ^= std::byte(1 << (i % 8));
    EXPECT_FALSE(decode_snapshot_file(bad).ok()) << "bit " << i;
  }
}

}  // namespace
}  // namespace chorus::node
