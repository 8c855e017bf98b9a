// parse_reply: the golden transcripts of testdata/replies.txt, and round trips of random nested
// Values through the encoder in both protocols.
//
// After a deliberate behaviour change: CHORUS_REWRITE=1 ./unit_resp --gtest_filter='Golden*'
#include "chorus/resp/reply_parser.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "chorus/resp/encoder.h"
#include "resp_test_util.h"
#include "unit/raft/datadriven_gtest.h"

namespace chorus::resp {
namespace {

std::string describe_parse(std::string_view input, const ReplyLimits& limits) {
  auto parsed = parse_reply(input, limits);
  if (!parsed.ok()) return "error " + parsed.status().ToString();
  if (!*parsed) return "need-more";
  return describe((*parsed)->value) + " (" + std::to_string((*parsed)->consumed) + " bytes)";
}

std::string golden_reply(const datadriven::Command& cmd) {
  std::string input;
  for (const std::string& line : cmd.input) input += unescape(line);
  ReplyLimits limits;
  limits.max_depth = std::stoull(cmd.get("max_depth", std::to_string(limits.max_depth)));
  limits.max_bulk_bytes = std::stoull(cmd.get("max_bulk", std::to_string(limits.max_bulk_bytes)));
  limits.max_line_bytes = std::stoull(cmd.get("max_line", std::to_string(limits.max_line_bytes)));
  auto whole = parse_reply(input, limits);
  if (whole.ok() && *whole) {
    for (size_t cut = 0; cut < (*whole)->consumed; ++cut) {
      EXPECT_EQ(describe_parse(input.substr(0, cut), limits), "need-more")
          << cmd.where() << ": cut at " << cut;
    }
  }
  return describe_parse(input, limits);
}

TEST(GoldenReplies, Transcript) {
  datadriven::expect_file(std::string(CHORUS_RESP_TESTDATA) + "/replies.txt",
                          [](const datadriven::Command& cmd) {
                            if (cmd.name != "reply") {
                              ADD_FAILURE() << cmd.where() << ": unknown command";
                              return std::string();
                            }
                            return golden_reply(cmd);
                          });
}

TEST(ReplyParser, NestingAtTheDefaultLimit) {
  const ReplyLimits limits;
  std::string ok;
  for (size_t i = 0; i < limits.max_depth; ++i) ok += "*1\r\n";
  ok += ":1\r\n";
  auto parsed = parse_reply(ok);
  ASSERT_TRUE(parsed.ok() && *parsed) << parsed.status().ToString();
  EXPECT_EQ((*parsed)->consumed, ok.size());
  EXPECT_EQ(parse_reply("*1\r\n" + ok).status().code(), StatusCode::kCorruption);
}

// A Value encoded in `protocol`, alone and followed by more bytes, parses back as the client
// sees it, taking exactly its bytes; cut anywhere short, it needs more.
void check_round_trip(const Value& v, Protocol protocol) {
  const std::string wire = encode(v, protocol);
  const Value want = as_parsed(v, protocol);
  auto parsed = parse_reply(wire + "+next\r\n");
  RC_ASSERT(parsed.ok());
  RC_ASSERT(parsed->has_value());
  RC_ASSERT((*parsed)->value == want);
  RC_ASSERT((*parsed)->consumed == wire.size());
  const size_t cut = *rc::gen::inRange<size_t>(0, wire.size());
  auto partial = parse_reply(std::string_view(wire).substr(0, cut));
  RC_ASSERT(partial.ok());
  RC_ASSERT(!partial->has_value());
}

RC_GTEST_PROP(ReplyParserProperty, Resp3RoundTrip, ()) {
  check_round_trip(*rc::gen::oneOf(gen_value(4), gen_aggregate(4)), Protocol::kResp3);
}

RC_GTEST_PROP(ReplyParserProperty, Resp2ParsesToTheProjection, ()) {
  check_round_trip(*rc::gen::oneOf(gen_value(4), gen_aggregate(4)), Protocol::kResp2);
}

// Hostile bytes: never a crash, and a reply never claims more bytes than there are.
RC_GTEST_PROP(ReplyParserProperty, AnyBytes, ()) {
  const auto fragments = *rc::gen::container<std::vector<std::string>>(rc::gen::oneOf(
      rc::gen::element<std::string>("*", "$", "%", "~", ">", "|", "=", "!", "_", ",", "#", "(", "+",
                                    "-", ":", "\r", "\n", "\r\n", "-1", "0", "1", "3", "9", "t",
                                    "txt:", "\0"),
      rc::gen::map(gen_value(2), [](const Value& v) { return encode(v, Protocol::kResp3); })));
  std::string input;
  for (const std::string& f : fragments) input += f;
  ReplyLimits limits;
  limits.max_depth = *rc::gen::inRange<size_t>(0, 4);
  auto parsed = parse_reply(input, limits);
  if (!parsed.ok()) {
    RC_ASSERT(parsed.status().code() == StatusCode::kCorruption);
  } else if (*parsed) {
    RC_ASSERT((*parsed)->consumed <= input.size());
    RC_ASSERT((*parsed)->consumed > 0);
  }
}

}  // namespace
}  // namespace chorus::resp
