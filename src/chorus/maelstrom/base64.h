// Base64 (RFC 4648, standard alphabet, padded) for carrying Raft's binary messages inside
// Maelstrom's JSON bodies, which must be valid UTF-8 text. Pure.
#pragma once

#include <string>
#include <string_view>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"

namespace chorus::maelstrom {

std::string base64_encode(ByteSpan bytes);
// Corruption on any character outside the alphabet, a length that is not a multiple of 4, or
// padding anywhere but at the end.
[[nodiscard]] Result<Bytes> base64_decode(std::string_view text);

}  // namespace chorus::maelstrom
