// The encoder's exact bytes for every type in both protocols, and Redis's number formatting.
#include "chorus/resp/encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "resp_test_util.h"

namespace chorus::resp {
namespace {

struct Golden {
  Value value;
  std::string resp2;
  std::string resp3;
};

std::vector<Golden> goldens() {
  const Value pair = Value::array({Value::bulk("a"), Value::integer_of(1)});
  return {
      {Value::ok(), "+OK\r\n", "+OK\r\n"},
      {Value::simple(""), "+\r\n", "+\r\n"},
      {Value::error("ERR unknown command 'x'"), "-ERR unknown command 'x'\r\n",
       "-ERR unknown command 'x'\r\n"},
      {Value::integer_of(0), ":0\r\n", ":0\r\n"},
      {Value::integer_of(-42), ":-42\r\n", ":-42\r\n"},
      {Value::integer_of(INT64_MIN), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
      {Value::integer_of(INT64_MAX), ":9223372036854775807\r\n", ":9223372036854775807\r\n"},
      {Value::bulk("foo"), "$3\r\nfoo\r\n", "$3\r\nfoo\r\n"},
      {Value::bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"},
      {Value::bulk(std::string("a\r\n\0b", 5)), std::string("$5\r\na\r\n\0b\r\n", 11),
       std::string("$5\r\na\r\n\0b\r\n", 11)},
      {Value::null(), "$-1\r\n", "_\r\n"},
      {Value::null_array(), "*-1\r\n", "_\r\n"},
      {Value::array({}), "*0\r\n", "*0\r\n"},
      {pair, "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:1\r\n"},
      {Value::map({}), "*0\r\n", "%0\r\n"},
      {Value::map({Value::bulk("k"), Value::dbl("1.5"), Value::simple("s"), Value::null()}),
       "*4\r\n$1\r\nk\r\n$3\r\n1.5\r\n+s\r\n$-1\r\n", "%2\r\n$1\r\nk\r\n,1.5\r\n+s\r\n_\r\n"},
      {Value::set({Value::integer_of(7)}), "*1\r\n:7\r\n", "~1\r\n:7\r\n"},
      {Value::push({Value::bulk("message"), Value::bulk("ch"), Value::bulk("hi")}),
       "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
       ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"},
      {Value::dbl("3.1400000000000001"), "$18\r\n3.1400000000000001\r\n",
       ",3.1400000000000001\r\n"},
      {Value::dbl("inf"), "$3\r\ninf\r\n", ",inf\r\n"},
      {Value::dbl("-inf"), "$4\r\n-inf\r\n", ",-inf\r\n"},
      {Value::boolean(true), ":1\r\n", "#t\r\n"},
      {Value::boolean(false), ":0\r\n", "#f\r\n"},
      {Value::verbatim("Some string"), "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"},
      {Value::verbatim(""), "$0\r\n\r\n", "=4\r\ntxt:\r\n"},
      {Value::array({Value::map({Value::bulk("k"), Value::set({Value::boolean(true)})}),
                     Value::array({Value::null_array()})}),
       "*2\r\n*2\r\n$1\r\nk\r\n*1\r\n:1\r\n*1\r\n*-1\r\n",
       "*2\r\n%1\r\n$1\r\nk\r\n~1\r\n#t\r\n*1\r\n_\r\n"},
  };
}

TEST(Encoder, GoldenEncodingsOfEveryType) {
  for (const Golden& g : goldens()) {
    EXPECT_EQ(encode(g.value, Protocol::kResp2), g.resp2) << describe(g.value);
    EXPECT_EQ(encode(g.value, Protocol::kResp3), g.resp3) << describe(g.value);
  }
}

TEST(Encoder, AppendsToWhatIsThere) {
  std::string out = "+PONG\r\n";
  encode(Value::integer_of(1), Protocol::kResp2, out);
  EXPECT_EQ(out, "+PONG\r\n:1\r\n");
}

// CR and LF in a one-line type would let the text forge further replies.
TEST(Encoder, OneLineTypesHaveNoCrOrLf) {
  EXPECT_EQ(encode(Value::error("ERR bad\r\n+OK"), Protocol::kResp2), "-ERR bad  +OK\r\n");
  EXPECT_EQ(encode(Value::simple("a\nb\rc"), Protocol::kResp3), "+a b c\r\n");
  EXPECT_EQ(encode(Value::dbl("1\r\n"), Protocol::kResp3), ",1  \r\n");
  // Bulk types carry them as data.
  EXPECT_EQ(encode(Value::dbl("1\r\n"), Protocol::kResp2), "$3\r\n1\r\n\r\n");
}

TEST(Encoder, Command) {
  const std::string_view argv[] = {"SET", "key", ""};
  EXPECT_EQ(encode_command(argv), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n");
  EXPECT_EQ(encode_command(std::span<const std::string_view>()), "*0\r\n");
}

TEST(Encoder, FormatDoubleAsRedisReplies) {
  EXPECT_EQ(format_double(1.5), "1.5");
  EXPECT_EQ(format_double(1.1), "1.1000000000000001");
  EXPECT_EQ(format_double(0), "0");
  EXPECT_EQ(format_double(-0.0), "-0");
  EXPECT_EQ(format_double(3), "3");
  EXPECT_EQ(format_double(1e20), "1e+20");
  EXPECT_EQ(format_double(1e-5), "1.0000000000000001e-05");
  EXPECT_EQ(format_double(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(format_double(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_double(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(format_double(std::nan("")), "nan");
  EXPECT_EQ(format_double(-std::nan("")), "nan");
}

// INCRBYFLOAT's outputs as Redis prints them (x86-64, 80-bit long double).
TEST(Encoder, FormatLongDoubleAsIncrByFloat) {
  EXPECT_EQ(format_long_double(10.5L + 0.1L), "10.6");
  EXPECT_EQ(format_long_double(3.0e5L), "300000");
  EXPECT_EQ(format_long_double(5.0e3L), "5000");
  EXPECT_EQ(format_long_double(-5.0L), "-5");
  EXPECT_EQ(format_long_double(0.0L), "0");
  EXPECT_EQ(format_long_double(-0.0L), "0");
  EXPECT_EQ(format_long_double(1.5L), "1.5");
  EXPECT_EQ(format_long_double(0.1L), "0.1");
  EXPECT_EQ(format_long_double(1e-20L), "0");  // below 17 decimals
  EXPECT_EQ(format_long_double(1e20L), "100000000000000000000");
  EXPECT_EQ(format_long_double(std::numeric_limits<long double>::infinity()), "inf");
  EXPECT_EQ(format_long_double(-std::numeric_limits<long double>::infinity()), "-inf");
  EXPECT_EQ(format_long_double(std::numeric_limits<long double>::quiet_NaN()), "nan");
  const std::string biggest = format_long_double(std::numeric_limits<long double>::max());
  EXPECT_EQ(biggest.size(), 4933u);
  EXPECT_EQ(biggest.substr(0, 6), "118973");
}

}  // namespace
}  // namespace chorus::resp
