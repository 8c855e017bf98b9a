// Every way a peer can fail authentication: each is refused before any message is read, logged
// with its reason, counted, and the server keeps serving a good peer afterwards.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "chorus/net/tls_transport.h"
#include "unit/net/tls_test_util.h"

namespace chorus::net {
namespace {

using test::eventually;
using test::hello_frame;
using test::message_frame;
using test::RogueOutcome;
using test::TestCerts;
using test::TlsNode;

constexpr char kRoguePayload[] = "rogue payload";

// Server node 1; a good peer, node 3, that dials it.
class TlsRejectionTest : public ::testing::Test {
 protected:
  void SetUp() override { start_server(TlsNode::options(1)); }

  void start_server(TlsTransportOptions o) {
    good_.reset();
    server_ = std::make_unique<TlsNode>(std::move(o));
    good_ = std::make_unique<TlsNode>(3);
    good_->t().add_peer(NodeId(1), server_->address());
    server_->start();
    good_->start();
  }

  uint16_t port() { return server_->t().local_port(); }

  // What a rogue sends: a Hello claiming node 2, then a message.
  static Bytes rogue_bytes(NodeId claimed = NodeId(2)) {
    return test::concat({hello_frame(claimed), message_frame(kRoguePayload)});
  }

  void expect_rejected(RejectReason reason, const RogueOutcome& outcome) {
    SCOPED_TRACE(std::string(reject_reason_name(reason)));
    ASSERT_TRUE(eventually([&] { return server_->stats().rejected_count(reason) >= 1; }))
        << server_->log_text() << "last: " << server_->stats().last_rejection;
    auto s = server_->stats();
    EXPECT_EQ(s.rejected_total(), s.rejected_count(reason)) << s.last_rejection;
    EXPECT_EQ(s.last_rejection.rfind(std::string(reject_reason_name(reason)), 0), 0u)
        << s.last_rejection;
    EXPECT_TRUE(server_->logged("rejected inbound from 127.0.0.1")) << server_->log_text();
    EXPECT_FALSE(outcome.answered) << "the server accepted the rogue's hello";
    expect_server_still_serves();
    EXPECT_FALSE(server_->inbox().contains_text(kRoguePayload));
    EXPECT_TRUE(server_->inbox().from(NodeId(2)).empty());
    EXPECT_EQ(server_->stats().connections_accepted, 1u);  // only the good peer
  }

  void expect_server_still_serves() {
    const std::string probe = "still serving " + std::to_string(++probes_);
    good_->t().send(NodeId(1), to_bytes(probe));
    ASSERT_TRUE(eventually([&] { return server_->inbox().contains(NodeId(3), probe); }))
        << server_->log_text() << good_->log_text();
  }

  std::unique_ptr<TlsNode> server_;
  std::unique_ptr<TlsNode> good_;
  int probes_ = 0;
};

TEST_F(TlsRejectionTest, CertificateFromAnotherCa) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().other_ca_node2, rogue_bytes());
  expect_rejected(RejectReason::kUnknownCa, out);
  EXPECT_TRUE(out.closed);
}

TEST_F(TlsRejectionTest, SelfSignedCertificate) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().self_signed_node2, rogue_bytes());
  expect_rejected(RejectReason::kSelfSigned, out);
}

TEST_F(TlsRejectionTest, TamperedSignature) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().tampered_node2, rogue_bytes());
  expect_rejected(RejectReason::kBadSignature, out);
}

TEST_F(TlsRejectionTest, ExpiredCertificate) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().expired_node2, rogue_bytes());
  expect_rejected(RejectReason::kExpired, out);
}

TEST_F(TlsRejectionTest, NotYetValidCertificate) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().not_yet_valid_node2, rogue_bytes());
  expect_rejected(RejectReason::kNotYetValid, out);
}

TEST_F(TlsRejectionTest, ValidCertificateForADifferentNodeId) {
  // Node 4's genuine certificate, but the Hello claims node 2.
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(4), rogue_bytes(NodeId(2)));
  expect_rejected(RejectReason::kWrongNodeId, out);
  EXPECT_TRUE(out.handshake_ok);  // TLS itself was fine: the identity check refused it
  EXPECT_TRUE(server_->inbox().from(NodeId(4)).empty());
}

