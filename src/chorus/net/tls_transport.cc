// TlsTransport's public face: options, TLS context, the thread-safe calls (send, add_peer,
// remove_peer, stop, stats). The coroutines are in tls_dialer.cc and tls_acceptor.cc.
#include "chorus/net/tls_transport.h"

#include <openssl/ssl.h>

#include <asio/post.hpp>

#include <cstdio>

#include "chorus/net/certs.h"
#include "chorus/net/hello.h"
#include "chorus/net/tls_core.h"

namespace chorus::net {

using detail::TlsCore;
using detail::TlsPeer;

namespace {

Status check_options(const TlsTransportOptions& o) {
  if (o.self.value() == 0) return Status::InvalidArgument("tls transport: node id 0");
  if (o.cluster_name.empty() || o.cluster_name.size() > kMaxClusterNameBytes) {
    return Status::InvalidArgument("tls transport: cluster name must be 1..255 bytes");
  }
  if (o.max_frame_payload_bytes < kMaxHelloBytes ||
      o.max_frame_payload_bytes > kMaxFramePayloadBytesLimit) {
    return Status::InvalidArgument("tls transport: max_frame_payload_bytes out of range");
  }
  if (o.queue.max_messages == 0 || o.queue.max_bytes < o.max_frame_payload_bytes) {
    return Status::InvalidArgument(
        "tls transport: the send queue must admit one message of max_frame_payload_bytes");
  }
  if (o.handshake_timeout_ms == 0 || o.reconnect_backoff_base_ms == 0 ||
      o.reconnect_backoff_base_ms > o.reconnect_backoff_max_ms || o.max_write_batch_bytes == 0 ||
      o.max_inbound_connections == 0) {
    return Status::InvalidArgument("tls transport: timeouts, backoff and limits must be > 0");
  }
  if (o.idle_timeout_ms != 0 && o.idle_timeout_ms < 3) {
    return Status::InvalidArgument("tls transport: idle_timeout_ms must be 0 or >= 3");
  }
  auto named = peer_node_id(std::string_view(o.cert_pem));
  if (!named.ok()) return named.status().Annotate("tls transport: own certificate");
  if (*named != o.self) {
    return Status::InvalidArgument("tls transport: own certificate names node " +
                                   std::to_string(named->value()) + ", not " +
                                   std::to_string(o.self.value()));
  }
  // Fail at startup, loudly, rather than be rejected by every peer later.
  return verify_cert(o.ca_pem, o.cert_pem).Annotate("tls transport: own certificate");
}

Status configure_tls(asio::ssl::context& ssl, const TlsTransportOptions& o) {
  SSL_CTX* ctx = ssl.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Status::InvalidArgument("tls transport: TLS 1.3 unavailable");
  }
  // Connections are long-lived and never resumed: no session tickets.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  // Send exactly the chain in cert_pem: without this OpenSSL appends the CA from our trust store,
  // which every peer already has.
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
  asio::error_code ec;
  ssl.use_certificate_chain(asio::buffer(o.cert_pem), ec);
  if (ec) return Status::InvalidArgument("tls transport: certificate: " + ec.message());
  ssl.use_private_key(asio::buffer(o.key_pem), asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("tls transport: private key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("tls transport: private key does not match the certificate");
  }
  ssl.add_certificate_authority(asio::buffer(o.ca_pem), ec);
  if (ec) return Status::InvalidArgument("tls transport: CA: " + ec.message());
  // Mutual: the server requests a client certificate and fails without one; both sides verify
  // the other's chain against the cluster CA only (no system trust store is loaded).
  ssl.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return Status::InvalidArgument("tls transport: verify mode: " + ec.message());
  ssl.set_verify_depth(4, ec);
  return Status::Ok();
}

Result<asio::ip::tcp::endpoint> parse_listen_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("listen address '" + address + "' is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("listen address '" + address + "': " + ec.message());
  unsigned long port = 0;
  try {
    port = std::stoul(address.substr(colon + 1));
  } catch (...) {
    port = 65536;
  }
  if (port > 65535) return Status::InvalidArgument("listen address '" + address + "': bad port");
  return asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
}

Status listen(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& endpoint) {
  asio::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  // A restarted node must be able to rebind while old connections sit in TIME_WAIT.
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("listen on " + endpoint.address().to_string() + ":" +
                           std::to_string(endpoint.port()) + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

namespace detail {

TlsCore::TlsCore(asio::io_context& io_context, TlsTransportOptions opts)
    : io(io_context),
      options(std::move(opts)),
      ssl(asio::ssl::context::tls),
      acceptor(io_context),
      rng(std::random_device{}()) {}

bool TlsCore::is_stopped() const {
  std::lock_guard lock(mu);
  return stopped;
}

void TlsCore::log(const std::string& line) {
  if (options.log) {
    options.log(line);
  } else {
    std::fprintf(stderr, "chorus/net node %llu: %s\n",
                 static_cast<unsigned long long>(options.self.value()), line.c_str());
  }
}

void TlsCore::reject(RejectReason reason, const std::string& who, const std::string& detail,
                     bool log_it) {
  std::string line = std::string(reject_reason_name(reason)) + ": " + detail;
  {
    std::lock_guard lock(mu);
    ++stats.rejected[static_cast<size_t>(reason)];
    stats.last_rejection = line;
  }
  if (log_it) log("rejected " + who + ": " + line);
}

void TlsCore::deliver(NodeId from, Bytes message) {
  std::lock_guard deliver_lock(deliver_mu);
  // A copy, so that a stop() from inside the handler does not destroy the running function.
  std::shared_ptr<const Transport::Handler> h = handler;
  if (!h) return;
  {
    std::lock_guard lock(mu);
    PeerStats& ps = stats.peers[from];
    ++ps.messages_received;
    ps.bytes_received += message.size();
  }
  (*h)(from, std::move(message));
}

std::function<void(std::exception_ptr)> TlsCore::log_exception(std::string what) {
  return [core = shared_from_this(), what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      core->log(what + " ended by an exception: " + ex.what());
    } catch (...) {
      core->log(what + " ended by an unknown exception");
    }
  };
}

std::chrono::milliseconds TlsCore::keepalive_interval() const {
  return std::chrono::milliseconds(options.idle_timeout_ms / 3);
}

void TlsCore::shutdown_io(std::vector<std::shared_ptr<TlsPeer>> peers_to_close) {
  asio::error_code ignored;
  acceptor.close(ignored);
  for (const auto& conn : inbound) conn->close();
  for (const auto& peer : peers_to_close) {
    peer->backoff_timer.cancel();
    if (peer->conn) peer->conn->close();
  }
}

}  // namespace detail

Result<std::unique_ptr<TlsTransport>> TlsTransport::create(asio::io_context& io,
                                                           TlsTransportOptions options) {
  CHORUS_TRY(check_options(options));
  std::shared_ptr<TlsCore> core;
  try {
    core = std::make_shared<TlsCore>(io, std::move(options));
  } catch (const std::exception& e) {
    return Status::Failed(std::string("tls transport: TLS context: ") + e.what());
  }
  CHORUS_TRY(configure_tls(core->ssl, core->options));
  if (!core->options.listen_address.empty()) {
    CHORUS_ASSIGN_OR_RETURN(auto endpoint, parse_listen_address(core->options.listen_address));
    CHORUS_TRY(listen(core->acceptor, endpoint));
    asio::error_code ec;
    core->port = core->acceptor.local_endpoint(ec).port();
    if (ec) return Status::IoError("listen: local_endpoint: " + ec.message());
  }
  return std::unique_ptr<TlsTransport>(new TlsTransport(std::move(core)));
}

TlsTransport::TlsTransport(std::shared_ptr<TlsCore> core) : core_(std::move(core)) {}

TlsTransport::~TlsTransport() { stop(); }

uint16_t TlsTransport::local_port() const { return core_->port; }

NodeId TlsTransport::self() const { return core_->options.self; }

void TlsTransport::start(Handler on_message) {
  CHORUS_ASSERT(on_message, "start() needs a handler");
  {
    std::lock_guard deliver_lock(core_->deliver_mu);
    CHORUS_ASSERT(!core_->handler, "start() called twice");
    core_->handler = std::make_shared<const Handler>(std::move(on_message));
  }
  std::vector<std::shared_ptr<TlsPeer>> peers;
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopped) return;
    core_->started = true;
    for (const auto& [id, peer] : core_->peers) peers.push_back(peer);
  }
  asio::post(core_->io, [core = core_, peers = std::move(peers)] {
    if (core->is_stopped()) return;
    core->spawn_acceptor();
    for (const auto& peer : peers) core->spawn_dialer(peer);
  });
}

void TlsTransport::send(NodeId to, Bytes message) {
  std::shared_ptr<TlsPeer> peer;
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopped) return;
    auto it = core_->peers.find(to);
    if (it == core_->peers.end()) {
      ++core_->stats.dropped_unknown_peer;
      return;
    }
    if (message.size() > core_->options.max_frame_payload_bytes) {
      ++core_->stats.dropped_too_large;
      return;
    }
    peer = it->second;
    PeerStats& ps = core_->stats.peers[to];
    ps.dropped_queue_full += peer->queue.push(std::move(message));
    ps.queued_messages = peer->queue.size();
    ps.queued_bytes = peer->queue.bytes();
    if (!core_->started) return;  // start() will dial and the writer will find the queue
  }
  if (peer->wake_posted.exchange(true)) return;  // a wake-up is already on its way
  asio::post(core_->io, [peer] {
    peer->wake_posted.store(false);
    if (peer->conn) peer->conn->wake.cancel();
  });
}

