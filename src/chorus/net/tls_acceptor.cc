// Inbound: the accept loop, and per connection: plaintext check, TLS handshake as server, the
// dialer's Hello checked against its certificate, our Hello back, then frames to on_message.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/write.hpp>

#include <cstdio>

#include "chorus/net/hello.h"
#include "chorus/net/tls_core.h"

namespace chorus::net::detail {

namespace {

using std::chrono::milliseconds;

// A TLS connection starts with a record of type 22 (handshake). Anything else is someone
// speaking plaintext (or another protocol) to a TLS port: reject it by name instead of letting
// OpenSSL report "wrong version number".
constexpr uint8_t kTlsHandshakeRecord = 0x16;

// Waits for the first byte without consuming it. Returns it, or nullopt if the peer closed or
// the deadline passed first.
asio::awaitable<std::optional<uint8_t>> peek_first_byte(Connection& conn) {
  auto [ec] = co_await conn.socket().async_wait(asio::socket_base::wait_read, kNoThrow);
  if (ec) co_return std::nullopt;
  uint8_t first = 0;
  asio::error_code peek_ec;
  size_t n =
      conn.socket().receive(asio::buffer(&first, 1), asio::socket_base::message_peek, peek_ec);
  if (peek_ec || n == 0) co_return std::nullopt;
  co_return first;
}

// Everything before the first message; returns the authenticated peer id, or nullopt after
// rejecting (logged and counted) or losing the connection.
asio::awaitable<std::optional<NodeId>> authenticate(std::shared_ptr<TlsCore> core,
                                                    std::shared_ptr<Connection> conn) {
  std::string who = "inbound from " + conn->remote;
  auto first = co_await peek_first_byte(*conn);
  if (!first) {
    // Closed before saying anything (a port probe, a health check): not worth a rejection,
    // unless it held the slot until the deadline.
    if (conn->timed_out) core->reject(RejectReason::kHandshakeTimeout, who, "no bytes received");
    co_return std::nullopt;
  }
  if (*first != kTlsHandshakeRecord) {
    char detail[64];
    std::snprintf(detail, sizeof(detail), "first byte 0x%02x is not a TLS handshake", *first);
    core->reject(RejectReason::kPlaintext, who, detail);
    co_return std::nullopt;
  }

  install_verify_recorder(*conn);
  auto [handshake_ec] =
      co_await conn->stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (handshake_ec) {
    auto [reason, detail] = classify_handshake_failure(*conn, handshake_ec);
    core->reject(reason, who, detail);
    co_return std::nullopt;
  }

  auto frame = co_await read_frame(*conn);
  if (!frame.ok()) {
    if (conn->timed_out) {
      core->reject(RejectReason::kHandshakeTimeout, who, "no hello");
    } else if (frame.status().code() == StatusCode::kUnavailable) {
      // The client went away, e.g. because it rejected our certificate.
      core->log(who + " closed before its hello: " + frame.status().message());
    } else {
      core->reject(RejectReason::kBadHello, who, frame.status().message());
    }
    co_return std::nullopt;
  }
  auto hello = frame->type == FrameType::kHello
                   ? decode_hello(frame->payload)
                   : Result<Hello>(Status::Corruption(std::string("first frame is a ") +
                                                      std::string(frame_type_name(frame->type))));
  if (!hello.ok()) {
    core->reject(RejectReason::kBadHello, who, hello.status().message());
    co_return std::nullopt;
  }
  who += " claiming node " + std::to_string(hello->node_id.value());
  if (hello->cluster_name != core->options.cluster_name) {
    core->reject(RejectReason::kWrongCluster, who, "cluster '" + hello->cluster_name + "'");
    co_return std::nullopt;
  }
  auto named = peer_certificate_node_id(*conn);
  if (!named.ok()) {
    core->reject(RejectReason::kWrongNodeId, who, named.status().message());
    co_return std::nullopt;
  }
  if (*named != hello->node_id || *named == core->options.self) {
    core->reject(RejectReason::kWrongNodeId, who,
                 "certificate names node " + std::to_string(named->value()));
    co_return std::nullopt;
  }

  // Named, not a temporary inside the co_await: GCC 12 mishandles the lifetime of such
  // temporaries across a suspension (double destruction).
  const Bytes our_hello = encode_hello({core->options.cluster_name, core->options.self});
  Status answered = co_await write_frame(*conn, FrameType::kHello, our_hello);
  if (!answered.ok()) {
    core->log(who + ": could not answer the hello: " + answered.message());
    co_return std::nullopt;
  }
  co_return *named;
}

// Our side of an inbound connection sends nothing but these.
asio::awaitable<void> send_keepalives(std::shared_ptr<TlsCore> core,
                                      std::shared_ptr<Connection> conn) {
  const milliseconds interval = core->keepalive_interval();
  while (!conn->closed) {
    conn->wake.expires_after(interval);
    co_await conn->wake.async_wait(kNoThrow);
    if (conn->closed) break;
    Status s = co_await write_frame(*conn, FrameType::kKeepalive, {});
    if (!s.ok()) break;
  }
  conn->close();
}

asio::awaitable<void> serve(std::shared_ptr<TlsCore> core, std::shared_ptr<Connection> conn) {
  conn->set_deadline_after(milliseconds(core->options.handshake_timeout_ms));
  asio::co_spawn(core->io, run_watchdog(conn), asio::detached);
  std::optional<NodeId> peer = co_await authenticate(core, conn);
  if (!peer || conn->closed) {
    conn->close();
    co_return;
  }
  {
    std::lock_guard lock(core->mu);
    ++core->stats.connections_accepted;
    core->stats.peers[*peer];
  }
  const std::string who = "node " + std::to_string(peer->value()) + " (" + conn->remote + ")";
  core->log("accepted connection from " + who);
  // A dialer keeps one connection per peer, so an older one from the same node is dead or being
  // replaced (the node restarted, or redialed after a timeout): close it now rather than keep
  // it until its idle timeout.
  conn->peer = *peer;
  for (const auto& other : core->inbound) {
    if (other != conn && other->peer == *peer && !other->closed) {
      core->log("closing an older connection from " + who + " (" + other->remote + ")");
      other->close();
    }
  }

  const milliseconds idle(core->options.idle_timeout_ms);
  if (idle.count() > 0) {
    conn->set_deadline_after(idle);
    asio::co_spawn(core->io, send_keepalives(core, conn), asio::detached);
  } else {
    conn->clear_deadline();
  }
  conn->decoder.set_max_payload_bytes(core->options.max_frame_payload_bytes);
  while (!conn->closed) {
    auto frame = co_await read_frame(*conn);
    if (!frame.ok()) {
      if (frame.status().code() != StatusCode::kUnavailable) {
        {
          std::lock_guard lock(core->mu);
          ++core->stats.malformed_frames;
        }
        core->log("closing connection from " + who + ": " + frame.status().ToString());
      } else if (!core->is_stopped()) {
        core->log("connection from " + who + " ended: " + frame.status().message());
      }
      break;
    }
    if (idle.count() > 0) conn->set_deadline_after(idle);
    if (frame->type == FrameType::kMessage) {
      core->deliver(*peer, std::move(frame->payload));
    } else if (frame->type != FrameType::kKeepalive) {
      {
        std::lock_guard lock(core->mu);
        ++core->stats.malformed_frames;
      }
      core->log("closing connection from " + who + ": unexpected " +
                std::string(frame_type_name(frame->type)) + " frame");
      break;
    }
  }
  conn->close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<TlsCore> core) {
  while (true) {
    auto [ec, socket] = co_await core->acceptor.async_accept(kNoThrow);
    if (core->is_stopped() || ec == asio::error::operation_aborted) break;
    if (ec) {
      // EMFILE and friends: pause instead of spinning, then keep serving.
      core->log("accept failed: " + ec.message());
      asio::steady_timer pause(core->io, milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    asio::error_code endpoint_ec;
    auto endpoint = socket.remote_endpoint(endpoint_ec);
    std::string remote =
        endpoint_ec ? "unknown peer"
                    : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    if (core->inbound.size() >= core->options.max_inbound_connections) {
      core->reject(RejectReason::kTooManyConnections, "inbound from " + remote,
                   std::to_string(core->inbound.size()) + " open");
      continue;  // the socket closes as it goes out of scope
    }
    asio::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket), core->ssl, kMaxHelloBytes);
    conn->remote = std::move(remote);
    core->inbound.insert(conn);
    auto on_exit = core->log_exception("inbound connection from " + conn->remote);
    asio::co_spawn(core->io, serve(core, conn),
                   [core, conn, on_exit = std::move(on_exit)](std::exception_ptr e) {
                     conn->close();
                     core->inbound.erase(conn);
                     on_exit(e);
                   });
  }
}

}  // namespace

void TlsCore::spawn_acceptor() {
  if (!acceptor.is_open()) return;  // not listening
  asio::co_spawn(io, accept_loop(shared_from_this()), log_exception("accept loop"));
}

}  // namespace chorus::net::detail
