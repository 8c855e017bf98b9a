#include "chorus/base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace chorus {
namespace {

TEST(Status, OkByDefaultAndCarriesCodeAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), StatusCode::kOk);
  EXPECT_EQ(ok.message(), "");
  EXPECT_EQ(ok.ToString(), "OK");

  Status bad = Status::Corruption("00000001.log offset 4096: bad checksum");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), StatusCode::kCorruption);
  EXPECT_EQ(bad.ToString(), "Corruption: 00000001.log offset 4096: bad checksum");
  EXPECT_TRUE(Status(StatusCode::kOk, "ignored").ok());
}

TEST(Status, CopiesAreIndependentAndMovesKeepTheState) {
  Status a = Status::NotFound("x");
  Status b = a;
  a = Status::Ok();
  EXPECT_EQ(b.code(), StatusCode::kNotFound);
  EXPECT_EQ(b.message(), "x");
  Status c = std::move(b);
  EXPECT_EQ(c.ToString(), "NotFound: x");
  const Status& alias = c;
  c = alias;  // self-assignment keeps the state
  EXPECT_EQ(c.ToString(), "NotFound: x");
}

TEST(Status, AnnotateKeepsTheCode) {
  Status s = Status::IoError("disk gone").Annotate("open /data/x");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "open /data/x: disk gone");
  EXPECT_TRUE(Status::Ok().Annotate("anything").ok());
}

TEST(Status, EveryCodeHasAName) {
  EXPECT_EQ(status_code_name(StatusCode::kNoSpace), "NoSpace");
  EXPECT_EQ(status_code_name(StatusCode::kBusy), "Busy");
  for (int c = 0; c <= static_cast<int>(StatusCode::kReadOnly); c++) {
    EXPECT_NE(status_code_name(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

TEST(Status, FromErrnoMapsCodesAndKeepsContext) {
  struct Case {
    int err;
    StatusCode code;
  };
  for (Case c : {Case{ENOSPC, StatusCode::kNoSpace}, Case{EDQUOT, StatusCode::kNoSpace},
                 Case{ENOENT, StatusCode::kNotFound}, Case{EEXIST, StatusCode::kAlreadyExists},
                 Case{EINVAL, StatusCode::kInvalidArgument}, Case{EWOULDBLOCK, StatusCode::kBusy},
                 Case{EROFS, StatusCode::kReadOnly}, Case{EIO, StatusCode::kIoError},
                 Case{EACCES, StatusCode::kIoError}}) {
    Status s = Status::FromErrno(c.err, "open /x");
    EXPECT_EQ(s.code(), c.code) << c.err;
    EXPECT_EQ(s.message().rfind("open /x: ", 0), 0u) << s.message();
  }
  EXPECT_EQ(Status::FromErrno(ENOENT, "stat /y").message(), "stat /y: No such file or directory");
}

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Status check_positive(int v) {
  CHORUS_TRY(parse_positive(v).status());
  return Status::Ok();
}

Result<int> doubled(int v) {
  CHORUS_ASSIGN_OR_RETURN(int x, parse_positive(v));
  CHORUS_ASSIGN_OR_RETURN(auto y, parse_positive(x + 1));  // two in one scope must not clash
  return x + y - 1;
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<std::string> r = std::string("abc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "abc");
  EXPECT_EQ(r->size(), 3u);
  EXPECT_TRUE(r.status().ok());
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "abc");

  Result<int> e = parse_positive(-1);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "not positive: -1");
}

TEST(Result, TryAndAssignOrReturnPropagateFailures) {
  EXPECT_TRUE(check_positive(3).ok());
  EXPECT_EQ(check_positive(0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(doubled(5).value(), 10);
  EXPECT_EQ(doubled(-5).status().message(), "not positive: -5");
}

TEST(ResultDeathTest, ValueOfAFailedResultAborts) {
  EXPECT_DEATH((void)parse_positive(0).value(), "value\\(\\) of a failed Result");
  EXPECT_DEATH((void)Result<int>{Status::Ok()}, "Result built from an ok Status");
}

}  // namespace
}  // namespace chorus
