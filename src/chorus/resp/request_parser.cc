#include "chorus/resp/request_parser.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "chorus/base/assert.h"
#include "chorus/resp/split_args.h"

namespace chorus::resp {
namespace {

// Redis string2ll: an optional '-', then no leading zero (except "0" itself), no '+', no blanks,
// no overflow. "-0", "01", "" and "+1" are all invalid.
bool parse_ll(std::string_view s, int64_t& value) {
  if (s.empty() || s.size() > 20) return false;
  if (s == "0") {
    value = 0;
    return true;
  }
  const bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s[0] < '1' || s[0] > '9') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (negative) {
    if (v > uint64_t{1} << 63) return false;
    value = static_cast<int64_t>(0 - v);  // two's complement: INT64_MIN included
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    value = static_cast<int64_t>(v);
  }
  return true;
}

// Redis reserves a bulk's whole length up front; we do that only while it is small or already
// here, so a client that announces 64 MiB and sends nothing does not get 64 MiB reserved for it.
// Past this, the string grows geometrically: still O(length) copying in total.
constexpr size_t kEagerReserveBytes = size_t{1} << 20;

// Redis preallocates at most this many argv slots for a `*<n>` it has not seen the args of.
constexpr size_t kEagerReserveArgs = 1024;

}  // namespace

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {}

bool RequestParser::fail(std::string message) {
  error_ = std::move(message);
  line_.clear();
  args_.clear();
  arg_bytes_ = 0;
  return true;
}

// An inline line ends at the first \n. Its length (without its \r\n or \n) is checked against the
// limit both while it is incomplete (allowing one byte for a \r) and once complete, so where the
// input was cut does not change whether the line is too long.
RequestParser::Line RequestParser::take_inline_line(std::string_view input, size_t& pos,
                                                    std::string_view& line) {
  const char* start = input.data() + pos;
  const size_t avail = input.size() - pos;
  const auto* lf = static_cast<const char*>(std::memchr(start, '\n', avail));
  const size_t len = lf != nullptr ? static_cast<size_t>(lf - start) : avail;
  if (lf == nullptr) {
    // The last byte may yet be the \r of a line that is exactly at the limit.
    if (line_.size() + avail > limits_.max_inline_bytes + 1) return Line::kTooLong;
    line_.append(start, avail);
    pos = input.size();
    return Line::kNeedMore;
  }
  const bool cr = len > 0 ? start[len - 1] == '\r' : !line_.empty() && line_.back() == '\r';
  if (line_.size() + len - (cr ? 1 : 0) > limits_.max_inline_bytes) return Line::kTooLong;
  pos += len + 1;
  if (line_.empty()) {
    line = std::string_view(start, len);
  } else {
    line_.append(start, len);
    line = line_;
  }
  return Line::kComplete;
}

// A `*` / `$` line ends at the first \r and is complete once one more byte (the \n, unchecked)
// is there too, as in Redis. When the input ends right after the \r, line_ keeps the \r: that
// byte can only be last in line_ in this state, and marks "complete with the next byte".
RequestParser::Line RequestParser::take_header_line(std::string_view input, size_t& pos,
                                                    std::string_view& line) {
  if (!line_.empty() && line_.back() == '\r') {
    ++pos;
    line_.pop_back();
    line = line_;
    return Line::kComplete;
  }
  const char* start = input.data() + pos;
  const size_t avail = input.size() - pos;
  const auto* cr = static_cast<const char*>(std::memchr(start, '\r', avail));
  const size_t len = cr != nullptr ? static_cast<size_t>(cr - start) : avail;
  if (line_.size() + len > limits_.max_inline_bytes) return Line::kTooLong;
  if (cr == nullptr || len + 1 == avail) {
    line_.append(start, avail);  // the whole rest, with the \r if it is there
    pos = input.size();
    return Line::kNeedMore;
  }
  pos += len + 2;
  if (line_.empty()) {
    line = std::string_view(start, len);
  } else {
    line_.append(start, len);
    line = line_;
  }
  return Line::kComplete;
}

