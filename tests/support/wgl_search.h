// Internal to the linearizability checker (support/linearizability.h): the search over one key's
// operations, apart from the partitioning, validation and reporting around it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/linearizability.h"

namespace chorus::lincheck::detail {

// How an operation acts on the register once it is in the search. A cas that failed its
// precondition becomes a read with a negative condition; definite failures and indeterminate
// reads never get here.
enum class Effect : uint8_t { kRead, kWrite, kCas, kCasMismatch };

struct SearchOp {
  Effect effect = Effect::kRead;
  Value value = std::nullopt;  // kRead: the value observed; kWrite: the value written
  int64_t from = 0;
  int64_t to = 0;
  // Optional: may be linearized at any point after its call, or never (Outcome::kIndeterminate).
  bool indeterminate = false;
  const Operation* source = nullptr;  // for reports
};

struct KeyResult {
  Verdict verdict = Verdict::kLinearizable;  // never kInvalidHistory
  std::string explanation;
  uint64_t states = 0;
};

// `ops` are one key's operations, sorted by call time.
KeyResult search_key(std::string_view key, const std::vector<SearchOp>& ops,
                     const CheckOptions& options);

// "3", or "missing".
std::string value_text(const Value& value);

}  // namespace chorus::lincheck::detail
