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

namespace chorus::kv::testing {
namespace {

std::vector<std::string> testdata_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(CHORUS_KV_TESTDATA)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, Replies) {
  GoldenEnv env;
  const bool rewrite = datadriven::rewrite_requested();
  datadriven::FileResult result = datadriven::run_file(
      GetParam(),
      [&](const datadriven::Command& cmd) {
        std::string usage_error;
        std::string out = env.handle(cmd, &usage_error);
        if (!usage_error.empty()) ADD_FAILURE() << cmd.where() << ": " << usage_error;
        return out;
      },
      rewrite);
  ASSERT_TRUE(result.error.empty()) << result.error;
  if (rewrite) return;
  for (const datadriven::Mismatch& m : result.mismatches) {
    ADD_FAILURE() << m.command.where() << "\n--- expected\n"
                  << m.command.expected << "--- actual\n"
                  << m.actual << "(CHORUS_REWRITE=1 regenerates the expected outputs)";
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Testdata, Golden, ::testing::ValuesIn(testdata_files()), test_name);

TEST(GoldenEnv, SplitsLikeRedisCli) {
  std::vector<std::string> argv;
  ASSERT_TRUE(split_args(R"(SET "a b" 'c d' "\x41\n" "" x)", &argv));
  EXPECT_EQ(argv, (std::vector<std::string>{"SET", "a b", "c d", "A\n", "", "x"}));
  EXPECT_FALSE(split_args(R"(SET "unterminated)", &argv));
}

}  // namespace
}  // namespace chorus::kv::testing
