#include "chorus/resp/reply_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>

namespace chorus::resp {
namespace {

enum class Step { kOk, kNeedMore, kError };

// The smallest encoded value ("_\r\n"): an aggregate of n elements needs at least 3n bytes.
constexpr size_t kMinValueBytes = 3;

class Reader {
 public:
  Reader(std::string_view buf, const ReplyLimits& limits) : buf_(buf), limits_(limits) {}

  Step read_value(Value& out, size_t depth);
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  Step fail(std::string message) {
    error_ = std::move(message);
    return Step::kError;
  }
  size_t remaining() const { return buf_.size() - pos_; }

  Step read_line(std::string_view& line);
  Step read_int(int64_t& n);
  Step read_blob(size_t len, std::string& out);
  Step read_elements(size_t count, Value& out, size_t depth);
  Step skip_attribute(size_t depth);
  Step read_typed(char type, Value& out, size_t depth);

  std::string_view buf_;
  size_t pos_ = 0;
  const ReplyLimits& limits_;
  std::string error_;
};

// A line ends at the first \r, which must be followed by \n.
Step Reader::read_line(std::string_view& line) {
  const char* start = buf_.data() + pos_;
  const auto* cr = static_cast<const char*>(std::memchr(start, '\r', remaining()));
  const size_t len = cr != nullptr ? static_cast<size_t>(cr - start) : remaining();
  if (len > limits_.max_line_bytes)
    return fail("line longer than " + std::to_string(limits_.max_line_bytes));
  if (cr == nullptr || len + 1 == remaining()) return Step::kNeedMore;
  if (cr[1] != '\n') return fail("\\r not followed by \\n");
  line = std::string_view(start, len);
  pos_ += len + 2;
  return Step::kOk;
}

Step Reader::read_int(int64_t& n) {
  std::string_view line;
  if (Step s = read_line(line); s != Step::kOk) return s;
  if (line == "?") return fail("streamed RESP3 types are not supported");
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (line.empty() || ec != std::errc() || end != line.data() + line.size()) {
    return fail("invalid integer '" + std::string(line.substr(0, 32)) + "'");
  }
  return Step::kOk;
}

// `len` bytes then \r\n. The length is checked against the bytes here before the copy.
Step Reader::read_blob(size_t len, std::string& out) {
  if (len > limits_.max_bulk_bytes) return fail("bulk length " + std::to_string(len));
  if (remaining() < len + 2) return Step::kNeedMore;
  if (buf_[pos_ + len] != '\r' || buf_[pos_ + len + 1] != '\n') {
    return fail("bulk not followed by \\r\\n");
  }
  out.assign(buf_.data() + pos_, len);
  pos_ += len + 2;
  return Step::kOk;
}

Step Reader::read_elements(size_t count, Value& out, size_t depth) {
  if (count > remaining() / kMinValueBytes) {
    // Too few bytes for that many values: either more are coming or the count lies. Either way,
    // nothing is allocated for it yet.
    return Step::kNeedMore;
  }
  out.elements.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (Step s = read_value(out.elements.emplace_back(), depth + 1); s != Step::kOk) return s;
  }
  return Step::kOk;
}

Step Reader::skip_attribute(size_t depth) {
  int64_t n = 0;
  if (Step s = read_int(n); s != Step::kOk) return s;
  if (n < 0) return fail("negative attribute count");
  Value ignored;
  return read_elements(2 * static_cast<size_t>(n), ignored, depth);
}

Step Reader::read_typed(char type, Value& out, size_t depth) {
  std::string_view line;
  int64_t n = 0;
  switch (type) {
    case '+':
    case '-':
    case ',':
    case '(':
      if (Step s = read_line(line); s != Step::kOk) return s;
      out.type = type == '+'   ? Type::kSimpleString
                 : type == '-' ? Type::kError
                 : type == ',' ? Type::kDouble
                               : Type::kBulkString;  // a big number, kept as its digits
      out.str.assign(line);
      return Step::kOk;
    case ':':
      out.type = Type::kInteger;
      return read_int(out.integer);
    case '_':
      if (Step s = read_line(line); s != Step::kOk) return s;
      if (!line.empty()) return fail("null with a payload");
      out.type = Type::kNull;
      return Step::kOk;
    case '#':
      if (Step s = read_line(line); s != Step::kOk) return s;
      if (line != "t" && line != "f") return fail("boolean neither t nor f");
      out.type = Type::kBoolean;
      out.integer = line == "t" ? 1 : 0;
      return Step::kOk;
    case '$':
    case '!':
    case '=': {
      if (Step s = read_int(n); s != Step::kOk) return s;
      if (type == '$' && n == -1) {
        out.type = Type::kNull;
        return Step::kOk;
      }
      if (n < 0) return fail("negative length " + std::to_string(n));
      out.type = type == '$' ? Type::kBulkString : type == '!' ? Type::kError : Type::kVerbatim;
      if (Step s = read_blob(static_cast<size_t>(n), out.str); s != Step::kOk) return s;
      if (type == '=') {
        if (out.str.size() < 4 || out.str[3] != ':') return fail("verbatim without a format");
        out.str.erase(0, 4);
      }
      return Step::kOk;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      if (Step s = read_int(n); s != Step::kOk) return s;
      if (type == '*' && n == -1) {
        out.type = Type::kNullArray;
        return Step::kOk;
      }
      if (n < 0) return fail("negative count " + std::to_string(n));
      out.type = type == '*'   ? Type::kArray
                 : type == '%' ? Type::kMap
                 : type == '~' ? Type::kSet
                               : Type::kPush;
      const auto count = static_cast<size_t>(n);
      if (type == '%' && count > remaining()) return Step::kNeedMore;  // 2 * count cannot wrap
      return read_elements(type == '%' ? 2 * count : count, out, depth);
    }
    default:
      return fail("unknown reply type byte " + std::to_string(static_cast<unsigned char>(type)));
  }
}

Step Reader::read_value(Value& out, size_t depth) {
  if (depth > limits_.max_depth) return fail("replies nested deeper than the limit");
  // Attributes are metadata about the next value: skipped in a loop, so a long run of them
  // cannot deepen the recursion.
  while (true) {
    if (remaining() == 0) return Step::kNeedMore;
    const char type = buf_[pos_++];
    if (type != '|') return read_typed(type, out, depth);
    if (Step s = skip_attribute(depth); s != Step::kOk) return s;
  }
}

}  // namespace

Result<std::optional<ParsedReply>> parse_reply(std::string_view buffer, const ReplyLimits& limits) {
  Reader reader(buffer, limits);
  ParsedReply reply;
  switch (reader.read_value(reply.value, 0)) {
    case Step::kNeedMore:
      return std::optional<ParsedReply>();
    case Step::kError:
      return Status::Corruption("resp reply at byte " + std::to_string(reader.pos()) + ": " +
                                reader.error());
    case Step::kOk:
      break;
  }
  reply.consumed = reader.pos();
  return std::optional<ParsedReply>(std::move(reply));
}

}  // namespace chorus::resp
