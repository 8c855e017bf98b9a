// Internal to chorus/net: the state behind a TlsTransport, shared with its coroutines.
//
// Ownership: TlsTransport holds a shared_ptr<TlsCore>; every coroutine holds one too, so the
// core outlives the transport object until its coroutines finish (stop() makes them finish).
//
// Threads: fields marked [mu] are guarded by `mu` and may be touched from any thread; fields
// marked [io] are touched only on the io_context (asio objects are not thread-safe), and never
// from under `mu`. Lock order: deliver_mu -> mu.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/net/frame.h"
#include "chorus/net/send_queue.h"
#include "chorus/net/tls_transport.h"

namespace chorus::net::detail {

// Every asynchronous operation completes with its error code as a value: no exceptions.
inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

using Clock = std::chrono::steady_clock;

// One TCP + TLS connection, inbound or outbound. [io] throughout.
struct Connection {
  Connection(asio::io_context& io, asio::ssl::context& ssl, uint32_t hello_limit);
  Connection(asio::ip::tcp::socket socket, asio::ssl::context& ssl, uint32_t hello_limit);

  asio::ip::tcp::socket& socket() { return stream.next_layer(); }
  // Idempotent. Cancels every pending operation and timer of this connection.
  void close();
  // The watchdog closes the connection once Clock::now() passes the deadline.
  void set_deadline_after(std::chrono::milliseconds d);
  void clear_deadline() { deadline_at = Clock::time_point::max(); }

  asio::ssl::stream<asio::ip::tcp::socket> stream;
  asio::steady_timer deadline;  // drives the watchdog
  asio::steady_timer wake;      // writer's wait: new messages (outbound) / keepalive tick (inbound)
  Clock::time_point deadline_at = Clock::time_point::max();
  FrameDecoder decoder;
  std::vector<std::byte> read_buffer;
  int verify_error = 0;        // the first X509 verification error seen in the handshake
  std::string verify_subject;  // subject of the certificate it concerned
  std::string remote;          // "ip:port", for logs
  std::optional<NodeId> peer;  // inbound: set once the peer is authenticated
  bool closed = false;
  bool timed_out = false;
};

struct TlsPeer {
  TlsPeer(NodeId peer_id, std::string address, asio::io_context& io, SendQueueLimits limits)
      : id(peer_id), host_port(std::move(address)), queue(limits), backoff_timer(io) {}

  const NodeId id;
  std::string host_port;  // [mu]
  SendQueue queue;        // [mu]
  bool removed = false;   // [mu]
  // Set by send() when it posts a wake-up, cleared by the wake-up: one post per burst.
  std::atomic<bool> wake_posted{false};

  asio::steady_timer backoff_timer;  // [io] cancelled to redial at once (re-address, stop)
  std::shared_ptr<Connection> conn;  // [io] the current outbound connection, if any
  std::string last_failure;          // [io] logged once per distinct reason
  bool redial_now = false;           // [io] re-addressed: skip the next backoff
};

struct TlsCore : std::enable_shared_from_this<TlsCore> {
  TlsCore(asio::io_context& io_context, TlsTransportOptions opts);

  asio::io_context& io;
  const TlsTransportOptions options;
  asio::ssl::context ssl;
  asio::ip::tcp::acceptor acceptor;  // [io] after start()
  uint16_t port = 0;

  std::recursive_mutex deliver_mu;  // recursive: stop() may be called from inside the handler
  std::shared_ptr<const Transport::Handler> handler;  // [deliver_mu]

  mutable std::mutex mu;
  bool started = false;                                        // [mu]
  bool stopped = false;                                        // [mu]
  std::unordered_map<NodeId, std::shared_ptr<TlsPeer>> peers;  // [mu]
  TransportStats stats;                                        // [mu]

  std::set<std::shared_ptr<Connection>> inbound;  // [io]
  std::mt19937_64 rng;                            // [io] backoff jitter

  bool is_stopped() const;
  void log(const std::string& line);  // [io]
  // Counts and (if `log_it`) logs a refused connection. `who` says which connection
  // ("inbound from ..."). The dialer logs its own rejections once per distinct failure.
  void reject(RejectReason reason, const std::string& who, const std::string& detail,
              bool log_it = true);  // [io]
  // Hands a message to on_message unless stopped. [io]
  void deliver(NodeId from, Bytes message);
  // Closes the acceptor and every connection; peers' coroutines then end. [io]
  void shutdown_io(std::vector<std::shared_ptr<TlsPeer>> peers_to_close);
  std::chrono::milliseconds keepalive_interval() const;  // 0 when idle timeouts are off

  void spawn_dialer(std::shared_ptr<TlsPeer> peer);  // [io]
  // A co_spawn completion handler: our coroutines report failures as values, so an exception
  // here is a bug (or bad_alloc); it ends that coroutine, is logged, and the process lives on.
  std::function<void(std::exception_ptr)> log_exception(std::string what);
  void spawn_acceptor();  // [io]
};

// tls_connection.cc
asio::awaitable<void> run_watchdog(std::shared_ptr<Connection> conn);
// The next whole frame, or: kUnavailable when the socket fails or closes, the decoder's
// kCorruption / kTooLarge for a malformed frame.
asio::awaitable<Result<Frame>> read_frame(Connection& conn);
asio::awaitable<Status> write_frame(Connection& conn, FrameType type, ByteSpan payload);
// Records the first X509 verification error of the handshake in `conn`.
void install_verify_recorder(Connection& conn);
// Why a TLS handshake failed, from what the connection recorded and the handshake's error.
std::pair<RejectReason, std::string> classify_handshake_failure(const Connection& conn,
                                                                const asio::error_code& ec);
// The node id in the peer's (already verified) certificate.
Result<NodeId> peer_certificate_node_id(Connection& conn);
std::string describe(const asio::error_code& ec);

}  // namespace chorus::net::detail
