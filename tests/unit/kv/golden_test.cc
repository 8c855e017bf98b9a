// Golden replies: every file in testdata/ is a redis-cli-like session against a Store, with the
// reply each command must produce, rendered as redis-cli shows it. The directives are listed in
// golden_env.h. After a deliberate behaviour change, regenerate the outputs with
//
//   CHORUS_REWRITE=1 ./unit_kv --gtest_filter='*Golden*'
//
// and read the diff against Redis's documented behaviour: it is the review.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "golden_env.h"
#include "unit/raft/datadriven_gtest.h"

namespace chorus::kv::testing {
namespace {

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, Replies) {
  GoldenEnv env;
  datadriven::expect_file(GetParam(), [&](const datadriven::Command& cmd) {
    std::string usage_error;
    std::string out = env.handle(cmd, &usage_error);
    if (!usage_error.empty()) ADD_FAILURE() << cmd.where() << ": " << usage_error;
    return out;
  });
}

INSTANTIATE_TEST_SUITE_P(Testdata, Golden,
                         ::testing::ValuesIn(datadriven::testdata_files(CHORUS_KV_TESTDATA)),
                         datadriven::file_test_name);

TEST(GoldenEnv, SplitsLikeRedisCli) {
  std::vector<std::string> argv;
  ASSERT_TRUE(split_args(R"(SET "a b" 'c d' "\x41\n" "" x)", &argv));
  EXPECT_EQ(argv, (std::vector<std::string>{"SET", "a b", "c d", "A\n", "", "x"}));
  EXPECT_FALSE(split_args(R"(SET "unterminated)", &argv));
}

}  // namespace
}  // namespace chorus::kv::testing
