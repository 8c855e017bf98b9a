#include "support/wgl_search.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "chorus/base/assert.h"
#include "support/config_memo.h"

namespace chorus::lincheck::detail {
namespace {

// Whether `op` may take effect on a register holding `state`; if so, `state` becomes the result.
bool take_effect(const SearchOp& op, Value& state) {
  switch (op.effect) {
    case Effect::kRead:
      return state == op.value;
    case Effect::kWrite:
      state = op.value;
      return true;
    case Effect::kCas:
      if (state != op.from) return false;  // a missing key never matches
      state = op.to;
      return true;
    case Effect::kCasMismatch:
      return state != op.from;
  }
  CHORUS_UNREACHABLE("effect ", static_cast<int>(op.effect));
}

// How many optional operations a failure report lists.
constexpr size_t kPendingShown = 12;

// Wing & Gong's algorithm with Lowe's memo, laid out as in Porcupine (checker.go). Definite
// operations' calls and returns form a doubly linked list in time order. From its head the search
// walks over calls: each is an operation invoked and not yet linearized, a candidate to go next.
// Linearizing one "lifts" its call and return out of the list and restarts from the head.
// Reaching a return (the deadline) means that operation had to be linearized by now: the definite
// candidates are exhausted, the walk moves on to the useful optional ones (useful_optional), and
// when those are exhausted too it backtracks: it "unlifts" the last choice and tries the next.
//
// Indeterminate (optional) operations have no return, nothing forces them in, and they are not
// in the list. They form classes of twins, identical operations used in call order; each class
// offers its first unused member. The search succeeds when no return remains.
class KeySearch {
 public:
  KeySearch(std::string_view key, const std::vector<SearchOp>& ops, const CheckOptions& options,
            bool relaxed, uint64_t max_states)
      : key_(key),
        ops_(ops),
        options_(options),
        relaxed_(relaxed),
        max_states_(max_states),
        memo_(relaxed ? 0 : optional_words(ops)) {
    size_t definite = 0;
    size_t optional = 0;
    slot_.reserve(ops_.size());
    for (const SearchOp& op : ops_) {
      slot_.push_back(static_cast<int32_t>(op.indeterminate ? optional++ : definite++));
    }
    definite_words_.assign((definite + 63) / 64, 0);
    optional_words_.assign(relaxed ? 0 : (optional + 63) / 64, 0);
    for (size_t i = 0; i < std::max(definite, optional); ++i) {
      zobrist_.push_back(mix64(i * 0x9e3779b97f4a7c15ULL));
    }
    definite_total_ = static_cast<int64_t>(definite);
    build_events();
    build_classes();
  }

  KeyResult run() {
    Value state;  // every key starts missing
    Cursor at;
    bool fresh = true;  // just entered a configuration: the walk starts at the head
    while (returns_left_ > 0) {
      if (memo_.size() > max_states_) return finish(Verdict::kUnknown);
      if (fresh) {
        fresh = false;
        at = Cursor{.event = next_[kHead]};
        // Partial-order reduction: a read that is legal now may as well happen now. Any
        // linearization that places it later stays valid with it moved here: it changes no
        // state, and every operation that returned before its call is already linearized (or
        // it would not be a candidate). So such a read is the only child of this configuration.
        if (const int32_t read = legal_read(state); read != kHead) {
          if (enter(read, state, at, /*only_child=*/true)) {
            fresh = true;
          } else if (!backtrack(state, at)) {  // dominated: that configuration failed already
            return finish(Verdict::kNotLinearizable);
          }
          continue;
        }
      }
      if (!at.optional) {
        CHORUS_ASSERT(at.event != kHead, "a return remains but the walk passed the end");
        if (!events_[at.event].is_call) {
          note_dead_end(at.event, state);
          at.deadline = at.event;
          at.optional = true;
          at.choice = static_cast<uint32_t>(choices_.size());
          useful_optional(state, at.deadline);
          at.choices_end = static_cast<uint32_t>(choices_.size());
        } else if (enter(at.event, state, at, /*only_child=*/false)) {
          fresh = true;
        } else {
          at.event = next_[at.event];
        }
        continue;
      }
      if (at.choice < at.choices_end) {
        if (enter(choices_[at.choice], state, at, /*only_child=*/false)) {
          fresh = true;
        } else {
          ++at.choice;
        }
        continue;
      }
      if (!backtrack(state, at)) return finish(Verdict::kNotLinearizable);
    }
    return finish(Verdict::kLinearizable);
  }

