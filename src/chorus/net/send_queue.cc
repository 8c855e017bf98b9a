#include "chorus/net/send_queue.h"

#include "chorus/base/assert.h"

namespace chorus::net {

SendQueue::SendQueue(SendQueueLimits limits) : limits_(limits) {
  CHORUS_ASSERT(limits_.max_messages > 0 && limits_.max_bytes > 0);
}

size_t SendQueue::push(Bytes message) {
  CHORUS_ASSERT(message.size() <= limits_.max_bytes, "message of ", message.size(),
                " bytes can never fit a queue of ", limits_.max_bytes);
  size_t dropped = 0;
  while (!messages_.empty() && (messages_.size() + 1 > limits_.max_messages ||
                                bytes_ + message.size() > limits_.max_bytes)) {
    bytes_ -= messages_.front().size();
    messages_.pop_front();
    ++dropped;
  }
  bytes_ += message.size();
  messages_.push_back(std::move(message));
  return dropped;
}

std::deque<Bytes> SendQueue::pop_batch(size_t max_bytes) {
  std::deque<Bytes> out;
  size_t taken = 0;
  while (!messages_.empty()) {
    const size_t n = messages_.front().size();
    if (!out.empty() && taken + n > max_bytes) break;
    taken += n;
    bytes_ -= n;
    out.push_back(std::move(messages_.front()));
    messages_.pop_front();
  }
  return out;
}

size_t SendQueue::clear() {
  const size_t n = messages_.size();
  messages_.clear();
  bytes_ = 0;
  return n;
}

void SendQueue::check_invariants() const {
  size_t total = 0;
  for (const Bytes& m : messages_) total += m.size();
  CHORUS_ASSERT(total == bytes_, total, " != ", bytes_);
  CHORUS_ASSERT(messages_.size() <= limits_.max_messages);
  CHORUS_ASSERT(bytes_ <= limits_.max_bytes);
}

}  // namespace chorus::net
