// parse_reply: the client side of RESP (the chorus CLI, e2e tests, the Maelstrom driver). Reads
// one whole reply, RESP2 or RESP3, from the front of a buffer.
//
//   +<text>\r\n  simple     -<text>\r\n  error      :<int>\r\n  integer     _\r\n  null
//   ,<text>\r\n  double     #t\r\n #f\r\n  boolean   (<digits>\r\n  big number (kept as bulk)
//   $<len>\r\n<bytes>\r\n  bulk ($-1: null)        !<len>\r\n<bytes>\r\n  blob error (kError)
//   =<len>\r\n<fmt>:<bytes>\r\n  verbatim (the 3-byte format is dropped)
//   *<n> array (*-1: null array)   %<n> map (2n values)   ~<n> set   ><n> push
//   |<n> attribute map: read and dropped; the reply is the value that follows it
//
// Every line must end in \r\n exactly. Streamed strings and aggregates ($?, *?) are refused:
// Redis never sends them.
//
// Safety against a hostile or broken server: a length is compared with the bytes that remain
// before anything is allocated for it (an aggregate reserves at most one element per 3 remaining
// bytes, the smallest element being "_\r\n"), nesting is bounded (recursion depth), and so are
// bulk and line lengths.
//
// Each call parses from the buffer's start; a reply that arrives in many pieces is rescanned
// each time. That is fine for the clients above, whose replies are small; a server never uses
// this (it has RequestParser).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "chorus/base/status.h"
#include "chorus/resp/value.h"

namespace chorus::resp {

struct ReplyLimits {
  size_t max_depth = 64;                      // aggregates inside aggregates (attributes too)
  size_t max_bulk_bytes = size_t{512} << 20;  // Redis proto-max-bulk-len
  size_t max_line_bytes = size_t{64} << 20;   // a +, -, :, , line
};

struct ParsedReply {
  Value value;
  size_t consumed = 0;  // bytes of the buffer the reply took
};

// One reply from the front of `buffer`: nullopt if the buffer holds only part of it, Corruption
// if the bytes are not RESP (the connection has lost its framing: close it).
Result<std::optional<ParsedReply>> parse_reply(std::string_view buffer,
                                               const ReplyLimits& limits = {});

}  // namespace chorus::resp
