// Certificate generation for the test API server's TLS mode (OpenSSL 3).

#include "tls.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace schemaop::apiserver {

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Issues a certificate for `key`; self-signed when issuer is null.
CertPtr Issue(EVP_PKEY* key, const char* common_name, const char* organization, X509* issuer,
              EVP_PKEY* issuer_key, bool is_ca, const char* ext_key_usage, const char* san) {
  CertPtr cert(X509_new(), &X509_free);
  if (!cert) return cert;
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] &= 0x7F;
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 30);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (organization != nullptr) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(organization), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok &= AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok &= AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    ok &= AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    ok &= AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok &= AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    ok &= AddExtension(cert.get(), signer, NID_ext_key_usage, ext_key_usage);
    ok &= AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    if (san != nullptr) ok &= AddExtension(cert.get(), signer, NID_subject_alt_name, san);
  }
  if (!ok || X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return CertPtr(nullptr, &X509_free);
  }
  return cert;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

}  // namespace

bool GenerateTlsMaterial(TlsMaterial* out, std::string* error) {
  KeyPtr ca_key = NewKey();
  KeyPtr server_key = NewKey();
  KeyPtr client_key = NewKey();
  if (!ca_key || !server_key || !client_key) {
    if (error) *error = "generating EC P-256 keys failed";
    return false;
  }
  CertPtr ca = Issue(ca_key.get(), "schemaop-test-ca", nullptr, nullptr, nullptr, true, nullptr,
                     nullptr);
  if (!ca) {
    if (error) *error = "issuing the CA certificate failed";
    return false;
  }
  CertPtr server = Issue(server_key.get(), "schemaop-test-apiserver", nullptr, ca.get(),
                         ca_key.get(), false, "serverAuth",
                         "IP:127.0.0.1,IP:0:0:0:0:0:0:0:1,DNS:localhost");
  CertPtr client = Issue(client_key.get(), "schemaop-test", "system:masters", ca.get(),
                         ca_key.get(), false, "clientAuth", nullptr);
  if (!server || !client) {
    if (error) *error = "issuing the server or client certificate failed";
    return false;
  }
  out->ca_cert = CertPem(ca.get());
  out->server_cert = CertPem(server.get());
  out->server_key = KeyPem(server_key.get());
  out->client_cert = CertPem(client.get());
  out->client_key = KeyPem(client_key.get());
  return true;
}

bool PeerCertificateUser(const void* ssl, std::string* name, std::vector<std::string>* groups) {
  if (ssl == nullptr) return false;
  X509* cert = SSL_get1_peer_certificate(static_cast<const SSL*>(ssl));
  if (cert == nullptr) return false;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
    const std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                           static_cast<std::size_t>(ASN1_STRING_length(data)));
    if (nid == NID_commonName) *name = text;
    if (nid == NID_organizationName) groups->push_back(text);
  }
  X509_free(cert);
  return !name->empty();
}

}  // namespace schemaop::apiserver
