#include "core/server_version.h"

#include <cctype>
#include <utility>

namespace schemaop::core {
namespace {

// Leading decimal digits of `text` ("27+" -> 27); nullopt without any, or
// when they would overflow.
std::optional<int> LeadingNumber(const std::string& text) {
  int value = 0;
  std::size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i) {
    if (i >= 6) {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  if (i == 0) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<ServerVersion> ParseServerVersion(const std::string& major, const std::string& minor,
                                                std::string git_version) {
  const std::optional<int> major_number = LeadingNumber(major);
  const std::optional<int> minor_number = LeadingNumber(minor);
  if (!major_number || !minor_number) {
    return std::nullopt;
  }
  return ServerVersion{*major_number, *minor_number, std::move(git_version)};
}

std::optional<std::string> OldServerWarning(const ServerVersion& version) {
  if (version.major > 1 || (version.major == 1 && version.minor >= kMinKubernetesMinor)) {
    return std::nullopt;
  }
  const std::string shown = version.git_version.empty()
                                ? std::to_string(version.major) + "." + std::to_string(version.minor)
                                : version.git_version;
  return "the API server is Kubernetes " + shown + ", older than 1." +
         std::to_string(kMinKubernetesMinor) +
         ": it ignores the CRD's validation rules (unique workloads, unique check names), so "
         "`kubectl apply` accepts such a spec and the controller stops it with InvalidSpec "
         "instead; upgrade the cluster to 1." +
         std::to_string(kMinKubernetesMinor) + " or later (manifests/README.md, supported versions)";
}

}  // namespace schemaop::core
