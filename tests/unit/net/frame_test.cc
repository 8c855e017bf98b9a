#include "chorus/net/frame.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "chorus/net/hello.h"

namespace chorus::net {
namespace {

// Feeds `wire` in the given chunk sizes (cycled) and collects every frame; stops at an error.
struct Decoded {
  std::vector<Frame> frames;
  Status status;
  size_t left_over = 0;  // bytes of an unfinished frame
};

Decoded decode_in_chunks(ByteSpan wire, const std::vector<size_t>& chunk_sizes,
                         uint32_t max_payload = kDefaultMaxFramePayloadBytes) {
  FrameDecoder decoder(max_payload);
  Decoded out;
  size_t off = 0;
  size_t i = 0;
  while (off < wire.size()) {
    size_t n =
        std::min(std::max<size_t>(chunk_sizes[i++ % chunk_sizes.size()], 1), wire.size() - off);
    decoder.feed(wire.subspan(off, n));
    off += n;
    while (true) {
      auto f = decoder.next();
      if (!f.ok()) {
        out.status = f.status();
        decoder.check_invariants();
        return out;
      }
      if (!*f) break;
      out.frames.push_back(std::move(**f));
    }
    decoder.check_invariants();
  }
  out.left_over = decoder.buffered_bytes();
  return out;
}

TEST(Frame, HeaderLayout) {
  Bytes wire = encode_frame(FrameType::kMessage, as_bytes("abc"));
  ASSERT_EQ(wire.size(), kFrameHeaderBytes + 3);
  EXPECT_EQ(load_le<uint16_t>(wire.data()), kFrameMagic);
  EXPECT_EQ(load_le<uint8_t>(wire.data() + 2), kFrameVersion);
  EXPECT_EQ(load_le<uint8_t>(wire.data() + 3), 2);
  EXPECT_EQ(load_le<uint32_t>(wire.data() + 4), 3u);
  EXPECT_EQ(as_string_view(ByteSpan(wire).subspan(16)), "abc");
}

TEST(Frame, RoundTripSplitAtEveryByteBoundary) {
  Bytes wire;
  encode_frame(FrameType::kHello, as_bytes("hello"), wire);
  encode_frame(FrameType::kMessage, {}, wire);
  encode_frame(FrameType::kMessage, as_bytes(std::string(300, 'x')), wire);
  encode_frame(FrameType::kKeepalive, {}, wire);
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    FrameDecoder decoder;
    std::vector<Frame> frames;
    for (ByteSpan part : {ByteSpan(wire).first(cut), ByteSpan(wire).subspan(cut)}) {
      decoder.feed(part);
      while (true) {
        auto f = decoder.next();
        ASSERT_TRUE(f.ok()) << f.status().ToString();
        if (!*f) break;
        frames.push_back(std::move(**f));
      }
    }
    ASSERT_EQ(frames.size(), 4u) << "cut at " << cut;
    EXPECT_EQ(frames[0].type, FrameType::kHello);
    EXPECT_EQ(as_string_view(frames[0].payload), "hello");
    EXPECT_TRUE(frames[1].payload.empty());
    EXPECT_EQ(frames[2].payload.size(), 300u);
    EXPECT_EQ(frames[3].type, FrameType::kKeepalive);
  }
  // One byte at a time.
  Decoded d = decode_in_chunks(wire, {1});
  EXPECT_TRUE(d.status.ok());
  EXPECT_EQ(d.left_over, 0u);
  EXPECT_EQ(d.frames.size(), 4u);
}

TEST(Frame, OversizedLengthIsTooLargeBeforeThePayloadArrives) {
  Bytes wire = encode_frame(FrameType::kMessage, as_bytes(std::string(1000, 'y')));
  FrameDecoder decoder(999);
  decoder.feed(ByteSpan(wire).first(kFrameHeaderBytes));  // header only
  auto f = decoder.next();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kTooLarge);
  // Sticky, and no bytes kept.
  decoder.feed(ByteSpan(wire).subspan(kFrameHeaderBytes));
  EXPECT_EQ(decoder.next().status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);

  Bytes huge(kFrameHeaderBytes);
  std::copy(wire.begin(), wire.begin() + kFrameHeaderBytes, huge.begin());
  store_le<uint32_t>(huge.data() + kFrameLengthOffset, UINT32_MAX);
  EXPECT_EQ(decode_in_chunks(huge, {7}).status.code(), StatusCode::kTooLarge);
  // Exactly at the limit is fine.
  EXPECT_TRUE(decode_in_chunks(wire, {64}, 1000).status.ok());
}

TEST(Frame, BadChecksumIsCorruption) {
  Bytes wire = encode_frame(FrameType::kMessage, as_bytes("payload"));
  wire.back() ^= std::byte{0x01};
  EXPECT_EQ(decode_in_chunks(wire, {3}).status.code(), StatusCode::kCorruption);
  Bytes wire2 = encode_frame(FrameType::kMessage, as_bytes("payload"));
  wire2[kFrameChecksumOffset] ^= std::byte{0x80};
  EXPECT_EQ(decode_in_chunks(wire2, {100}).status.code(), StatusCode::kCorruption);
}

