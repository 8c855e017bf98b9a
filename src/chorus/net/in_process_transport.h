// InProcessNetwork: transports that live in one process, for tests and examples.
//
//   asio::io_context io1, io2;
//   InProcessNetwork net;
//   auto t1 = net.create(NodeId(1), io1);
//   auto t2 = net.create(NodeId(2), io2);
//   t1->add_peer(NodeId(2), "");          // required, as for TCP; the address is ignored
//   t2->start([](NodeId from, Bytes m) { ... });   // runs on io2
//   t1->send(NodeId(2), to_bytes("hi"));
//
// It behaves like the TLS transport minus the sockets: the same Transport threading rules, a
// bounded per-peer queue at the sender (drop oldest), FIFO per (sender, receiver), delivery on
// the receiver's io_context via asio::post. Faults are decided when a message is sent: a
// partitioned link, a random drop (seeded, so runs repeat), or a receiver that does not exist,
// has not started or has stopped all drop the message and count it in the sender's
// `dropped_by_network`. Messages already queued when a partition starts are still delivered, as
// bytes already on a wire would be.
#pragma once

#include <cstdint>
#include <memory>

#include "chorus/base/strong_id.h"
#include "chorus/net/send_queue.h"
#include "chorus/net/transport.h"

namespace chorus::net {

namespace detail {
struct InProcessNetworkState;
struct InProcessCore;
}  // namespace detail

class InProcessTransport final : public Transport {
 public:
  ~InProcessTransport() override;
  InProcessTransport(const InProcessTransport&) = delete;
  InProcessTransport& operator=(const InProcessTransport&) = delete;

  NodeId self() const override;
  void start(Handler on_message) override;
  void send(NodeId to, Bytes message) override;
  void add_peer(NodeId id, std::string host_port) override;
  void remove_peer(NodeId id) override;
  void stop() override;
  TransportStats stats() const override;

 private:
  friend class InProcessNetwork;
  explicit InProcessTransport(std::shared_ptr<detail::InProcessCore> core);
  std::shared_ptr<detail::InProcessCore> core_;
};

class InProcessNetwork {
 public:
  // `seed` drives the random drops.
  explicit InProcessNetwork(uint64_t seed = 1);
  ~InProcessNetwork();
  InProcessNetwork(const InProcessNetwork&) = delete;
  InProcessNetwork& operator=(const InProcessNetwork&) = delete;

  // A transport for `id` whose messages are delivered on `io`. At most one live (not stopped)
  // transport per id: a restarted node stops its old transport before creating a new one.
  std::unique_ptr<InProcessTransport> create(NodeId id, asio::io_context& io,
                                             SendQueueLimits limits = {});

  // Cuts both directions between a and b / only from -> to. Idempotent.
  void partition(NodeId a, NodeId b);
  void partition_one_way(NodeId from, NodeId to);
  // Cuts `id` off from every other node, present and future.
  void isolate(NodeId id);
  // Removes every cut.
  void heal();
  // Each message is dropped with probability p (0 = reliable, the default).
  void set_drop_probability(double p);

 private:
  std::shared_ptr<detail::InProcessNetworkState> state_;
};

}  // namespace chorus::net
