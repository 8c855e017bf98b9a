// Codec: round trips (rapidcheck) and hostile input (truncated, garbage) never crashing.
#include "chorus/raft/codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "chorus/base/rng.h"

namespace chorus::raft {
namespace {

template <typename Id>
rc::Gen<Id> gen_id() {
  return rc::gen::map(rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(0, 300),
                                     rc::gen::arbitrary<uint64_t>()),
                      [](uint64_t v) { return Id(v); });
}

rc::Gen<Bytes> gen_bytes() {
  return rc::gen::map(rc::gen::container<std::vector<uint8_t>>(rc::gen::arbitrary<uint8_t>()),
                      [](const std::vector<uint8_t>& v) {
                        Bytes b(v.size());
                        for (size_t i = 0; i < v.size(); ++i) b[i] = std::byte{v[i]};
                        return b;
                      });
}

rc::Gen<Entry> gen_entry() {
  return rc::gen::apply(
      [](Term t, LogIndex i, int type, NodeId origin, ProposalId p, Bytes data) {
        return Entry{t, i, static_cast<EntryType>(type), origin, p, std::move(data)};
      },
      gen_id<Term>(), gen_id<LogIndex>(), rc::gen::inRange(0, 3), gen_id<NodeId>(),
      gen_id<ProposalId>(), gen_bytes());
}

rc::Gen<Configuration> gen_config() {
  return rc::gen::apply(
      [](std::vector<uint64_t> voters, std::vector<uint64_t> learners,
         std::map<uint64_t, std::string> groups) {
        Configuration c;
        for (uint64_t v : voters) c.voters.insert(NodeId(v));
        for (uint64_t v : learners) c.learners.insert(NodeId(v));
        for (auto& [k, v] : groups) c.groups[NodeId(k)] = v;
        return c;
      },
      rc::gen::arbitrary<std::vector<uint64_t>>(), rc::gen::arbitrary<std::vector<uint64_t>>(),
      rc::gen::arbitrary<std::map<uint64_t, std::string>>());
}

rc::Gen<Message> gen_message() {
  return rc::gen::exec([] {
    Message m;
    m.type =
        static_cast<MessageType>(*rc::gen::inRange<int>(1, static_cast<int>(kMaxMessageType) + 1));
    m.from = *gen_id<NodeId>();
    m.to = *gen_id<NodeId>();
    m.term = *gen_id<Term>();
    m.index = *gen_id<LogIndex>();
    m.log_term = *gen_id<Term>();
    m.commit = *gen_id<LogIndex>();
    m.reject = *rc::gen::arbitrary<bool>();
    m.hint_index = *gen_id<LogIndex>();
    m.hint_term = *gen_id<Term>();
    m.entries = *rc::gen::resize(8, rc::gen::container<std::vector<Entry>>(gen_entry()));
    m.read_seq = *rc::gen::arbitrary<uint64_t>();
    m.sent_tick = *rc::gen::arbitrary<uint64_t>();
    m.request_id = *rc::gen::arbitrary<uint64_t>();
    m.proposal = *gen_id<ProposalId>();
    m.count = *rc::gen::arbitrary<uint64_t>();
    m.transfer = *rc::gen::arbitrary<bool>();
    if (*rc::gen::arbitrary<bool>()) {
      m.snapshot = SnapshotMeta{*gen_id<LogIndex>(), *gen_id<Term>(), *gen_config(),
                                *rc::gen::arbitrary<uint64_t>()};
    }
    m.offset = *rc::gen::arbitrary<uint64_t>();
    m.data = *gen_bytes();
    m.checksum = *rc::gen::arbitrary<uint64_t>();
    m.last = *rc::gen::arbitrary<bool>();
    m.fill_from_snapshot = *rc::gen::arbitrary<bool>();
    return m;
  });
}

RC_GTEST_PROP(Codec, MessageRoundTrips, ()) {
  Message m = *gen_message();
  auto decoded = decode(encode(m));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == m);
}

