// Golden-file interaction tests (as etcd-io/raft's interaction_test.go): every file in
// testdata/ is a story told in commands over a cluster of real Raft cores, with the output
// each step must produce. The commands are listed in interaction_env.h; the file format in
// datadriven.h. After a deliberate behaviour change, regenerate the outputs with
//
//   CHORUS_REWRITE=1 ./unit_raft --gtest_filter='Interaction*'
//
// and read the diff: it is the review.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "datadriven.h"
#include "interaction_env.h"

namespace chorus::raft::testing {
namespace {

std::vector<std::string> testdata_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(CHORUS_RAFT_TESTDATA)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Interaction : public ::testing::TestWithParam<std::string> {};

TEST_P(Interaction, Transcript) {
  InteractionEnv env;
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

INSTANTIATE_TEST_SUITE_P(Testdata, Interaction, ::testing::ValuesIn(testdata_files()), test_name);

TEST(Datadriven, ParsesArguments) {
  std::string error;
  auto cmd = datadriven::parse_command_line(
      R"(add-nodes 3 voters=(1, 2,3) prevote=false "two words" (4,5))", &error);
  ASSERT_TRUE(cmd.has_value()) << error;
  EXPECT_EQ(cmd->name, "add-nodes");
  ASSERT_EQ(cmd->positional().size(), 3u);
  EXPECT_EQ(cmd->positional()[1]->values, std::vector<std::string>{"two words"});
  EXPECT_EQ(cmd->positional()[2]->values, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(cmd->find("voters")->values, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(cmd->get("prevote", ""), "false");
  EXPECT_FALSE(datadriven::parse_command_line("bad (1,2", &error).has_value());
  EXPECT_FALSE(datadriven::parse_command_line("bad \"x", &error).has_value());
}

}  // namespace
}  // namespace chorus::raft::testing
