// Byte-level helpers shared by the kv formats (proposal codec, snapshot): LEB128 varints,
// fixed-width little-endian integers and length-prefixed strings.
//
// Decoding is strict so that every accepted input has exactly one encoding (the fuzz targets
// check decode -> encode gives back the same bytes): a varint must be minimal (no trailing 0x00
// continuation groups) and every length or count is checked against the bytes that remain before
// anything is allocated. The first failure sticks; later reads return zero values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/base/bytes.h"

namespace chorus::kv::wire {

// Appends to a std::string: the kv formats carry strings, so a string buffer avoids copies.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void fixed32(uint32_t v) { raw(&v, sizeof v); }
  void fixed64(uint64_t v) { raw(&v, sizeof v); }
  void string(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  std::string& buffer() { return out_; }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  explicit Reader(ByteSpan in) : in_(as_string_view(in)) {}

  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  size_t position() const { return pos_; }

  uint8_t u8() {
    if (!ok_ || remaining() < 1) return fail();
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = u8();
      if (!ok_) return 0;
      if (shift == 63 && b > 1) return fail();  // more than 64 bits
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return fail();  // not minimal: the encoding must be unique
        return v;
      }
    }
    return fail();
  }
  uint32_t fixed32() { return fixed<uint32_t>(); }
  uint64_t fixed64() { return fixed<uint64_t>(); }
  // A view into the input (valid while the input is).
  std::string_view string() {
    const uint64_t n = varint();
    if (!ok_ || n > remaining()) {
      fail();
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count of items each at least `min_item_bytes` long: bounded by what remains.
  uint64_t count(uint64_t min_item_bytes) {
    const uint64_t n = varint();
    if (!ok_ || n > remaining() / min_item_bytes) return fail();
    return n;
  }
  uint64_t fail() {
    ok_ = false;
    return 0;
  }

 private:
  template <typename T>
  T fixed() {
    if (!ok_ || remaining() < sizeof(T)) return static_cast<T>(fail());
    T v = load_le<T>(reinterpret_cast<const std::byte*>(in_.data() + pos_));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace chorus::kv::wire
