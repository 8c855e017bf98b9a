// split_args: Redis's sdssplitargs, the rules that cut an inline command (and a line typed at
// redis-cli) into arguments.
//
//   - Arguments are separated by blanks (space, \t, \n, \v, \f, \r). An unquoted argument ends
//     at a space, \t, \n or \r (\v and \f are kept inside it, as Redis does).
//   - "double quotes": \n \r \t \b \a map to their control characters, \xHH (two hex digits) to
//     that byte, \ before any other character to that character.
//   - 'single quotes': only \' is an escape; every other byte is literal.
//   - A quote may start in the middle of an argument (foo"bar baz" is one argument, `foobar baz`)
//     but a closing quote must be followed by a blank or the end of the line.
//   - A NUL byte ends the line, as in the C string Redis hands to sdssplitargs.
// A missing closing quote, or a closing quote followed by something else, fails the whole line
// (Redis: "Protocol error: unbalanced quotes in request").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::resp {

// Appends the arguments of `line` to `out`; false (with `out` partly appended) on unbalanced
// quotes.
[[nodiscard]] bool split_args(std::string_view line, std::vector<std::string>& out);
std::optional<std::vector<std::string>> split_args(std::string_view line);

}  // namespace chorus::resp