 private:
  static constexpr int32_t kHead = 0;  // sentinel of the definite list

  struct Event {
    int32_t op = -1;
    bool is_call = false;
    int32_t match = -1;  // a definite call's return event; -1 for an optional call or a return
  };

  // Where the walk of one configuration is: in the definite list, or past its deadline among
  // the optional candidates choices_[choice..choices_end).
  struct Cursor {
    int32_t event = kHead;
    int32_t deadline = kHead;
    bool optional = false;
    uint32_t choice = 0;
    uint32_t choices_end = 0;
  };

  struct Frame {
    int32_t call;           // the call event that was lifted
    Value state_before;     // the register before that operation took effect
    Cursor at;              // the parent's walk, at this choice
    uint32_t choices_size;  // choices_.size() when pushed; children's candidates lie beyond
    bool only_child;        // a forced move: no sibling to try when it fails
  };

  // Twins: optional operations with the same effect and arguments. Once invoked they are
  // interchangeable, as none has a deadline, so using them only in call order loses no
  // linearization and turns the 2^k subsets of k twins into k + 1.
  struct TwinClass {
    std::vector<int32_t> calls;  // call events, in call order
    size_t used = 0;             // calls[0..used) are linearized
  };

  static size_t optional_words(const std::vector<SearchOp>& ops) {
    const auto optional =
        std::count_if(ops.begin(), ops.end(), [](const SearchOp& op) { return op.indeterminate; });
    return (static_cast<size_t>(optional) + 63) / 64;
  }

  // events_[0] heads the definite list and events_[1..] are calls and returns in time order.
  // Calls sort before returns at the same time: equal times count as concurrent.
  void build_events() {
    struct Stamp {
      uint64_t time;
      bool is_return;
      int32_t op;
    };
    std::vector<Stamp> stamps;
    stamps.reserve(ops_.size() * 2);
    for (size_t i = 0; i < ops_.size(); ++i) {
      const auto op = static_cast<int32_t>(i);
      stamps.push_back({ops_[i].source->call_time, false, op});
      if (!ops_[i].indeterminate) stamps.push_back({ops_[i].source->return_time, true, op});
    }
    std::sort(stamps.begin(), stamps.end(), [](const Stamp& a, const Stamp& b) {
      return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
    });
    events_.assign(stamps.size() + 1, Event{});
    next_.assign(events_.size(), kHead);
    prev_.assign(events_.size(), kHead);
    call_event_.assign(ops_.size(), -1);
    int32_t tail = kHead;
    for (size_t i = 0; i < stamps.size(); ++i) {
      const auto e = static_cast<int32_t>(i + 1);
      events_[e] = {stamps[i].op, !stamps[i].is_return, -1};
      if (stamps[i].is_return) {
        events_[call_event_[stamps[i].op]].match = e;
        ++returns_left_;
      } else {
        call_event_[stamps[i].op] = e;
        if (ops_[stamps[i].op].indeterminate) continue;  // optional: not in the list
      }
      prev_[e] = tail;
      next_[tail] = e;
      tail = e;
    }
    next_[tail] = kHead;
    prev_[kHead] = tail;
  }

