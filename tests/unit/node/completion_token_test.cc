// RaftNode's one completion style works with each kind of asio token: a callback (run on the
// node's io thread), asio::use_future, and asio::use_awaitable (resumed on the coroutine's own
// executor).
#include <gtest/gtest.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_awaitable.hpp>

#include "unit/node/node_test_util.h"

namespace chorus::node::test {
namespace {

class SingleNode : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = net_.create(NodeId(1), io_);
    NodeOptions o;
    o.id = NodeId(1);
    o.voters = {NodeId(1)};
    node_ = std::make_unique<RaftNode>(o, io_, FileSystem::posix(), dir_.path(), *transport_,
                                       &machine_);
    ASSERT_TRUE(node_->open().ok());
    ASSERT_TRUE(await(node_->async_await_leader(kWait, asio::use_future)).status.ok());
  }
  void TearDown() override { node_->close(); }

  asio::io_context io_;
  net::InProcessNetwork net_;
  std::unique_ptr<net::InProcessTransport> transport_;
  chorus::test::TempDir dir_;
  CounterMachine machine_;
  std::unique_ptr<RaftNode> node_;
};

TEST_F(SingleNode, CallbackRunsOnTheIoThread) {
  std::promise<std::pair<AppendResult, std::thread::id>> got;
  node_->async_append(counter_command(5), [&](AppendResult r) {
    got.set_value({std::move(r), std::this_thread::get_id()});
  });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  auto [r, thread] = f.get();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(counter_value(r.result), 5);
  EXPECT_NE(thread, std::this_thread::get_id());
}

TEST_F(SingleNode, CoroutineResumesOnItsOwnExecutor) {
  asio::io_context client;
  std::promise<std::string> outcome;
  std::thread::id client_thread;
  asio::co_spawn(
      client,
      [&]() -> asio::awaitable<void> {
        AppendResult a = co_await node_->async_append(counter_command(2), asio::use_awaitable);
        bool here = std::this_thread::get_id() == client_thread;
        std::vector<Bytes> batch;  // (not a braced list: GCC 12 rejects one in a coroutine)
        batch.push_back(counter_command(3));
        batch.push_back(counter_command(4));
        BatchResult b = co_await node_->async_append_batch(std::move(batch), asio::use_awaitable);
        ReadResult r = co_await node_->async_read({}, asio::use_awaitable);
        if (!a.status.ok() || !b.status.ok() || !r.status.ok()) {
          outcome.set_value("failed");
        } else if (!here || std::this_thread::get_id() != client_thread) {
          outcome.set_value("resumed on another thread");
        } else {
          outcome.set_value("read " + std::to_string(counter_value(r.result)));
        }
      },
      asio::detached);
  std::thread runner([&] {
    client_thread = std::this_thread::get_id();
    client.run();
  });
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), "read 9");
  runner.join();
}

}  // namespace
}  // namespace chorus::node::test
