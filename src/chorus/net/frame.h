// The wire frame every node-to-node connection carries, after TLS.
//
//   0        2        3        4                 8                                 16
//   +--------+--------+--------+-----------------+---------------------------------+
//   | magic  |version | type   | length          | checksum                        |
//   | u16 LE | u8     | u8     | u32 LE          | u64 LE, XXH3-64 of the payload  |
//   +--------+--------+--------+-----------------+---------------------------------+
//   | payload: `length` bytes (opaque to this layer)                  ...
//   +-----------------------------------------------------------------
//
// - `length` is bounded by the decoder's max payload (default 64 MiB + 64 KiB: a Raft append or
//   snapshot chunk of 64 MiB plus its envelope). The header is rejected as soon as its 16 bytes
//   arrive, so a hostile length never makes the receiver buffer more than the limit.
// - The checksum covers the payload only. The header is checked field by field (exact magic and
//   version, a known type, the length bound); a damaged length then fails the payload checksum,
//   but a type flipped to another valid type would pass. That is acceptable because on the wire
//   TLS's record MAC already rejects any tampering or corruption: the checksum is there to catch
//   bugs in our own framing and buffer handling, at ~10 GB/s of XXH3.
// - A decoding error is sticky: the byte stream has lost its framing and the connection closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"

namespace chorus::net {

inline constexpr uint16_t kFrameMagic = 0xC40F;
inline constexpr uint8_t kFrameVersion = 1;

inline constexpr size_t kFrameMagicOffset = 0;
inline constexpr size_t kFrameVersionOffset = 2;
inline constexpr size_t kFrameTypeOffset = 3;
inline constexpr size_t kFrameLengthOffset = 4;
inline constexpr size_t kFrameChecksumOffset = 8;
inline constexpr size_t kFrameHeaderBytes = 16;

static_assert(kFrameVersionOffset == kFrameMagicOffset + sizeof(uint16_t));
static_assert(kFrameTypeOffset == kFrameVersionOffset + sizeof(uint8_t));
static_assert(kFrameLengthOffset == kFrameTypeOffset + sizeof(uint8_t));
static_assert(kFrameChecksumOffset == kFrameLengthOffset + sizeof(uint32_t));
static_assert(kFrameHeaderBytes == kFrameChecksumOffset + sizeof(uint64_t));
static_assert(kFrameChecksumOffset % alignof(uint64_t) == 0, "checksum is naturally aligned");

inline constexpr uint32_t kDefaultMaxFramePayloadBytes = (64u << 20) + (64u << 10);
// A length field can express at most this; limits above it are meaningless.
inline constexpr uint32_t kMaxFramePayloadBytesLimit = UINT32_MAX - kFrameHeaderBytes;

enum class FrameType : uint8_t {
  kHello = 1,      // first frame each way on a TLS connection: {cluster name, node id}
  kMessage = 2,    // one opaque message for the receiver's on_message
  kKeepalive = 3,  // empty; sent on an idle connection so the other side's idle timer holds off
};
inline constexpr uint8_t kMaxFrameType = 3;

std::string_view frame_type_name(FrameType type);

struct Frame {
  FrameType type = FrameType::kMessage;
  Bytes payload;
};

// Writes the 16-byte header for `payload` at `out` (for scatter-gather writes that do not copy
// the payload).
void encode_frame_header(FrameType type, ByteSpan payload, std::byte* out);
// Appends the encoded frame to `out`. The payload must fit the length field; callers check their
// own (smaller) configured limit before encoding.
void encode_frame(FrameType type, ByteSpan payload, Bytes& out);
Bytes encode_frame(FrameType type, ByteSpan payload);

// Reassembles frames from a byte stream cut at arbitrary points.
//
//   FrameDecoder d(max);
//   d.feed(chunk);
//   while (true) { auto f = d.next(); if (!f.ok()) close; if (!*f) break; handle(**f); }
//
// Errors: kTooLarge for a length over the limit, kCorruption for a bad magic, version, type or
// checksum. After an error every call to next() returns the same error.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_payload_bytes = kDefaultMaxFramePayloadBytes);

  void feed(ByteSpan chunk);
  // A whole frame, std::nullopt when more bytes are needed, or the (sticky) error.
  Result<std::optional<Frame>> next();

  // Bytes received but not yet returned as frames.
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }
  uint32_t max_payload_bytes() const { return max_payload_bytes_; }
  // Tightens or relaxes the limit for frames not yet started (a connection accepts only a small
  // Hello before the peer is authenticated).
  void set_max_payload_bytes(uint32_t max_payload_bytes);
  const Status& error() const { return error_; }

  void check_invariants() const;

 private:
  Status fail(Status s);

  uint32_t max_payload_bytes_;
  Bytes buffer_;
  size_t consumed_ = 0;  // bytes at the front of buffer_ already returned as frames
  Status error_;
};

}  // namespace chorus::net
