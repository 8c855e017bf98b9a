// datadriven: golden-file tests in the style of cockroachdb/datadriven (as etcd-io/raft uses
// them). A test file is a story a reviewer reads top to bottom: comments, then commands, each
// followed by `----` and the output it must produce.
//
//   # Comment lines (and blank lines) are kept as they are.
//   command pos1 pos2 key=value key=(a,b,c) "quoted positional"
//   optional input lines, up to the separator
//   ----
//   expected output, up to the next blank line (outputs never contain blank lines)
//
// Run with CHORUS_REWRITE=1 in the environment to regenerate every expected output from what
// the code does now; `git diff` then shows exactly what changed, for review.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chorus::datadriven {

// One argument: `key=value`, `key=(a,b)` or a positional `value` / `(a,b)` (empty key).
struct Arg {
  std::string key;
  std::vector<std::string> values;
};

struct Command {
  std::string file;
  int line = 0;      // 1-based line of the command
  std::string text;  // the command line as written
  std::string name;  // first word
  std::vector<Arg> args;
  std::vector<std::string> input;  // lines between the command and `----`
  std::string expected;

  // Positional arguments (those without a key), in order; a list counts as one.
  std::vector<const Arg*> positional() const;
  const Arg* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // The single value of `key`, or `fallback` if absent.
  std::string get(const std::string& key, const std::string& fallback) const;
  // "file:line: text", for error messages.
  std::string where() const;
};

// Splits a command line into name and arguments; nullopt (and `error`) if it is malformed
// (unbalanced parentheses or quotes).
std::optional<Command> parse_command_line(const std::string& line, std::string* error);

struct Mismatch {
  Command command;
  std::string actual;
};

struct FileResult {
  std::vector<Mismatch> mismatches;
  std::string error;  // a malformed file
  bool rewritten = false;
};

// Runs every command of `path` through `handler` and compares its output with the expected
// one (an empty output reads "ok"). With `rewrite`, writes the actual outputs back instead.
FileResult run_file(const std::string& path,
                    const std::function<std::string(const Command&)>& handler, bool rewrite);

// Whether CHORUS_REWRITE=1 is set.
bool rewrite_requested();

}  // namespace chorus::datadriven