bool RequestParser::step_inline(std::string_view input, size_t& pos) {
  std::string_view line;
  switch (take_inline_line(input, pos, line)) {
    case Line::kTooLong:
      return fail("Protocol error: too big inline request");
    case Line::kNeedMore:
      return false;
    case Line::kComplete:
      break;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool ok = split_args(line, args_);
  line_.clear();
  if (!ok) return fail("Protocol error: unbalanced quotes in request");
  state_ = State::kStart;
  command_ready_ = !args_.empty();
  return command_ready_;
}

bool RequestParser::step_count(std::string_view input, size_t& pos) {
  std::string_view line;
  switch (take_header_line(input, pos, line)) {
    case Line::kTooLong:
      return fail("Protocol error: too big mbulk count string");
    case Line::kNeedMore:
      return false;
    case Line::kComplete:
      break;
  }
  CHORUS_ASSERT(!line.empty() && line[0] == '*');
  int64_t count = 0;
  const bool ok = parse_ll(line.substr(1), count);
  line_.clear();
  const auto max_args = std::min<uint64_t>(limits_.max_args, INT_MAX);
  if (!ok || (count > 0 && static_cast<uint64_t>(count) > max_args)) {
    return fail("Protocol error: invalid multibulk length");
  }
  if (count <= 0) {
    state_ = State::kStart;  // "*0" and "*-1" carry no command
    return false;
  }
  args_left_ = static_cast<size_t>(count);
  args_.reserve(std::min(args_left_, kEagerReserveArgs));
  state_ = State::kBulkHeader;
  return false;
}

bool RequestParser::step_bulk_header(std::string_view input, size_t& pos) {
  std::string_view line;
  switch (take_header_line(input, pos, line)) {
    case Line::kTooLong:
      return fail("Protocol error: too big bulk count string");
    case Line::kNeedMore:
      return false;
    case Line::kComplete:
      break;
  }
  if (line.empty() || line[0] != '$') {
    // An empty line means the \r came first: Redis prints that byte.
    const char got = line.empty() ? '\r' : line[0];
    return fail(std::string("Protocol error: expected '$', got '") + got + "'");
  }
  int64_t len = 0;
  const bool ok = parse_ll(line.substr(1), len);
  line_.clear();
  if (!ok || len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
    return fail("Protocol error: invalid bulk length");
  }
  bulk_left_ = static_cast<size_t>(len);
  trailer_left_ = 2;
  --args_left_;
  std::string& arg = args_.emplace_back();
  arg.reserve(std::min(bulk_left_, std::max(input.size() - pos, kEagerReserveBytes)));
  state_ = State::kBulkData;
  return false;
}

bool RequestParser::step_bulk_data(std::string_view input, size_t& pos) {
  const size_t data = std::min(bulk_left_, input.size() - pos);
  args_.back().append(input.data() + pos, data);
  arg_bytes_ += data;
  bulk_left_ -= data;
  pos += data;
  const size_t trailer = std::min(trailer_left_, input.size() - pos);
  trailer_left_ -= trailer;
  pos += trailer;
  if (bulk_left_ > 0 || trailer_left_ > 0) return false;  // the input ran out
  if (args_left_ > 0) {
    state_ = State::kBulkHeader;
    return false;
  }
  state_ = State::kStart;
  command_ready_ = true;
  return true;
}

ParseStatus RequestParser::parse(std::string_view input, size_t& consumed,
                                 std::vector<std::string>& argv) {
  consumed = 0;
  if (failed()) return ParseStatus::kError;
  size_t pos = 0;
  bool stop = false;
  while (!stop && pos < input.size()) {
    switch (state_) {
      case State::kStart:
        state_ = input[pos] == '*' ? State::kCount : State::kInline;
        break;
      case State::kInline:
        stop = step_inline(input, pos);
        break;
      case State::kCount:
        stop = step_count(input, pos);
        break;
      case State::kBulkHeader:
        stop = step_bulk_header(input, pos);
        break;
      case State::kBulkData:
        stop = step_bulk_data(input, pos);
        break;
    }
  }
  consumed = pos;
  if (failed()) return ParseStatus::kError;
  if (!command_ready_) {
    CHORUS_ASSERT(pos == input.size());
    return ParseStatus::kNeedMore;
  }
  command_ready_ = false;
  argv.swap(args_);
  args_.clear();
  arg_bytes_ = 0;
  return ParseStatus::kCommand;
}

void RequestParser::check_invariants() const {
  CHORUS_ASSERT(!command_ready_);
  if (failed()) {
    CHORUS_ASSERT(line_.empty() && args_.empty() && arg_bytes_ == 0);
    return;
  }
  CHORUS_ASSERT(line_.size() <= limits_.max_inline_bytes + 1, line_.size());
  size_t bytes = 0;
  for (const std::string& a : args_) bytes += a.size();
  CHORUS_ASSERT(bytes == arg_bytes_, bytes, " != ", arg_bytes_);
  switch (state_) {
    case State::kStart:
      CHORUS_ASSERT(line_.empty() && args_.empty());
      break;
    case State::kInline:
      CHORUS_ASSERT(args_.empty());
      break;
    case State::kCount:
      CHORUS_ASSERT(!line_.empty() && line_[0] == '*' && args_.empty());
      break;
    case State::kBulkHeader:
    case State::kBulkData:
      CHORUS_ASSERT(args_.size() + args_left_ <= limits_.max_args);
      CHORUS_ASSERT(state_ == State::kBulkData ? line_.empty() && !args_.empty() : args_left_ > 0);
      CHORUS_ASSERT(bulk_left_ <= limits_.max_bulk_bytes && trailer_left_ <= 2);
      break;
  }
}

}  // namespace chorus::resp
