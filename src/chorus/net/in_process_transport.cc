#include "chorus/net/in_process_transport.h"

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include "chorus/net/frame.h"

namespace chorus::net {
namespace detail {

struct InProcessNetworkState {
  std::mutex mu;
  std::unordered_map<NodeId, std::weak_ptr<InProcessCore>> endpoints;
  std::set<std::pair<NodeId, NodeId>> cut;  // (from, to)
  std::set<NodeId> isolated;
  double drop_probability = 0;
  std::mt19937_64 rng;
};

struct InProcessPeer {
  explicit InProcessPeer(SendQueueLimits limits) : queue(limits) {}
  SendQueue queue;
  // The receiver instance a drain is queued on. A receiver that stops without running it (its
  // loop never runs again) must not block drains to the next instance with the same id.
  std::weak_ptr<InProcessCore> drain_target;
  bool drain_scheduled = false;
};

// Lock order: deliver_mu -> mu -> network->mu. A drain holds no lock of the sender while it
// calls the receiver's handler.
struct InProcessCore {
  InProcessCore(NodeId self_id, asio::io_context& io_context,
                std::shared_ptr<InProcessNetworkState> net, SendQueueLimits limits)
      : self(self_id), io(io_context), network(std::move(net)), queue_limits(limits) {}

  const NodeId self;
  asio::io_context& io;
  const std::shared_ptr<InProcessNetworkState> network;
  const SendQueueLimits queue_limits;

  // Recursive so that stop() may be called from inside the handler it waits for. The handler is
  // shared so that such a stop() does not destroy the function object that is running.
  std::recursive_mutex deliver_mu;
  std::shared_ptr<const Transport::Handler> handler;  // guarded by deliver_mu
  std::atomic<bool> accepting{false};                 // started and not stopped

  mutable std::mutex mu;
  bool stopped = false;                             // guarded by mu
  std::unordered_map<NodeId, InProcessPeer> peers;  // guarded by mu
  TransportStats stats;                             // guarded by mu

