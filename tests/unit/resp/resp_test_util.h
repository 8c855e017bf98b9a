// Helpers for the RESP tests: byte escaping for golden files, a one-line typed description of a
// Value, the RESP2/RESP3 forms a Value takes on the wire once parsed back, random Values for
// rapidcheck, and a driver that feeds a RequestParser in chunks and records what it did.
#pragma once

#include <rapidcheck.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/resp/encoder.h"
#include "chorus/resp/request_parser.h"
#include "chorus/resp/value.h"

namespace chorus::resp {

// A C-style quoted string: printable ASCII as is, \" \\ \r \n \t, every other byte as \xHH.
std::string escape(std::string_view bytes);
// The inverse, for golden-file inputs (no surrounding quotes): \r \n \t \v \f \0 \xHH, and a
// backslash before any other character stands for that character (\\ and \").
std::string unescape(std::string_view text);

// `bulk "foo"`, `array[int 1, null]`, `map{simple "a": bool true}`, ...: every type distinct.
std::string describe(const Value& v);

// gtest and rapidcheck print Values through these (found by argument-dependent lookup).
inline void PrintTo(const Value& v, std::ostream* os) { *os << describe(v); }
inline void showValue(const Value& v, std::ostream& os) { os << describe(v); }

// What parse_reply gives back for encode(v, protocol): RESP3 folds kNullArray into kNull; RESP2
// projects maps, sets and pushes to arrays, doubles and verbatims to bulks, booleans to integers.
Value as_parsed(const Value& v, Protocol protocol);

// Random Values of every type, nested up to `depth` aggregates deep. One-line texts (simple,
// error, double) have no CR or LF, maps have even element counts and booleans are 0 or 1: the
// Values an encoder is given.
rc::Gen<Value> gen_value(int depth);
// Random arrays, maps, sets and pushes of such Values (depth >= 1).
rc::Gen<Value> gen_aggregate(int depth);

// Feeds `input` to a fresh parser in pieces of the given sizes (cycled; 0 means "the rest") and
// describes the outcome, one line per event:
//   command "SET" "k" "v"
//   error "Protocol error: ..."      (last line; parsing stops there)
//   partial 12                       (last line: an unfinished command holding 12 bytes)
// The description does not mention the pieces, so feeding the same bytes in different pieces
// must give the same text.
std::string parse_requests(std::string_view input, const std::vector<size_t>& pieces,
                           const RequestLimits& limits = {});

}  // namespace chorus::resp
