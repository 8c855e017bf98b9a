// Fuzzes the clients' RESP reply parser: arbitrary bytes must give a clean Corruption error, a
// need-more, or a reply within the buffer that needs more when cut short and survives a round
// trip -- encoded in RESP3 it parses back to a value that encodes to the very same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/base/assert.h"
#include "chorus/resp/encoder.h"
#include "chorus/resp/reply_parser.h"

using namespace chorus;
using namespace chorus::resp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReplyLimits limits;
  limits.max_depth = 16;
  limits.max_bulk_bytes = 1 << 16;
  limits.max_line_bytes = 1 << 16;
  auto parsed = parse_reply(input, limits);
  if (!parsed.ok()) {
    CHORUS_ASSERT(parsed.status().code() == StatusCode::kCorruption, parsed.status().ToString());
    return 0;
  }
  if (!*parsed) return 0;
  const size_t consumed = (*parsed)->consumed;
  CHORUS_ASSERT(consumed > 0 && consumed <= size);
  for (size_t cut : {consumed - 1, consumed / 2}) {
    auto partial = parse_reply(input.substr(0, cut), limits);
    CHORUS_ASSERT(partial.ok() && !*partial, "a prefix of a reply of ", consumed, " bytes, cut at ",
                  cut, ", does not need more");
  }
  for (Protocol protocol : {Protocol::kResp3, Protocol::kResp2}) {
    const std::string wire = encode((*parsed)->value, protocol);
    auto again = parse_reply(wire, limits);
    CHORUS_ASSERT(again.ok() && *again, "re-encoded reply does not parse");
    CHORUS_ASSERT((*again)->consumed == wire.size());
    CHORUS_ASSERT(encode((*again)->value, protocol) == wire, "encoding is not a fixed point");
  }
  return 0;
}
