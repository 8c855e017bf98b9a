// Glob-style matching with Redis's semantics (util.c, stringmatchlen), for KEYS and SCAN MATCH:
//   *      any run of bytes, including none       ?      exactly one byte
//   [abc]  one of a, b, c                         [^a]   any byte but a
//   [a-z]  a range (reversed bounds are swapped)  \x     the byte x itself
// Bytes compare as signed chars in ranges, as Redis does. A '[' with no closing ']' takes the
// rest of the pattern as its set. Recursion is bounded (patterns nesting '*' more than 1000 deep
// never match), and a failed '*' stops the search early, so no pattern takes exponential time.
#pragma once

#include <string_view>

namespace chorus::kv {

bool glob_match(std::string_view pattern, std::string_view s, bool nocase = false);

}  // namespace chorus::kv
