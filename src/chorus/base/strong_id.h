// StrongId<Tag, Rep>: an integer that only compares and does arithmetic with its own kind, so a
// term can never be passed where an index is expected (as ScyllaDB raft's tagged integers).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace chorus {

template <typename Tag, typename Rep = uint64_t>
class StrongId {
 public:
  using rep = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}

  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongId&) const = default;

  constexpr StrongId next() const { return StrongId(v_ + 1); }
  constexpr StrongId prev() const { return StrongId(v_ - 1); }
  constexpr StrongId operator+(Rep d) const { return StrongId(v_ + d); }
  constexpr StrongId operator-(Rep d) const { return StrongId(v_ - d); }
  constexpr Rep operator-(StrongId o) const { return v_ - o.v_; }
  constexpr StrongId& operator++() {
    ++v_;
    return *this;
  }

  friend std::ostream& operator<<(std::ostream& out, StrongId id) { return out << id.v_; }

 private:
  Rep v_ = 0;
};

struct LogIndexTag {};
struct TermTag {};
struct NodeIdTag {};

// Position of a record in a log; starts at 1, 0 means "none".
using LogIndex = StrongId<LogIndexTag>;
using Term = StrongId<TermTag>;
using NodeId = StrongId<NodeIdTag>;

}  // namespace chorus

template <typename Tag, typename Rep>
struct std::hash<chorus::StrongId<Tag, Rep>> {
  size_t operator()(chorus::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
