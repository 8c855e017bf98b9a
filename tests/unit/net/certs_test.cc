#include "chorus/net/certs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "support/temp_dir.h"

namespace chorus::net {
namespace {

using namespace std::chrono_literals;

class CertsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = generate_ca("chorus test CA", 30);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = new CertKeyPair(std::move(*ca));
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  static CertKeyPair* ca_;
};
CertKeyPair* CertsTest::ca_ = nullptr;

TEST_F(CertsTest, IssuedCertificateVerifiesAgainstItsCa) {
  auto node = issue_node_cert(*ca_, NodeId(7), 10);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_NE(node->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(node->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(verify_cert(ca_->cert_pem, node->cert_pem).ok());
  // The CA verifies against itself (a self-signed trust anchor).
  EXPECT_TRUE(verify_cert(ca_->cert_pem, ca_->cert_pem).ok());
}

TEST_F(CertsTest, PeerNodeIdComesFromTheUriSan) {
  auto node = issue_node_cert(*ca_, NodeId(18446744073709551615ull), 1);
  ASSERT_TRUE(node.ok());
  auto id = peer_node_id(std::string_view(node->cert_pem));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, NodeId(18446744073709551615ull));
  EXPECT_EQ(node_uri(NodeId(7)), "chorus://node/7");
}

TEST_F(CertsTest, PeerNodeIdFallsBackToTheCommonName) {
  // generate_ca makes a certificate with no SAN at all: only its CN can name a node.
  auto cn_only = generate_ca("node-12", 1);
  ASSERT_TRUE(cn_only.ok());
  auto id = peer_node_id(std::string_view(cn_only->cert_pem));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, NodeId(12));

  for (const char* cn : {"chorus CA", "node-", "node-0", "node-07", "node-7x", "node--1",
                         "node-99999999999999999999"}) {
    auto c = generate_ca(cn, 1);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(peer_node_id(std::string_view(c->cert_pem)).ok()) << cn;
  }
  EXPECT_FALSE(peer_node_id(static_cast<X509*>(nullptr)).ok());
}

TEST_F(CertsTest, CertificateFromAnotherCaDoesNotVerify) {
  auto other = generate_ca("other CA", 30);
  ASSERT_TRUE(other.ok());
  auto node = issue_node_cert(*other, NodeId(1), 10);
  ASSERT_TRUE(node.ok());
  Status s = verify_cert(ca_->cert_pem, node->cert_pem);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("issuer"), std::string::npos) << s.message();
}

TEST_F(CertsTest, ValidityWindow) {
  auto expired = issue_node_cert(*ca_, NodeId(1), 1, -48h);
  ASSERT_TRUE(expired.ok());
  Status s = verify_cert(ca_->cert_pem, expired->cert_pem);
  EXPECT_NE(s.message().find("expired"), std::string::npos) << s.ToString();

  auto future = issue_node_cert(*ca_, NodeId(1), 1, 24h);
  ASSERT_TRUE(future.ok());
  s = verify_cert(ca_->cert_pem, future->cert_pem);
  EXPECT_NE(s.message().find("not yet valid"), std::string::npos) << s.ToString();
}

TEST_F(CertsTest, BadInputsAreErrorsWithOpenSslText) {
  EXPECT_FALSE(generate_ca("", 1).ok());
  EXPECT_FALSE(generate_ca("x", 0).ok());
  EXPECT_FALSE(issue_node_cert(*ca_, NodeId(0), 1).ok());

  auto other = generate_ca("other CA", 30);
  ASSERT_TRUE(other.ok());
  CertKeyPair mismatched{ca_->cert_pem, other->key_pem};
  auto r = issue_node_cert(mismatched, NodeId(1), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos);

  auto garbage = peer_node_id(std::string_view("-----BEGIN CERTIFICATE-----\nAAAA\n"));
  ASSERT_FALSE(garbage.ok());
  // OpenSSL's own reason is part of the message.
  EXPECT_NE(garbage.status().message().find(":"), std::string::npos) << garbage.status().message();
}

TEST_F(CertsTest, PemFilesRoundTripWithPrivateKeyMode) {
  chorus::test::TempDir dir;
  auto node = issue_node_cert(*ca_, NodeId(3), 10);
  ASSERT_TRUE(node.ok());
  ASSERT_TRUE(write_pem_files(dir.path(), "node-3", *node).ok());
  struct stat key_st {
  }, cert_st{};
  ASSERT_EQ(::stat(dir.sub("node-3.key").c_str(), &key_st), 0);
  ASSERT_EQ(::stat(dir.sub("node-3.crt").c_str(), &cert_st), 0);
  EXPECT_EQ(key_st.st_mode & 0777, 0600u);
  EXPECT_EQ(cert_st.st_mode & 0777, 0644u);

  auto back = read_pem_files(dir.path(), "node-3");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->cert_pem, node->cert_pem);
  EXPECT_EQ(back->key_pem, node->key_pem);
  // Overwriting keeps the modes and replaces the content.
  ASSERT_TRUE(write_pem_files(dir.path(), "node-3", *ca_).ok());
  back = read_pem_files(dir.path(), "node-3");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cert_pem, ca_->cert_pem);

  EXPECT_EQ(read_pem_files(dir.path(), "missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(write_pem_files(dir.sub("no/such/dir"), "x", *node).ok());
}

}  // namespace
}  // namespace chorus::net