void TlsTransport::add_peer(NodeId id, std::string host_port) {
  CHORUS_ASSERT(id != core_->options.self, "a node is not its own peer");
  std::shared_ptr<TlsPeer> peer;
  bool readdressed = false;
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopped) return;
    auto& slot = core_->peers[id];
    if (slot) {
      if (slot->host_port == host_port) return;
      slot->host_port = std::move(host_port);
      readdressed = true;
    } else {
      slot = std::make_shared<TlsPeer>(id, std::move(host_port), core_->io, core_->options.queue);
    }
    core_->stats.peers[id];
    if (!core_->started) return;
    peer = slot;
  }
  asio::post(core_->io, [core = core_, peer, readdressed] {
    if (!readdressed) {
      core->spawn_dialer(peer);
      return;
    }
    // The dialer redials the new address after this connection ends; skip any backoff.
    peer->redial_now = true;
    peer->backoff_timer.cancel();
    if (peer->conn) peer->conn->close();
  });
}

void TlsTransport::remove_peer(NodeId id) {
  std::shared_ptr<TlsPeer> peer;
  {
    std::lock_guard lock(core_->mu);
    auto it = core_->peers.find(id);
    if (it == core_->peers.end()) return;
    peer = std::move(it->second);
    core_->peers.erase(it);
    peer->removed = true;
    PeerStats& ps = core_->stats.peers[id];
    ps.dropped_on_disconnect += peer->queue.clear();
    ps.queued_messages = 0;
    ps.queued_bytes = 0;
    ps.connected = false;
  }
  asio::post(core_->io, [peer] {
    peer->backoff_timer.cancel();
    if (peer->conn) peer->conn->close();
  });
}

void TlsTransport::stop() {
  {
    // Waits for a delivery in progress on another thread; afterwards nothing can call it.
    std::lock_guard deliver_lock(core_->deliver_mu);
    core_->handler.reset();
  }
  std::vector<std::shared_ptr<TlsPeer>> peers;
  {
    std::lock_guard lock(core_->mu);
    if (core_->stopped) return;
    core_->stopped = true;
    for (auto& [id, peer] : core_->peers) {
      peer->removed = true;
      core_->stats.peers[id].dropped_on_disconnect += peer->queue.clear();
      peers.push_back(std::move(peer));
    }
    core_->peers.clear();
  }
  if (core_->io.get_executor().running_in_this_thread()) {
    core_->shutdown_io(std::move(peers));
  } else {
    asio::post(core_->io, [core = core_, peers = std::move(peers)]() mutable {
      core->shutdown_io(std::move(peers));
    });
  }
}

TransportStats TlsTransport::stats() const {
  std::lock_guard lock(core_->mu);
  return core_->stats;
}

}  // namespace chorus::net
