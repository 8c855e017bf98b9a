#include "chorus/net/certs.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <optional>

#include "chorus/base/file_system.h"
#include "chorus/net/openssl_util.h"

namespace chorus::net {
namespace detail {

std::string openssl_error_string(std::string_view what) {
  std::string out(what);
  char buf[256];
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof(buf));
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

Result<X509Ptr> parse_cert_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("certificate: BIO_new_mem_buf", StatusCode::kFailed);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_error("certificate: not a PEM certificate");
  return cert;
}

Result<EvpPkeyPtr> parse_key_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("private key: BIO_new_mem_buf", StatusCode::kFailed);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error("private key: not an unencrypted PEM private key");
  return key;
}

}  // namespace detail

namespace {

using detail::BioPtr;
using detail::EvpPkeyPtr;
using detail::openssl_error;
using detail::X509ExtensionPtr;
using detail::X509Ptr;

constexpr long kSecondsPerDay = 24 * 60 * 60;
// CA certificates start an hour in the past so a node whose clock runs a little behind the
// machine that made the CA still accepts it.
constexpr long kCaBackdateSeconds = 60 * 60;

Result<EvpPkeyPtr> generate_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("EC P-256 key generation", StatusCode::kFailed);
  return key;
}

Status add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return openssl_error("certificate extension " + value, StatusCode::kFailed);
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error("X509_add_ext", StatusCode::kFailed);
  }
  return Status::Ok();
}

// The fields every certificate we make shares: v3, a random 127-bit serial (RFC 5280 wants
// unique serials per CA; random ones need no state), the validity window, subject and key.
Result<X509Ptr> new_cert(EVP_PKEY* key, const std::string& common_name, long not_before_s,
                         long not_after_s) {
  X509Ptr cert(X509_new());
  if (!cert) return openssl_error("X509_new", StatusCode::kFailed);
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_error("X509_set_version", StatusCode::kFailed);
  }
  std::unique_ptr<BIGNUM, detail::OpenSslDeleter<BN_free>> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return openssl_error("certificate serial", StatusCode::kFailed);
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s) == nullptr) {
    return openssl_error("certificate validity", StatusCode::kFailed);
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return openssl_error("certificate subject", StatusCode::kFailed);
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return openssl_error("X509_set_pubkey", StatusCode::kFailed);
  }
  return cert;
}

Result<CertKeyPair> sign_and_encode(X509* cert, EVP_PKEY* signer, EVP_PKEY* key) {
  if (X509_sign(cert, signer, EVP_sha256()) <= 0) {
    return openssl_error("X509_sign", StatusCode::kFailed);
  }
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error("PEM encoding", StatusCode::kFailed);
  }
  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(n));
  };
  return CertKeyPair{to_string(cert_bio.get()), to_string(key_bio.get())};
}

// Strict decimal: digits only, no leading zero, 1..UINT64_MAX. A lenient parse would let
// "chorus://node/07" and "chorus://node/7" name the same node through different strings.
std::optional<NodeId> parse_node_id(std::string_view s) {
  if (s.empty() || s.size() > 20 || s.front() == '0') return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0) return std::nullopt;
  return NodeId(v);
}

std::string_view asn1_view(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s))};
}

Status write_file_atomically(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno(errno, "open " + tmp);
  // O_CREAT applies `mode` only to a new file; a leftover tmp file keeps its old bits.
  Status s;
  if (::fchmod(fd, mode) != 0) s = Status::FromErrno(errno, "fchmod " + tmp);
  for (size_t off = 0; s.ok() && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Status::FromErrno(errno, "write " + tmp);
    if (n > 0) off += static_cast<size_t>(n);
  }
  if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno(errno, "rename " + tmp);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return FileSystem::posix().sync_dir(parent_dir(path));
}

Result<std::string> read_whole_file(const std::string& path) {
  CHORUS_ASSIGN_OR_RETURN(auto file, FileSystem::posix().open(path, OpenMode::kReadOnly));
  CHORUS_ASSIGN_OR_RETURN(uint64_t size, file->size());
  constexpr uint64_t kMaxPemBytes = 1 << 20;  // a certificate or key is a few KiB
  if (size > kMaxPemBytes) return Status::TooLarge(path + ": " + std::to_string(size) + " bytes");
  std::string out(size, '\0');
  CHORUS_ASSIGN_OR_RETURN(size_t n, file->read_at(0, std::as_writable_bytes(std::span(out))));
  out.resize(n);
  return out;
}

}  // namespace

std::string node_uri(NodeId id) { return std::string(kNodeUriPrefix) + std::to_string(id.value()); }

