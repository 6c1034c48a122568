#pragma once

#include <string>
#include <vector>

namespace schemaop::apiserver {

// Throwaway PKI for the TLS mode: a CA, a server certificate for
// 127.0.0.1/localhost and a client certificate (CN schemaop-test,
// O system:masters). PEM strings.
struct TlsMaterial {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
};

[[nodiscard]] bool GenerateTlsMaterial(TlsMaterial* out, std::string* error);

// The user of the verified client certificate of the connection `ssl` (an
// OpenSSL SSL*): the subject's CN and O entries, as the real x509
// authenticator maps them. False when there is no peer certificate.
bool PeerCertificateUser(const void* ssl, std::string* name, std::vector<std::string>* groups);

}  // namespace schemaop::apiserver
