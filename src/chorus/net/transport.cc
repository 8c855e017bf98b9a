#include "chorus/net/transport.h"

namespace chorus::net {

std::string_view reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kUnknownCa:
      return "unknown CA";
    case RejectReason::kSelfSigned:
      return "self-signed certificate";
    case RejectReason::kBadSignature:
      return "bad certificate signature";
    case RejectReason::kExpired:
      return "certificate expired";
    case RejectReason::kNotYetValid:
      return "certificate not yet valid";
    case RejectReason::kCertInvalid:
      return "certificate invalid";
    case RejectReason::kNoCertificate:
      return "no client certificate";
    case RejectReason::kWrongNodeId:
      return "wrong node id";
    case RejectReason::kWrongCluster:
      return "wrong cluster";
    case RejectReason::kBadHello:
      return "malformed hello";
    case RejectReason::kPlaintext:
      return "plaintext connection";
    case RejectReason::kTlsHandshake:
      return "TLS handshake failed";
    case RejectReason::kHandshakeTimeout:
      return "handshake timeout";
    case RejectReason::kTooManyConnections:
      return "too many connections";
  }
  return "unknown";
}

uint64_t TransportStats::rejected_total() const {
  uint64_t n = 0;
  for (uint64_t r : rejected) n += r;
  return n;
}

uint64_t TransportStats::messages_sent() const {
  uint64_t n = 0;
  for (const auto& [id, p] : peers) n += p.messages_sent;
  return n;
}

uint64_t TransportStats::messages_received() const {
  uint64_t n = 0;
  for (const auto& [id, p] : peers) n += p.messages_received;
  return n;
}

uint64_t TransportStats::dropped() const {
  uint64_t n = dropped_unknown_peer + dropped_too_large;
  for (const auto& [id, p] : peers) {
    n += p.dropped_queue_full + p.dropped_on_disconnect + p.dropped_by_network;
  }
  return n;
}

}  // namespace chorus::net
