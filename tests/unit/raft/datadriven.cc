#include "datadriven.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace chorus::datadriven {
namespace {

constexpr std::string_view kSeparator = "----";

std::vector<std::string> read_lines(const std::string& path, bool* ok) {
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t") == std::string::npos;
}

std::vector<std::string> split_list(const std::string& inner) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(inner);
  while (std::getline(in, item, ',')) {
    const size_t b = item.find_first_not_of(" \t");
    const size_t e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}

// A value as written: `(a,b)` is a list, `"x y"` a quoted string, anything else one word.
std::vector<std::string> parse_value(const std::string& v) {
  if (v.size() >= 2 && v.front() == '(' && v.back() == ')') {
    return split_list(v.substr(1, v.size() - 2));
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return {v.substr(1, v.size() - 2)};
  return {v};
}

}  // namespace

std::vector<const Arg*> Command::positional() const {
  std::vector<const Arg*> out;
  for (const Arg& a : args) {
    if (a.key.empty()) out.push_back(&a);
  }
  return out;
}

const Arg* Command::find(const std::string& key) const {
  for (const Arg& a : args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

std::string Command::get(const std::string& key, const std::string& fallback) const {
  const Arg* a = find(key);
  return a == nullptr || a->values.empty() ? fallback : a->values.front();
}

std::string Command::where() const {
  std::ostringstream out;
  out << file << ":" << line << ": " << text;
  return out.str();
}

std::optional<Command> parse_command_line(const std::string& line, std::string* error) {
  // Tokens split on blanks outside parentheses and quotes.
  std::vector<std::string> tokens;
  std::string token;
  int depth = 0;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    if (!quoted && ch == '(') ++depth;
    if (!quoted && ch == ')') --depth;
    if (depth < 0) {
      *error = "unbalanced ')'";
      return std::nullopt;
    }
    if (!quoted && depth == 0 && (ch == ' ' || ch == '\t')) {
      if (!token.empty()) tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    token.push_back(ch);
  }
  if (quoted || depth != 0) {
    *error = quoted ? "unterminated quote" : "unbalanced '('";
    return std::nullopt;
  }
  if (!token.empty()) tokens.push_back(std::move(token));
  if (tokens.empty()) {
    *error = "empty command";
    return std::nullopt;
  }
  Command cmd;
  cmd.text = line;
  cmd.name = tokens.front();
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    const size_t eq = t.find('=');
    const bool keyed = eq != std::string::npos && t.front() != '"' && t.front() != '(';
    if (keyed) {
      cmd.args.push_back(Arg{t.substr(0, eq), parse_value(t.substr(eq + 1))});
    } else {
      cmd.args.push_back(Arg{"", parse_value(t)});
    }
  }
  return cmd;
}

FileResult run_file(const std::string& path,
                    const std::function<std::string(const Command&)>& handler, bool rewrite) {
  FileResult result;
  bool ok = false;
  const std::vector<std::string> lines = read_lines(path, &ok);
  if (!ok) {
    result.error = "cannot read " + path;
    return result;
  }
  std::ostringstream rewritten;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (is_blank(line) || line.front() == '#') {
      rewritten << line << "\n";
      ++i;
      continue;
    }
    std::string error;
    std::optional<Command> cmd = parse_command_line(line, &error);
    if (!cmd) {
      result.error = path + ":" + std::to_string(i + 1) + ": " + error;
      return result;
    }
    cmd->file = path;
    cmd->line = static_cast<int>(i + 1);
    rewritten << line << "\n";
    for (++i; i < lines.size() && lines[i] != kSeparator; ++i) {
      if (is_blank(lines[i])) break;
      cmd->input.push_back(lines[i]);
      rewritten << lines[i] << "\n";
    }
    if (i == lines.size() || lines[i] != kSeparator) {
      result.error = cmd->where() + ": missing '----' after the command";
      return result;
    }
    ++i;  // the separator
    std::string expected;
    for (; i < lines.size() && !is_blank(lines[i]); ++i) expected += lines[i] + "\n";
    cmd->expected = expected;

    std::string actual = handler(*cmd);
    while (!actual.empty() && actual.back() == '\n') actual.pop_back();
    if (actual.empty()) actual = "ok";
    // An output must not contain a blank line: it would end the block when read back.
    std::string clean;
    std::istringstream in(actual);
    for (std::string out_line; std::getline(in, out_line);) {
      clean += (is_blank(out_line) ? std::string("<blank>") : out_line) + "\n";
    }
    rewritten << kSeparator << "\n" << clean;
    if (clean != expected) result.mismatches.push_back({*cmd, clean});
  }
  if (rewrite && !result.mismatches.empty()) {
    std::ofstream out(path, std::ios::trunc);
    out << rewritten.str();
    result.rewritten = static_cast<bool>(out);
    if (!result.rewritten) result.error = "cannot rewrite " + path;
  }
  return result;
}

bool rewrite_requested() {
  const char* v = std::getenv("CHORUS_REWRITE");
  return v != nullptr && std::string_view(v) == "1";
}

}  // namespace chorus::datadriven
