// Clock: all time goes through this interface so tests and the simulator can control it.
#pragma once

#include <chrono>
#include <cstdint>

namespace chorus {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary origin.
  virtual uint64_t now_ns() const = 0;
  // Wall-clock milliseconds since the Unix epoch (for TTLs decided by a leader).
  virtual uint64_t wall_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  uint64_t now_ns() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  uint64_t wall_ms() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }
};

}  // namespace chorus
