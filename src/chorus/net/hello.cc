#include "chorus/net/hello.h"

namespace chorus::net {

Bytes encode_hello(const Hello& hello) {
  CHORUS_ASSERT(!hello.cluster_name.empty() && hello.cluster_name.size() <= kMaxClusterNameBytes,
                "cluster name of ", hello.cluster_name.size(), " bytes");
  const size_t n = hello.cluster_name.size();
  Bytes out(kHelloNameLenBytes + n + kHelloNodeIdBytes);
  store_le<uint16_t>(out.data(), static_cast<uint16_t>(n));
  std::memcpy(out.data() + kHelloNameLenBytes, hello.cluster_name.data(), n);
  store_le<uint64_t>(out.data() + kHelloNameLenBytes + n, hello.node_id.value());
  return out;
}

Result<Hello> decode_hello(ByteSpan payload) {
  if (payload.size() < kHelloNameLenBytes) return Status::Corruption("hello: truncated");
  const size_t n = load_le<uint16_t>(payload.data());
  if (n == 0 || n > kMaxClusterNameBytes) {
    return Status::Corruption("hello: cluster name length " + std::to_string(n));
  }
  // Exact size: trailing bytes mean the peer speaks something else.
  if (payload.size() != kHelloNameLenBytes + n + kHelloNodeIdBytes) {
    return Status::Corruption("hello: " + std::to_string(payload.size()) + " bytes for a name of " +
                              std::to_string(n));
  }
  Hello hello;
  hello.cluster_name.assign(as_string_view(payload.subspan(kHelloNameLenBytes, n)));
  hello.node_id = NodeId(load_le<uint64_t>(payload.data() + kHelloNameLenBytes + n));
  return hello;
}

}  // namespace chorus::net
