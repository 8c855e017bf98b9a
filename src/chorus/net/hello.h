// The Hello frame's payload: the first frame each way on a TLS connection.
//
//   0             2                      2+n          10+n
//   +-------------+----------------------+------------+
//   | name_len    | cluster name         | node id    |
//   | u16 LE (=n) | n bytes, 1..255      | u64 LE     |
//   +-------------+----------------------+------------+
//
// The dialer sends its Hello first; the acceptor checks the claimed node id against the id in
// the peer's certificate and answers with its own Hello, which tells the dialer it was accepted
// (in TLS 1.3 a client finishes its handshake before the server has verified the client's
// certificate, so without the answer a rejected dialer would believe it was connected).
#pragma once

#include <cstddef>
#include <string>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"

namespace chorus::net {

inline constexpr size_t kHelloNameLenBytes = 2;
inline constexpr size_t kHelloNodeIdBytes = 8;
inline constexpr size_t kMaxClusterNameBytes = 255;
inline constexpr size_t kMaxHelloBytes =
    kHelloNameLenBytes + kMaxClusterNameBytes + kHelloNodeIdBytes;
static_assert(kMaxHelloBytes == 265);

struct Hello {
  std::string cluster_name;
  NodeId node_id;
};

Bytes encode_hello(const Hello& hello);
// kCorruption unless the payload is exactly one well-formed Hello.
Result<Hello> decode_hello(ByteSpan payload);

}  // namespace chorus::net
