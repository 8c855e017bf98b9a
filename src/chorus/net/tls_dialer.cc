// Outbound: one coroutine per peer dials, authenticates the server, then writes the peer's queue
// until the connection fails, and redials with jittered exponential backoff.
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <exception>
#include <utility>

#include "chorus/net/hello.h"
#include "chorus/net/tls_core.h"

namespace chorus::net::detail {

namespace {

using std::chrono::milliseconds;

Result<std::pair<std::string, std::string>> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Status::InvalidArgument("peer address '" + address + "' is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, address.substr(colon + 1));
}

// TCP connect, TLS handshake as client, the server's certificate must name `expected`, then the
// Hello exchange. On success the connection is ready for messages.
asio::awaitable<Status> dial(std::shared_ptr<TlsCore> core, NodeId expected, std::string address,
                             std::shared_ptr<Connection> conn) {
  const std::string who = "outbound to node " + std::to_string(expected.value()) + " at " + address;
  auto target = split_host_port(address);
  if (!target.ok()) co_return target.status();

  asio::ip::tcp::resolver resolver(core->io);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(target->first, target->second, kNoThrow);
  if (resolve_ec) co_return Status::Unavailable("resolve " + address + ": " + resolve_ec.message());
  // Closed (stop, remove_peer, deadline) while resolving: async_connect would reopen the socket.
  if (conn->closed) co_return Status::Unavailable("connect " + address + ": cancelled");
  auto [connect_ec, endpoint] = co_await asio::async_connect(conn->socket(), endpoints, kNoThrow);
  if (connect_ec || conn->closed) {
    co_return Status::Unavailable("connect " + address + ": " +
                                  (conn->timed_out ? "timed out"
                                   : connect_ec    ? connect_ec.message()
                                                   : "cancelled"));
  }
  asio::error_code ignored;
  conn->socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  conn->remote = address;

  install_verify_recorder(*conn);
  auto [handshake_ec] =
      co_await conn->stream.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (handshake_ec) {
    auto [reason, detail] = classify_handshake_failure(*conn, handshake_ec);
    core->reject(reason, who, detail, /*log_it=*/false);
    co_return Status::Unavailable("rejected: " + std::string(reject_reason_name(reason)) + ": " +
                                  detail);
  }
  auto named = peer_certificate_node_id(*conn);
  if (!named.ok() || *named != expected) {
    std::string detail = named.ok() ? "certificate names node " + std::to_string(named->value())
                                    : named.status().message();
    core->reject(RejectReason::kWrongNodeId, who, detail, /*log_it=*/false);
    co_return Status::Unavailable("rejected: wrong node id: " + detail);
  }

  // Named, not a temporary inside the co_await: GCC 12 mishandles the lifetime of such
  // temporaries across a suspension (double destruction).
  const Bytes our_hello = encode_hello({core->options.cluster_name, core->options.self});
  Status sent = co_await write_frame(*conn, FrameType::kHello, our_hello);
  if (!sent.ok()) co_return sent.Annotate("send hello");
  // In TLS 1.3 our handshake ends before the server has checked our certificate: its Hello is
  // what tells us we were accepted. A rejection arrives here as an alert or a closed stream.
  auto answer = co_await read_frame(*conn);
  if (!answer.ok()) co_return answer.status().Annotate("waiting for the peer's hello");
  auto hello = answer->type == FrameType::kHello
                   ? decode_hello(answer->payload)
                   : Result<Hello>(Status::Corruption("first frame is not a hello"));
  std::optional<RejectReason> refused;
  std::string detail;
  if (!hello.ok()) {
    refused = RejectReason::kBadHello;
    detail = hello.status().message();
  } else if (hello->node_id != expected) {
    refused = RejectReason::kWrongNodeId;
    detail = "hello from node " + std::to_string(hello->node_id.value());
  } else if (hello->cluster_name != core->options.cluster_name) {
    refused = RejectReason::kWrongCluster;
    detail = "hello from cluster '" + hello->cluster_name + "'";
  }
  if (refused) {
    core->reject(*refused, who, detail, /*log_it=*/false);
    co_return Status::Unavailable("rejected: " + std::string(reject_reason_name(*refused)) + ": " +
                                  detail);
  }
  conn->decoder.set_max_payload_bytes(core->options.max_frame_payload_bytes);
  co_return Status::Ok();
}

// The server sends only keepalives on our connection; reading them keeps the idle deadline off
// and notices a dead or closing server even when we have nothing to write.
asio::awaitable<void> read_keepalives(std::shared_ptr<TlsCore> core,
                                      std::shared_ptr<Connection> conn) {
  const milliseconds idle(core->options.idle_timeout_ms);
  while (!conn->closed) {
    auto frame = co_await read_frame(*conn);
    if (!frame.ok() || frame->type != FrameType::kKeepalive) {
      if (frame.ok() || frame.status().code() != StatusCode::kUnavailable) {
        std::lock_guard lock(core->mu);
        ++core->stats.malformed_frames;
      }
      break;
    }
    if (idle.count() > 0) conn->set_deadline_after(idle);
  }
  conn->close();  // also wakes the writer
}

// Writes the peer's queue in batches, one scatter-gather write per batch (payloads are not
// copied), and a keepalive whenever the queue has been empty for the keepalive interval.
asio::awaitable<void> write_queue(std::shared_ptr<TlsCore> core, std::shared_ptr<TlsPeer> peer,
                                  std::shared_ptr<Connection> conn) {
  const milliseconds keepalive = core->keepalive_interval();
  Bytes headers;
  std::vector<asio::const_buffer> buffers;
  while (!conn->closed) {
    std::deque<Bytes> batch;
    {
      std::lock_guard lock(core->mu);
      if (peer->removed) break;
      batch = peer->queue.pop_batch(core->options.max_write_batch_bytes);
      PeerStats& ps = core->stats.peers[peer->id];
      ps.queued_messages = peer->queue.size();
      ps.queued_bytes = peer->queue.bytes();
    }
    if (batch.empty()) {
      // send() cancels this wait when it queues a message.
      if (keepalive.count() > 0) {
        conn->wake.expires_after(keepalive);
      } else {
        conn->wake.expires_at(Clock::time_point::max());
      }
      auto [ec] = co_await conn->wake.async_wait(kNoThrow);
      if (conn->closed) break;
      if (!ec) {
        Status s = co_await write_frame(*conn, FrameType::kKeepalive, {});
        if (!s.ok()) break;
      }
      continue;
    }
    headers.resize(batch.size() * kFrameHeaderBytes);
    buffers.clear();
    size_t payload_bytes = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      std::byte* h = headers.data() + i * kFrameHeaderBytes;
      encode_frame_header(FrameType::kMessage, batch[i], h);
      buffers.emplace_back(h, kFrameHeaderBytes);
      buffers.emplace_back(batch[i].data(), batch[i].size());
      payload_bytes += batch[i].size();
    }
    auto [ec, n] = co_await asio::async_write(conn->stream, buffers, kNoThrow);
    std::lock_guard lock(core->mu);
    PeerStats& ps = core->stats.peers[peer->id];
    if (ec) {
      ps.dropped_on_disconnect += batch.size();
      break;
    }
    ps.messages_sent += batch.size();
    ps.bytes_sent += payload_bytes;
  }
  conn->close();
}

asio::awaitable<void> run_dialer(std::shared_ptr<TlsCore> core, std::shared_ptr<TlsPeer> peer) {
  const std::string name = "node " + std::to_string(peer->id.value());
  milliseconds backoff(core->options.reconnect_backoff_base_ms);
  const milliseconds backoff_max(core->options.reconnect_backoff_max_ms);
  bool ever_connected = false;
  while (true) {
    std::string address;
    {
      std::lock_guard lock(core->mu);
      if (peer->removed) break;
      address = peer->host_port;
    }
    auto conn = std::make_shared<Connection>(core->io, core->ssl, kMaxHelloBytes);
    peer->conn = conn;
    conn->set_deadline_after(milliseconds(core->options.handshake_timeout_ms));
    asio::co_spawn(core->io, run_watchdog(conn), asio::detached);
    Status dialed = co_await dial(core, peer->id, address, conn);
    if (dialed.ok() && !conn->closed) {
      backoff = milliseconds(core->options.reconnect_backoff_base_ms);
      if (core->options.idle_timeout_ms > 0) {
        conn->set_deadline_after(milliseconds(core->options.idle_timeout_ms));
      } else {
        conn->clear_deadline();
      }
      {
        std::lock_guard lock(core->mu);
        PeerStats& ps = core->stats.peers[peer->id];
        ++ps.connects;
        if (ever_connected) ++ps.reconnects;
        ps.connected = true;
      }
      ever_connected = true;
      peer->last_failure.clear();
      core->log("connected to " + name + " at " + address);
      asio::co_spawn(core->io, read_keepalives(core, conn), asio::detached);
      co_await write_queue(core, peer, conn);
      {
        std::lock_guard lock(core->mu);
        core->stats.peers[peer->id].connected = false;
      }
      if (!core->is_stopped()) core->log("connection to " + name + " lost");
    } else {
      {
        std::lock_guard lock(core->mu);
        ++core->stats.peers[peer->id].connect_failures;
      }
      // One line per distinct failure: a peer that is down for an hour is not 720 log lines.
      std::string failure = dialed.ok() ? "closed during handshake" : dialed.message();
      if (failure != peer->last_failure && !core->is_stopped()) {
        core->log("cannot connect to " + name + " at " + address + ": " + failure +
                  " (retrying with backoff)");
      }
      peer->last_failure = std::move(failure);
    }
    conn->close();
    peer->conn.reset();

    // Full backoff on failure, the base delay after a lost connection; half fixed, half random
    // so that a cluster restarting together does not redial in lockstep.
    if (peer->redial_now) {
      peer->redial_now = false;
      backoff = milliseconds(core->options.reconnect_backoff_base_ms);
      continue;
    }
    const auto delay_ms = static_cast<uint64_t>(backoff.count());
    const uint64_t jittered = delay_ms / 2 + std::uniform_int_distribution<uint64_t>(
                                                 0, delay_ms - delay_ms / 2)(core->rng);
    peer->backoff_timer.expires_after(milliseconds(jittered));
    co_await peer->backoff_timer.async_wait(kNoThrow);
    if (!dialed.ok()) backoff = std::min(backoff * 2, backoff_max);
    if (std::exchange(peer->redial_now, false)) {
      backoff = milliseconds(core->options.reconnect_backoff_base_ms);
    }
  }
}

}  // namespace

void TlsCore::spawn_dialer(std::shared_ptr<TlsPeer> peer) {
  auto on_exit = log_exception("dialer for node " + std::to_string(peer->id.value()));
  asio::co_spawn(io, run_dialer(shared_from_this(), std::move(peer)), std::move(on_exit));
}

}  // namespace chorus::net::detail
