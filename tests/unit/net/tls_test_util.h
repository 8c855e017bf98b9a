// Helpers for the TLS transport tests: certificates made by the certs API into a temp dir, a
// node (transport + loop thread + inbox + captured log), and hand-made "rogue" clients that
// speak raw TCP or TLS to a node's port.
#pragma once

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "chorus/net/certs.h"
#include "chorus/net/frame.h"
#include "chorus/net/hello.h"
#include "chorus/net/tls_transport.h"
#include "support/temp_dir.h"
#include "unit/net/net_test_util.h"

namespace chorus::net::test {

inline constexpr const char* kCluster = "test-cluster";

// Every certificate the tests need, generated once per test binary and stored as PEM files
// (write_pem_files, then read_pem_files) the way a deployment would keep them.
struct TestCerts {
  CertKeyPair ca, other_ca;
  std::map<uint64_t, CertKeyPair> node;  // node id -> certificate from the cluster CA
  CertKeyPair other_ca_node1;            // node 1 of another cluster (another CA)
  CertKeyPair other_ca_node2;            // node 2, signed by another CA
  CertKeyPair self_signed_node2;         // a self-signed "node-2"
  CertKeyPair tampered_node2;            // node 2 from the cluster CA, one signature byte flipped
  CertKeyPair expired_node2;
  CertKeyPair not_yet_valid_node2;

  static const TestCerts& get() {
    static const TestCerts* certs = make();
    return *certs;
  }

 private:
  static CertKeyPair must(Result<CertKeyPair> r) {
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      std::abort();
    }
    return std::move(*r);
  }

  // Flips one bit in the last byte of the DER encoding: that byte belongs to the signature
  // value (the last field of a certificate), so the structure still parses but no longer
  // verifies.
  static std::string tamper_signature(const std::string& pem) {
    BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
    BIO_free(in);
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    der[len - 1] ^= 0x01;
    const unsigned char* p = der;
    X509* tampered = d2i_X509(nullptr, &p, len);
    OPENSSL_free(der);
    if (tampered == nullptr) std::abort();
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(out, tampered);
    X509_free(tampered);
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    std::string result(data, static_cast<size_t>(n));
    BIO_free(out);
    return result;
  }

  static TestCerts* make() {
    using namespace std::chrono_literals;
    auto* c = new TestCerts;
    chorus::test::TempDir dir;
    auto store = [&](const std::string& name, CertKeyPair pair) {
      EXPECT_TRUE(write_pem_files(dir.path(), name, pair).ok());
      return must(read_pem_files(dir.path(), name));
    };
    c->ca = store("ca", must(generate_ca("chorus test CA", 30)));
    c->other_ca = store("other-ca", must(generate_ca("some other CA", 30)));
    for (uint64_t id = 1; id <= 5; ++id) {
      c->node[id] =
          store("node-" + std::to_string(id), must(issue_node_cert(c->ca, NodeId(id), 10)));
    }
    c->other_ca_node1 = store("other-1", must(issue_node_cert(c->other_ca, NodeId(1), 10)));
    c->other_ca_node2 = store("other-2", must(issue_node_cert(c->other_ca, NodeId(2), 10)));
    c->self_signed_node2 = store("self-2", must(generate_ca("node-2", 10)));
    CertKeyPair tampered = must(issue_node_cert(c->ca, NodeId(2), 10));
    tampered.cert_pem = tamper_signature(tampered.cert_pem);
    c->tampered_node2 = store("tampered-2", tampered);
    c->expired_node2 = store("expired-2", must(issue_node_cert(c->ca, NodeId(2), 1, -72h)));
    c->not_yet_valid_node2 = store("future-2", must(issue_node_cert(c->ca, NodeId(2), 1, 48h)));
    return c;
  }
};

// A node: its loop thread, its transport, what it received and what it logged.
class TlsNode {
 public:
  static TlsTransportOptions options(uint64_t id) {
    const TestCerts& certs = TestCerts::get();
    TlsTransportOptions o;
    o.self = NodeId(id);
    o.cluster_name = kCluster;
    o.ca_pem = certs.ca.cert_pem;
    o.cert_pem = certs.node.at(id).cert_pem;
    o.key_pem = certs.node.at(id).key_pem;
    o.handshake_timeout_ms = 2'000;
    o.reconnect_backoff_base_ms = 20;
    o.reconnect_backoff_max_ms = 200;
    return o;
  }