  void build_classes() {
    class_of_.assign(ops_.size(), -1);
    std::map<std::tuple<Effect, int64_t, int64_t, int64_t>, int32_t> index;
    for (size_t i = 0; i < ops_.size(); ++i) {  // ops_ is in call order
      const SearchOp& op = ops_[i];
      if (!op.indeterminate) continue;
      const auto [it, inserted] = index.try_emplace(
          {op.effect, op.value.value_or(0), op.from, op.to}, static_cast<int32_t>(classes_.size()));
      if (inserted) {
        classes_.emplace_back();
        if (op.effect == Effect::kWrite) {
          CHORUS_ASSERT(write_class_of_value_.emplace(*op.value, it->second).second);
        }
        if (op.effect == Effect::kCas) {
          cas_classes_from_[op.from].push_back(it->second);
          ++cas_classes_open_from_[op.from];
        }
      }
      class_of_[i] = it->second;
      classes_[static_cast<size_t>(it->second)].calls.push_back(call_event_[i]);
    }
  }

  // Appends to choices_ the optional operations worth trying in `state` past `deadline`: each
  // class's next member if invoked before the deadline and if its result is something a next
  // operation could observe. An optional operation that no one observes is never needed (see
  // worth_linearizing), and the next operation after it comes from the same candidates, as it
  // changes neither list nor deadline. Over-approximating the wanted values is always sound.
  void useful_optional(const Value& state, int32_t deadline) {
    const size_t begin = choices_.size();
    auto offer = [&](int32_t class_id) {
      const TwinClass& twins = classes_[static_cast<size_t>(class_id)];
      if (twins.used < twins.calls.size() && twins.calls[twins.used] < deadline) {
        choices_.push_back(twins.calls[twins.used]);
      }
    };
    bool any_change_helps = false;  // a pending cas that failed its precondition needs one
    wanted_.clear();
    for (int32_t e = next_[kHead]; e != kHead && events_[e].is_call; e = next_[e]) {
      const SearchOp& op = ops_[events_[e].op];
      if (op.effect == Effect::kRead && op.value) wanted_.push_back(*op.value);
      if (op.effect == Effect::kCas) wanted_.push_back(op.from);
      if (op.effect == Effect::kCasMismatch) any_change_helps = true;
    }
    // Chains: an optional cas may observe the value and pass it on.
    for (const auto& [from, open] : cas_classes_open_from_) {
      if (open > 0) wanted_.push_back(from);
    }
    std::sort(wanted_.begin(), wanted_.end());
    wanted_.erase(std::unique(wanted_.begin(), wanted_.end()), wanted_.end());
    auto is_wanted = [&](int64_t v) {
      return any_change_helps || std::binary_search(wanted_.begin(), wanted_.end(), v);
    };

    if (any_change_helps) {
      for (const auto& [value, class_id] : write_class_of_value_) offer(class_id);
    } else {
      for (int64_t v : wanted_) {
        if (const auto it = write_class_of_value_.find(v); it != write_class_of_value_.end()) {
          offer(it->second);
        }
      }
    }
    if (state) {
      if (const auto it = cas_classes_from_.find(*state); it != cas_classes_from_.end()) {
        for (int32_t class_id : it->second) {
          const SearchOp& cas = ops_[events_[classes_[class_id].calls[0]].op];
          if (is_wanted(cas.to)) offer(class_id);
        }
      }
    }
    std::sort(choices_.begin() + static_cast<std::ptrdiff_t>(begin), choices_.end());
  }

  // Linearizes the operation of `call` next if it may go next; `state` follows.
  bool enter(int32_t call, Value& state, const Cursor& at, bool only_child) {
    if (!try_linearize(events_[call].op, state)) return false;
    stack_.push_back(
        {call, state, at, static_cast<uint32_t>(choices_.size()), /*only_child=*/only_child});
    state = candidate_state_;
    lift(call);
    return true;
  }

  // Undoes choices back to the last one with siblings left and moves `at` to the next sibling.
  // False when no choice is left: the key is not linearizable.
  bool backtrack(Value& state, Cursor& at) {
    while (!stack_.empty()) {
      const Frame frame = stack_.back();
      stack_.pop_back();
      state = frame.state_before;
      toggle(events_[frame.call].op);
      unlift(frame.call);
      choices_.resize(frame.choices_size);
      if (frame.only_child) continue;
      at = frame.at;
      if (at.optional) {
        ++at.choice;
      } else {
        at.event = next_[frame.call];
      }
      return true;
    }
    return false;
  }

