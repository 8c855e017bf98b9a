// One TLS connection's plumbing: deadline watchdog, frame reads and writes, and the reading of
// certificate verification results.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <asio/read.hpp>
#include <asio/write.hpp>

#include "chorus/net/certs.h"
#include "chorus/net/hello.h"
#include "chorus/net/tls_core.h"

namespace chorus::net::detail {

namespace {
constexpr size_t kReadBufferBytes = 64 << 10;
}  // namespace

Connection::Connection(asio::io_context& io, asio::ssl::context& ssl, uint32_t hello_limit)
    : stream(io, ssl),
      deadline(io),
      wake(io),
      decoder(hello_limit),
      read_buffer(kReadBufferBytes) {}

Connection::Connection(asio::ip::tcp::socket socket, asio::ssl::context& ssl, uint32_t hello_limit)
    : stream(std::move(socket), ssl),
      deadline(stream.get_executor()),
      wake(stream.get_executor()),
      decoder(hello_limit),
      read_buffer(kReadBufferBytes) {}

void Connection::close() {
  if (closed) return;
  closed = true;
  asio::error_code ignored;
  // No TLS close_notify: the peer treats any end of the stream the same way (reconnect), and a
  // graceful shutdown would need one more round trip on a connection we no longer trust.
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
  deadline.cancel();
  wake.cancel();
}

void Connection::set_deadline_after(std::chrono::milliseconds d) {
  const Clock::time_point at = Clock::now() + d;
  // A later deadline needs nothing: the watchdog wakes at the old one and sleeps again. An
  // earlier one must wake it now, or it would sleep through it.
  const bool earlier = at < deadline_at;
  deadline_at = at;
  if (earlier) deadline.cancel();
}

asio::awaitable<void> run_watchdog(std::shared_ptr<Connection> conn) {
  while (!conn->closed) {
    conn->deadline.expires_at(conn->deadline_at);
    co_await conn->deadline.async_wait(kNoThrow);
    if (conn->closed) break;
    // The deadline may have moved while we slept: only a passed deadline closes.
    if (Clock::now() >= conn->deadline_at) {
      conn->timed_out = true;
      conn->close();
    }
  }
}

std::string describe(const asio::error_code& ec) {
  if (ec == asio::error::eof) return "connection closed by peer";
  if (ec == asio::ssl::error::stream_truncated)
    return "connection closed by peer (no close_notify)";
  return ec.message();
}

asio::awaitable<Result<Frame>> read_frame(Connection& conn) {
  while (true) {
    auto next = conn.decoder.next();
    if (!next.ok()) co_return next.status();
    if (*next) co_return std::move(**next);
    auto [ec, n] = co_await conn.stream.async_read_some(asio::buffer(conn.read_buffer), kNoThrow);
    if (ec) {
      co_return Status::Unavailable(conn.timed_out ? "timed out" : describe(ec));
    }
    conn.decoder.feed(ByteSpan(conn.read_buffer.data(), n));
  }
}

asio::awaitable<Status> write_frame(Connection& conn, FrameType type, ByteSpan payload) {
  Bytes wire = encode_frame(type, payload);
  auto [ec, n] = co_await asio::async_write(conn.stream, asio::buffer(wire), kNoThrow);
  if (ec) co_return Status::Unavailable(conn.timed_out ? "timed out" : describe(ec));
  co_return Status::Ok();
}

void install_verify_recorder(Connection& conn) {
  // The stream is a member of the connection, so the raw pointer lives as long as the callback.
  Connection* c = &conn;
  asio::error_code ignored;
  conn.stream.set_verify_callback(
      [c](bool preverified, asio::ssl::verify_context& ctx) {
        if (!preverified && c->verify_error == X509_V_OK) {
          X509_STORE_CTX* store = ctx.native_handle();
          c->verify_error = X509_STORE_CTX_get_error(store);
          if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
            c->verify_subject = name;
          }
        }
        // Never overrule OpenSSL: we only listen.
        return preverified;
      },
      ignored);
}

namespace {

RejectReason reason_for_verify_error(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    // The peer sent its chain up to a root we do not trust: another CA, not a self-signed leaf.
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return RejectReason::kUnknownCa;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return RejectReason::kSelfSigned;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
      return RejectReason::kBadSignature;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return RejectReason::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return RejectReason::kNotYetValid;
    default:
      return RejectReason::kCertInvalid;
  }
}

}  // namespace

std::pair<RejectReason, std::string> classify_handshake_failure(const Connection& conn,
                                                                const asio::error_code& ec) {
  if (conn.timed_out) return {RejectReason::kHandshakeTimeout, "TLS handshake timed out"};
  if (conn.verify_error != X509_V_OK) {
    return {reason_for_verify_error(conn.verify_error),
            std::string(X509_verify_cert_error_string(conn.verify_error)) + " (" +
                conn.verify_subject + ")"};
  }
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
          SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    return {RejectReason::kNoCertificate, describe(ec)};
  }
  return {RejectReason::kTlsHandshake, describe(ec)};
}

Result<NodeId> peer_certificate_node_id(Connection& conn) {
  // Borrowed: the SSL object owns the certificate.
  X509* cert = SSL_get0_peer_certificate(conn.stream.native_handle());
  return peer_node_id(cert);
}

}  // namespace chorus::net::detail
