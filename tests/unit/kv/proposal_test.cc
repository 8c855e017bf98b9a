// Proposal / ReadRequest codec: round trips, canonical encodings, hostile input.
#include "chorus/kv/proposal.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "chorus/kv/command_table.h"
#include "kv_test_util.h"

namespace chorus::kv {
namespace {

Bytes bytes_of(std::vector<uint8_t> v) {
  Bytes b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = std::byte{v[i]};
  return b;
}

rc::Gen<Proposal> gen_any_proposal() {
  return rc::gen::exec([] {
    Proposal p;
    p.now_ms = *rc::gen::arbitrary<int64_t>();
    p.exec = *rc::gen::arbitrary<bool>();
    p.commands = *rc::gen::arbitrary<std::vector<std::vector<std::string>>>();
    p.watches = *rc::gen::arbitrary<std::vector<std::pair<std::string, uint64_t>>>();
    return p;
  });
}

RC_GTEST_PROP(ProposalCodec, RoundTrips, ()) {
  const Proposal p = *gen_any_proposal();
  const Bytes encoded = encode(p);
  auto decoded = decode_proposal(encoded);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == p);
  RC_ASSERT(encode(*decoded) == encoded);
}

RC_GTEST_PROP(ProposalCodec, ReadRequestRoundTrips, ()) {
  ReadRequest r{*rc::gen::arbitrary<int64_t>(), *rc::gen::arbitrary<std::vector<std::string>>()};
  auto decoded = decode_read(encode(r));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == r);
}

RC_GTEST_PROP(ProposalCodec, EveryTruncationFailsCleanly, ()) {
  const Bytes bytes = encode(*gen_any_proposal());
  const size_t cut = *rc::gen::inRange<size_t>(0, bytes.size());
  auto decoded = decode_proposal(ByteSpan(bytes).first(cut));
  RC_ASSERT(!decoded.ok());
  RC_ASSERT(decoded.status().code() == StatusCode::kCorruption);
}

// Whatever random bytes decode to re-encodes to exactly those bytes (one encoding per value).
RC_GTEST_PROP(ProposalCodec, RandomBytesDecodeCanonicallyOrFail, ()) {
  std::vector<uint8_t> raw;
  if (*rc::gen::arbitrary<bool>()) {
    // Mostly past the header, so the body decoder gets exercised.
    const uint8_t kind = *rc::gen::arbitrary<bool>() ? kKindProposal : kKindRead;
    const uint8_t flags = *rc::gen::arbitrary<bool>() ? 1 : 0;
    raw = {kProposalFormatVersion, kind, flags, 0, 0, 0, 0, 0, 0, 0, 0};
  }
  for (uint8_t b : *rc::gen::arbitrary<std::vector<uint8_t>>()) raw.push_back(b);
  const Bytes input = bytes_of(raw);
  if (auto p = decode_proposal(input); p.ok()) {
    RC_ASSERT(encode(*p) == input);
  } else {
    RC_ASSERT(p.status().code() == StatusCode::kCorruption);
  }
  if (auto r = decode_read(input); r.ok()) RC_ASSERT(encode(*r) == input);
}

TEST(ProposalCodec, RejectsWhatItNeverWrites) {
  Proposal p;
  p.now_ms = 5;
  p.commands = {{"SET", "k", "v"}};
  Bytes good = encode(p);
  ASSERT_TRUE(decode_proposal(good).ok());

  Bytes bad_version = good;
  bad_version[0] = std::byte{2};
  EXPECT_EQ(decode_proposal(bad_version).status().code(), StatusCode::kCorruption);

  // A proposal is not a read request, and the other way round.
  EXPECT_FALSE(decode_read(good).ok());
  EXPECT_FALSE(decode_proposal(encode(ReadRequest{1, {"GET", "k"}})).ok());

  Bytes bad_flags = good;
  bad_flags[2] = std::byte{0x80};
  EXPECT_FALSE(decode_proposal(bad_flags).ok());

  Bytes trailing = good;
  trailing.push_back(std::byte{0});
  EXPECT_FALSE(decode_proposal(trailing).ok());

  // An overlong varint (1 written as 0x81 0x00) is not the encoding of anything.
  Bytes overlong(good.begin(), good.begin() + kProposalHeaderBytes);
  for (uint8_t b : {0x81, 0x00, 0x00, 0x00}) overlong.push_back(std::byte{b});
  EXPECT_FALSE(decode_proposal(overlong).ok());

  // A count larger than the bytes left is refused before anything is allocated.
  Bytes huge(good.begin(), good.begin() + kProposalHeaderBytes);
  for (uint8_t b : {0xff, 0xff, 0xff, 0xff, 0x0f}) huge.push_back(std::byte{b});
  EXPECT_FALSE(decode_proposal(huge).ok());
}

TEST(ProposalCodec, ExpireProposalNamesTheInternalCommand) {
  Proposal p = expire_proposal({"a", "b"}, 42);
  EXPECT_EQ(p.now_ms, 42);
  EXPECT_FALSE(p.exec);
  ASSERT_EQ(p.commands.size(), 1u);
  EXPECT_EQ(p.commands[0], (std::vector<std::string>{std::string(kExpireCommandName), "a", "b"}));

  Store s;
  std::vector<Event> events;
  Proposal set;
  set.now_ms = 10;
  set.commands = {{"SET", "a", "v", "PX", "5"}};
  s.apply(set, 1, events);
  EXPECT_EQ(s.expired_keys(20, 10), std::vector<std::string>{"a"});
  EXPECT_EQ(resp::to_display(s.apply(expire_proposal(s.expired_keys(20, 10), 20), 2, events)),
            "(integer) 1");
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(events.back(), (Event{"expired", "a"}));
}

}  // namespace
}  // namespace chorus::kv