RC_GTEST_PROP(Codec, EveryTruncationFailsCleanly, ()) {
  Bytes bytes = encode(*gen_message());
  const size_t cut = *rc::gen::inRange<size_t>(0, bytes.size());
  auto decoded = decode(ByteSpan(bytes).first(cut));
  RC_ASSERT(!decoded.ok());
  RC_ASSERT(decoded.status().code() == StatusCode::kCorruption);
}

RC_GTEST_PROP(Codec, EntryAndChangeRoundTrip, ()) {
  Entry e = *gen_entry();
  auto decoded = decode_entry(encode_entry(e));
  RC_ASSERT(decoded.ok() && *decoded == e);
  MembershipChange c{static_cast<MembershipChangeType>(*rc::gen::inRange(0, 4)), *gen_id<NodeId>(),
                     *rc::gen::arbitrary<std::string>()};
  auto change = decode_change(encode_change(c));
  RC_ASSERT(change.ok() && *change == c);
  Configuration config = *gen_config();
  auto back = decode_configuration(encode_configuration(config));
  RC_ASSERT(back.ok() && *back == config);
}

TEST(Codec, GarbageNeverCrashes) {
  Rng rng(42);
  for (int i = 0; i < 20000; ++i) {
    Bytes bytes(rng.uniform(64));
    for (std::byte& b : bytes) b = std::byte(rng.uniform(256));
    if (!bytes.empty() && rng.chance(1, 2)) bytes[0] = std::byte{kCodecVersion};
    auto decoded = decode(bytes);  // must not crash, hang or over-allocate
    if (decoded.ok()) {
      EXPECT_LE(encode(*decoded).size(), bytes.size());
    }
    (void)decode_entry(bytes);
    (void)decode_change(bytes);
    (void)decode_configuration(bytes);
  }
}

TEST(Codec, MutatedMessagesNeverCrash) {
  Rng rng(7);
  Message m{.type = MessageType::kAppend, .from = NodeId(1), .to = NodeId(2), .term = Term(3)};
  m.entries.push_back(
      Entry{Term(3), LogIndex(5), EntryType::kNormal, NodeId(1), ProposalId(9), to_bytes("hello")});
  m.snapshot.config.voters = {NodeId(1), NodeId(2)};
  const Bytes good = encode(m);
  for (int i = 0; i < 20000; ++i) {
    Bytes bytes = good;
    bytes[rng.uniform(bytes.size())] = std::byte(rng.uniform(256));
    (void)decode(bytes);
  }
}

TEST(Codec, HugeCountsAreRejectedBeforeAllocation) {
  // version, type=Append, flags, present = entries bit, count = 2^60
  Bytes bytes = {std::byte{1}, std::byte{1}, std::byte{0}};
  const uint64_t present = uint64_t{1} << 16;
  for (uint64_t v : {present, uint64_t{1} << 60}) {
    while (v >= 0x80) {
      bytes.push_back(std::byte(static_cast<uint8_t>(v) | 0x80));
      v >>= 7;
    }
    bytes.push_back(std::byte(static_cast<uint8_t>(v)));
  }
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

TEST(Codec, HeartbeatIsCompact) {
  Message m{.type = MessageType::kHeartbeat,
            .from = NodeId(1),
            .to = NodeId(2),
            .term = Term(7),
            .commit = LogIndex(100)};
  EXPECT_LE(encode(m).size(), 10u);
}

TEST(Codec, RejectsUnknownVersionTypeAndTrailingBytes) {
  Message m{.type = MessageType::kVote, .from = NodeId(1), .to = NodeId(2), .term = Term(1)};
  Bytes bytes = encode(m);
  Bytes bad_version = bytes;
  bad_version[0] = std::byte{2};
  EXPECT_FALSE(decode(bad_version).ok());
  Bytes bad_type = bytes;
  bad_type[1] = std::byte{99};
  EXPECT_FALSE(decode(bad_type).ok());
  Bytes trailing = bytes;
  trailing.push_back(std::byte{0});
  EXPECT_FALSE(decode(trailing).ok());
}

}  // namespace
}  // namespace chorus::raft
