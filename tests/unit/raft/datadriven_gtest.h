// The GoogleTest side of datadriven.h, shared by every golden-file suite (raft interactions, kv
// replies, RESP parsing): run a file and report each mismatch, list a testdata directory, name
// a parameterized test after its file.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "datadriven.h"

namespace chorus::datadriven {

// Runs `path` through `handler`; each output that differs from the file is a test failure.
// With CHORUS_REWRITE=1 the file is rewritten with the actual outputs instead.
inline void expect_file(const std::string& path,
                        const std::function<std::string(const Command&)>& handler) {
  const bool rewrite = rewrite_requested();
  FileResult result = run_file(path, handler, rewrite);
  ASSERT_TRUE(result.error.empty()) << result.error;
  if (rewrite) return;
  for (const Mismatch& m : result.mismatches) {
    ADD_FAILURE() << m.command.where() << "\n--- expected\n"
                  << m.command.expected << "--- actual\n"
                  << m.actual << "(CHORUS_REWRITE=1 regenerates the expected outputs)";
  }
}

// The *.txt files of `dir`, sorted.
inline std::vector<std::string> testdata_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// For INSTANTIATE_TEST_SUITE_P over testdata_files(): the file's stem, alphanumerics only.
inline std::string file_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

}  // namespace chorus::datadriven