  void deliver_from(const std::shared_ptr<InProcessCore>& sender);
};

void InProcessCore::deliver_from(const std::shared_ptr<InProcessCore>& sender) {
  std::deque<Bytes> batch;
  {
    std::lock_guard lock(sender->mu);
    auto it = sender->peers.find(self);
    if (it == sender->peers.end()) return;  // removed: remove_peer already counted the drops
    if (it->second.drain_target.lock().get() != this) return;  // a drain meant for a newer us
    it->second.drain_scheduled = false;
    batch = it->second.queue.pop_batch(SIZE_MAX);
    PeerStats& ps = sender->stats.peers[self];
    ps.queued_messages = 0;
    ps.queued_bytes = 0;
    if (!accepting.load()) {
      ps.dropped_by_network += batch.size();
      return;
    }
    for (const Bytes& m : batch) {
      ++ps.messages_sent;
      ps.bytes_sent += m.size();
    }
  }
  std::lock_guard deliver_lock(deliver_mu);
  for (Bytes& m : batch) {
    std::shared_ptr<const Transport::Handler> h = handler;
    if (!h) return;  // stopped meanwhile
    {
      std::lock_guard lock(mu);
      PeerStats& ps = stats.peers[sender->self];
      ++ps.messages_received;
      ps.bytes_received += m.size();
    }
    (*h)(sender->self, std::move(m));
  }
}

}  // namespace detail

using detail::InProcessCore;

InProcessTransport::InProcessTransport(std::shared_ptr<InProcessCore> core)
    : core_(std::move(core)) {}

InProcessTransport::~InProcessTransport() { stop(); }

NodeId InProcessTransport::self() const { return core_->self; }

void InProcessTransport::start(Handler on_message) {
  CHORUS_ASSERT(on_message, "start() needs a handler");
  {
    std::lock_guard lock(core_->deliver_mu);
    CHORUS_ASSERT(!core_->handler, "start() called twice");
    core_->handler = std::make_shared<const Handler>(std::move(on_message));
  }
  std::lock_guard lock(core_->mu);
  if (!core_->stopped) core_->accepting.store(true);
}

void InProcessTransport::send(NodeId to, Bytes message) {
  std::shared_ptr<InProcessCore> receiver;
  bool cut = false;
  {
    auto& net = *core_->network;
    std::lock_guard lock(net.mu);
    auto it = net.endpoints.find(to);
    if (it != net.endpoints.end()) receiver = it->second.lock();
    cut = net.cut.contains({core_->self, to}) || net.isolated.contains(core_->self) ||
          net.isolated.contains(to) ||
          (net.drop_probability > 0 &&
           std::uniform_real_distribution<double>(0, 1)(net.rng) < net.drop_probability);
  }

  std::lock_guard lock(core_->mu);
  if (core_->stopped) return;
  auto it = core_->peers.find(to);
  if (it == core_->peers.end()) {
    ++core_->stats.dropped_unknown_peer;
    return;
  }
  if (message.size() > kDefaultMaxFramePayloadBytes) {
    ++core_->stats.dropped_too_large;
    return;
  }
  PeerStats& ps = core_->stats.peers[to];
  if (cut || !receiver || !receiver->accepting.load()) {
    ++ps.dropped_by_network;
    return;
  }
  detail::InProcessPeer& peer = it->second;
  ps.dropped_queue_full += peer.queue.push(std::move(message));
  ps.queued_messages = peer.queue.size();
  ps.queued_bytes = peer.queue.bytes();
  if (!peer.drain_scheduled || peer.drain_target.lock() != receiver) {
    peer.drain_scheduled = true;
    peer.drain_target = receiver;
    asio::post(receiver->io, [receiver, sender = core_] { receiver->deliver_from(sender); });
  }
}

void InProcessTransport::add_peer(NodeId id, std::string /*host_port*/) {
  CHORUS_ASSERT(id != core_->self, "a node is not its own peer");
  std::lock_guard lock(core_->mu);
  if (core_->stopped) return;
  core_->peers.try_emplace(id, core_->queue_limits);
  core_->stats.peers[id];
}

void InProcessTransport::remove_peer(NodeId id) {
  std::lock_guard lock(core_->mu);
  auto it = core_->peers.find(id);
  if (it == core_->peers.end()) return;
  PeerStats& ps = core_->stats.peers[id];
  ps.dropped_on_disconnect += it->second.queue.clear();
  ps.queued_messages = 0;
  ps.queued_bytes = 0;
  core_->peers.erase(it);
}

void InProcessTransport::stop() {
  {
    // Waits for a delivery in progress on another thread; then no handler is left to call.
    std::lock_guard deliver_lock(core_->deliver_mu);
    core_->accepting.store(false);
    core_->handler.reset();
  }
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopped) return;
    core_->stopped = true;
    for (auto& [id, peer] : core_->peers) {
      core_->stats.peers[id].dropped_on_disconnect += peer.queue.clear();
    }
    core_->peers.clear();
  }
  auto& net = *core_->network;
  std::lock_guard lock(net.mu);
  auto it = net.endpoints.find(core_->self);
  if (it != net.endpoints.end() && it->second.lock() == core_) net.endpoints.erase(it);
}

TransportStats InProcessTransport::stats() const {
  std::lock_guard lock(core_->mu);
  return core_->stats;
}

InProcessNetwork::InProcessNetwork(uint64_t seed)
    : state_(std::make_shared<detail::InProcessNetworkState>()) {
  state_->rng.seed(seed);
}

InProcessNetwork::~InProcessNetwork() = default;

std::unique_ptr<InProcessTransport> InProcessNetwork::create(NodeId id, asio::io_context& io,
                                                             SendQueueLimits limits) {
  CHORUS_ASSERT(limits.max_bytes >= kDefaultMaxFramePayloadBytes,
                "a queue must admit one message of the largest size");
  auto core = std::make_shared<InProcessCore>(id, io, state_, limits);
  std::lock_guard lock(state_->mu);
  auto& slot = state_->endpoints[id];
  CHORUS_ASSERT(slot.expired(), "node ", id, " already has a live in-process transport");
  slot = core;
  return std::unique_ptr<InProcessTransport>(new InProcessTransport(std::move(core)));
}

void InProcessNetwork::partition(NodeId a, NodeId b) {
  std::lock_guard lock(state_->mu);
  state_->cut.insert({a, b});
  state_->cut.insert({b, a});
}

void InProcessNetwork::partition_one_way(NodeId from, NodeId to) {
  std::lock_guard lock(state_->mu);
  state_->cut.insert({from, to});
}

void InProcessNetwork::isolate(NodeId id) {
  std::lock_guard lock(state_->mu);
  state_->isolated.insert(id);
}

void InProcessNetwork::heal() {
  std::lock_guard lock(state_->mu);
  state_->cut.clear();
  state_->isolated.clear();
}

void InProcessNetwork::set_drop_probability(double p) {
  CHORUS_ASSERT(p >= 0 && p <= 1, p);
  std::lock_guard lock(state_->mu);
  state_->drop_probability = p;
}

}  // namespace chorus::net
