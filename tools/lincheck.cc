// chorus-lincheck: checks a client history (JSON lines, see tests/support/history_jsonl.h) for
// linearizability, so that runs of real processes get the same checker as the simulator.
//
// Exit status: 0 linearizable, 1 not linearizable (the key and why on stdout), 2 usage or
// malformed input, 3 unknown (the search bound was hit; raise --max-states).
#include <charconv>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/history_jsonl.h"
#include "support/linearizability.h"

namespace {

constexpr int kExitLinearizable = 0;
constexpr int kExitNotLinearizable = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitUnknown = 3;

int usage() {
  std::cerr << "usage: chorus-lincheck [--max-states=N] <history.jsonl>\n"
               "  one event per line: {\"process\":0,\"type\":\"invoke|ok|fail|info\","
               "\"f\":\"read|write|cas\",\"key\":k,\"value\":v}\n"
               "  exit 0 linearizable, 1 not, 2 malformed input, 3 unknown (bound hit)\n";
  return kExitBadInput;
}

int run(int argc, char** argv) {
  chorus::lincheck::CheckOptions options;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    constexpr std::string_view kMaxStates = "--max-states=";
    if (arg.starts_with(kMaxStates)) {
      const std::string_view digits = arg.substr(kMaxStates.size());
      const auto [end, error] =
          std::from_chars(digits.data(), digits.data() + digits.size(), options.max_states_per_key);
      if (error != std::errc() || end != digits.data() + digits.size()) return usage();
    } else if (arg.starts_with("-") || !path.empty()) {
      return usage();
    } else {
      path = arg;
    }
  }
  if (path.empty()) return usage();

  std::ifstream in(path);
  if (!in) {
    std::cerr << "chorus-lincheck: cannot open " << path << "\n";
    return kExitBadInput;
  }
  auto history = chorus::lincheck::parse_history_jsonl(in);
  if (!history.ok()) {
    std::cerr << "chorus-lincheck: " << path << ": " << history.status().message() << "\n";
    return kExitBadInput;
  }

  const chorus::lincheck::CheckResult result = check_linearizable(*history, options);
  std::cout << chorus::lincheck::verdict_name(result.verdict) << ": " << history->size()
            << " operations, " << result.keys << " keys, " << result.ops_searched << " searched, "
            << result.states_explored << " states\n";
  switch (result.verdict) {
    case chorus::lincheck::Verdict::kLinearizable:
      return kExitLinearizable;
    case chorus::lincheck::Verdict::kNotLinearizable:
      std::cout << "key: " << result.key << "\n"
                << result.explanation << "(Times t=a..b are line numbers in " << path << ".)\n";
      return kExitNotLinearizable;
    case chorus::lincheck::Verdict::kUnknown:
      std::cout << "key: " << result.key << "\n" << result.explanation;
      return kExitUnknown;
    case chorus::lincheck::Verdict::kInvalidHistory:
      std::cerr << "chorus-lincheck: " << path << ": " << result.explanation << "\n";
      return kExitBadInput;
  }
  return kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  // The library does not throw; this keeps an allocation failure or a JSON library surprise
  // from ending in std::terminate with no message.
  try {
    return run(argc, argv);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "chorus-lincheck: malformed input: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "chorus-lincheck: " << e.what() << "\n";
  }
  return kExitBadInput;
}
