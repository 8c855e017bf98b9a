// RequestParser: the golden transcripts of testdata/requests.txt (each also fed byte by byte and
// cut at every point), then what a file cannot show well: sizes at the default limits, a 64 MiB
// argument in 16 KiB pieces, a pipeline of 10,000 commands, the sticky error.
//
// After a deliberate behaviour change: CHORUS_REWRITE=1 ./unit_resp --gtest_filter='Golden*'
#include "chorus/resp/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chorus/resp/encoder.h"
#include "resp_test_util.h"
#include "unit/raft/datadriven_gtest.h"

namespace chorus::resp {
namespace {

RequestLimits limits_of(const datadriven::Command& cmd) {
  RequestLimits limits;
  limits.max_inline_bytes = std::stoull(cmd.get("max_inline", "65536"));
  limits.max_bulk_bytes = std::stoull(cmd.get("max_bulk", std::to_string(limits.max_bulk_bytes)));
  limits.max_args = std::stoull(cmd.get("max_args", std::to_string(limits.max_args)));
  return limits;
}

bool has_flag(const datadriven::Command& cmd, const std::string& flag) {
  for (const datadriven::Arg* arg : cmd.positional()) {
    if (arg->values == std::vector<std::string>{flag}) return true;
  }
  return false;
}

std::string golden_parse(const datadriven::Command& cmd) {
  const bool crlf = has_flag(cmd, "crlf");
  std::string input;
  for (const std::string& line : cmd.input) input += crlf ? line + "\r\n" : unescape(line);
  const RequestLimits limits = limits_of(cmd);
  const std::string whole = parse_requests(input, {0}, limits);
  EXPECT_EQ(parse_requests(input, {1}, limits), whole) << cmd.where() << ": byte by byte";
  for (size_t cut = 1; cut < input.size(); ++cut) {
    EXPECT_EQ(parse_requests(input, {cut, 0}, limits), whole) << cmd.where() << ": cut at " << cut;
  }
  return whole;
}

TEST(GoldenRequests, Transcript) {
  datadriven::expect_file(std::string(CHORUS_RESP_TESTDATA) + "/requests.txt",
                          [](const datadriven::Command& cmd) {
                            if (cmd.name != "parse") {
                              ADD_FAILURE() << cmd.where() << ": unknown command";
                              return std::string();
                            }
                            return golden_parse(cmd);
                          });
}

TEST(RequestParser, DefaultLimitsAtTheirBoundaries) {
  const RequestLimits limits;
  const std::string max_bulk = std::to_string(limits.max_bulk_bytes);
  const std::string max_args = std::to_string(limits.max_args);
  EXPECT_EQ(parse_requests("*1\r\n$" + max_bulk + "\r\n", {0}), "partial 0\n");
  EXPECT_EQ(parse_requests("*1\r\n$" + std::to_string(limits.max_bulk_bytes + 1) + "\r\n", {0}),
            "error \"Protocol error: invalid bulk length\"\n");
  EXPECT_EQ(parse_requests("*" + max_args + "\r\n", {0}), "partial 0\n");
  EXPECT_EQ(parse_requests("*" + std::to_string(limits.max_args + 1) + "\r\n", {0}),
            "error \"Protocol error: invalid multibulk length\"\n");

  const std::string at_limit = "ECHO " + std::string(limits.max_inline_bytes - 5, 'x');
  EXPECT_EQ(parse_requests(at_limit + "\r\n", {0}).substr(0, 13), "command \"ECHO");
  EXPECT_EQ(parse_requests(at_limit + "\n", {1}).substr(0, 13), "command \"ECHO");
  EXPECT_EQ(parse_requests(at_limit + "y\r\n", {0}),
            "error \"Protocol error: too big inline request\"\n");
  EXPECT_EQ(parse_requests(at_limit + "yy", {0}),
            "error \"Protocol error: too big inline request\"\n");
  EXPECT_EQ(parse_requests(at_limit + "y", {0}), "partial 65537\n");  // it may still be "\r\n"
}

// The reason the parser keeps state: a big value in small reads is taken piece by piece, each
// call consuming its whole piece, with no rescanning from the start of the command.
TEST(RequestParser, BigBulkInSmallPieces) {
  const size_t size = size_t{64} << 20;
  std::string value(size, '\0');
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<char>('a' + i % 23);
  const std::string_view argv[] = {"SET", "key", value};
  const std::string wire = encode_command(argv);

  RequestParser parser;
  std::vector<std::string> out;
  size_t off = 0;
  size_t calls = 0;
  ParseStatus status = ParseStatus::kNeedMore;
  while (status == ParseStatus::kNeedMore) {
    ASSERT_LT(off, wire.size());
    const std::string_view piece = std::string_view(wire).substr(off, 16 << 10);
    size_t consumed = 0;
    status = parser.parse(piece, consumed, out);
    if (status == ParseStatus::kNeedMore) {
      ASSERT_EQ(consumed, piece.size());
    }
    off += consumed;
    ++calls;
    if (calls % 512 == 0) parser.check_invariants();
  }
  ASSERT_EQ(status, ParseStatus::kCommand);
  EXPECT_EQ(off, wire.size());
  EXPECT_EQ(calls, (wire.size() + (16 << 10) - 1) / (16 << 10));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "SET");
  EXPECT_TRUE(out[2] == value);
  EXPECT_TRUE(parser.idle());
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RequestParser, PipelineOfTenThousandCommands) {
  std::string wire;
  for (int i = 0; i < 10'000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const std::string_view argv[] = {"SET", key, "value"};
    encode_command(argv, wire);
  }
  RequestParser parser;
  std::vector<std::string> argv;
  std::string_view rest = wire;
  int commands = 0;
  while (!rest.empty()) {
    size_t consumed = 0;
    const ParseStatus status = parser.parse(rest, consumed, argv);
    rest.remove_prefix(consumed);
    if (status == ParseStatus::kNeedMore) break;
    ASSERT_EQ(status, ParseStatus::kCommand);
    ASSERT_EQ(argv.size(), 3u);
    ASSERT_EQ(argv[1], "key:" + std::to_string(commands));
    ++commands;
  }
  EXPECT_EQ(commands, 10'000);
  EXPECT_TRUE(rest.empty());
  EXPECT_TRUE(parser.idle());
}

TEST(RequestParser, ErrorIsStickyAndLeavesArgvAlone) {
  RequestParser parser;
  std::vector<std::string> argv = {"previous"};
  size_t consumed = 99;
  EXPECT_EQ(parser.parse("*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n", consumed, argv), ParseStatus::kError);
  EXPECT_EQ(consumed, 8u);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
  EXPECT_TRUE(parser.failed());
  EXPECT_FALSE(parser.idle());
  EXPECT_EQ(parser.parse("*1\r\n$4\r\nPING\r\n", consumed, argv), ParseStatus::kError);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(argv, std::vector<std::string>{"previous"});
  parser.check_invariants();
}

TEST(RequestParser, EmptyInputNeedsMore) {
  RequestParser parser;
  std::vector<std::string> argv;
  size_t consumed = 1;
  EXPECT_EQ(parser.parse("", consumed, argv), ParseStatus::kNeedMore);
  EXPECT_EQ(consumed, 0u);
  EXPECT_TRUE(parser.idle());
}

// The wire error a server sends for a protocol error: what redis-cli shows for Redis.
TEST(RequestParser, ErrorAsSentToTheClient) {
  RequestParser parser;
  std::vector<std::string> argv;
  size_t consumed = 0;
  ASSERT_EQ(parser.parse("*1\r\n\n\r\n", consumed, argv), ParseStatus::kError);
  EXPECT_EQ(encode(Value::error("ERR " + parser.error()), Protocol::kResp2),
            "-ERR Protocol error: expected '$', got ' '\r\n");
}

}  // namespace
}  // namespace chorus::resp
