// SendQueue: one peer's bounded outbound queue (messages and bytes). Not synchronized: each
// transport guards its queues with its own mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "chorus/base/bytes.h"

namespace chorus::net {

struct SendQueueLimits {
  size_t max_messages = 4096;
  // Must admit one message of the largest frame payload (checked by the transports).
  size_t max_bytes = 128u << 20;
};

class SendQueue {
 public:
  explicit SendQueue(SendQueueLimits limits = {});

  // Appends `message`, first dropping the oldest messages until it fits; returns how many were
  // dropped. A message larger than max_bytes by itself is the caller's bug (asserted).
  size_t push(Bytes message);
  // Takes messages from the front, at least one if any, until `max_bytes` would be exceeded.
  std::deque<Bytes> pop_batch(size_t max_bytes);
  // Empties the queue; returns how many messages were dropped.
  size_t clear();

  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  size_t bytes() const { return bytes_; }
  const SendQueueLimits& limits() const { return limits_; }

  void check_invariants() const;

 private:
  SendQueueLimits limits_;
  std::deque<Bytes> messages_;
  size_t bytes_ = 0;
};

}  // namespace chorus::net
