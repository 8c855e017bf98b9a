#include "chorus/resp/encoder.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "chorus/base/assert.h"

namespace chorus::resp {
namespace {

void append_crlf(std::string& out) { out.append("\r\n", 2); }

// `prefix` then the decimal `n` then CRLF: every header and integer reply.
void append_number_line(char prefix, int64_t n, std::string& out) {
  std::array<char, 24> buf;
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf.data() + 1, buf.data() + buf.size(), n);
  CHORUS_ASSERT(ec == std::errc());
  out.append(buf.data(), static_cast<size_t>(end - buf.data()));
  append_crlf(out);
}

void append_size_line(char prefix, size_t n, std::string& out) {
  append_number_line(prefix, static_cast<int64_t>(n), out);
}

// A one-line type: CR and LF would end the line early and desynchronise the client, so they
// become spaces (what Redis does to error messages).
void append_line(char prefix, std::string_view text, std::string& out) {
  out.push_back(prefix);
  const size_t start = out.size();
  out.append(text);
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  append_crlf(out);
}

void append_bulk(std::string_view text, std::string& out) {
  append_size_line('$', text.size(), out);
  out.append(text);
  append_crlf(out);
}

void encode_elements(const Value& v, Protocol protocol, std::string& out) {
  for (const Value& e : v.elements) encode(e, protocol, out);
}

}  // namespace

void encode(const Value& v, Protocol protocol, std::string& out) {
  const bool resp3 = protocol == Protocol::kResp3;
  switch (v.type) {
    case Type::kSimpleString:
      return append_line('+', v.str, out);
    case Type::kError:
      return append_line('-', v.str, out);
    case Type::kInteger:
      return append_number_line(':', v.integer, out);
    case Type::kBulkString:
      return append_bulk(v.str, out);
    case Type::kNull:
      out.append(resp3 ? "_\r\n" : "$-1\r\n");
      return;
    case Type::kNullArray:
      out.append(resp3 ? "_\r\n" : "*-1\r\n");
      return;
    case Type::kArray:
      append_size_line('*', v.elements.size(), out);
      return encode_elements(v, protocol, out);
    case Type::kMap:
      CHORUS_ASSERT(v.elements.size() % 2 == 0, "map with an odd element count ",
                    v.elements.size());
      if (resp3) {
        append_size_line('%', v.elements.size() / 2, out);
      } else {
        append_size_line('*', v.elements.size(), out);
      }
      return encode_elements(v, protocol, out);
    case Type::kSet:
      append_size_line(resp3 ? '~' : '*', v.elements.size(), out);
      return encode_elements(v, protocol, out);
    case Type::kPush:
      append_size_line(resp3 ? '>' : '*', v.elements.size(), out);
      return encode_elements(v, protocol, out);
    case Type::kDouble:
      if (resp3) return append_line(',', v.str, out);
      return append_bulk(v.str, out);
    case Type::kBoolean:
      if (resp3) {
        out.append(v.integer != 0 ? "#t\r\n" : "#f\r\n");
        return;
      }
      return append_number_line(':', v.integer != 0 ? 1 : 0, out);
    case Type::kVerbatim:
      if (!resp3) return append_bulk(v.str, out);
      append_size_line('=', v.str.size() + 4, out);
      out.append("txt:");
      out.append(v.str);
      append_crlf(out);
      return;
  }
  CHORUS_UNREACHABLE("value type ", static_cast<int>(v.type));
}

std::string encode(const Value& v, Protocol protocol) {
  std::string out;
  encode(v, protocol, out);
  return out;
}

void encode_command(std::span<const std::string_view> argv, std::string& out) {
  append_size_line('*', argv.size(), out);
  for (std::string_view a : argv) append_bulk(a, out);
}

std::string encode_command(std::span<const std::string_view> argv) {
  std::string out;
  encode_command(argv, out);
  return out;
}

std::string format_double(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::array<char, 64> buf;  // "%.17g" needs at most 24: sign, 17 digits, '.', "e-308"
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::general, 17);
  CHORUS_ASSERT(ec == std::errc());
  return std::string(buf.data(), end);
}

std::string format_long_double(long double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Fixed notation spells out every integer digit: up to 4933 for the largest x87 long double,
  // plus sign, point and 17 decimals.
  std::string out(5000, '\0');
  auto [end, ec] =
      std::to_chars(out.data(), out.data() + out.size(), d, std::chars_format::fixed, 17);
  CHORUS_ASSERT(ec == std::errc());
  out.resize(static_cast<size_t>(end - out.data()));
  // Fixed notation with 17 decimals always has a '.', so only decimals are dropped here.
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  if (out == "-0") out = "0";
  return out;
}

}  // namespace chorus::resp
