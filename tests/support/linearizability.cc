#include "support/linearizability.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "chorus/base/assert.h"
#include "support/wgl_search.h"

namespace chorus::lincheck {
namespace {

// A per-key search needs its operation and event indices in int32 slots; far beyond any history
// a test produces, and checked rather than assumed.
constexpr size_t kMaxOpsPerKey = size_t{1} << 28;

using detail::Effect;
using detail::SearchOp;
using detail::value_text;

std::string outcome_text(const Operation& op) {
  switch (op.outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kCasMismatch:
      return "mismatch";
    case Outcome::kIndeterminate:
      return "info";
  }
  return "?";
}

// Empty when `op` is well formed; otherwise why not.
std::string invalid_reason(const Operation& op) {
  if (op.outcome == Outcome::kCasMismatch && op.kind != OpKind::kCas) {
    return "only a cas can end in kCasMismatch";
  }
  if (op.kind == OpKind::kWrite && op.outcome != Outcome::kFail && !op.value) {
    return "a write needs a value";
  }
  const bool definite = op.outcome == Outcome::kOk || op.outcome == Outcome::kCasMismatch;
  if (definite && op.return_time < op.call_time) return "returns before it is called";
  return {};
}

// Turns a well-formed operation into what the search sees, or nullopt when it cannot constrain
// the history: a definite failure did not happen, and an indeterminate read observed nothing.
std::optional<SearchOp> to_search_op(const Operation& op) {
  if (op.outcome == Outcome::kFail) return std::nullopt;
  if (op.kind == OpKind::kRead && op.outcome == Outcome::kIndeterminate) return std::nullopt;
  // Only the fields that the kind uses are copied: the search groups equal operations.
  SearchOp s{.source = &op};
  s.indeterminate = op.outcome == Outcome::kIndeterminate;
  switch (op.kind) {
    case OpKind::kRead:
      s.effect = Effect::kRead;
      s.value = op.value;
      break;
    case OpKind::kWrite:
      s.effect = Effect::kWrite;
      s.value = op.value;
      break;
    case OpKind::kCas:
      s.effect = op.outcome == Outcome::kCasMismatch ? Effect::kCasMismatch : Effect::kCas;
      s.from = op.from;
      s.to = op.to;
      break;
  }
  return s;
}

// A definite read or cas that needs the register to hold a value that no operation on the key
// ever writes cannot be linearized, whatever the order. Finding it up front answers the commonest
// corruption at once, even where pending indeterminate writes would make the search exhaustive.
std::optional<std::string> impossible_observation(const std::vector<SearchOp>& ops) {
  std::vector<int64_t> written;
  for (const SearchOp& op : ops) {
    if (op.effect == Effect::kWrite) written.push_back(*op.value);
    if (op.effect == Effect::kCas) written.push_back(op.to);
  }
  std::sort(written.begin(), written.end());
  auto never_written = [&](int64_t v) {
    return !std::binary_search(written.begin(), written.end(), v);
  };
  for (const SearchOp& op : ops) {
    if (op.indeterminate) continue;  // it may simply never have happened
    std::optional<int64_t> needed;
    if (op.effect == Effect::kRead) needed = op.value;
    if (op.effect == Effect::kCas) needed = op.from;
    if (needed && never_written(*needed)) {
      return "key " + std::string(op.source->key) +
             " is not linearizable: " + describe(*op.source) + " needs the register to hold " +
             std::to_string(*needed) + ", a value no operation on this key writes.\n";
    }
  }
  return std::nullopt;
}

void sort_by_call(std::vector<SearchOp>& ops) {
  std::stable_sort(ops.begin(), ops.end(), [](const SearchOp& a, const SearchOp& b) {
    return a.source->call_time < b.source->call_time;
  });
}

}  // namespace

namespace detail {

std::string value_text(const Value& value) {
  return value ? std::to_string(*value) : std::string("missing");
}

}  // namespace detail

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown";
    case Verdict::kInvalidHistory:
      return "invalid history";
  }
  return "?";
}

std::string describe(const Operation& op) {
  std::ostringstream out;
  out << "p" << op.process << " ";
  switch (op.kind) {
    case OpKind::kRead:
      out << "read " << op.key;
      if (op.outcome == Outcome::kOk) out << " -> " << value_text(op.value);
      break;
    case OpKind::kWrite:
      out << "write " << op.key << " " << value_text(op.value);
      break;
    case OpKind::kCas:
      out << "cas " << op.key << " " << op.from << "->" << op.to;
      break;
  }
  out << " " << outcome_text(op) << " [t=" << op.call_time << "..";
  if (op.outcome != Outcome::kIndeterminate) out << op.return_time;
  out << "]";
  return out.str();
}

CheckResult check_linearizable(const std::vector<Operation>& history, const CheckOptions& options) {
  CheckResult result;
  std::map<std::string_view, std::vector<SearchOp>> by_key;
  for (const Operation& op : history) {
    if (std::string reason = invalid_reason(op); !reason.empty()) {
      result.verdict = Verdict::kInvalidHistory;
      result.key = op.key;
      result.explanation = describe(op) + ": " + reason;
      return result;
    }
    std::vector<SearchOp>& ops = by_key[op.key];
    if (std::optional<SearchOp> search_op = to_search_op(op)) ops.push_back(*search_op);
  }
  result.keys = by_key.size();

  std::optional<CheckResult> unknown;
  for (auto& [key, ops] : by_key) {
    if (ops.size() > kMaxOpsPerKey) {
      result.verdict = Verdict::kInvalidHistory;
      result.key = key;
      result.explanation = "more than " + std::to_string(kMaxOpsPerKey) + " operations on one key";
      return result;
    }
    result.ops_searched += ops.size();
    if (std::optional<std::string> why = impossible_observation(ops)) {
      result.verdict = Verdict::kNotLinearizable;
      result.key = key;
      result.explanation = std::move(*why);
      return result;
    }
    sort_by_call(ops);
    detail::KeyResult key_result = detail::search_key(key, ops, options);
    // Each of the two passes may overshoot by the state that crossed the bound.
    CHORUS_ASSERT(key_result.states <= options.max_states_per_key + 2, "the bound was ignored");
    result.states_explored += key_result.states;
    if (key_result.verdict == Verdict::kNotLinearizable) {
      result.verdict = key_result.verdict;
      result.key = key;
      result.explanation = std::move(key_result.explanation);
      return result;
    }
    if (key_result.verdict == Verdict::kUnknown && !unknown) {
      unknown = CheckResult{.verdict = Verdict::kUnknown,
                            .key = std::string(key),
                            .explanation = std::move(key_result.explanation)};
    }
  }
  if (unknown) {
    result.verdict = Verdict::kUnknown;
    result.key = std::move(unknown->key);
    result.explanation = std::move(unknown->explanation);
  }
  return result;
}

}  // namespace chorus::lincheck
