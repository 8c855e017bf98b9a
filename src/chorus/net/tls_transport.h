// TlsTransport: the Transport over TCP + TLS 1.3 with mutual authentication (asio + OpenSSL 3).
//
// Trust: a peer is node N when its certificate chains to the cluster CA, is within its validity
// period, and names N (URI SAN chorus://node/N, see certs.h). Both sides check:
//   - the dialer knows whom it dialed and requires the server's certificate to name that node;
//   - the acceptor learns whom the dialer claims to be from its first frame, a Hello {cluster
//     name, node id}, and requires the client certificate to name that node;
// then the acceptor answers with its own Hello. Anything else — another CA, a self-signed or
// tampered certificate, an expired or not-yet-valid one, no client certificate, a different node
// id or cluster, a plaintext client, a malformed Hello, a handshake that takes too long — closes
// the connection before any message is read, is logged with its reason and counted in
// TransportStats::rejected. A rejected peer never reaches on_message.
//
// Connections: each node dials each of its peers once and writes its messages for that peer on
// that connection only; it reads its peers' messages from the connections they dialed. So a pair
// of nodes shares two TCP connections, one per direction, and no tie-break is needed. A dialer
// reconnects with jittered exponential backoff. Each connection sends a Keepalive when it has
// been quiet for idle_timeout / 3 and is closed when it has heard nothing for idle_timeout.
// A malformed frame closes only the connection that carried it.
//
// Threads: the Transport rules (transport.h). Every socket, timer and coroutine lives on the
// io_context passed to create(); callers of send() touch only a mutex-guarded queue and post a
// wake-up. Nothing throws out of this class.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chorus/base/status.h"
#include "chorus/net/frame.h"
#include "chorus/net/send_queue.h"
#include "chorus/net/transport.h"

namespace chorus::net {

namespace detail {
struct TlsCore;
}  // namespace detail

struct TlsTransportOptions {
  NodeId self;
  std::string cluster_name;  // 1..255 bytes; peers must use the same one
  // "host:port" to accept on; port 0 picks a free port (see local_port()). Empty: do not accept
  // (a node that only dials, e.g. a client tool).
  std::string listen_address = "127.0.0.1:0";

  std::string ca_pem;    // the cluster CA every peer's certificate must chain to
  std::string cert_pem;  // this node's certificate; must name `self` and chain to ca_pem
  std::string key_pem;   // its private key

  uint32_t max_frame_payload_bytes = kDefaultMaxFramePayloadBytes;
  SendQueueLimits queue;  // per peer; queue.max_bytes >= max_frame_payload_bytes
  // Largest batch of queued messages written with one async_write.
  size_t max_write_batch_bytes = 1u << 20;

  uint32_t handshake_timeout_ms = 5'000;  // TCP connect + TLS handshake + Hello exchange
  uint32_t idle_timeout_ms = 30'000;      // 0: never close an idle connection, no keepalives
  uint32_t reconnect_backoff_base_ms = 50;
  uint32_t reconnect_backoff_max_ms = 5'000;
  uint32_t max_inbound_connections = 256;

  // Receives one line per connection event and rejection. Called on the io_context. Default:
  // fprintf(stderr, "chorus/net node <id>: <line>\n").
  std::function<void(std::string_view)> log;
};

class TlsTransport final : public Transport {
 public:
  // Checks the options, loads the certificates into a TLS 1.3 context and binds the listening
  // socket (so local_port() is known at once). Fails with kInvalidArgument for bad options or
  // certificates (including an own certificate that does not verify against the CA or names
  // another node), kIoError when the address cannot be bound.
  static Result<std::unique_ptr<TlsTransport>> create(asio::io_context& io,
                                                      TlsTransportOptions options);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // The bound port (0 when not listening).
  uint16_t local_port() const;

  NodeId self() const override;
  void start(Handler on_message) override;
  void send(NodeId to, Bytes message) override;
  void add_peer(NodeId id, std::string host_port) override;
  void remove_peer(NodeId id) override;
  void stop() override;
  TransportStats stats() const override;

 private:
  explicit TlsTransport(std::shared_ptr<detail::TlsCore> core);
  std::shared_ptr<detail::TlsCore> core_;
};

}  // namespace chorus::net