TEST(Frame, BadHeaderFieldsAreCorruption) {
  for (size_t offset :
       {kFrameMagicOffset, kFrameMagicOffset + 1, kFrameVersionOffset, kFrameTypeOffset}) {
    Bytes wire = encode_frame(FrameType::kMessage, as_bytes("x"));
    wire[offset] ^= std::byte{0x40};
    Decoded d = decode_in_chunks(wire, {5});
    EXPECT_EQ(d.status.code(), StatusCode::kCorruption) << "offset " << offset;
    EXPECT_TRUE(d.frames.empty());
  }
  Bytes type0 = encode_frame(FrameType::kMessage, {});
  type0[kFrameTypeOffset] = std::byte{0};
  EXPECT_EQ(decode_in_chunks(type0, {16}).status.code(), StatusCode::kCorruption);
}

TEST(Frame, GarbageIsAnError) {
  Decoded d = decode_in_chunks(as_bytes("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), {4});
  EXPECT_FALSE(d.status.ok());
  EXPECT_TRUE(d.frames.empty());
  // A good frame followed by garbage: the good one comes out, then the error.
  Bytes wire = encode_frame(FrameType::kMessage, as_bytes("ok"));
  auto junk = as_bytes("\x16\x03\x01 junk junk junk");
  wire.insert(wire.end(), junk.begin(), junk.end());
  Decoded d2 = decode_in_chunks(wire, {2});
  EXPECT_EQ(d2.frames.size(), 1u);
  EXPECT_EQ(d2.status.code(), StatusCode::kCorruption);
}

TEST(Frame, TighterLimitAppliesToLaterFrames) {
  FrameDecoder decoder(kMaxHelloBytes);
  decoder.feed(encode_frame(FrameType::kMessage, as_bytes(std::string(kMaxHelloBytes + 1, 'z'))));
  EXPECT_EQ(decoder.next().status().code(), StatusCode::kTooLarge);
}

RC_GTEST_PROP(FrameProperty, RoundTripWithRandomChunking, ()) {
  const auto payloads =
      *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
  const auto types =
      *rc::gen::container<std::vector<uint8_t>>(payloads.size(), rc::gen::inRange<uint8_t>(1, 4));
  const auto chunks =
      *rc::gen::nonEmpty(rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 64)));
  Bytes wire;
  for (size_t i = 0; i < payloads.size(); ++i) {
    encode_frame(static_cast<FrameType>(types[i]), as_bytes(payloads[i]), wire);
  }
  Decoded d = decode_in_chunks(wire, chunks);
  RC_ASSERT(d.status.ok());
  RC_ASSERT(d.left_over == 0u);
  RC_ASSERT(d.frames.size() == payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    RC_ASSERT(static_cast<uint8_t>(d.frames[i].type) == types[i]);
    RC_ASSERT(std::string(as_string_view(d.frames[i].payload)) == payloads[i]);
  }
}

RC_GTEST_PROP(FrameProperty, FlippedByteNeverYieldsAWrongFrame, ()) {
  const auto payload = *rc::gen::nonEmpty(rc::gen::string<std::string>());
  Bytes wire = encode_frame(FrameType::kMessage, as_bytes(payload));
  const auto at = *rc::gen::inRange<size_t>(0, wire.size());
  const auto mask = *rc::gen::inRange<int>(1, 256);
  wire[at] ^= static_cast<std::byte>(mask);
  Decoded d = decode_in_chunks(wire, {*rc::gen::inRange<size_t>(1, 32)});
  // An error; or, when a length byte grew, still waiting for bytes; or, when the type byte
  // became another valid type (the one header field no check covers), the right payload.
  if (at == kFrameTypeOffset && d.status.ok() && !d.frames.empty()) {
    RC_ASSERT(d.frames.size() == 1u);
    RC_ASSERT(std::string(as_string_view(d.frames[0].payload)) == payload);
    return;
  }
  RC_ASSERT(d.frames.empty());
  RC_ASSERT(!d.status.ok() || d.left_over > 0);
}

TEST(Hello, RoundTripAndRejects) {
  Hello h{"prod-cluster", NodeId(42)};
  auto decoded = decode_hello(encode_hello(h));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->cluster_name, "prod-cluster");
  EXPECT_EQ(decoded->node_id, NodeId(42));

  Bytes wire = encode_hello(h);
  EXPECT_FALSE(decode_hello(ByteSpan(wire).first(wire.size() - 1)).ok());
  wire.push_back(std::byte{0});
  EXPECT_FALSE(decode_hello(wire).ok());
  EXPECT_FALSE(decode_hello({}).ok());
  Bytes zero_name(kHelloNameLenBytes + kHelloNodeIdBytes);
  EXPECT_FALSE(decode_hello(zero_name).ok());
}

}  // namespace
}  // namespace chorus::net
