// Internal to chorus/net: owning pointers for OpenSSL objects and OpenSSL errors as Status.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "chorus/base/status.h"

namespace chorus::net::detail {

template <auto Free>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;

// `what` followed by every queued OpenSSL error (ERR_error_string_n), oldest first. Drains the
// thread's error queue so a later failure does not report this one's cause.
std::string openssl_error_string(std::string_view what);
inline Status openssl_error(std::string_view what, StatusCode code = StatusCode::kInvalidArgument) {
  return Status(code, openssl_error_string(what));
}

Result<X509Ptr> parse_cert_pem(std::string_view pem);
Result<EvpPkeyPtr> parse_key_pem(std::string_view pem);

}  // namespace chorus::net::detail
