// Helpers for the transport tests: an io_context on its own thread (a node's loop), an inbox
// that collects on_message calls, and polling with a deadline.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chorus/base/bytes.h"
#include "chorus/base/strong_id.h"
#include "chorus/net/transport.h"

namespace chorus::net::test {

// Polls `pred` every 5 ms until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class IoThread {
 public:
  IoThread() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() { join(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  asio::io_context& io() { return io_; }
  std::thread::id thread_id() const { return thread_.get_id(); }

  // Runs `f` on the io thread and waits for it to finish.
  void run(const std::function<void()>& f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  void join() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct Received {
  NodeId from;
  std::string message;
};

// Collects messages; handler() is what a test passes to Transport::start().
class Inbox {
 public:
  Transport::Handler handler() {
    return [this](NodeId from, Bytes message) {
      std::lock_guard lock(mu_);
      messages_.push_back({from, std::string(as_string_view(message))});
    };
  }
  std::vector<Received> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  std::vector<std::string> from(NodeId id) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : messages_) {
      if (m.from == id) out.push_back(m.message);
    }
    return out;
  }
  bool contains(NodeId from, const std::string& message) const {
    std::lock_guard lock(mu_);
    for (const auto& m : messages_) {
      if (m.from == from && m.message == message) return true;
    }
    return false;
  }
  bool contains_text(const std::string& message) const {
    std::lock_guard lock(mu_);
    for (const auto& m : messages_) {
      if (m.message == message) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Received> messages_;
};

}  // namespace chorus::net::test
