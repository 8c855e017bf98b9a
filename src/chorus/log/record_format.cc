#include "chorus/log/record_format.h"

#include <charconv>
#include <cstdio>

#include "chorus/base/checksum.h"

namespace chorus::log {

void encode_segment_header(const SegmentHeader& h, std::byte* out) {
  std::memset(out, 0, kSegmentHeaderBytes);
  store_le<uint64_t>(out, kSegmentMagic);
  store_le<uint32_t>(out + 8, kFormatVersion);
  store_le<uint32_t>(out + 12, h.flags);
  store_le<uint64_t>(out + 16, h.sequence);
  store_le<uint64_t>(out + 24, h.first_index);
  store_le<uint64_t>(out + 32, h.prev_end);
  store_le<uint64_t>(out + 40, checksum64(ByteSpan(out, kSegmentHeaderCheckedBytes)));
}

std::optional<SegmentHeader> decode_segment_header(const std::byte* in) {
  if (load_le<uint64_t>(in) != kSegmentMagic) return std::nullopt;
  if (load_le<uint32_t>(in + 8) != kFormatVersion) return std::nullopt;
  if (load_le<uint64_t>(in + 40) != checksum64(ByteSpan(in, kSegmentHeaderCheckedBytes))) {
    return std::nullopt;
  }
  if (!all_zero(ByteSpan(in + 48, kSegmentHeaderBytes - 48))) return std::nullopt;
  SegmentHeader h{load_le<uint64_t>(in + 16), load_le<uint64_t>(in + 24),
                  load_le<uint32_t>(in + 12), load_le<uint64_t>(in + 32)};
  if (h.first_index == 0 || (h.flags & ~kSegmentSupersedes) != 0) return std::nullopt;
  return h;
}

static uint32_t header_check(const std::byte* header, uint64_t salt) {
  return static_cast<uint32_t>(checksum64(ByteSpan(header, kRecordHeaderCheckedBytes), salt));
}

void encode_record(const RecordHeader& h, ByteSpan payload, Bytes& out, uint64_t salt) {
  size_t start = out.size();
  uint64_t size = record_size(payload.size());
  out.resize(start + size);  // zero-filled: reserved fields and padding
  std::byte* p = out.data() + start;
  store_le<uint64_t>(p, h.index);
  store_le<uint64_t>(p + 8, h.synced_index);
  store_le<uint32_t>(p + 16, static_cast<uint32_t>(payload.size()));
  p[20] = static_cast<std::byte>(h.type);
  p[21] = static_cast<std::byte>(h.flags);
  store_le<uint32_t>(p + 24, header_check(p, salt));
  if (!payload.empty()) std::memcpy(p + kRecordHeaderBytes, payload.data(), payload.size());
  uint64_t body = size - kRecordTrailerBytes;
  store_le<uint64_t>(p + body, checksum64(ByteSpan(p, body), salt));
}

std::optional<RecordHeader> decode_record_header(ByteSpan in, uint64_t salt) {
  if (in.size() < kRecordHeaderBytes) return std::nullopt;
  const std::byte* p = in.data();
  if (load_le<uint32_t>(p + 24) != header_check(p, salt)) return std::nullopt;
  if (load_le<uint16_t>(p + 22) != 0 || load_le<uint32_t>(p + 28) != 0) return std::nullopt;
  RecordHeader h;
  h.index = load_le<uint64_t>(p);
  h.synced_index = load_le<uint64_t>(p + 8);
  h.length = load_le<uint32_t>(p + 16);
  auto type = static_cast<uint8_t>(p[20]);
  h.flags = static_cast<uint8_t>(p[21]);
  if (type < static_cast<uint8_t>(RecordType::kData) ||
      type > static_cast<uint8_t>(RecordType::kTruncate)) {
    return std::nullopt;
  }
  h.type = static_cast<RecordType>(type);
  if (h.index == 0 || h.synced_index > h.index || h.length > kMaxRecordPayloadBytes ||
      (h.flags & ~kFlagBatchContinues) != 0) {
    return std::nullopt;
  }
  return h;
}

std::optional<RecordHeader> decode_record(ByteSpan in, uint64_t salt) {
  auto h = decode_record_header(in, salt);
  if (!h) return std::nullopt;
  uint64_t size = record_size(h->length);
  if (in.size() < size) return std::nullopt;
  uint64_t body = size - kRecordTrailerBytes;
  if (load_le<uint64_t>(in.data() + body) != checksum64(in.subspan(0, body), salt)) {
    return std::nullopt;
  }
  return h;
}

std::string segment_file_name(uint64_t first_index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu.seg", static_cast<unsigned long long>(first_index));
  return buf;
}

std::optional<uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".seg") return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || ptr != name.data() + 20 || v == 0) return std::nullopt;
  return v;
}

}  // namespace chorus::log
