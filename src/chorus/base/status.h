// Status and Result<T>: expected failures, returned and checked (never thrown across modules).
//
// A Status is cheap when ok (one null pointer). Both are [[nodiscard]]: ignoring a failure is a
// compile error under -Werror. Broken invariants are not Statuses: they are CHORUS_ASSERTs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "chorus/base/assert.h"

namespace chorus {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // the caller asked for something malformed or out of range
  kNotFound,
  kAlreadyExists,
  kCorruption,   // data on disk or on the wire fails its checks
  kIoError,      // the OS reported an I/O error (EIO, ...)
  kNoSpace,      // ENOSPC / quota: the operation did not happen
  kFailed,       // the component stopped after an earlier fatal error (e.g. fsync failure)
  kTooLarge,     // a record or message over its documented maximum
  kUnavailable,  // definite: not done, try again later (no leader, closed, busy)
  kTimeout,      // indefinite: may or may not have happened
  kAborted,      // definite: withdrawn (transaction aborted, leadership lost before append)
  kNotLeader,    // definite: this node cannot serve it; see the leader hint
  kBusy,         // a lock is held by someone else
  kReadOnly,
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);
  Status(const Status& other)
      : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status Failed(std::string m) { return {StatusCode::kFailed, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {StatusCode::kReadOnly, std::move(m)}; }
  // Maps an errno value to a code (ENOSPC -> kNoSpace, ENOENT -> kNotFound, ...).
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  std::string ToString() const;  // "Corruption: 00000001.log offset 4096: bad checksum"

  // Adds context in front of the message, keeping the code.
  Status Annotate(std::string_view context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    CHORUS_ASSERT(!std::get<Status>(v_).ok(), "Result built from an ok Status");
  }

  bool ok() const { return v_.index() == 0; }
  const T& value() const& { return checked(); }
  T& value() & { return checked(); }
  T&& value() && { return std::move(checked()); }
  const T& operator*() const& { return checked(); }
  T& operator*() & { return checked(); }
  const T* operator->() const { return &checked(); }
  T* operator->() { return &checked(); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  T& checked() {
    CHORUS_ASSERT(ok(), "value() of a failed Result: ", std::get<Status>(v_).ToString());
    return std::get<T>(v_);
  }
  const T& checked() const {
    CHORUS_ASSERT(ok(), "value() of a failed Result: ", std::get<Status>(v_).ToString());
    return std::get<T>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace chorus

#define CHORUS_CONCAT_INNER(a, b) a##b
#define CHORUS_CONCAT(a, b) CHORUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not ok.
#define CHORUS_TRY(expr)                           \
  do {                                             \
    ::chorus::Status chorus_try_s_ = (expr);       \
    if (!chorus_try_s_.ok()) return chorus_try_s_; \
  } while (0)

// `CHORUS_ASSIGN_OR_RETURN(auto x, f())`: unwraps a Result or returns its Status.
#define CHORUS_ASSIGN_OR_RETURN(lhs, expr) \
  CHORUS_ASSIGN_OR_RETURN_IMPL(CHORUS_CONCAT(chorus_result_, __LINE__), lhs, expr)
#define CHORUS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
