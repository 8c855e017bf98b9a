// Completion<R>: a type-erased, move-only asio completion handler taking one value R.
//
// RaftNode's async_* functions start with asio::async_initiate, so the caller picks the
// completion style with the token (a callback, asio::use_future, asio::use_awaitable). The
// initiation hands the concrete handler to the node's loop as a Completion<R> (asio 1.22 has no
// any_completion_handler). complete() runs it:
//   - a handler with an associated executor (use_awaitable: the coroutine's; use_future: inline)
//     is dispatched there, and that executor's work stays counted until then, as asio's
//     composed operations do;
//   - a handler without one (a plain callback) is called on the completing thread: the node's io
//     thread, or -- for a call on a node that is not open -- the calling thread, before the
//     async_* function returns.
#pragma once

#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/system_executor.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "chorus/base/assert.h"

namespace chorus::node {

template <typename R>
class Completion {
 public:
  Completion() = default;

  template <typename Handler>
  explicit Completion(Handler&& handler)
      : impl_(std::make_unique<Impl<std::decay_t<Handler>>>(std::forward<Handler>(handler))) {}

  Completion(Completion&&) noexcept = default;
  Completion& operator=(Completion&&) noexcept = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  explicit operator bool() const { return impl_ != nullptr; }

  // Completes exactly once; the Completion is empty afterwards.
  void complete(R value) {
    CHORUS_ASSERT(impl_ != nullptr, "a completion completed twice");
    std::unique_ptr<Base> impl = std::move(impl_);
    impl->complete(std::move(value));
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void complete(R&& value) = 0;
  };

  template <typename Handler>
  struct Impl final : Base {
    using Executor = asio::associated_executor_t<Handler>;  // system_executor: none associated
    static constexpr bool kOwnExecutor = !std::is_same_v<Executor, asio::system_executor>;

    explicit Impl(Handler&& h) : handler(std::move(h)) {
      if constexpr (kOwnExecutor) work.emplace(asio::get_associated_executor(handler));
    }

    void complete(R&& value) override {
      if constexpr (kOwnExecutor) {
        Executor ex = work->get_executor();
        asio::dispatch(ex, [h = std::move(handler), v = std::move(value)]() mutable {
          std::move(h)(std::move(v));
        });
        work.reset();
      } else {
        std::move(handler)(std::move(value));
      }
    }

    Handler handler;
    std::optional<asio::executor_work_guard<Executor>> work;
  };

  std::unique_ptr<Base> impl_;
};

}  // namespace chorus::node
