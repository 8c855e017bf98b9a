// Little-endian fixed-width encoding for on-disk and on-wire formats, and byte-span helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chorus {

using Bytes = std::vector<std::byte>;
using ByteSpan = std::span<const std::byte>;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "formats assume a little-endian host");

template <typename T>
inline void store_le(std::byte* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}

template <typename T>
inline T load_le(const std::byte* src) {
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string_view as_string_view(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes to_bytes(std::string_view s) {
  auto b = as_bytes(s);
  return Bytes(b.begin(), b.end());
}

// Word at a time: recovery scans whole segment tails with this.
inline bool all_zero(ByteSpan in) {
  size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    if (load_le<uint64_t>(in.data() + i) != 0) return false;
  }
  for (; i < in.size(); ++i) {
    if (in[i] != std::byte{0}) return false;
  }
  return true;
}

// SharedBytes: an immutable byte buffer shared by reference count. Raft entries carry their
// payload in one, so the copies the core hands out (to persist, to send, to apply) copy a pointer,
// not the payload: raft_bench measured 10 of 12.5 heap allocations per committed entry in those
// copies before.
class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(Bytes bytes)  // NOLINT: implicit, like the Bytes it replaces
      : buf_(bytes.empty() ? nullptr : std::make_shared<const Bytes>(std::move(bytes))) {}
  operator ByteSpan() const { return span(); }  // NOLINT: implicit by design
  ByteSpan span() const { return buf_ ? ByteSpan(*buf_) : ByteSpan(); }
  const std::byte* data() const { return buf_ ? buf_->data() : nullptr; }
  size_t size() const { return buf_ ? buf_->size() : 0; }
  bool empty() const { return size() == 0; }
  ByteSpan::iterator begin() const { return span().begin(); }
  ByteSpan::iterator end() const { return span().end(); }
  Bytes to_bytes() const { return Bytes(begin(), end()); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) { return a.equals(b.span()); }
  friend bool operator==(const SharedBytes& a, const Bytes& b) { return a.equals(b); }

 private:
  bool equals(ByteSpan o) const {
    return size() == o.size() && (empty() || std::memcmp(data(), o.data(), size()) == 0);
  }
  std::shared_ptr<const Bytes> buf_;
};

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace chorus
