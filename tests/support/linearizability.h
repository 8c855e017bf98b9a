// Linearizability checking for client histories of read / write / cas on a key-value store.
//
// A history is what the clients saw: for every operation, when it was called, when it returned
// and what it returned. The history is linearizable if every operation that took effect can be
// given one instant between its call and its return such that, in the order of those instants,
// every key behaves like a single register that starts out missing (Herlihy & Wing 1990).
//
// The check:
//  - splits the history by key. Linearizability is local (Herlihy & Wing, Theorem 1): a history
//    of independent registers is linearizable iff each register's sub-history is, and each
//    sub-history is far cheaper to search than the whole.
//  - searches each key with the Wing & Gong algorithm as refined by Lowe ("Testing for
//    linearizability", 2017) and laid out as in Porcupine: a depth-first search over a linked
//    list of call and return events that "lifts" an operation out when it is linearized and puts
//    it back on backtrack, and never explores a (set of linearized operations, register value)
//    pair twice. On top of that (wgl_search.cc): a legal read is taken at once rather than
//    branched on; timed-out operations are only tried where something observes their effect, and
//    identical ones only in call order; and a first, relaxed pass that lets each of them take
//    effect any number of times proves most failures cheaply.
//  - is bounded: past CheckOptions::max_states_per_key it answers kUnknown, never a guess.
//
// Outcomes follow Jepsen / Maelstrom: a definite failure did not happen and is ignored; an
// indeterminate operation (timeout, crash) may have taken effect at any instant after its call,
// or never, and the search is free to choose either.
//
// Workloads check best with distinct written values (e.g. a per-client counter): a read then
// names the write it saw, and a failure is proven quickly. With a handful of values, ten clients
// and thousands of operations per key, a verdict still takes well under a second when the
// history is linearizable and about a second when it is not (see the tests for the figures).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::lincheck {

// A register's content: nullopt while the key does not exist (every key starts missing).
using Value = std::optional<int64_t>;

enum class OpKind : uint8_t { kRead, kWrite, kCas };

enum class Outcome : uint8_t {
  // Took effect exactly once, between call_time and return_time. For a read, `value` is what it
  // observed; for a cas, the register held `from` and now holds `to`.
  kOk,
  // Definite: did not take effect (unavailable, not leader, aborted). Ignored by the check.
  kFail,
  // cas only, definite: it did take effect, as a read that saw a value other than `from`, or a
  // missing key (Maelstrom's precondition-failed / key-does-not-exist). Unlike kFail this
  // constrains the history: a store that refuses a cas whose `from` was current is wrong.
  kCasMismatch,
  // Timeout or crash: took effect at some instant after call_time, or never. return_time is
  // ignored (it is infinite). An indeterminate read carries no information and is ignored.
  kIndeterminate,
};

struct Operation {
  int process = 0;  // the client, only for messages
  OpKind kind = OpKind::kRead;
  std::string key;
  // write: the value written (required). read with kOk: the value observed, nullopt = missing.
  Value value = std::nullopt;
  int64_t from = 0;  // cas: the expected value
  int64_t to = 0;    // cas: the new value
  // Any monotonic clock shared by all clients. a precedes b iff a.return_time < b.call_time:
  // equal times count as concurrent, so a coarse clock can only make the check more lenient.
  uint64_t call_time = 0;
  uint64_t return_time = 0;
  Outcome outcome = Outcome::kOk;
};

struct CheckOptions {
  // Configurations (linearized set, register value) the search may visit per key before it gives
  // up with kUnknown. Each costs about 130 bytes, so the default bounds memory near 256 MB;
  // a few thousand operations with ten clients need well under a million.
  uint64_t max_states_per_key = 2'000'000;
  // How many operations of the longest linearizable prefix a failure report shows.
  int explain_prefix_ops = 8;
};

enum class Verdict : uint8_t {
  kLinearizable,
  kNotLinearizable,
  kUnknown,         // the search hit max_states_per_key on some key and no key failed
  kInvalidHistory,  // an operation is malformed (e.g. returns before its call); see explanation
};

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;
  std::string key;               // the key that failed, was unknown or invalid; empty when ok
  std::string explanation;       // human-readable, several lines; empty when ok
  uint64_t keys = 0;             // distinct keys seen
  uint64_t ops_searched = 0;     // operations that entered a search (definite failures excluded)
  uint64_t states_explored = 0;  // configurations visited, summed over keys

  bool ok() const { return verdict == Verdict::kLinearizable; }
};

std::string_view verdict_name(Verdict verdict);

// "p3 cas k 1->2 ok [t=10..14]": one operation as the failure report prints it.
std::string describe(const Operation& op);

// Keys are checked in sorted order and the first key that is not linearizable is reported,
// so the result is deterministic. Throws nothing of its own (std::bad_alloc aside).
[[nodiscard]] CheckResult check_linearizable(const std::vector<Operation>& history,
                                             const CheckOptions& options = {});

}  // namespace chorus::lincheck
