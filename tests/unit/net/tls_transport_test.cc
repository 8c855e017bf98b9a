// TlsTransport between real nodes on 127.0.0.1: delivery, reconnects, queues, keepalives.
#include "chorus/net/tls_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "unit/net/tls_test_util.h"

namespace chorus::net {
namespace {

using test::eventually;
using test::TestCerts;
using test::TlsNode;

void connect_all(const std::vector<TlsNode*>& nodes) {
  for (TlsNode* a : nodes) {
    for (TlsNode* b : nodes) {
      if (a != b) a->t().add_peer(b->t().self(), b->address());
    }
  }
}

TEST(TlsTransport, ThreeNodesExchangeMessagesBothWays) {
  TlsNode n1(1), n2(2), n3(3);
  std::vector<TlsNode*> nodes{&n1, &n2, &n3};
  connect_all(nodes);
  for (TlsNode* n : nodes) n->start();

  constexpr int kPerPair = 50;
  // Senders on this thread and on the nodes' own loops, at once.
  std::thread other([&] {
    for (int i = 0; i < kPerPair; ++i)
      n2.t().send(NodeId(1), to_bytes("2->1 #" + std::to_string(i)));
  });
  for (int i = 0; i < kPerPair; ++i) {
    for (TlsNode* from : nodes) {
      for (TlsNode* to : nodes) {
        if (from == to || (from == &n2 && to == &n1)) continue;
        from->t().send(to->t().self(),
                       to_bytes(std::to_string(from->t().self().value()) + "->" +
                                std::to_string(to->t().self().value()) + " #" + std::to_string(i)));
      }
    }
  }
  other.join();
  ASSERT_TRUE(eventually([&] {
    return n1.inbox().size() == 2 * kPerPair && n2.inbox().size() == 2 * kPerPair &&
           n3.inbox().size() == 2 * kPerPair;
  })) << n1.log_text()
      << n2.log_text() << n3.log_text();

  // In order per sender, exactly once, attributed to the authenticated sender.
  for (TlsNode* to : nodes) {
    for (TlsNode* from : nodes) {
      if (from == to) continue;
      auto got = to->inbox().from(from->t().self());
      ASSERT_EQ(got.size(), static_cast<size_t>(kPerPair));
      for (int i = 0; i < kPerPair; ++i) {
        EXPECT_EQ(got[i], std::to_string(from->t().self().value()) + "->" +
                              std::to_string(to->t().self().value()) + " #" + std::to_string(i));
      }
    }
  }
  auto s1 = n1.stats();
  EXPECT_EQ(s1.peers[NodeId(2)].messages_sent, static_cast<uint64_t>(kPerPair));
  EXPECT_EQ(s1.peers[NodeId(2)].messages_received, static_cast<uint64_t>(kPerPair));
  EXPECT_GT(s1.peers[NodeId(3)].bytes_sent, 0u);
  EXPECT_TRUE(s1.peers[NodeId(2)].connected);
  EXPECT_EQ(s1.peers[NodeId(2)].connects, 1u);
  EXPECT_EQ(s1.connections_accepted, 2u);
  EXPECT_EQ(s1.rejected_total(), 0u) << s1.last_rejection;
  EXPECT_EQ(s1.dropped(), 0u);
  EXPECT_TRUE(n1.logged("accepted connection from node 2"));
}

TEST(TlsTransport, LargeMessagesCrossInOnePiece) {
  TlsNode n1(1), n2(2);
  connect_all({&n1, &n2});
  n1.start();
  n2.start();
  std::string big(8 << 20, 'x');
  big[12345] = 'y';
  n1.t().send(NodeId(2), to_bytes(big));
  n1.t().send(NodeId(2), to_bytes("small"));
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 2; }));
  auto got = n2.inbox().from(NodeId(1));
  EXPECT_TRUE(got[0] == big);
  EXPECT_EQ(got[1], "small");
}

TEST(TlsTransport, ReconnectsAfterThePeerRestarts) {
  auto n1 = std::make_unique<TlsNode>(1);
  auto n2 = std::make_unique<TlsNode>(2);
  const std::string n2_address = n2->address();
  connect_all({n1.get(), n2.get()});
  n1->start();
  n2->start();
  n1->t().send(NodeId(2), to_bytes("before"));
  ASSERT_TRUE(eventually([&] { return n2->inbox().contains(NodeId(1), "before"); }));

  n2.reset();  // node 2 goes away; node 1 notices and keeps redialing
  ASSERT_TRUE(eventually([&] { return !n1->stats().peers[NodeId(2)].connected; }));
  auto o = TlsNode::options(2);
  o.listen_address = n2_address;  // same address, as a restarted process would use
  n2 = std::make_unique<TlsNode>(o);
  n2->t().add_peer(NodeId(1), n1->address());
  n2->start();

  // Messages sent while the connection is down may be lost (Raft retries); keep sending a
  // probe until one arrives, then everything after it arrives in order.
  ASSERT_TRUE(eventually([&] {
    n1->t().send(NodeId(2), to_bytes("probe"));
    return n2->inbox().contains(NodeId(1), "probe");
  })) << n1->log_text();
  for (int i = 0; i < 20; ++i) n1->t().send(NodeId(2), to_bytes("after " + std::to_string(i)));
  n2->t().send(NodeId(1), to_bytes("hello from the new node 2"));
  ASSERT_TRUE(eventually([&] {
    return n2->inbox().contains(NodeId(1), "after 19") &&
           n1->inbox().contains(NodeId(2), "hello from the new node 2");
  }));
  auto s = n1->stats().peers[NodeId(2)];
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_GE(s.connects, 2u);
  EXPECT_TRUE(n1->logged("connection to node 2 lost"));
}

