// Transport: moves opaque byte messages between node ids. It knows nothing of Raft.
//
// Delivery is best effort — at most once, in order per (sender, receiver) connection, with loss
// on disconnects, full queues and partitions. Raft already tolerates exactly that (lost RPCs are
// retried by the leader's next heartbeat or append), so the transport never blocks a sender and
// never buffers without bound.
//
// Threads (the same rules for every implementation):
//   - on_message(from, message) runs on the io_context the transport was created with — the node's
//     loop — never on any other thread, never concurrently with itself.
//   - send(), add_peer(), remove_peer() and stats() may be called from any thread, including
//     from inside on_message. send() never blocks: it takes a short mutex and returns.
//   - start() is called once, from any thread, before or after the io_context starts running.
//   - stop() may be called from any thread, including from inside on_message. When it returns,
//     on_message is not running (unless stop() was called from inside it) and will not be called
//     again; the handler has been destroyed. Sockets close asynchronously on the io_context.
//     The destructor calls stop(). The io_context must outlive the transport; work the transport
//     left on it completes harmlessly (or is destroyed with the io_context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "chorus/base/bytes.h"
#include "chorus/base/strong_id.h"

namespace asio {
class io_context;
}  // namespace asio

namespace chorus::net {

// Why an inbound or outbound connection was refused before any message crossed it.
enum class RejectReason : uint8_t {
  kUnknownCa,         // the peer's certificate does not chain to the cluster CA
  kSelfSigned,        // the peer presented a self-signed certificate
  kBadSignature,      // a certificate signature does not verify (tampered or corrupt)
  kExpired,           // the certificate's notAfter has passed
  kNotYetValid,       // the certificate's notBefore is in the future
  kCertInvalid,       // any other verification failure (wrong key usage, bad extension, ...)
  kNoCertificate,     // the peer sent no certificate (mutual TLS is required)
  kWrongNodeId,       // the certificate names a different node than the peer claims / was dialed
  kWrongCluster,      // the Hello names a different cluster
  kBadHello,          // the first frame was not a well-formed Hello
  kPlaintext,         // the first bytes were not a TLS handshake
  kTlsHandshake,      // any other TLS failure (protocol version, no shared cipher, ...)
  kHandshakeTimeout,  // TCP + TLS + Hello did not finish within the handshake timeout
  kTooManyConnections,
};
inline constexpr size_t kRejectReasonCount = 14;
std::string_view reject_reason_name(RejectReason reason);

struct PeerStats {
  uint64_t messages_sent = 0;  // written to the socket (TLS) or handed to the network (in-process)
  uint64_t bytes_sent = 0;     // message payload bytes, framing excluded
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  // Dropped because the peer's send queue was full (the oldest queued message is dropped).
  uint64_t dropped_queue_full = 0;
  // Dequeued for a connection that then failed: written or not, the receiver may not have them.
  uint64_t dropped_on_disconnect = 0;
  // Dropped by the in-process network (partition, drop probability, stopped receiver).
  uint64_t dropped_by_network = 0;
  uint64_t connects = 0;          // outbound connections established (Hello exchanged)
  uint64_t reconnects = 0;        // of those, the ones after the first
  uint64_t connect_failures = 0;  // outbound attempts that failed (refused, timeout, rejected)
  bool connected = false;         // an outbound connection is up now
  size_t queued_messages = 0;
  size_t queued_bytes = 0;
};

struct TransportStats {
  std::map<NodeId, PeerStats> peers;  // keyed by peer id: added peers, and peers heard from
  uint64_t dropped_unknown_peer = 0;  // send() to an id never add_peer()ed (or removed)
  uint64_t dropped_too_large = 0;     // send() of a message over the frame size limit
  uint64_t malformed_frames = 0;      // connections closed for a bad frame after the handshake
  uint64_t connections_accepted = 0;  // inbound connections authenticated
  uint64_t rejected[kRejectReasonCount] = {};
  std::string last_rejection;  // "<reason>: <detail>" of the most recent rejection

  uint64_t rejected_count(RejectReason r) const { return rejected[static_cast<size_t>(r)]; }
  uint64_t rejected_total() const;
  // Sum over peers.
  uint64_t messages_sent() const;
  uint64_t messages_received() const;
  uint64_t dropped() const;
};

class Transport {
 public:
  using Handler = std::function<void(NodeId from, Bytes message)>;

  virtual ~Transport() = default;

  virtual NodeId self() const = 0;

  // Begins accepting and dialing; messages that arrive are passed to on_message on the
  // io_context. Called once.
  virtual void start(Handler on_message) = 0;

  // Queues `message` for `to` and returns at once. The peer must have been added. Each peer has
  // a bounded queue (messages and bytes); when it is full the OLDEST queued message is dropped
  // and counted: under Raft the newest message supersedes the old ones (a later append carries a
  // later commit index, a later heartbeat a later term), and a peer that has been away for long
  // should first hear the present, not a backlog the leader will resend anyway.
  virtual void send(NodeId to, Bytes message) = 0;

  // Adds (or re-addresses) a peer: "host:port" for TCP, ignored by the in-process transport.
  // Re-adding with a new address closes the current connection and redials.
  virtual void add_peer(NodeId id, std::string host_port) = 0;
  // Forgets a peer: its queue is dropped and its outbound connection closed. Inbound connections
  // from it stay open (its certificate still chains to the CA) until they fail or stop().
  virtual void remove_peer(NodeId id) = 0;

  virtual void stop() = 0;

  // A consistent snapshot of the counters.
  virtual TransportStats stats() const = 0;
};

}  // namespace chorus::net
