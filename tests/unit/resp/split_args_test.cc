// split_args on its own (the chorus CLI splits typed lines with it). The parser-level view of the
// same rules is in testdata/requests.txt.
#include "chorus/resp/split_args.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace chorus::resp {
namespace {

using Args = std::optional<std::vector<std::string>>;

TEST(SplitArgs, Cases) {
  const std::vector<std::pair<std::string, Args>> cases = {
      {"", Args(std::vector<std::string>{})},
      {" \t\v\f\r\n", Args(std::vector<std::string>{})},
      {"set a b", Args({"set", "a", "b"})},
      {"  set   a  ", Args({"set", "a"})},
      {"\"\"", Args({""})},
      {"''", Args({""})},
      {"\"a\\x20b\"", Args({"a b"})},
      {"\"\\x4\"", Args({"x4"})},    // not two hex digits: "\x" is just 'x'
      {"\"\\xag\"", Args({"xag"})},  // likewise
      {"\"\\xFF\\x00\"", Args({std::string("\xff\0", 2)})},
      {"'\\n'", Args({"\\n"})},
      {"'a\\'b'", Args({"a'b"})},
      {"'a\\\"b'", Args({"a\\\"b"})},
      {"a\"b\"c", std::nullopt},
      {"a\"b c\"", Args({"ab c"})},
      {"a'b c' d", Args({"ab c", "d"})},
      {"\"a\"\t\"b\"", Args({"a", "b"})},
      {"\"a\"\vb", Args({"a", "b"})},  // \v is a blank after a closing quote
      {"a\vb", Args({"a\vb"})},        // but does not end an unquoted argument
      {"\"", std::nullopt},
      {"'", std::nullopt},
      {"\"abc\\", std::nullopt},
      {"'abc\\'", std::nullopt},
      {"\"a\"\"b\"", std::nullopt},
      {std::string("a\0\"", 3), Args({"a"})},  // NUL ends the line, unbalanced quote and all
      {std::string("\"a\0\"", 4), std::nullopt},
  };
  for (const auto& [line, want] : cases) {
    EXPECT_EQ(split_args(line), want) << "line: " << line;
  }
}

TEST(SplitArgs, AppendsToWhatIsThere) {
  std::vector<std::string> out = {"first"};
  ASSERT_TRUE(split_args("second third", out));
  EXPECT_EQ(out, (std::vector<std::string>{"first", "second", "third"}));
}

}  // namespace
}  // namespace chorus::resp
