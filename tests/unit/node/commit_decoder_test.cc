// CommitDecoder and the node's payload framing: transactions are released whole or aborted.
#include "chorus/node/commit_decoder.h"

#include <gtest/gtest.h>

namespace chorus::node {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::ProposalId;

class DecoderTest : public ::testing::Test {
 protected:
  Entry next(EntryType type, Bytes data, NodeId origin = NodeId(1), uint64_t proposal = 0) {
    ++index_;
    return Entry{Term(1), LogIndex(index_), type, origin, ProposalId(proposal), std::move(data)};
  }
  Entry command(std::string_view text, uint64_t proposal) {
    return next(EntryType::kNormal, frame_command(as_bytes(text)), NodeId(1), proposal);
  }
  Entry member(uint32_t count, uint32_t pos, uint64_t proposal, NodeId origin = NodeId(1)) {
    std::string text = "t" + std::to_string(pos);
    return next(EntryType::kNormal, frame_txn_member(count, pos, as_bytes(text)), origin, proposal);
  }
  std::vector<ApplyItem> push(Entry e) {
    std::vector<ApplyItem> out;
    decoder_.push(std::move(e), out);
    return out;
  }

  CommitDecoder decoder_;
  uint64_t index_ = 0;
};

TEST_F(DecoderTest, CommandsPassThroughWithTheHeaderStripped) {
  auto out = push(command("hello", 5));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ItemKind::kCommand);
  EXPECT_EQ(out[0].entry.data, to_bytes("hello"));
  EXPECT_EQ(out[0].entry.type, EntryType::kNormal);
  EXPECT_EQ(out[0].proposal, ProposalId(5));
  auto noop = push(next(EntryType::kNoop, {}));
  ASSERT_EQ(noop.size(), 1u);
  EXPECT_EQ(noop[0].kind, ItemKind::kNoop);
}

TEST_F(DecoderTest, AWholeTransactionIsReleasedAtOnce) {
  EXPECT_TRUE(push(member(3, 0, 10)).empty());
  EXPECT_EQ(decoder_.held_from(), LogIndex(1));
  EXPECT_TRUE(push(member(3, 1, 11)).empty());
  auto out = push(member(3, 2, 12));
  ASSERT_EQ(out.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].kind, ItemKind::kTxnMember);
    EXPECT_EQ(out[i].entry.index, LogIndex(i + 1));
    EXPECT_EQ(out[i].entry.data, to_bytes("t" + std::to_string(i)));
  }
  EXPECT_FALSE(decoder_.held_from());
}

TEST_F(DecoderTest, APrefixFollowedByANoopIsAborted) {
  // A new leader held only the first two members and committed them with its no-op.
  EXPECT_TRUE(push(member(3, 0, 10)).empty());
  EXPECT_TRUE(push(member(3, 1, 11)).empty());
  auto out = push(next(EntryType::kNoop, {}));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, ItemKind::kAbortedTxn);
  EXPECT_EQ(out[1].kind, ItemKind::kAbortedTxn);
  EXPECT_EQ(out[0].entry.type, EntryType::kNoop);
  EXPECT_TRUE(out[0].entry.data.empty());
  EXPECT_EQ(out[2].kind, ItemKind::kNoop);
}

TEST_F(DecoderTest, ATailWithoutItsHeadIsAborted) {
  auto out = push(member(2, 1, 11));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ItemKind::kAbortedTxn);
}

TEST_F(DecoderTest, AnotherProposalBreaksATransaction) {
  EXPECT_TRUE(push(member(2, 0, 10)).empty());
  // The next txn's head from another origin: the first txn cannot complete.
  EXPECT_TRUE([&] {
    auto out = push(member(2, 0, 10, NodeId(2)));
    return out.size() == 1 && out[0].kind == ItemKind::kAbortedTxn;
  }());
  auto out = push(member(2, 1, 11, NodeId(2)));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, ItemKind::kTxnMember);
  EXPECT_EQ(out[0].origin, NodeId(2));
}

TEST_F(DecoderTest, PeerAddressesAndMalformedPayloadsAreNoops) {
  auto out = push(next(EntryType::kNormal, frame_peer_address(NodeId(4), "10.0.0.4:7000")));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ItemKind::kPeerAddress);
  EXPECT_EQ(out[0].address_node, NodeId(4));
  EXPECT_EQ(out[0].address, "10.0.0.4:7000");
  EXPECT_EQ(out[0].entry.type, EntryType::kNoop);
  auto bad = push(next(EntryType::kNormal, to_bytes("\x09garbage")));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].kind, ItemKind::kMalformed);
  EXPECT_EQ(bad[0].entry.type, EntryType::kNoop);
}

TEST(PayloadTest, TruncatedHeadersAreRefused) {
  Bytes txn = frame_txn_member(4, 3, as_bytes("x"));
  for (size_t n = 0; n < kTxnHeaderBytes; ++n) {
    EXPECT_FALSE(decode_payload(ByteSpan(txn).first(n)).ok()) << n;
  }
  Bytes bad = frame_txn_member(4, 3, {});
  store_le<uint32_t>(bad.data() + 5, 4);  // position == count
  EXPECT_FALSE(decode_payload(bad).ok());
}

TEST(PayloadTest, SnapshotEnvelopeRoundTrips) {
  AddressBook book{{NodeId(1), "a:1"}, {NodeId(2), "b:2"}};
  Bytes env = encode_snapshot_envelope(book, as_bytes("state"));
  auto decoded = decode_snapshot_envelope(env);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->book, book);
  EXPECT_EQ(as_string_view(decoded->state_machine), "state");
  for (size_t n = 0; n + 5 < env.size(); ++n) {
    auto d = decode_snapshot_envelope(ByteSpan(env).first(n));
    EXPECT_TRUE(!d.ok() || d->book.size() < 2 || d->state_machine.size() < 5) << n;
  }
  Bytes hostile = env;
  store_le<uint32_t>(hostile.data() + 4, 0xFFFFFFFF);  // a count the bytes cannot hold
  EXPECT_FALSE(decode_snapshot_envelope(hostile).ok());
}

}  // namespace
}  // namespace chorus::node
