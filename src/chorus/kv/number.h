// Number parsing and formatting with Redis's exact rules (util.c: string2ll, string2ld,
// ld2string), so INCR, INCRBYFLOAT and every integer argument accept and print what Redis does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chorus::kv {

// A strict decimal int64: optional '-', digits, no leading zeros, no '+', no spaces, no overflow
// ("0" is fine, "-0", "01", "+1", " 1" and "1 " are not). Redis parses stored values and integer
// arguments alike with these rules.
std::optional<int64_t> parse_int64(std::string_view s);

// A long double as strtold reads it (decimal, exponent, hex, "inf"), but refusing: the empty
// string, leading space, trailing bytes, NaN, and overflow/underflow to +-HUGE_VAL or 0.
// Shorter than 5 KiB (Redis's MAX_LONG_DOUBLE_CHARS).
std::optional<long double> parse_long_double(std::string_view s);

// INCRBYFLOAT's result format ("human" mode): "%.17Lf" with trailing zeros (and a trailing '.')
// removed, "-0" printed as "0". Note: long double is the x87 80-bit type on x86-64 and a 128-bit
// type on arm64, so like Redis the printed digits depend on the CPU architecture: a cluster must
// run on one architecture for INCRBYFLOAT to stay identical on every node.
std::string format_long_double(long double v);

// A SCAN cursor: an unsigned 64-bit decimal with nothing else around it.
std::optional<uint64_t> parse_uint64(std::string_view s);

// Case-insensitive ASCII equality, for option names.
bool iequals(std::string_view a, std::string_view b);

}  // namespace chorus::kv
