// Redis's number rules (util.c) and glob matching (stringmatchlen).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "chorus/kv/glob.h"
#include "chorus/kv/number.h"

namespace chorus::kv {
namespace {

TEST(Number, ParseInt64IsStrict) {
  EXPECT_EQ(parse_int64("0"), 0);
  EXPECT_EQ(parse_int64("-1"), -1);
  EXPECT_EQ(parse_int64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_int64("-9223372036854775808"), INT64_MIN);
  for (const char* bad :
       {"", "-", "-0", "01", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999", "123456789012345678901"}) {
    EXPECT_EQ(parse_int64(bad), std::nullopt) << bad;
  }
}

RC_GTEST_PROP(Number, ParseInt64RoundTripsToString, (int64_t v)) {
  RC_ASSERT(parse_int64(std::to_string(v)) == v);
}

TEST(Number, ParseLongDouble) {
  EXPECT_EQ(parse_long_double("1.5"), 1.5L);
  EXPECT_EQ(parse_long_double("-3e2"), -300.0L);
  EXPECT_EQ(parse_long_double("0x10"), 16.0L);
  EXPECT_TRUE(parse_long_double("inf").has_value());  // strtold reads it; the sum check refuses it
  for (std::string_view bad :
       {std::string_view(""), std::string_view(" 1"), std::string_view("1 "),
        std::string_view("abc"), std::string_view("nan"), std::string_view("1e99999"),
        std::string_view("1\0"
                         "2",
                         3)}) {
    EXPECT_EQ(parse_long_double(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_long_double(std::string(5 * 1024, '1')), std::nullopt);
}

TEST(Number, FormatLongDoubleLikeRedis) {
  EXPECT_EQ(format_long_double(10.5L + 0.1L), "10.6");
  EXPECT_EQ(format_long_double(3.0L), "3");
  EXPECT_EQ(format_long_double(-0.0L), "0");
  EXPECT_EQ(format_long_double(0.0015L), "0.0015");
  EXPECT_EQ(format_long_double(-2.5L), "-2.5");
  EXPECT_EQ(format_long_double(1e20L), "100000000000000000000");
}

TEST(Number, ParseUint64) {
  EXPECT_EQ(parse_uint64("0"), 0u);
  EXPECT_EQ(parse_uint64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_uint64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_uint64("-1"), std::nullopt);
  EXPECT_EQ(parse_uint64(""), std::nullopt);
  EXPECT_TRUE(iequals("Count", "COUNT"));
  EXPECT_FALSE(iequals("count", "counts"));
}

TEST(Glob, RedisSemantics) {
  // Redis's matcher never matches the empty string, even with "*" (KEYS * and SCAN MATCH *
  // skip matching altogether, so they still list an empty key).
  EXPECT_FALSE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("h[b-a]llo", "hallo"));  // reversed bounds are swapped
  EXPECT_TRUE(glob_match("h\\*llo", "h*llo"));
  EXPECT_FALSE(glob_match("h\\*llo", "hallo"));
  EXPECT_TRUE(glob_match("a\\", "a\\"));  // a trailing backslash is itself
  EXPECT_TRUE(glob_match("[\\]]", "]"));
  EXPECT_TRUE(glob_match("[abc", "c"));  // an unterminated class runs to the end
  EXPECT_FALSE(glob_match("[", "["));
  EXPECT_TRUE(glob_match("[^", "x"));
  EXPECT_TRUE(glob_match("*a*b*", "xxaxxbxx"));
  EXPECT_FALSE(glob_match("*a*b*", "xxbxxaxx"));
  EXPECT_TRUE(glob_match("a*", "a"));
  EXPECT_TRUE(glob_match("HELLO", "hello", /*nocase=*/true));
  EXPECT_FALSE(glob_match("HELLO", "hello"));
  EXPECT_TRUE(glob_match(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

// Pathological patterns finish quickly (the '*' search stops early) and never match by accident.
TEST(Glob, PathologicalPatternsAreFast) {
  const std::string s(60, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
  EXPECT_TRUE(glob_match(std::string(5000, '*') + "a", s));
}

// A '*'/'?'/literal-only pattern against a reference matcher.
RC_GTEST_PROP(Glob, MatchesAReferenceOnSimplePatterns, ()) {
  const std::string pattern =
      *rc::gen::container<std::string>(rc::gen::element('a', 'b', '*', '?'));
  const std::string s =
      *rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::element('a', 'b')));
  // Classic dynamic programming.
  std::vector<std::vector<bool>> m(pattern.size() + 1, std::vector<bool>(s.size() + 1, false));
  m[0][0] = true;
  for (size_t i = 1; i <= pattern.size(); ++i) {
    for (size_t j = 0; j <= s.size(); ++j) {
      const char p = pattern[i - 1];
      if (p == '*') {
        m[i][j] = m[i - 1][j] || (j > 0 && m[i][j - 1]);
      } else if (j > 0) {
        m[i][j] = m[i - 1][j - 1] && (p == '?' || p == s[j - 1]);
      }
    }
  }
  RC_ASSERT(glob_match(pattern, s) == m[pattern.size()][s.size()]);
}

}  // namespace
}  // namespace chorus::kv
