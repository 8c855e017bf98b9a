#include "chorus/maelstrom/base64.h"

#include <array>
#include <cstdint>

namespace chorus::maelstrom {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> make_reverse() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}
constexpr std::array<uint8_t, 256> kReverse = make_reverse();

}  // namespace

std::string base64_encode(ByteSpan bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (std::to_integer<uint32_t>(bytes[i]) << 16) |
                       (std::to_integer<uint32_t>(bytes[i + 1]) << 8) |
                       std::to_integer<uint32_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = std::to_integer<uint32_t>(bytes[i]) << 16;
    if (rest == 2) v |= std::to_integer<uint32_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::Corruption("base64: length not a multiple of 4");
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      const bool pad_slot = last && j >= 4 - padding;
      if (pad_slot) {
        if (c != '=') return Status::Corruption("base64: bad padding");
        v <<= 6;
        continue;
      }
      const uint8_t d = kReverse[static_cast<uint8_t>(c)];
      if (d == kInvalid) return Status::Corruption("base64: invalid character");
      v = (v << 6) | d;
    }
    out.push_back(std::byte((v >> 16) & 0xFF));
    if (!last || padding < 2) out.push_back(std::byte((v >> 8) & 0xFF));
    if (!last || padding < 1) out.push_back(std::byte(v & 0xFF));
  }
  return out;
}

}  // namespace chorus::maelstrom