TEST_F(TlsRejectionTest, ClaimingToBeTheServerItself) {
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(1), rogue_bytes(NodeId(1)));
  expect_rejected(RejectReason::kWrongNodeId, out);
}

TEST_F(TlsRejectionTest, PlaintextClientSendingGarbage) {
  EXPECT_TRUE(test::plaintext_client(port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n garbage"));
  expect_rejected(RejectReason::kPlaintext, {});
  EXPECT_TRUE(server_->logged("first byte 0x47")) << server_->log_text();
}

TEST_F(TlsRejectionTest, PlaintextClientSpeakingOurFrames) {
  // Our own framing without TLS is still plaintext.
  Bytes frames = rogue_bytes();
  EXPECT_TRUE(test::plaintext_client(port(), std::string(as_string_view(frames))));
  expect_rejected(RejectReason::kPlaintext, {});
}

TEST_F(TlsRejectionTest, ClientWithoutCertificate) {
  auto out = test::rogue_tls_client(port(), nullptr, rogue_bytes());
  expect_rejected(RejectReason::kNoCertificate, out);
}

TEST_F(TlsRejectionTest, WrongClusterName) {
  auto bytes =
      test::concat({hello_frame(NodeId(2), "another-cluster"), message_frame(kRoguePayload)});
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(2), bytes);
  expect_rejected(RejectReason::kWrongCluster, out);
}

TEST_F(TlsRejectionTest, MalformedHello) {
  auto bytes = test::concat(
      {encode_frame(FrameType::kHello, as_bytes("not a hello")), message_frame(kRoguePayload)});
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(2), bytes);
  expect_rejected(RejectReason::kBadHello, out);
}

TEST_F(TlsRejectionTest, MessageBeforeHello) {
  auto out =
      test::rogue_tls_client(port(), &TestCerts::get().node.at(2), message_frame(kRoguePayload));
  expect_rejected(RejectReason::kBadHello, out);
}

TEST_F(TlsRejectionTest, SilentClientTimesOut) {
  auto o = TlsNode::options(1);
  o.handshake_timeout_ms = 200;
  start_server(o);
  EXPECT_TRUE(test::plaintext_client(port(), ""));  // connects, says nothing
  expect_rejected(RejectReason::kHandshakeTimeout, {});
}

TEST_F(TlsRejectionTest, DialerRejectsAServerWithTheWrongIdentity) {
  // Node 5 believes node 2 lives at the server's address; the server's certificate says node 1.
  TlsNode n5(5);
  n5.t().add_peer(NodeId(2), server_->address());
  n5.start();
  n5.t().send(NodeId(2), to_bytes("meant for node 2"));
  ASSERT_TRUE(eventually([&] {
    return n5.stats().rejected_count(RejectReason::kWrongNodeId) >= 1;
  })) << n5.log_text();
  EXPECT_NE(n5.stats().last_rejection.find("certificate names node 1"), std::string::npos);
  EXPECT_FALSE(n5.stats().peers[NodeId(2)].connected);
  EXPECT_EQ(n5.stats().peers[NodeId(2)].messages_sent, 0u);
  expect_server_still_serves();
  EXPECT_FALSE(server_->inbox().contains_text("meant for node 2"));
}