  // The first candidate that observes without changing the register (a read, or a cas that
  // failed its precondition) and is legal in `state`; kHead if none. All are definite.
  int32_t legal_read(const Value& state) const {
    for (int32_t e = next_[kHead]; e != kHead && events_[e].is_call; e = next_[e]) {
      const SearchOp& op = ops_[events_[e].op];
      const bool observes = op.effect == Effect::kRead || op.effect == Effect::kCasMismatch;
      Value unchanged = state;
      if (observes && take_effect(op, unchanged)) return e;
    }
    return kHead;
  }

  // Tentatively linearizes `op` after the current prefix. On success candidate_state_ holds the
  // new register value and the op's bit is set; a dominated configuration counts as failure.
  bool try_linearize(int32_t op, const Value& state) {
    const SearchOp& search_op = ops_[op];
    if (!worth_linearizing(op)) return false;
    candidate_state_ = state;
    if (!take_effect(search_op, candidate_state_)) return false;
    if (search_op.indeterminate && candidate_state_ == state) return false;  // rule (a)
    toggle(op);
    const uint64_t state_word = static_cast<uint64_t>(candidate_state_.value_or(0));
    const uint64_t group_hash =
        mix64(definite_hash_ ^ mix64(state_word) ^ (candidate_state_ ? 1 : 0));
    if (memo_.insert(group_hash, optional_hash_, definite_words_, optional_words_, candidate_state_,
                     search_op.indeterminate)) {
      return true;
    }
    toggle(op);
    return false;
  }

  // An optional (indeterminate) operation is only worth linearizing where the next operation
  // observes its effect. These rules drop configurations that another dominates (the same
  // definite set and register value, with a subset of the optional operations used), and each
  // keeps at least one linearization if there is any:
  //  (a) an optional operation that leaves the register as it was is skipped (try_linearize);
  //  (b) no write, definite or optional, directly follows an optional operation: it overwrites
  //      that operation's effect unobserved, so the linearization without it is valid too. The
  //      children of a configuration then depend on whether its last operation was optional,
  //      which the memo records (after_optional);
  //  (c) so the next operation after an optional one observes its result; useful_optional
  //      only offers optional operations with a possible observer among the candidates;
  //  (d) twins go in call order.
  bool worth_linearizing(int32_t op) const {
    const SearchOp& search_op = ops_[op];
    if (search_op.indeterminate) {
      const TwinClass& twins = classes_[static_cast<size_t>(class_of_[op])];
      if (twins.used >= twins.calls.size() || twins.calls[twins.used] != call_event_[op]) {
        return false;
      }
    }
    return search_op.effect != Effect::kWrite || stack_.empty() ||
           !ops_[events_[stack_.back().call].op].indeterminate;
  }

  void toggle(int32_t op) {
    const int32_t slot = slot_[op];
    const uint64_t bit = uint64_t{1} << (slot % 64);
    if (!ops_[op].indeterminate) {
      definite_words_[slot / 64] ^= bit;
      definite_hash_ ^= zobrist_[slot];
      return;
    }
    if (relaxed_) return;  // nothing is used up
    const bool adding = (optional_words_[slot / 64] & bit) == 0;
    optional_words_[slot / 64] ^= bit;
    optional_hash_ ^= zobrist_[slot] * 3;
    TwinClass& twins = classes_[static_cast<size_t>(class_of_[op])];
    const bool was_open = twins.used < twins.calls.size();
    if (adding) {
      CHORUS_ASSERT(was_open && twins.calls[twins.used] == call_event_[op], "twins out of order");
      ++twins.used;
    } else {
      --twins.used;
      CHORUS_ASSERT(twins.calls[twins.used] == call_event_[op], "twins out of order");
    }
    const bool is_open = twins.used < twins.calls.size();
    if (ops_[op].effect == Effect::kCas && was_open != is_open) {
      cas_classes_open_from_[ops_[op].from] += is_open ? 1 : -1;
    }
  }

