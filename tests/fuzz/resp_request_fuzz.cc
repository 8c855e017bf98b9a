// Fuzzes the server's RESP request parser: arbitrary bytes, cut into arbitrary pieces, must give
// exactly the commands and the error that the same bytes give in one piece, within the limits
// (argument count and sizes, bytes held between calls) -- never a crash, a hang, or a result
// that depends on how the bytes arrived.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/base/assert.h"
#include "chorus/resp/request_parser.h"

using namespace chorus;
using namespace chorus::resp;

namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;
  size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome parse_in_pieces(std::string_view input, size_t piece, const RequestLimits& limits) {
  RequestParser parser(limits);
  Outcome out;
  std::vector<std::string> argv;
  for (size_t off = 0; off < input.size() && !parser.failed(); off += piece) {
    std::string_view rest = input.substr(off, piece);
    while (true) {
      size_t consumed = 0;
      const ParseStatus status = parser.parse(rest, consumed, argv);
      CHORUS_ASSERT(consumed <= rest.size());
      rest.remove_prefix(consumed);
      if (status == ParseStatus::kError) {
        CHORUS_ASSERT(!parser.error().empty());
        out.error = parser.error();
        break;
      }
      parser.check_invariants();
      CHORUS_ASSERT(parser.buffered_bytes() <=
                    limits.max_inline_bytes + 1 + limits.max_args * limits.max_bulk_bytes);
      if (status == ParseStatus::kNeedMore) {
        CHORUS_ASSERT(rest.empty());
        break;
      }
      // An inline command is bounded by its line's length, not by max_args (as in Redis).
      CHORUS_ASSERT(!argv.empty() &&
                    argv.size() <= std::max(limits.max_args, limits.max_inline_bytes / 2 + 1));
      for (const std::string& a : argv) {
        CHORUS_ASSERT(a.size() <= limits.max_bulk_bytes || a.size() <= limits.max_inline_bytes);
      }
      out.commands.push_back(argv);
    }
  }
  out.buffered = parser.buffered_bytes();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the piece size and small or default limits, so that every limit error
  // and long values are both reachable.
  const size_t piece = 1 + data[0] % 64;
  RequestLimits limits;
  if (data[0] & 0x80) {
    limits.max_inline_bytes = 16;
    limits.max_bulk_bytes = 8;
    limits.max_args = 4;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = parse_in_pieces(input, input.size() + 1, limits);
  CHORUS_ASSERT(parse_in_pieces(input, piece, limits) == whole, "pieces of ", piece);
  return 0;
}
