// The JSON-lines reader behind chorus-lincheck, on the files in testdata/ and on inline text.
#include "support/history_jsonl.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/linearizability.h"

namespace chorus::lincheck {
namespace {

Result<std::vector<Operation>> parse_file(const std::string& name) {
  std::ifstream in(std::string(LINCHECK_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  return parse_history_jsonl(in);
}

Result<std::vector<Operation>> parse_text(const std::string& text) {
  std::istringstream in(text);
  return parse_history_jsonl(in);
}

const Operation* find(const std::vector<Operation>& ops, OpKind kind, uint64_t call_line) {
  for (const Operation& op : ops) {
    if (op.kind == kind && op.call_time == call_line) return &op;
  }
  return nullptr;
}

TEST(HistoryJsonl, ParsesEveryOutcome) {
  auto history = parse_file("linearizable.jsonl");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 8u);  // the nemesis line is not an operation

  const Operation* write = find(*history, OpKind::kWrite, 1);
  ASSERT_NE(write, nullptr);
  EXPECT_EQ(write->key, "x");
  EXPECT_EQ(write->value, 1);
  EXPECT_EQ(write->return_time, 3u);
  EXPECT_EQ(write->outcome, Outcome::kOk);

  const Operation* read = find(*history, OpKind::kRead, 2);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->value, std::nullopt);
  EXPECT_EQ(read->outcome, Outcome::kOk);

  const Operation* cas_ok = find(*history, OpKind::kCas, 5);
  ASSERT_NE(cas_ok, nullptr);
  EXPECT_EQ(cas_ok->from, 1);
  EXPECT_EQ(cas_ok->to, 2);
  EXPECT_EQ(cas_ok->outcome, Outcome::kOk);
  const Operation* cas_failed = find(*history, OpKind::kCas, 6);
  ASSERT_NE(cas_failed, nullptr);
  EXPECT_EQ(cas_failed->outcome, Outcome::kCasMismatch);

  const Operation* timed_out = find(*history, OpKind::kWrite, 10);
  ASSERT_NE(timed_out, nullptr);
  EXPECT_EQ(timed_out->key, "7");  // a non-string key is keyed by its JSON text
  EXPECT_EQ(timed_out->outcome, Outcome::kIndeterminate);

  const Operation* missing = find(*history, OpKind::kRead, 15);
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->outcome, Outcome::kOk);  // Maelstrom error 20 on a read: key missing
  EXPECT_EQ(missing->value, std::nullopt);

  const Operation* unfinished = find(*history, OpKind::kWrite, 17);
  ASSERT_NE(unfinished, nullptr);
  EXPECT_EQ(unfinished->outcome, Outcome::kIndeterminate);

  EXPECT_TRUE(check_linearizable(*history).ok());
}

TEST(HistoryJsonl, StaleReadFileFailsOnItsKey) {
  auto history = parse_file("stale_read.jsonl");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  const CheckResult r = check_linearizable(*history);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.key, "b");
  // Times are line numbers, so the report points into the file.
  EXPECT_NE(r.explanation.find("[t=7..8]"), std::string::npos) << r.explanation;
}

TEST(HistoryJsonl, MalformedFileNamesTheLine) {
  auto history = parse_file("malformed.jsonl");
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(history.status().message().find("line 3"), std::string::npos)
      << history.status().ToString();
}

TEST(HistoryJsonl, FailWithoutAReasonMeansDidNotHappen) {
  auto history = parse_text(
      R"({"process":0,"type":"invoke","f":"cas","key":"k","value":[1,2]})"
      "\n"
      R"({"process":0,"type":"fail","f":"cas","key":"k","value":[1,2],"error":"temporarily-unavailable"})"
      "\n"
      R"({"process":1,"type":"invoke","f":"cas","key":"k","value":[1,2]})"
      "\n"
      R"({"process":1,"type":"fail","f":"cas","key":"k","error":[":precondition-failed","x"]})"
      "\n");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].outcome, Outcome::kFail);
  EXPECT_EQ((*history)[1].outcome, Outcome::kCasMismatch);
}

TEST(HistoryJsonl, RejectsMalformedEvents) {
  const std::vector<std::string> bad = {
      "not json",
      "[1,2]",
      R"({"type":"invoke","f":"read","key":"k"})",
      R"({"process":0,"type":"begin","f":"read","key":"k"})",
      R"({"process":0,"type":"invoke","f":"append","key":"k"})",
      R"({"process":0,"type":"invoke","f":"write","key":"k","value":"one"})",
      R"({"process":0,"type":"invoke","f":"write","key":"k","value":1.5})",
      R"({"process":0,"type":"invoke","f":"cas","key":"k","value":[1]})",
      R"({"process":0,"type":"ok","f":"read","key":"k","value":1})",
      R"({"process":0,"type":"invoke","f":"read","key":"k"})"
      "\n"
      R"({"process":0,"type":"invoke","f":"read","key":"k"})",
      R"({"process":0,"type":"invoke","f":"read","key":"k"})"
      "\n"
      R"({"process":0,"type":"ok","f":"write","key":"k","value":1})",
      R"({"process":0,"type":"invoke","f":"read","key":"k"})"
      "\n"
      R"({"process":0,"type":"ok","f":"read","key":"j","value":1})",
      R"({"process":0,"type":"invoke","f":"read","key":"k"})"
      "\n"
      R"({"process":0,"type":"ok","f":"read","key":"k","value":[1]})",
      R"({"process":99999999999,"type":"invoke","f":"read","key":"k"})",
  };
  for (const std::string& text : bad) {
    auto history = parse_text(text);
    EXPECT_FALSE(history.ok()) << text;
  }
}

TEST(HistoryJsonl, MissingKeyIsTheSingleRegister) {
  auto history = parse_text(R"({"process":0,"type":"invoke","f":"write","value":1})"
                            "\n"
                            R"({"process":0,"type":"ok","f":"write","value":1})"
                            "\n");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].key, "");
}

}  // namespace
}  // namespace chorus::lincheck
