// The Kubernetes versions schemaop supports (manifests/README.md,
// "Supported versions"). The CRD's validation rules (x-kubernetes-validations,
// CEL) need an API server of 1.25 or later; older servers drop them without a
// word. ValidateSpec checks the same rules in the controller, so an older
// server loses only the early refusal at `kubectl apply`; the controller says
// so once at start-up.
#pragma once

#include <optional>
#include <string>

namespace schemaop::core {

inline constexpr int kMinKubernetesMinor = 25;

struct ServerVersion {
  int major = 0;
  int minor = 0;
  std::string git_version;  // e.g. "v1.24.17-eks-abc"; shown in messages
};

// Parses the "major" and "minor" strings of the API server's /version
// (providers append a "+", e.g. "27+"). nullopt when either is not a number.
std::optional<ServerVersion> ParseServerVersion(const std::string& major, const std::string& minor,
                                                std::string git_version);

// The warning to log for a server older than 1.25, or nullopt.
std::optional<std::string> OldServerWarning(const ServerVersion& version);

}  // namespace schemaop::core
