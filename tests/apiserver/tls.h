#pragma once

#include <string>

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

}  // namespace schemaop::apiserver