  void unlink(int32_t e) {
    next_[prev_[e]] = next_[e];
    prev_[next_[e]] = prev_[e];
  }

  void relink(int32_t e) {
    next_[prev_[e]] = e;
    prev_[next_[e]] = e;
  }

  void lift(int32_t call) {
    const int32_t ret = events_[call].match;
    if (ret < 0) return;  // optional: never in the list
    unlink(call);
    unlink(ret);
    --returns_left_;
  }

  // The exact reverse of lift: dancing links restore the list because unlifts come in LIFO
  // order.
  void unlift(int32_t call) {
    const int32_t ret = events_[call].match;
    if (ret < 0) return;
    relink(ret);
    relink(call);
    ++returns_left_;
  }

  // Remembers the deepest point where the definite candidates ran out, for the failure report:
  // the prefix linearized, the operation whose return the search could not pass, and what was
  // pending. Taken before any optional operation is tried there, so that the report shows the
  // plain prefix rather than one of its detours.
  void note_dead_end(int32_t ret, const Value& state) {
    // Progress is counted in definite operations: the relaxed search can take optional ones
    // over and over without getting anywhere.
    const int64_t depth = definite_total_ - returns_left_;
    if (depth <= best_depth_) return;
    best_depth_ = depth;
    best_prefix_.clear();
    for (const Frame& frame : stack_) best_prefix_.push_back(events_[frame.call].op);
    best_state_ = state;
    best_blocked_ = events_[ret].op;
    best_pending_.clear();
    for (int32_t e = next_[kHead]; e != ret; e = next_[e]) {
      if (events_[e].op != best_blocked_) best_pending_.push_back(events_[e].op);
    }
    best_optional_pending_ = 0;
    for (const TwinClass& twins : classes_) {
      for (size_t i = twins.used; i < twins.calls.size() && twins.calls[i] < ret; ++i) {
        if (++best_optional_pending_ <= kPendingShown) {
          best_pending_.push_back(events_[twins.calls[i]].op);
        }
      }
    }
  }

  KeyResult finish(Verdict verdict) const {
    KeyResult result{.verdict = verdict, .explanation = {}, .states = memo_.size()};
    if (verdict == Verdict::kNotLinearizable) result.explanation = failure_text();
    if (verdict == Verdict::kUnknown) result.explanation = unknown_text();
    return result;
  }

  std::string failure_text() const {
    std::ostringstream out;
    out << "key " << key_ << " is not linearizable (" << ops_.size() << " operations searched, "
        << memo_.size() << " states).\n";
    out << "Longest linearizable prefix: " << best_depth_ << " of " << definite_total_
        << " definite operations";
    if (const auto optional = static_cast<int64_t>(best_prefix_.size()) - best_depth_;
        optional > 0) {
      out << " and " << optional << " indeterminate ones";
    }
    out << ", leaving the register " << value_text(best_state_) << ".";
    const size_t shown = std::min(best_prefix_.size(),
                                  static_cast<size_t>(std::max(options_.explain_prefix_ops, 0)));
    if (shown > 0) out << " Its last " << shown << ", in linearization order:";
    out << "\n";
    for (size_t i = best_prefix_.size() - shown; i < best_prefix_.size(); ++i) {
      out << "  " << describe(*ops_[best_prefix_[i]].source) << "\n";
    }
    out << "Cannot take effect before it returns, after that prefix and any order of the pending "
           "operations:\n  "
        << describe(*ops_[best_blocked_].source) << "\n";
    if (!best_pending_.empty()) {
      out << "Pending at that point (invoked, not linearized):\n";
      for (int32_t op : best_pending_) out << "  " << describe(*ops_[op].source) << "\n";
      if (best_optional_pending_ > kPendingShown) {
        out << "  ... and " << best_optional_pending_ - kPendingShown
            << " more indeterminate operations\n";
      }
    }
    return out.str();
  }

