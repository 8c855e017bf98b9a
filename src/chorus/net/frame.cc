#include "chorus/net/frame.h"

#include <string>

#include "chorus/base/checksum.h"

namespace chorus::net {

std::string_view frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "hello";
    case FrameType::kMessage:
      return "message";
    case FrameType::kKeepalive:
      return "keepalive";
  }
  return "unknown";
}

void encode_frame_header(FrameType type, ByteSpan payload, std::byte* h) {
  CHORUS_ASSERT(payload.size() <= kMaxFramePayloadBytesLimit, "frame payload ", payload.size());
  store_le<uint16_t>(h + kFrameMagicOffset, kFrameMagic);
  store_le<uint8_t>(h + kFrameVersionOffset, kFrameVersion);
  store_le<uint8_t>(h + kFrameTypeOffset, static_cast<uint8_t>(type));
  store_le<uint32_t>(h + kFrameLengthOffset, static_cast<uint32_t>(payload.size()));
  store_le<uint64_t>(h + kFrameChecksumOffset, checksum64(payload));
}

void encode_frame(FrameType type, ByteSpan payload, Bytes& out) {
  const size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + payload.size());
  encode_frame_header(type, payload, out.data() + start);
  if (!payload.empty()) {
    std::memcpy(out.data() + start + kFrameHeaderBytes, payload.data(), payload.size());
  }
}

Bytes encode_frame(FrameType type, ByteSpan payload) {
  Bytes out;
  out.reserve(kFrameHeaderBytes + payload.size());
  encode_frame(type, payload, out);
  return out;
}

FrameDecoder::FrameDecoder(uint32_t max_payload_bytes) { set_max_payload_bytes(max_payload_bytes); }

void FrameDecoder::set_max_payload_bytes(uint32_t max_payload_bytes) {
  CHORUS_ASSERT(max_payload_bytes <= kMaxFramePayloadBytesLimit, max_payload_bytes);
  max_payload_bytes_ = max_payload_bytes;
}

void FrameDecoder::feed(ByteSpan chunk) {
  if (!error_.ok() || chunk.empty()) return;
  // Compact once the consumed prefix dominates, so a long-lived connection's buffer stays about
  // one frame large instead of growing with everything it ever received.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), chunk.begin(), chunk.end());
}

Status FrameDecoder::fail(Status s) {
  error_ = std::move(s);
  buffer_.clear();
  buffer_.shrink_to_fit();
  consumed_ = 0;
  return error_;
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (!error_.ok()) return error_;
  const size_t available = buffered_bytes();
  if (available < kFrameHeaderBytes) return std::optional<Frame>();
  const std::byte* h = buffer_.data() + consumed_;

  const auto magic = load_le<uint16_t>(h + kFrameMagicOffset);
  if (magic != kFrameMagic) {
    return fail(Status::Corruption("frame: bad magic " + std::to_string(magic)));
  }
  const auto version = load_le<uint8_t>(h + kFrameVersionOffset);
  if (version != kFrameVersion) {
    return fail(Status::Corruption("frame: unsupported version " + std::to_string(version)));
  }
  const auto type = load_le<uint8_t>(h + kFrameTypeOffset);
  if (type == 0 || type > kMaxFrameType) {
    return fail(Status::Corruption("frame: unknown type " + std::to_string(type)));
  }
  // Checked before waiting for the payload: the length must be bounded by what we accept, not
  // by what the sender claims.
  const auto length = load_le<uint32_t>(h + kFrameLengthOffset);
  if (length > max_payload_bytes_) {
    return fail(Status::TooLarge("frame: payload of " + std::to_string(length) +
                                 " bytes is over the limit of " +
                                 std::to_string(max_payload_bytes_)));
  }
  if (available - kFrameHeaderBytes < length) return std::optional<Frame>();

  ByteSpan payload(h + kFrameHeaderBytes, length);
  const auto expected = load_le<uint64_t>(h + kFrameChecksumOffset);
  if (checksum64(payload) != expected) {
    return fail(Status::Corruption("frame: payload checksum mismatch"));
  }
  Frame frame{static_cast<FrameType>(type), Bytes(payload.begin(), payload.end())};
  consumed_ += kFrameHeaderBytes + length;
  CHORUS_ASSERT(consumed_ <= buffer_.size());
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

void FrameDecoder::check_invariants() const {
  CHORUS_ASSERT(consumed_ <= buffer_.size());
  CHORUS_ASSERT(error_.ok() || buffer_.empty(), "a failed decoder holds no bytes");
  CHORUS_ASSERT(max_payload_bytes_ <= kMaxFramePayloadBytesLimit);
}

}  // namespace chorus::net