Result<CertKeyPair> generate_ca(std::string_view common_name, int days) {
  if (common_name.empty() || days <= 0) {
    return Status::InvalidArgument("generate_ca: empty name or days <= 0");
  }
  ERR_clear_error();
  CHORUS_ASSIGN_OR_RETURN(EvpPkeyPtr key, generate_key());
  CHORUS_ASSIGN_OR_RETURN(X509Ptr cert,
                          new_cert(key.get(), std::string(common_name), -kCaBackdateSeconds,
                                   static_cast<long>(days) * kSecondsPerDay));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return openssl_error("X509_set_issuer_name", StatusCode::kFailed);
  }
  // The subject key id must exist before the authority key id can refer to it.
  CHORUS_TRY(add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  CHORUS_TRY(add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  CHORUS_TRY(add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  CHORUS_TRY(add_extension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always"));
  return sign_and_encode(cert.get(), key.get(), key.get());
}

Result<CertKeyPair> issue_node_cert(const CertKeyPair& ca, NodeId node_id, int days,
                                    std::chrono::seconds not_before_offset) {
  if (node_id.value() == 0 || days <= 0) {
    return Status::InvalidArgument("issue_node_cert: node id 0 or days <= 0");
  }
  ERR_clear_error();
  CHORUS_ASSIGN_OR_RETURN(X509Ptr ca_cert, detail::parse_cert_pem(ca.cert_pem));
  CHORUS_ASSIGN_OR_RETURN(EvpPkeyPtr ca_key, detail::parse_key_pem(ca.key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return openssl_error("issue_node_cert: CA key does not match the CA certificate");
  }
  CHORUS_ASSIGN_OR_RETURN(EvpPkeyPtr key, generate_key());
  const long start = static_cast<long>(not_before_offset.count());
  CHORUS_ASSIGN_OR_RETURN(
      X509Ptr cert,
      new_cert(key.get(), std::string(kNodeCommonNamePrefix) + std::to_string(node_id.value()),
               start, start + static_cast<long>(days) * kSecondsPerDay));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1) {
    return openssl_error("X509_set_issuer_name", StatusCode::kFailed);
  }
  X509* issuer = ca_cert.get();
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature"));
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth"));
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_subject_alt_name, "URI:" + node_uri(node_id)));
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash"));
  CHORUS_TRY(add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  return sign_and_encode(cert.get(), ca_key.get(), key.get());
}

Result<NodeId> peer_node_id(X509* cert) {
  if (cert == nullptr) return Status::InvalidArgument("no peer certificate");
  detail::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::optional<NodeId> from_uri;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    std::string_view uri = asn1_view(gn->d.uniformResourceIdentifier);
    if (!uri.starts_with(kNodeUriPrefix)) continue;
    auto id = parse_node_id(uri.substr(kNodeUriPrefix.size()));
    if (!id) return Status::InvalidArgument("certificate: malformed node URI " + std::string(uri));
    if (from_uri && *from_uri != *id) {
      return Status::InvalidArgument("certificate: names two node ids");
    }
    from_uri = id;
  }
  if (from_uri) return *from_uri;

  // Fallback for certificates made by other tools: the subject's CN node-<id>.
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return Status::InvalidArgument("certificate: no node URI SAN and no CN");
  std::string_view cn = asn1_view(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (!cn.starts_with(kNodeCommonNamePrefix)) {
    return Status::InvalidArgument("certificate: CN '" + std::string(cn) + "' names no node");
  }
  auto id = parse_node_id(cn.substr(kNodeCommonNamePrefix.size()));
  if (!id) return Status::InvalidArgument("certificate: malformed node CN " + std::string(cn));
  return *id;
}

Result<NodeId> peer_node_id(std::string_view cert_pem) {
  CHORUS_ASSIGN_OR_RETURN(X509Ptr cert, detail::parse_cert_pem(cert_pem));
  return peer_node_id(cert.get());
}

Status verify_cert(std::string_view ca_pem, std::string_view cert_pem) {
  ERR_clear_error();
  CHORUS_ASSIGN_OR_RETURN(X509Ptr ca, detail::parse_cert_pem(ca_pem));
  CHORUS_ASSIGN_OR_RETURN(X509Ptr cert, detail::parse_cert_pem(cert_pem));
  std::unique_ptr<X509_STORE, detail::OpenSslDeleter<X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, detail::OpenSslDeleter<X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return openssl_error("verify_cert: store setup", StatusCode::kFailed);
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Status::InvalidArgument(std::string("certificate verification failed: ") +
                                   X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

Status write_pem_files(const std::string& dir, std::string_view name, const CertKeyPair& pair) {
  const std::string base = join_path(dir, name);
  CHORUS_TRY(write_file_atomically(base + ".key", pair.key_pem, 0600));
  return write_file_atomically(base + ".crt", pair.cert_pem, 0644);
}

Result<CertKeyPair> read_pem_files(const std::string& dir, std::string_view name) {
  const std::string base = join_path(dir, name);
  CHORUS_ASSIGN_OR_RETURN(std::string cert, read_whole_file(base + ".crt"));
  CHORUS_ASSIGN_OR_RETURN(std::string key, read_whole_file(base + ".key"));
  return CertKeyPair{std::move(cert), std::move(key)};
}

}  // namespace chorus::net