TEST(TlsTransport, MessagesQueuedBeforeThePeerStartsAreDelivered) {
  TlsNode n1(1), n2(2);
  connect_all({&n1, &n2});
  n1.start();
  for (int i = 0; i < 5; ++i) n1.t().send(NodeId(2), to_bytes("early " + std::to_string(i)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  n2.start();
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 5; })) << n1.log_text();
  EXPECT_EQ(n2.inbox().from(NodeId(1)).front(), "early 0");
}

TEST(TlsTransport, FullQueueDropsTheOldestAndCounts) {
  auto o = TlsNode::options(1);
  o.queue = {.max_messages = 3, .max_bytes = kDefaultMaxFramePayloadBytes};
  TlsNode n1(o);
  n1.t().add_peer(NodeId(2), "127.0.0.1:1");  // nothing listens there
  n1.start();
  for (int i = 0; i < 10; ++i) n1.t().send(NodeId(2), to_bytes(std::to_string(i)));
  auto s = n1.stats();
  EXPECT_EQ(s.peers[NodeId(2)].dropped_queue_full, 7u);
  EXPECT_EQ(s.peers[NodeId(2)].queued_messages, 3u);
  ASSERT_TRUE(eventually([&] { return n1.stats().peers[NodeId(2)].connect_failures >= 2; }));
  EXPECT_TRUE(n1.logged("cannot connect to node 2"));
}

TEST(TlsTransport, UnknownRemovedAndOversizedSendsAreDropped) {
  auto o = TlsNode::options(1);
  o.max_frame_payload_bytes = 1024;
  TlsNode n1(o), n2(2);
  connect_all({&n1, &n2});
  n1.start();
  n2.start();
  n1.t().send(NodeId(9), to_bytes("nobody"));
  n1.t().send(NodeId(2), Bytes(1025));
  n1.t().send(NodeId(2), Bytes(1024));
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 1; }));
  n1.t().remove_peer(NodeId(2));
  n1.t().send(NodeId(2), to_bytes("removed"));
  auto s = n1.stats();
  EXPECT_EQ(s.dropped_unknown_peer, 2u);
  EXPECT_EQ(s.dropped_too_large, 1u);
  ASSERT_TRUE(eventually([&] { return !n1.stats().peers[NodeId(2)].connected; }));
}

TEST(TlsTransport, ReAddingAPeerWithANewAddressRedials) {
  TlsNode n1(1), n2(2), n2b(2);  // two processes with node 2's identity, e.g. a moved node
  n1.t().add_peer(NodeId(2), n2.address());
  n1.start();
  n2.start();
  n2b.start();
  n1.t().send(NodeId(2), to_bytes("to the first"));
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 1; }));
  n1.t().add_peer(NodeId(2), n2b.address());
  ASSERT_TRUE(eventually([&] {
    n1.t().send(NodeId(2), to_bytes("to the second"));
    return n2b.inbox().size() > 0;
  }));
}

TEST(TlsTransport, KeepalivesHoldAnIdleConnection) {
  auto o1 = TlsNode::options(1);
  auto o2 = TlsNode::options(2);
  o1.idle_timeout_ms = o2.idle_timeout_ms = 150;  // keepalive every 50 ms
  TlsNode n1(o1), n2(o2);
  connect_all({&n1, &n2});
  n1.start();
  n2.start();
  n1.t().send(NodeId(2), to_bytes("first"));
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // 4 idle timeouts, no messages
  n1.t().send(NodeId(2), to_bytes("second"));
  ASSERT_TRUE(eventually([&] { return n2.inbox().size() == 2; }));
  auto s = n1.stats().peers[NodeId(2)];
  EXPECT_EQ(s.connects, 1u) << n1.log_text() << n2.log_text();
  EXPECT_EQ(s.reconnects, 0u);
}

TEST(TlsTransport, StopFromInsideOnMessageAndNoDeliveryAfterStop) {
  TlsNode n1(1), n2(2);
  connect_all({&n1, &n2});
  n1.start();
  std::atomic<int> calls{0};
  n2.t().start([&](NodeId, Bytes) {
    ++calls;
    n2.t().stop();
  });
  for (int i = 0; i < 100; ++i) n1.t().send(NodeId(2), to_bytes("x"));
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  n2.loop().run([] {});
  EXPECT_EQ(calls.load(), 1);
}

TEST(TlsTransport, CreateChecksItsOwnCertificateAndOptions) {
  asio::io_context io;
  const TestCerts& certs = TestCerts::get();
  auto o = TlsNode::options(1);
  o.cert_pem = certs.node.at(2).cert_pem;  // names node 2
  o.key_pem = certs.node.at(2).key_pem;
  auto r = TlsTransport::create(io, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("names node 2"), std::string::npos) << r.status().ToString();

  o = TlsNode::options(2);
  o.cert_pem = certs.expired_node2.cert_pem;
  o.key_pem = certs.expired_node2.key_pem;
  r = TlsTransport::create(io, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expired"), std::string::npos) << r.status().ToString();

  o = TlsNode::options(1);
  o.key_pem = certs.node.at(2).key_pem;
  EXPECT_FALSE(TlsTransport::create(io, o).ok());

  o = TlsNode::options(1);
  o.listen_address = "not-an-address";
  EXPECT_FALSE(TlsTransport::create(io, o).ok());
  o.listen_address = "";  // dial-only
  auto dial_only = TlsTransport::create(io, o);
  ASSERT_TRUE(dial_only.ok());
  EXPECT_EQ((*dial_only)->local_port(), 0);

  o = TlsNode::options(1);
  o.cluster_name = "";
  EXPECT_FALSE(TlsTransport::create(io, o).ok());
}

}  // namespace
}  // namespace chorus::net
