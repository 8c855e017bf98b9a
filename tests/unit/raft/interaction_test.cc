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

#include "datadriven_gtest.h"
#include "interaction_env.h"

namespace chorus::raft::testing {
namespace {

class Interaction : public ::testing::TestWithParam<std::string> {};

TEST_P(Interaction, Transcript) {
  InteractionEnv env;
  datadriven::expect_file(GetParam(), [&](const datadriven::Command& cmd) {
    std::string usage_error;
    std::string out = env.handle(cmd, &usage_error);
    if (!usage_error.empty()) ADD_FAILURE() << cmd.where() << ": " << usage_error;
    return out;
  });
}

INSTANTIATE_TEST_SUITE_P(Testdata, Interaction,
                         ::testing::ValuesIn(datadriven::testdata_files(CHORUS_RAFT_TESTDATA)),
                         datadriven::file_test_name);

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
