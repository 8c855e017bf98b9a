#include "chorus/resp/split_args.h"

namespace chorus::resp {
namespace {

// C isspace() in the "C" locale, without its undefined behaviour for bytes >= 0x80.
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

enum class Quote { kNone, kDouble, kSingle };

// Reads one argument starting at `i` (not a blank); leaves `i` past its terminator. False on
// unbalanced quotes. `at(k)` is the byte at k, or NUL past the end, which mirrors the C string
// walk of sdssplitargs so every edge case (a backslash last in the line, ...) matches it.
bool read_argument(std::string_view line, size_t& i, std::string& arg) {
  const size_t n = line.size();
  auto at = [&](size_t k) { return k < n ? line[k] : '\0'; };
  Quote quote = Quote::kNone;
  for (bool done = false; !done; i += i < n ? 1 : 0) {
    const char c = at(i);
    if (quote == Quote::kDouble) {
      if (c == '\\' && at(i + 1) == 'x' && hex_value(at(i + 2)) >= 0 && hex_value(at(i + 3)) >= 0) {
        arg.push_back(static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
        i += 3;
      } else if (c == '\\' && at(i + 1) != '\0') {
        arg.push_back(unescape(line[++i]));
      } else if (c == '"') {
        if (at(i + 1) != '\0' && !is_blank(at(i + 1))) return false;
        done = true;
      } else if (c == '\0') {
        return false;
      } else {
        arg.push_back(c);
      }
    } else if (quote == Quote::kSingle) {
      if (c == '\\' && at(i + 1) == '\'') {
        arg.push_back('\'');
        ++i;
      } else if (c == '\'') {
        if (at(i + 1) != '\0' && !is_blank(at(i + 1))) return false;
        done = true;
      } else if (c == '\0') {
        return false;
      } else {
        arg.push_back(c);
      }
    } else {
      switch (c) {
        case ' ':
        case '\n':
        case '\r':
        case '\t':
        case '\0':
          done = true;
          break;
        case '"':
          quote = Quote::kDouble;
          break;
        case '\'':
          quote = Quote::kSingle;
          break;
        default: {
          // Fast path: the run of plain bytes up to the next special one, in one append.
          size_t end = i + 1;
          while (end < n && line[end] != ' ' && line[end] != '\n' && line[end] != '\r' &&
                 line[end] != '\t' && line[end] != '"' && line[end] != '\'') {
            ++end;
          }
          arg.append(line.substr(i, end - i));
          i = end - 1;
        }
      }
    }
  }
  return true;
}

}  // namespace

bool split_args(std::string_view line, std::vector<std::string>& out) {
  line = line.substr(0, line.find('\0'));
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i == line.size()) return true;
    std::string arg;
    if (!read_argument(line, i, arg)) return false;
    out.push_back(std::move(arg));
  }
}

std::optional<std::vector<std::string>> split_args(std::string_view line) {
  std::vector<std::string> out;
  if (!split_args(line, out)) return std::nullopt;
  return out;
}

}  // namespace chorus::resp