TEST_F(TlsRejectionTest, DialerRefusesAServerFromAnotherCa) {
  // A node 1 of another cluster (its own CA); our node 2 dials it and must refuse it. In TLS 1.3
  // the client judges the server first, so the foreign server only sees our alert.
  const TestCerts& certs = TestCerts::get();
  auto o = TlsNode::options(1);
  o.ca_pem = certs.other_ca.cert_pem;
  o.cert_pem = certs.other_ca_node1.cert_pem;
  o.key_pem = certs.other_ca_node1.key_pem;
  TlsNode foreign(o);
  foreign.start();
  TlsNode n2(2);
  n2.t().add_peer(NodeId(1), foreign.address());
  n2.start();
  n2.t().send(NodeId(1), to_bytes("for our node 1"));
  ASSERT_TRUE(eventually([&] { return n2.stats().rejected_count(RejectReason::kUnknownCa) >= 1; }))
      << n2.log_text();
  ASSERT_TRUE(eventually([&] { return foreign.stats().rejected_total() >= 1; }));
  EXPECT_GE(foreign.stats().rejected_count(RejectReason::kTlsHandshake), 1u)
      << foreign.stats().last_rejection;
  EXPECT_EQ(foreign.inbox().size(), 0u);
  EXPECT_EQ(n2.stats().peers[NodeId(1)].messages_sent, 0u);
  EXPECT_EQ(n2.stats().peers[NodeId(1)].connects, 0u);
}

TEST_F(TlsRejectionTest, MalformedFrameAfterAuthenticationClosesOnlyThatConnection) {
  Bytes garbage = test::concat({hello_frame(NodeId(2)), message_frame("authenticated"),
                                to_bytes("this is not a frame at all")});
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(2), garbage);
  EXPECT_TRUE(out.answered);
  EXPECT_TRUE(out.closed);
  ASSERT_TRUE(eventually([&] { return server_->stats().malformed_frames == 1; }));
  EXPECT_TRUE(server_->inbox().contains(NodeId(2), "authenticated"));
  EXPECT_EQ(server_->stats().rejected_total(), 0u);
  expect_server_still_serves();
}

TEST_F(TlsRejectionTest, OversizedFrameClosesTheConnection) {
  auto o = TlsNode::options(1);
  o.max_frame_payload_bytes = 1024;
  start_server(o);
  Bytes big = test::concat({hello_frame(NodeId(2)), message_frame(std::string(1025, 'b'))});
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(2), big);
  EXPECT_TRUE(out.closed);
  ASSERT_TRUE(eventually([&] { return server_->stats().malformed_frames == 1; }));
  EXPECT_TRUE(server_->inbox().from(NodeId(2)).empty());
  EXPECT_TRUE(server_->logged("TooLarge")) << server_->log_text();
  expect_server_still_serves();
}

TEST_F(TlsRejectionTest, NewerConnectionFromTheSameNodeReplacesTheOlder) {
  // The first "node 2" authenticates and then hangs (as a crashed process's socket would).
  RogueOutcome first;
  std::thread old_connection([&] {
    first = test::rogue_tls_client(port(), &TestCerts::get().node.at(2),
                                   test::concat({hello_frame(NodeId(2)), message_frame("old")}),
                                   std::chrono::seconds(20));
  });
  ASSERT_TRUE(eventually([&] { return server_->inbox().contains(NodeId(2), "old"); }));
  TlsNode n2(2);  // node 2 restarted
  n2.t().add_peer(NodeId(1), server_->address());
  n2.start();
  n2.t().send(NodeId(1), to_bytes("new"));
  ASSERT_TRUE(eventually([&] { return server_->inbox().contains(NodeId(2), "new"); }));
  old_connection.join();  // returns as soon as the server closes it, long before 20 s
  EXPECT_TRUE(first.answered);
  EXPECT_TRUE(first.closed);
  EXPECT_TRUE(server_->logged("closing an older connection from node 2"));
}

TEST_F(TlsRejectionTest, IdleConnectionIsClosed) {
  auto o = TlsNode::options(1);
  o.idle_timeout_ms = 200;
  start_server(o);
  // Authenticated, then silent (no keepalives): the server hangs up after the idle timeout.
  auto out = test::rogue_tls_client(port(), &TestCerts::get().node.at(2),
                                    test::concat({hello_frame(NodeId(2)), message_frame("hi")}));
  EXPECT_TRUE(out.answered);
  EXPECT_TRUE(out.closed) << "still open after 5 s";
  EXPECT_TRUE(server_->inbox().contains(NodeId(2), "hi"));
}

}  // namespace
}  // namespace chorus::net
