// CHORUS_ASSERT: invariants that must hold. On in every build type, including release:
// a broken invariant in a storage system must stop the process, not corrupt data quietly.
#pragma once

#include <sstream>
#include <string>

namespace chorus::detail {

[[noreturn]] void assert_failed(const char* expr, const char* file, int line,
                                const std::string& message);

template <typename... Args>
std::string assert_message(const Args&... args) {
  if constexpr (sizeof...(args) == 0) {
    return {};
  } else {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
  }
}

}  // namespace chorus::detail

#define CHORUS_ASSERT(cond, ...)                                                      \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      ::chorus::detail::assert_failed(#cond, __FILE__, __LINE__,                      \
                                      ::chorus::detail::assert_message(__VA_ARGS__)); \
    }                                                                                 \
  } while (0)

// A state that must never be reached.
#define CHORUS_UNREACHABLE(...)                                      \
  ::chorus::detail::assert_failed("unreachable", __FILE__, __LINE__, \
                                  ::chorus::detail::assert_message(__VA_ARGS__))
