#pragma once
// Factory for the cpprestsdk-backed Transport. The implementation (and every
// cpprest/boost header) stays in cpprest_transport.cpp.
#include <memory>

#include "core/status.h"
#include "kube/config.h"
#include "kube/transport.h"

namespace schemaop::kube {

// Validates the TLS material in `config` (CA, client certificate and key, and
// that the key matches the certificate) and returns a thread-safe transport.
// TLS is verified (chain and host name) unless insecure_skip_tls_verify.
[[nodiscard]] core::Result<std::unique_ptr<Transport>> MakeCppRestTransport(const Config& config);

}  // namespace schemaop::kube
