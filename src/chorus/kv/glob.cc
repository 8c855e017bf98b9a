#include "chorus/kv/glob.h"

#include <cstddef>
#include <utility>

namespace chorus::kv {
namespace {

constexpr int kMaxNesting = 1000;

// Bytes as C's (signed) char, ASCII-lowered when matching without case: Redis compares this way.
int lower(int v) { return (v >= 'A' && v <= 'Z') ? v + ('a' - 'A') : v; }

int byte_of(char c, bool nocase) {
  const int v = static_cast<signed char>(c);
  return nocase ? lower(v) : v;
}

// A port of Redis's matcher over indexes instead of pointers. Redis reads one byte past the
// pattern in places (its strings end with a NUL): at() returns '\0' there, so the results are the
// same and every read stays in bounds.
class Matcher {
 public:
  Matcher(std::string_view pattern, std::string_view s, bool nocase)
      : pat_(pattern), str_(s), nocase_(nocase) {}

  bool match(size_t p, size_t s, int nesting) {
    if (nesting > kMaxNesting) return false;
    while (p < pat_.size() && s < str_.size()) {
      switch (pat_[p]) {
        case '*':
          while (p < pat_.size() && at(p + 1) == '*') ++p;
          if (pat_.size() - p == 1) return true;
          for (; s < str_.size(); ++s) {
            if (match(p + 1, s, nesting + 1)) return true;
            // The rest of the pattern matched nowhere in the rest of the string: trying a longer
            // match for an earlier '*' cannot help either.
            if (skip_longer_) return false;
          }
          skip_longer_ = true;
          return false;
        case '?':
          ++s;
          break;
        case '[':
          if (!match_class(p, s)) return false;
          ++s;
          break;
        case '\\':
          if (pat_.size() - p >= 2) ++p;
          [[fallthrough]];
        default:
          if (byte_of(pat_[p], nocase_) != byte_of(str_[s], nocase_)) return false;
          ++s;
          break;
      }
      ++p;
      if (s == str_.size()) {
        while (p < pat_.size() && pat_[p] == '*') ++p;
        break;
      }
    }
    return p == pat_.size() && s == str_.size();
  }

 private:
  char at(size_t i) const { return i < pat_.size() ? pat_[i] : '\0'; }

  // A [...] class at pat_[p] against str_[s]. Leaves p on the closing ']' (or on the last
  // pattern byte when there is none), for the caller's ++p.
  bool match_class(size_t& p, size_t s) {
    const int c = byte_of(str_[s], nocase_);
    ++p;
    const bool negate = at(p) == '^';
    if (negate) ++p;
    bool matched = false;
    while (true) {
      const size_t left = pat_.size() - p;
      if (at(p) == '\\' && left >= 2) {
        ++p;
        if (byte_of(pat_[p], nocase_) == c) matched = true;
      } else if (at(p) == ']') {
        break;
      } else if (left == 0) {
        --p;  // unterminated: the class is the rest of the pattern
        break;
      } else if (left >= 3 && at(p + 1) == '-') {
        // Redis swaps reversed bounds before lowering them; so do we.
        int lo = byte_of(pat_[p], false);
        int hi = byte_of(pat_[p + 2], false);
        if (lo > hi) std::swap(lo, hi);
        if (nocase_) {
          lo = lower(lo);
          hi = lower(hi);
        }
        p += 2;
        if (c >= lo && c <= hi) matched = true;
      } else if (byte_of(pat_[p], nocase_) == c) {
        matched = true;
      }
      ++p;
    }
    return negate ? !matched : matched;
  }

  std::string_view pat_;
  std::string_view str_;
  bool nocase_;
  bool skip_longer_ = false;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view s, bool nocase) {
  Matcher m(pattern, s, nocase);
  return m.match(0, 0, 0);
}

}  // namespace chorus::kv