  explicit TlsNode(TlsTransportOptions o) {
    o.log = [this](std::string_view line) {
      std::lock_guard lock(mu_);
      log_.emplace_back(line);
    };
    auto t = TlsTransport::create(loop_.io(), std::move(o));
    if (!t.ok()) {
      ADD_FAILURE() << t.status().ToString();
      return;
    }
    transport_ = std::move(*t);
  }
  explicit TlsNode(uint64_t id) : TlsNode(options(id)) {}

  ~TlsNode() {
    if (transport_) loop_.run([&] { transport_->stop(); });
    loop_.join();
    transport_.reset();
  }

  TlsTransport& t() { return *transport_; }
  Inbox& inbox() { return inbox_; }
  IoThread& loop() { return loop_; }
  void start() { transport_->start(inbox_.handler()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport_->local_port()); }
  TransportStats stats() const { return transport_->stats(); }

  bool logged(const std::string& needle) const {
    std::lock_guard lock(mu_);
    for (const auto& line : log_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string log_text() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& line : log_) out += line + "\n";
    return out;
  }

 private:
  IoThread loop_;  // first: destroyed last, after the transport
  Inbox inbox_;
  mutable std::mutex mu_;
  std::vector<std::string> log_;
  std::unique_ptr<TlsTransport> transport_;
};

// ---- rogue clients -----------------------------------------------------------------------

struct RogueOutcome {
  bool handshake_ok = false;  // our TLS handshake finished (in TLS 1.3 before the server judged us)
  bool answered = false;      // the server sent its Hello: we were accepted
  bool closed = false;        // the server closed the connection
  std::string error;
};

inline Bytes hello_frame(NodeId claimed, const std::string& cluster = kCluster) {
  return encode_frame(FrameType::kHello, encode_hello({cluster, claimed}));
}
inline Bytes message_frame(const std::string& text) {
  return encode_frame(FrameType::kMessage, as_bytes(text));
}
inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

namespace detail {
inline constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

inline asio::awaitable<void> rogue_session(asio::ssl::stream<asio::ip::tcp::socket>* s,
                                           uint16_t port, const Bytes* to_send, RogueOutcome* out) {
  asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
  auto [cec] = co_await s->next_layer().async_connect(server, kTuple);
  if (cec) {
    out->error = "connect: " + cec.message();
    co_return;
  }
  auto [hec] = co_await s->async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) {
    out->error = "handshake: " + hec.message();
    out->closed = true;
    co_return;
  }
  out->handshake_ok = true;
  co_await asio::async_write(*s, asio::buffer(*to_send), kTuple);  // failures show in the read
  FrameDecoder decoder;
  std::vector<std::byte> buf(4096);
  while (true) {
    auto [rec, n] = co_await s->async_read_some(asio::buffer(buf), kTuple);
    if (rec) {
      out->error = rec.message();
      out->closed = true;
      co_return;
    }
    decoder.feed(ByteSpan(buf.data(), n));
    while (true) {
      auto f = decoder.next();
      if (!f.ok() || !*f) break;
      if ((*f)->type == FrameType::kHello) out->answered = true;
    }
  }
}
}  // namespace detail

// Connects with TLS 1.3 presenting `cert` (or no certificate), does not check the server, sends
// `bytes`, then reads until the server closes or `timeout` passes.
inline RogueOutcome rogue_tls_client(uint16_t port, const CertKeyPair* cert, const Bytes& bytes,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_none);
  if (cert != nullptr) {
    ctx.use_certificate_chain(asio::buffer(cert->cert_pem));
    ctx.use_private_key(asio::buffer(cert->key_pem), asio::ssl::context::pem);
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  RogueOutcome out;
  asio::co_spawn(io, detail::rogue_session(&stream, port, &bytes, &out), asio::detached);
  io.run_for(timeout);
  return out;
}

// Plain TCP: sends `bytes` and waits for the server to close; returns whether it did.
inline bool plaintext_client(uint16_t port, const std::string& bytes) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return false;
  if (!bytes.empty()) asio::write(socket, asio::buffer(bytes), ec);
  char buf[256];
  while (!ec) socket.read_some(asio::buffer(buf), ec);  // the server's deadline bounds this
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

}  // namespace chorus::net::test