  std::string unknown_text() const {
    std::ostringstream out;
    out << "key " << key_ << ": the " << (relaxed_ ? "relaxed" : "exact")
        << " search gave up after " << memo_.size() << " states (max_states_per_key "
        << options_.max_states_per_key << ") with " << stack_.size() << " of " << ops_.size()
        << " operations linearized; neither verdict is proven.\n";
    return out.str();
  }

  std::string_view key_;
  const std::vector<SearchOp>& ops_;  // in call order
  const CheckOptions& options_;
  const bool relaxed_;               // see search_key
  const uint64_t max_states_;        // what is left of options_.max_states_per_key
  std::vector<int32_t> slot_;        // an op's bit in definite_words_ or optional_words_
  std::vector<int32_t> call_event_;  // by op

  std::vector<Event> events_;
  std::vector<int32_t> next_;
  std::vector<int32_t> prev_;
  int64_t returns_left_ = 0;  // definite operations not linearized
  int64_t definite_total_ = 0;

  std::vector<TwinClass> classes_;
  std::vector<int32_t> class_of_;  // by op; -1 for a definite one
  std::unordered_map<int64_t, int32_t> write_class_of_value_;
  std::unordered_map<int64_t, std::vector<int32_t>> cas_classes_from_;
  std::map<int64_t, int32_t> cas_classes_open_from_;  // classes with a member left, by `from`
  std::vector<int32_t> choices_;  // optional candidates of the configurations on the stack
  std::vector<int64_t> wanted_;   // scratch for useful_optional

  std::vector<uint64_t> definite_words_;  // definite operations linearized
  std::vector<uint64_t> optional_words_;  // optional operations linearized
  std::vector<uint64_t> zobrist_;  // a random word per slot: a set hashes to the xor of its own
  uint64_t definite_hash_ = 0;
  uint64_t optional_hash_ = 0;
  ConfigMemo memo_;
  std::vector<Frame> stack_;
  Value candidate_state_;

  int64_t best_depth_ = -1;
  std::vector<int32_t> best_prefix_;
  Value best_state_;
  int32_t best_blocked_ = -1;
  std::vector<int32_t> best_pending_;
  size_t best_optional_pending_ = 0;
};

}  // namespace

KeyResult search_key(std::string_view key, const std::vector<SearchOp>& ops,
                     const CheckOptions& options) {
  // First a relaxed search in which an indeterminate operation, once invoked, may take effect any
  // number of times. Every linearization is also a relaxed one, so a relaxed failure is a real
  // one, and it is found fast: a configuration is just the definite set and the register value.
  // Without it, proving a failure means trying every combination of timed-out writes used so
  // far, which over a small value domain outgrows any bound within a few hundred operations.
  // Only histories that need "at most once" to fail fall through to the exact search unhelped.
  uint64_t relaxed_states = 0;
  const bool any_optional =
      std::any_of(ops.begin(), ops.end(), [](const SearchOp& op) { return op.indeterminate; });
  if (any_optional) {
    KeyResult relaxed =
        KeySearch(key, ops, options, /*relaxed=*/true, options.max_states_per_key).run();
    if (relaxed.verdict != Verdict::kLinearizable) {
      if (relaxed.verdict == Verdict::kNotLinearizable) {
        relaxed.explanation +=
            "(Found with each indeterminate operation allowed to take effect any number of "
            "times; the history fails even so.)\n";
      }
      return relaxed;
    }
    relaxed_states = relaxed.states;
  }
  const uint64_t left =
      options.max_states_per_key - std::min(relaxed_states, options.max_states_per_key);
  KeyResult exact = KeySearch(key, ops, options, /*relaxed=*/false, left).run();
  exact.states += relaxed_states;
  return exact;
}

}  // namespace chorus::lincheck::detail
