// Certificates for a chorus cluster: a cluster CA and one certificate per node, via OpenSSL 3.
//
// Identity: a node's certificate carries its id as the URI SAN `chorus://node/<id>` (and, for
// humans and older tooling, the subject CN `node-<id>`). A peer is node N exactly when its
// certificate chains to the cluster CA and names N; the address it connects from means nothing.
//
// Keys are EC P-256 (ECDSA with SHA-256): supported by every TLS 1.3 stack, small, fast to
// generate in tests. Private keys are PKCS#8 PEM, unencrypted — files holding them are 0600.
//
// Every function here is thread-safe (OpenSSL 3 objects are per call).
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <string>
#include <string_view>

#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"

namespace chorus::net {

// A certificate and its private key, both PEM text.
struct CertKeyPair {
  std::string cert_pem;
  std::string key_pem;
};

inline constexpr std::string_view kNodeUriPrefix = "chorus://node/";
inline constexpr std::string_view kNodeCommonNamePrefix = "node-";

// "chorus://node/7" for NodeId(7).
std::string node_uri(NodeId id);

// A self-signed CA certificate (CA:TRUE, keyCertSign) valid from one hour ago (to tolerate clock
// skew between nodes) for `days` days.
Result<CertKeyPair> generate_ca(std::string_view common_name, int days);

// A node certificate signed by `ca`: CN=node-<id>, URI SAN chorus://node/<id>, key usage
// digitalSignature, extended key usage serverAuth + clientAuth (each node both dials and accepts).
// Valid from now + not_before_offset for `days` days: a negative offset backdates it (tests use
// that for an expired certificate), a positive one makes a not-yet-valid one.
Result<CertKeyPair> issue_node_cert(const CertKeyPair& ca, NodeId node_id, int days,
                                    std::chrono::seconds not_before_offset = {});

// The node id a certificate names: the URI SAN chorus://node/<id>, else the CN node-<id>.
// kInvalidArgument when it names none, names two different ones, or names a malformed id (an id
// is 1..UINT64_MAX in decimal, without sign or leading zeros).
Result<NodeId> peer_node_id(X509* cert);
Result<NodeId> peer_node_id(std::string_view cert_pem);

// Checks that `cert_pem` chains to `ca_pem` and is valid now (X509_verify_cert). Returns the
// verification error as kInvalidArgument, e.g. "certificate has expired".
Status verify_cert(std::string_view ca_pem, std::string_view cert_pem);

// Writes <dir>/<name>.crt (0644) and <dir>/<name>.key (0600), each by write tmp -> fsync ->
// rename -> fsync(dir), so a crash leaves the old file or the new one, never a torn key. `dir`
// must exist. The key file is created 0600 from the start, never readable by others.
Status write_pem_files(const std::string& dir, std::string_view name, const CertKeyPair& pair);
Result<CertKeyPair> read_pem_files(const std::string& dir, std::string_view name);

}  // namespace chorus::net
