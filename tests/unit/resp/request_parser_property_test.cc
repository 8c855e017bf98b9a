// Properties of RequestParser: what encode_command writes parses back to the same argv, in any
// mix with inline commands and skipped items; and on any bytes at all, valid or not, the result
// does not depend on where the input was cut.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "chorus/resp/encoder.h"
#include "chorus/resp/request_parser.h"
#include "resp_test_util.h"

namespace chorus::resp {
namespace {

using Argv = std::vector<std::string>;

rc::Gen<std::vector<size_t>> gen_pieces() {
  return rc::gen::nonEmpty(
      rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 40)));
}

// Arguments that survive an inline line as they are: no blanks, quotes or NULs.
rc::Gen<std::string> gen_plain_arg() {
  return rc::gen::nonEmpty(rc::gen::container<std::string>(
      rc::gen::element('a', 'b', 'Z', '0', '9', '*', '$', ':', '-', '_', '\\', '\xff')));
}

std::string expected_transcript(const std::vector<Argv>& commands) {
  std::string out;
  for (const Argv& argv : commands) {
    out += "command";
    for (const std::string& a : argv) out += " " + escape(a);
    out += "\n";
  }
  return out;
}

void encode_multibulk(const Argv& argv, std::string& wire) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  encode_command(views, wire);
}

RC_GTEST_PROP(RequestParserProperty, EncodeCommandRoundTripsInAnyPieces, ()) {
  const auto commands = *rc::gen::container<std::vector<Argv>>(
      rc::gen::nonEmpty(rc::gen::container<Argv>(rc::gen::string<std::string>())));
  std::string wire;
  for (const Argv& argv : commands) encode_multibulk(argv, wire);
  const std::string expected = expected_transcript(commands);
  RC_ASSERT(parse_requests(wire, {0}) == expected);
  RC_ASSERT(parse_requests(wire, *gen_pieces()) == expected);
}

RC_GTEST_PROP(RequestParserProperty, MixedFormsAndSkippedItems, ()) {
  enum Form { kMultibulk, kInline, kInlineLf, kQuoted, kEmptyArray, kNullArray, kBlankLine };
  const auto commands = *rc::gen::container<std::vector<Argv>>(
      rc::gen::nonEmpty(rc::gen::container<Argv>(gen_plain_arg())));
  std::vector<Argv> expected;
  std::string wire;
  for (const Argv& argv : commands) {
    // A skipped item may come before any command.
    switch (*rc::gen::element(kEmptyArray, kNullArray, kBlankLine, kMultibulk, kMultibulk)) {
      case kEmptyArray:
        wire += "*0\r\n";
        break;
      case kNullArray:
        wire += "*-1\r\n";
        break;
      case kBlankLine:
        wire += " \t\r\n";
        break;
      default:
        break;
    }
    const Form form = *rc::gen::element(kMultibulk, kInline, kInlineLf, kQuoted);
    if (form == kMultibulk || argv[0][0] == '*') {  // an inline line may not start with '*'
      encode_multibulk(argv, wire);
    } else {
      for (size_t i = 0; i < argv.size(); ++i) {
        if (i > 0) wire += ' ';
        // Quoted, a backslash is an escape: double it.
        std::string arg = argv[i];
        if (form == kQuoted) {
          std::string doubled;
          for (char c : arg) doubled += c == '\\' ? "\\\\" : std::string(1, c);
          arg = "\"" + doubled + "\"";
        }
        wire += arg;
      }
      wire += form == kInlineLf ? "\n" : "\r\n";
    }
    expected.push_back(argv);
  }
  const std::string want = expected_transcript(expected);
  RC_ASSERT(parse_requests(wire, {0}) == want);
  RC_ASSERT(parse_requests(wire, *gen_pieces()) == want);
}

// Bytes drawn from the protocol's own alphabet (and valid fragments), under small limits so
// that every error, limits included, is reachable: cutting them anywhere changes nothing.
RC_GTEST_PROP(RequestParserProperty, AnyBytesParseTheSameInAnyPieces, ()) {
  const auto fragments = *rc::gen::container<std::vector<std::string>>(rc::gen::oneOf(
      rc::gen::element<std::string>("*", "$", "\r", "\n", "\r\n", "-", "0", "1", "2", "3", "9",
                                    "\"", "'", "\\", " ", "\t", "x", "\\x4", "\0", "\xff"),
      rc::gen::element<std::string>("*1\r\n", "*2\r\n", "$1\r\na\r\n", "$0\r\n\r\n", "*0\r\n",
                                    "*-1\r\n", "PING\r\n", "SET \"a b\" 'c'\r\n", "*1\r\n$3\r\n")));
  std::string input;
  for (const std::string& f : fragments) input += f;
  RequestLimits limits;
  limits.max_inline_bytes = *rc::gen::element<size_t>(3, 8, 64, 1024);
  limits.max_bulk_bytes = *rc::gen::element<size_t>(0, 2, 12, 1024);
  limits.max_args = *rc::gen::element<size_t>(1, 2, 6, 1024);
  const std::string whole = parse_requests(input, {0}, limits);
  RC_ASSERT(parse_requests(input, {1}, limits) == whole);
  RC_ASSERT(parse_requests(input, *gen_pieces(), limits) == whole);
}

}  // namespace
}  // namespace chorus::resp
